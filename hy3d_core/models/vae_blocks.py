"""Building blocks of the ShapeVAE: Fourier point embedding and pre-LN attention blocks.

Submodule names follow the released checkpoints (``c_qkv``, ``c_kv``, ``attention.q_norm``,
``ln_1`` ...), so a state dict loads without renaming. The blocks keep two layout details
of the release that the trained weights depend on:

- the fused projections (``c_qkv``, ``c_kv``) are split per head: the output is viewed as
  ``[..., heads, n * head_dim]`` and cut into q/k/v inside each head, not into contiguous
  thirds of the feature axis;
- the optional query/key normalisation is a LayerNorm over ``head_dim`` (eps 1e-6, affine)
  applied to each head before attention.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BLOCK_NORM_EPS = 1e-6


def fourier_embedding_dim(num_freqs: int) -> int:
    """Width of :func:`fourier_embed` for a 3-D point."""
    return 3 * (2 * num_freqs + 1)


def fourier_embed(points: torch.Tensor, num_freqs: int, include_pi: bool) -> torch.Tensor:
    """Embed points as ``[x, sin(x * f), cos(x * f)]`` with octave frequencies ``f = 2**i``.

    The sin and cos parts are coordinate-major (all frequencies of x, then of y, then of z),
    the layout the released ``query_proj`` / ``input_proj`` weights expect. The product is
    formed in at least float32 because ``sin(128 * x)`` in half precision is badly off;
    frequencies are built here rather than stored so the module has no buffers.
    """
    compute_dtype = torch.promote_types(points.dtype, torch.float32)
    coords = points.to(compute_dtype)
    frequencies = 2.0 ** torch.arange(num_freqs, device=points.device, dtype=compute_dtype)
    if include_pi:
        frequencies = frequencies * math.pi
    angles = (coords[..., None] * frequencies).flatten(-2)
    return torch.cat((coords, angles.sin(), angles.cos()), dim=-1)


class HeadNorms(nn.Module):
    """Per-head LayerNorm of queries and keys (the release's ``qk_norm``)."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.q_norm = nn.LayerNorm(head_dim, eps=BLOCK_NORM_EPS)
        self.k_norm = nn.LayerNorm(head_dim, eps=BLOCK_NORM_EPS)


def _heads_first(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    batch, heads, tokens, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, tokens, heads * head_dim)


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused, per-head interleaved ``c_qkv``."""

    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.c_qkv = nn.Linear(width, 3 * width, bias=qkv_bias)
        self.c_proj = nn.Linear(width, width)
        self.attention = HeadNorms(self.head_dim) if qk_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.c_qkv(x).view(batch, tokens, self.heads, 3 * self.head_dim)
        q, k, v = qkv.split(self.head_dim, dim=-1)
        if self.attention is not None:
            q = self.attention.q_norm(q)
            k = self.attention.k_norm(k)
        out = F.scaled_dot_product_attention(_heads_first(q), _heads_first(k), _heads_first(v))
        return self.c_proj(_merge_heads(out))


def select_top_k_keys(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, top_k: int, selection_stride: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """FlashVDM's adaptive key/value selection for one spatial block of queries.

    For each batch item and head, scores every key by its dot product with the block's
    queries (every ``selection_stride``-th query, averaged) and keeps the ``top_k`` best
    keys with their values. The release's "mean" mode does exactly this, per head, with a
    stride of 100 on the coarsest level and 50 on the refinement levels.
    """
    sampled_queries = q[:, :, ::selection_stride]
    scores = (sampled_queries @ k.transpose(-1, -2)).mean(dim=-2)
    chosen = scores.topk(top_k, dim=-1).indices
    gather_index = chosen[..., None].expand(-1, -1, -1, k.shape[-1])
    return k.gather(2, gather_index), v.gather(2, gather_index)


class CrossAttention(nn.Module):
    """Queries attend to a data set; ``c_kv`` is split per head into k then v.

    Split into ``keys_values`` and ``attend`` so a caller can project the data once and
    then query it many times (volume decoding evaluates millions of points against the
    same latents).
    """

    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool,
                 data_width: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.c_q = nn.Linear(width, width, bias=qkv_bias)
        self.c_kv = nn.Linear(width if data_width is None else data_width, 2 * width,
                              bias=qkv_bias)
        self.c_proj = nn.Linear(width, width)
        self.attention = HeadNorms(self.head_dim) if qk_norm else None

    def keys_values(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised keys and values, each ``[B, heads, M, head_dim]``."""
        batch, tokens, _ = data.shape
        kv = self.c_kv(data).view(batch, tokens, self.heads, 2 * self.head_dim)
        k, v = kv.split(self.head_dim, dim=-1)
        if self.attention is not None:
            k = self.attention.k_norm(k)
        return _heads_first(k), _heads_first(v)

    def attend(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               top_k: int | None = None, selection_stride: int = 1) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q = self.c_q(x).view(batch, tokens, self.heads, self.head_dim)
        if self.attention is not None:
            q = self.attention.q_norm(q)
        q = _heads_first(q)
        if k.shape[0] != batch:
            k = k.expand(batch, -1, -1, -1)
            v = v.expand(batch, -1, -1, -1)
        if top_k is not None:
            k, v = select_top_k_keys(q, k, v, top_k, selection_stride)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.c_proj(_merge_heads(out))

    def forward(self, x: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        k, v = self.keys_values(data)
        return self.attend(x, k, v)


class MLP(nn.Module):
    """Linear -> exact GELU -> Linear."""

    def __init__(self, width: int, expand_ratio: int = 4) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, width * expand_ratio)
        self.c_proj = nn.Linear(width * expand_ratio, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class ResidualSelfAttentionBlock(nn.Module):
    """Pre-LN block: ``x + attn(ln_1 x)``, then ``x + mlp(ln_2 x)``."""

    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.attn = SelfAttention(width, heads, qkv_bias, qk_norm)
        self.ln_1 = nn.LayerNorm(width, eps=BLOCK_NORM_EPS)
        self.mlp = MLP(width)
        self.ln_2 = nn.LayerNorm(width, eps=BLOCK_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ResidualCrossAttentionBlock(nn.Module):
    """Pre-LN cross block: ``x + attn(ln_1 x, ln_2 data)``, then ``x + mlp(ln_3 x)``."""

    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool,
                 mlp_expand_ratio: int = 4) -> None:
        super().__init__()
        self.attn = CrossAttention(width, heads, qkv_bias, qk_norm)
        self.ln_1 = nn.LayerNorm(width, eps=BLOCK_NORM_EPS)
        self.ln_2 = nn.LayerNorm(width, eps=BLOCK_NORM_EPS)
        self.ln_3 = nn.LayerNorm(width, eps=BLOCK_NORM_EPS)
        self.mlp = MLP(width, mlp_expand_ratio)

    def keys_values(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attn.keys_values(self.ln_2(data))

    def attend(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               top_k: int | None = None, selection_stride: int = 1) -> torch.Tensor:
        x = x + self.attn.attend(self.ln_1(x), k, v, top_k, selection_stride)
        return x + self.mlp(self.ln_3(x))

    def forward(self, x: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        return self.attend(x, *self.keys_values(data))


class Transformer(nn.Module):
    """A stack of self-attention blocks, stored as ``resblocks.N`` like the release."""

    def __init__(self, width: int, heads: int, layers: int, qkv_bias: bool,
                 qk_norm: bool) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(
            ResidualSelfAttentionBlock(width, heads, qkv_bias, qk_norm) for _ in range(layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x)
        return x
