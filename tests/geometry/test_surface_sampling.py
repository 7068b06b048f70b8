"""Uniform and sharp-edge surface samples, sharp-edge detection, the encoder's layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.surface_sampling import (
    sample_sharp_edges,
    sample_surface,
    sharp_edges,
    surface_point_cloud,
)


def _mesh(shape: trimesh.Trimesh) -> Mesh:
    return Mesh(vertices=shape.vertices, faces=shape.faces)


def _cube() -> Mesh:
    """The unit cube centred at 0, 8 vertices and 12 triangles."""
    return _mesh(trimesh.creation.box())


def _distance_to_cube_edges(points: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Distance of points on a box's surface to its nearest edge."""
    gaps = half - np.abs(points)
    pairs = [np.hypot(gaps[:, i], gaps[:, j]) for i, j in ((0, 1), (1, 2), (0, 2))]
    return np.min(pairs, axis=0)


def _ridge(angle_degrees: float) -> Mesh:
    """Two unit squares meeting at a ridge along x, bent by ``angle_degrees`` in total."""
    tilt = np.radians(angle_degrees / 2.0)
    y, z = np.cos(tilt), np.sin(tilt)
    vertices = [[0, 0, 0], [1, 0, 0], [0, y, -z], [1, y, -z], [0, -y, -z], [1, -y, -z]]
    faces = [[0, 1, 3], [0, 3, 2], [0, 5, 1], [0, 4, 5]]
    return Mesh(vertices=vertices, faces=faces)


# ----- detection ----------------------------------------------------------------------

def test_cube_edges_are_exactly_its_twelve_edges():
    cube = _cube()
    edges = sharp_edges(cube)
    assert edges.shape == (12, 2)
    ends = cube.vertices[edges]
    # A cube edge changes exactly one coordinate; a face diagonal changes two.
    assert ((ends[:, 0] != ends[:, 1]).sum(axis=1) == 1).all()
    assert (edges[:, 0] < edges[:, 1]).all()
    assert len({tuple(edge) for edge in edges.tolist()}) == 12


def test_release_rule_also_takes_the_face_diagonals():
    """Both ends sharp is all the release asks: every cube corner is sharp."""
    edges = sharp_edges(_cube(), creases_only=False)
    assert len(edges) == 18


def test_cube_with_split_vertices_finds_the_same_edges():
    """A flat-shaded export has one vertex copy per face; welding finds the edges."""
    split = trimesh.creation.box()
    split.unmerge_vertices()
    mesh = _mesh(split)
    assert len(mesh.vertices) == 36
    edges = sharp_edges(mesh)
    assert len(edges) == 12
    ends = mesh.vertices[edges]
    assert ((ends[:, 0] != ends[:, 1]).sum(axis=1) == 1).all()


def test_smooth_sphere_has_no_sharp_edge():
    assert len(sharp_edges(_mesh(trimesh.creation.icosphere(subdivisions=4)))) == 0


def test_cylinder_rims_are_found():
    cylinder = _mesh(trimesh.creation.cylinder(radius=0.5, height=1.0, sections=64))
    edges = sharp_edges(cylinder)
    ends = cylinder.vertices[edges]
    assert len(edges) == 2 * 64
    np.testing.assert_allclose(np.linalg.norm(ends[..., :2], axis=-1), 0.5, atol=1e-6)
    np.testing.assert_allclose(np.abs(ends[..., 2]), 0.5)
    assert (ends[:, 0, 2] == ends[:, 1, 2]).all()
    # Closed circles: every rim vertex ends exactly two rim edges.
    assert (np.bincount(edges.ravel())[np.unique(edges)] == 2).all()


def test_threshold_sets_the_angle():
    """A 5 degree ridge is smooth at the released 10 degrees and sharp at 1.8 degrees."""
    ridge = _ridge(5.0)
    assert len(sharp_edges(ridge)) == 0
    np.testing.assert_array_equal(sharp_edges(ridge, threshold=0.9995), [[0, 1]])


# ----- samples ------------------------------------------------------------------------

def test_sharp_samples_lie_on_the_cube_edges():
    points, normals = sample_sharp_edges(_cube(), 2000, seed=3)
    assert points.shape == normals.shape == (2000, 3)
    assert points.dtype == normals.dtype == np.float32
    assert _distance_to_cube_edges(points, np.full(3, 0.5)).max() < 1e-6
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    assert (np.einsum("nd,nd->n", normals, points) > 0.5).all()


def test_sharp_samples_follow_edge_length():
    """A 1 x 1 x 4 box: the four long edges hold 16 of the 24 units of edge length."""
    box = _mesh(trimesh.creation.box(extents=(1.0, 1.0, 4.0)))
    points, _ = sample_sharp_edges(box, 20000, seed=0)
    assert _distance_to_cube_edges(points, np.array([0.5, 0.5, 2.0])).max() < 1e-6
    on_long_edges = np.isclose(np.abs(points[:, :2]), 0.5).all(axis=1)
    assert abs(on_long_edges.mean() - 2.0 / 3.0) < 0.015


