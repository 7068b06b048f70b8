"""Cut a large mesh into spatially coherent parts that xatlas can chart one by one.

xatlas's chart growing costs more than linearly in the face count: a 80k-face
marching-cubes mesh takes about three times as long whole as in sixteen 5000-face
pieces, and a 2M-face one never finishes whole. Charts are small patches anyway (tens
of faces on such meshes), so forcing a chart border along a few cut lines changes the
layout little while the pieces can be charted in parallel processes.
"""

from __future__ import annotations

import numpy as np


def spatial_parts(vertices: np.ndarray, faces: np.ndarray, max_faces: int) -> list[np.ndarray]:
    """Face indices of parts of at most ``max_faces`` faces each, made by halving the
    faces at the median of their centroids along the longest side of their bounding
    box, again and again (a k-d tree's leaves: compact, nearly equal parts)."""
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}.")
    centroids = vertices[faces].mean(axis=1)
    parts: list[np.ndarray] = []
    pending = [np.arange(len(faces))]
    while pending:
        members = pending.pop()
        if len(members) <= max_faces:
            parts.append(members)
            continue
        points = centroids[members]
        axis = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
        half = len(members) // 2
        order = np.argpartition(points[:, axis], half)
        pending.extend([members[order[half:]], members[order[:half]]])
    return parts


def part_mesh(faces: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part's own vertex numbering: ``(used, local_faces)`` where ``used[i]`` is the
    mesh vertex behind part vertex ``i``."""
    used, local = np.unique(faces[members], return_inverse=True)
    return used, local.reshape(-1, 3)
