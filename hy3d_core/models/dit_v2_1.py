"""Hunyuan3D 2.1 shape DiT (``HunYuanDiTPlain``): a U-ViT-style transformer that predicts
the flow-matching velocity of the 4096 shape latent tokens from DINOv2-Large features.

Unlike 2.0's Flux-style DiT there is no adaptive-LayerNorm modulation: the time enters
as an extra token (token 0) that every block sees and the final layer drops. Blocks in
the first half hand their outputs to the mirrored blocks of the second half (long
skips, last in first out), and the last ``num_moe_layers`` blocks use a mixture of
experts instead of a dense MLP (docs/release_conventions_2_1.md, sections 2, 3
and 5). Parameter names are the released ones, so the
released ``model`` state dict loads with ``strict=True``.

The released full-size network (preset ``"v2-1"``) has 3,050,758,720 parameters
(with the VAE's 327,746,177, encoder included, and DINOv2-Large's 304,368,640 the released
shape checkpoint holds 3.68 B).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dit import _per_sample, check_velocity_inputs
from .dit_v2_1_blocks import NORM_EPS, DiTPlainBlock
from .dit_v2_1_config import DiTPlainConfig

_MAX_PERIOD = 10000.0


def timestep_token_features(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal features ``[sin, cos]`` of ``t`` itself (no 1000x, unlike 2.0), over
    ``dim // 2`` frequencies ``10000 ** (-i / (dim // 2))``, in float32: the release
    trained the 2.1 DiT on time in [0, 1] with as many features as hidden channels."""
    half = dim // 2
    frequencies = torch.exp(
        -math.log(_MAX_PERIOD) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    angles = t.float()[:, None] * frequencies[None]
    features = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    return F.pad(features, (0, dim % 2))


class TimestepEmbedder(nn.Module):
    """Time -> the extra token prepended to the latent tokens (``[B, 1, hidden]``)."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.mlp = nn.Sequential(nn.Linear(hidden, inner), nn.GELU(), nn.Linear(inner, hidden))

    def forward(self, t: Tensor) -> Tensor:
        features = timestep_token_features(t, self.hidden).to(self.mlp[0].weight.dtype)
        return self.mlp(features)[:, None, :]


class FinalLayer(nn.Module):
    """LayerNorm over all tokens, drop the time token, project to latent channels."""

    def __init__(self, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, eps=NORM_EPS)
        self.linear = nn.Linear(hidden, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.norm_final(x)[:, 1:])


class HunyuanDiTPlain(nn.Module):
    """Predicts the flow-matching velocity of shape latent tokens (Hunyuan3D 2.1).

    Weights may be in any floating dtype; inputs are cast to the weights' dtype and the
    output comes back in the latents' dtype. ``t`` stays float32 for the time features.
    """

    def __init__(self, config: DiTPlainConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        self.x_embedder = nn.Linear(config.in_channels, hidden)
        self.t_embedder = TimestepEmbedder(hidden, config.mlp_hidden)
        self.blocks = nn.ModuleList(DiTPlainBlock(config, index) for index in range(config.depth))
        self.final_layer = FinalLayer(hidden, config.in_channels)

    def forward(
        self,
        latents: Tensor,
        t: Tensor | float,
        context: Tensor,
        guidance: Tensor | float | None = None,
    ) -> Tensor:
        """Velocity for ``latents [B, N, in_channels]`` at time ``t`` (``[B]`` or a
        scalar in [0, 1], 0 = noise, 1 = data) given image tokens ``context [B, L,
        context_dim]`` (DINOv2 with its CLS token; zeros for the unconditional half).

        ``guidance`` exists for the sampler's calling convention only: the released
        2.1 DiT is not guidance-distilled, so it must be None.
        """
        if guidance is not None:
            raise ValueError(
                "The Hunyuan3D 2.1 DiT has no guidance embedding: use classifier-free "
                "guidance and call it with guidance=None"
            )
        check_velocity_inputs(latents, context, self.config.in_channels, self.config.context_dim)
        dtype = self.x_embedder.weight.dtype
        time_token = self.t_embedder(_per_sample(t, latents.shape[0], latents.device, "t"))
        x = torch.cat([time_token, self.x_embedder(latents.to(dtype))], dim=1)
        context = context.to(dtype)
        skips: list[Tensor] = []
        for index, block in enumerate(self.blocks):
            x = block(x, context, skips.pop() if block.takes_skip else None)
            if self.config.pushes_skip(index):
                skips.append(x)
        return self.final_layer(x).to(latents.dtype)


__all__ = ["HunyuanDiTPlain", "timestep_token_features"]
