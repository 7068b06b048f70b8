"""Turn an occupancy field into a grid of logits: dense, hierarchical or FlashVDM.

The strategies only see a *point field* (points in, logits out), so they can be tested with
analytic shapes and reused with any decoder. The ShapeVAE offers one by projecting its
latents once and then querying points against them.

Grids are ``[B, R+1, R+1, R+1]`` float32 over ``linspace(-bounds, bounds, R+1)`` per axis
("ij" indexing), positive inside. Coarse-to-fine strategies leave the cells they never
evaluate as NaN: far from the surface, where marching cubes has nothing to do.

Memory: no strategy holds more than the output grid, a few boolean masks of it and one
chunk of at most ``num_chunks`` points (times the batch) at a time, whatever the
resolution; point coordinates are built per chunk from one axis vector.

The layout of the refinement (which cells are "near the surface", the dilations, the
FlashVDM block and cell structure) follows Hunyuan3D 2.0's release, so meshes match it.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from ..devices import side_tensor_dtype
from ..sampling.progress import Progress

PointField = Callable[[Tensor, "int | None"], Tensor]
"""``field(points [B, P, 3], top_k) -> logits [B, P]``; ``top_k`` is set only by FlashVDM,
meaning "attend to the ``top_k`` latents that matter most to these points"."""

DEFAULT_BOUNDS = 1.01
DEFAULT_NUM_CHUNKS = 8000
DEFAULT_MIN_RESOLUTION = 63

NEAR_SURFACE_LOGIT = 0.95
"""A cell whose logit is within this of the surface level counts as near the surface even
without a sign change, so thin or grazing surfaces a coarse grid straddles are refined."""

FLASHVDM_BLOCKS_PER_AXIS = 4
"""The first FlashVDM level is split into 4 x 4 x 4 blocks, each choosing its own latents."""

FLASHVDM_CELLS_PER_AXIS = 6
"""Refined FlashVDM levels group points into 6 x 6 x 6 cells over the points' bounding box."""

Box = tuple[slice, slice, slice]
"""A box of grid cells as index ranges along x, y, z."""


class CountingField:
    """Wraps a point field and counts what it was asked, for benchmarks and tests.

    ``points_evaluated`` counts query points per batch element, i.e. grid cells decoded.
    """

    def __init__(self, field: PointField) -> None:
        self.field = field
        self.calls = 0
        self.points_evaluated = 0

    def __call__(self, points: Tensor, top_k: int | None) -> Tensor:
        self.calls += 1
        self.points_evaluated += points.shape[1]
        return self.field(points, top_k)


def grid_axis(resolution: int, bounds: float = DEFAULT_BOUNDS) -> Tensor:
    """The ``R + 1`` float32 coordinates along each axis.

    NumPy's float32 linspace (computed in float64, rounded once) is what the release feeds
    its decoder; every strategy takes its coordinates from this one vector, so a cell has
    the same coordinate at every level and in every strategy.
    """
    _check_resolution(resolution)
    _check_bounds(bounds)
    return torch.from_numpy(np.linspace(-bounds, bounds, resolution + 1, dtype=np.float32))


def grid_points(resolution: int, bounds: float = DEFAULT_BOUNDS) -> Tensor:
    """All grid coordinates as ``[R+1, R+1, R+1, 3]`` in "ij" order (x varies slowest)."""
    axis = grid_axis(resolution, bounds)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)


def hierarchical_resolutions(resolution: int, min_resolution: int = DEFAULT_MIN_RESOLUTION) -> list[int]:
    """Levels coarsest first: R, R//2, R//4 ... while at least ``min_resolution``.

    A resolution below ``min_resolution`` is decoded in one dense level.
    """
    _check_resolution(resolution)
    if isinstance(min_resolution, bool) or not isinstance(min_resolution, int) or min_resolution < 1:
        raise ValueError(f"min_resolution must be a whole number of at least 1, got {min_resolution!r}")
    if resolution < min_resolution:
        return [resolution]
    levels = []
    while resolution >= min_resolution:
        levels.append(resolution)
        resolution //= 2
    return levels[::-1]


def flashvdm_resolutions(resolution: int, min_resolution: int = DEFAULT_MIN_RESOLUTION) -> list[int]:
    """FlashVDM's levels: the coarsest rounded so its ``R + 1`` points split into 4 equal
    blocks per axis, then exact doublings.

    So the finest level is usually *not* the requested resolution (384 gives 95, 190, 380);
    the returned grid's shape says which resolution was decoded.
    """
    levels = hierarchical_resolutions(resolution, min_resolution)
    coarsest = round(levels[0] / FLASHVDM_BLOCKS_PER_AXIS) * FLASHVDM_BLOCKS_PER_AXIS - 1
    if coarsest < FLASHVDM_BLOCKS_PER_AXIS - 1:
        raise ValueError(f"FlashVDM decoding needs a resolution of at least 3, got {resolution}")
    return [coarsest * 2**level for level in range(len(levels))]


