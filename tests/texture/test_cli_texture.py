"""``texture`` command: mesh + image in, textured GLB out."""

import argparse

import numpy as np
import pytest
import trimesh
from PIL import Image

from hy3d_core.cli import texture_command
from hy3d_core.cli.texture_command import add_texture_arguments, command_texture, parse_views


def run(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_texture_arguments(parser)
    return command_texture(parser.parse_args(arguments))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("texture_cli")
    trimesh.creation.icosphere(subdivisions=2).export(root / "ball.ply")
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[8:56, 8:56] = (200, 80, 40, 255)
    rgba[8:30, 8:56, :3] = (20, 160, 220)
    Image.fromarray(rgba, "RGBA").save(root / "front.png")
    back = rgba.copy()
    back[..., :3] = (40, 200, 60)
    Image.fromarray(back, "RGBA").save(root / "back.png")
    return root


def small(root, out, *extra):
    return ["--mesh", str(root / "ball.ply"), "--image", str(root / "front.png"),
            "--out", str(out), "--texture-size", "64", "--render-size", "96",
            "--backend", "torch", "--device", "cpu", *extra]


def test_writes_a_textured_glb(inputs, capsys):
    out = inputs / "ball.glb"
    assert run(small(inputs, out, "--views", f"180:0={inputs / 'back.png'}")) == 0
    loaded = trimesh.load(out, force="mesh")
    assert loaded.visual.kind == "texture"
    image = np.asarray(loaded.visual.material.baseColorTexture.convert("RGB"))
    assert image.shape == (64, 64, 3)
    assert loaded.visual.uv.shape == (len(loaded.vertices), 2)
    # front colours and the back view's green are both in the texture
    assert (image[..., 1] > 150).any() and (image[..., 0] > 150).any()
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out and "charts" in captured.out
    assert "baking" in captured.err


def test_never_overwrites_without_the_flag(inputs):
    out = inputs / "kept.glb"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        run(small(inputs, out))
    assert out.read_bytes() == b"keep me"
    assert run(small(inputs, out, "--overwrite")) == 0
    assert out.read_bytes() != b"keep me"


@pytest.mark.parametrize("change, error, message", [
    (["--out", "x.fbx"], ValueError, "--out must end in one of"),
    (["--views", "180=back.png"], ValueError, "AZIMUTH:ELEVATION=IMAGE"),
    (["--image", "missing.png"], ValueError, "does not exist"),
    (["--mesh", "missing.ply"], FileNotFoundError, "No mesh file"),
])
def test_clear_errors(inputs, change, error, message):
    arguments = small(inputs, inputs / "y.glb")
    flag, value = change
    if flag in ("--out", "--image", "--mesh"):
        value = str(inputs / value)
    if flag in arguments:
        arguments[arguments.index(flag) + 1] = value
    else:
        arguments += [flag, value]
    with pytest.raises(error, match=message):
        run(arguments)


def test_texture_size_is_checked_by_the_parser_before_any_work(inputs, monkeypatch, capsys):
    monkeypatch.setattr(texture_command, "load_mesh", _no_work)
    with pytest.raises(SystemExit) as exit_info:
        run(small(inputs, inputs / "y.glb") + ["--texture-size", "16"])
    assert exit_info.value.code == 2
    assert "--texture-size: 16 must be at least 64 and at most 4096" in capsys.readouterr().err


def _no_work(*_, **__):
    raise AssertionError("the mesh was read before the outputs were checked")


@pytest.mark.parametrize("out_name, extra, clash", [
    ("back.obj", ["--views", "180:0={back}"], "back.png"),
    ("front.obj", [], "front.png"),
    ("ball.ply", [], "ball.ply"),
])
def test_outputs_that_are_inputs_are_refused_first(inputs, monkeypatch, capsys, out_name, extra, clash):
    monkeypatch.setattr(texture_command, "load_mesh", _no_work)
    arguments = small(inputs, inputs / out_name, *[item.format(back=inputs / "back.png") for item in extra],
                      "--overwrite")
    kept = {name: (inputs / name).read_bytes() for name in ("back.png", "front.png", "ball.ply")}
    with pytest.raises(ValueError, match=f"{inputs / clash} is an output of this run and also the input"):
        run(arguments)
    assert {name: (inputs / name).read_bytes() for name in kept} == kept


def test_models_dir_defaults_to_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path))
    parser = argparse.ArgumentParser()
    add_texture_arguments(parser)
    args = parser.parse_args(["--mesh", "m.ply", "--image", "i.png", "--out", "o.glb"])
    assert args.models_dir == tmp_path
    assert parser.parse_args(["--mesh", "m.ply", "--image", "i.png", "--out", "o.glb",
                              "--models-dir", "elsewhere"]).models_dir.name == "elsewhere"


def test_views_are_parsed_from_commas_and_repeats():
    views = parse_views(["180:0=back.png, 90:-20=left.png", "0:90=top.png"])
    assert [(a, e, str(p)) for a, e, p in views] == [
        (180.0, 0.0, "back.png"), (90.0, -20.0, "left.png"), (0.0, 90.0, "top.png")]
