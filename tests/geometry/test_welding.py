"""The one welding rule every stage uses: exact positions, -0.0 equals 0.0, no tolerance,
seams kept only where the caller names the attribute that makes them."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.cleanup import (
    remove_degenerate_faces,
    remove_floaters,
    topology_signature,
)
from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.welding import weld_vertices

# Two triangles sharing the edge 0-1, stored as a UV unwrap stores a seam along it:
# vertices 3 and 4 are copies of 0 and 1 with other UVs.
SEAM_VERTICES = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0], [0, -1, 0]],
                         dtype=np.float32)
SEAM_FACES = np.array([[0, 1, 2], [4, 3, 5]])
SEAM_UVS = np.array([[0.1, 0.1], [0.4, 0.1], [0.1, 0.4], [0.6, 0.6], [0.9, 0.6], [0.6, 0.9]],
                    dtype=np.float32)


def test_exact_copies_join_in_order_of_their_first_copy():
    welded = weld_vertices(SEAM_VERTICES, SEAM_FACES)
    np.testing.assert_array_equal(welded.welded_of, [0, 1, 2, 0, 1, 3])
    np.testing.assert_array_equal(welded.first_copy, [0, 1, 2, 5])
    np.testing.assert_array_equal(welded.vertices, SEAM_VERTICES[[0, 1, 2, 5]])
    np.testing.assert_array_equal(welded.faces, [[0, 1, 2], [1, 0, 3]])
    np.testing.assert_array_equal(welded.edges, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3]])
    assert welded.merged_any


def test_a_mesh_without_copies_welds_to_itself():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    welded = weld_vertices(sphere.vertices, sphere.faces)
    assert not welded.merged_any
    np.testing.assert_array_equal(welded.welded_of, np.arange(len(sphere.vertices)))
    np.testing.assert_array_equal(welded.faces, sphere.faces)


def test_negative_zero_is_the_same_position():
    vertices = np.array([[0.0, 1.0, 2.0], [-0.0, 1.0, 2.0], [0.0, -0.0, -0.0]],
                        dtype=np.float32)
    welded = weld_vertices(vertices, np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(welded.welded_of, [0, 0, 1])


def test_no_tolerance_one_ulp_apart_stays_apart():
    """A tolerance would join distinct vertices of thin walls; copies are bit-identical."""
    one = np.float32(0.25)
    vertices = np.array([[one, 0, 0], [np.nextafter(one, np.float32(1)), 0, 0], [0, 1, 0]],
                        dtype=np.float32)
    welded = weld_vertices(vertices, np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(welded.welded_of, [0, 1, 2])


def test_a_seam_joins_without_attributes_and_stays_with_them():
    assert len(weld_vertices(SEAM_VERTICES, SEAM_FACES).vertices) == 4
    kept = weld_vertices(SEAM_VERTICES, SEAM_FACES, keep_seams_in=(SEAM_UVS,))
    np.testing.assert_array_equal(kept.welded_of, np.arange(6))
    # equal UVs as well: the copies are joined
    same_uvs = SEAM_UVS.copy()
    same_uvs[3:5] = same_uvs[0:2]
    rejoined = weld_vertices(SEAM_VERTICES, SEAM_FACES, keep_seams_in=(same_uvs, None))
    np.testing.assert_array_equal(rejoined.welded_of, [0, 1, 2, 0, 1, 3])


def test_negative_zero_in_an_attribute_is_no_seam():
    normals = np.tile(np.array([0.0, 0.0, 1.0], dtype=np.float32), (6, 1))
    normals[3] = [-0.0, 0.0, 1.0]
    welded = weld_vertices(SEAM_VERTICES, SEAM_FACES, keep_seams_in=(normals,))
    np.testing.assert_array_equal(welded.welded_of, [0, 1, 2, 0, 1, 3])


def test_attribute_with_the_wrong_row_count_is_refused():
    with pytest.raises(ValueError, match="one row per vertex"):
        weld_vertices(SEAM_VERTICES, SEAM_FACES, keep_seams_in=(SEAM_UVS[:4],))


def test_clean_up_keeps_a_uv_seam_but_sees_one_piece_across_it():
    """Vertex-list edits keep the seam; piece and topology questions see through it."""
    vertices = np.concatenate([SEAM_VERTICES, [[1, -1, 0]]]).astype(np.float32)
    uvs = np.concatenate([SEAM_UVS, [[0.9, 0.9]]]).astype(np.float32)
    faces = np.concatenate([SEAM_FACES, [[4, 5, 6]]])
    mesh = Mesh(vertices=vertices, faces=faces, uvs=uvs)
    cleaned = remove_degenerate_faces(mesh)
    np.testing.assert_array_equal(cleaned.vertices, vertices)
    np.testing.assert_array_equal(cleaned.uvs, uvs)
    # split at the seam, the one-face side would be a floater next to the two-face side
    assert len(remove_floaters(mesh, min_fraction=1.0).faces) == 3
    assert topology_signature(mesh) == (1, 1, 0)
