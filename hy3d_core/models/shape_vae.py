"""The Hunyuan3D ShapeVAE: latent set decoder, occupancy decoder and point-cloud encoder.

A shape is a set of ``num_latents`` vectors of ``embed_dim`` numbers. Decoding maps them
through ``post_kl`` and a self-attention transformer; the geometry decoder then answers
"how far inside is this point?" (an occupancy logit, positive inside) for any query point
by cross-attending from the point's Fourier embedding to the decoded latents. The
optional encoder turns surface samples (xyz, normal, sharp-edge flag) into the same
latent set, so meshes can be turned into latents for editing or fine-tuning.

Module names match the released checkpoints (``post_kl``, ``transformer.resblocks.N``,
``geo_decoder``, ``encoder``, ``pre_kl``), so ``load_state_dict(strict=True)`` takes the
released weights as they are.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..geometry.farthest_point_sampling import farthest_point_sample
from .vae_blocks import (
    ResidualCrossAttentionBlock,
    Transformer,
    fourier_embed,
    fourier_embedding_dim,
)

LOGVAR_RANGE = (-30.0, 20.0)
DEFAULT_NUM_LATENTS = 3072
# Every released VAE with qk_norm has 64-channel heads; without qk_norm the head count is
# not recorded in the weights, so inference assumes the same split.
DEFAULT_HEAD_DIM = 64

# Config keys of the released config.yaml that do not change the network.
_IGNORED_PARAMS = frozenset({"label_type", "drop_path_rate", "ckpt_path"})


@dataclass(frozen=True)
class ShapeVAEConfig:
    """Hyper-parameters, named as in the released ``config.yaml`` ``vae.params``.

    ``num_encoder_layers == 0`` means the checkpoint has no encoder (the 2.0 decoder-only
    VAEs). ``pc_size`` / ``pc_sharpedge_size`` are the numbers of uniform and sharp-edge
    surface samples the encoder takes, ``downsample_ratio`` how many of them each latent
    query stands for, ``use_ln_post`` whether the encoder ends in a LayerNorm.
    """

    num_latents: int
    embed_dim: int
    width: int
    heads: int
    num_decoder_layers: int
    geo_decoder_downsample_ratio: int = 1
    geo_decoder_mlp_expand_ratio: int = 4
    geo_decoder_ln_post: bool = True
    num_freqs: int = 8
    include_pi: bool = True
    qkv_bias: bool = True
    qk_norm: bool = False
    scale_factor: float = 1.0
    num_encoder_layers: int = 0
    pc_size: int = 5120
    pc_sharpedge_size: int = 5120
    point_feats: int = 3
    downsample_ratio: int = 20
    use_ln_post: bool = True

    def __post_init__(self) -> None:
        positive = ("num_latents", "embed_dim", "width", "heads",
                    "geo_decoder_downsample_ratio", "geo_decoder_mlp_expand_ratio")
        bad = [name for name in positive if getattr(self, name) < 1]
        bad += [name for name in ("num_decoder_layers", "num_freqs", "num_encoder_layers",
                                  "pc_size", "pc_sharpedge_size", "point_feats")
                if getattr(self, name) < 0]
        if bad:
            raise ValueError(f"ShapeVAE config values out of range: "
                             f"{ {name: getattr(self, name) for name in bad} }")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        ratio = self.geo_decoder_downsample_ratio
        if self.heads % ratio or self.width % ratio:
            raise ValueError(f"geo_decoder_downsample_ratio {ratio} must divide both width "
                             f"{self.width} and heads {self.heads}")
        if self.has_encoder:
            if self.pc_size + self.pc_sharpedge_size == 0:
                raise ValueError("an encoder needs surface points: pc_size + "
                                 "pc_sharpedge_size is 0")
            if self.downsample_ratio < 1:
                raise ValueError(f"downsample_ratio must be >= 1, got {self.downsample_ratio}")

    @property
    def has_encoder(self) -> bool:
        return self.num_encoder_layers > 0

    @property
    def geo_width(self) -> int:
        return self.width // self.geo_decoder_downsample_ratio

    @property
    def geo_heads(self) -> int:
        return self.heads // self.geo_decoder_downsample_ratio

    @property
    def geo_qk_norm(self) -> bool:
        """The release drops qk_norm in the geometry decoder when it has no ln_post."""
        return self.qk_norm and self.geo_decoder_ln_post

    @property
    def encoder_query_counts(self) -> tuple[int, int]:
        """Latent queries taken from the uniform and from the sharp-edge samples.

        Shares are proportional to the two set sizes, as in the 2.1 release.
        """
        total = self.pc_size + self.pc_sharpedge_size
        uniform = round(self.num_latents * self.pc_size / total)
        return uniform, self.num_latents - uniform

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ShapeVAEConfig":
        """Build from a released ``config.yaml``'s ``vae.params`` mapping."""
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(params) - fields - _IGNORED_PARAMS)
        if unknown:
            raise ValueError(f"unknown ShapeVAE config keys {unknown}; known keys are "
                             f"{sorted(fields | _IGNORED_PARAMS)}")
        required = {field.name for field in dataclasses.fields(cls)
                    if field.default is dataclasses.MISSING}
        missing = sorted(required - set(params))
        if missing:
            raise ValueError(f"ShapeVAE config is missing required keys {missing}")
        return cls(**{name: value for name, value in params.items() if name in fields})

    def to_params(self) -> dict[str, Any]:
        """The ``vae.params`` mapping of a config.yaml, read back by :meth:`from_params`
        to an equal config.

        Encoder settings are written only for a VAE with an encoder (or when they differ
        from the defaults): the released decoder-only configs have none, and the
        reference package's 2.0 ShapeVAE rejects them, so leaving them out keeps a
        decoder-only folder loadable there too.
        """
        params = dataclasses.asdict(self)
        encoder_defaults = {name: _FIELD_DEFAULTS[name] for name in ENCODER_FIELDS}
        if not self.has_encoder and all(params[name] == value
                                        for name, value in encoder_defaults.items()):
            for name in ENCODER_FIELDS:
                del params[name]
        return params

    def without_encoder(self) -> "ShapeVAEConfig":
        """The decoder-only config of the same VAE, as the released shape models carry."""
        return dataclasses.replace(
            self, **{name: _FIELD_DEFAULTS[name] for name in ENCODER_FIELDS}
        )


