"""User meshes made solid: holes sealed, overlapping pieces merged, inside test labels."""

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.occupancy_iou import occupancy_iou
from hy3d_core.training.watertight import make_watertight, watertight_solid

HALF = np.array([0.8, 0.6, 0.5])


def _in_box(points, half=HALF, center=(0.0, 0.0, 0.0)):
    return np.all(np.abs(np.asarray(points) - center) <= half, axis=1)


def test_a_box_with_a_missing_face_is_closed():
    box = trimesh.creation.box(2 * HALF).subdivide().subdivide().subdivide()
    holed = Mesh(vertices=box.vertices, faces=np.delete(box.faces, 5, axis=0))
    assert not holed.to_trimesh().is_watertight
    solid = watertight_solid(holed, resolution=64)
    closed = solid.mesh().to_trimesh()
    assert closed.is_watertight and closed.volume > 0
    assert closed.volume == pytest.approx(np.prod(2 * HALF), rel=0.05)
    assert occupancy_iou(solid.mesh(), _in_box, resolution=48) > 0.9
    points = np.random.default_rng(0).uniform(-1, 1, (20_000, 3))
    assert np.mean(solid.contains(points) == _in_box(points)) > 0.97


def test_overlapping_pieces_become_one_solid():
    first = trimesh.creation.box((1.0, 1.0, 1.0))
    second = trimesh.creation.box((1.0, 1.0, 1.0))
    second.apply_translation((0.5, 0.3, 0.2))
    both = trimesh.util.concatenate([first, second])
    closed = make_watertight(Mesh(vertices=both.vertices, faces=both.faces), resolution=64)
    result = closed.to_trimesh()
    assert result.is_watertight and len(result.split()) == 1

    def truth(points):
        return (_in_box(points, 0.5) | _in_box(points, 0.5, (0.5, 0.3, 0.2)))

    assert occupancy_iou(closed, truth, resolution=48, bound=1.2) > 0.9


def test_points_off_the_grid_are_outside():
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    solid = watertight_solid(Mesh(vertices=box.vertices, faces=box.faces), resolution=32)
    assert solid.contains(np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])).tolist() == [True, False]


def test_open_sheets_and_bad_input_are_explained():
    plane = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], faces=[[0, 1, 2], [1, 3, 2]])
    with pytest.raises(ValueError, match="encloses no volume"):
        make_watertight(plane, resolution=32)
    with pytest.raises(ValueError, match="without faces"):
        make_watertight(Mesh(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3), int)))
    with pytest.raises(ValueError, match="resolution"):
        make_watertight(plane, resolution=4)
