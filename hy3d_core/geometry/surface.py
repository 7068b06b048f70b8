"""Marching cubes on decoded occupancy logits, with the released coordinate frame.

The released models were trained and evaluated with a mesh frame that divides voxel
indices by R + 1 instead of R (a 1/(R+1) shrink towards -bounds); textures and any
downstream alignment assume that frame, so it is the default.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .mesh import Mesh
from .welding import weld_vertices


def extract_surface(
    grid: np.ndarray | torch.Tensor,
    *,
    level: float = 0.0,
    bounds: float | Sequence[float] = 1.01,
    release_mapping: bool = True,
    close_at_bounds: bool = False,
) -> Mesh | list[Mesh]:
    """Mesh the ``level`` iso-surface of a ``[R+1]^3`` logit grid (or a batch of them).

    ``bounds`` is the half-size ``b`` of the cube ``[-b, b]^3`` the grid samples, or
    ``(xmin, ymin, zmin, xmax, ymax, zmax)``. NaN marks points a hierarchical decoder
    never evaluated (far from the surface): no face is built from them.
    A ``[B, R+1, R+1, R+1]`` batch gives a list with one mesh per item.

    A shape that reaches the grid's faces is cut open there, as in the release;
    ``close_at_bounds`` caps it with the grid's faces instead, so it stays closed.
    """
    array = _to_numpy(grid)
    if array.ndim == 4:
        meshes = []
        for index, item in enumerate(array):
            try:
                meshes.append(_extract_one(item, level, bounds, release_mapping, close_at_bounds))
            except ValueError as error:
                raise ValueError(f"Batch item {index}: {error}") from error
        return meshes
    if array.ndim != 3:
        raise ValueError(
            "extract_surface expects a [R+1, R+1, R+1] grid or a [B, R+1, R+1, R+1] "
            f"batch, got shape {list(array.shape)}."
        )
    return _extract_one(array, level, bounds, release_mapping, close_at_bounds)


def _to_numpy(grid: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(grid, torch.Tensor):
        return grid.detach().to(device="cpu", dtype=torch.float32).numpy()
    return np.asarray(grid, dtype=np.float32)


def _box(bounds: float | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(bounds, (int, float)):
        if bounds <= 0:
            raise ValueError(f"bounds must be positive, got {bounds}.")
        return np.full(3, -float(bounds)), np.full(3, 2.0 * float(bounds))
    values = np.asarray(bounds, dtype=np.float64)
    if values.shape != (6,) or not (values[3:] > values[:3]).all():
        raise ValueError(
            "bounds must be a half-size b or (xmin, ymin, zmin, xmax, ymax, zmax) with "
            f"each max above its min, got {bounds!r}."
        )
    return values[:3], values[3:] - values[:3]


def _no_surface(level: float, detail: str) -> ValueError:
    return ValueError(
        f"The grid has no surface at level {level}: {detail}. Try a level between the "
        "grid's inside and outside values (logits: 0), or check that the model, latent "
        "and decoding settings produce a shape."
    )


def _extract_one(
    grid: np.ndarray,
    level: float,
    bounds: float | Sequence[float],
    release_mapping: bool,
    close_at_bounds: bool,
) -> Mesh:
    from skimage import measure

    if min(grid.shape) < 2:
        raise ValueError(f"The grid needs at least 2 points per axis, got {list(grid.shape)}.")
    finite = grid[np.isfinite(grid)]
    if finite.size == 0:
        raise _no_surface(level, "every value is NaN (nothing was decoded)")
    low, high = float(finite.min()), float(finite.max())
    if not low < level < high:
        side = "inside" if low >= level else "outside"
        raise _no_surface(level, f"all values lie {side} (range {low:.4g}..{high:.4g})")

    # skimage counts NaN corners as outside, so where decoded-inside meets undecoded it
    # places vertices interpolated from NaN; the faces using them are not the surface.
    if close_at_bounds:
        filled = _fill_undecoded(grid, level, low, high)
        vertices, faces = _marching_cubes_closed_at_bounds(filled, level, low)
    else:
        vertices, faces, _, _ = measure.marching_cubes(grid, level, method="lewiner")
    vertices, faces = _drop_nonfinite(vertices, faces)
    if len(faces) == 0:
        raise _no_surface(level, "the level is only crossed next to undecoded (NaN) points")

    box_min, box_size = _box(bounds)
    divisor = np.asarray(grid.shape, dtype=np.float64)
    if not release_mapping:
        divisor = divisor - 1.0
    vertices = vertices.astype(np.float64) / divisor * box_size + box_min
    # skimage winds faces clockwise seen from the higher (inside) values.
    faces = faces[:, ::-1]
    # Marching cubes emits one vertex per crossed edge; when the level equals a grid value
    # exactly, several edges meet at that grid point and the copies would leave the mesh
    # open there.
    welded = weld_vertices(vertices.astype(np.float32), faces)
    return Mesh(vertices=welded.vertices, faces=welded.faces)


def _marching_cubes_closed_at_bounds(
    grid: np.ndarray, level: float, lowest: float
) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes on the grid wrapped in one layer of outside values, with the caps
    that layer makes pulled back onto the grid's faces (they would otherwise sit half a
    cell outside the sampled box)."""
    from skimage import measure

    outside = min(lowest, level) - 1.0
    padded = np.pad(grid, 1, constant_values=outside)
    vertices, faces, _, _ = measure.marching_cubes(padded, level, method="lewiner")
    vertices = np.clip(vertices - 1.0, 0.0, np.asarray(grid.shape, dtype=np.float64) - 1.0)
    return vertices, faces


def _fill_undecoded(grid: np.ndarray, level: float, lowest: float, highest: float) -> np.ndarray:
    """The grid with every NaN (never decoded) point given its side of the surface.

    Hierarchical and FlashVDM decoding refine every cell the surface crosses, so each
    connected region of NaN lies wholly inside or wholly outside; it takes the side of
    most decoded points that touch it (``highest`` inside, ``lowest`` outside). Without
    this, a shape that reaches the grid's edge meets NaN there, not inside values, and
    its caps are left open wherever the decoder skipped the interior.
    """
    undecoded = np.isnan(grid)
    if not undecoded.any():
        return grid
    from scipy.ndimage import label

    labels, count = label(undecoded)
    touching = np.zeros(count + 1)
    inside = np.zeros(count + 1)
    for axis in range(3):
        for here, there in ((slice(None, -1), slice(1, None)), (slice(1, None), slice(None, -1))):
            region = labels[(slice(None),) * axis + (here,)]
            neighbour = grid[(slice(None),) * axis + (there,)]
            pairs = (region > 0) & np.isfinite(neighbour)
            touching += np.bincount(region[pairs], minlength=count + 1)
            inside += np.bincount(region[pairs], weights=neighbour[pairs] > level,
                                  minlength=count + 1)
    side = np.where(inside > touching / 2, highest, lowest).astype(grid.dtype)
    filled = grid.copy()
    filled[undecoded] = side[labels[undecoded]]
    return filled


def _drop_nonfinite(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    good = np.isfinite(vertices).all(axis=1)
    if good.all():
        return vertices, faces
    faces = faces[good[faces].all(axis=1)]
    used = np.zeros(len(vertices), dtype=bool)
    used[faces] = True
    new_index = np.cumsum(used) - 1
    return vertices[used], new_index[faces]
