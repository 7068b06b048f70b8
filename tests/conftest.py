"""Shared test set-up: deterministic CPU math for every test, and "auto" meaning float32
on the CPU whatever CPU runs the suite."""

from types import MappingProxyType

import pytest
import torch

from hy3d_core.devices import BFLOAT16_MATRIX_UNITS


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _cpu_without_bfloat16_units(monkeypatch):
    """torch reports no bfloat16 matrix instructions, so dtype "auto" is float32 on the CPU
    in every test, as on most machines: results compared with float32 references must not
    depend on the CPU that runs the suite. torch's report is changed rather than the
    library's check because the nodes' tests load a second copy of the library (the pack);
    tests of the bfloat16 choice stub ``devices.cpu_bfloat16_units`` themselves."""
    real = getattr(torch.cpu, "get_capabilities", None)
    if real is not None:
        without = dict(real(), **{unit: False for unit in BFLOAT16_MATRIX_UNITS})
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: MappingProxyType(without))
    yield
