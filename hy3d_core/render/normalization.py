"""The release's mesh normalisation before rendering and baking.

The multiview model saw meshes in one frame and size, so any mesh has to be brought
there first: axes changed from the mesh file's y-up frame to the renderer's z-up frame
(x and y negated, then y and z swapped, i.e. ``(x, y, z) -> (-x, z, -y)``), centred on
its bounding-box centre, and scaled so the farthest vertex lies ``scale_factor / 2``
(0.575) from the centre. Position maps then encode ``0.5 - v / scale_factor`` in 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch

if TYPE_CHECKING:
    from ..geometry.mesh import Mesh

RELEASED_SCALE_FACTOR = 1.15


def to_render_axes(vertices: torch.Tensor) -> torch.Tensor:
    """Mesh-file axes to renderer axes: ``(x, y, z) -> (-x, z, -y)``."""
    x, y, z = vertices.unbind(dim=-1)
    return torch.stack([-x, z, -y], dim=-1)


def from_render_axes(vertices: torch.Tensor) -> torch.Tensor:
    """Inverse of ``to_render_axes``: ``(a, b, c) -> (-a, -c, b)``."""
    a, b, c = vertices.unbind(dim=-1)
    return torch.stack([-a, -c, b], dim=-1)


@dataclass(frozen=True, eq=False)
class RenderNormalization:
    """How one mesh was normalised: ``render = (to_render_axes(v) - center) * scale``."""

    center: torch.Tensor
    scale: float
    scale_factor: float

    def apply(self, vertices: torch.Tensor) -> torch.Tensor:
        return (to_render_axes(vertices) - self.center.to(vertices)) * self.scale

    def invert(self, vertices: torch.Tensor) -> torch.Tensor:
        """Renderer-frame vertices back to the mesh file's frame and size."""
        return from_render_axes(vertices / self.scale + self.center.to(vertices))


def normalize_for_render(
    vertices: torch.Tensor, scale_factor: float = RELEASED_SCALE_FACTOR
) -> tuple[torch.Tensor, RenderNormalization]:
    """Vertices ``[V, 3]`` in the renderer frame, and the transform to undo it."""
    if not isinstance(vertices, torch.Tensor) or vertices.ndim != 2 or vertices.shape[1] != 3:
        shape = list(vertices.shape) if isinstance(vertices, torch.Tensor) else type(vertices)
        raise ValueError(f"vertices must be a tensor of shape [V, 3], got {shape}.")
    if vertices.shape[0] == 0:
        raise ValueError("The mesh has no vertices to normalise.")
    if not torch.isfinite(vertices).all():
        raise ValueError("vertices contain NaN or infinite values; repair the mesh first.")
    if scale_factor <= 0:
        raise ValueError(f"scale_factor must be positive, got {scale_factor}.")
    turned = to_render_axes(vertices.to(torch.float32))
    center = (turned.amax(dim=0) + turned.amin(dim=0)) / 2
    extent = float(torch.linalg.vector_norm(turned - center, dim=1).amax()) * 2.0
    if extent == 0.0:
        raise ValueError("All vertices coincide: the mesh has no size to normalise.")
    transform = RenderNormalization(center, scale_factor / extent, float(scale_factor))
    return (turned - center) * transform.scale, transform


class RenderFrameMesh(NamedTuple):
    """A mesh ready for the renderer: ``vertices`` ``[V, 3]`` float32 in the normalised
    renderer frame, ``faces`` ``[F, 3]`` int64, both on one device, and the transform."""

    vertices: torch.Tensor
    faces: torch.Tensor
    normalization: RenderNormalization


def mesh_in_render_frame(mesh: Mesh, device: torch.device | str = "cpu",
                         scale_factor: float = RELEASED_SCALE_FACTOR) -> RenderFrameMesh:
    """``mesh`` (in its file's frame) moved to ``device`` and normalised as the release
    does before rendering and baking, so geometry maps, baking and previews all see it in
    the same place."""
    device = torch.device(device)
    vertices, normalization = normalize_for_render(
        torch.from_numpy(mesh.vertices).to(device), scale_factor)
    return RenderFrameMesh(vertices, torch.from_numpy(mesh.faces).to(device), normalization)
