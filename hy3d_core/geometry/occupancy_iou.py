"""How much two solids overlap: volume IoU on a grid, for judging a generated shape
against the true one.

A mesh's inside is found by ray parity along ``+z`` through each grid column: every
triangle the column passes through flips inside/outside for the grid points above the
crossing. That is exact at the grid points of any watertight mesh, needs no ray-tracing
package (rtree, embree), and is right for solids with holes through them (a torus'
centre stays outside), where filling a voxelised surface would not be. The columns are
shifted by a tiny irrational offset so they never pass exactly through an edge or
vertex of an axis-aligned mesh, where parity would count a crossing twice.
"""

from __future__ import annotations

from typing import Callable, Union

import numpy as np

from .mesh import Mesh

InsideTest = Callable[[np.ndarray], np.ndarray]
Solid = Union[Mesh, InsideTest]

_COLUMN_SHIFT = (1.2345678e-7 * np.sqrt(2.0), 1.2345678e-7 * np.sqrt(3.0))
_PAIR_CHUNK = 1 << 20


def grid_axis(resolution: int, bound: float) -> np.ndarray:
    """Cell-centre coordinates of ``resolution`` cells spanning ``[-bound, bound]``."""
    return -bound + (np.arange(resolution) + 0.5) * (2.0 * bound / resolution)


def _column_pairs(low: np.ndarray, high: np.ndarray, axis: np.ndarray):
    """For triangles with xy bounds ``low``/``high`` ``[T, 2]``: every (triangle, column
    i, column j) whose column lies within the bounds, in chunks."""
    first = np.searchsorted(axis, low, side="left")
    last = np.searchsorted(axis, high, side="right")
    spans = np.maximum(last - first, 0)
    counts = spans[:, 0] * spans[:, 1]
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        stop = int(np.searchsorted(ends, ends[start] - counts[start] + _PAIR_CHUNK, "right"))
        stop = max(stop, start + 1)
        chunk_counts = counts[start:stop]
        triangles = np.repeat(np.arange(start, stop), chunk_counts)
        local_starts = np.cumsum(chunk_counts) - chunk_counts
        offset = np.arange(len(triangles)) - np.repeat(local_starts, chunk_counts)
        width = spans[triangles, 1]
        yield (triangles, first[triangles, 0] + offset // np.maximum(width, 1),
               first[triangles, 1] + offset % np.maximum(width, 1))
        start = stop


def mesh_inside_grid(mesh: Mesh, axis: np.ndarray) -> np.ndarray:
    """``[R, R, R]`` bool: which points of the grid ``axis x axis x axis`` ("ij" order)
    are inside the watertight ``mesh``."""
    resolution = len(axis)
    crossings = np.zeros((resolution, resolution, resolution + 1), dtype=np.int32)
    if mesh.is_empty:
        return crossings[..., :-1].astype(bool)
    corners = mesh.vertices.astype(np.float64)[mesh.faces]
    corners[..., 0] -= _COLUMN_SHIFT[0]
    corners[..., 1] -= _COLUMN_SHIFT[1]
    for triangles, i, j in _column_pairs(corners[..., :2].min(axis=1),
                                         corners[..., :2].max(axis=1), axis):
        a, b, c = (corners[triangles, k] for k in range(3))
        x, y = axis[i], axis[j]
        edge_ab = (b[:, 0] - a[:, 0]) * (y - a[:, 1]) - (b[:, 1] - a[:, 1]) * (x - a[:, 0])
        edge_bc = (c[:, 0] - b[:, 0]) * (y - b[:, 1]) - (c[:, 1] - b[:, 1]) * (x - b[:, 0])
        edge_ca = (a[:, 0] - c[:, 0]) * (y - c[:, 1]) - (a[:, 1] - c[:, 1]) * (x - c[:, 0])
        area = edge_ab + edge_bc + edge_ca
        hit = (((edge_ab > 0) & (edge_bc > 0) & (edge_ca > 0))
               | ((edge_ab < 0) & (edge_bc < 0) & (edge_ca < 0)))
        hit &= area != 0
        # Barycentric weight of a vertex is the opposite edge's function over the area.
        z = (edge_bc * a[:, 2] + edge_ca * b[:, 2] + edge_ab * c[:, 2])[hit] / area[hit]
        above = np.searchsorted(axis, z, side="right")
        np.add.at(crossings, (i[hit], j[hit], above), 1)
    return (np.cumsum(crossings, axis=2)[..., :-1] % 2).astype(bool)


def occupancy_grid(solid: Solid, *, resolution: int = 64, bound: float = 1.05) -> np.ndarray:
    """``[R, R, R]`` bool occupancy of a watertight ``Mesh`` or an inside test (a callable
    taking ``[N, 3]`` points, returning ``[N]`` booleans) on the cube ``[-bound, bound]^3``."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer of at least 2, got {resolution!r}.")
    if not bound > 0:
        raise ValueError(f"bound must be positive, got {bound}.")
    axis = grid_axis(resolution, bound)
    if isinstance(solid, Mesh):
        return mesh_inside_grid(solid, axis)
    if not callable(solid):
        raise ValueError(f"A solid must be a Mesh or an inside test (callable), got "
                         f"{type(solid).__name__}.")
    points = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = np.asarray(solid(points))
    if inside.shape != (len(points),):
        raise ValueError(f"The inside test returned shape {list(inside.shape)} for "
                         f"{len(points)} points; it must return one boolean per point.")
    return inside.astype(bool).reshape(resolution, resolution, resolution)


def occupancy_iou(a: Solid, b: Solid, *, resolution: int = 64, bound: float = 1.05) -> float:
    """Volume intersection over union of two solids, sampled at the cell centres of a
    ``resolution``^3 grid over ``[-bound, bound]^3`` (both in the same frame; the
    shape model's is ``[-1, 1]^3``). Raises when both solids are empty on the grid."""
    first = occupancy_grid(a, resolution=resolution, bound=bound)
    second = occupancy_grid(b, resolution=resolution, bound=bound)
    union = np.count_nonzero(first | second)
    if union == 0:
        raise ValueError("Both solids are empty within the grid; check that they lie "
                         f"inside [-{bound}, {bound}]^3.")
    return float(np.count_nonzero(first & second) / union)
