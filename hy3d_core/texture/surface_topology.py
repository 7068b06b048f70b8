"""The mesh's surface as one connected piece, whatever its UV seams.

A UV unwrap splits vertices along seams: the copies share a position but not a UV, so
the face list no longer says that the two sides of a seam touch. Normals and colour
propagation must see through seams (a normal computed from one side only tilts, colour
would stop at the seam), so both work on the "welded" surface where copies with the
same position are one vertex again (``geometry/welding``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..geometry.welding import WeldedSurface
from ..render.geometry_maps import smooth_vertex_normals

MIN_TEXTURE_SIZE = 64
MAX_TEXTURE_SIZE = 4096
UV_TOLERANCE = 1e-4


def welded_vertex_normals(vertices: torch.Tensor, faces: torch.Tensor,
                          surface: WeldedSurface) -> torch.Tensor:
    """Smooth unit normals ``[V, 3]`` per mesh vertex, computed on the welded surface so
    both copies of a seam vertex get the same normal. ``vertices`` may be in any frame
    (the renderer's, say); the welding only decides which copies are one vertex."""
    device = vertices.device
    welded_of = torch.from_numpy(surface.welded_of).to(device)
    welded = torch.zeros(len(surface.vertices), 3, dtype=vertices.dtype, device=device)
    welded[welded_of] = vertices
    normals = smooth_vertex_normals(welded, torch.from_numpy(surface.faces).to(device))
    return normals[welded_of]


def check_texturable_mesh(mesh: Mesh, *, need_uvs: bool) -> None:
    """Raise a ValueError saying what to fix for a mesh that cannot be textured."""
    if not isinstance(mesh, Mesh):
        raise ValueError(f"Expected a hy3d_core Mesh, got {type(mesh).__name__}.")
    if len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise ValueError(
            f"The mesh has {len(mesh.vertices)} vertices and {len(mesh.faces)} faces; "
            "texturing needs at least one triangle."
        )
    if not np.isfinite(mesh.vertices).all():
        raise ValueError("The mesh vertices contain NaN or infinite values; repair the mesh first.")
    if need_uvs and mesh.uvs is None:
        raise ValueError("The mesh has no UVs; unwrap it first (texture.uv_unwrap.unwrap_uv).")
    if need_uvs and not (mesh.uvs.min() >= -UV_TOLERANCE and mesh.uvs.max() <= 1 + UV_TOLERANCE):
        raise ValueError(
            "The mesh UVs leave the 0..1 square (tiled or wrapped UVs, or NaN); a baked "
            "texture needs each surface point at its own texel: unwrap the mesh again."
        )


def check_texture_size(texture_size: int) -> int:
    if (isinstance(texture_size, bool) or not isinstance(texture_size, (int, np.integer))
            or not MIN_TEXTURE_SIZE <= texture_size <= MAX_TEXTURE_SIZE):
        raise ValueError(
            f"texture_size must be an integer from {MIN_TEXTURE_SIZE} to {MAX_TEXTURE_SIZE}, "
            f"got {texture_size!r}."
        )
    return int(texture_size)
