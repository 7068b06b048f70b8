"""DINOv2 features of the Paint PBR reference against the release's processor and model outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hy3d_core.io.paint_pbr_checkpoints import load_dino_features
from hy3d_core.models.dino_features import DinoPreprocessing
from paint_pbr_fixture import (
    DINO_FOLDER,
    load_fixture_model,
    paint_pbr_fixture,
    paint_pbr_reference,
    reference_on_white,
)


@pytest.fixture(scope="module")
def reference():
    return paint_pbr_reference()


def test_pixels_tokens_and_projection_match_the_release(reference):
    model = load_fixture_model()
    image = reference_on_white()
    torch.testing.assert_close(
        model.dino.preprocessing(image), reference["dino"]["pixel_values"], atol=1e-5, rtol=0
    )
    tokens = model.dino(image)
    torch.testing.assert_close(tokens, reference["dino"]["dino_hidden_states"], atol=1e-5, rtol=1e-5)
    branches = torch.cat([torch.zeros_like(tokens), torch.zeros_like(tokens), tokens])
    with torch.no_grad():
        projected = model.unet.unet.image_proj_model_dino(branches)
    torch.testing.assert_close(
        projected, reference["unet_intermediates"]["dino_hidden_states_proj"], atol=1e-5, rtol=1e-5
    )


def test_shorter_side_is_resized_and_the_centre_cropped():
    preprocessing = DinoPreprocessing(shortest_edge=32, crop_height=28, crop_width=28)
    image = np.zeros((40, 80, 3), dtype=np.uint8)
    image[:, 38:42] = 255  # a bright vertical bar in the middle survives the crop
    pixels = preprocessing(image)
    assert pixels.shape == (1, 3, 28, 28)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    restored = pixels[0] * std + mean
    assert restored[:, :, 14].min() > 0.9 and restored[:, :, 0].max() < 0.05


def test_preprocessing_with_steps_switched_off_is_refused():
    with pytest.raises(ValueError, match="do_center_crop"):
        DinoPreprocessing.from_config({"do_center_crop": False, "size": {"shortest_edge": 64}})


def test_transformers_5_names_load_as_well(tmp_path, reference):
    """A DINOv2 folder saved by transformers 5 (split SwiGLU, renamed attention) loads too."""
    from safetensors.torch import save_file

    source = paint_pbr_fixture() / DINO_FOLDER
    dino = load_dino_features(source)
    for name in ("config.json", "preprocessor_config.json"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    save_file({key: value.contiguous() for key, value in dino.model.state_dict().items()},
              str(tmp_path / "model.safetensors"))
    reloaded = load_dino_features(tmp_path)
    image = reference_on_white()
    torch.testing.assert_close(reloaded(image), reference["dino"]["dino_hidden_states"], atol=1e-5, rtol=1e-5)
