"""Hunyuan3D-DiT: the flow-matching transformer that turns image features into a shape
latent (a velocity prediction for the latent tokens).

The network is a Flux-style transformer: ``depth`` dual-stream blocks, where the latent
tokens and the image-condition tokens have separate weights but attend jointly, then
``depth_single_blocks`` single-stream blocks over the concatenated tokens. There is no
positional encoding: the latent tokens are an unordered set.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .dit_blocks import (
    TIMESTEP_FEATURES,
    DoubleStreamBlock,
    EmbeddingMLP,
    FinalLayer,
    SingleStreamBlock,
    timestep_features,
)
from .dit_config import DiTConfig


class HunyuanDiT(nn.Module):
    """Predicts the flow-matching velocity of the shape latent tokens.

    Weights may be in any floating dtype; inputs are cast to the weights' dtype and the
    output comes back in the latents' dtype, so a sampler can keep its state in float32
    while running a half-precision model.
    """

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        self.latent_in = nn.Linear(config.in_channels, hidden)
        self.time_in = EmbeddingMLP(TIMESTEP_FEATURES, hidden)
        self.cond_in = nn.Linear(config.context_in_dim, hidden)
        self.guidance_in = EmbeddingMLP(TIMESTEP_FEATURES, hidden) if config.guidance_embed else None
        self.double_blocks = nn.ModuleList(
            DoubleStreamBlock(hidden, config.num_heads, config.mlp_hidden, config.qkv_bias)
            for _ in range(config.depth)
        )
        self.single_blocks = nn.ModuleList(
            SingleStreamBlock(hidden, config.num_heads, config.mlp_hidden)
            for _ in range(config.depth_single_blocks)
        )
        self.final_layer = FinalLayer(hidden, config.in_channels)

    def forward(
        self,
        latents: Tensor,
        t: Tensor | float,
        context: Tensor,
        guidance: Tensor | float | None = None,
    ) -> Tensor:
        """Velocity for ``latents [B, N, in_channels]`` at time ``t`` (``[B]`` or a scalar,
        0 = noise, 1 = data) given image features ``context [B, L, context_in_dim]``.
        Keep ``t`` in float32 even for a half-precision model: the features see
        ``1000 * t``, which half precision would round by up to a few units.

        ``guidance`` is the guidance scale for guidance-distilled ("fast") models, which
        need it and run without a classifier-free-guidance batch; other models reject it.
        """
        check_velocity_inputs(latents, context, self.config.in_channels, self.config.context_in_dim)
        batch = latents.shape[0]
        dtype = self.latent_in.weight.dtype

        vec = self.time_in(timestep_features(_per_sample(t, batch, latents.device, "t")).to(dtype))
        if self.guidance_in is not None:
            if guidance is None:
                raise ValueError(
                    "This DiT is guidance-distilled (guidance_embed=True): pass the guidance "
                    "scale as `guidance` (e.g. 5.0) instead of running classifier-free guidance"
                )
            features = timestep_features(_per_sample(guidance, batch, latents.device, "guidance"))
            vec = vec + self.guidance_in(features.to(dtype))
        elif guidance is not None:
            raise ValueError(
                "This DiT has no guidance embedding (guidance_embed=False): use "
                "classifier-free guidance and call it with guidance=None"
            )

        img = self.latent_in(latents.to(dtype))
        txt = self.cond_in(context.to(dtype))
        for block in self.double_blocks:
            img, txt = block(img, txt, vec)
        tokens = torch.cat([txt, img], dim=1)
        for block in self.single_blocks:
            tokens = block(tokens, vec)
        return self.final_layer(tokens[:, txt.shape[1]:], vec).to(latents.dtype)


def check_velocity_inputs(
    latents: Tensor, context: Tensor, in_channels: int, context_dim: int
) -> None:
    """Shape checks shared by the DiTs: channels-last latents, context of the model's
    width, one context per latent set."""
    if latents.ndim != 3 or latents.shape[-1] != in_channels:
        raise ValueError(
            f"latents must be [batch, tokens, {in_channels}] (channels last), "
            f"got {list(latents.shape)}"
        )
    if context.ndim != 3 or context.shape[-1] != context_dim:
        raise ValueError(
            f"context must be [batch, tokens, {context_dim}], got {list(context.shape)}"
        )
    if context.shape[0] != latents.shape[0]:
        raise ValueError(
            f"context batch {context.shape[0]} differs from latents batch {latents.shape[0]}"
        )


def _per_sample(value: Tensor | float, batch: int, device: torch.device, name: str) -> Tensor:
    """One value per batch element: a scalar (or single value) is repeated."""
    values = torch.as_tensor(value, device=device).reshape(-1)
    if values.numel() == 1:
        return values.expand(batch)
    if values.numel() != batch:
        raise ValueError(f"`{name}` needs 1 or {batch} values (one per sample), got {values.numel()}")
    return values
