"""The one device and dtype resolver the command line, training and the nodes share."""

import io
import sys

import pytest
import torch

from hy3d_core import devices
from hy3d_core.devices import DTYPE_CHOICES, resolve_device, resolve_dtype, side_tensor_dtype


def test_auto_prefers_the_device_it_is_given():
    assert resolve_device("auto", preferred="cpu") == torch.device("cpu")
    assert resolve_device("auto", preferred=torch.device("meta")) == torch.device("meta")


def test_auto_without_a_preference_is_the_best_available():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_named_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda:1' is not available.*pick 'auto' or 'cpu'"):
            resolve_device("cuda:1")
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, mps, got 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("meta")


def test_dtypes():
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("auto", torch.device("mps")) == torch.float16
    assert [resolve_dtype(name, torch.device("cpu")) for name in DTYPE_CHOICES[1:]] == [
        torch.float32, torch.float16, torch.bfloat16]
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("float64", torch.device("cpu"))



@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_the_cli_refuses_a_missing_mps_device_in_one_line(capsys, tmp_path):
    from pathlib import Path

    from hy3d_core.cli import main

    image = Path(__file__).resolve().parents[1] / "examples" / "demo_box.png"
    assert main(["shape", "--image", str(image), "--out", str(tmp_path / "unused.glb"),
                 "--device", "mps"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: device 'mps' is not available") and "\n" not in error


def _cpu_has(monkeypatch, units: tuple[str, ...]) -> None:
    monkeypatch.setattr(devices, "cpu_bfloat16_units", lambda: units)


def test_auto_on_the_cpu_follows_its_bfloat16_matrix_units(monkeypatch):
    cpu = torch.device("cpu")
    _cpu_has(monkeypatch, ("amx_bf16",))
    dtype, reason = devices.explain_dtype("auto", cpu)
    assert dtype == torch.bfloat16 and "bfloat16 on the CPU" in reason and "amx_bf16" in reason
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("float32", cpu) == torch.float32
    _cpu_has(monkeypatch, ())
    dtype, reason = devices.explain_dtype("auto", cpu)
    assert dtype == torch.float32 and "float32 on the CPU" in reason and "amx_bf16" in reason


def test_the_units_are_read_from_torch(monkeypatch):
    reported = {"amx_bf16": False, "avx512_bf16": True, "avx512_f": True, "architecture": "x86_64"}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: reported)
    assert devices.cpu_bfloat16_units() == ("avx512_bf16",)
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"architecture": "arm64", "bf16": True})
    assert devices.cpu_bfloat16_units() == ()
    monkeypatch.delattr(torch.cpu, "get_capabilities")
    assert devices.cpu_bfloat16_units() == ()


@pytest.mark.parametrize("units, expected", [(("avx512_bf16",), "bfloat16"), ((), "float32")])
def test_the_cli_says_what_auto_picked(monkeypatch, units, expected):
    import argparse

    from hy3d_core.cli.common import device_and_dtype

    _cpu_has(monkeypatch, units)
    printed = io.StringIO()
    monkeypatch.setattr(sys, "stderr", printed)
    args = argparse.Namespace(device="cpu", dtype="auto")
    assert device_and_dtype(args) == (torch.device("cpu"), getattr(torch, expected))
    line = printed.getvalue()
    assert line.startswith(f"dtype auto: {expected} on the CPU") and line.count("\n") == 1
    printed.truncate(0)
    device_and_dtype(argparse.Namespace(device="cpu", dtype="float32"))
    assert printed.getvalue() == ""


def test_side_tensors_are_float32_only_beside_bfloat16():
    """float16 keeps the release's rule (latents and query points in the model's dtype);
    bfloat16 keeps float32 latents, model time and query coordinates (docs/precision.md)."""
    assert side_tensor_dtype(torch.float16) == torch.float16
    assert side_tensor_dtype(torch.float32) == torch.float32
    assert side_tensor_dtype(torch.bfloat16) == torch.float32

