"""Bake view images into a UV texture, with the release's weighting.

What the release does (docs/release_conventions.md, section 14): the mesh is normalised into the
renderer's frame, each view contributes ``view_weight * cos^4``, where ``cos`` is the
cosine between the interpolated smooth vertex normal (in camera space) and the view
axis; a view contributes nothing where that angle exceeds 75 degrees, near its
silhouette (the covered mask eroded by a square kernel of ``2 * int(2 / 512 * res) + 1``
pixels) and near depth discontinuities (Canny edges, thresholds 30 and 80, of the
visible depth normalised to 0..255, dilated by the same kernel); the views are averaged
by weight.

How it is done here: the release splats every visible pixel into the texture at its
UV. Instead, the mesh is rasterised in UV space (``uv_raster.py``), giving each texel
its 3D point and normal; the point is projected into every view, the view image is
sampled there bilinearly, and the point counts as seen when it is no farther than the
view's depth map (rendered with the same rasterizer) at the nearest pixel, within a few
pixels' worth of depth (a surface sloping at 75 degrees changes depth by 2.6 pixel
widths within one pixel diagonal). A texel is only taken from a view when all four
pixels it is interpolated from are reliable, so no silhouette or background pixel
leaks in. The result is hole-free at any texture size.

Three deliberate differences: normals are computed on the welded surface (the release
computes them on the seam-split mesh, so seam vertices get one-sided normals); the
depth range normalised for edge detection is floored at ``MIN_DEPTH_RANGE``; and every
view is merged by weight, whereas the release drops a view whose texels are already
99 % painted (a nearly redundant view, whose small share is blended in here).

Memory stays bounded at any texture size: UV space is rasterised in bands and each
band's texels are processed in chunks; per view only a depth map and a reliability mask
are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..geometry.welding import weld_vertices
from ..render.cameras import CameraSet
from ..render.normalization import RELEASED_SCALE_FACTOR, mesh_in_render_frame
from ..render.rasterizer import get_rasterizer, interpolate
from ..sampling.progress import Progress
from .surface_topology import check_texturable_mesh, check_texture_size, welded_vertex_normals
from .uv_raster import DEFAULT_BAND_TEXELS, texel_bands

RELEASED_COS_POWER = 4.0
RELEASED_MAX_ANGLE = 75.0
CANNY_THRESHOLDS = (30, 80)
DEPTH_TOLERANCE_PIXELS = 4.0
CHUNK_TEXELS = 1 << 18
# The release divides by the visible depth range as it is; for a surface facing the
# camera squarely that range is float noise, amplified into spurious edges. One
# hundredth of the normalised object's size (1.15) is far below any real range.
MIN_DEPTH_RANGE = 0.01
MAX_VIEWS = 255  # view_count is uint8


@dataclass(frozen=True, eq=False)
class BakeResult:
    """``texture`` ``[T, T, 3]`` float32: the weighted mean of the views, 0 where no view
    contributed; ``weight`` ``[T, T]``: the summed weights; ``covered``: ``weight > 0``;
    ``view_count`` ``[T, T]`` uint8: how many views contributed; ``chart`` ``[T, T]``:
    texels inside some UV triangle (the texels a render of the mesh can show)."""

    texture: np.ndarray
    weight: np.ndarray
    covered: np.ndarray
    view_count: np.ndarray
    chart: np.ndarray

    @property
    def coverage(self) -> float:
        """Share of chart texels that some view painted."""
        return float(self.covered.sum()) / max(int(self.chart.sum()), 1)


def unreliable_kernel_size(resolution: int) -> int:
    """The release's square kernel for silhouette erosion and edge dilation."""
    return 2 * int(2 / 512 * resolution) + 1


def reliable_pixels(mask: np.ndarray, depth: np.ndarray, kernel: int) -> np.ndarray:
    """Covered pixels away from the silhouette and from depth discontinuities.

    ``mask`` ``[H, W]`` bool, ``depth`` ``[H, W]`` distance in front of the camera
    (anything where not covered). Pixels beyond the image border count as covered, as
    in the release.
    """
    import cv2

    square = np.ones((kernel, kernel), dtype=np.uint8)
    eroded = cv2.erode(mask.astype(np.uint8), square) > 0
    nearness = np.zeros(mask.shape, dtype=np.float32)
    if mask.any():
        visible = depth[mask]
        near, far = float(visible.min()), float(visible.max())
        nearness[mask] = (far - visible) / max(far - near, MIN_DEPTH_RANGE)
    edges = cv2.Canny((nearness * 255).astype(np.uint8), *CANNY_THRESHOLDS)
    near_edge = cv2.dilate(edges, square) > 0
    return eroded & ~near_edge


@dataclass(frozen=True, eq=False)
class _View:
    """What baking needs from one view, flattened to ``[H * W]`` pixels.

    ``reliable_square[p]`` says pixel ``p`` and its right, lower and lower-right
    neighbours are all reliable: the four pixels a bilinear lookup there reads.
    """

    image: torch.Tensor
    depth: torch.Tensor
    reliable_square: torch.Tensor
    world_to_camera: torch.Tensor
    projection: torch.Tensor
    weight: float


