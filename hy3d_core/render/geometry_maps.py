"""Per-view normal and position maps: what the Paint multiview model is conditioned on.

Values follow the release so the model gets what the released pipeline gives it:
world-space smooth vertex normals (the normalised sum of adjacent unit face normals)
interpolated without re-normalising and shown as ``(n + 1) / 2``; positions shown as
``0.5 - v / scale_factor`` (``v`` in the normalised renderer frame); white background
for both. Paint 2.1's renderer shades per face instead (``MeshRender(shader_type=
"face")``): ``flat_normals`` gives every pixel its triangle's unit normal.

Two consequences of the release's conventions, both kept on purpose:
- The axis change in ``normalization.py`` is a reflection and the face winding is
  kept, so for an outward-wound mesh the cross products, hence the normals, point
  inward in the renderer frame.
- Images keep the rasterizer's row order (row 0 at NDC y = -1), as the release hands
  them to the model; with its axis change and cameras that is the upright picture, the
  top of the object in row 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..geometry.face_geometry import face_normals_tensor
from .cameras import CameraSet
from .normalization import RELEASED_SCALE_FACTOR
from .rasterizer import (
    Rasterization,
    Rasterizer,
    check_faces,
    get_rasterizer,
    interpolate_chunks,
)


@dataclass(frozen=True, eq=False)
class GeometryMaps:
    """Maps for ``N`` views at ``H x W``: ``normal`` and ``position`` ``[N, H, W, 3]`` in
    0..1 (white where empty), ``depth`` ``[N, H, W]`` (distance in front of the camera
    along its axis, 0 where empty), ``mask`` ``[N, H, W]`` bool, and the rasterization
    they came from (for baking at the same pixels)."""

    normal: torch.Tensor
    position: torch.Tensor
    depth: torch.Tensor
    mask: torch.Tensor
    rasterization: Rasterization


def smooth_vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit vertex normals ``[V, 3]``: the normalised sum of the unit normals of the
    faces around each vertex; zero for vertices no face uses."""
    face_normals = face_normals_tensor(vertices, faces)
    summed = torch.zeros_like(vertices).index_add_(
        0, faces.reshape(-1), face_normals[:, None].expand(-1, 3, -1).reshape(-1, 3)
    )
    return F.normalize(summed, dim=1)


def render_geometry_maps(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    cameras: CameraSet,
    size: int | tuple[int, int],
    rasterizer: Rasterizer | None = None,
    scale_factor: float = RELEASED_SCALE_FACTOR,
    flat_normals: bool = False,
) -> GeometryMaps:
    """Render every camera's maps at once.

    ``vertices`` ``[V, 3]`` must already be in the normalised renderer frame
    (``normalize_for_render``), with ``scale_factor`` the one used there. ``rasterizer``
    defaults to the best backend for the vertices' device. ``flat_normals`` shades by
    face normals (Paint 2.1) instead of smooth vertex normals (Paint 2.0).
    """
    if not isinstance(vertices, torch.Tensor) or vertices.ndim != 2 or vertices.shape[1] != 3:
        shape = list(vertices.shape) if isinstance(vertices, torch.Tensor) else type(vertices)
        raise ValueError(f"vertices must be a tensor of shape [V, 3], got {shape}.")
    if not torch.isfinite(vertices).all():
        raise ValueError("vertices contain NaN or infinite values; repair the mesh first.")
    height, width = (size, size) if isinstance(size, int) else size
    rasterizer = rasterizer or get_rasterizer("auto", vertices.device)
    vertices = vertices.to(torch.float32)
    faces = check_faces(faces, vertices.shape[0], vertices.device)

    rast = rasterizer.rasterize(cameras.to_clip(vertices), faces, (height, width))
    views = len(cameras)
    shared = torch.cat([smooth_vertex_normals(vertices, faces), 0.5 - vertices / scale_factor], 1)
    view_depth = -cameras.to_camera(vertices)[..., 2:]  # [N, V, 1]
    attributes = torch.cat([shared.expand(views, -1, -1), view_depth], dim=2)
    normal = vertices.new_ones(views * height * width, 3)
    position = vertices.new_ones(views * height * width, 3)
    depth = vertices.new_zeros(views * height * width)
    face_normals = face_normals_tensor(vertices, faces) if flat_normals else None
    face_index = rast.face_index.reshape(-1)
    for pixels, values in interpolate_chunks(attributes, rast, faces):
        if face_normals is not None:
            values[:, :3] = face_normals.index_select(0, face_index[pixels].to(vertices.device))
        pixels = pixels.to(vertices.device)
        normal[pixels] = (values[:, :3] + 1.0) * 0.5
        position[pixels] = values[:, 3:6]
        depth[pixels] = values[:, 6]
    return GeometryMaps(
        normal.view(views, height, width, 3),
        position.view(views, height, width, 3),
        depth.view(views, height, width),
        rast.mask.to(vertices.device),
        rast,
    )
