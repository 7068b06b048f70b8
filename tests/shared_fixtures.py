"""The Hunyuan3D 2.1 test oracles: tiny random-weight models in the released layouts with
reference tensors computed by Tencent's 2.1 code, kept in ``shared/fixtures/`` beside the
checkout (CI lays a copy there). ``HY3D_FIXTURES`` points elsewhere.

Without them the 2.1 parity tests skip, except on CI, where a missing oracle must fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
FIXTURES_ENV = "HY3D_FIXTURES"
SHAPE_21 = "hy3d21-shape"
PAINT_PBR_21 = "hy3d21-paintpbr"


def fixtures_root() -> Path:
    return Path(os.environ.get(FIXTURES_ENV, REPO.parent / "shared" / "fixtures"))


def fixture_dir(name: str) -> Path:
    """The fixture folder ``name``; skips the test when it is missing (fails on CI)."""
    folder = fixtures_root() / name
    if not folder.is_dir():
        message = f"the 2.1 oracle {folder} is missing (set {FIXTURES_ENV})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return folder


def load_reference(name: str) -> dict:
    """``reference.pt`` of a fixture, read with ``weights_only=True``: the files record
    torch's version object in their metadata, the one class allowed besides tensors."""
    from torch.torch_version import TorchVersion

    with torch.serialization.safe_globals([TorchVersion]):
        return torch.load(fixture_dir(name) / "reference.pt", map_location="cpu", weights_only=True)
