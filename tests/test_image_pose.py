"""The image pose a mesh was made for travels in the GLB the pack writes, and ``texture``
projects from it (a demo-model mesh seen as a front view fits its image much worse)."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh

from hy3d_core.cli import main
from hy3d_core.demo import DEMO_SHAPE_DEFAULTS
from hy3d_core.geometry.mesh import Mesh
from hy3d_core.io.mesh_files import IMAGE_VIEW_EXTRA, load_mesh, save_mesh

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def glb_json(path: Path) -> dict:
    """The JSON chunk of a GLB, read by the container layout, not by trimesh."""
    data = path.read_bytes()
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20:20 + length])


def _quad(**extra) -> Mesh:
    return Mesh(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32),
                np.array([[0, 1, 2], [0, 2, 3]]), **extra)


def test_a_glb_round_trip_keeps_the_pose(tmp_path):
    path = save_mesh(_quad(image_view=(-45.5, 12.0)), tmp_path / "posed.glb")
    assert glb_json(path)["scenes"][0]["extras"][IMAGE_VIEW_EXTRA] == [-45.5, 12.0]
    assert load_mesh(path).image_view == (-45.5, 12.0)


def test_a_mesh_without_a_pose_loads_with_none(tmp_path):
    path = save_mesh(_quad(), tmp_path / "plain.glb")
    assert "extras" not in glb_json(path)["scenes"][0]
    assert load_mesh(path).image_view is None
    trimesh.creation.box().export(tmp_path / "box.glb")
    assert load_mesh(tmp_path / "box.glb").image_view is None


def test_copies_keep_the_pose_and_a_bad_one_is_refused():
    mesh = _quad(image_view=(30, 20), uvs=np.zeros((4, 2)))
    assert mesh.image_view == (30.0, 20.0)
    assert mesh.copy().image_view == (30.0, 20.0)
    assert mesh.with_texture(np.zeros((2, 2, 3))).image_view == (30.0, 20.0)
    with pytest.raises(ValueError, match="azimuth, elevation"):
        _quad(image_view=(30.0,))
    with pytest.raises(ValueError, match="finite"):
        _quad(image_view=(float("nan"), 0.0))


def _texture(mesh: Path, out: Path, capsys, *extra) -> tuple[str, float, float]:
    assert main(["texture", "--mesh", str(mesh), "--image", str(EXAMPLES / "demo_box.png"),
                 "--out", str(out), "--texture-size", "128", "--render-size", "256",
                 "--device", "cpu", *extra]) == 0
    report = capsys.readouterr().out
    pose = report.split("image pose ", 1)[1].split("\n", 1)[0]
    seen = float(report.split("% of it seen")[0].rsplit(", ", 1)[1])
    fit = float(report.rsplit("silhouette fit ", 1)[1].split(")")[0])
    return pose, seen, fit


def test_texture_projects_a_demo_shape_from_the_pose_its_glb_records(tmp_path, capsys):
    shape = tmp_path / "shape.glb"
    assert main(["shape", "--image", str(EXAMPLES / "demo_box.png"), "--out", str(shape),
                 "--steps", "5", "--octree-resolution", "64"]) == 0
    capsys.readouterr()
    assert glb_json(shape)["scenes"][0]["extras"][IMAGE_VIEW_EXTRA] == [30.0, 20.0]
    assert load_mesh(shape).image_view == DEMO_SHAPE_DEFAULTS.image_view == (30.0, 20.0)

    pose, seen, fit = _texture(shape, tmp_path / "posed.glb", capsys)
    assert pose == "30:20 (recorded in the mesh file)"
    assert load_mesh(tmp_path / "posed.glb").image_view == (30.0, 20.0)
    front_pose, seen_as_front, fit_as_front = _texture(shape, tmp_path / "front.glb", capsys,
                                                       "--image-view", "0:0")
    assert front_pose == "0:0 (--image-view)"
    assert load_mesh(tmp_path / "front.glb").image_view == (0.0, 0.0)
    # the flag wins; the recorded pose fits the image better and sees more of the texture
    assert fit > fit_as_front and seen > seen_as_front


def test_texture_without_a_recorded_pose_uses_the_front(tmp_path, capsys):
    plain = tmp_path / "plain.ply"
    trimesh.creation.icosphere(subdivisions=2).export(plain)
    pose, _, _ = _texture(plain, tmp_path / "out.glb", capsys, "--backend", "torch")
    assert pose == "0:0 (the front; the mesh records no pose)"


def test_generate_records_the_pose_in_its_glb(tmp_path, capsys):
    out = tmp_path / "asset.glb"
    assert main(["generate", "--image", str(EXAMPLES / "demo_box.png"), "--out", str(out),
                 "--steps", "5", "--octree-resolution", "64", "--texture-size", "64",
                 "--render-size", "128"]) == 0
    assert glb_json(out)["scenes"][0]["extras"][IMAGE_VIEW_EXTRA] == [30.0, 20.0]
    assert load_mesh(out).image_view == (30.0, 20.0)
