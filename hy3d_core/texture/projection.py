"""Texture a mesh by projecting the reference image (and optional extra views) onto it.

No learned model: the reference image is the front view (azimuth 0, elevation 0 of the
released cameras), baked with the release's weighting, and what it cannot see is
inpainted. That gives an image-to-3D result a usable texture without the Paint models.

Alignment assumption. The mesh faces the viewer as the shape stage outputs it (front
towards +z, +y up, the glTF convention the released front camera looks along), and the
image shows that front under a roughly orthographic projection. The framing is *not*
assumed to match: the shape stage's input is recentred so the object's longer side
fills 85 % of the canvas (border 0.15), whereas the renderer's normalisation sizes the
mesh by its bounding sphere (diameter 1.15 in a 1.2 wide frame), so the front
silhouette fills anywhere from ~55 % (a cube) to ~96 % (a sphere) of the frame. Each
image is therefore recentred exactly as the shape stage does (``prepare_image``) and
then its alpha bounding box is fitted onto the bounding box of the mesh's silhouette
in that view (scale and offset per axis). ``silhouette_iou`` reports how well the two
silhouettes agree afterwards; a low value means the mesh does not face the camera as
assumed or does not match the image. Image pixels are only used inside the image's
alpha (eroded like the mesh silhouette), so background never lands on the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..image.prepare import DEFAULT_BORDER_RATIO, prepare_image
from ..render.cameras import CameraSet, orbit_cameras
from ..render.normalization import mesh_in_render_frame
from ..render.pbr_condition_maps import RELEASED_RENDER_SIZE
from ..render.rasterizer import get_rasterizer
from ..sampling.progress import Progress
from .baking import BakeResult, bake_views
from .inpainting import inpaint_texture
from .surface_topology import check_texturable_mesh, check_texture_size
from .uv_unwrap import UnwrapOptions, unwrap_uv

DEFAULT_EXTRA_VIEW_WEIGHT = 0.5
# (azimuth, elevation) of the image by default: the release's shape models turn a front
# view into a mesh facing it.
FRONT_VIEW = (0.0, 0.0)
MIN_RENDER_SIZE = 64
MAX_RENDER_SIZE = 8192


@dataclass(frozen=True, eq=False)
class TextureProjection:
    """The textured mesh, the bake before inpainting, and per view the intersection
    over union of the fitted image silhouette and the mesh's silhouette."""

    mesh: Mesh
    bake: BakeResult
    silhouette_iou: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class FittedView:
    """An image moved into a camera's pixel grid: ``rgb`` ``[S, S, 3]`` over white,
    ``mask`` ``[S, S]`` bool, and the silhouette IoU with the mesh."""

    rgb: np.ndarray
    mask: np.ndarray
    silhouette_iou: float


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.nonzero(mask)
    return int(columns.min()), int(columns.max()) + 1, int(rows.min()), int(rows.max()) + 1


