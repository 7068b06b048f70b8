"""``prepare-data`` arguments and command, on a temporary folder."""

import argparse
import json

import pytest

from hy3d_core.cli.prepare_command import add_prepare_arguments, command_prepare
from hy3d_core.training.mesh_dataset import ShapeSampleDataset


def _parse(*argv):
    parser = argparse.ArgumentParser()
    add_prepare_arguments(parser)
    return parser.parse_args(argv)


def test_procedural_data_is_written_with_progress(tmp_path, capsys):
    out = tmp_path / "data"
    argv = ["--procedural", "1", "--out", str(out), "--seed", "3", "--views", "1",
            "--image-size", "32", "--num-surface", "32", "--num-points", "64"]
    assert command_prepare(_parse(*argv)) == 0
    captured = capsys.readouterr()
    assert str(out) in captured.out and "6/6" in captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["family"] for s in manifest["shapes"]] == [
        "box", "cylinder", "cone", "torus", "sphere", "composite"]
    assert manifest["seed"] == 3 and len(manifest["shapes"][0]["images"]) == 1
    assert ShapeSampleDataset(out)[0]["surface"].shape == (64, 7)
    with pytest.raises(FileExistsError):
        command_prepare(_parse(*argv))
    assert command_prepare(_parse(*argv, "--overwrite")) == 0


def test_exactly_one_source_is_required():
    with pytest.raises(SystemExit):
        _parse("--out", "x")
    with pytest.raises(SystemExit):
        _parse("--meshes", "m", "--procedural", "1", "--out", "x")
