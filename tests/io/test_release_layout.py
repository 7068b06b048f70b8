"""The full-size DINOv2 conditioner has the released files' exact layout.

The DiT and VAE layouts are compared with the reference implementation in their own
tests; the conditioner is checked here in the released (transformers 4) names, since
the reference package on transformers 5 uses the renamed layout.
"""

import torch

from hy3d_core.io.dinov2_layout import to_released_layout
from hy3d_core.models.conditioner import ImageConditioner
from hy3d_core.models.conditioner_config import CONDITIONER_PRESETS

GIANT_HIDDEN, GIANT_LAYERS, SWIGLU_HIDDEN = 1536, 40, 4096


def _released_giant_layout() -> dict[str, tuple[int, ...]]:
    prefix = "main_image_encoder.model."
    h = GIANT_HIDDEN
    layout = {
        "embeddings.cls_token": (1, 1, h),
        "embeddings.mask_token": (1, h),
        "embeddings.position_embeddings": (1, 37 * 37 + 1, h),
        "embeddings.patch_embeddings.projection.weight": (h, 3, 14, 14),
        "embeddings.patch_embeddings.projection.bias": (h,),
        "layernorm.weight": (h,),
        "layernorm.bias": (h,),
    }
    for i in range(GIANT_LAYERS):
        layer = f"encoder.layer.{i}."
        for norm in ("norm1", "norm2"):
            layout[layer + f"{norm}.weight"] = (h,)
            layout[layer + f"{norm}.bias"] = (h,)
        for name in ("query", "key", "value"):
            layout[layer + f"attention.attention.{name}.weight"] = (h, h)
            layout[layer + f"attention.attention.{name}.bias"] = (h,)
        layout[layer + "attention.output.dense.weight"] = (h, h)
        layout[layer + "attention.output.dense.bias"] = (h,)
        layout[layer + "layer_scale1.lambda1"] = (h,)
        layout[layer + "layer_scale2.lambda1"] = (h,)
        layout[layer + "mlp.weights_in.weight"] = (2 * SWIGLU_HIDDEN, h)
        layout[layer + "mlp.weights_in.bias"] = (2 * SWIGLU_HIDDEN,)
        layout[layer + "mlp.weights_out.weight"] = (h, SWIGLU_HIDDEN)
        layout[layer + "mlp.weights_out.bias"] = (h,)
    return {prefix + k: v for k, v in layout.items()}


def test_giant_conditioner_has_the_released_dinov2_layout():
    with torch.device("meta"):
        conditioner = ImageConditioner(CONDITIONER_PRESETS["dinov2-giant"])
    released = to_released_layout(conditioner.state_dict())
    assert {k: tuple(v.shape) for k, v in released.items()} == _released_giant_layout()

