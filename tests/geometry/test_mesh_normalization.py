"""Normalising a mesh into the ShapeVAE's cube, and undoing it."""

from __future__ import annotations

import numpy as np
import pytest

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.normalization import RELEASED_ENCODER_BOUND, normalize_mesh


def _box_mesh(low, high, stray_vertex=None) -> Mesh:
    """Two triangles spanning the box from ``low`` to ``high``, plus an unused vertex."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    vertices = [low, [high[0], low[1], low[2]], [low[0], high[1], low[2]], high]
    if stray_vertex is not None:
        vertices.append(stray_vertex)
    return Mesh(vertices=vertices, faces=[[0, 1, 2], [1, 3, 2]],
                uvs=np.zeros((len(vertices), 2)))


def test_longest_side_spans_the_released_bound_around_the_centre():
    mesh = _box_mesh([1.0, -2.0, 3.0], [5.0, 0.0, 4.0])
    normalized, transform = normalize_mesh(mesh)
    low, high = normalized.vertices.min(axis=0), normalized.vertices.max(axis=0)
    np.testing.assert_allclose((low + high) / 2, 0.0, atol=1e-6)
    np.testing.assert_allclose(high - low, np.array([4.0, 2.0, 1.0]) * 2 * 0.9999 / 4.0,
                               rtol=1e-6)
    assert RELEASED_ENCODER_BOUND == 0.9999
    np.testing.assert_allclose(transform.center, [3.0, -1.0, 3.5])
    assert transform.scale == pytest.approx(2 * 0.9999 / 4.0)
    assert normalized.uvs is not None and mesh.vertices[0, 0] == 1.0


def test_round_trip_restores_the_mesh():
    rng = np.random.default_rng(0)
    mesh = Mesh(vertices=rng.normal(5.0, 3.0, (50, 3)), faces=rng.integers(0, 50, (80, 3)))
    normalized, transform = normalize_mesh(mesh, bound=0.5)
    assert np.abs(normalized.vertices).max() == pytest.approx(0.5, rel=1e-6)
    np.testing.assert_allclose(transform.undo(normalized.vertices), mesh.vertices, atol=1e-5)
    np.testing.assert_allclose(transform.undo_mesh(normalized).vertices, mesh.vertices,
                               atol=1e-5)
    np.testing.assert_allclose(transform.apply(mesh.vertices), normalized.vertices)


def test_unused_vertices_do_not_count():
    with_stray = _box_mesh([0, 0, 0], [2, 2, 2], stray_vertex=[100.0, 100.0, 100.0])
    _, transform = normalize_mesh(with_stray)
    np.testing.assert_allclose(transform.center, 1.0)
    assert transform.scale == pytest.approx(0.9999)


def test_meshes_without_extent_are_refused():
    with pytest.raises(ValueError, match="without faces"):
        normalize_mesh(Mesh(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3), np.int64)))
    with pytest.raises(ValueError, match="one point"):
        normalize_mesh(Mesh(vertices=np.ones((3, 3)), faces=[[0, 1, 2]]))
    with pytest.raises(ValueError, match="positive"):
        normalize_mesh(_box_mesh([0, 0, 0], [1, 1, 1]), bound=0.0)
