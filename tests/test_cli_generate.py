"""``python -m hy3d_core generate`` end to end on tiny shape, Paint and Delight folders, and
without Paint (the image projected instead)."""

import argparse

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from hy3d_core.cli.generate_command import add_generate_arguments, command_generate
from hy3d_core.image.prepare import prepare_image
from hy3d_core.io.shape_checkpoints import load_shape_model
from hy3d_core.pipelines import SamplingSettings, VolumeSettings, decode_volume, encode_images, sample_latents
from paint_pbr_fixture import DINO_FOLDER, MODEL_FOLDER, paint_pbr_fixture
from paint_pbr_fixture import VIEW_SIZE as PBR_VIEW_SIZE
from tiny_checkpoints import write_tiny_shape_model
from tiny_paint import TINY_VIEW_SIZE, write_tiny_delight_folder, write_tiny_paint_folder

SEED = 7


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")
    shape = write_tiny_shape_model(root / "hunyuan3d-dit-v2-0")
    paint = write_tiny_paint_folder(root / "hunyuan3d-paint-v2-0")
    delight = write_tiny_delight_folder(root / "delight-build")
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[16:48, 20:44] = (200, 80, 40, 255)
    image = root / "object.png"
    Image.fromarray(rgba, "RGBA").save(image)
    model = load_shape_model(shape)
    latents = sample_latents(model.dit, encode_images(model.conditioner, prepare_image(rgba).tensor),
                             model.configs.num_latents, SamplingSettings(steps=2, seed=SEED))
    level = float(decode_volume(model.vae, latents, VolumeSettings(octree_resolution=16)).median())
    return root, shape, paint, delight, image, level


def _generate(setup, out, *extra, paint=True):
    root, shape, paint_folder, _, image, level = setup
    parser = argparse.ArgumentParser()
    add_generate_arguments(parser)
    args = parser.parse_args([
        "--model", str(shape), *(["--paint", str(paint_folder)] if paint else []),
        "--image", str(image), "--out", str(out),
        "--steps", "2", "--seed", str(SEED), "--octree-resolution", "16", "--mc-level", f"{level}",
        "--texture-size", "64", "--paint-steps", "2", "--view-size", str(TINY_VIEW_SIZE),
        "--atlas-resolution", "128", "--device", "cpu", *extra,
    ])
    return command_generate(args)


def test_writes_a_textured_glb(setup, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = setup[0] / "asset.glb"
        assert _generate(setup, out, "--delight", str(setup[3])) == 0
    finally:
        torch.set_num_threads(threads)
    loaded = trimesh.load(out, force="mesh")
    assert len(loaded.faces) > 0 and loaded.visual.uv.shape == (len(loaded.vertices), 2)
    texture = loaded.visual.material.baseColorTexture
    assert texture is not None and texture.size == (64, 64)
    captured = capsys.readouterr()
    assert "painting views" in captured.err and "delighting" in captured.err and "baking" in captured.err
    assert f"wrote {out}" in captured.out


def test_refuses_a_missing_paint_folder_before_any_work(setup):
    out = setup[0] / "never.glb"
    with pytest.raises(ValueError, match="hunyuan3d-paint-v2-0 folder of huggingface.co/tencent/Hunyuan3D-2"):
        _generate(setup, out, "--paint", str(setup[0] / "missing"))
    assert not out.exists()


def test_without_paint_projects_the_image(setup, capsys):
    out = setup[0] / "projected.glb"
    assert _generate(setup, out, "--render-size", "64", paint=False) == 0
    loaded = trimesh.load(out, force="mesh")
    assert len(loaded.faces) > 0 and loaded.visual.uv.shape == (len(loaded.vertices), 2)
    texture = np.asarray(loaded.visual.material.baseColorTexture.convert("RGB"))
    assert texture.shape == (64, 64, 3)
    captured = capsys.readouterr()
    assert "painting views" not in captured.err and "baking" in captured.err
    assert "image projected" in captured.out


def test_refuses_delight_without_paint(setup):
    out = setup[0] / "never_delit.glb"
    with pytest.raises(ValueError, match="give --paint too"):
        _generate(setup, out, "--delight", str(setup[3]), paint=False)
    assert not out.exists()


def test_image_view_must_be_azimuth_colon_elevation(setup, capsys):
    with pytest.raises(SystemExit):
        _generate(setup, setup[0] / "never_posed.glb", "--image-view", "30", paint=False)
    assert "AZIMUTH:ELEVATION" in capsys.readouterr().err


def test_a_paint_21_folder_gives_the_glb_a_pbr_material(setup):
    folder = paint_pbr_fixture()
    out = setup[0] / "asset_pbr.glb"
    assert _generate(setup, out, "--paint", str(folder / MODEL_FOLDER), "--paint-dino", str(folder / DINO_FOLDER),
                     "--view-size", str(PBR_VIEW_SIZE), "--render-size", "128", "--dtype", "float32") == 0
    material = trimesh.load(out, force="mesh").visual.material
    assert material.baseColorTexture.size == material.metallicRoughnessTexture.size == (64, 64)


def test_refuses_delight_with_a_paint_21_folder(setup):
    out = setup[0] / "never_pbr.glb"
    with pytest.raises(ValueError, match="--delight is not supported with Paint 2.1"):
        _generate(setup, out, "--paint", str(paint_pbr_fixture() / MODEL_FOLDER), "--delight", str(setup[3]))
    assert not out.exists()
