"""Paint 2.1's normal and position images: per-face world normals, 8-bit levels, and the
release's render-large-then-shrink."""

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.face_geometry import face_normals_tensor
from hy3d_core.render.cameras import camera_preset
from hy3d_core.render.geometry_maps import render_geometry_maps
from hy3d_core.render.normalization import normalize_for_render
from hy3d_core.render.pbr_condition_maps import render_pbr_condition_maps
from hy3d_core.render.torch_rasterizer import TorchRasterizer


def normalised(mesh: trimesh.Trimesh):
    vertices, _ = normalize_for_render(torch.tensor(mesh.vertices, dtype=torch.float32))
    return vertices, torch.tensor(mesh.faces, dtype=torch.int64)


def test_flat_normals_are_each_pixels_face_normal():
    vertices, faces = normalised(trimesh.creation.icosphere(subdivisions=1))
    cameras = camera_preset()
    flat = render_geometry_maps(vertices, faces, cameras, 48, TorchRasterizer(), flat_normals=True)
    smooth = render_geometry_maps(vertices, faces, cameras, 48, TorchRasterizer())
    face_index = flat.rasterization.face_index
    covered = face_index >= 0
    expected = (face_normals_tensor(vertices, faces)[face_index[covered]] + 1) / 2
    torch.testing.assert_close(flat.normal[covered], expected)
    assert (flat.normal[~covered] == 1).all()
    # positions and coverage are the same either way; the coarse sphere's smooth normals
    # differ from its faces' by up to the angle between neighbouring faces
    torch.testing.assert_close(flat.position, smooth.position)
    assert (flat.normal - smooth.normal).abs().max() > 0.05


def test_maps_are_8_bit_levels_with_a_white_background():
    vertices, faces = normalised(trimesh.creation.icosphere(subdivisions=3))
    maps = render_pbr_condition_maps(vertices, faces, camera_preset(), 32, render_size=128,
                                     rasterizer=TorchRasterizer())
    assert maps.normal.shape == maps.position.shape == (6, 32, 32, 3)
    for image in (maps.normal, maps.position):
        assert image.dtype == torch.float32
        levels = image * 255
        torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)
        assert (image[:, 0, 0] == 1).all() and (image[:, -1, -1] == 1).all()
    # the sphere (diameter 1.15 of the 1.2 frame) fills the middle
    centre = maps.position[:, 14:18, 14:18]
    assert (centre.min(dim=-1).values < 0.9).all()


def test_shrinking_averages_the_large_render_like_the_release():
    vertices, faces = normalised(trimesh.creation.icosphere(subdivisions=3))
    cameras = camera_preset()
    large = render_geometry_maps(vertices, faces, cameras, 128, TorchRasterizer(),
                                 flat_normals=True)
    maps = render_pbr_condition_maps(vertices, faces, cameras, 32, render_size=128,
                                     rasterizer=TorchRasterizer())
    truncated = np.floor(large.position.numpy() * 255) / 255
    block_mean = truncated.reshape(6, 32, 4, 32, 4, 3).mean(axis=(2, 4))
    # bicubic over a 4x4 footprint: close to the block mean, exact where the map is flat
    # (the background) and within a few levels on the smooth position gradient
    difference = np.abs(maps.position.numpy() - block_mean)
    interior = (large.mask.numpy().reshape(6, 32, 4, 32, 4).all(axis=(2, 4)))
    interior[:, 1:-1, 1:-1] &= interior[:, :-2, 1:-1] & interior[:, 2:, 1:-1]
    interior[:, 1:-1, 1:-1] &= interior[:, 1:-1, :-2] & interior[:, 1:-1, 2:]
    assert difference[interior].max() < 3 / 255
    # silhouettes blend with the white background instead of stepping
    edge = maps.position.numpy()[0, 16]
    assert ((edge > 0.6) & (edge < 0.99)).any()


def test_render_size_below_view_size_is_refused():
    vertices, faces = normalised(trimesh.creation.icosphere(subdivisions=1))
    with pytest.raises(ValueError, match="render_size"):
        render_pbr_condition_maps(vertices, faces, camera_preset(), 64, render_size=32)
    same = render_pbr_condition_maps(vertices, faces, camera_preset(), 16, render_size=None,
                                     rasterizer=TorchRasterizer())
    assert same.normal.shape == (6, 16, 16, 3)
