"""Inpainting: every chart texel filled, nothing painted kept, no background at seams."""

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.render.cameras import camera_preset, orbit_cameras
from hy3d_core.render.torch_rasterizer import TorchRasterizer
from hy3d_core.texture.baking import bake_views
from hy3d_core.texture.inpainting import inpaint_texture, propagate_vertex_colours
from hy3d_core.geometry.welding import weld_vertices
from hy3d_core.texture.textured_render import render_textured
from hy3d_core.texture.uv_raster import chart_mask, texel_bands
from hy3d_core.texture.uv_unwrap import unwrap_uv

TEXTURE = 128
RENDER = 192


def colour_views(count: int) -> np.ndarray:
    """Views in 0.2..0.8 with a pattern, so neither black nor white is a baked colour."""
    rows, columns = np.mgrid[0:RENDER, 0:RENDER] / RENDER
    pattern = np.stack([0.5 + 0.3 * np.sin(9 * columns), 0.5 + 0.3 * np.cos(7 * rows),
                        0.5 + 0.3 * np.sin(5 * (rows + columns))], axis=-1)
    return np.repeat(pattern[None].astype(np.float32), count, axis=0)


@pytest.fixture(scope="module")
def front_bake():
    ico = trimesh.creation.icosphere(subdivisions=3)
    mesh = unwrap_uv(Mesh(ico.vertices, ico.faces))
    result = bake_views(mesh, colour_views(1), orbit_cameras([0.0], [0.0]),
                        texture_size=TEXTURE, backend="torch")
    return mesh, result


def test_fills_every_chart_texel_and_keeps_painted_ones(front_bake):
    mesh, result = front_bake
    assert 0.2 < result.coverage < 0.6  # one view sees less than half the sphere
    filled = inpaint_texture(mesh, result.texture, result.covered, backend="torch")
    assert filled.shape == (TEXTURE, TEXTURE, 3) and filled.dtype == np.float32
    assert np.array_equal(filled[result.covered], result.texture[result.covered])
    # uncovered texels were black; after inpainting every texel holds a baked colour
    low, high = result.texture[result.covered].min(), result.texture[result.covered].max()
    assert filled.min() >= low - 1 / 255 and filled.max() <= high + 1 / 255
    assert filled[result.chart & ~result.covered].min() > 0.15


def test_render_shows_no_background_at_seams(front_bake):
    mesh, result = front_bake
    filled = inpaint_texture(mesh, result.texture, result.covered, backend="torch")
    textured = mesh.with_texture(filled)
    for background in (0.0, 1.0):
        images, masks = render_textured(textured, camera_preset(), RENDER,
                                        background=background, backend="torch")
        on_object = images[masks]
        assert masks.sum() > 6 * 5000
        # baked colours are within 0.2..0.8: a pixel near white or black would be
        # background or an empty texel showing through a seam
        assert on_object.max() < 0.85 and on_object.min() > 0.15


def test_surfaces_no_colour_reaches_are_inpainted_in_uv_space():
    near = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    far = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    far.apply_translation((1.0, 0.0, 0.0))
    both = trimesh.util.concatenate([near, far])
    mesh = unwrap_uv(Mesh(both.vertices, both.faces))
    faces = torch.from_numpy(mesh.faces)
    coverage = np.zeros(TEXTURE * TEXTURE, dtype=bool)
    texture = np.zeros((TEXTURE * TEXTURE, 3), dtype=np.float32)
    on_near = torch.from_numpy(mesh.vertices[:, 0] < 0.5)
    for band in texel_bands(torch.from_numpy(mesh.uvs), faces, TEXTURE, TorchRasterizer()):
        painted = band.texels[on_near[faces[band.faces, 0]]].numpy()
        coverage[painted] = True
        texture[painted] = (0.3, 0.6, 0.4)
    coverage = coverage.reshape(TEXTURE, TEXTURE)
    texture = texture.reshape(TEXTURE, TEXTURE, 3)
    filled = inpaint_texture(mesh, texture, coverage, backend="torch")
    charts = chart_mask(torch.from_numpy(mesh.uvs), faces, TEXTURE, TorchRasterizer())
    unreached = charts & ~coverage
    assert unreached.sum() > 500  # the far sphere: no vertex colour can reach it
    assert np.abs(filled[unreached] - (0.3, 0.6, 0.4)).max() < 2 / 255
    assert np.abs(filled - (0.3, 0.6, 0.4)).max() < 2 / 255


def test_colour_spreads_ring_by_ring_with_inverse_square_distance_weights():
    # a strip: vertex 2 sits between vertex 0 (1 away) and vertex 3 (2 away)
    vertices = np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0], [3, 0, 0], [5, 0, 0]], dtype=np.float32)
    faces = np.array([[0, 2, 1], [2, 3, 1], [3, 4, 1]])
    surface = weld_vertices(vertices, faces)
    colours = np.zeros((5, 1))
    colours[0], colours[3] = 1.0, 0.0
    coloured = np.array([True, False, False, True, False])
    result, reached = propagate_vertex_colours(surface, colours, coloured)
    assert reached.all()
    assert result[2, 0] == pytest.approx((1 / 1) / (1 / 1 + 1 / 4))
    assert result[4, 0] == pytest.approx(0.0)  # its only coloured neighbour is 3
    # vertex 1 neighbours 0, 2, 3, 4; only 0 and 3 were coloured in the first ring
    d0, d3 = 1.0, np.sqrt(10.0)
    assert result[1, 0] == pytest.approx((1 / d0**2) / (1 / d0**2 + 1 / d3**2))


def test_bad_input_is_reported(front_bake):
    mesh, result = front_bake
    with pytest.raises(ValueError, match="nothing to inpaint"):
        inpaint_texture(mesh, result.texture, np.zeros_like(result.covered))
    with pytest.raises(ValueError, match="square RGB"):
        inpaint_texture(mesh, result.texture[:, :64], result.covered[:, :64])
    with pytest.raises(ValueError, match="coverage must be"):
        inpaint_texture(mesh, result.texture, result.covered[:64])
    with pytest.raises(ValueError, match="no UVs"):
        inpaint_texture(Mesh(mesh.vertices, mesh.faces), result.texture, result.covered)
