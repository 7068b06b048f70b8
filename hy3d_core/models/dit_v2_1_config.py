"""Hyper-parameters of the Hunyuan3D 2.1 shape DiT (``HunYuanDiTPlain``), read from the
``model.params`` mapping of a released ``config.yaml`` or recovered from bare weights
(docs/release_conventions_2_1.md, sections 1 and 2).

Only the configuration the release uses is implemented (no attention pooling, no
decoupled cross-attention, no positional embedding, RMS q/k norms, no guidance
projection); a config asking for anything else is refused by name rather than built
as a network that would silently compute something different.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

RELEASED_HEAD_DIM = 128
"""The released 2.1 DiT splits its 2048 channels into 16 heads of 128."""

_MLP_RATIO = 4.0
"""The reference builds every dense MLP and expert 4x wide whatever ``mlp_ratio`` says."""

_REFERENCE_DEFAULTS: dict[str, Any] = {
    "input_size": 1024, "in_channels": 4, "hidden_size": 1024, "context_dim": 1024,
    "depth": 24, "num_heads": 16, "mlp_ratio": 4.0, "norm_type": "layer",
    "qk_norm_type": "rms", "qk_norm": False, "text_len": 257, "with_decoupled_ca": False,
    "use_pos_emb": False, "use_attention_pooling": True, "guidance_cond_proj_dim": None,
    "qkv_bias": True, "num_moe_layers": 6, "num_experts": 8, "moe_top_k": 2,
}
"""What the reference constructor assumes for a key that config.yaml leaves out; these
are not the released values (e.g. attention pooling is on by default there)."""

_INERT_PARAMS = frozenset({
    # Sizes of the decoupled cross-attention, which is refused when switched on.
    "additional_cond_hidden_state", "decoupled_ca_dim", "decoupled_ca_weight",
    # A training checkpoint path; weights are always loaded after construction here.
    "ckpt_path",
})


@dataclass(frozen=True)
class DiTPlainConfig:
    """``HunYuanDiTPlain`` hyper-parameters, named as in the released ``model.params``;
    the defaults are the released 2.1 values.

    ``input_size`` (latent tokens) and ``text_len`` (context tokens) shape no weight:
    the network has no positional embedding and no attention pooling, so they only
    record what the model was trained with.
    """

    input_size: int = 4096
    in_channels: int = 64
    hidden_size: int = 2048
    context_dim: int = 1024
    depth: int = 21
    num_heads: int = 16
    mlp_ratio: float = _MLP_RATIO
    norm_type: str = "layer"
    qk_norm: bool = True
    qk_norm_type: str = "rms"
    text_len: int = 1370
    with_decoupled_ca: bool = False
    use_pos_emb: bool = False
    use_attention_pooling: bool = False
    guidance_cond_proj_dim: int | None = None
    qkv_bias: bool = False
    num_moe_layers: int = 6
    num_experts: int = 8
    moe_top_k: int = 2

    def __post_init__(self) -> None:
        unsupported = {
            "use_attention_pooling": (self.use_attention_pooling, False),
            "with_decoupled_ca": (self.with_decoupled_ca, False),
            "use_pos_emb": (self.use_pos_emb, False),
            "guidance_cond_proj_dim": (self.guidance_cond_proj_dim, None),
            "qk_norm_type": (self.qk_norm_type, "rms"),
            "norm_type": (self.norm_type, "layer"),
            "mlp_ratio": (float(self.mlp_ratio), _MLP_RATIO),
        }
        for name, (value, supported) in unsupported.items():
            if value != supported:
                raise ValueError(
                    f"Hunyuan3D 2.1 DiT option {name}={value!r} is not supported: this pack "
                    f"implements the released network, which has {name}={supported!r}"
                )
        for name in ("input_size", "in_channels", "hidden_size", "context_dim", "depth",
                     "num_heads", "text_len", "num_experts", "moe_top_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DiTPlainConfig.{name} must be a whole number of at least 1, "
                                 f"got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"DiTPlainConfig.hidden_size {self.hidden_size} is not divisible "
                             f"by num_heads {self.num_heads}")
        if not 0 <= self.num_moe_layers <= self.depth:
            raise ValueError(f"DiTPlainConfig.num_moe_layers must be between 0 and depth "
                             f"{self.depth}, got {self.num_moe_layers}")
        if self.moe_top_k > self.num_experts:
            raise ValueError(f"DiTPlainConfig.moe_top_k {self.moe_top_k} exceeds num_experts "
                             f"{self.num_experts}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def summary(self) -> str:
        """One line on the network, for ``inspect``."""
        return (f"depth {self.depth} (long skips), hidden {self.hidden_size}, {self.num_heads} "
                f"heads, MoE {self.num_moe_layers} layers x {self.num_experts} experts "
                f"(top {self.moe_top_k}) + a shared expert")

    @property
    def context_in_dim(self) -> int:
        """The condition token width, under the name every DiT config answers to."""
        return self.context_dim

    @property
    def guidance_embed(self) -> bool:
        """2.1 has no guidance-distilled DiT: guidance is always a CFG batch."""
        return False

    @property
    def mlp_hidden(self) -> int:
        return int(self.hidden_size * _MLP_RATIO)

    def has_skip(self, block: int) -> bool:
        """Blocks past the middle one take a long skip from the first half."""
        return block > self.depth // 2

    def pushes_skip(self, block: int) -> bool:
        """Blocks before the middle one hand their output to a later block."""
        return block < self.depth // 2

    def uses_moe(self, block: int) -> bool:
        """The last ``num_moe_layers`` blocks replace the MLP by a mixture of experts."""
        return self.depth - block <= self.num_moe_layers

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DiTPlainConfig:
        """Build from the ``model.params`` mapping of a released 2.1 ``config.yaml``.

        A missing key takes the reference constructor's default, as the reference would;
        an unknown key is an error, so a config for another network cannot load into
        this one unnoticed.
        """
        names = {field.name for field in fields(cls)}
        unknown = sorted(set(params) - names - _INERT_PARAMS)
        if unknown:
            raise ValueError(
                f"Unknown Hunyuan3D 2.1 DiT config parameter(s) {unknown}; accepted: "
                f"{sorted(names | _INERT_PARAMS)}. Is this config for a different model?"
            )
        values = {**_REFERENCE_DEFAULTS,
                  **{name: value for name, value in params.items() if name in names}}
        return cls(**values)

    def to_params(self) -> dict[str, Any]:
        """The ``model.params`` mapping of a config.yaml; :meth:`from_params` reads it
        back to an equal config."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