ENCODER_FIELDS = ("num_encoder_layers", "pc_size", "pc_sharpedge_size", "point_feats",
                  "downsample_ratio", "use_ln_post")
"""Fields that only shape or feed the point-cloud encoder."""
_FIELD_DEFAULTS = {field.name: field.default for field in dataclasses.fields(ShapeVAEConfig)}


_V2_0 = ShapeVAEConfig(
    num_latents=3072, embed_dim=64, width=1024, heads=16, num_decoder_layers=16,
    geo_decoder_downsample_ratio=1, geo_decoder_mlp_expand_ratio=4, geo_decoder_ln_post=True,
    num_freqs=8, include_pi=False, qkv_bias=False, qk_norm=True,
    scale_factor=0.9990943042622529,
)

VAE_PRESETS: dict[str, ShapeVAEConfig] = {
    "v2-0": _V2_0,
    "v2-mini": dataclasses.replace(_V2_0, num_latents=512, scale_factor=1.0188137142395404),
    # FlashVDM's lighter geometry decoder. Sizes as the release describes them (not checked
    # against a downloaded checkpoint); infer_vae_config reads the real ones off the weights.
    "v2-0-turbo": dataclasses.replace(_V2_0, geo_decoder_downsample_ratio=2,
                                      geo_decoder_mlp_expand_ratio=1,
                                      geo_decoder_ln_post=False),
    # The 2.0 encoder release; its scale factor is taken to be v2-0's (same decoder).
    "v2-0-withencoder": dataclasses.replace(_V2_0, num_encoder_layers=8, point_feats=4,
                                            pc_size=30720, pc_sharpedge_size=30720,
                                            downsample_ratio=20),
    "v2-1": dataclasses.replace(_V2_0, num_latents=4096, scale_factor=1.0039506158752403,
                                num_encoder_layers=8, point_feats=4, pc_size=81920,
                                pc_sharpedge_size=0, downsample_ratio=20),
}

