"""``texture --paint <2.1 folder>``: a mesh given a PBR material by the tiny Paint 2.1 oracle model, end to end."""

import argparse

import numpy as np
import pytest
import trimesh

from hy3d_core.cli.texture_command import add_texture_arguments, command_texture
from paint_pbr_fixture import DINO_FOLDER, MODEL_FOLDER, VIEW_SIZE, paint_pbr_fixture
from tiny_paint import flush_denormals, write_tiny_delight_folder  # noqa: F401 - a fixture


def run(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_texture_arguments(parser)
    return command_texture(parser.parse_args(arguments))


@pytest.fixture(scope="module")
def ball(tmp_path_factory):
    path = tmp_path_factory.mktemp("texture_paint_pbr_cli") / "ball.ply"
    trimesh.creation.icosphere(subdivisions=2).export(path)
    return path


def small(ball, out, *extra):
    folder = paint_pbr_fixture()
    return ["--mesh", str(ball), "--image", str(folder / "reference.png"), "--out", str(out),
            "--paint", str(folder / MODEL_FOLDER), "--paint-dino", str(folder / DINO_FOLDER),
            "--texture-size", "64", "--paint-steps", "2", "--view-size", str(VIEW_SIZE), "--render-size", "128",
            "--atlas-resolution", "128", "--backend", "torch", "--device", "cpu", "--dtype", "float32", *extra]


@pytest.mark.usefixtures("flush_denormals")
def test_a_21_folder_writes_a_glb_with_a_pbr_material(ball, tmp_path, capsys):
    out = tmp_path / "painted.glb"
    assert run(small(ball, out)) == 0
    material = trimesh.load(out, force="mesh").visual.material
    albedo = np.asarray(material.baseColorTexture.convert("RGB"))
    metallic_roughness = np.asarray(material.metallicRoughnessTexture.convert("RGB"))
    assert albedo.shape == metallic_roughness.shape == (64, 64, 3)
    assert albedo.std() > 0 and metallic_roughness.std() > 0
    captured = capsys.readouterr()
    for stage in ("painting views", "albedo", "metallic-roughness"):
        assert stage in captured.err
    assert f"wrote {out}" in captured.out and "PBR material" in captured.out


def test_delight_is_refused_with_a_21_folder(ball, tmp_path):
    delight = write_tiny_delight_folder(tmp_path / "delight")
    out = tmp_path / "never.glb"
    with pytest.raises(ValueError, match="--delight is not supported with Paint 2.1"):
        run(small(ball, out, "--delight", str(delight)))
    assert not out.exists()


def test_paint_dino_must_be_a_folder(ball, tmp_path):
    with pytest.raises(ValueError, match="facebook/dinov2-giant folder"):
        run(small(ball, tmp_path / "never.glb", "--paint-dino", str(tmp_path / "missing")))
