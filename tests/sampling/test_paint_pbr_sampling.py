"""PBR multiview sampling end to end from the oracle's PNG inputs, against Tencent's recorded runs."""

from __future__ import annotations

import pytest
import torch

from hy3d_core.sampling.paint_pbr_sampling import paint_pbr_views
from hy3d_core.sampling.progress import Cancelled, Progress
from paint_pbr_fixture import VIEW_SIZE, fixture_images, model, reference  # noqa: F401 - fixtures
from tiny_paint import flush_denormals  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("flush_denormals")


@pytest.fixture
def recorded_latents(monkeypatch):
    """The latents after every scheduler step of the next sampling."""
    from diffusers import UniPCMultistepScheduler

    latents: list[torch.Tensor] = []
    step = UniPCMultistepScheduler.step

    def recording_step(self, *args, **kwargs):
        output = step(self, *args, **kwargs)
        latents.append(output[0].clone())
        return output

    monkeypatch.setattr(UniPCMultistepScheduler, "step", recording_step)
    return latents


def _uint8(images: torch.Tensor) -> torch.Tensor:
    return (images * 255).round().to(torch.int32)


def _level_difference(images: torch.Tensor, recorded: torch.Tensor) -> int:
    return (_uint8(images) - recorded.to(torch.int32)).abs().max().item()


@pytest.mark.parametrize(("run", "latent_atol", "levels"), [("sampling", 1e-4, 1), ("sampling_release15", 1e-3, 2)])
def test_views_match_the_release(model, reference, recorded_latents, run, latent_atol, levels):
    recorded = reference[run]
    steps = recorded["num_inference_steps"]
    reported = []
    views = paint_pbr_views(
        model, *fixture_images(), steps=steps, guidance=3.0, seed=0, view_size=VIEW_SIZE,
        progress=Progress(callback=lambda done, total: reported.append((done, total))),
    )
    assert reported == [(step + 1, steps) for step in range(steps)]
    assert len(recorded_latents) == steps
    for got, step in zip(recorded_latents, recorded["per_step"]):
        torch.testing.assert_close(got, step["latents_out"], atol=latent_atol, rtol=0)
    torch.testing.assert_close(recorded_latents[-1], recorded["final_latents"], atol=latent_atol, rtol=0)
    assert views.albedo.shape == views.metallic_roughness.shape == (4, VIEW_SIZE, VIEW_SIZE, 3)
    assert _level_difference(views.albedo, recorded["albedo_uint8"]) <= levels
    assert _level_difference(views.metallic_roughness, recorded["mr_uint8"]) <= levels


def test_cancel_stops_after_the_current_step(model):
    steps_done = []
    progress = Progress(callback=lambda done, total: steps_done.append(done), should_cancel=lambda: bool(steps_done))
    with pytest.raises(Cancelled):
        paint_pbr_views(model, *fixture_images(), steps=3, view_size=VIEW_SIZE, progress=progress)
    assert steps_done == [1]


def test_an_rgb_reference_on_white_gives_the_same_views_as_rgba(model):
    image, normals, positions = fixture_images()
    alpha = image[..., 3:]
    on_white = image[..., :3] * alpha + (1 - alpha)
    rgba = paint_pbr_views(model, image, normals, positions, steps=1, view_size=VIEW_SIZE)
    rgb = paint_pbr_views(model, on_white, normals, positions, steps=1, view_size=VIEW_SIZE)
    torch.testing.assert_close(rgba.albedo, rgb.albedo, atol=0, rtol=0)


def test_maps_of_another_size_are_resized_to_the_view_size(model):
    image, normals, positions = fixture_images()
    views = paint_pbr_views(model, image, normals[:2], positions[:2], steps=1, view_size=2 * VIEW_SIZE)
    assert views.albedo.shape == (2, 2 * VIEW_SIZE, 2 * VIEW_SIZE, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"view_size": 96}, "multiple of 64"),
        ({"steps": 0}, "at least 1"),
        ({"positions": slice(0, 3)}, "4 normal maps and 3 position maps"),
    ],
)
def test_bad_settings_are_refused(model, change, message):
    image, normals, positions = fixture_images()
    change = dict(change)
    positions = positions[change.pop("positions", slice(None))]
    settings = {"steps": 1, "view_size": VIEW_SIZE, **change}
    with pytest.raises(ValueError, match=message):
        paint_pbr_views(model, image, normals, positions, **settings)
