"""Which vertices of a mesh are one point of its surface: the project's only welding.

Meshes reach the project with one surface point stored as several vertices: marching
cubes emits a copy per crossed cube edge when the level hits a grid value exactly, a UV
unwrap splits vertices along seams, STL and flat-shaded OBJ files repeat a vertex for
every face. Sampling, clean-up and baking must agree on which copies are one point, or
they disagree about a seam, so all of them weld here, with one rule:

- Copies are joined when their positions are exactly equal (``-0.0`` equals ``0.0``).
  There is no distance tolerance: the copies above are bit-identical, and a tolerance
  would also join distinct vertices of thin walls and fine detail.
- ``keep_seams_in`` names per-vertex arrays (UVs, normals) that must be equal as well.
  A caller that edits the mesh's vertex list passes them, because joining two copies
  with different UVs would tear the texture layout (a UV seam) and joining different
  normals would smooth a hard edge the file asked for. A caller that asks about the
  surface itself (its pieces, creases, neighbours) passes nothing: a seam is not a gap.
- Welded vertices are numbered in order of their first copy, so a mesh without copies
  welds to itself, index for index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True, eq=False)
class WeldedSurface:
    """The mesh with its copies joined.

    ``welded_of[v]`` is the welded vertex of mesh vertex ``v``; ``first_copy[w]`` is the
    mesh vertex that welded vertex ``w`` was first stored as (increasing in ``w``);
    ``vertices`` and ``faces`` are the welded mesh, faces in the original order.
    """

    welded_of: np.ndarray
    first_copy: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray

    @property
    def merged_any(self) -> bool:
        return len(self.first_copy) != len(self.welded_of)

    @property
    def edges(self) -> np.ndarray:
        """Undirected welded edges ``[E, 2]``, each once, smaller index first."""
        faces = self.faces
        pairs = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        pairs = np.sort(pairs, axis=1)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        return np.unique(pairs, axis=0)


def weld_vertices(vertices: np.ndarray, faces: np.ndarray, *,
                  keep_seams_in: Sequence[np.ndarray | None] = ()) -> WeldedSurface:
    """Join the vertices ``[V, 3]`` that share an exact position (and, for each array in
    ``keep_seams_in`` with one row per vertex, the same row there; ``None`` entries are
    skipped so optional mesh attributes can be passed as they are)."""
    vertices = np.asarray(vertices)
    faces = np.asarray(faces)
    columns = [vertices.reshape(len(vertices), -1)]
    for attribute in keep_seams_in:
        if attribute is None:
            continue
        attribute = np.asarray(attribute)
        if len(attribute) != len(vertices):
            raise ValueError(
                f"A seam attribute has {len(attribute)} rows for {len(vertices)} vertices; "
                "give one row per vertex."
            )
        columns.append(attribute.reshape(len(vertices), -1))
    # Adding zero turns -0.0 into 0.0, so equal values have equal bytes and one row of
    # bytes is one key (far faster to sort than rows of numbers).
    keys = np.ascontiguousarray(np.concatenate(columns, axis=1) + 0.0)
    rows = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    welded_of = rank[inverse.reshape(-1)]
    first_copy = first[order]
    return WeldedSurface(welded_of, first_copy, vertices[first_copy], welded_of[faces])