def _render_view(vertices, faces, cameras, view, image, extra_mask, rasterizer, kernel) -> _View:
    height, width = image.shape[:2]
    device = vertices.device
    rast = rasterizer.rasterize(cameras.to_clip(vertices)[view], faces, (height, width))
    distance = -cameras.to_camera(vertices)[view, :, 2:]
    depth = interpolate(distance, rast, faces)[..., 0].to(device)
    mask = rast.mask.to(device)
    reliable = reliable_pixels(mask.cpu().numpy(), depth.cpu().numpy(), kernel)
    if extra_mask is not None:
        import cv2

        square = np.ones((kernel, kernel), dtype=np.uint8)
        reliable &= cv2.erode(extra_mask.astype(np.uint8), square) > 0
    reliable_square = np.zeros_like(reliable)
    reliable_square[:-1, :-1] = (reliable[:-1, :-1] & reliable[1:, :-1]
                                 & reliable[:-1, 1:] & reliable[1:, 1:])
    # Empty pixels are "infinitely near": every surface point fails the depth test there.
    depth = depth.masked_fill(~mask, -math.inf)
    return _View(
        image=image.reshape(-1, 3),
        depth=depth.reshape(-1),
        reliable_square=torch.from_numpy(reliable_square).to(device).reshape(-1),
        world_to_camera=cameras.world_to_camera[view].to(device),
        projection=cameras.projection.to(device),
        weight=float(cameras.weights[view]),
    )


def _contribution(view: _View, points, normals, size, min_cos, cos_power):
    """Where one view contributes among texel points ``[n, 3]`` (indices ``[m]``), with
    what weight ``[m]`` and colour ``[m, 3]``."""
    height, width = size
    rotation, translation = view.world_to_camera[:3, :3], view.world_to_camera[:3, 3]
    camera = points @ rotation.T + translation
    clip = torch.cat([camera, torch.ones_like(camera[:, :1])], dim=1) @ view.projection.T
    w = clip[:, 3]
    in_front = w > 0
    w = torch.where(in_front, w, torch.ones_like(w))
    column = (clip[:, 0] / w + 1) * (width / 2) - 0.5
    row = (clip[:, 1] / w + 1) * (height / 2) - 0.5
    left, top = column.floor(), row.floor()
    inside = in_front & (left >= 0) & (left < width - 1) & (top >= 0) & (top < height - 1)
    fx, fy = column - left, row - top
    top = top.clamp(0, height - 2).to(torch.int64)
    corner = top * width + left.clamp(0, width - 2).to(torch.int64)
    nearest = corner + (fx >= 0.5).to(torch.int64) + width * (fy >= 0.5).to(torch.int64)
    footprint = 2 * w / (min(float(view.projection[0, 0]) * width,
                             float(view.projection[1, 1]) * height))
    seen = -camera[:, 2] <= view.depth.index_select(0, nearest) + DEPTH_TOLERANCE_PIXELS * footprint
    cos = -(normals @ rotation[2]) / normals.norm(dim=1).clamp(min=1e-12)
    good = inside & view.reliable_square.index_select(0, corner) & seen & (cos >= min_cos)
    where = good.nonzero().squeeze(1)
    corner, fx, fy = corner[where], fx[where, None], fy[where, None]
    image = view.image
    colour = ((1 - fx) * (1 - fy) * image.index_select(0, corner)
              + fx * (1 - fy) * image.index_select(0, corner + 1)
              + (1 - fx) * fy * image.index_select(0, corner + width)
              + fx * fy * image.index_select(0, corner + width + 1))
    return where, view.weight * cos[where] ** cos_power, colour


def _as_views(views, cameras: CameraSet, device: torch.device) -> torch.Tensor:
    views = torch.as_tensor(np.asarray(views) if not isinstance(views, torch.Tensor) else views)
    if views.ndim != 4 or views.shape[-1] != 3:
        raise ValueError(
            f"views must be RGB images [V, H, W, 3], got {list(views.shape)}; give an "
            "alpha channel separately as view_masks."
        )
    if views.shape[0] != len(cameras):
        raise ValueError(
            f"There are {views.shape[0]} views but {len(cameras)} cameras; give one "
            "camera per view, in the same order."
        )
    if views.shape[0] > MAX_VIEWS:
        raise ValueError(f"At most {MAX_VIEWS} views can be baked at once, got {views.shape[0]}.")
    if min(views.shape[1:3]) < 8:
        raise ValueError(f"views must be at least 8x8 pixels, got {list(views.shape[1:3])}.")
    if not views.dtype.is_floating_point:
        raise ValueError(f"views must be float images in 0..1, got dtype {views.dtype}.")
    views = views.to(device=device, dtype=torch.float32)
    # min and max are NaN when any value is, which fails both tests; no full-size
    # temporaries (the views alone are 300 MB at the released size)
    low, high = float(views.min()), float(views.max())
    if not (low >= -1e-3 and high <= 1 + 1e-3):
        raise ValueError("views must hold finite values in 0..1 (divide 8-bit images by 255).")
    return views