def fit_image_to_silhouette(rgb: np.ndarray, alpha: np.ndarray, silhouette: np.ndarray
                            ) -> FittedView:
    """Scale and shift ``rgb``/``alpha`` so the alpha's bounding box covers the
    ``silhouette``'s (both ``[S, S]``, rows top to bottom)."""
    import cv2

    size = silhouette.shape[0]
    image_left, image_right, image_top, image_bottom = _box(alpha > 0.5)
    left, right, top, bottom = _box(silhouette)
    scale_x = (right - left) / (image_right - image_left)
    scale_y = (bottom - top) / (image_bottom - image_top)
    # box edges map onto box edges; OpenCV's pixel centres sit half a pixel inside them
    matrix = np.array([
        [scale_x, 0.0, left - scale_x * image_left + 0.5 * scale_x - 0.5],
        [0.0, scale_y, top - scale_y * image_top + 0.5 * scale_y - 0.5],
    ])
    warped_rgb = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(1.0, 1.0, 1.0))
    warped_alpha = cv2.warpAffine(alpha, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    mask = warped_alpha > 0.5
    union = int((mask | silhouette).sum())
    iou = int((mask & silhouette).sum()) / union if union else 0.0
    return FittedView(np.clip(warped_rgb, 0.0, 1.0), mask, iou)


def _silhouettes(mesh: Mesh, cameras: CameraSet, size: int, backend: str,
                 device: torch.device) -> np.ndarray:
    rasterizer = get_rasterizer(backend, device)
    vertices, faces, _ = mesh_in_render_frame(mesh, device)
    clip = cameras.to_clip(vertices)
    return np.stack([
        rasterizer.rasterize(clip[view], faces, (size, size)).mask.cpu().numpy()
        for view in range(len(cameras))
    ])


def project_texture_detailed(
    mesh: Mesh,
    image,
    *,
    mask=None,
    image_view: tuple[float, float] = FRONT_VIEW,
    extra_views: Sequence[tuple[object, float, float]] = (),
    texture_size: int = 2048,
    render_size: int = RELEASED_RENDER_SIZE,
    extra_view_weight: float = DEFAULT_EXTRA_VIEW_WEIGHT,
    unwrap_options: UnwrapOptions = UnwrapOptions(),
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> TextureProjection:
    """``project_texture``, also returning the bake and the silhouette fit of each view."""
    check_texturable_mesh(mesh, need_uvs=False)
    texture_size = check_texture_size(texture_size)
    if not MIN_RENDER_SIZE <= render_size <= MAX_RENDER_SIZE:
        raise ValueError(
            f"render_size must be {MIN_RENDER_SIZE}..{MAX_RENDER_SIZE}, got {render_size}."
        )
    if extra_view_weight <= 0:
        raise ValueError(f"extra_view_weight must be positive, got {extra_view_weight}.")
    device = torch.device(device)
    if len(image_view) != 2:
        raise ValueError(f"image_view must be (azimuth, elevation), got {image_view!r}.")
    images = [(image, mask, float(image_view[0]), float(image_view[1]))]
    for number, entry in enumerate(extra_views, start=1):
        if len(entry) != 3:
            raise ValueError(
                f"extra view {number} must be (image, azimuth, elevation), got {len(entry)} items."
            )
        images.append((entry[0], None, float(entry[1]), float(entry[2])))
    prepared = []
    for number, (picture, alpha, azimuth, elevation) in enumerate(images):
        try:
            prepared.append(prepare_image(picture, alpha, size=render_size,
                                          border_ratio=DEFAULT_BORDER_RATIO))
        except ValueError as error:
            what = ("the image" if number == 0 else
                    f"extra view {number} (azimuth {azimuth}, elevation {elevation})")
            raise ValueError(f"{what}: {error}") from error
    cameras = orbit_cameras(
        azimuths=[entry[2] for entry in images],
        elevations=[entry[3] for entry in images],
        weights=[1.0] + [extra_view_weight] * (len(images) - 1),
    )
    if mesh.uvs is None:
        mesh = unwrap_uv(mesh, options=unwrap_options, progress=progress)
    fitted = []
    for view, silhouette in enumerate(_silhouettes(mesh, cameras, render_size, backend, device)):
        if not silhouette.any():
            raise ValueError(f"The mesh covers no pixel in view {view}; is it degenerate?")
        fitted.append(fit_image_to_silhouette(prepared[view].rgb, prepared[view].mask, silhouette))
    bake = bake_views(
        mesh,
        np.stack([view.rgb for view in fitted]),
        cameras,
        texture_size=texture_size,
        view_masks=np.stack([view.mask for view in fitted]),
        backend=backend,
        device=device,
        progress=progress,
    )
    texture = inpaint_texture(mesh, bake.texture, bake.covered, backend=backend, device=device)
    return TextureProjection(mesh.with_texture(texture), bake,
                             tuple(view.silhouette_iou for view in fitted))


def project_texture(
    mesh: Mesh,
    image,
    *,
    mask=None,
    image_view: tuple[float, float] = FRONT_VIEW,
    extra_views: Sequence[tuple[object, float, float]] = (),
    texture_size: int = 2048,
    render_size: int = RELEASED_RENDER_SIZE,
    extra_view_weight: float = DEFAULT_EXTRA_VIEW_WEIGHT,
    unwrap_options: UnwrapOptions = UnwrapOptions(),
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> Mesh:
    """``mesh`` with UVs (unwrapped when it has none) and a texture projected from
    ``image`` (``[H, W, 4]`` RGBA, or RGB with ``mask`` ``[H, W]``; uint8 or float 0..1,
    numpy or torch) as the view from the orbit pose ``image_view`` (azimuth, elevation in
    degrees; the front, where the release's shape models put the image), plus ``extra_views``
    ``[(RGBA image, azimuth, elevation), ...]`` weighted ``extra_view_weight`` each (the
    reference weighs 1), baked at ``texture_size`` from views of ``render_size`` pixels
    and inpainted."""
    return project_texture_detailed(
        mesh, image, mask=mask, image_view=image_view, extra_views=extra_views,
        texture_size=texture_size, render_size=render_size, extra_view_weight=extra_view_weight,
        unwrap_options=unwrap_options, backend=backend, device=device, progress=progress,
    ).mesh
