"""The image conditioner's configuration: the released ``config.yaml`` ``conditioner``
section, the DINOv2 architecture it names, the released presets, and the config read back
off a bare state dict's DINOv2 weight names and shapes.

Kept apart from the network (``models/conditioner.py``) so that loaders, training and the
family table can read and write configs without importing transformers' model code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

MODEL_KEY_PREFIX = "main_image_encoder.model."
# DINOv2's heads are always 64 wide; the head count is not stored in the weights.
DINOV2_HEAD_DIM = 64

_SINGLE_VIEW_TYPE = "DinoImageEncoder"
_MULTI_VIEW_TYPE = "DinoImageEncoderMV"


@dataclass(frozen=True)
class Dinov2Architecture:
    """The ``Dinov2Config`` fields that shape the network, with ``Dinov2Config``'s
    defaults, so a released ``config:`` mapping reads onto it one to one.

    Fields that only matter for training or random initialisation of other parts
    (dropouts, ``initializer_range``, backbone outputs) are left out: they change no
    weight and no output at inference.
    """

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    patch_size: int = 14
    image_size: int = 224
    mlp_ratio: int = 4
    use_swiglu_ffn: bool = False
    layerscale_value: float = 1.0
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    hidden_act: str = "gelu"
    num_channels: int = 3
    use_mask_token: bool = True

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "patch_size",
                     "image_size", "mlp_ratio", "num_channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DINOv2 {name} must be positive, got {getattr(self, name)}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"DINOv2 hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Dinov2Architecture:
        """Read a Hugging Face ``Dinov2Config`` mapping (as in config.yaml).

        Values are converted to the field types because transformers 5 validates config
        types strictly and PyYAML reads ``1e-6`` (no dot) as a string.
        """
        model_type = values.get("model_type", "dinov2")
        if model_type != "dinov2":
            raise ValueError(
                f"The conditioner's config describes a {model_type!r} model; this pack "
                "supports DINOv2 (model_type 'dinov2') only."
            )
        missing = [name for name in _REQUIRED_DINOV2_FIELDS if name not in values]
        if missing:
            raise ValueError(
                f"The conditioner's DINOv2 config lacks {', '.join(missing)}; the network "
                "cannot be built without them."
            )
        kwargs = {f.name: _coerce(f.name, values[f.name], f.type)
                  for f in fields(cls) if f.name in values}
        return cls(**kwargs)

    def to_transformers(self) -> Any:
        """A ``transformers.Dinov2Config`` with attention through PyTorch's SDPA."""
        from transformers import Dinov2Config

        return Dinov2Config(**asdict(self), attn_implementation="sdpa")


_REQUIRED_DINOV2_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads")


def _coerce(name: str, value: Any, kind: str) -> Any:
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise TypeError
        if kind == "int":
            number = float(value)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"DINOv2 config field {name}={value!r} is not a valid {kind}"
        ) from None