def _as_view_masks(view_masks, views: torch.Tensor) -> np.ndarray | None:
    if view_masks is None:
        return None
    masks = (view_masks.cpu().numpy() if isinstance(view_masks, torch.Tensor)
             else np.asarray(view_masks))
    if masks.shape != tuple(views.shape[:3]):
        raise ValueError(
            f"view_masks must be [V, H, W] = {list(views.shape[:3])}, got {list(masks.shape)}."
        )
    return masks > 0.5


def bake_views(
    mesh: Mesh,
    views,
    cameras: CameraSet,
    *,
    texture_size: int = 2048,
    cos_power: float = RELEASED_COS_POWER,
    max_angle: float = RELEASED_MAX_ANGLE,
    view_masks=None,
    scale_factor: float = RELEASED_SCALE_FACTOR,
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    band_texels: int = DEFAULT_BAND_TEXELS,
) -> BakeResult:
    """Bake ``views`` ``[V, H, W, 3]`` (float 0..1, torch or numpy, rows top to bottom),
    seen by ``cameras`` (weights from ``cameras.weights``), into ``mesh``'s UVs.

    ``mesh`` is in its file's frame; it is normalised here exactly as for the geometry
    maps, so views generated from those maps line up. ``view_masks`` ``[V, H, W]``
    optionally restricts each view to its object pixels (eroded like the silhouette).
    """
    check_texturable_mesh(mesh, need_uvs=True)
    texture_size = check_texture_size(texture_size)
    if not 0 < max_angle <= 90:
        raise ValueError(f"max_angle must be in (0, 90] degrees, got {max_angle}.")
    if cos_power < 0:
        raise ValueError(f"cos_power must be non-negative, got {cos_power}.")
    device = torch.device(device)
    views = _as_views(views, cameras, device)
    masks = _as_view_masks(view_masks, views)
    rasterizer = get_rasterizer(backend, device)

    vertices, faces, _ = mesh_in_render_frame(mesh, device, scale_factor)
    normals = welded_vertex_normals(vertices, faces, weld_vertices(mesh.vertices, mesh.faces))
    size = tuple(views.shape[1:3])
    kernel = unreliable_kernel_size(max(size))
    bands = -(-texture_size // max(1, band_texels // texture_size))
    total = len(cameras) + bands
    prepared = []
    for view in range(len(cameras)):
        prepared.append(_render_view(vertices, faces, cameras, view, views[view],
                                     None if masks is None else masks[view], rasterizer, kernel))
        if progress is not None:
            progress.step(view + 1, total)

    texel_count = texture_size * texture_size
    colour_sum = torch.zeros(texel_count, 3, device=device)
    weight_sum = torch.zeros(texel_count, device=device)
    view_count = torch.zeros(texel_count, dtype=torch.uint8, device=device)
    chart = torch.zeros(texel_count, dtype=torch.bool, device=device)
    min_cos = math.cos(math.radians(max_angle))
    uvs = torch.from_numpy(mesh.uvs).to(device)
    done = len(cameras)
    for band in texel_bands(uvs, faces, texture_size, rasterizer, band_texels):
        chart[band.texels] = True
        for chunk in band.split(CHUNK_TEXELS):
            points = chunk.interpolate(vertices, faces)
            texel_normals = chunk.interpolate(normals, faces)
            colour = torch.zeros(points.shape[0], 3, device=device)
            weight = torch.zeros(points.shape[0], device=device)
            count = torch.zeros(points.shape[0], dtype=torch.uint8, device=device)
            for view in prepared:
                where, view_weight, view_colour = _contribution(
                    view, points, texel_normals, size, min_cos, cos_power
                )
                colour.index_add_(0, where, view_weight[:, None] * view_colour)
                weight.index_add_(0, where, view_weight)
                count[where] += 1
            colour_sum[chunk.texels] = colour
            weight_sum[chunk.texels] = weight
            view_count[chunk.texels] = count
        done += 1
        if progress is not None:
            progress.step(done, total)
    if progress is not None and done < total:  # bands without faces were skipped
        progress.step(total, total)
    covered = weight_sum > 0
    texture = torch.where(covered[:, None], colour_sum / weight_sum.clamp(min=1e-30)[:, None],
                          torch.zeros_like(colour_sum)).clamp(0, 1)
    shape = (texture_size, texture_size)
    return BakeResult(
        texture=texture.view(*shape, 3).cpu().numpy(),
        weight=weight_sum.view(shape).cpu().numpy(),
        covered=covered.view(shape).cpu().numpy(),
        view_count=view_count.view(shape).cpu().numpy(),
        chart=chart.view(shape).cpu().numpy(),
    )
