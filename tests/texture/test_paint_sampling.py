"""The multiview sampling loop on a tiny Paint folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hy3d_core.io.paint_checkpoints import load_paint_model
from hy3d_core.sampling.paint_sampling import sample_paint_views
from hy3d_core.sampling.progress import Cancelled, Progress
from tiny_paint import TINY_VIEW_SIZE, flush_denormals, write_tiny_paint_folder  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("flush_denormals")


@pytest.fixture(scope="module")
def paint_model(tmp_path_factory):
    folder = write_tiny_paint_folder(tmp_path_factory.mktemp("paint"))
    return load_paint_model(folder)


def _maps(views: int, size: int = TINY_VIEW_SIZE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    reference = torch.rand(size, size, 3, generator=generator)
    normals = torch.rand(views, size, size, 3, generator=generator)
    positions = torch.rand(views, size, size, 3, generator=generator)
    return reference, normals, positions


@pytest.fixture
def count_calls():
    """Count a module's forward calls during one test; the hooks go away afterwards."""
    handles = []

    def count(module: torch.nn.Module) -> list[int]:
        calls = [0]
        handles.append(module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1)))
        return calls

    yield count
    for handle in handles:
        handle.remove()


def test_one_image_per_view_and_one_reference_pass(paint_model, count_calls):
    reference, normals, positions = _maps(3)
    dual_calls = count_calls(paint_model.unet.unet_dual)
    main_calls = count_calls(paint_model.unet.unet)
    reported = []
    images = sample_paint_views(
        paint_model, reference, normals, positions, [12, 15, 40], seed=1, steps=3,
        view_size=TINY_VIEW_SIZE, progress=Progress(callback=lambda done, total: reported.append((done, total))),
    )
    assert images.shape == (3, TINY_VIEW_SIZE, TINY_VIEW_SIZE, 3)
    assert images.dtype == torch.float32 and images.min() >= 0 and images.max() <= 1
    assert dual_calls[0] == 1
    assert main_calls[0] == 3  # one batched call per step: CFG halves share it
    assert reported == [(1, 3), (2, 3), (3, 3)]


def test_seed_makes_it_repeatable(paint_model):
    reference, normals, positions = _maps(2)
    run = lambda seed: sample_paint_views(  # noqa: E731
        paint_model, reference, normals, positions, [12, 18], seed=seed, steps=2, view_size=TINY_VIEW_SIZE
    )
    first, again, other = run(3), run(3), run(4)
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other)


def test_inputs_of_another_size_are_resized(paint_model):
    reference, normals, positions = _maps(2, size=24)
    images = sample_paint_views(
        paint_model, reference, normals, positions, [12, 18], steps=1, guidance=1.0, view_size=TINY_VIEW_SIZE
    )
    assert images.shape == (2, TINY_VIEW_SIZE, TINY_VIEW_SIZE, 3)


def test_cancel_stops_between_steps(paint_model, count_calls):
    reference, normals, positions = _maps(2)
    main_calls = count_calls(paint_model.unet.unet)
    with pytest.raises(Cancelled):
        sample_paint_views(
            paint_model, reference, normals, positions, [12, 18], steps=5, view_size=TINY_VIEW_SIZE,
            progress=Progress(should_cancel=lambda: main_calls[0] >= 2),
        )
    assert main_calls[0] == 2


@pytest.mark.parametrize(
    "normal_count, position_count, index_count",
    [(3, 2, 3), (2, 2, 3), (3, 3, 2)],
)
def test_mismatched_view_counts_are_a_clear_error(paint_model, normal_count, position_count, index_count):
    reference, normals, positions = _maps(3)
    with pytest.raises(ValueError, match="one normal map, one position map and one camera index"):
        sample_paint_views(
            paint_model, reference, normals[:normal_count], positions[:position_count],
            [12, 15, 18][:index_count], view_size=TINY_VIEW_SIZE,
        )


def test_camera_index_out_of_range_is_a_clear_error(paint_model):
    reference, normals, positions = _maps(1)
    with pytest.raises(ValueError, match="camera indices run from 0 to 43"):
        sample_paint_views(paint_model, reference, normals, positions, [44], view_size=TINY_VIEW_SIZE)


@pytest.mark.oracle
def test_matches_reference_pipeline(paint_model, monkeypatch):
    """Same folder, same seed: the same views as the release's HunyuanPaintPipeline.

    The release draws the VAE posterior samples from the global RNG and we from the
    seeded generator, so both sides use the posterior mean here; the initial noise and the
    ancestral noise come from the seeded generator on both sides.
    """
    from diffusers import EulerAncestralDiscreteScheduler
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
    from oracle import import_oracle

    pipeline_module = import_oracle("hy3dgen.texgen.hunyuanpaint.pipeline")
    modules = import_oracle("hy3dgen.texgen.hunyuanpaint.unet.modules")
    from diffusers import UNet2DConditionModel

    config = {k: v for k, v in paint_model.unet.unet_dual.config.items() if not k.startswith("_")}
    reference_unet = modules.UNet2p5DConditionModel(UNet2DConditionModel(**config))
    reference_unet.load_state_dict(paint_model.unet.state_dict(), strict=True)
    reference_unet.eval()
    monkeypatch.setattr(DiagonalGaussianDistribution, "sample", lambda self, generator=None: self.mean)

    reference, normals, positions = _maps(3)
    reference = torch.from_numpy(np.asarray(_to_pil(reference), dtype=np.float32) / 255.0)
    cameras = [12, 15, 40]
    release = pipeline_module.HunyuanPaintPipeline(
        vae=paint_model.vae, text_encoder=None, tokenizer=None, unet=reference_unet,
        scheduler=EulerAncestralDiscreteScheduler.from_config(
            paint_model.scheduler_config, timestep_spacing="trailing"
        ),
        feature_extractor=None,
    )
    release.set_progress_bar_config(disable=True)
    expected = release(
        _to_pil(reference), num_inference_steps=3, guidance_scale=2.0, output_type="np",
        width=TINY_VIEW_SIZE, height=TINY_VIEW_SIZE, generator=torch.Generator().manual_seed(9),
        num_in_batch=3, camera_info_gen=[cameras], camera_info_ref=[[0]],
        normal_imgs=normals.permute(0, 3, 1, 2)[None], position_imgs=positions.permute(0, 3, 1, 2)[None],
    ).images
    got = sample_paint_views(
        paint_model, reference, normals, positions, cameras, seed=9, steps=3, guidance=2.0, view_size=TINY_VIEW_SIZE
    )
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-4)


def _to_pil(image: torch.Tensor):
    from PIL import Image

    return Image.fromarray((image.numpy() * 255).round().astype(np.uint8))
