"""Translate DINOv2 weight names between the released files and the installed transformers.

The Hunyuan3D files were written with transformers 4.x, whose ``Dinov2Model`` names
attention weights ``attention.attention.query`` and fuses the SwiGLU input projection
into one ``mlp.weights_in``. transformers 5 renamed them (``attention.q_proj`` ...) and
splits ``weights_in`` into ``gate_proj`` and ``up_proj``; its ``from_pretrained`` converts
on the fly, but a plain ``load_state_dict`` (which is how a combined checkpoint is
loaded) does not. ComfyUI users run either major version, so the loader converts the
released names to whatever layout the installed model has, in either direction.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import torch

# (released 4.x name fragment, transformers 5 name fragment)
_RENAMES = (
    ("attention.attention.query.", "attention.q_proj."),
    ("attention.attention.key.", "attention.k_proj."),
    ("attention.attention.value.", "attention.v_proj."),
    ("attention.output.dense.", "attention.o_proj."),
    ("mlp.weights_out.", "mlp.down_proj."),
)
_FUSED_SWIGLU = "mlp.weights_in."
_SPLIT_SWIGLU = ("mlp.gate_proj.", "mlp.up_proj.")


def uses_split_layout(model_keys: Iterable[str]) -> bool:
    """True when the installed ``Dinov2Model`` names its weights the transformers 5 way."""
    return any(".attention.q_proj." in key for key in model_keys)


def _rename(key: str, forward: bool) -> str:
    for released, split in _RENAMES:
        source, target = (released, split) if forward else (split, released)
        if source in key:
            return key.replace(source, target)
    return key


def to_split_layout(
    items: Iterable[tuple[str, Callable[[], torch.Tensor]]],
) -> Iterator[tuple[str, Callable[[], torch.Tensor]]]:
    """Released (4.x) names -> transformers 5 names; tensors stay lazy until asked for.

    The fused SwiGLU weight holds the gate half first, then the up half: transformers'
    own conversion chunks it the same way, and the 4.x forward applies SiLU to the
    first half.
    """
    for key, load in items:
        if _FUSED_SWIGLU in key:
            for half, fragment in enumerate(_SPLIT_SWIGLU):
                yield key.replace(_FUSED_SWIGLU, fragment), _chunk(load, half)
        else:
            yield _rename(key, forward=True), load


def to_released_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers 5 names -> released (4.x) names, for writing files in the released layout."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        gate, up = _SPLIT_SWIGLU
        if gate in key:
            partner = state_dict[key.replace(gate, up)]
            out[key.replace(gate, _FUSED_SWIGLU)] = torch.cat([value, partner], dim=0)
        elif up in key:
            continue
        else:
            out[_rename(key, forward=False)] = value
    return out


def _chunk(load: Callable[[], torch.Tensor], half: int) -> Callable[[], torch.Tensor]:
    return lambda: load().chunk(2, dim=0)[half].contiguous()
