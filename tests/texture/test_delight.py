"""Delight on a tiny InstructPix2Pix folder, against the reference ``Light_Shadow_Remover``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hy3d_core.io.checkpoint_files import CheckpointError
from hy3d_core.io.delight_checkpoints import load_delight_pipeline
from hy3d_core.sampling.progress import Cancelled, Progress
from hy3d_core.texture.delight import delight_image, match_colours
from tiny_paint import flush_denormals, write_tiny_delight_folder  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("flush_denormals")

SIZE = 16


@pytest.fixture(scope="module")
def delight_folder(tmp_path_factory):
    return write_tiny_delight_folder(tmp_path_factory.mktemp("delight"))


@pytest.fixture(scope="module")
def pipeline(delight_folder):
    return load_delight_pipeline(delight_folder)


def _image_and_alpha(size: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    image = torch.rand(size, size, 3, generator=generator)
    alpha = torch.zeros(size, size)
    alpha[4:-4, 6:-6] = 1.0
    return image, alpha


def test_output_is_white_outside_the_eroded_object(pipeline):
    image, alpha = _image_and_alpha()
    reported = []
    unlit = delight_image(
        pipeline, image, alpha, steps=3, size=SIZE,
        progress=Progress(callback=lambda done, total: reported.append((done, total))),
    )
    assert unlit.shape == (SIZE, SIZE, 3) and unlit.dtype == torch.float32
    assert unlit.min() >= 0 and unlit.max() <= 1
    assert torch.all(unlit[0] == 1.0) and torch.all(unlit[:, 0] == 1.0)
    assert reported == [(1, 3), (2, 3), (3, 3)]


def test_cancel_stops_the_run(pipeline):
    image, _ = _image_and_alpha()
    with pytest.raises(Cancelled):
        delight_image(pipeline, image, steps=3, size=SIZE, progress=Progress(should_cancel=lambda: True))


@pytest.mark.oracle
@pytest.mark.parametrize("with_alpha", [True, False])
def test_matches_reference_light_shadow_remover(pipeline, with_alpha, monkeypatch):
    from PIL import Image
    from oracle import import_oracle

    module = import_oracle("hy3dgen.texgen.utils.dehighlight_utils")
    image, alpha = _image_and_alpha()
    rgb = (image.numpy() * 255).round().astype(np.uint8)
    if with_alpha:
        a = (alpha.numpy() * 255).round().astype(np.uint8)
        pil = Image.fromarray(np.concatenate([rgb, a[..., None]], -1), "RGBA")
    else:
        pil = Image.fromarray(rgb)
    remover = object.__new__(module.Light_Shadow_Remover)  # skip its fp16 hub loading
    remover.device, remover.cfg_image, remover.cfg_text, remover.pipeline = "cpu", 1.5, 1.0, pipeline
    original_call = type(pipeline).__call__

    def at_test_size(self, **kwargs):  # the release hard-codes 512 pixels and 50 steps
        kwargs.update(height=SIZE, width=SIZE, num_inference_steps=4)
        return original_call(self, **kwargs)

    monkeypatch.setattr(type(pipeline), "__call__", at_test_size)
    monkeypatch.setattr(Image.Image, "resize", _resize_to(SIZE, Image.Image.resize))
    expected = np.asarray(remover(pil), dtype=np.float32) / 255.0
    got = delight_image(pipeline, image, alpha if with_alpha else None, steps=4, size=SIZE).numpy()
    # the release truncates to uint8 at the end; we keep floats
    assert np.all(got - expected >= -1e-6) and np.all(got - expected < 1.0 / 255.0 + 1e-6)


def _resize_to(size, resize):
    def resize_fixed(self, _size, *args, **kwargs):
        return resize(self, (size, size), *args, **kwargs)

    return resize_fixed


@pytest.mark.oracle
def test_colour_match_matches_reference():
    from oracle import import_oracle

    module = import_oracle("hy3dgen.texgen.utils.dehighlight_utils")
    generator = torch.Generator().manual_seed(8)
    target = torch.rand(12, 12, 3, generator=generator, dtype=torch.float64)
    coverage = (torch.rand(12, 12, generator=generator, dtype=torch.float64) > 0.3).double()
    for source in (target * 0.5 + 0.3, target.flip(0), target):
        expected = module.Light_Shadow_Remover.recorrect_rgb(None, source, target, coverage[..., None])[..., :3]
        torch.testing.assert_close(match_colours(source, target, coverage), expected)


def test_colour_match_kept_only_when_it_helps():
    target = torch.full((4, 4, 3), 0.5, dtype=torch.float64)
    target[0, 0] = 0.7
    coverage = torch.ones(4, 4, dtype=torch.float64)
    darker = target * 0.5
    assert match_colours(darker, target, coverage).sub(target).abs().max() < darker.sub(target).abs().max()
    assert torch.equal(match_colours(target, target, coverage), target)


def test_wrong_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not a folder"):
        load_delight_pipeline(tmp_path / "nowhere")
    (tmp_path / "unet").mkdir()
    with pytest.raises(CheckpointError, match="not a Hunyuan3D-Delight folder"):
        load_delight_pipeline(tmp_path)


def test_alpha_of_another_size_is_a_clear_error(pipeline):
    image, _ = _image_and_alpha()
    with pytest.raises(ValueError, match="alpha"):
        delight_image(pipeline, image, torch.ones(5, 5), steps=1, size=SIZE)
