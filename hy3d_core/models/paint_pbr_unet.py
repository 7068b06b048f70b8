"""The Hunyuan3D 2.1 Paint PBR UNet ("UNet 2.5D"): albedo and metallic-roughness views in one batch.

Like the 2.0 Paint model it is a diffusers ``UNet2DConditionModel`` (Stable Diffusion 2.1)
whose transformer blocks are wrapped with extra attentions, plus a second copy
(``unet_dual``) that reads the reference image once per generation. 2.1 changes what
the blocks do (docs/release_conventions_2_1.md, sections 9 to 15):

* every view is generated twice, as albedo and as metallic-roughness ("materials"); the
  block's self-attention has a separate set of projections per material (MDA);
* reference attention (RA) reads the albedo tokens of all views and answers for both
  materials, with one value projection per material;
* multiview attention (MA) rotates queries and keys by the surface point each token
  sees (PoseRoPE, ``hy3d_core.models.pose_rope``);
* a cross-attention to DINOv2 tokens of the reference follows the text cross-attention;
* the text encoder is replaced by learned token sequences per material (and one for
  the reference pass), so no prompt is ever encoded.

diffusers keeps the resnets, time embedding and the blocks' own attentions, so the
released weights load under their own names: ``unet.*`` / ``unet_dual.*``, each wrapped
block under ``...transformer_blocks.N`` with the original block in ``.transformer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .pose_rope import VoxelLevel, apply_rope, check_rope_head_dim, position_voxel_levels
from .wrapped_unet import check_plain_block, stack_conv_in, wrap_transformer_blocks

MATERIALS = ("albedo", "mr")
"""Material order of the batch: base colour, then metallic (R) / roughness (G)."""

TEXT_TOKENS = 77
DINO_TOKENS_PER_FEATURE = 4
"""The DINO projection turns each DINOv2 token into this many cross-attention tokens."""

DINOV2_GIANT_WIDTH = 1536

_CONTEXT_KEY = "paint_pbr"


@dataclass
class PbrConditions:
    """What a generation keeps fixed while the latents are denoised, for a batch of ``B``.

    ``B`` is the guidance branches (three in the release: unconditional, reference,
    full). Built by :meth:`PaintPbrUNet.prepare_conditions`, which runs the reference
    UNet and the DINO projection once, so the denoising loop only pays for the main UNet.
    """

    reference_states: dict[str, torch.Tensor]
    """``unet_dual``'s normalised block inputs, per layer ``[B, R * L, C]``."""
    dino_tokens: torch.Tensor
    """Projected DINO tokens ``[B, 4 * T, cross_attention_dim]``."""
    voxel_levels: dict[int, VoxelLevel]
    """PoseRoPE indices per multiview sequence length (batch ``B`` or 1)."""
    normal_latents: torch.Tensor
    """``[B, N, 4, h, w]`` VAE latents of the normal maps."""
    position_latents: torch.Tensor
    """``[B, N, 4, h, w]`` VAE latents of the position maps."""
    reference_scale: torch.Tensor
    """``[B]`` weight of the reference attention per branch (0 switches it off)."""
    multiview_scale: float = 1.0

    @property
    def batch(self) -> int:
        return self.normal_latents.shape[0]

    @property
    def views(self) -> int:
        return self.normal_latents.shape[1]


@dataclass
class _BlockContext:
    """Passed to the wrapped blocks through diffusers' ``cross_attention_kwargs``."""

    views: int
    record: dict[str, torch.Tensor] | None = None
    conditions: PbrConditions | None = None


