"""The Hunyuan3D-Paint 2.0 multiview UNet: a Stable Diffusion 2.1 UNet made "2.5D".

Paint generates all views of an object in one batch that must agree with each other and
with a reference photo. The release gets there by wrapping every transformer block of a
diffusers ``UNet2DConditionModel`` with two extra attentions, and by running a second copy
of the UNet (``unet_dual``) on the reference latents to supply the keys/values of one of
them. We keep diffusers' UNet for everything else (resnets, time embedding, the blocks'
own self- and cross-attention) so the released weights load under their own names:
``unet.*`` / ``unet_dual.*``, each wrapped block under ``...transformer_blocks.N`` with the
original block in ``.transformer`` and the additions in ``.attn_multiview`` /
``.attn_refview``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .wrapped_unet import check_plain_block, stack_conv_in, wrap_transformer_blocks

MAX_REFERENCE_IMAGES = 5
"""Class-embedding rows kept for reference images; generated views' indices follow them."""

MAX_GENERATED_VIEWS = 12 * 3 + 4 * 2
"""Camera indices a generated view may carry: 12 azimuths at 3 elevations, 4 at 2 poles."""

TEXT_TOKENS = 77
"""Length of the learned text embeddings that stand in for a CLIP prompt."""

_CONTEXT_KEY = "paint_views"


@dataclass
class ViewContext:
    """What every wrapped block needs to know for one UNet call.

    Passed down through diffusers' ``cross_attention_kwargs``, the one channel that reaches
    the transformer blocks untouched. ``record`` is filled by the reference pass;
    ``reference`` is read by the generation pass.
    """

    views: int
    record: dict[str, torch.Tensor] | None = None
    reference: dict[str, torch.Tensor] | None = None
    reference_scale: torch.Tensor | float = 1.0
    multiview_scale: float = 1.0


@dataclass
class ReferenceStates:
    """Normalised hidden states of every block of ``unet_dual`` for a batch of references.

    Each entry is ``[B, R * L, C]``: all reference images' tokens of one batch item side by
    side, ready to be keys/values for that item's views.
    """

    by_layer: dict[str, torch.Tensor] = field(default_factory=dict)


class _ViewAttention(nn.Module):
    """Multi-head attention with the released key names (``to_q``, ``to_k``, ``to_v``, ``to_out.0``)."""

    def __init__(self, dim: int, heads: int, head_dim: int, qkv_bias: bool) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=qkv_bias)
        self.to_k = nn.Linear(dim, inner, bias=qkv_bias)
        self.to_v = nn.Linear(dim, inner, bias=qkv_bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim, bias=True)])

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        batch = queries.shape[0]

        def split_heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, x.shape[1], self.heads, -1).transpose(1, 2)

        q = split_heads(self.to_q(queries))
        k = split_heads(self.to_k(context))
        v = split_heads(self.to_v(context))
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(batch, queries.shape[1], -1)
        return self.to_out[0](out)


class PaintTransformerBlock(nn.Module):
    """A diffusers ``BasicTransformerBlock`` with reference and multiview attention added.

    Both additions read the block's first normalised hidden states (the ones its own
    self-attention saw) and are added to the residual stream right after that
    self-attention, before the text cross-attention, the order the weights were trained in.
    """

    def __init__(self, transformer: nn.Module, layer_name: str, with_view_attention: bool) -> None:
        super().__init__()
        check_plain_block(transformer, "Paint UNet")
        self.transformer = transformer
        self.layer_name = layer_name
        if with_view_attention:
            self_attention = transformer.attn1
            heads = self_attention.heads
            options = dict(
                dim=self_attention.query_dim,
                heads=heads,
                head_dim=self_attention.inner_dim // heads,
                qkv_bias=self_attention.to_q.bias is not None,
            )
            self.attn_multiview = _ViewAttention(**options)
            self.attn_refview = _ViewAttention(**options)
        else:
            self.attn_multiview = None
            self.attn_refview = None

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        timestep: torch.Tensor | None = None,
        cross_attention_kwargs: dict | None = None,
        class_labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        block = self.transformer
        context: ViewContext | None = (cross_attention_kwargs or {}).get(_CONTEXT_KEY)
        if context is None:
            raise ValueError("Call the Paint UNet through PaintUNet, which tells its blocks how views are grouped.")
        views = context.views

        normed = block.norm1(hidden_states)
        hidden_states = hidden_states + block.attn1(normed, attention_mask=attention_mask)

        tokens, channels = normed.shape[1], normed.shape[2]
        grouped = normed.reshape(-1, views * tokens, channels)
        if context.record is not None:
            context.record[self.layer_name] = grouped
        if context.reference is not None and self.attn_refview is not None:
            reference = context.reference[self.layer_name]
            reference = reference.repeat_interleave(views, dim=0)
            attended = self.attn_refview(normed, reference)
            hidden_states = hidden_states + _per_item_scale(context.reference_scale, views, attended) * attended
        if views > 1 and self.attn_multiview is not None:
            attended = self.attn_multiview(grouped, grouped).reshape(-1, tokens, channels)
            hidden_states = hidden_states + context.multiview_scale * attended

        if block.attn2 is not None:
            hidden_states = hidden_states + block.attn2(
                block.norm2(hidden_states),
                encoder_hidden_states=encoder_hidden_states,
                attention_mask=encoder_attention_mask,
            )
        return hidden_states + block.ff(block.norm3(hidden_states))


