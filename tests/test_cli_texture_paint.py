"""``texture --paint``: a mesh textured by tiny Paint (and Delight) models, end to end."""

import argparse

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from hy3d_core.cli.texture_command import add_texture_arguments, command_texture
from tiny_paint import TINY_VIEW_SIZE, write_tiny_delight_folder, write_tiny_paint_folder


def run(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_texture_arguments(parser)
    return command_texture(parser.parse_args(arguments))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("texture_paint_cli")
    trimesh.creation.icosphere(subdivisions=2).export(root / "ball.ply")
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[8:56, 8:56] = (200, 80, 40, 255)
    Image.fromarray(rgba, "RGBA").save(root / "front.png")
    paint = write_tiny_paint_folder(root / "hunyuan3d-paint-v2-0")
    delight = write_tiny_delight_folder(root / "delight-build")
    return root, paint, delight


def small(inputs, out, *extra):
    root, paint, _ = inputs
    return ["--mesh", str(root / "ball.ply"), "--image", str(root / "front.png"), "--out", str(out),
            "--paint", str(paint), "--texture-size", "64", "--paint-steps", "2",
            "--view-size", str(TINY_VIEW_SIZE), "--atlas-resolution", "128", "--backend", "torch",
            "--device", "cpu", *extra]


def test_paint_and_delight_write_a_textured_glb(inputs, capsys):
    out = inputs[0] / "painted.glb"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert run(small(inputs, out, "--delight", str(inputs[2]), "--seed", "3")) == 0
    finally:
        torch.set_num_threads(threads)
    loaded = trimesh.load(out, force="mesh")
    assert loaded.visual.kind == "texture"
    assert loaded.visual.uv.shape == (len(loaded.vertices), 2)
    texture = np.asarray(loaded.visual.material.baseColorTexture.convert("RGB"))
    assert texture.shape == (64, 64, 3) and texture.std() > 0
    captured = capsys.readouterr()
    for stage in ("delighting", "painting views", "baking"):
        assert stage in captured.err
    assert f"wrote {out}" in captured.out and "Hunyuan3D-Paint" in captured.out and "de-lit" in captured.out


@pytest.mark.parametrize("extra, message", [
    (["--views", "180:0=back.png"], "--views are for projection"),
    (["--paint", "missing-folder"], "hunyuan3d-paint-v2-0 folder"),
    (["--delight", "missing-folder"], "hunyuan3d-delight-v2-0 folder"),
])
def test_refuses_bad_paint_options_before_any_work(inputs, extra, message):
    out = inputs[0] / "never.glb"
    with pytest.raises(ValueError, match=message):
        run(small(inputs, out, *extra))
    assert not out.exists()


def test_delight_needs_paint(inputs):
    arguments = small(inputs, inputs[0] / "never.glb", "--delight", str(inputs[2]))
    at = arguments.index("--paint")
    del arguments[at:at + 2]
    with pytest.raises(ValueError, match="give --paint too"):
        run(arguments)
