"""Building blocks of the Hunyuan3D-DiT: the Flux-style dual-stream and single-stream
transformer blocks with adaptive-LayerNorm modulation.

Attribute names (``img_mod.lin``, ``img_attn.qkv``, ``norm.query_norm.scale``,
``img_mlp.0`` ...) are fixed by the released checkpoints: they are the state-dict keys the
weights are stored under, so they cannot be renamed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TIMESTEP_FEATURES = 256
"""Width of the sinusoidal features fed to ``time_in`` / ``guidance_in``."""

_TIME_SCALE = 1000.0
_MAX_PERIOD = 1000.0
_NORM_EPS = 1e-6


def timestep_features(values: Tensor, dim: int = TIMESTEP_FEATURES) -> Tensor:
    """Sinusoidal features of ``1000 * values``, cosines first, in float32.

    The released weights were trained with ``max_period`` 1000 instead of the usual
    10000, so the lowest frequency is 1/1000 rather than 1/10000; the weights only work
    with exactly this variant. Computed in float32 whatever the model dtype, because the
    arguments reach 1000 and half precision would lose the fine time resolution.
    """
    half = dim // 2
    frequencies = torch.exp(
        -math.log(_MAX_PERIOD) * torch.arange(half, dtype=torch.float32, device=values.device) / half
    )
    angles = (_TIME_SCALE * values.float())[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class EmbeddingMLP(nn.Module):
    """Lifts the sinusoidal time (or guidance) features to the transformer width."""

    def __init__(self, in_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.in_layer = nn.Linear(in_dim, hidden_size)
        self.out_layer = nn.Linear(hidden_size, hidden_size)

    def forward(self, features: Tensor) -> Tensor:
        return self.out_layer(F.silu(self.in_layer(features)))


class HeadRMSNorm(nn.Module):
    """RMS normalisation over one attention head with a learned per-channel scale.

    The mean square is taken in float32 so half-precision activations cannot overflow
    or underflow; the result is cast back to the input dtype before the scale is
    applied, which is the order the released weights were trained with.
    """

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(head_dim))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        normalised = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + _NORM_EPS)
        return normalised.to(x.dtype) * self.scale.to(x.dtype)


class QueryKeyNorm(nn.Module):
    """Separate RMS norms for queries and keys; values are left untouched."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.query_norm = HeadRMSNorm(head_dim)
        self.key_norm = HeadRMSNorm(head_dim)

    def forward(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        return self.query_norm(q), self.key_norm(k)


def split_heads(qkv: Tensor, num_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """``[B, L, 3*H*D]`` laid out as q|k|v blocks -> three ``[B, H, L, D]`` tensors."""
    batch, length, width = qkv.shape
    head_dim = width // (3 * num_heads)
    parts = qkv.reshape(batch, length, 3, num_heads, head_dim).permute(2, 0, 3, 1, 4)
    return parts[0], parts[1], parts[2]


def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Full (unmasked) attention, heads merged back: ``[B, H, L, D]`` -> ``[B, L, H*D]``.

    No positional encoding is applied anywhere: the latent tokens are an unordered set.
    """
    out = F.scaled_dot_product_attention(q, k, v)
    batch, heads, length, head_dim = out.shape
    return out.transpose(1, 2).reshape(batch, length, heads * head_dim)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """Adaptive LayerNorm: affine-free LayerNorm, then the condition's scale and shift."""
    normalised = F.layer_norm(x, (x.shape[-1],), eps=_NORM_EPS)
    return (1 + scale) * normalised + shift


class Modulation(nn.Module):
    """Per-block shift/scale/gate vectors predicted from the time (+guidance) vector."""

    def __init__(self, hidden_size: int, chunks: int) -> None:
        super().__init__()
        self.chunks = chunks
        self.lin = nn.Linear(hidden_size, chunks * hidden_size)

    def forward(self, vec: Tensor) -> tuple[Tensor, ...]:
        """Return ``chunks`` tensors of shape ``[B, 1, hidden]`` (broadcast over tokens)."""
        return self.lin(F.silu(vec))[:, None, :].chunk(self.chunks, dim=-1)


class StreamAttention(nn.Module):
    """One stream's attention weights in a dual-stream block.

    Each stream projects its own q, k, v and output, but the attention itself is joint
    over both streams, so the block does the attention, not this module.
    """

    def __init__(self, hidden_size: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size, bias=qkv_bias)
        self.norm = QueryKeyNorm(hidden_size // num_heads)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        q, k, v = split_heads(self.qkv(x), self.num_heads)
        q, k = self.norm(q, k)
        return q, k, v


def feed_forward(hidden_size: int, mlp_hidden: int) -> nn.Sequential:
    """Linear -> tanh-approximated GELU -> Linear (keys ``.0`` and ``.2``)."""
    return nn.Sequential(
        nn.Linear(hidden_size, mlp_hidden),
        nn.GELU(approximate="tanh"),
        nn.Linear(mlp_hidden, hidden_size),
    )


class DoubleStreamBlock(nn.Module):
    """Latent (``img``) and condition (``txt``) tokens keep separate weights but attend
    jointly over ``[condition, latents]``."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_hidden: int, qkv_bias: bool) -> None:
        super().__init__()
        self.img_mod = Modulation(hidden_size, chunks=6)
        self.img_attn = StreamAttention(hidden_size, num_heads, qkv_bias)
        self.img_mlp = feed_forward(hidden_size, mlp_hidden)
        self.txt_mod = Modulation(hidden_size, chunks=6)
        self.txt_attn = StreamAttention(hidden_size, num_heads, qkv_bias)
        self.txt_mlp = feed_forward(hidden_size, mlp_hidden)

    def forward(self, img: Tensor, txt: Tensor, vec: Tensor) -> tuple[Tensor, Tensor]:
        img_shift1, img_scale1, img_gate1, img_shift2, img_scale2, img_gate2 = self.img_mod(vec)
        txt_shift1, txt_scale1, txt_gate1, txt_shift2, txt_scale2, txt_gate2 = self.txt_mod(vec)

        img_q, img_k, img_v = self.img_attn.heads(modulate(img, img_shift1, img_scale1))
        txt_q, txt_k, txt_v = self.txt_attn.heads(modulate(txt, txt_shift1, txt_scale1))
        joint = attend(
            torch.cat([txt_q, img_q], dim=2),
            torch.cat([txt_k, img_k], dim=2),
            torch.cat([txt_v, img_v], dim=2),
        )
        txt_out, img_out = joint.split([txt.shape[1], img.shape[1]], dim=1)

        img = img + img_gate1 * self.img_attn.proj(img_out)
        img = img + img_gate2 * self.img_mlp(modulate(img, img_shift2, img_scale2))
        txt = txt + txt_gate1 * self.txt_attn.proj(txt_out)
        txt = txt + txt_gate2 * self.txt_mlp(modulate(txt, txt_shift2, txt_scale2))
        return img, txt


class SingleStreamBlock(nn.Module):
    """One set of weights for all tokens; attention and MLP run in parallel from one
    input projection (``linear1``) and are fused back by one output projection
    (``linear2``)."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_hidden: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.split_sizes = [3 * hidden_size, mlp_hidden]
        self.linear1 = nn.Linear(hidden_size, 3 * hidden_size + mlp_hidden)
        self.linear2 = nn.Linear(hidden_size + mlp_hidden, hidden_size)
        self.norm = QueryKeyNorm(hidden_size // num_heads)
        self.modulation = Modulation(hidden_size, chunks=3)

    def forward(self, x: Tensor, vec: Tensor) -> Tensor:
        shift, scale, gate = self.modulation(vec)
        qkv, mlp_in = self.linear1(modulate(x, shift, scale)).split(self.split_sizes, dim=-1)
        q, k, v = split_heads(qkv, self.num_heads)
        q, k = self.norm(q, k)
        fused = torch.cat([attend(q, k, v), F.gelu(mlp_in, approximate="tanh")], dim=-1)
        return x + gate * self.linear2(fused)


class FinalLayer(nn.Module):
    """Adaptive LayerNorm (shift, scale; no gate) and the projection back to latent
    channels."""

    def __init__(self, hidden_size: int, out_channels: int) -> None:
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.linear = nn.Linear(hidden_size, out_channels)

    def forward(self, x: Tensor, vec: Tensor) -> Tensor:
        shift, scale = self.adaLN_modulation(vec)[:, None, :].chunk(2, dim=-1)
        return self.linear(modulate(x, shift, scale))
