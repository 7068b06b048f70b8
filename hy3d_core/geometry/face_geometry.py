"""Per-face normals and areas, and which way a closed mesh's faces wind.

A face's normal follows its winding (right hand, counter-clockwise seen from the side it
points to). The project's meshes wind counter-clockwise seen from outside, so their
normals point out; shapes built from other sources (marching cubes on a distance field,
procedural surfaces) are checked with ``wind_outward`` before they become a ``Mesh``.
"""

from __future__ import annotations

import numpy as np
import torch


def face_normals_and_areas(vertices: np.ndarray,
                           faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit face normals ``[F, 3]`` and areas ``[F]``, float64.

    A zero-area face has no direction: its normal is zero, so callers can drop or skip
    it by its area instead of meeting NaN.
    """
    corners = np.asarray(vertices, dtype=np.float64)[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    doubled_area = np.linalg.norm(cross, axis=1)
    normals = np.zeros_like(cross)
    valid = doubled_area > 0.0
    normals[valid] = cross[valid] / doubled_area[valid, None]
    return normals, doubled_area / 2.0


def face_normals_tensor(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit face normals ``[F, 3]`` on the vertices' device and dtype, for the renderer.

    The release's renderer normalises with a length floor (``F.normalize``), which also
    gives zero for zero-area faces; kept so geometry maps match it.
    """
    corners = vertices[faces]
    cross = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    return torch.nn.functional.normalize(cross, dim=1)


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """The enclosed volume, positive when the faces wind counter-clockwise seen from
    outside (exact for a closed surface, wherever the origin is)."""
    corners = np.asarray(vertices, dtype=np.float64)[faces]
    return float(np.einsum("fd,fd->f", corners[:, 0],
                           np.cross(corners[:, 1], corners[:, 2])).sum() / 6.0)


def wind_outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``faces`` reversed when they wind inward (negative enclosed volume), else as they
    are; a surface enclosing no volume has no outside and is left alone."""
    faces = np.asarray(faces)
    if signed_volume(vertices, faces) < 0.0:
        return np.ascontiguousarray(faces[:, ::-1])
    return faces
