"""Baking Paint 2.1's albedo and metallic-roughness views into one mesh's textures."""

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.io.mesh_files import load_mesh, save_mesh
from hy3d_core.render.cameras import orbit_cameras
from hy3d_core.render.normalization import normalize_for_render
from hy3d_core.render.torch_rasterizer import TorchRasterizer
from hy3d_core.render.view_selection import select_bake_views
from hy3d_core.texture.pbr_baking import bake_pbr_materials, bake_pbr_views, inpaint_pbr_maps, prepare_views
from hy3d_core.texture.uv_raster import chart_mask, texel_bands
from hy3d_core.texture.uv_unwrap import unwrap_uv

VIEW = 48
RENDER = 96
TEXTURE = 64
ALBEDO = (0.2, 0.4, 0.6)
METALLIC, ROUGHNESS = 0.25, 0.75


@pytest.fixture(scope="module")
def sphere() -> Mesh:
    ico = trimesh.creation.icosphere(subdivisions=3)
    return unwrap_uv(Mesh(ico.vertices, ico.faces))


@pytest.fixture(scope="module")
def cameras(sphere):
    vertices, _ = normalize_for_render(torch.from_numpy(sphere.vertices))
    return select_bake_views(vertices, torch.from_numpy(sphere.faces), 6, resolution=64,
                             rasterizer=TorchRasterizer())


def constant_views(count: int, colour) -> torch.Tensor:
    return torch.tensor(colour, dtype=torch.float32).expand(count, VIEW, VIEW, 3).clone()


@pytest.fixture(scope="module")
def baked(sphere, cameras):
    albedo = constant_views(len(cameras), ALBEDO)
    mr = constant_views(len(cameras), (METALLIC, ROUGHNESS, 0.9))
    return bake_pbr_views(sphere, albedo, mr, cameras, texture_size=TEXTURE, render_size=RENDER,
                          backend="torch")


def test_both_materials_bake_back_to_their_constant_values(sphere, baked):
    assert baked.texture.shape == (TEXTURE, TEXTURE, 3)
    assert baked.metallic_roughness.shape == (TEXTURE, TEXTURE, 2)
    np.testing.assert_array_equal(baked.uvs, sphere.uvs)
    chart = chart_mask(torch.from_numpy(sphere.uvs), torch.from_numpy(sphere.faces), TEXTURE,
                       TorchRasterizer())
    assert chart.mean() > 0.3
    # painted and inpainted texels alike (inpainting works on 8-bit levels)
    np.testing.assert_allclose(baked.texture[chart], np.broadcast_to(ALBEDO, (chart.sum(), 3)),
                               atol=1 / 255)
    np.testing.assert_allclose(baked.metallic_roughness[chart][:, 0], METALLIC, atol=1 / 255)
    np.testing.assert_allclose(baked.metallic_roughness[chart][:, 1], ROUGHNESS, atol=1 / 255)
    # outside the charts too: no black background for mip-mapped lookups to reach
    np.testing.assert_allclose(baked.metallic_roughness[..., 1], ROUGHNESS, atol=1 / 255)


def test_baked_mesh_round_trips_through_glb(baked, tmp_path):
    loaded = load_mesh(save_mesh(baked, tmp_path / "pbr.glb"))
    np.testing.assert_allclose(loaded.metallic_roughness[..., 0], METALLIC, atol=1.5 / 255)
    np.testing.assert_allclose(loaded.metallic_roughness[..., 1], ROUGHNESS, atol=1.5 / 255)
    np.testing.assert_allclose(loaded.texture, baked.texture, atol=0.5 / 255 + 1e-6)


def test_the_upscaler_hook_is_applied_to_each_material(sphere, cameras):
    calls = []

    def upscale(views: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(views.shape))
        doubled = views.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
        return 1.0 - doubled  # a change the bake must show, so the hook's output is used

    albedo = constant_views(len(cameras), ALBEDO)
    mr = constant_views(len(cameras), (METALLIC, ROUGHNESS, 0.0))
    result = bake_pbr_views(sphere, albedo, mr, cameras, texture_size=TEXTURE, render_size=RENDER,
                            upscale=upscale, backend="torch")
    assert calls == [(len(cameras), VIEW, VIEW, 3)] * 2
    np.testing.assert_allclose(result.texture.reshape(-1, 3),
                               np.broadcast_to(1 - np.array(ALBEDO), (TEXTURE * TEXTURE, 3)),
                               atol=1 / 255)
    np.testing.assert_allclose(result.metallic_roughness.reshape(-1, 2),
                               np.broadcast_to([1 - METALLIC, 1 - ROUGHNESS], (TEXTURE * TEXTURE, 2)),
                               atol=1 / 255)


