"""Projecting the reference image (and extra views) onto a mesh."""

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.image.prepare import prepare_image
from hy3d_core.render.cameras import orbit_cameras
from hy3d_core.texture.projection import (
    fit_image_to_silhouette,
    project_texture,
    project_texture_detailed,
)
from hy3d_core.texture.textured_render import render_textured
from hy3d_core.texture.uv_unwrap import unwrap_uv

RENDER = 192
TEXTURE = 128


def figure() -> Mesh:
    """An asymmetric object: a tall box with a ball stuck on its upper right front."""
    box = trimesh.creation.box(extents=(1.0, 1.6, 0.7))
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.35)
    ball.apply_translation((0.45, 0.6, 0.2))
    joined = trimesh.util.concatenate([box, ball]).subdivide().subdivide()
    return Mesh(joined.vertices, joined.faces)


def smooth_texture(size: int) -> np.ndarray:
    rows, columns = np.mgrid[0:size, 0:size] / size
    return np.stack([0.2 + 0.6 * columns, 0.2 + 0.6 * rows,
                     0.5 + 0.3 * np.sin(4 * columns)], axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def source():
    """The figure with a known texture, and its front render as an RGBA photo."""
    mesh = unwrap_uv(figure())
    textured = mesh.with_texture(smooth_texture(TEXTURE))
    images, masks = render_textured(textured, orbit_cameras([0.0], [0.0]), RENDER, backend="torch")
    rgba = np.dstack([images[0].numpy(), masks[0].numpy().astype(np.float32)])
    return textured, rgba


def interior(mask: np.ndarray, margin: int) -> np.ndarray:
    import cv2

    return cv2.erode(mask.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) > 0




def test_an_image_from_another_view_lines_up_when_its_pose_is_given(source):
    textured, _ = source
    images, masks = render_textured(textured, orbit_cameras([30.0], [20.0]), RENDER, backend="torch")
    rgba = np.dstack([images[0].numpy(), masks[0].numpy().astype(np.float32)])
    untextured = Mesh(textured.vertices, textured.faces, uvs=textured.uvs)
    posed = project_texture_detailed(untextured, rgba, image_view=(30.0, 20.0),
                                     texture_size=TEXTURE, render_size=RENDER, backend="torch")
    as_front = project_texture_detailed(untextured, rgba, texture_size=TEXTURE,
                                        render_size=RENDER, backend="torch")
    assert posed.silhouette_iou[0] > 0.97
    assert as_front.silhouette_iou[0] < posed.silhouette_iou[0] - 0.03
    rendered, rendered_masks = render_textured(posed.mesh, orbit_cameras([30.0], [20.0]), RENDER,
                                               backend="torch")
    inside = interior(rendered_masks[0].numpy() & masks[0].numpy(), 4)
    error = rendered[0].numpy()[inside] - images[0].numpy()[inside]
    assert 10 * np.log10(1 / np.mean(error**2)) > 25.0
    with pytest.raises(ValueError, match="image_view"):
        project_texture_detailed(untextured, rgba, image_view=(30.0,), texture_size=TEXTURE,
                                 render_size=RENDER, backend="torch")
def test_front_render_lines_up_with_the_image_it_came_from(source):
    textured, rgba = source
    # reframed as the shape stage does (object fills 85 % of the canvas): the fit to the
    # mesh silhouette must undo that framing
    prepared = prepare_image((rgba * 255).round().astype(np.uint8), size=256)
    photo = np.dstack([prepared.rgb, prepared.mask])
    untextured = Mesh(textured.vertices, textured.faces, uvs=textured.uvs)
    result = project_texture_detailed(untextured, photo, texture_size=TEXTURE,
                                      render_size=RENDER, backend="torch")
    assert result.silhouette_iou[0] > 0.97
    assert result.mesh.texture.shape == (TEXTURE, TEXTURE, 3)
    assert np.array_equal(result.mesh.uvs, textured.uvs)
    images, masks = render_textured(result.mesh, orbit_cameras([0.0], [0.0]), RENDER,
                                    backend="torch")
    assert np.array_equal(masks[0].numpy(), rgba[..., 3] > 0.5)
    inside = interior(masks[0].numpy(), 4)
    error = images[0].numpy()[inside] - rgba[..., :3][inside]
    # measured 31.7 dB (resampling by the reframing, the warp and the bake, and the
    # texture's seams, which bilinear sampling blurs)
    assert 10 * np.log10(1 / np.mean(error**2)) > 28.0
    assert np.percentile(np.abs(error).max(axis=1), 95) < 0.05


def test_extra_views_paint_what_the_front_cannot_see():
    ball = trimesh.creation.icosphere(subdivisions=3)
    mesh = Mesh(ball.vertices, ball.faces)
    red = np.zeros((64, 64, 4), dtype=np.uint8)
    red[..., 0], red[..., 3] = 220, 255
    blue = red.copy()
    blue[..., 0], blue[..., 2] = 0, 220
    textured = project_texture(mesh, red, extra_views=[(blue, 180.0, 0.0)],
                               texture_size=TEXTURE, render_size=RENDER, backend="torch")
    assert textured.uvs is not None  # unwrapped, since the sphere had no UVs
    images, masks = render_textured(textured, orbit_cameras([0.0, 180.0], [0.0, 0.0]), RENDER,
                                    backend="torch")
    front, back = images[0][masks[0]].numpy(), images[1][masks[1]].numpy()
    assert np.median(front[:, 0]) > 0.8 and np.median(front[:, 2]) < 0.05
    assert np.median(back[:, 2]) > 0.8 and np.median(back[:, 0]) < 0.05


def test_rgb_with_mask_and_background_kept_off_the_mesh(source):
    textured, rgba = source
    # a photo whose background is magenta: only the masked pixels may be used
    rgb = np.where(rgba[..., 3:] > 0.5, rgba[..., :3], np.array([1.0, 0.0, 1.0], np.float32))
    untextured = Mesh(textured.vertices, textured.faces, uvs=textured.uvs)
    result = project_texture(untextured, rgb, mask=rgba[..., 3], texture_size=TEXTURE,
                             render_size=RENDER, backend="torch")
    red, green, blue = np.moveaxis(result.texture, -1, 0)
    magenta = (red > 0.9) & (green < 0.1) & (blue > 0.9)
    assert not magenta.any()


def test_fit_scales_and_shifts_each_axis():
    silhouette = np.zeros((100, 100), dtype=bool)
    silhouette[20:80, 30:60] = True
    alpha = np.zeros((50, 50), dtype=np.float32)
    alpha[5:15, 10:40] = 1.0
    rgb = np.ones((50, 50, 3), dtype=np.float32)
    rgb[5:15, 10:40] = (0.2, 0.4, 0.6)
    silhouette_in_50 = np.zeros((50, 50), dtype=bool)
    silhouette_in_50[10:40, 15:30] = True
    fitted = fit_image_to_silhouette(rgb, alpha, silhouette_in_50)
    assert fitted.silhouette_iou == pytest.approx(1.0)
    assert np.allclose(fitted.rgb[20, 20], (0.2, 0.4, 0.6), atol=1e-6)
    assert np.allclose(fitted.rgb[5, 5], 1.0)


def test_bad_input_is_reported():
    ball = trimesh.creation.icosphere(subdivisions=1)
    mesh = unwrap_uv(Mesh(ball.vertices, ball.faces))
    clear = np.zeros((32, 32, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="the image: .*transparent"):
        project_texture(mesh, clear, texture_size=64, render_size=64, backend="torch")
    solid = np.full((32, 32, 4), 255, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"extra view 1 \(azimuth 90.0.*transparent"):
        project_texture(mesh, solid, extra_views=[(clear, 90, 0)], texture_size=64,
                        render_size=64, backend="torch")
    with pytest.raises(ValueError, match=r"\(image, azimuth, elevation\)"):
        project_texture(mesh, solid, extra_views=[(solid, 90)], texture_size=64,
                        render_size=64, backend="torch")
    with pytest.raises(ValueError, match="render_size"):
        project_texture(mesh, solid, texture_size=64, render_size=16)
    with pytest.raises(ValueError, match="texture_size"):
        project_texture(mesh, solid, texture_size=5000)
