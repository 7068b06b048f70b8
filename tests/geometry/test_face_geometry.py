"""Face normals and areas (numpy and torch), signed volume and outward winding."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from hy3d_core.geometry.face_geometry import (
    face_normals_and_areas,
    face_normals_tensor,
    signed_volume,
    wind_outward,
)

TRIANGLES = np.array([[0, 0, 0], [2, 0, 0], [0, 3, 0],     # area 3, normal +z
                      [0, 0, 1], [0, 0, 3], [0, 4, 1],     # area 4, normal -x
                      [5, 5, 5], [6, 6, 6], [7, 7, 7]],    # on a line: area 0
                     dtype=np.float32)
TRIANGLE_FACES = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])


def test_normals_follow_winding_and_areas_are_exact():
    normals, areas = face_normals_and_areas(TRIANGLES, TRIANGLE_FACES)
    assert normals.dtype == areas.dtype == np.float64
    np.testing.assert_array_equal(areas, [3.0, 4.0, 0.0])
    np.testing.assert_array_equal(normals, [[0, 0, 1], [-1, 0, 0], [0, 0, 0]])
    flipped, _ = face_normals_and_areas(TRIANGLES, TRIANGLE_FACES[:, ::-1])
    np.testing.assert_array_equal(flipped, -normals)


def test_areas_and_normals_match_trimesh_on_a_sphere():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    normals, areas = face_normals_and_areas(sphere.vertices, sphere.faces)
    np.testing.assert_allclose(areas, sphere.area_faces, rtol=1e-12)
    np.testing.assert_allclose(normals, sphere.face_normals, atol=1e-12)


def test_tensor_twin_agrees_and_keeps_device_and_dtype():
    expected, _ = face_normals_and_areas(TRIANGLES, TRIANGLE_FACES)
    normals = face_normals_tensor(torch.from_numpy(TRIANGLES), torch.from_numpy(TRIANGLE_FACES))
    assert normals.dtype == torch.float32
    np.testing.assert_allclose(normals.numpy(), expected, atol=1e-7)


def test_signed_volume_of_a_box_anywhere():
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    assert abs(signed_volume(box.vertices, box.faces) - 6.0) < 1e-12
    moved = box.vertices + np.array([10.0, -4.0, 7.0])
    assert abs(signed_volume(moved, box.faces) - 6.0) < 1e-9
    assert abs(signed_volume(box.vertices, box.faces[:, ::-1]) + 6.0) < 1e-12


def test_wind_outward_flips_only_inward_faces():
    box = trimesh.creation.box()
    np.testing.assert_array_equal(wind_outward(box.vertices, box.faces), box.faces)
    inward = box.faces[:, ::-1]
    np.testing.assert_array_equal(wind_outward(box.vertices, inward), box.faces)
    # a flat square encloses nothing: it has no outside and stays as it is
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)
    faces = np.array([[0, 2, 1], [0, 3, 2]])
    np.testing.assert_array_equal(wind_outward(square, faces), faces)
