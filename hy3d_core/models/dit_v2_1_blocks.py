"""Transformer block of the Hunyuan3D 2.1 shape DiT: self-attention, cross-attention to
the image tokens, and a dense MLP or a mixture of experts, each behind a LayerNorm
(docs/release_conventions_2_1.md, sections 3 and 5).

Attribute names (``attn1.to_q``, ``attn2.to_k``, ``skip_linear``, ``mlp.fc1``,
``moe.gate``, ``moe.experts.N.net.0.proj`` ...) are the released state-dict keys.

The released attention splits heads in an unusual way that the weights depend on:
the q, k and v projections are concatenated and the result is cut into heads of
``3 * head_dim`` channels (``2 * head_dim`` for the cross-attention's k and v), so head
``h``'s query is not ``to_q``'s ``h``-th slice. The projections are kept separate here,
exactly as released, and their outputs concatenated and split the same way
(docs/release_conventions_2_1.md, section 4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dit_v2_1_config import DiTPlainConfig

NORM_EPS = 1e-6
"""Every LayerNorm and RMSNorm of the 2.1 DiT uses this epsilon."""


def _qk_norm(config: DiTPlainConfig) -> nn.Module:
    if not config.qk_norm:
        return nn.Identity()
    return nn.RMSNorm(config.head_dim, eps=NORM_EPS)


def _attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """``[B, L, heads, head_dim]`` views -> unmasked attention -> ``[B, Lq, heads * head_dim]``."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2).flatten(2)


class _HeadAttention(nn.Module):
    """Projections and q/k norms of one attention layer; keys and values come from
    ``source_dim``-wide tokens (the hidden width, or the context's)."""

    def __init__(self, config: DiTPlainConfig, source_dim: int) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.to_q = nn.Linear(hidden, hidden, bias=config.qkv_bias)
        self.to_k = nn.Linear(source_dim, hidden, bias=config.qkv_bias)
        self.to_v = nn.Linear(source_dim, hidden, bias=config.qkv_bias)
        self.q_norm = _qk_norm(config)
        self.k_norm = _qk_norm(config)
        self.out_proj = nn.Linear(hidden, hidden)

    def _heads(self, fused: Tensor, parts: int) -> tuple[Tensor, ...]:
        """Cut ``[B, L, parts * hidden]`` into ``parts`` tensors ``[B, L, heads, head_dim]``
        the released way: per head first, then per part."""
        batch, tokens, _ = fused.shape
        per_head = fused.view(batch, tokens, self.num_heads, parts * self.head_dim)
        return per_head.split(self.head_dim, dim=-1)


