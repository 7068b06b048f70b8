"""Render a textured mesh from cameras: the inverse of baking, for previews and checks.

Same frame as the geometry maps and baking (``normalize_for_render`` with the release's
scale factor, images in the rasterizer's row order, which is the upright picture for
the released cameras), texture sampled bilinearly at the interpolated UVs.
``render_preview`` lays a few such views side by side for pictures, and shades a mesh
that has no texture so it can be pictured too.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..geometry.mesh import Mesh
from ..render.cameras import CameraSet, orbit_cameras
from ..render.geometry_maps import render_geometry_maps
from ..render.normalization import RELEASED_SCALE_FACTOR, mesh_in_render_frame
from ..render.rasterizer import get_rasterizer, interpolate
from .surface_topology import check_texturable_mesh

PREVIEW_GREY = 0.85
PREVIEW_AMBIENT = 0.3


def sample_texture(texture: torch.Tensor, uvs: torch.Tensor) -> torch.Tensor:
    """Bilinear texture ``[T, T, C]`` lookup at ``uvs`` ``[n, 2]`` ((0, 0) bottom-left,
    texel centres at ``(i + 0.5) / T``, edges clamped), ``[n, C]``."""
    grid = torch.stack([uvs[:, 0] * 2 - 1, (1 - uvs[:, 1]) * 2 - 1], dim=1)
    sampled = F.grid_sample(
        texture.permute(2, 0, 1)[None], grid[None, None].to(texture.dtype),
        mode="bilinear", padding_mode="border", align_corners=False,
    )
    return sampled[0, :, 0].T


def render_textured(
    mesh: Mesh,
    cameras: CameraSet,
    size: int | tuple[int, int],
    *,
    background: float = 1.0,
    backend: str = "auto",
    device: torch.device | str = "cpu",
    scale_factor: float = RELEASED_SCALE_FACTOR,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``[N, H, W, 3]`` (``background`` where empty) and masks ``[N, H, W]``."""
    check_texturable_mesh(mesh, need_uvs=True)
    if mesh.texture is None:
        raise ValueError("The mesh has no texture to render; bake or project one first.")
    height, width = (size, size) if isinstance(size, int) else size
    device = torch.device(device)
    rasterizer = get_rasterizer(backend, device)
    vertices, faces, _ = mesh_in_render_frame(mesh, device)
    uvs = torch.from_numpy(mesh.uvs).to(device)
    texture = torch.from_numpy(np.ascontiguousarray(mesh.texture)).to(device)
    images = torch.full((len(cameras), height * width, 3), float(background), device=device)
    masks = torch.zeros(len(cameras), height * width, dtype=torch.bool, device=device)
    clip = cameras.to_clip(vertices)
    for view in range(len(cameras)):
        rast = rasterizer.rasterize(clip[view], faces, (height, width))
        covered = rast.mask.reshape(-1).to(device)
        pixel_uvs = interpolate(uvs, rast, faces).reshape(-1, 2).to(device)[covered]
        images[view, covered] = sample_texture(texture, pixel_uvs)
        masks[view] = covered
    return images.view(len(cameras), height, width, 3), masks.view(len(cameras), height, width)


def render_preview(
    mesh: Mesh,
    views: int = 4,
    size: int = 512,
    *,
    elevation: float = 15.0,
    backend: str = "auto",
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """``views`` pictures of ``mesh`` from azimuths evenly around it, side by side on
    white: ``[size, views * size, 3]`` uint8, for README pictures and quick looks.

    A textured mesh shows its texture unlit (what baking put there); a mesh without one
    is grey, lit from the camera, so its shape reads. ``elevation`` is in the release's
    orbit convention (``cameras.py``).
    """
    if views < 1 or size < 8:
        raise ValueError(f"Need at least one view of at least 8 pixels, got views={views}, size={size}.")
    if mesh.is_empty:
        raise ValueError("The mesh has no faces, so there is nothing to render; check the input mesh.")
    cameras = orbit_cameras([360.0 * view / views for view in range(views)], [elevation] * views)
    if mesh.texture is not None:
        images, _ = render_textured(mesh, cameras, size, backend=backend, device=device)
    else:
        images = _render_shaded(mesh, cameras, size, backend, torch.device(device))
    strip = images.clamp(0, 1).permute(1, 0, 2, 3).reshape(size, views * size, 3)
    return (strip * 255).round().to(torch.uint8).cpu().numpy()


def _render_shaded(mesh: Mesh, cameras: CameraSet, size: int, backend: str, device: torch.device) -> torch.Tensor:
    """Grey ``ambient + diffuse * |n . view|`` with the smooth normals of the geometry
    maps; the absolute value because those normals point inward for an outward-wound
    mesh (see ``geometry_maps.py``) and a preview should not depend on winding."""
    vertices, faces, _ = mesh_in_render_frame(mesh, device)
    maps = render_geometry_maps(vertices, faces, cameras, size, get_rasterizer(backend, device))
    normals = F.normalize(maps.normal * 2 - 1, dim=-1)
    view_axes = cameras.world_to_camera[:, 2, :3].to(normals)
    facing = (normals * view_axes[:, None, None]).sum(-1).abs()
    grey = PREVIEW_GREY * (PREVIEW_AMBIENT + (1 - PREVIEW_AMBIENT) * facing)
    return torch.where(maps.mask[..., None], grey[..., None], torch.ones_like(normals))
