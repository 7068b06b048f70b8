"""The ``shape`` and ``generate`` commands refuse bad arguments and outputs before any
image or model is read: every numeric flag in the parser (exit status 2, one line),
every file the run would write checked against its inputs and against each other, and
``--models-dir`` reaching the background remover. The spies make any work a failure."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hy3d_core.cli import main, shape_command, texture_command
from hy3d_core.image import loading


class WorkStarted(AssertionError):
    """Raised by the spies: the command began work it should have refused first."""


def _no_work(*_, **__):
    raise WorkStarted("a model or an image was read before the arguments were checked")


@pytest.fixture
def no_work(monkeypatch):
    for module, name in ((shape_command, "load_shape_model"), (shape_command, "load_image_rgba"),
                         (texture_command, "load_paint_model"), (texture_command, "load_image_rgba"),
                         (texture_command, "load_mesh")):
        monkeypatch.setattr(module, name, _no_work)


@pytest.fixture
def box(tmp_path):
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[8:24, 8:24] = (200, 80, 40, 255)
    image = tmp_path / "box.png"
    Image.fromarray(rgba, "RGBA").save(image)
    return image


def _exit_status(arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", ["shape", "generate"])
@pytest.mark.parametrize("flag, value", [
    ("--max-faces", "-1"), ("--guidance", "nan"), ("--guidance", "inf"), ("--steps", "0"),
    ("--octree-resolution", "8"), ("--octree-resolution", "2048"), ("--num-chunks", "0"),
    ("--mc-level", "nan"), ("--steps", "two"),
])
def test_shape_numbers_are_checked_by_the_parser(command, flag, value, box, no_work, capsys):
    status, err = _exit_status([command, "--image", str(box), "--out", str(box.with_suffix(".glb")),
                                flag, value], capsys)
    assert status == 2
    assert flag in err and value in err
    assert len(err.strip().splitlines()[-1]) > 0 and "Traceback" not in err


@pytest.mark.parametrize("flag, value", [
    ("--texture-size", "0"), ("--texture-size", "32"), ("--texture-size", "8192"),
    ("--paint-steps", "0"), ("--view-size", "7"), ("--view-size", "0"), ("--image-view", "nan:nan"),
    ("--image-view", "0:inf"), ("--paint-guidance", "nan"), ("--render-size", "-5"),
    ("--atlas-resolution", "0"),
])
def test_texturing_numbers_are_checked_by_the_parser(flag, value, box, no_work, capsys):
    status, err = _exit_status(["generate", "--image", str(box), "--out", str(box.with_suffix(".glb")),
                                flag, value], capsys)
    assert status == 2
    assert flag in err and value in err


def test_accepted_numbers_keep_their_values():
    from hy3d_core.cli import build_parser

    args = build_parser().parse_args([
        "generate", "--image", "a.png", "--out", "a.glb", "--max-faces", "0", "--texture-size", "64",
        "--view-size", "8", "--octree-resolution", "16", "--guidance", "-1.5", "--image-view", "30:-20",
    ])
    assert (args.max_faces, args.texture_size, args.view_size, args.octree_resolution) == (0, 64, 8, 16)
    assert args.guidance == -1.5 and args.image_view == (30.0, -20.0)


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_obj_texture_named_like_the_input_image_is_refused(overwrite, box, no_work, capsys):
    kept = box.read_bytes()
    status = main(["generate", "--image", str(box), "--out", str(box.with_suffix(".obj")),
                   "--texture-size", "64", *overwrite])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{box.with_suffix('.png')} is an output of this run and also the input" in err
    assert box.read_bytes() == kept


@pytest.mark.parametrize("command", ["shape", "generate"])
def test_an_output_that_is_the_input_is_refused(command, box, no_work, capsys):
    assert main([command, "--image", str(box), "--out", str(box.with_suffix(".glb")),
                 "--save-latents", str(box), "--overwrite"]) == 2
    assert "is an output of this run and also the input" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["shape", "generate"])
def test_latents_named_like_the_mesh_are_refused(command, box, no_work, capsys):
    out = box.with_name("out.glb")
    assert main([command, "--image", str(box), "--out", str(out), "--save-latents",
                 str(box.parent / "." / "out.glb")]) == 2
    assert "would be written twice" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_an_unwritable_output_folder_is_refused_first(box, no_work, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["shape", "--image", str(box), "--out", str(locked / "new" / "a.glb")]) == 2
    finally:
        locked.chmod(0o700)
    assert f"{locked} is not writable" in capsys.readouterr().err


def test_an_unwritable_output_folder_is_refused_before_any_work(box, no_work, tmp_path, monkeypatch,
                                                                capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    assert main(["generate", "--image", str(box), "--out", str(locked / "new" / "a.glb")]) == 2
    assert f"{locked} is not writable" in capsys.readouterr().err


def _stop_at_background(seen):
    def remove_background(image, *, method, models_dir=None):
        seen.append((method, models_dir))
        raise ValueError("background remover reached")
    return remove_background


@pytest.mark.parametrize("command", ["shape", "generate"])
def test_models_dir_reaches_the_background_remover(command, box, tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(loading, "remove_background", _stop_at_background(seen))
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path / "from-env"))
    out = str(tmp_path / "a.glb")
    assert main([command, "--image", str(box), "--out", out, "--background", "rmbg",
                 "--models-dir", str(tmp_path / "given")]) == 2
    assert main([command, "--image", str(box), "--out", out, "--background", "rmbg"]) == 2
    assert seen == [("rmbg", tmp_path / "given"), ("rmbg", tmp_path / "from-env")]
    assert "background remover reached" in capsys.readouterr().err
