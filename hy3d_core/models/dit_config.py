"""The Hunyuan3D-DiT's hyper-parameters: the released ``config.yaml`` mapping, the
released presets, and the config read back off a bare state dict's tensor shapes.

Kept apart from the network (``models/dit.py``) so that loaders, training and the family
table can read and write configs without building layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DiTConfig:
    """Network hyper-parameters, named exactly as in the released ``config.yaml``
    (``model.params``) so a config file maps onto it one to one.

    ``axes_dim`` and ``theta`` describe a rotary positional encoding the released models
    never apply; they are kept because the released configs carry them, and ``axes_dim``
    must still sum to the head width, as the reference implementation requires.
    """

    in_channels: int = 64
    context_in_dim: int = 1536
    hidden_size: int = 1024
    mlp_ratio: float = 4.0
    num_heads: int = 16
    depth: int = 16
    depth_single_blocks: int = 32
    axes_dim: tuple[int, ...] = (64,)
    theta: int = 10000
    qkv_bias: bool = True
    guidance_embed: bool = False

    def __post_init__(self) -> None:
        for name in ("in_channels", "context_in_dim", "hidden_size", "num_heads"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DiTConfig.{name} must be positive, got {getattr(self, name)}")
        if self.depth < 0 or self.depth_single_blocks < 0:
            raise ValueError(
                f"DiTConfig block counts must not be negative, got depth={self.depth}, "
                f"depth_single_blocks={self.depth_single_blocks}"
            )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"DiTConfig.hidden_size {self.hidden_size} is not divisible by "
                f"num_heads {self.num_heads}"
            )
        if sum(self.axes_dim) != self.head_dim:
            raise ValueError(
                f"DiTConfig.axes_dim {list(self.axes_dim)} must sum to the head width "
                f"hidden_size // num_heads = {self.head_dim}"
            )
        if self.mlp_hidden <= 0:
            raise ValueError(f"DiTConfig.mlp_ratio must be positive, got {self.mlp_ratio}")

    @property
    def summary(self) -> str:
        """One line on the network, for ``inspect``."""
        return (f"depth {self.depth} + {self.depth_single_blocks} single, hidden "
                f"{self.hidden_size}, guidance-embedded {'yes' if self.guidance_embed else 'no'}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.hidden_size * self.mlp_ratio)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DiTConfig:
        """Build from the ``model.params`` mapping of a released ``config.yaml``.

        Unknown keys are an error rather than silently dropped, so a config meant for a
        different network cannot load into this one unnoticed.
        """
        names = {field.name for field in fields(cls)}
        accepted_extra = _NETWORK_NEUTRAL_PARAMS | {"time_factor"}
        unknown = sorted(set(params) - names - accepted_extra)
        if unknown:
            raise ValueError(
                f"Unknown Hunyuan3D-DiT config parameter(s) {unknown}; accepted: "
                f"{sorted(names | accepted_extra)}. Is this config for a different model?"
            )
        time_factor = params.get("time_factor", _RELEASED_TIME_FACTOR)
        if float(time_factor) != _RELEASED_TIME_FACTOR:
            raise ValueError(
                f"time_factor {time_factor} is not supported: every released Hunyuan3D 2.0 "
                f"DiT uses {_RELEASED_TIME_FACTOR:g} (remove the key or set it to 1000)"
            )
        values = {
            name: tuple(value) if isinstance(value, (list, tuple)) else value
            for name, value in params.items()
            if name in names
        }
        return cls(**values)

    def to_params(self) -> dict[str, Any]:
        """The ``model.params`` mapping of a config.yaml, read back by :meth:`from_params`
        to an equal config; plain lists and scalars so ``yaml.safe_dump`` can write it."""
        params = {field.name: getattr(self, field.name) for field in fields(self)}
        params["axes_dim"] = list(self.axes_dim)
        return params


_RELEASED_TIME_FACTOR = 1000.0
"""The reference passes its ``time_factor`` parameter on as the sinusoidal embedding's
``max_period``; no released config sets it, so it is always 1000 (see dit_blocks)."""

_NETWORK_NEUTRAL_PARAMS = frozenset({
    # The reference constructor loads a training checkpoint from this path; here weights
    # are always loaded after construction, so the path has no effect on the network.
    "ckpt_path",
})

DIT_PRESETS: dict[str, DiTConfig] = {
    "v2-0": DiTConfig(),
    "v2-0-fast": DiTConfig(guidance_embed=True),
    "v2-mini": DiTConfig(depth=8, depth_single_blocks=16),
    "v2-mv": DiTConfig(),
}
"""Released variants; the multi-view model shares v2-0's network (the views are mixed in
the conditioner)."""


def infer_dit_config(state_dict_shapes: Mapping[str, Sequence[int]]) -> DiTConfig:
    """Recover the config of a DiT state dict (its own keys, without a ``model.`` prefix)
    from key names and tensor shapes alone, for single files that carry no config."""
    shapes = {key: tuple(shape) for key, shape in state_dict_shapes.items()}

    def shape_of(key: str) -> tuple[int, ...]:
        if key not in shapes:
            raise ValueError(
                f"Not a Hunyuan3D-DiT state dict: key '{key}' is missing. Pass the DiT's "
                f"own keys (strip a 'model.' prefix from a combined checkpoint first)."
            )
        return shapes[key]

    hidden_size, in_channels = shape_of("latent_in.weight")
    context_in_dim = shape_of("cond_in.weight")[1]
    depth = _count_blocks(shapes, "double_blocks")
    depth_single_blocks = _count_blocks(shapes, "single_blocks")
    if depth:
        head_dim = shape_of("double_blocks.0.img_attn.norm.query_norm.scale")[0]
        mlp_hidden = shape_of("double_blocks.0.img_mlp.0.weight")[0]
        qkv_bias = "double_blocks.0.img_attn.qkv.bias" in shapes
    elif depth_single_blocks:
        head_dim = shape_of("single_blocks.0.norm.query_norm.scale")[0]
        mlp_hidden = shape_of("single_blocks.0.linear1.weight")[0] - 3 * hidden_size
        qkv_bias = DiTConfig.qkv_bias
    else:
        raise ValueError("Not a Hunyuan3D-DiT state dict: it has no transformer blocks")

    mlp_ratio = mlp_hidden / hidden_size
    if int(hidden_size * mlp_ratio) != mlp_hidden:
        raise ValueError(
            f"MLP width {mlp_hidden} is not expressible as hidden_size {hidden_size} "
            f"times an mlp_ratio"
        )
    return DiTConfig(
        in_channels=in_channels,
        context_in_dim=context_in_dim,
        hidden_size=hidden_size,
        mlp_ratio=mlp_ratio,
        num_heads=hidden_size // head_dim,
        depth=depth,
        depth_single_blocks=depth_single_blocks,
        axes_dim=(head_dim,),
        qkv_bias=qkv_bias,
        guidance_embed=any(key.startswith("guidance_in.") for key in shapes),
    )


def _count_blocks(shapes: Mapping[str, tuple[int, ...]], prefix: str) -> int:
    indices = {int(key.split(".")[1]) for key in shapes if key.startswith(prefix + ".")}
    if indices != set(range(len(indices))):
        raise ValueError(
            f"Hunyuan3D-DiT state dict has gaps in its {prefix} numbering: {sorted(indices)}"
        )
    return len(indices)
