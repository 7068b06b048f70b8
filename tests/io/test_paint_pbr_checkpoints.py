"""Loading the released Paint PBR (2.1) folder, telling it from 2.0, and finding DINOv2-giant."""

from __future__ import annotations

import shutil

import pytest
import torch

from hy3d_core.io.checkpoint_files import CheckpointError
from hy3d_core.io.paint_checkpoints import load_paint_model
from hy3d_core.io.paint_family import PAINT_20, PAINT_PBR_21, paint_family
from hy3d_core.io.paint_pbr_checkpoints import (
    describe_paint_folder,
    load_paint_pbr_model,
    load_paint_pbr_unet,
    locate_dino_folder,
)
from paint_pbr_fixture import DINO_FOLDER, MODEL_FOLDER, paint_pbr_fixture
from tiny_paint import write_tiny_paint_folder

RELEASED_PARAMETERS = 1_936_072  # the fixture README's count for unet/diffusion_pytorch_model.bin


def _copy_model(tmp_path):
    target = tmp_path / MODEL_FOLDER
    shutil.copytree(paint_pbr_fixture() / MODEL_FOLDER, target)
    return target


def test_released_folder_loads_strictly_with_its_dinov2():
    folder = paint_pbr_fixture()
    model = load_paint_pbr_model(folder / MODEL_FOLDER, dino_folder=folder / DINO_FOLDER)
    assert sum(p.numel() for p in model.unet.parameters()) == RELEASED_PARAMETERS
    assert model.unet.unet.conv_in.in_channels == 12 and model.unet.unet_dual.conv_in.in_channels == 4
    assert model.unet.unet.image_proj_model_dino.proj.in_features == model.dino.width == 32
    assert model.scheduler_config["prediction_type"] == "v_prediction"
    assert model.dtype == torch.float32


def test_a_missing_key_is_named(tmp_path):
    folder = _copy_model(tmp_path)
    weights = folder / "unet" / "diffusion_pytorch_model.bin"
    state = torch.load(weights, weights_only=True)
    dropped = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn_refview.processor.to_v_mr.weight"
    del state[dropped]
    torch.save(state, weights)
    with pytest.raises(CheckpointError, match="to_v_mr"):
        load_paint_pbr_unet(folder / "unet")


def test_a_2_0_folder_is_refused_by_the_pbr_loader_and_back(tmp_path):
    old = write_tiny_paint_folder(tmp_path / "hunyuan3d-paint-v2-0")
    assert paint_family(old) == PAINT_20
    with pytest.raises(CheckpointError, match="Paint 2.0.*Paint 2.1 PBR .* is needed"):
        load_paint_pbr_model(old, dino_folder=paint_pbr_fixture() / DINO_FOLDER)
    new = paint_pbr_fixture() / MODEL_FOLDER
    assert paint_family(new) == PAINT_PBR_21
    with pytest.raises(CheckpointError, match="Paint 2.1 PBR.*Paint 2.0 .* is needed"):
        load_paint_model(new)


def test_a_missing_dinov2_names_the_model_and_where_it_goes(tmp_path):
    folder = _copy_model(tmp_path)
    with pytest.raises(CheckpointError, match="facebook/dinov2-giant") as error:
        load_paint_pbr_model(folder, models_dir=tmp_path / "models")
    message = str(error.value)
    assert str(tmp_path / "dinov2-giant") in message
    assert str(tmp_path / "models" / "hunyuan3d" / "dinov2-giant") in message


def test_dinov2_is_found_beside_the_folder_then_in_models(tmp_path):
    folder = _copy_model(tmp_path)
    models = tmp_path / "models"
    shutil.copytree(paint_pbr_fixture() / DINO_FOLDER, models / "hunyuan3d" / "dinov2-giant")
    assert locate_dino_folder(folder, models_dir=models) == models / "hunyuan3d" / "dinov2-giant"
    shutil.copytree(paint_pbr_fixture() / DINO_FOLDER, tmp_path / "dinov2-giant")
    assert locate_dino_folder(folder, models_dir=models) == tmp_path / "dinov2-giant"
    assert load_paint_pbr_model(folder, models_dir=models).dino.width == 32


def test_describe_reads_the_family_and_size_without_loading(tmp_path):
    folder = _copy_model(tmp_path)
    description = describe_paint_folder(folder)
    assert description.family == PAINT_PBR_21
    assert description.unet_parameters == RELEASED_PARAMETERS
    assert any("facebook/dinov2-giant" in item for item in description.missing)
    shutil.copytree(paint_pbr_fixture() / DINO_FOLDER, tmp_path / "dinov2-giant")
    (folder / "vae" / "config.json").unlink()
    assert describe_paint_folder(folder).missing == [str(folder / "vae" / "config.json")]