DIT_V2_1_PRESETS: dict[str, DiTPlainConfig] = {"v2-1": DiTPlainConfig()}
"""The released 2.1 shape DiT (hunyuan3d-dit-v2-1)."""

_UNSUPPORTED_KEY_PREFIXES = {
    "pooler.": "use_attention_pooling",
    "extra_embedder.": "use_attention_pooling",
    "additional_cond_proj.": "with_decoupled_ca",
    "pos_embed": "use_pos_emb",
    "t_embedder.cond_proj.": "guidance_cond_proj_dim",
}


def infer_config_from_shapes(shapes: Mapping[str, Sequence[int]]) -> DiTPlainConfig:
    """Recover the config of a 2.1 DiT state dict (its own keys, no ``model.`` prefix)
    from key names and tensor shapes, for a file that comes without config.yaml.

    The head width is read off the q/k RMS norms; a network without q/k norms does
    not record it, and gets the released split (128-wide heads, one head when the
    width is not a multiple of 128). ``input_size``, ``text_len`` and ``moe_top_k``
    are not in the weights either and take the released values (4096, 1370, 2).
    """
    shapes = {key: tuple(shape) for key, shape in shapes.items()}

    def shape_of(key: str) -> tuple[int, ...]:
        if key not in shapes:
            hint = (" (strip the 'model.' prefix of a combined checkpoint first)"
                    if any(k.startswith("model.") for k in shapes) else "")
            raise ValueError(f"Not a Hunyuan3D 2.1 DiT state dict: key '{key}' is missing{hint}")
        return shapes[key]

    for prefix, option in _UNSUPPORTED_KEY_PREFIXES.items():
        if any(key.startswith(prefix) for key in shapes):
            raise ValueError(f"This 2.1 DiT has '{prefix}*' weights, i.e. {option} is switched "
                             f"on, which this pack does not support")
    hidden_size, in_channels = shape_of("x_embedder.weight")
    if shape_of("t_embedder.mlp.0.weight") != (int(hidden_size * _MLP_RATIO), hidden_size):
        raise ValueError(f"t_embedder.mlp.0.weight has shape {shapes['t_embedder.mlp.0.weight']}, "
                         f"expected {(int(hidden_size * _MLP_RATIO), hidden_size)}")
    depth = _count_indices(shapes, r"blocks\.(\d+)\.")
    if depth == 0:
        raise ValueError("Not a Hunyuan3D 2.1 DiT state dict: it has no blocks")
    context_dim = shape_of("blocks.0.attn2.to_k.weight")[1]
    norm_key = "blocks.0.attn1.q_norm.weight"
    qk_norm = norm_key in shapes
    if qk_norm:
        head_dim = shapes[norm_key][0]
    else:
        head_dim = RELEASED_HEAD_DIM if hidden_size % RELEASED_HEAD_DIM == 0 else hidden_size
    moe_blocks = sorted(int(m.group(1)) for key in shapes
                        if (m := re.fullmatch(r"blocks\.(\d+)\.moe\.gate\.weight", key)))
    if moe_blocks != list(range(depth - len(moe_blocks), depth)):
        raise ValueError(f"The mixture-of-experts blocks {moe_blocks} are not the last blocks "
                         f"of {depth}, as the 2.1 network requires")
    num_experts = (shape_of(f"blocks.{moe_blocks[0]}.moe.gate.weight")[0]
                   if moe_blocks else DiTPlainConfig.num_experts)
    return DiTPlainConfig(
        in_channels=in_channels,
        hidden_size=hidden_size,
        context_dim=context_dim,
        depth=depth,
        num_heads=hidden_size // head_dim,
        qk_norm=qk_norm,
        qkv_bias="blocks.0.attn1.to_q.bias" in shapes,
        num_moe_layers=len(moe_blocks),
        num_experts=num_experts,
    )


def _count_indices(shapes: Mapping[str, tuple[int, ...]], pattern: str) -> int:
    indices = {int(m.group(1)) for key in shapes if (m := re.match(pattern, key))}
    if indices != set(range(len(indices))):
        raise ValueError(f"Hunyuan3D 2.1 DiT blocks are not numbered 0..n-1: {sorted(indices)}")
    return len(indices)


__all__ = ["DIT_V2_1_PRESETS", "RELEASED_HEAD_DIM", "DiTPlainConfig", "infer_config_from_shapes"]
