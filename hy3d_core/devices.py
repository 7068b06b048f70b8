"""The one place a device and dtype choice ("auto", "cuda", "float16", ...) becomes a
``torch.device`` and ``torch.dtype``: the command line, training and the ComfyUI nodes
offer the same choices and resolve "auto" the same way.
"""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
DTYPE_CHOICES = ("auto", "float32", "float16", "bfloat16")


def resolve_device(choice: str, preferred: torch.device | str | None = None) -> torch.device:
    """The device for ``choice``; "auto" is ``preferred`` when given (ComfyUI's device,
    when the nodes ask), else CUDA, MPS, then the CPU. An indexed name ("cuda:1", as
    torchrun assigns) is accepted for an available device type."""
    if choice == "auto":
        if preferred is not None:
            return torch.device(preferred)
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {choice!r}")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }[device.type]
    if not available:
        raise ValueError(
            f"device {choice!r} is not available in this PyTorch installation (torch sees no "
            f"{device.type.upper()} device); pick 'auto' or 'cpu'."
        )
    return device


def resolve_dtype(choice: str, device: torch.device) -> torch.dtype:
    """"auto" is float16 on a GPU (CUDA or MPS), float32 on the CPU, where half precision
    is slow and some operators are missing."""
    if choice == "auto":
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    if choice not in DTYPE_CHOICES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {choice!r}")
    return getattr(torch, choice)