def _per_item_scale(scale: torch.Tensor | float, views: int, like: torch.Tensor) -> torch.Tensor | float:
    """A per-batch-item scale ``[B]`` spread over that item's views, or a plain number."""
    if not isinstance(scale, torch.Tensor):
        return scale
    return scale.to(like).repeat_interleave(views).view(-1, *([1] * (like.ndim - 1)))


class PaintUNet(nn.Module):
    """The released ``UNet2p5DConditionModel`` layout, built from an SD 2.1 UNet config.

    ``unet`` denoises the views: its ``conv_in`` takes the noisy latent, the normal-map
    latent and the position-map latent stacked (3x the config's ``in_channels``), its class
    embedding carries the camera index, and two learned text embeddings replace the text
    encoder. ``unet_dual`` is an unmodified copy of the config's UNet that only ever sees
    the reference latents at t = 0.
    """

    def __init__(self, unet_config: dict) -> None:
        super().__init__()
        from diffusers import UNet2DConditionModel

        self.unet = UNet2DConditionModel.from_config(unet_config)
        self.unet_dual = UNet2DConditionModel.from_config(unet_config)
        wrap_transformer_blocks(self.unet_dual, lambda block, name: PaintTransformerBlock(block, name, False))
        wrap_transformer_blocks(self.unet, lambda block, name: PaintTransformerBlock(block, name, True))
        stack_conv_in(self.unet, 3)

        config = self.unet.config
        text_dim = config.cross_attention_dim
        self.unet.learned_text_clip_gen = nn.Parameter(torch.zeros(1, TEXT_TOKENS, text_dim))
        self.unet.learned_text_clip_ref = nn.Parameter(torch.zeros(1, TEXT_TOKENS, text_dim))
        time_dim = config.time_embedding_dim or 4 * config.block_out_channels[0]
        self.unet.class_embedding = nn.Embedding(MAX_REFERENCE_IMAGES + MAX_GENERATED_VIEWS, time_dim)

    @property
    def text_embedding(self) -> torch.Tensor:
        """The conditional text embedding ``[1, 77, C]``; the unconditional one is zeros."""
        return self.unet.learned_text_clip_gen

    def encode_reference(self, reference_latents: torch.Tensor) -> ReferenceStates:
        """Run ``unet_dual`` once on ``[B, R, C, h, w]`` reference latents at t = 0.

        The states do not depend on the denoising step, so one call serves a whole
        generation. The release passes the reference a camera index of 0, but ``unet_dual``
        has no class embedding, so no index is taken here.
        """
        batch, references = reference_latents.shape[:2]
        flat = reference_latents.flatten(0, 1)
        text = self.unet.learned_text_clip_ref.to(flat.dtype).expand(batch * references, -1, -1)
        states = ReferenceStates()
        context = ViewContext(views=references, record=states.by_layer)
        self.unet_dual(
            flat,
            0,
            encoder_hidden_states=text,
            cross_attention_kwargs={_CONTEXT_KEY: context},
            return_dict=False,
        )
        return states

    def forward(
        self,
        latents: torch.Tensor,
        timestep: torch.Tensor | float,
        text_embeddings: torch.Tensor,
        normal_latents: torch.Tensor,
        position_latents: torch.Tensor,
        camera_indices: torch.Tensor,
        reference: ReferenceStates,
        reference_scale: torch.Tensor | float = 1.0,
        multiview_scale: float = 1.0,
    ) -> torch.Tensor:
        """Predict the noise for ``[B, N, C, h, w]`` view latents; returns the same shape.

        ``text_embeddings`` is ``[B, 77, C]``; ``camera_indices`` is ``[B, N]`` as the
        release computes them (the offset past the reference rows is added here);
        ``reference_scale`` may be ``[B]`` so the unconditional half of a CFG batch can
        switch the reference off.
        """
        batch, views = latents.shape[:2]
        if normal_latents.shape != latents.shape or position_latents.shape != latents.shape:
            raise ValueError(
                f"normal latents {tuple(normal_latents.shape)} and position latents "
                f"{tuple(position_latents.shape)} must match the view latents {tuple(latents.shape)}."
            )
        if not reference.by_layer:
            raise ValueError("No reference states: run encode_reference on the reference latents first.")
        reference_batch = next(iter(reference.by_layer.values())).shape[0]
        if reference_batch != batch:
            raise ValueError(
                f"The reference states were encoded for a batch of {reference_batch}, the views come in a "
                f"batch of {batch}; encode one reference set per batch item (both CFG halves included)."
            )
        if tuple(camera_indices.shape) != (batch, views):
            raise ValueError(f"camera_indices must be [{batch}, {views}], got {tuple(camera_indices.shape)}.")
        sample = torch.cat([latents, normal_latents, position_latents], dim=2).flatten(0, 1)
        text = text_embeddings.repeat_interleave(views, dim=0)
        labels = (camera_indices.flatten() + MAX_REFERENCE_IMAGES).long()
        context = ViewContext(
            views=views,
            reference=reference.by_layer,
            reference_scale=reference_scale,
            multiview_scale=multiview_scale,
        )
        noise = self.unet(
            sample,
            timestep,
            encoder_hidden_states=text,
            class_labels=labels,
            cross_attention_kwargs={_CONTEXT_KEY: context},
            return_dict=False,
        )[0]
        return noise.unflatten(0, (batch, views))