def test_prepare_views_resizes_and_clamps():
    checker = torch.zeros(2, 8, 8, 3)
    checker[:, ::2, ::2] = 1.0
    checker[:, 1::2, 1::2] = 1.0
    resized = prepare_views(checker, 32)
    assert resized.shape == (2, 32, 32, 3)
    assert resized.min() >= 0.0 and resized.max() <= 1.0
    # bicubic overshoots a checkerboard; the clamp keeps the bake's 0..1 contract
    raw = torch.nn.functional.interpolate(checker.permute(0, 3, 1, 2), size=(32, 32),
                                          mode="bicubic", antialias=True)
    assert raw.max() > 1.0
    same = prepare_views(np.full((1, 16, 16, 3), 0.5, np.float32), 16)
    assert torch.equal(same, torch.full((1, 16, 16, 3), 0.5))


def test_bad_input_is_refused_before_any_baking(sphere, cameras):
    albedo = constant_views(len(cameras), ALBEDO)
    with pytest.raises(ValueError, match="5 metallic-roughness views but 6 cameras"):
        bake_pbr_views(sphere, albedo, albedo[:5], cameras, texture_size=TEXTURE, render_size=RENDER)
    with pytest.raises(ValueError, match="float images"):
        bake_pbr_views(sphere, albedo, (albedo * 255).to(torch.uint8), cameras,
                       texture_size=TEXTURE, render_size=RENDER)
    with pytest.raises(ValueError, match="no UVs"):
        bake_pbr_views(Mesh(sphere.vertices, sphere.faces), albedo, albedo, cameras)
    with pytest.raises(ValueError, match="returned 1"):
        bake_pbr_views(sphere, albedo, albedo, cameras, texture_size=TEXTURE, render_size=RENDER,
                       upscale=lambda views: views[:1], backend="torch")


def test_views_blend_by_view_weight_times_cos_to_the_fourth(sphere):
    # Front (weight 1) paints red, right (weight 0.1) blue; where both see the sphere the
    # albedo is their mean weighted by weight * cos^4, and the mr map blends the same way.
    cameras = orbit_cameras([0.0, 90.0], [0.0, 0.0], [1.0, 0.1])
    albedo = torch.stack([constant_views(1, (1.0, 0.0, 0.0))[0],
                          constant_views(1, (0.0, 0.0, 1.0))[0]])
    mr = torch.stack([constant_views(1, (0.0, 1.0, 0.0))[0],
                      constant_views(1, (1.0, 0.0, 0.0))[0]])
    result = bake_pbr_views(sphere, albedo, mr, cameras, texture_size=TEXTURE,
                            render_size=RENDER, backend="torch")
    vertices, _ = normalize_for_render(torch.from_numpy(sphere.vertices))
    faces = torch.from_numpy(sphere.faces)
    directions = torch.nn.functional.normalize(cameras.positions, dim=1).double()
    checked = blended_count = 0
    for band in texel_bands(torch.from_numpy(sphere.uvs), faces, TEXTURE, TorchRasterizer()):
        radial = torch.nn.functional.normalize(band.interpolate(vertices, faces), dim=1).double()
        cos = radial @ directions.T
        both = (cos > 0.5).all(dim=1)  # well inside 75 degrees and away from silhouettes
        weights = torch.tensor([1.0, 0.1], dtype=torch.float64) * cos[both] ** 4
        red_share = (weights[:, 0] / weights.sum(dim=1)).numpy()
        texels = band.texels[both].numpy()
        baked_albedo = result.texture.reshape(-1, 3)[texels]
        baked_mr = result.metallic_roughness.reshape(-1, 2)[texels]
        # a view may still drop a texel near a depth edge or UV seam (the baker's
        # reliability rules); the rest must show the weighted blend
        blended = (baked_albedo[:, 0] > 0.01) & (baked_albedo[:, 2] > 0.01)
        share = red_share[blended]
        np.testing.assert_allclose(baked_albedo[blended, 0], share, atol=0.03)
        np.testing.assert_allclose(baked_albedo[blended, 2], 1 - share, atol=0.03)
        np.testing.assert_allclose(baked_mr[blended, 0], 1 - share, atol=0.03)  # metallic
        np.testing.assert_allclose(baked_mr[blended, 1], share, atol=0.03)  # roughness
        checked += len(texels)
        blended_count += int(blended.sum())
    assert checked > 20 and blended_count >= 0.9 * checked


def test_baking_then_inpainting_in_two_steps_is_the_one_step_bake(sphere, cameras, baked):
    # the node graph's path (Bake Texture, then Inpaint Texture) gives the pipeline's maps
    albedo = constant_views(len(cameras), ALBEDO)
    mr = constant_views(len(cameras), (METALLIC, ROUGHNESS, 0.9))
    bake = bake_pbr_materials(sphere, albedo, mr, cameras, texture_size=TEXTURE, render_size=RENDER,
                              backend="torch")
    assert bake.covered.shape == (TEXTURE, TEXTURE) and 0.2 < bake.covered.mean() < 1.0
    assert bake.mesh.metallic_roughness.shape == (TEXTURE, TEXTURE, 2)
    assert not bake.mesh.texture[~bake.covered].any()  # not filled yet
    filled = inpaint_pbr_maps(bake.mesh, bake.covered, backend="torch")
    np.testing.assert_array_equal(filled.texture, baked.texture)
    np.testing.assert_array_equal(filled.metallic_roughness, baked.metallic_roughness)
