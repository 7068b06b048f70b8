"""The Hunyuan3D-Paint 2.1 PBR oracle (``shared/fixtures/hy3d21-paintpbr``) as the tests use it:
the tiny model folders, the input images as 0..1 tensors and the recorded tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shared_fixtures import PAINT_PBR_21, fixture_dir, load_reference

MODEL_FOLDER = "hunyuan3d-paintpbr-v2-1"
DINO_FOLDER = "dinov2-giant-tiny"
VIEWS = 4
VIEW_SIZE = 64


def paint_pbr_fixture() -> Path:
    return fixture_dir(PAINT_PBR_21)


def paint_pbr_reference() -> dict:
    return load_reference(PAINT_PBR_21)


def load_fixture_model():
    from hy3d_core.io.paint_pbr_checkpoints import load_paint_pbr_model

    folder = paint_pbr_fixture()
    return load_paint_pbr_model(folder / MODEL_FOLDER, dino_folder=folder / DINO_FOLDER)


def _image(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path))).float() / 255.0


def fixture_images() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The reference ``[64, 64, 4]`` (RGBA) and the normal and position maps ``[4, 64, 64, 3]``, in 0..1."""
    folder = paint_pbr_fixture()
    normals = torch.stack([_image(folder / f"normal_{view}.png") for view in range(VIEWS)])
    positions = torch.stack([_image(folder / f"position_{view}.png") for view in range(VIEWS)])
    return _image(folder / "reference.png"), normals, positions


def reference_on_white() -> np.ndarray:
    """``reference.png`` pasted on white, uint8 RGB: the image the release's DINO sees at this view size."""
    reference = Image.open(paint_pbr_fixture() / "reference.png")
    white = Image.new("RGB", reference.size, (255, 255, 255))
    white.paste(reference, mask=reference.getchannel("A"))
    return np.asarray(white)


@pytest.fixture(scope="module")
def model():
    """The oracle's model folder loaded once per test module."""
    return load_fixture_model()


@pytest.fixture(scope="module")
def reference():
    """The oracle's recorded tensors, read once per test module."""
    return paint_pbr_reference()
