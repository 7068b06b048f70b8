"""Preview pictures: a tiny textured cube rendered side by side on white."""

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.texture.textured_render import render_preview

BANDS = np.float32([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
"""The texture's three vertical bands, left to right: red (faces across z), green (across x), blue (across y)."""


def cube(textured: bool) -> Mesh:
    """A unit cube whose faces across z are red, across x green and across y blue."""
    box = trimesh.creation.box()
    box.unmerge_vertices()
    vertices = np.asarray(box.vertices)
    if not textured:
        return Mesh(vertices, box.faces)
    uvs = np.zeros((len(vertices), 2))
    for face, corners in enumerate(box.faces):
        axis = int(np.abs(box.face_normals[face]).argmax())
        band = {2: 0, 0: 1, 1: 2}[axis]
        in_plane = np.delete(vertices[corners], axis, axis=1) + 0.5
        uvs[corners, 0] = (band + 0.1 + 0.8 * in_plane[:, 0]) / 3
        uvs[corners, 1] = 0.1 + 0.8 * in_plane[:, 1]
    texture = np.repeat(np.repeat(BANDS[None], 48, axis=0), 16, axis=1)
    return Mesh(vertices, box.faces, uvs=uvs, texture=texture)


def test_textured_cube_shows_its_texture_on_white():
    picture = render_preview(cube(textured=True), views=4, size=32, elevation=0.0, backend="torch")
    assert picture.shape == (32, 128, 3) and picture.dtype == np.uint8
    views = picture.reshape(32, 4, 32, 3).transpose(1, 0, 2, 3)
    for view in views:
        assert (view[0] == 255).all() and (view[:, 0] == 255).all()
    np.testing.assert_array_equal(views[0, 16, 16], [255, 0, 0])
    np.testing.assert_array_equal(views[1, 16, 16], [0, 255, 0])
    np.testing.assert_array_equal(views[2, 16, 16], [255, 0, 0])


def test_looking_down_shows_the_top():
    picture = render_preview(cube(textured=True), views=1, size=32, elevation=30.0, backend="torch")
    blue = (picture[..., 2] == 255) & (picture[..., 0] == 0)
    red = (picture[..., 0] == 255) & (picture[..., 2] == 0)
    assert blue.sum() > 20 and red.sum() > 20
    assert np.argwhere(blue)[:, 0].mean() < np.argwhere(red)[:, 0].mean()


def test_untextured_mesh_is_shaded_grey():
    picture = render_preview(cube(textured=False), views=2, size=32, elevation=20.0, backend="torch")
    object_pixels = picture[picture.min(-1) < 255]
    assert len(object_pixels) > 200
    assert (object_pixels[:, 0] == object_pixels[:, 1]).all() and (object_pixels[:, 1] == object_pixels[:, 2]).all()
    assert len(np.unique(object_pixels[:, 0])) > 1
    assert (picture[0] == 255).all()


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="at least one view"):
        render_preview(cube(textured=True), views=0)
    with pytest.raises(ValueError, match="no faces"):
        render_preview(Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)))
