"""The ShapeVAE's hyper-parameters: the released ``config.yaml`` ``vae.params`` mapping,
the released presets, and the config read back off a bare state dict's tensor shapes.

Kept apart from the network (``models/shape_vae.py``) so that loaders, training and the
family table can read and write configs without building layers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

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