class SelfAttention(_HeadAttention):
    """Multi-head self-attention with the released fused-head split of q, k and v."""

    def __init__(self, config: DiTPlainConfig) -> None:
        super().__init__(config, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self._heads(torch.cat([self.to_q(x), self.to_k(x), self.to_v(x)], dim=-1), 3)
        return self.out_proj(_attend(self.q_norm(q), self.k_norm(k), v))


class CrossAttention(_HeadAttention):
    """Latent tokens attend to the image tokens; the keys and values share the fused
    split, the queries are split per head as usual."""

    def __init__(self, config: DiTPlainConfig) -> None:
        super().__init__(config, config.context_dim)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        (q,) = self._heads(self.to_q(x), 1)
        k, v = self._heads(torch.cat([self.to_k(context), self.to_v(context)], dim=-1), 2)
        return self.out_proj(_attend(self.q_norm(q), self.k_norm(k), v))


class DenseMLP(nn.Module):
    """Linear -> exact GELU -> Linear, in the plain blocks."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _GeluProjection(nn.Module):
    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden, inner)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.proj(x))


class ExpertMLP(nn.Module):
    """One expert, laid out as the release's diffusers ``FeedForward``: ``net.0.proj``
    then exact GELU, ``net.1`` a parameter-free slot (dropout there, unused at 0),
    ``net.2`` the output projection."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _GeluProjection(hidden, inner), nn.Identity(), nn.Linear(inner, hidden)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TopKRouter(nn.Linear):
    """The gate: softmax over experts of a bias-free projection, then the ``top_k``
    largest scores per token. The scores are not renormalised to sum to one, as
    released; every token is routed, the timestep token included."""

    def __init__(self, hidden: int, num_experts: int, top_k: int) -> None:
        super().__init__(hidden, num_experts, bias=False)
        self.top_k = top_k

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """``[T, hidden]`` -> (weights ``[T, top_k]``, expert indices ``[T, top_k]``)."""
        scores = F.linear(tokens, self.weight).softmax(dim=-1)
        return scores.topk(self.top_k, dim=-1, sorted=False)


class MixtureOfExperts(nn.Module):
    """Routed experts plus one shared expert that sees every token.

    Each expert runs only on the tokens routed to it: the (token, choice) slots are
    grouped by expert with one sort, every slot's output is written to its own row and
    the ``top_k`` rows of a token are summed with their gate weights. No two writes
    target the same row, so the result is deterministic on every device, and with
    ``top_k`` 2 it equals the release's in-place accumulation bit for bit.
    """

    def __init__(self, config: DiTPlainConfig) -> None:
        super().__init__()
        hidden, inner = config.hidden_size, config.mlp_hidden
        self.experts = nn.ModuleList(ExpertMLP(hidden, inner) for _ in range(config.num_experts))
        self.gate = TopKRouter(hidden, config.num_experts, config.moe_top_k)
        self.shared_experts = ExpertMLP(hidden, inner)

    def forward(self, x: Tensor) -> Tensor:
        tokens = x.reshape(-1, x.shape[-1])
        weights, experts = self.gate(tokens)
        top_k = experts.shape[-1]
        slot_expert = experts.reshape(-1)
        order = slot_expert.argsort(stable=True)
        counts = torch.bincount(slot_expert, minlength=len(self.experts)).tolist()
        routed = tokens.new_empty(slot_expert.shape[0], tokens.shape[-1])
        start = 0
        for expert, count in zip(self.experts, counts):
            if count:
                slots = order[start:start + count]
                routed[slots] = expert(tokens[slots // top_k])
                start += count
        mixed = (routed.view(-1, top_k, tokens.shape[-1]) * weights[..., None]).sum(dim=1)
        return mixed.view_as(x) + self.shared_experts(x)


class DiTPlainBlock(nn.Module):
    """``x = skip_norm(skip_linear([skip, x]))`` when the block takes a long skip, then
    pre-norm residual self-attention, cross-attention and MLP (or experts)."""

    def __init__(self, config: DiTPlainConfig, index: int) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.norm1 = nn.LayerNorm(hidden, eps=NORM_EPS)
        self.attn1 = SelfAttention(config)
        self.norm2 = nn.LayerNorm(hidden, eps=NORM_EPS)
        self.attn2 = CrossAttention(config)
        self.norm3 = nn.LayerNorm(hidden, eps=NORM_EPS)
        self.takes_skip = config.has_skip(index)
        if self.takes_skip:
            self.skip_norm = nn.LayerNorm(hidden, eps=NORM_EPS)
            self.skip_linear = nn.Linear(2 * hidden, hidden)
        self.uses_moe = config.uses_moe(index)
        if self.uses_moe:
            self.moe = MixtureOfExperts(config)
        else:
            self.mlp = DenseMLP(hidden, config.mlp_hidden)

    def forward(self, x: Tensor, context: Tensor, skip: Tensor | None = None) -> Tensor:
        if self.takes_skip:
            if skip is None:
                raise ValueError("this block takes a long skip connection: pass `skip`")
            x = self.skip_norm(self.skip_linear(torch.cat([skip, x], dim=-1)))
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        feed_forward = self.moe if self.uses_moe else self.mlp
        return x + feed_forward(self.norm3(x))
