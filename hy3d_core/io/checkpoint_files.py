"""Lazy access to the tensors of a checkpoint file, whatever its container.

The released weights are several GB. Reading a file's table of contents (names, shapes,
dtypes) must not read its data, so variant detection and ``inspect`` stay instant, and
loading must not hold the file's tensors and the model's tensors at once. Both formats
allow that: safetensors through ``safe_open`` (one tensor at a time), torch zip
checkpoints through ``torch.load(mmap=True)`` (tensors backed by the mapped file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import torch

SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


class CheckpointError(ValueError):
    """A file or folder is not what the caller needs; the message says what to do."""


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: torch.dtype


class TensorFile:
    """Read-only view of one checkpoint file as a flat ``name -> tensor`` mapping.

    Torch checkpoints of the release nest one state dict per part (``{"model": sd,
    "vae": sd, ...}``); they are flattened to ``"model.<key>"`` so both containers
    expose the same names as the released safetensors files.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path} does not exist or is not a file.")
        suffix = self.path.suffix.lower()
        if suffix in SAFETENSORS_SUFFIXES:
            self._open_safetensors()
        elif suffix in TORCH_SUFFIXES:
            self._open_torch()
        else:
            raise CheckpointError(
                f"{self.path.name}: unsupported checkpoint type {suffix!r}; expected one of "
                f"{', '.join(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)}."
            )

    def _open_safetensors(self) -> None:
        from safetensors import safe_open

        try:
            self._handle = safe_open(str(self.path), framework="pt", device="cpu")
            keys = list(self._handle.keys())
            self._info = {}
            for key in keys:
                tensor_slice = self._handle.get_slice(key)
                self._info[key] = TensorInfo(
                    tuple(tensor_slice.get_shape()), _safetensors_dtype(tensor_slice.get_dtype())
                )
        except Exception as error:  # the library raises its own error types
            raise CheckpointError(
                f"{self.path} could not be read as safetensors ({error}). The file may be "
                "truncated (an interrupted download) or not a safetensors file: download it again."
            ) from error
        self._tensors = None

    def _open_torch(self) -> None:
        try:
            loaded = torch.load(self.path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise self._torch_read_error(error) from error
            try:  # legacy (non-zip) pickles cannot be memory-mapped
                loaded = torch.load(self.path, map_location="cpu", weights_only=True)
            except Exception as second_error:
                raise self._torch_read_error(second_error) from second_error
        except Exception as error:
            raise self._torch_read_error(error) from error
        if not isinstance(loaded, Mapping):
            raise CheckpointError(
                f"{self.path} holds a {type(loaded).__name__}, not a state dict of tensors."
            )
        self._tensors = dict(_flatten(loaded))
        self._info = {k: TensorInfo(tuple(v.shape), v.dtype) for k, v in self._tensors.items()}
        self._handle = None

    def _torch_read_error(self, error: Exception) -> CheckpointError:
        return CheckpointError(
            f"{self.path} could not be read as a torch checkpoint ({error}). The file may be "
            "truncated (an interrupted download), or hold objects other than tensors; only "
            "plain state dicts are loaded (weights_only=True)."
        )

    def keys(self) -> list[str]:
        return list(self._info)

    def info(self, key: str) -> TensorInfo:
        return self._info[key]

    def __contains__(self, key: object) -> bool:
        return key in self._info

    def __len__(self) -> int:
        return len(self._info)

    def __iter__(self) -> Iterator[str]:
        return iter(self._info)

    def tensor(self, key: str) -> torch.Tensor:
        if self._tensors is not None:
            return self._tensors[key]
        return self._handle.get_tensor(key)


def _flatten(tree: Mapping, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            yield name, value
        elif isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _safetensors_dtype(name: str) -> torch.dtype:
    return _SAFETENSORS_DTYPES.get(name.upper(), torch.float32)


def split_parts(keys: list[str]) -> dict[str, list[str]]:
    """Group flat names by their first component (``model``, ``vae``, ``conditioner``)."""
    parts: dict[str, list[str]] = {}
    for key in keys:
        part, _, _ = key.partition(".")
        parts.setdefault(part, []).append(key)
    return parts


def strict_state_dict(
    expected: Mapping[str, tuple[int, ...]],
    found: Mapping[str, Callable[[], torch.Tensor]],
    weights: Path,
    config_path: Path,
    device: torch.device | str,
    dtype: torch.dtype,
    *,
    layout_hint: str = "The file may be truncated or belong to another model: download it again.",
) -> dict[str, torch.Tensor]:
    """Exactly the ``expected`` keys and shapes, each read (``found[key]()``) and cast to
    ``dtype`` on ``device`` one at a time, so a network built on the meta device gets its
    weights without a second copy; a missing, unexpected or misshapen tensor is one
    CheckpointError naming the file and ``layout_hint``."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        lines = [f"{weights}: the weights do not match the model {config_path} describes."]
        if missing:
            lines.append(f"{len(missing)} expected keys are missing, e.g. {', '.join(missing[:3])}.")
        if unexpected:
            lines.append(f"{len(unexpected)} keys were not expected, e.g. {', '.join(unexpected[:3])}.")
        lines.append(layout_hint)
        raise CheckpointError(" ".join(lines))
    state: dict[str, torch.Tensor] = {}
    for key, shape in expected.items():
        tensor = found[key]()
        if tuple(tensor.shape) != tuple(shape):
            raise CheckpointError(
                f"{weights}: weight {key} has shape {tuple(tensor.shape)} but {config_path} builds "
                f"{tuple(shape)}; the config does not belong to these weights."
            )
        target_dtype = dtype if tensor.is_floating_point() else tensor.dtype
        state[key] = tensor.to(device=device, dtype=target_dtype)
    return state
