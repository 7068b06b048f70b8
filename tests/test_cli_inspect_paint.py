"""``inspect`` on a Hunyuan3D-Paint folder: its release, the UNet's size and what is still missing."""

from __future__ import annotations

import shutil

import torch

from hy3d_core.cli import main
from paint_pbr_fixture import MODEL_FOLDER, paint_pbr_fixture
from tiny_paint import write_tiny_paint_folder


def _unet_parameters(folder) -> int:
    state = torch.load(folder / "unet" / "diffusion_pytorch_model.bin", map_location="cpu", weights_only=True)
    return sum(tensor.numel() for tensor in state.values())


def test_a_21_folder_is_named_and_its_missing_dinov2_is_said(capsys):
    folder = paint_pbr_fixture() / MODEL_FOLDER
    assert main(["inspect", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "family:      Hunyuan3D-Paint 2.1 PBR" in out
    assert f"unet:        {_unet_parameters(folder):,} parameters" in out
    assert f"missing:     facebook/dinov2-giant (as {folder.parent / 'dinov2-giant'})" in out


def test_a_20_folder_missing_its_scheduler_says_so(tmp_path, capsys):
    folder = write_tiny_paint_folder(tmp_path / "hunyuan3d-paint-v2-0")
    shutil.rmtree(folder / "scheduler")
    assert main(["inspect", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "family:      Hunyuan3D-Paint 2.0" in out
    assert f"unet:        {_unet_parameters(folder):,} parameters" in out
    assert f"missing:     {folder / 'scheduler' / 'scheduler_config.json'}" in out
    assert "dinov2" not in out
