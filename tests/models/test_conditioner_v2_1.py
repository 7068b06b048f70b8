"""The DINOv2 conditioner with Hunyuan3D 2.1's config (DINOv2-Large, CLS kept): parity with
Tencent's 2.1 SingleImageEncoder on the tiny oracle and the released DINOv2-Large size."""

from __future__ import annotations

import torch

from hy3d_core.models.conditioner import ImageConditioner
from hy3d_core.models.conditioner_config import CONDITIONER_PRESETS
from shape21_fixture import load_conditioner
from shared_fixtures import SHAPE_21, load_reference

ATOL = 1e-4


def test_pixels_and_tokens_match_reference():
    reference = load_reference(SHAPE_21)
    conditioner = load_conditioner()
    seen = []
    conditioner.main_image_encoder.model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["pixel_values"]), with_kwargs=True)
    with torch.no_grad():
        tokens = conditioner(reference["prepared_image"])
    torch.testing.assert_close(seen[0], reference["dino_pixel_values"], atol=ATOL, rtol=0)
    torch.testing.assert_close(tokens, reference["cond"], atol=ATOL, rtol=0)


def test_unconditional_tokens_are_zeros_of_the_condition_shape():
    reference = load_reference(SHAPE_21)
    uncond = load_conditioner().unconditional(1)
    assert uncond.shape == reference["uncond"].shape == reference["cond"].shape
    assert torch.equal(uncond, reference["uncond"])
    assert not uncond.any()


def test_dinov2_large_preset_size_and_tokens():
    """DINOv2-Large at 518 px: 304,368,640 parameters, 1 + 37 x 37 = 1370 tokens of 1024."""
    config = CONDITIONER_PRESETS["dinov2-large"]
    assert (config.tokens_per_view, config.hidden_size, config.use_cls_token) == (1370, 1024, True)
    with torch.device("meta"):
        conditioner = ImageConditioner(config)
    assert sum(p.numel() for p in conditioner.parameters()) == 304_368_640