def test_uniform_samples_lie_on_the_surface_with_face_normals():
    points, normals = sample_surface(_cube(), 3000, seed=1)
    assert points.shape == normals.shape == (3000, 3)
    np.testing.assert_allclose(np.abs(points).max(axis=1), 0.5, atol=1e-6)
    np.testing.assert_allclose(np.einsum("nd,nd->n", normals, points), 0.5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)


def test_uniform_samples_spread_by_area():
    """Two triangles of area 4.5 and 0.5: a tenth of the samples on the small one."""
    mesh = Mesh(vertices=[[0, 0, 0], [3, 0, 0], [0, 3, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1]],
                faces=[[0, 1, 2], [3, 4, 5]])
    points, normals = sample_surface(mesh, 20000, seed=0)
    small = points[:, 2] == 1.0
    assert abs(small.mean() - 0.1) < 0.01
    assert (points[~small, 2] == 0.0).all()
    assert (points[:, :2] >= 0).all()
    assert (points[~small, :2].sum(axis=1) <= 3.0 + 1e-5).all()
    assert (points[small, :2].sum(axis=1) <= 1.0 + 1e-6).all()
    np.testing.assert_array_equal(normals, np.tile([0.0, 0.0, 1.0], (20000, 1)))


@pytest.mark.parametrize("sampler", [sample_surface, sample_sharp_edges])
def test_samples_repeat_for_a_seed_and_differ_between_seeds(sampler):
    cube = _cube()
    first, first_normals = sampler(cube, 500, seed=7)
    again, again_normals = sampler(cube, 500, seed=7)
    other, _ = sampler(cube, 500, seed=8)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first_normals, again_normals)
    assert not np.allclose(first, other)


def test_a_generator_advances_between_calls():
    rng = np.random.default_rng(0)
    first, _ = sample_surface(_cube(), 100, seed=rng)
    second, _ = sample_surface(_cube(), 100, seed=rng)
    assert not np.allclose(first, second)


def test_no_sharp_edge_is_an_error_for_edge_sampling():
    with pytest.raises(ValueError, match="no sharp edge"):
        sample_sharp_edges(_mesh(trimesh.creation.icosphere(subdivisions=3)), 10)


@pytest.mark.parametrize("call, message", [
    (lambda mesh: sample_surface(mesh, 10), "faces"),
    (lambda mesh: sharp_edges(mesh), "faces"),
    (lambda mesh: sample_sharp_edges(mesh, 10), "faces"),
    (lambda mesh: surface_point_cloud(mesh, num_uniform=1, num_sharp=1), "faces"),
])
def test_a_mesh_without_faces_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call(Mesh(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3), dtype=np.int64)))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        sample_surface(_cube(), -1)
    with pytest.raises(ValueError, match="cosine"):
        sharp_edges(_cube(), threshold=1.5)
    flat = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [2, 0, 0]], faces=[[0, 1, 2]])
    with pytest.raises(ValueError, match="zero area"):
        sample_surface(flat, 5)


# ----- encoder input ------------------------------------------------------------------

def test_point_cloud_layout_and_flag_column():
    cloud = surface_point_cloud(_cube(), num_uniform=300, num_sharp=200, seed=0)
    assert cloud.shape == (1, 500, 7)
    assert cloud.dtype == torch.float32
    rows = cloud[0].numpy()
    np.testing.assert_array_equal(rows[:300, 6], 0.0)
    np.testing.assert_array_equal(rows[300:, 6], 1.0)
    np.testing.assert_allclose(np.abs(rows[:300, :3]).max(axis=1), 0.5, atol=1e-6)
    assert _distance_to_cube_edges(rows[300:, :3], np.full(3, 0.5)).max() < 1e-6
    np.testing.assert_allclose(np.linalg.norm(rows[:, 3:6], axis=1), 1.0, atol=1e-6)
    again = surface_point_cloud(_cube(), num_uniform=300, num_sharp=200, seed=0)
    torch.testing.assert_close(cloud, again, rtol=0, atol=0)


def test_point_cloud_without_flag_or_sharp_rows():
    assert surface_point_cloud(_cube(), num_uniform=40, num_sharp=10,
                               sharp_flag=False).shape == (1, 50, 6)
    uniform_only = surface_point_cloud(_cube(), num_uniform=40, num_sharp=0)
    assert uniform_only.shape == (1, 40, 7)
    assert (uniform_only[0, :, 6] == 0).all()


def test_smooth_mesh_fills_sharp_rows_with_uniform_samples():
    sphere = _mesh(trimesh.creation.icosphere(subdivisions=3))
    with pytest.warns(UserWarning, match="no sharp edge"):
        cloud = surface_point_cloud(sphere, num_uniform=100, num_sharp=50, seed=0)
    assert cloud.shape == (1, 150, 7)
    assert (cloud[0, :, 6] == 0).all()
    radius = cloud[0, :, :3].norm(dim=1)
    assert ((radius > 0.99) & (radius <= 1.0 + 1e-6)).all()
