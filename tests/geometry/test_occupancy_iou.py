"""Volume IoU of two solids, from meshes (ray parity) or inside tests."""

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.occupancy_iou import occupancy_grid, occupancy_iou


def _sphere(radius, center=(0.0, 0.0, 0.0)):
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    return Mesh(vertices=sphere.vertices + center, faces=sphere.faces)


def test_a_shape_with_itself_is_one_and_disjoint_shapes_zero():
    assert occupancy_iou(_sphere(0.8), _sphere(0.8)) == 1.0
    assert occupancy_iou(_sphere(0.4, (-0.5, 0, 0)), _sphere(0.4, (0.5, 0, 0))) == 0.0


def test_nested_spheres_give_the_volume_ratio():
    expected = (0.8 / 0.84) ** 3
    assert occupancy_iou(_sphere(0.8), _sphere(0.84)) == pytest.approx(expected, abs=0.02)

    def larger(points):
        return np.linalg.norm(points, axis=1) <= 0.84

    assert occupancy_iou(_sphere(0.8), larger) == pytest.approx(expected, abs=0.02)


def test_the_hole_of_a_torus_stays_empty():
    torus = trimesh.creation.torus(major_radius=0.6, minor_radius=0.2, major_sections=64,
                                   minor_sections=32)
    grid = occupancy_grid(Mesh(vertices=torus.vertices, faces=torus.faces), resolution=32)
    centre = grid.shape[0] // 2
    assert not grid[centre - 1:centre + 1, centre - 1:centre + 1].any()
    assert grid.sum() * (2.1 / 32) ** 3 == pytest.approx(torus.volume, rel=0.08)


def test_an_axis_aligned_box_on_grid_lines_is_counted_once():
    box = trimesh.creation.box((1.05, 1.05, 1.05))  # faces on cell boundaries
    grid = occupancy_grid(Mesh(vertices=box.vertices, faces=box.faces), resolution=8, bound=1.05)
    assert grid.sum() == 4**3 and grid[2:6, 2:6, 2:6].all()


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="one boolean per point"):
        occupancy_iou(_sphere(0.5), lambda points: np.ones(3, bool), resolution=8)
    with pytest.raises(ValueError, match="Mesh or an inside test"):
        occupancy_iou(_sphere(0.5), "sphere", resolution=8)
    with pytest.raises(ValueError, match="empty"):
        occupancy_iou(_sphere(0.1, (5, 5, 5)), _sphere(0.1, (5, 5, 5)), resolution=8)
