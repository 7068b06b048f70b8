"""The one place a device and dtype choice ("auto", "cuda", "float16", ...) becomes a
``torch.device`` and ``torch.dtype``: the command line, training and the ComfyUI nodes
offer the same choices and resolve "auto" the same way.
"""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
DTYPE_CHOICES = ("auto", "float32", "float16", "bfloat16")
AUTO_DTYPE_RULE = ("auto: float16 on a GPU (as released); on the CPU bfloat16 where it has "
                   "bfloat16 matrix instructions (AMX-BF16, AVX512-BF16), else float32")
"""How "auto" picks, in the words the command-line help and the nodes' tooltips use."""


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


BFLOAT16_MATRIX_UNITS = ("amx_bf16", "avx512_bf16")
"""The x86 instructions that multiply bfloat16 matrices in hardware (Intel AMX-BF16,
AVX512-BF16), as ``torch.cpu.get_capabilities()`` names them. Without them torch
converts bfloat16 to float32 for every product and bfloat16 is no faster than float32."""


def cpu_bfloat16_units() -> tuple[str, ...]:
    """Which of ``BFLOAT16_MATRIX_UNITS`` this CPU has, as torch detects them. None on an
    older torch without ``torch.cpu.get_capabilities`` and on ARM CPUs (Macs included):
    only these x86 units were measured to pay off (docs/precision.md)."""
    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is None:
        return ()
    found = capabilities()
    return tuple(unit for unit in BFLOAT16_MATRIX_UNITS if found.get(unit, False))


def explain_dtype(choice: str, device: torch.device) -> tuple[torch.dtype, str]:
    """``resolve_dtype(choice, device)`` and one line saying why, for the command line and
    the nodes to print when ``choice`` is "auto".

    "auto" is float16 on a GPU (CUDA or MPS), as released. On the CPU it is bfloat16
    where the CPU multiplies bfloat16 in hardware (several times faster than float32
    there, and the demo model's meshes keep their shape: docs/precision.md), float32
    elsewhere, where half precisions are slow and some operators are missing.
    """
    if choice == "auto":
        if device.type in ("cuda", "mps"):
            return torch.float16, f"dtype auto: float16 on {device.type}, as the release runs"
        units = cpu_bfloat16_units()
        if units:
            return torch.bfloat16, (f"dtype auto: bfloat16 on the CPU, which multiplies it in hardware "
                                    f"({', '.join(units)}); dtype float32 gives the release's float32 results")
        return torch.float32, ("dtype auto: float32 on the CPU (no bfloat16 matrix instructions, "
                               f"{' or '.join(BFLOAT16_MATRIX_UNITS)}, found)")
    if choice not in DTYPE_CHOICES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}, got {choice!r}")
    return getattr(torch, choice), f"dtype {choice}"


def side_tensor_dtype(model_dtype: torch.dtype) -> torch.dtype:
    """The dtype of the small tensors that travel beside a network running in
    ``model_dtype``: the sampler's latents (and model time) between Euler steps and the
    volume decoders' query coordinates.

    float32 and float16 keep the release's rule (the model's own dtype; the float16 parity
    tests depend on it). bfloat16 is not a release dtype and has an 8-bit mantissa:
    rounded latents also round the model time ``sigma * 1000`` to steps of up to 4, which
    made the 2.0 latents 8x further off the release's float32 run (relative difference
    0.150 instead of 0.019; docs/precision.md), and rounded coordinates are off by up to
    0.003 beyond |x| = 0.5 (0.6 of a cell at octree 380), so the decoder would see a
    warped grid. Both stay float32 (the Fourier embedding is formed in float32 anyway);
    only the networks run in bfloat16.
    """
    return torch.float32 if model_dtype == torch.bfloat16 else model_dtype


def resolve_dtype(choice: str, device: torch.device) -> torch.dtype:
    """The dtype for ``choice`` on ``device`` (``explain_dtype`` says how "auto" picks)."""
    return explain_dtype(choice, device)[0]
