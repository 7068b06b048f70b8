"""Render a textured mesh from cameras: the inverse of baking, for previews and checks.

Same frame as the geometry maps and baking (``normalize_for_render`` with the release's
scale factor, images in the rasterizer's row order, which is the upright picture for
the released cameras), texture sampled bilinearly at the interpolated UVs.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..geometry.mesh import Mesh
from ..render.cameras import CameraSet
from ..render.normalization import RELEASED_SCALE_FACTOR, normalize_for_render
from ..render.rasterizer import get_rasterizer, interpolate
from .surface_topology import check_texturable_mesh


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
    vertices, _ = normalize_for_render(torch.from_numpy(mesh.vertices).to(device))
    faces = torch.from_numpy(mesh.faces).to(device)
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
