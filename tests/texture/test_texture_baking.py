"""Baking views into UV space: round trip, weighting, visibility, chunking, bad input."""

import math

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.render.cameras import camera_preset, orbit_cameras
from hy3d_core.render.normalization import normalize_for_render
from hy3d_core.render.torch_rasterizer import TorchRasterizer
from hy3d_core.texture.baking import bake_views, reliable_pixels, unreliable_kernel_size
from hy3d_core.texture.inpainting import nearest_fill
from hy3d_core.texture.textured_render import render_textured
from hy3d_core.texture.uv_raster import texel_bands
from hy3d_core.texture.uv_unwrap import unwrap_uv

TEXTURE = 128
RENDER = 256


def surface_colour(points: np.ndarray) -> np.ndarray:
    """A smooth colour field on 3D points, in 0.1..0.9."""
    return 0.5 + 0.4 * np.sin(np.stack([3 * points[:, 0] + 1, 2 * points[:, 1] - 2 * points[:, 2],
                                        2.5 * points[:, 2] + points[:, 0]], axis=1))


def texel_points(mesh: Mesh, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat texel indices inside the charts and their 3D points (mesh frame)."""
    vertices = torch.from_numpy(mesh.vertices)
    faces = torch.from_numpy(mesh.faces)
    texels, points = [], []
    for band in texel_bands(torch.from_numpy(mesh.uvs), faces, size, TorchRasterizer()):
        texels.append(band.texels)
        points.append(band.interpolate(vertices, faces))
    return torch.cat(texels).numpy(), torch.cat(points).numpy()


def with_surface_texture(mesh: Mesh, size: int = TEXTURE) -> Mesh:
    """The mesh textured with ``surface_colour``: the same colour on both sides of every
    seam, so renders and bakes can be compared texel by texel."""
    texels, points = texel_points(mesh, size)
    texture = np.zeros((size * size, 3), dtype=np.float32)
    texture[texels] = surface_colour(points)
    known = np.zeros(size * size, dtype=bool)
    known[texels] = True
    texture = nearest_fill(texture.reshape(size, size, 3), known.reshape(size, size))
    return mesh.with_texture(texture)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def sphere() -> Mesh:
    ico = trimesh.creation.icosphere(subdivisions=3)
    return with_surface_texture(unwrap_uv(Mesh(ico.vertices, ico.faces)))


@pytest.fixture(scope="module")
def six_views(sphere):
    cameras = camera_preset()
    images, _ = render_textured(sphere, cameras, RENDER, backend="torch")
    return images, cameras


def test_six_views_bake_back_to_the_texture(sphere, six_views):
    images, cameras = six_views
    result = bake_views(sphere, images, cameras, texture_size=TEXTURE, backend="torch")
    assert result.texture.shape == (TEXTURE, TEXTURE, 3) and result.texture.dtype == np.float32
    # a convex shape is seen almost everywhere from the six released views
    assert result.coverage > 0.95
    assert not (result.covered & ~result.chart).any()
    assert (result.view_count[result.covered] >= 1).all()
    assert (result.texture[~result.covered] == 0).all()
    # measured 60.1 dB: the only loss is bilinear resampling of a smooth colour field,
    # twice (texture -> view -> texture)
    assert psnr(result.texture[result.covered], sphere.texture[result.covered]) > 50.0


def test_views_are_merged_by_weight_times_cos_to_the_fourth(sphere):
    cameras = orbit_cameras([0.0, 90.0], [0.0, 0.0], weights=[1.0, 0.5])
    red = np.zeros((RENDER, RENDER, 3), dtype=np.float32)
    red[..., 0] = 1.0
    blue = np.zeros_like(red)
    blue[..., 2] = 1.0
    result = bake_views(sphere, np.stack([red, blue]), cameras, texture_size=TEXTURE,
                        backend="torch")
    texels, points = texel_points(sphere, TEXTURE)
    both = result.view_count.reshape(-1)[texels] == 2
    assert both.sum() > 200
    _, to_render = normalize_for_render(torch.from_numpy(sphere.vertices))
    render_points = to_render.apply(torch.from_numpy(points[both]))
    directions = torch.nn.functional.normalize(render_points, dim=1)
    towards = torch.nn.functional.normalize(cameras.positions, dim=1)
    cos = directions @ towards.T  # a sphere's normal is its position direction
    weights = torch.tensor([1.0, 0.5]) * cos ** 4
    expected_red = (weights[:, 0] / weights.sum(dim=1)).numpy()
    baked = result.texture.reshape(-1, 3)[texels[both]]
    assert np.allclose(baked[:, 0] + baked[:, 2], 1.0, atol=1e-5)
    # smooth vertex normals of a 1280-face icosphere are within a degree of radial
    assert np.abs(baked[:, 0] - expected_red).max() < 0.03
    weight = result.weight.reshape(-1)[texels[both]]
    assert np.allclose(weight, weights.sum(dim=1).numpy(), rtol=0.08)


def test_texels_beyond_75_degrees_are_not_baked(sphere):
    front = orbit_cameras([0.0], [0.0])
    white = np.ones((1, RENDER, RENDER, 3), dtype=np.float32)
    result = bake_views(sphere, white, front, texture_size=TEXTURE, backend="torch")
    texels, points = texel_points(sphere, TEXTURE)
    covered = result.covered.reshape(-1)[texels]
    angle = np.degrees(np.arccos(np.clip(points[:, 2] / np.linalg.norm(points, axis=1), -1, 1)))
    assert covered[angle > 76].sum() == 0
    assert covered[angle < 60].all()
    assert covered[(angle > 70) & (angle < 74)].mean() > 0.5


def test_grazing_and_back_facing_texels_are_not_baked():
    cube = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    mesh = unwrap_uv(Mesh(cube.vertices, cube.faces))
    front = orbit_cameras([0.0], [0.0])
    white = np.ones((1, RENDER, RENDER, 3), dtype=np.float32)
    result = bake_views(mesh, white, front, texture_size=TEXTURE, backend="torch")
    texels, points = texel_points(mesh, TEXTURE)
    covered = result.covered.reshape(-1)[texels]
    # the front camera looks along -z of the mesh file: only the +z face is seen,
    # the side faces are at 90 degrees and the back face is hidden
    on_front = points[:, 2] > 0.5 - 1e-4
    assert covered[~on_front].sum() == 0
    assert covered[on_front].mean() > 0.9


def test_hidden_surface_is_not_baked():
    front_ball = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    front_ball.apply_translation((0.0, 0.0, 0.6))
    back_ball = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    both = trimesh.util.concatenate([front_ball, back_ball])
    mesh = unwrap_uv(Mesh(both.vertices, both.faces))
    front = orbit_cameras([0.0], [0.0])
    white = np.ones((1, RENDER, RENDER, 3), dtype=np.float32)
    result = bake_views(mesh, white, front, texture_size=TEXTURE, backend="torch")
    texels, points = texel_points(mesh, TEXTURE)
    covered = result.covered.reshape(-1)[texels]
    on_back_ball = np.linalg.norm(points, axis=1) < 0.5 + 1e-3
    shadowed = on_back_ball & (np.hypot(points[:, 0], points[:, 1]) < 0.28)
    assert shadowed.sum() > 50 and covered[shadowed].sum() == 0
    visible = on_back_ball & (np.hypot(points[:, 0], points[:, 1]) > 0.36) & (points[:, 2] > 0.25)
    assert visible.sum() > 50 and covered[visible].mean() > 0.9


def test_bands_and_view_masks(sphere, six_views):
    images, cameras = six_views
    whole = bake_views(sphere, images, cameras, texture_size=TEXTURE, backend="torch")
    banded = bake_views(sphere, images, cameras, texture_size=TEXTURE, backend="torch",
                        band_texels=TEXTURE * 7)
    same = whole.covered & banded.covered
    assert (whole.covered != banded.covered).sum() <= 0.001 * whole.covered.sum()
    # other band offsets move the UV clip positions by float rounding, so a few
    # barycentrics differ in the last bits
    difference = np.abs(whole.texture[same] - banded.texture[same]).max(axis=1)
    assert (difference > 1e-4).sum() <= 0.001 * same.sum() and difference.max() < 0.01
    masks = np.ones(images.shape[:3], dtype=bool)
    masks[:, :, : RENDER // 2] = False  # nothing from the left half of every image
    masked = bake_views(sphere, images, cameras, texture_size=TEXTURE, backend="torch",
                        view_masks=masks)
    assert masked.covered.sum() < whole.covered.sum()
    assert not (masked.covered & ~whole.covered).any()


def test_reliable_pixels_drop_silhouette_and_depth_edges():
    mask = np.zeros((64, 64), dtype=bool)
    mask[8:56, 8:56] = True
    depth = np.full((64, 64), 2.0, dtype=np.float32)
    depth[8:56, 32:56] = 1.0  # a step: the right half is nearer
    kernel = unreliable_kernel_size(1024)
    assert kernel == 9
    reliable = reliable_pixels(mask, depth, kernel)
    assert reliable[20, 20] and reliable[20, 44]
    assert not reliable[9, 20] and not reliable[20, 9]  # near the silhouette
    assert not reliable[20, 31] and not reliable[20, 33]  # near the depth step
    assert unreliable_kernel_size(2048) == 17 and unreliable_kernel_size(128) == 1


def test_bad_input_is_reported(sphere, six_views):
    images, cameras = six_views
    with pytest.raises(ValueError, match="no UVs"):
        bake_views(Mesh(sphere.vertices, sphere.faces), images, cameras, texture_size=TEXTURE)
    with pytest.raises(ValueError, match="faces"):
        bake_views(Mesh(sphere.vertices, np.zeros((0, 3), dtype=np.int64),
                        uvs=sphere.uvs), images, cameras, texture_size=TEXTURE)
    tiled = Mesh(sphere.vertices, sphere.faces, uvs=sphere.uvs * 2)
    with pytest.raises(ValueError, match="0..1 square"):
        bake_views(tiled, images, cameras, texture_size=TEXTURE)
    broken = sphere.copy()
    broken.vertices[3] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        bake_views(broken, images, cameras, texture_size=TEXTURE)
    with pytest.raises(ValueError, match="5 views but 6 cameras"):
        bake_views(sphere, images[:5], cameras, texture_size=TEXTURE)
    for size in (32, 8192, 100.5):
        with pytest.raises(ValueError, match="texture_size"):
            bake_views(sphere, images, cameras, texture_size=size)
    with pytest.raises(ValueError, match="RGB images"):
        bake_views(sphere, images[..., :2], cameras, texture_size=TEXTURE)
    with pytest.raises(ValueError, match="0..1"):
        bake_views(sphere, images * 255, cameras, texture_size=TEXTURE)
    with pytest.raises(ValueError, match="view_masks"):
        bake_views(sphere, images, cameras, texture_size=TEXTURE, view_masks=np.ones((6, 8, 8)))
