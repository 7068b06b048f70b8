"""What both Hunyuan3D-Paint releases do to a diffusers Stable Diffusion 2.1 UNet.

Paint 2.0 and 2.1 PBR wrap every ``BasicTransformerBlock`` of a ``UNet2DConditionModel``
(the original block kept as ``.transformer`` so the released key names load) and widen
``conv_in`` so the noisy latent can be stacked with the geometry-map latents. The blocks'
extra attentions differ per release and live in ``paint_unet`` / ``paint_pbr_unet``.
"""

from __future__ import annotations

from typing import Callable

from torch import nn


def check_plain_block(transformer: nn.Module, model_name: str) -> None:
    """The wrappers re-implement a plain layer-norm block with self- and cross-attention (SD 2.x)."""
    if getattr(transformer, "norm_type", None) != "layer_norm" or transformer.pos_embed is not None:
        raise ValueError(
            f"The {model_name} wraps plain layer-norm transformer blocks (Stable Diffusion 2.x); "
            f"this UNet config has norm_type={getattr(transformer, 'norm_type', None)!r}."
        )
    if transformer.only_cross_attention:
        raise ValueError(f"The {model_name} needs self-attention blocks; set only_cross_attention to false.")


def wrap_transformer_blocks(unet: nn.Module, wrap: Callable[[nn.Module, str], nn.Module]) -> None:
    """Replace every ``BasicTransformerBlock`` by ``wrap(block, module_path)`` in place."""
    from diffusers.models.attention import BasicTransformerBlock

    for name, module in list(unet.named_modules()):
        blocks = getattr(module, "transformer_blocks", None)
        if not isinstance(blocks, nn.ModuleList):
            continue
        for index, block in enumerate(blocks):
            if isinstance(block, BasicTransformerBlock):
                blocks[index] = wrap(block, f"{name}.transformer_blocks.{index}")


def stack_conv_in(unet: nn.Module, latents: int) -> None:
    """Make ``conv_in`` take ``latents`` latents stacked on channels (noisy, normal map, position map)."""
    old = unet.conv_in
    unet.conv_in = nn.Conv2d(
        latents * unet.config.in_channels,
        old.out_channels,
        kernel_size=old.kernel_size,
        stride=old.stride,
        padding=old.padding,
    )