# Fields the weights do not record; taken from a matching preset when there is one.
_UNRECORDED_FIELDS = ("num_latents", "include_pi", "scale_factor", "pc_size",
                      "pc_sharpedge_size", "downsample_ratio")


def _count_blocks(shapes: Mapping[str, torch.Size], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    indices = {int(match.group(1)) for key in shapes if (match := pattern.match(key))}
    return max(indices) + 1 if indices else 0


def infer_vae_config(shapes: Mapping[str, torch.Size],
                     num_latents: int | None = None) -> ShapeVAEConfig:
    """Recover the network of a ShapeVAE state dict from its key names and shapes.

    The weights do not record the latent count (default 3072, as in v2-0), ``include_pi``,
    the scale factor or the encoder's sampling sizes: when the recovered network and latent
    count match a released preset those come from it, otherwise the released values for
    the same latent count (``include_pi`` False in every release). The head count is only
    in the weights through qk_norm's per-head LayerNorm; without it 64-wide heads are
    assumed.
    """
    required = ("post_kl.weight", "geo_decoder.query_proj.weight",
                "geo_decoder.output_proj.weight", "geo_decoder.cross_attn_decoder.mlp.c_fc.weight")
    missing = [key for key in required if key not in shapes]
    if missing:
        hint = (" (keys start with 'vae.': strip that prefix first)"
                if any(key.startswith("vae.") for key in shapes) else "")
        raise ValueError(f"not a ShapeVAE state dict: missing {missing}{hint}")

    width, embed_dim = shapes["post_kl.weight"]
    query_in = shapes["geo_decoder.query_proj.weight"][1]
    num_freqs = (query_in // 3 - 1) // 2
    geo_width = shapes["geo_decoder.output_proj.weight"][1]
    num_decoder_layers = _count_blocks(shapes, "transformer.resblocks.")

    norm_keys = ("transformer.resblocks.0.attn.attention.q_norm.weight",
                 "geo_decoder.cross_attn_decoder.attn.attention.q_norm.weight",
                 "encoder.cross_attn.attn.attention.q_norm.weight")
    present_norm = next((key for key in norm_keys if key in shapes), None)
    qk_norm = present_norm is not None
    head_dim = shapes[present_norm][0] if qk_norm else DEFAULT_HEAD_DIM
    bias_keys = ("transformer.resblocks.0.attn.c_qkv.bias",
                 "geo_decoder.cross_attn_decoder.attn.c_q.bias")
    qkv_bias = any(key in shapes for key in bias_keys)

    encoder_fields: dict[str, Any] = {}
    if "encoder.input_proj.weight" in shapes:
        encoder_layers = _count_blocks(shapes, "encoder.self_attn.resblocks.")
        if encoder_layers == 0:
            raise ValueError("this ShapeVAE's encoder has no self-attention layers, which "
                             "this implementation does not support")
        encoder_fields = dict(
            num_encoder_layers=encoder_layers,
            point_feats=shapes["encoder.input_proj.weight"][1] - query_in,
            use_ln_post="encoder.ln_post.weight" in shapes,
        )

    network = ShapeVAEConfig(
        num_latents=num_latents or DEFAULT_NUM_LATENTS,
        embed_dim=embed_dim,
        width=width,
        heads=width // head_dim,
        num_decoder_layers=num_decoder_layers,
        geo_decoder_downsample_ratio=width // geo_width,
        geo_decoder_mlp_expand_ratio=shapes["geo_decoder.cross_attn_decoder.mlp.c_fc.weight"][0]
        // geo_width,
        geo_decoder_ln_post="geo_decoder.ln_post.weight" in shapes,
        num_freqs=num_freqs,
        include_pi=False,
        qkv_bias=qkv_bias,
        qk_norm=qk_norm,
        **encoder_fields,
    )
    return _fill_unrecorded_fields(network)


def _fill_unrecorded_fields(network: ShapeVAEConfig) -> ShapeVAEConfig:
    def unrecorded(config: ShapeVAEConfig) -> dict[str, Any]:
        return {name: getattr(config, name) for name in _UNRECORDED_FIELDS}

    def recorded(config: ShapeVAEConfig) -> dict[str, Any]:
        values = dataclasses.asdict(config)
        for name in _UNRECORDED_FIELDS:
            values.pop(name)
        return values

    same_count = [preset for preset in VAE_PRESETS.values()
                  if preset.num_latents == network.num_latents]
    for preset in same_count:
        if recorded(preset) == recorded(network):
            return dataclasses.replace(network, **unrecorded(preset))
    if same_count:
        return dataclasses.replace(network, scale_factor=same_count[0].scale_factor)
    return network


@dataclass(frozen=True)
class LatentKeysValues:
    """The geometry decoder's keys and values of one latent set, ``[B, heads, M, head_dim]``.

    Computed once per shape by :meth:`ShapeVAE.project_latents` and reused for every chunk
    of query points. Batch 1 is broadcast against any number of query batches.
    """

    keys: torch.Tensor
    values: torch.Tensor

    @property
    def num_latents(self) -> int:
        return self.keys.shape[-2]


@dataclass(frozen=True)
class DiagonalGaussian:
    """The encoder's posterior over latents, ``[B, num_latents, embed_dim]`` each."""

    mean: torch.Tensor
    logvar: torch.Tensor

    def mode(self) -> torch.Tensor:
        return self.mean

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else self.mean.device
        noise = torch.randn(self.mean.shape, generator=generator, device=device,
                            dtype=self.mean.dtype)
        return self.mean + torch.exp(0.5 * self.logvar) * noise.to(self.mean.device)

    def kl(self) -> torch.Tensor:
        """KL divergence to N(0, I), averaged over all but the batch axis: ``[B]``."""
        per_value = self.mean.square() + self.logvar.exp() - 1.0 - self.logvar
        return 0.5 * per_value.flatten(1).mean(dim=1)


class GeometryDecoder(nn.Module):
    """Occupancy logit of query points given decoded latents (the release's geo_decoder)."""

    def __init__(self, config: ShapeVAEConfig) -> None:
        super().__init__()
        self.num_freqs = config.num_freqs
        self.include_pi = config.include_pi
        width = config.geo_width
        self.query_proj = nn.Linear(fourier_embedding_dim(config.num_freqs), width)
        self.latents_proj = (nn.Linear(config.width, width)
                             if config.geo_decoder_downsample_ratio != 1 else None)
        self.cross_attn_decoder = ResidualCrossAttentionBlock(
            width, config.geo_heads, config.qkv_bias, config.geo_qk_norm,
            mlp_expand_ratio=config.geo_decoder_mlp_expand_ratio,
        )
        # Default LayerNorm eps (1e-5) here, unlike the blocks' 1e-6, as released.
        self.ln_post = nn.LayerNorm(width) if config.geo_decoder_ln_post else None
        self.output_proj = nn.Linear(width, 1)

    def project_latents(self, decoded: torch.Tensor) -> LatentKeysValues:
        if self.latents_proj is not None:
            decoded = self.latents_proj(decoded)
        return LatentKeysValues(*self.cross_attn_decoder.keys_values(decoded))

    def query(self, points: torch.Tensor, kv: LatentKeysValues, top_k: int | None = None,
              selection_stride: int = 1) -> torch.Tensor:
        embedding = fourier_embed(points, self.num_freqs, self.include_pi)
        x = self.query_proj(embedding.to(self.query_proj.weight.dtype))
        x = self.cross_attn_decoder.attend(x, kv.keys, kv.values, top_k, selection_stride)
        if self.ln_post is not None:
            x = self.ln_post(x)
        return self.output_proj(x).squeeze(-1)


class PointCloudEncoder(nn.Module):
    """Latent queries (FPS-chosen surface points) attend to the surface samples."""

    def __init__(self, config: ShapeVAEConfig) -> None:
        super().__init__()
        self.input_proj = nn.Linear(fourier_embedding_dim(config.num_freqs) + config.point_feats,
                                    config.width)
        self.cross_attn = ResidualCrossAttentionBlock(config.width, config.heads,
                                                      config.qkv_bias, config.qk_norm)
        self.self_attn = Transformer(config.width, config.heads, config.num_encoder_layers,
                                     config.qkv_bias, config.qk_norm)
        self.ln_post = nn.LayerNorm(config.width) if config.use_ln_post else None

    def forward(self, queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Both inputs are embedded points ``[B, *, fourier + point_feats]``."""
        latents = self.cross_attn(self.input_proj(queries), self.input_proj(points))
        latents = self.self_attn(latents)
        return self.ln_post(latents) if self.ln_post is not None else latents


class ShapeVAE(nn.Module):
    """Decoder (always) and point-cloud encoder (when the config has one)."""

    def __init__(self, config: ShapeVAEConfig) -> None:
        super().__init__()
        self.config = config
        if config.has_encoder:
            self.encoder = PointCloudEncoder(config)
            self.pre_kl = nn.Linear(config.width, 2 * config.embed_dim)
        self.post_kl = nn.Linear(config.embed_dim, config.width)
        self.transformer = Transformer(config.width, config.heads, config.num_decoder_layers,
                                       config.qkv_bias, config.qk_norm)
        self.geo_decoder = GeometryDecoder(config)

    # ----- decoding -------------------------------------------------------------------

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, N, embed_dim]`` latents (already divided by scale_factor) -> ``[B, N, width]``."""
        if latents.ndim != 3 or latents.shape[-1] != self.config.embed_dim:
            raise ValueError(f"ShapeVAE.decode expects latents [B, N, {self.config.embed_dim}], "
                             f"got {tuple(latents.shape)}; ComfyUI LATENTs are [B, C, N]: "
                             f"transpose them first")
        x = self.post_kl(latents.to(self.post_kl.weight.dtype))
        return self.transformer(x)

    def project_latents(self, decoded: torch.Tensor) -> LatentKeysValues:
        """Keys/values of the geometry decoder for decoded latents ``[B, N, width]``."""
        if decoded.ndim != 3 or decoded.shape[-1] != self.config.width:
            raise ValueError(f"project_latents expects decoded latents [B, N, "
                             f"{self.config.width}] (the output of decode), got "
                             f"{tuple(decoded.shape)}")
        return self.geo_decoder.project_latents(decoded)

    def query(self, points: torch.Tensor, kv: LatentKeysValues, top_k: int | None = None,
              *, selection_stride: int = 1) -> torch.Tensor:
        """Occupancy logits ``[B, P]`` (positive inside) of points ``[B, P, 3]``.

        With ``top_k`` the points are treated as one spatial block and attend only to the
        ``top_k`` latents (per batch item and head) most similar to the block's queries,
        FlashVDM's adaptive key/value selection; ``selection_stride`` scores with every
        n-th query only (the release uses 100 on its coarsest level, 50 after).
        """
        if points.ndim != 3 or points.shape[-1] != 3:
            raise ValueError(f"query points must be [B, P, 3], got {tuple(points.shape)}")
        batch = kv.keys.shape[0]
        if batch not in (1, points.shape[0]):
            raise ValueError(f"{points.shape[0]} query batches cannot use keys/values of "
                             f"{batch} latent sets: pass one latent set or one per batch")
        if top_k is not None and not 1 <= top_k <= kv.num_latents:
            raise ValueError(f"top_k={top_k} must be between 1 and the number of latents "
                             f"({kv.num_latents})")
        if selection_stride < 1:
            raise ValueError(f"selection_stride must be >= 1, got {selection_stride}")
        return self.geo_decoder.query(points, kv, top_k, selection_stride)

    def occupancy(self, points: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """Logits of a few points in one call; volume decoding should reuse ``project_latents``."""
        return self.query(points, self.project_latents(decoded))

    # ----- encoding -------------------------------------------------------------------

    def _check_surface(self, surface: torch.Tensor) -> None:
        config = self.config
        if not config.has_encoder:
            raise ValueError("this ShapeVAE has no encoder (a decoder-only checkpoint such "
                             "as hunyuan3d-vae-v2-0): load a VAE with an encoder, e.g. "
                             "hunyuan3d-vae-v2-0-withencoder, to encode meshes")
        channels = 3 + config.point_feats
        rows = config.pc_size + config.pc_sharpedge_size
        if surface.ndim != 3 or surface.shape[-1] != channels or surface.shape[1] != rows:
            raise ValueError(
                f"surface must be [B, {rows}, {channels}]: {config.pc_size} uniform then "
                f"{config.pc_sharpedge_size} sharp-edge samples of xyz + {config.point_feats} "
                f"features; got {tuple(surface.shape)}"
            )

    def sample_encoder_rows(self, surface: torch.Tensor, *,
                            generator: torch.Generator | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of ``surface`` used as latent queries ``[B, num_latents]`` and as points ``[K]``.

        Per set (uniform, sharp): a random subset of ``queries * downsample_ratio`` rows,
        then FPS on its xyz from a random start for the set's queries, as the 2.1 release
        does. In the released configs the subset is the whole set, so only the FPS start
        is random. Draws come from ``generator`` (torch's default one when None).
        """
        self._check_surface(surface)
        config = self.config
        sets = ((0, config.pc_size), (config.pc_size, config.pc_sharpedge_size))
        query_rows, point_rows = [], []
        for (offset, size), queries in zip(sets, config.encoder_query_counts):
            if queries == 0:
                continue
            if queries > size:
                raise ValueError(f"cannot place {queries} latent queries on a set of {size} "
                                 f"surface samples")
            keep = min(queries * config.downsample_ratio, size)
            if keep < size:
                device = generator.device if generator is not None else torch.device("cpu")
                rows = torch.randperm(size, generator=generator, device=device)[:keep]
                rows = rows.to(surface.device) + offset
            else:
                rows = torch.arange(offset, offset + size, device=surface.device)
            picked = farthest_point_sample(surface[:, rows, :3], queries, start_index=None,
                                           generator=generator)
            query_rows.append(rows[picked])
            point_rows.append(rows)
        return torch.cat(query_rows, dim=1), torch.cat(point_rows)

    def _embed_surface(self, samples: torch.Tensor) -> torch.Tensor:
        config = self.config
        embedding = fourier_embed(samples[..., :3], config.num_freqs, config.include_pi)
        features = samples[..., 3:].to(embedding.dtype)
        dtype = self.encoder.input_proj.weight.dtype
        return torch.cat((embedding, features), dim=-1).to(dtype)

    def encode_posterior(self, surface: torch.Tensor, *, generator: torch.Generator | None = None,
                         query_indices: torch.Tensor | None = None) -> DiagonalGaussian:
        """Posterior over latents for surface samples ``[B, pc_size + pc_sharpedge_size, 3 + F]``.

        ``query_indices`` (``[num_latents]`` or ``[B, num_latents]`` rows of ``surface``)
        fixes the latent queries instead of sampling them; every surface row is then
        attended to, which is what the released configs do anyway.
        """
        self._check_surface(surface)
        batch, rows, _ = surface.shape
        if query_indices is None:
            query_rows, point_rows = self.sample_encoder_rows(surface, generator=generator)
            points = surface[:, point_rows]
        else:
            query_rows = query_indices.to(surface.device, torch.long)
            query_rows = query_rows[None] if query_rows.ndim == 1 else query_rows
            if query_rows.ndim != 2 or query_rows.shape[0] not in (1, batch) \
                    or query_rows.shape[1] != self.config.num_latents:
                raise ValueError(f"query_indices must be [{self.config.num_latents}] or "
                                 f"[{batch}, {self.config.num_latents}] surface rows, got "
                                 f"{tuple(query_indices.shape)}")
            query_rows = query_rows.expand(batch, -1)
            if query_rows.min() < 0 or query_rows.max() >= rows:
                raise ValueError(f"query_indices must be rows of surface, in [0, {rows})")
            points = surface
        queries = surface.gather(1, query_rows[..., None].expand(-1, -1, surface.shape[-1]))
        latents = self.encoder(self._embed_surface(queries), self._embed_surface(points))
        mean, logvar = self.pre_kl(latents).chunk(2, dim=-1)
        return DiagonalGaussian(mean, logvar.clamp(*LOGVAR_RANGE))

    def encode(self, surface: torch.Tensor, *, sample_posterior: bool = False,
               generator: torch.Generator | None = None,
               query_indices: torch.Tensor | None = None) -> torch.Tensor:
        """Latents ``[B, num_latents, embed_dim]``: the posterior mean, or a sample of it.

        Not multiplied by ``scale_factor``; the diffusion model's latents are these times it.
        """
        posterior = self.encode_posterior(surface, generator=generator,
                                          query_indices=query_indices)
        return posterior.sample(generator) if sample_posterior else posterior.mode()