class _Attention(nn.Module):
    """Multi-head attention with the released key names (``to_q``, ``to_k``, ``to_v``, ``to_out.0``)."""

    def __init__(self, dim: int, inner: int, heads: int, context_dim: int, bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=bias)
        self.to_k = nn.Linear(context_dim, inner, bias=bias)
        self.to_v = nn.Linear(context_dim, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim, bias=True)])

    def forward(
        self,
        queries: torch.Tensor,
        context: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        attended = _attend(self.to_q, self.to_k, self.to_v, queries, context, self.heads, rope)
        return self.to_out[0](attended)


class _MaterialSelfAttention(nn.Module):
    """The mr copy of a block's self-attention projections (albedo uses ``attn1`` itself).

    It sits where the release keeps it, as ``attn1.processor``, for the key names
    ``attn1.processor.to_q_mr`` etc.; the wrapping block calls it, never diffusers.
    """

    def __init__(self, dim: int, inner: int, bias: bool) -> None:
        super().__init__()
        self.to_q_mr = nn.Linear(dim, inner, bias=bias)
        self.to_k_mr = nn.Linear(dim, inner, bias=bias)
        self.to_v_mr = nn.Linear(dim, inner, bias=bias)
        self.to_out_mr = nn.ModuleList([nn.Linear(inner, dim, bias=True)])


class _MaterialValues(nn.Module):
    """The mr value and output projections of the reference attention (``attn_refview.processor``)."""

    def __init__(self, dim: int, inner: int, bias: bool) -> None:
        super().__init__()
        self.to_v_mr = nn.Linear(dim, inner, bias=bias)
        self.to_out_mr = nn.ModuleList([nn.Linear(inner, dim, bias=True)])


class DinoProjection(nn.Module):
    """DINOv2 tokens ``[B, T, D]`` -> cross-attention tokens ``[B, 4T, C]`` (each token to four)."""

    def __init__(self, feature_dim: int, cross_attention_dim: int) -> None:
        super().__init__()
        self.cross_attention_dim = cross_attention_dim
        self.proj = nn.Linear(feature_dim, DINO_TOKENS_PER_FEATURE * cross_attention_dim)
        self.norm = nn.LayerNorm(cross_attention_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        batch, tokens = features.shape[:2]
        projected = self.proj(features).reshape(batch, tokens * DINO_TOKENS_PER_FEATURE, self.cross_attention_dim)
        return self.norm(projected)


class PbrTransformerBlock(nn.Module):
    """A diffusers ``BasicTransformerBlock`` made multi-material, multiview and reference-aware.

    In ``unet_dual`` (``main=False``) the block runs as usual and records its first
    normalised hidden states for the reference attention. In ``unet`` the order is the
    release's, all residual: per-material self-attention, reference attention, multiview
    attention (the last two read the same ``norm1`` output as the first), text
    cross-attention, DINO cross-attention (both from the same ``norm2`` output), feed-forward.
    Rows of ``hidden_states`` are ordered (branch, material, view).
    """

    def __init__(self, transformer: nn.Module, layer_name: str, main: bool) -> None:
        super().__init__()
        check_plain_block(transformer, "Paint PBR UNet")
        if transformer.attn2 is None:
            raise ValueError("The Paint PBR UNet needs blocks with cross-attention; give a cross_attention_dim.")
        self.transformer = transformer
        self.layer_name = layer_name
        self.main = main
        if not main:
            return
        attn1 = transformer.attn1
        dim, inner, heads = attn1.query_dim, attn1.inner_dim, attn1.heads
        bias = attn1.to_q.bias is not None
        check_rope_head_dim(inner // heads)
        attn1.processor = _MaterialSelfAttention(dim, inner, bias)
        self.attn_multiview = _Attention(dim, inner, heads, dim, bias)
        self.attn_refview = _Attention(dim, inner, heads, dim, bias)
        self.attn_refview.processor = _MaterialValues(dim, inner, bias)
        self.attn_dino = _Attention(dim, inner, heads, transformer.attn2.to_k.in_features, bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        timestep: torch.Tensor | None = None,
        cross_attention_kwargs: dict | None = None,
        class_labels: torch.Tensor | None = None,
        added_cond_kwargs: dict | None = None,
    ) -> torch.Tensor:
        context: _BlockContext | None = (cross_attention_kwargs or {}).get(_CONTEXT_KEY)
        if context is None:
            raise ValueError("Call the Paint PBR UNet through PaintPbrUNet, which tells its blocks the batch layout.")
        block = self.transformer
        normed = block.norm1(hidden_states)
        if self.main:
            conditions = context.conditions
            hidden_states = hidden_states + self._material_self_attention(normed, context.views)
            hidden_states = hidden_states + self._reference_attention(normed, conditions)
            if context.views > 1:
                hidden_states = hidden_states + conditions.multiview_scale * self._multiview_attention(
                    normed, conditions
                )
        else:
            hidden_states = hidden_states + block.attn1(normed, attention_mask=attention_mask)
            if context.record is not None:
                context.record[self.layer_name] = normed.reshape(-1, context.views * normed.shape[1], normed.shape[2])

        normed = block.norm2(hidden_states)
        hidden_states = hidden_states + block.attn2(
            normed, encoder_hidden_states=encoder_hidden_states, attention_mask=encoder_attention_mask
        )
        if self.main:
            hidden_states = hidden_states + self._dino_attention(normed, context.conditions)
        return hidden_states + block.ff(block.norm3(hidden_states))

    def _material_self_attention(self, normed: torch.Tensor, views: int) -> torch.Tensor:
        """Self-attention within each view image, with the albedo or the mr projections."""
        rows, tokens, channels = normed.shape
        attn1 = self.transformer.attn1
        mr = attn1.processor
        by_material = normed.view(-1, len(MATERIALS), views, tokens, channels)
        projections = (
            (attn1.to_q, attn1.to_k, attn1.to_v, attn1.to_out[0]),
            (mr.to_q_mr, mr.to_k_mr, mr.to_v_mr, mr.to_out_mr[0]),
        )
        outputs = []
        for index, (to_q, to_k, to_v, to_out) in enumerate(projections):
            images = by_material[:, index].reshape(-1, tokens, channels)
            attended = to_out(_attend(to_q, to_k, to_v, images, images, attn1.heads))
            outputs.append(attended.view(-1, 1, views, tokens, channels))
        return torch.cat(outputs, dim=1).view(rows, tokens, channels)

    def _reference_attention(self, normed: torch.Tensor, conditions: PbrConditions) -> torch.Tensor:
        """The albedo tokens of all views attend to the reference; the answer comes per material.

        Release quirk, kept because the weights were trained with it: queries and keys are
        split into ``heads`` heads of width d, but the value is the concatenation
        [albedo value, mr value] (width 2 * inner) split into ``heads`` heads of width 2d.
        Each head's output is then cut in two halves of width d, the first half of every
        head going to the albedo output projection, the second to the mr one. With more
        than one head a head's value therefore mixes the two materials' value channels
        (docs/release_conventions_2_1.md, section 12).
        """
        rows, tokens, channels = normed.shape
        attention, values = self.attn_refview, self.attn_refview.processor
        views = conditions.views
        batch = rows // (len(MATERIALS) * views)
        albedo_tokens = normed.view(batch, len(MATERIALS), views * tokens, channels)[:, 0]
        reference = conditions.reference_states[self.layer_name]
        heads = attention.heads
        query = _split_heads(attention.to_q(albedo_tokens), heads)
        key = _split_heads(attention.to_k(reference), heads)
        value = _split_heads(torch.cat([attention.to_v(reference), values.to_v_mr(reference)], dim=-1), heads)
        # One attention per half of the 2d-wide value heads: the same numbers as one call with
        # the whole value, but fused kernels need values as wide as the queries (CPU's
        # fallback would hold the [L, L_ref] weights of all heads, 6 GB at the release's size).
        albedo, mr = (
            F.scaled_dot_product_attention(query, key, half.contiguous())
            for half in value.split(query.shape[-1], dim=-1)
        )
        per_material = torch.stack(
            [attention.to_out[0](_merge_heads(albedo)), values.to_out_mr[0](_merge_heads(mr))], dim=1
        ).view(rows, tokens, channels)
        scale = conditions.reference_scale.to(per_material.dtype).repeat_interleave(len(MATERIALS) * views)
        return scale.view(-1, 1, 1) * per_material

    def _multiview_attention(self, normed: torch.Tensor, conditions: PbrConditions) -> torch.Tensor:
        """All views of one branch and material attend to each other, rotated by PoseRoPE."""
        rows, tokens, channels = normed.shape
        attention = self.attn_multiview
        sequences = normed.view(-1, conditions.views * tokens, channels)
        level = conditions.voxel_levels.get(sequences.shape[1])
        rope = None
        if level is not None:
            head_dim = attention.to_q.out_features // attention.heads
            rope = tuple(_per_sequence(table, sequences.shape[0]) for table in level.rope(head_dim))
        return attention(sequences, sequences, rope).view(rows, tokens, channels)

    def _dino_attention(self, normed: torch.Tensor, conditions: PbrConditions) -> torch.Tensor:
        """Every view of both materials attends to its branch's DINO tokens (queries grouped per branch)."""
        rows, tokens, channels = normed.shape
        queries = normed.view(conditions.batch, -1, channels)
        return self.attn_dino(queries, conditions.dino_tokens).view(rows, tokens, channels)


def _attend(
    to_q: nn.Module,
    to_k: nn.Module,
    to_v: nn.Module,
    queries: torch.Tensor,
    context: torch.Tensor,
    heads: int,
    rope: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Scaled dot-product attention ``[B, L, *]`` -> ``[B, L, inner]``, before the output projection."""
    query = _split_heads(to_q(queries), heads)
    key = _split_heads(to_k(context), heads)
    value = _split_heads(to_v(context), heads)
    if rope is not None:
        query, key = apply_rope(query, *rope), apply_rope(key, *rope)
    return _merge_heads(F.scaled_dot_product_attention(query, key, value))


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    return x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


def _per_sequence(table: torch.Tensor, sequences: int) -> torch.Tensor:
    """RoPE tables come per branch (or one for all); the attention has one sequence per branch and material."""
    if table.shape[0] == 1:
        return table
    return table.repeat_interleave(sequences // table.shape[0], dim=0)


_BLOCK_PATH = re.compile(
    r"^(?:(down|up)_blocks\.(\d+)|(mid)_block)\.attentions\.(\d+)\.transformer_blocks\.(\d+)$"
)


def released_layer_name(module_path: str) -> str:
    """``down_blocks.0.attentions.1.transformer_blocks.0`` -> ``down_0_1_0``; ``mid_0_0`` for the mid block.

    The release keys the reference states by these names; using them too keeps them comparable.
    """
    match = _BLOCK_PATH.match(module_path)
    if match is None:
        raise ValueError(f"{module_path} is not a transformer block of a UNet2DConditionModel.")
    kind, block, mid, attention, layer = match.groups()
    if mid:
        return f"mid_{attention}_{layer}"
    return f"{kind}_{block}_{attention}_{layer}"


class PaintPbrUNet(nn.Module):
    """The released ``UNet2p5DConditionModel`` of Hunyuan3D-Paint 2.1, built from an SD 2.1 UNet config.

    ``unet`` denoises the views; its ``conv_in`` takes the noisy latent, the normal-map
    latent and the position-map latent stacked (3x the config's ``in_channels``).
    ``unet_dual`` is an unmodified copy that only sees the reference latents at t = 0.
    ``dino_width`` is the DINOv2 hidden size (1536 for dinov2-giant).

    Input layout: ``sample`` ``[B, 2 materials (albedo, mr), N views, 4, h, w]``, text
    ``[B, 2, 77, C]``, everything else in :class:`PbrConditions`; the output has the
    sample's shape (a v-prediction for the released scheduler).
    """

    def __init__(self, unet_config: dict, dino_width: int = DINOV2_GIANT_WIDTH) -> None:
        super().__init__()
        from diffusers import UNet2DConditionModel

        self.unet = UNet2DConditionModel.from_config(unet_config)
        self.unet_dual = UNet2DConditionModel.from_config(unet_config)
        for unet, main in ((self.unet_dual, False), (self.unet, True)):
            wrap_transformer_blocks(
                unet, lambda block, path, main=main: PbrTransformerBlock(block, released_layer_name(path), main)
            )
        stack_conv_in(self.unet, 3)
        text_dim = self.unet.config.cross_attention_dim
        for name in (*MATERIALS, "ref"):
            self.unet.register_parameter(f"learned_text_clip_{name}", nn.Parameter(torch.zeros(TEXT_TOKENS, text_dim)))
        self.unet.image_proj_model_dino = DinoProjection(dino_width, text_dim)

    @property
    def material_text(self) -> torch.Tensor:
        """The learned text tokens ``[2, 77, C]`` (albedo, mr) that replace a prompt, for every branch."""
        return torch.stack([getattr(self.unet, f"learned_text_clip_{name}") for name in MATERIALS])

    def encode_reference(self, reference_latents: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run ``unet_dual`` once on ``[B, R, 4, h, w]`` reference latents at t = 0.

        Returns each block's normalised input ``[B, R * L, C]`` by layer name. The states
        do not depend on the denoising step, so one call serves a whole generation.
        """
        batch, references = reference_latents.shape[:2]
        flat = reference_latents.flatten(0, 1)
        text = self.unet.learned_text_clip_ref.to(flat.dtype).expand(batch * references, -1, -1)
        record: dict[str, torch.Tensor] = {}
        self.unet_dual(
            flat,
            0,
            encoder_hidden_states=text,
            cross_attention_kwargs={_CONTEXT_KEY: _BlockContext(views=references, record=record)},
            return_dict=False,
        )
        return record

    def prepare_conditions(
        self,
        reference_latents: torch.Tensor,
        dino_features: torch.Tensor,
        position_maps: torch.Tensor,
        normal_latents: torch.Tensor,
        position_latents: torch.Tensor,
        reference_scale: torch.Tensor,
        multiview_scale: float = 1.0,
    ) -> PbrConditions:
        """Everything fixed for a generation, for ``B`` guidance branches.

        ``reference_latents`` ``[B, R, 4, h, w]``; ``dino_features`` ``[B, T, D]`` (DINOv2
        last hidden states, zeros where a branch goes without); ``position_maps``
        ``[B or 1, N, 3, H, W]`` in 0..1 with a white background; ``normal_latents`` and
        ``position_latents`` ``[B, N, 4, h, w]``; ``reference_scale`` ``[B]``.
        """
        batch, views = normal_latents.shape[:2]
        latent_size = normal_latents.shape[-1]
        if normal_latents.shape[-2] != latent_size:
            raise ValueError(f"The Paint PBR UNet needs square latents; got {tuple(normal_latents.shape[-2:])}.")
        if position_latents.shape != normal_latents.shape:
            raise ValueError(
                f"position latents {tuple(position_latents.shape)} must match the normal latents "
                f"{tuple(normal_latents.shape)}."
            )
        for name, tensor in (("reference latents", reference_latents), ("DINO features", dino_features)):
            if tensor.shape[0] != batch:
                raise ValueError(f"{name} come in a batch of {tensor.shape[0]}, the views in a batch of {batch}.")
        if reference_scale.shape != (batch,):
            raise ValueError(f"reference_scale must be [{batch}], got {tuple(reference_scale.shape)}.")
        if position_maps.shape[0] not in (1, batch) or position_maps.shape[1] != views:
            raise ValueError(
                f"position maps {tuple(position_maps.shape)} must be [1 or {batch}, {views}, 3, H, W]."
            )
        return PbrConditions(
            reference_states=self.encode_reference(reference_latents),
            dino_tokens=self.unet.image_proj_model_dino(dino_features),
            voxel_levels=position_voxel_levels(position_maps, latent_size),
            normal_latents=normal_latents,
            position_latents=position_latents,
            reference_scale=reference_scale,
            multiview_scale=multiview_scale,
        )

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float,
        text: torch.Tensor,
        conditions: PbrConditions,
    ) -> torch.Tensor:
        """Predict for ``sample`` ``[B, 2, N, 4, h, w]`` with text ``[B, 2, 77, C]``; returns ``sample``'s shape."""
        batch, materials, views = sample.shape[:3]
        expected = (conditions.batch, len(MATERIALS), conditions.views, *conditions.normal_latents.shape[-3:])
        if tuple(sample.shape) != expected:
            raise ValueError(f"sample {tuple(sample.shape)} does not fit the conditions: expected {list(expected)}.")
        if tuple(text.shape[:2]) != (batch, materials):
            raise ValueError(f"text must be [{batch}, {materials}, 77, C], got {tuple(text.shape)}.")

        def per_material(latents: torch.Tensor) -> torch.Tensor:
            return latents[:, None].expand(-1, materials, -1, -1, -1, -1)

        stacked = torch.cat(
            [sample, per_material(conditions.normal_latents), per_material(conditions.position_latents)], dim=3
        )
        tokens = text[:, :, None].expand(-1, -1, views, -1, -1).reshape(batch * materials * views, *text.shape[2:])
        output = self.unet(
            stacked.flatten(0, 2),
            timestep,
            encoder_hidden_states=tokens,
            cross_attention_kwargs={_CONTEXT_KEY: _BlockContext(views=views, conditions=conditions)},
            return_dict=False,
        )[0]
        return output.view(sample.shape)
