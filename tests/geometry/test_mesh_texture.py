"""Mesh.with_texture: a new texture on the same geometry, UVs and normals."""

from __future__ import annotations

import numpy as np
import pytest

from hy3d_core.geometry.mesh import Mesh


def _unwrapped_triangle() -> Mesh:
    return Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 2]],
                uvs=[[0, 0], [1, 0], [0, 1]], vertex_normals=[[0, 0, 1]] * 3,
                texture=np.zeros((4, 4, 3), dtype=np.float32))


def test_keeps_geometry_uvs_and_normals_and_replaces_the_texture():
    mesh = _unwrapped_triangle()
    texture = np.full((8, 8, 3), 0.25, dtype=np.float32)
    textured = mesh.with_texture(texture)
    assert textured is not mesh
    for name in ("vertices", "faces", "uvs", "vertex_normals"):
        np.testing.assert_array_equal(getattr(textured, name), getattr(mesh, name))
    np.testing.assert_array_equal(textured.texture, texture)
    np.testing.assert_array_equal(mesh.texture, np.zeros((4, 4, 3)))


def test_texture_is_checked_like_any_mesh_texture():
    mesh = _unwrapped_triangle()
    with pytest.raises(ValueError, match="within 0..1"):
        mesh.with_texture(np.full((4, 4, 3), 2.0, dtype=np.float32))
    without_uvs = Mesh(vertices=mesh.vertices, faces=mesh.faces)
    with pytest.raises(ValueError, match="needs UVs"):
        without_uvs.with_texture(np.zeros((4, 4, 3), dtype=np.float32))