@dataclass(frozen=True)
class ConditionerConfig:
    """What the released ``config.yaml`` ``conditioner`` section carries.

    ``image_size`` is the side the input is resized and cropped to before DINOv2 (518
    in every release); ``dinov2.image_size`` is the grid the position embedding was
    trained for. ``view_num`` only matters for the multi-view encoder: it bounds the
    view indices.
    """

    dinov2: Dinov2Architecture
    image_size: int = 518
    use_cls_token: bool = True
    multiview: bool = False
    view_num: int = 4

    def __post_init__(self) -> None:
        if self.image_size < self.dinov2.patch_size:
            raise ValueError(
                f"Conditioner image_size {self.image_size} is smaller than one DINOv2 patch "
                f"({self.dinov2.patch_size})"
            )
        if self.view_num < 1:
            raise ValueError(f"Conditioner view_num must be at least 1, got {self.view_num}")
        if self.multiview and self.dinov2.hidden_size % 2:
            raise ValueError(
                f"A multi-view conditioner needs an even hidden size for its sin-cos view "
                f"embedding, got {self.dinov2.hidden_size}"
            )

    @property
    def hidden_size(self) -> int:
        return self.dinov2.hidden_size

    @property
    def tokens_per_view(self) -> int:
        grid = self.image_size // self.dinov2.patch_size
        return grid * grid + (1 if self.use_cls_token else 0)

    @classmethod
    def from_yaml_section(cls, section: Mapping[str, Any]) -> ConditionerConfig:
        """Read the ``conditioner`` section of a released config.yaml.

        Understood: ``target: ...SingleImageEncoder`` whose ``main_image_encoder`` is a
        ``DinoImageEncoder`` or ``DinoImageEncoderMV`` with an inline DINOv2 ``config``.
        """
        if not isinstance(section, Mapping):
            raise ValueError(
                "Expected the 'conditioner' mapping of a Hunyuan3D config.yaml "
                f"(with 'target' and 'params'), got {type(section).__name__}."
            )
        target = str(section.get("target", ""))
        class_name = target.rsplit(".", 1)[-1]
        if class_name == "DualImageEncoder":
            raise ValueError(
                f"config.yaml's conditioner is {target!r}: a dual-encoder conditioner is not "
                "supported by this pack, which runs the single DINOv2 encoder of the released "
                "Hunyuan3D 2.0 models (SingleImageEncoder)."
            )
        if class_name != "SingleImageEncoder":
            raise ValueError(
                f"config.yaml's conditioner target {target!r} is not supported by this pack; "
                "expected hy3dgen.shapegen.models.conditioner.SingleImageEncoder."
            )
        encoder = _mapping_at(section, ("params", "main_image_encoder"))
        encoder_type = encoder.get("type")
        if encoder_type not in (_SINGLE_VIEW_TYPE, _MULTI_VIEW_TYPE):
            raise ValueError(
                f"config.yaml's image encoder type {encoder_type!r} is not supported by this "
                f"pack; it supports {_SINGLE_VIEW_TYPE} and {_MULTI_VIEW_TYPE} (DINOv2)."
            )
        kwargs = encoder.get("kwargs") or {}
        if not isinstance(kwargs, Mapping) or not isinstance(kwargs.get("config"), Mapping):
            raise ValueError(
                "config.yaml's image encoder has no inline DINOv2 'config' under kwargs (it "
                "names a model to download instead); this pack builds the encoder from an "
                "inline config and never downloads one. Use the config.yaml of the release."
            )
        return cls(
            dinov2=Dinov2Architecture.from_dict(kwargs["config"]),
            image_size=_coerce("image_size", kwargs.get("image_size", 224), "int"),
            use_cls_token=_coerce("use_cls_token", kwargs.get("use_cls_token", True), "bool"),
            multiview=encoder_type == _MULTI_VIEW_TYPE,
            view_num=_coerce("view_num", kwargs.get("view_num", 4), "int"),
        )

    def to_yaml_section(self) -> dict[str, Any]:
        """The ``conditioner`` section of a released-style config.yaml, read back by
        :meth:`from_yaml_section` to an equal config.

        The DINOv2 mapping also carries the training-only fields the released files
        list (dropouts, initializer range), so the reference package, which passes it
        to ``Dinov2Config`` as is, builds the same network.
        """
        kwargs: dict[str, Any] = {
            "config": {**_RELEASED_TRAINING_ONLY_FIELDS, **asdict(self.dinov2), "model_type": "dinov2"},
            "image_size": self.image_size,
            "use_cls_token": self.use_cls_token,
        }
        if self.multiview or self.view_num != ConditionerConfig.view_num:
            kwargs["view_num"] = self.view_num
        encoder_type = _MULTI_VIEW_TYPE if self.multiview else _SINGLE_VIEW_TYPE
        return {
            "target": _RELEASED_TARGET,
            "params": {"main_image_encoder": {"type": encoder_type, "kwargs": kwargs}},
        }


_RELEASED_TARGET = "hy3dgen.shapegen.models.SingleImageEncoder"
_RELEASED_TRAINING_ONLY_FIELDS = {
    "attention_probs_dropout_prob": 0.0,
    "drop_path_rate": 0.0,
    "hidden_dropout_prob": 0.0,
    "initializer_range": 0.02,
}


def _mapping_at(section: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any]:
    node: Any = section
    for depth, key in enumerate(path):
        if not isinstance(node, Mapping) or not isinstance(node.get(key), Mapping):
            where = ".".join(("conditioner", *path[: depth + 1]))
            raise ValueError(f"config.yaml has no mapping at {where}; is it a Hunyuan3D config?")
        node = node[key]
    return node


_DINOV2_GIANT = Dinov2Architecture(
    hidden_size=1536, num_hidden_layers=40, num_attention_heads=24, patch_size=14,
    image_size=518, use_swiglu_ffn=True, layerscale_value=1.0, layer_norm_eps=1e-6,
)
_DINOV2_LARGE = Dinov2Architecture(
    hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, patch_size=14,
    image_size=518, use_swiglu_ffn=False, layerscale_value=1.0, layer_norm_eps=1e-6,
)
CONDITIONER_PRESETS: Mapping[str, ConditionerConfig] = {
    "dinov2-giant": ConditionerConfig(dinov2=_DINOV2_GIANT, image_size=518),
    "dinov2-giant-mv": ConditionerConfig(dinov2=_DINOV2_GIANT, image_size=518, multiview=True, view_num=4),
    "dinov2-large": ConditionerConfig(dinov2=_DINOV2_LARGE, image_size=518),
}