def flashvdm_top_k(num_latents: int) -> int:
    """How many latents each block attends to, as released: 1024 of 3072, 256 of 512,
    a third otherwise."""
    return {3072: 1024, 512: 256}.get(num_latents, num_latents // 3)


def decode_dense(
    field: PointField,
    *,
    batch_size: int,
    resolution: int,
    bounds: float = DEFAULT_BOUNDS,
    num_chunks: int = DEFAULT_NUM_CHUNKS,
    device: torch.device | str,
    dtype: torch.dtype,
    progress: Progress | None = None,
) -> Tensor:
    """Evaluate every grid point, ``num_chunks`` points per field call, in "ij" order.

    Points reach the field in ``side_tensor_dtype(dtype)``: the model's dtype, as the
    release hands them, except float32 beside bfloat16; logits are stored as float32.
    """
    _check_common(batch_size, num_chunks)
    progress = progress if progress is not None else Progress()
    axis = grid_axis(resolution, bounds).to(device)
    size = resolution + 1
    grid = torch.empty((batch_size, size, size, size), dtype=torch.float32, device=device)
    total = size**3
    calls = math.ceil(total / num_chunks)
    progress.raise_if_cancelled()
    with torch.no_grad():
        for call, start in enumerate(range(0, total, num_chunks)):
            flat = torch.arange(start, min(start + num_chunks, total), device=device)
            _evaluate(field, grid, axis, flat, dtype, None)
            progress.step(call + 1, calls)
    return grid


def decode_hierarchical(
    field: PointField,
    *,
    batch_size: int,
    resolution: int,
    bounds: float = DEFAULT_BOUNDS,
    num_chunks: int = DEFAULT_NUM_CHUNKS,
    surface_level: float = 0.0,
    min_resolution: int = DEFAULT_MIN_RESOLUTION,
    device: torch.device | str,
    dtype: torch.dtype,
    progress: Progress | None = None,
) -> Tensor:
    """Dense at the coarsest level, then each finer level only near the surface found.

    Cells away from the surface stay NaN. With a batch, every element is evaluated on the
    union of the elements' near-surface cells (one field call serves the whole batch).
    Progress restarts at each level, counting that level's field calls.

    ``surface_level`` is the logit marching cubes will extract; pass the same value. (The
    release's sign test adds it where it should subtract, which matters only when it is
    not 0, the pipeline's default.)

    The release's own ``HierarchicalVolumeDecoding`` evaluates every refined point at
    (-1, -1, -1) (it casts the grid step to an integer); this one evaluates the cells that
    its refinement rule selects, at their true coordinates.
    """
    _check_common(batch_size, num_chunks)
    progress = progress if progress is not None else Progress()
    levels = hierarchical_resolutions(resolution, min_resolution)
    grid = decode_dense(
        field, batch_size=batch_size, resolution=levels[0], bounds=bounds, num_chunks=num_chunks,
        device=device, dtype=dtype, progress=progress,
    )
    with torch.no_grad():
        for fine in levels[1:]:
            mask = _refinement_mask(grid, fine + 1, fine == levels[-1], surface_level)
            axis = grid_axis(fine, bounds).to(device)
            grid = torch.full((batch_size, *mask.shape), float("nan"), device=device)
            calls = math.ceil(int(torch.count_nonzero(mask)) / num_chunks)
            for call, flat in enumerate(_masked_flat_indices(mask, num_chunks)):
                _evaluate(field, grid, axis, flat, dtype, None)
                progress.step(call + 1, calls)
    return grid


def decode_flashvdm(
    field: PointField,
    *,
    batch_size: int,
    resolution: int,
    top_k: int,
    bounds: float = DEFAULT_BOUNDS,
    num_chunks: int = DEFAULT_NUM_CHUNKS,
    surface_level: float = 0.0,
    min_resolution: int = DEFAULT_MIN_RESOLUTION,
    device: torch.device | str,
    dtype: torch.dtype,
    progress: Progress | None = None,
) -> Tensor:
    """Hierarchical decoding in which each field call covers one compact block of space,
    so the field can attend to only the ``top_k`` latents relevant to that block.

    Levels come from :func:`flashvdm_resolutions` (the output grid is that last level's).
    The coarsest level is cut into 4 x 4 x 4 equal blocks; each refined level groups its
    points into 6 x 6 x 6 cells over their bounding box. Refinement is the hierarchical
    rule. A block holding more than ``num_chunks`` points is split into near-equal runs in
    "ij" order, each choosing its own latents; this bounds memory, where the release puts a
    whole block in one call (pass a larger ``num_chunks`` to get exactly that grouping).
    Progress restarts at each level, counting that level's field calls.
    """
    _check_common(batch_size, num_chunks)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a whole number of at least 1, got {top_k!r}")
    progress = progress if progress is not None else Progress()
    levels = flashvdm_resolutions(resolution, min_resolution)
    progress.raise_if_cancelled()
    with torch.no_grad():
        size = levels[0] + 1
        grid = torch.empty((batch_size, size, size, size), dtype=torch.float32, device=device)
        _decode_boxes(field, grid, grid_axis(levels[0], bounds).to(device), _block_boxes(size),
                      num_chunks, dtype, top_k, progress)
        for fine in levels[1:]:
            mask = _refinement_mask(grid, fine + 1, fine == levels[-1], surface_level)
            axis = grid_axis(fine, bounds).to(device)
            grid = torch.full((batch_size, *mask.shape), float("nan"), device=device)
            _decode_boxes(field, grid, axis, _cell_boxes(mask, axis), num_chunks, dtype, top_k,
                          progress, mask)
    return grid


def _check_resolution(resolution: int) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ValueError(f"resolution must be a whole number of at least 1, got {resolution!r}")


def _check_bounds(bounds: float) -> None:
    if not bounds > 0:
        raise ValueError(f"bounds must be a positive half-width of the decoded cube, got {bounds!r}")


def _check_common(batch_size: int, num_chunks: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    if isinstance(num_chunks, bool) or not isinstance(num_chunks, int) or num_chunks < 1:
        raise ValueError(f"num_chunks must be a whole number of at least 1, got {num_chunks!r}")


def _evaluate(field: PointField, grid: Tensor, axis: Tensor, flat: Tensor, dtype: torch.dtype,
              top_k: int | None) -> None:
    """Decode the grid cells with flat "ij" indices ``flat`` and store their logits."""
    size = axis.shape[0]
    batch = grid.shape[0]
    points = torch.stack(
        [axis[flat // (size * size)], axis[(flat // size) % size], axis[flat % size]], dim=-1
    ).to(side_tensor_dtype(dtype))
    logits = field(points.unsqueeze(0).expand(batch, -1, -1), top_k)
    if tuple(logits.shape) != (batch, flat.shape[0]):
        raise ValueError(
            f"the point field returned logits of shape {list(logits.shape)} for "
            f"{batch} x {flat.shape[0]} points; it must return [batch, points]"
        )
    grid.view(batch, -1)[:, flat] = logits.to(torch.float32)


def _masked_flat_indices(mask: Tensor, chunk: int) -> Iterator[Tensor]:
    """Flat indices of the set cells in "ij" order, ``chunk`` at a time.

    Scanning one x-slice at a time keeps the index list bounded even when most of a large
    grid is set (an untrained decoder can put everything "near the surface").
    """
    size = mask.shape[0]
    pending: list[Tensor] = []
    pending_count = 0
    for x in range(size):
        found = torch.nonzero(mask[x].reshape(-1)).squeeze(1) + x * size * size
        pending.append(found)
        pending_count += found.shape[0]
        if pending_count >= chunk:
            ready = torch.cat(pending)
            full = (pending_count // chunk) * chunk
            yield from ready[:full].split(chunk)
            pending, pending_count = [ready[full:]], pending_count - full
    if pending_count:
        yield torch.cat(pending)


def _refinement_mask(grid: Tensor, fine_size: int, last: bool, surface_level: float) -> Tensor:
    """Which cells of the next level (``fine_size`` per axis) to evaluate.

    A coarse cell is near the surface when it is defined and either its sign differs from a
    defined face neighbour's or its logit is within ``NEAR_SURFACE_LOGIT`` of the level.
    Near cells seed the fine grid at twice their index and are grown by 3 x 3 x 3
    dilations: one coarse plus one fine on intermediate levels, two fine on the last one.
    """
    shifted = grid - surface_level
    near = _sign_change(shifted) | (shifted.abs() < NEAR_SURFACE_LOGIT)
    near = near.any(dim=0)
    if not last:
        near = _dilate(near)
    coarse_size = near.shape[0]
    fine = torch.zeros((fine_size,) * 3, dtype=torch.bool, device=grid.device)
    seeds = slice(0, 2 * coarse_size - 1, 2)
    fine[seeds, seeds, seeds] = near
    for _ in range(2 if last else 1):
        fine = _dilate(fine)
    return fine


def _sign_change(values: Tensor) -> Tensor:
    """Cells of ``[B, n, n, n]`` whose sign (-1, 0, +1) differs from a face neighbour's;
    NaN cells neither change sign nor count as neighbours."""
    sign = torch.sign(values)
    defined = ~torch.isnan(values)
    changed = torch.zeros(values.shape, dtype=torch.bool, device=values.device)
    for dim in (1, 2, 3):
        length = values.shape[dim] - 1
        differs = (sign.narrow(dim, 0, length) != sign.narrow(dim, 1, length))
        differs &= defined.narrow(dim, 0, length) & defined.narrow(dim, 1, length)
        changed.narrow(dim, 0, length).logical_or_(differs)
        changed.narrow(dim, 1, length).logical_or_(differs)
    return changed


def _dilate(mask: Tensor) -> Tensor:
    """3 x 3 x 3 dilation of a boolean volume (cells beyond the border count as unset).

    Done as three one-axis passes on booleans: the same result as a box convolution, at a
    quarter of a float volume's memory.
    """
    for dim in range(mask.ndim):
        length = mask.shape[dim] - 1
        grown = mask.clone()
        grown.narrow(dim, 1, length).logical_or_(mask.narrow(dim, 0, length))
        grown.narrow(dim, 0, length).logical_or_(mask.narrow(dim, 1, length))
        mask = grown
    return mask


def _block_boxes(size: int) -> list[Box]:
    """The coarsest FlashVDM level's 4 x 4 x 4 equal blocks, x-major."""
    side = size // FLASHVDM_BLOCKS_PER_AXIS
    edges = [slice(b * side, (b + 1) * side) for b in range(FLASHVDM_BLOCKS_PER_AXIS)]
    return list(product(edges, edges, edges))


def _cell_boxes(mask: Tensor, axis: Tensor) -> list[Box]:
    """Index ranges of the 6 x 6 x 6 cells over the bounding box of the set points, x-major.

    A point's cell along an axis is ``floor((c - c_min) / (c_max - c_min) * 5.999)`` on its
    float32 coordinate, as released, so the cells hold the same points as the release's.
    """
    ranges = []
    for dim in range(3):
        others = tuple(d for d in range(3) if d != dim)
        used = torch.nonzero(mask.any(dim=others[1]).any(dim=others[0])).squeeze(1)
        if used.numel() == 0:
            return []
        first, last = int(used[0]), int(used[-1])
        coords = axis[first:last + 1]
        if last > first:
            scaled = (coords - coords[0]) / (coords[-1] - coords[0]) * (FLASHVDM_CELLS_PER_AXIS - 0.001)
            cells = torch.floor(scaled).long()
        else:
            cells = torch.zeros(1, dtype=torch.long, device=mask.device)
        starts = torch.nonzero(torch.diff(cells, prepend=cells[:1] - 1)).squeeze(1).tolist()
        ends = starts[1:] + [cells.shape[0]]
        ranges.append([slice(first + s, first + e) for s, e in zip(starts, ends)])
    return list(product(*ranges))


def _decode_boxes(field: PointField, grid: Tensor, axis: Tensor, boxes: list[Box], num_chunks: int,
                  dtype: torch.dtype, top_k: int, progress: Progress, mask: Tensor | None = None) -> None:
    """Evaluate the (set, when ``mask`` is given) cells of each box, one box per field call
    or near-equal runs of at most ``num_chunks`` points when a box holds more."""
    size = grid.shape[-1]
    device = grid.device
    counts = [_box_numel(box) if mask is None else int(torch.count_nonzero(mask[box])) for box in boxes]
    calls = sum(math.ceil(count / num_chunks) for count in counts)
    done = 0
    for box, count in zip(boxes, counts):
        if count == 0:
            continue
        if mask is None:
            local = [torch.arange(s.stop - s.start, device=device) for s in box]
            ii, jj, kk = (c.reshape(-1) for c in torch.meshgrid(*local, indexing="ij"))
        else:
            ii, jj, kk = torch.nonzero(mask[box]).unbind(1)
        flat = ((ii + box[0].start) * size + (jj + box[1].start)) * size + (kk + box[2].start)
        for run in flat.tensor_split(math.ceil(count / num_chunks)):
            _evaluate(field, grid, axis, run, dtype, top_k)
            done += 1
            progress.step(done, calls)


def _box_numel(box: Box) -> int:
    return math.prod(s.stop - s.start for s in box)
