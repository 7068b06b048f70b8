"""Bring a mesh into the ShapeVAE's cube, and back out of it.

The encoder only ever saw shapes centred on their bounding box with the longest side
spanning ``[-0.9999, 0.9999]``: the 2.1 release's mesh loader for encoding normalises
that way before sampling. Latents of a mesh in any other frame decode to garbage, so
every mesh is normalised first, and the transform is kept so a decoded shape can be put
back where the input was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh import Mesh

RELEASED_ENCODER_BOUND = 0.9999


@dataclass(frozen=True)
class MeshNormalization:
    """``normalised = (original - center) * scale``, for positions ``[..., 3]``."""

    center: np.ndarray
    scale: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        return ((np.asarray(points, dtype=np.float64) - self.center) * self.scale).astype(
            np.float32)

    def undo(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) / self.scale + self.center).astype(
            np.float32)

    def undo_mesh(self, mesh: Mesh) -> Mesh:
        """The mesh in the original frame; normals keep their direction (uniform scale)."""
        restored = mesh.copy()
        restored.vertices = self.undo(mesh.vertices)
        return restored


def normalize_mesh(mesh: Mesh, *,
                   bound: float = RELEASED_ENCODER_BOUND) -> tuple[Mesh, MeshNormalization]:
    """Centre the mesh on its bounding box and scale its longest side to ``2 * bound``.

    Only vertices used by a face count towards the box, as in the release (stray vertices
    carry no surface the encoder could see). UVs, normals and texture are kept.
    """
    if not bound > 0:
        raise ValueError(f"bound must be positive, got {bound}.")
    if mesh.is_empty:
        raise ValueError(
            f"Cannot normalise a mesh without faces ({len(mesh.vertices)} vertices, "
            f"{len(mesh.faces)} faces); check the step that produced it."
        )
    used = mesh.vertices[np.unique(mesh.faces)].astype(np.float64)
    low, high = used.min(axis=0), used.max(axis=0)
    extent = float((high - low).max())
    if extent == 0.0:
        raise ValueError("Cannot normalise a mesh whose faces all collapse to one point; "
                         "the mesh has no extent to scale.")
    transform = MeshNormalization(center=(low + high) / 2.0, scale=2.0 * bound / extent)
    normalized = mesh.copy()
    normalized.vertices = transform.apply(mesh.vertices)
    return normalized, transform