def infer_conditioner_config(
    shapes: Mapping[str, Sequence[int]],
    *,
    multiview: bool = False,
    view_num: int = 4,
) -> ConditionerConfig:
    """Recover the conditioner config from DINOv2 weight names and shapes alone.

    ``shapes`` holds the conditioner's keys, with or without the ``main_image_encoder.model.``
    prefix, in the released (transformers 4) or the transformers 5 naming. Whether the
    model is multi-view is not visible in the weights, so the caller says so. Heads are
    64 wide, the CLS token is kept and LayerNorm eps is 1e-6, as in every release.
    """
    shapes = _dinov2_shapes(shapes)

    def shape_of(*candidates: str) -> tuple[int, ...]:
        for key in candidates:
            if key in shapes:
                return shapes[key]
        raise ValueError(
            f"Not a DINOv2 state dict: none of {', '.join(candidates)} among its "
            f"{len(shapes)} tensors (expected Hugging Face Dinov2Model names under "
            f"{MODEL_KEY_PREFIX})."
        )

    hidden = shape_of("embeddings.cls_token")[-1]
    projection = shape_of("embeddings.patch_embeddings.projection.weight")
    patch, channels = projection[-1], projection[1]
    positions = shape_of("embeddings.position_embeddings")[1] - 1
    grid = math.isqrt(positions)
    if grid * grid != positions:
        raise ValueError(f"DINOv2 position embedding holds {positions} patches, not a square grid")
    layers = _count_layers(shapes)
    swiglu = any(f"encoder.layer.0.mlp.{name}.weight" in shapes for name in ("weights_in", "gate_proj"))
    if swiglu:
        mlp_ratio = _swiglu_ratio(hidden, shapes)
    else:
        mlp_width = shape_of("encoder.layer.0.mlp.fc1.weight")[0]
        if mlp_width % hidden:
            raise ValueError(f"DINOv2 MLP width {mlp_width} is not a multiple of hidden size {hidden}")
        mlp_ratio = mlp_width // hidden
    dinov2 = Dinov2Architecture(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=_head_count(hidden),
        patch_size=patch,
        image_size=grid * patch,
        mlp_ratio=mlp_ratio,
        use_swiglu_ffn=swiglu,
        qkv_bias=any(f"encoder.layer.0.attention.{name}.bias" in shapes
                     for name in ("attention.query", "q_proj")),
        num_channels=channels,
        use_mask_token="embeddings.mask_token" in shapes,
    )
    return ConditionerConfig(dinov2=dinov2, image_size=grid * patch, multiview=multiview, view_num=view_num)


def _head_count(hidden: int) -> int:
    """Released DINOv2s use 64-wide heads. The count changes no weight shape, so a toy
    model whose width is not a multiple of 64 still loads, with one head; its outputs
    then need the true count, which only its config.yaml carries."""
    return hidden // DINOV2_HEAD_DIM if hidden % DINOV2_HEAD_DIM == 0 else 1


def _dinov2_shapes(shapes: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
    if any(key.startswith(MODEL_KEY_PREFIX) for key in shapes):
        return {key[len(MODEL_KEY_PREFIX):]: tuple(shape)
                for key, shape in shapes.items() if key.startswith(MODEL_KEY_PREFIX)}
    return {key: tuple(shape) for key, shape in shapes.items()}


def _count_layers(shapes: Mapping[str, tuple[int, ...]]) -> int:
    indices = {int(m.group(1)) for key in shapes if (m := re.match(r"encoder\.layer\.(\d+)\.", key))}
    if not indices or indices != set(range(len(indices))):
        raise ValueError(f"DINOv2 encoder layers are missing or not numbered 0..n-1: {sorted(indices)}")
    return len(indices)


def _swiglu_ratio(hidden: int, shapes: Mapping[str, tuple[int, ...]]) -> int:
    """The SwiGLU width is derived from ``mlp_ratio`` by rounding; every DINOv2 uses 4."""
    if "encoder.layer.0.mlp.weights_in.weight" in shapes:
        width = shapes["encoder.layer.0.mlp.weights_in.weight"][0] // 2
    else:
        width = shapes["encoder.layer.0.mlp.gate_proj.weight"][0]
    ratio = 4
    if (int(hidden * ratio * 2 / 3) + 7) // 8 * 8 != width:
        raise ValueError(
            f"DINOv2 SwiGLU width {width} does not follow from hidden size {hidden} and "
            f"mlp_ratio {ratio}; provide the config.yaml instead."
        )
    return ratio
