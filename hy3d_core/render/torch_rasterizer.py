"""Pure PyTorch triangle rasterizer: no compile step, runs on CPU, CUDA and MPS.

It reproduces nvdiffrast's CUDA rasterizer rather than inventing its own rules, so the
two backends cover the same pixels (see ``rasterizer.py`` for the conventions):

1. Clip. Triangles with a vertex outside the depth range, behind the camera, or beyond
   ``GUARD_BAND`` in NDC (where snapped integers could overflow) are clipped against
   the near and far planes and the guard band, one plane at a time (a triangle becomes
   zero, one or two). An intersection point is always computed from the inside vertex
   towards the outside one, so triangles sharing an edge get bit-identical points and
   stay watertight. Most meshes skip this step entirely.
2. Snap. Vertices are projected and snapped to a 1/16-pixel integer grid with the same
   float32 operations as nvdiffrast's triangle setup, and coverage is decided with
   exact integer edge functions and nvdiffrast's fill rule: shared edges are drawn once,
   with no gaps, and the same pixels as nvdiffrast.
3. Spans. For each triangle and each pixel row of its bounding box, the covered columns
   form one interval, found from the three edge functions with integer floor division.
   Only covered pixels are ever generated, so there is no wasted bounding-box test.
   Rows and spans are processed in chunks of at most ``max_candidates`` (plus one
   span), which bounds memory however large the mesh, the image or one triangle is.
4. Depth. Each covered pixel's NDC depth comes from the plane through the snapped
   vertices (like nvdiffrast's depth test); depth and face index are packed into one
   int64 so a single ``scatter_reduce(amin)`` keeps the nearest fragment, and the
   higher face index on exactly equal depth.
5. Resolve. Perspective-correct barycentrics and depth of the visible face are computed
   once per covered pixel with nvdiffrast's per-pixel formula.

Per-triangle data is kept as structure-of-arrays (``[coordinate, corner, triangle]``):
on CPU, strided or int64-per-row tensor ops are many times slower than contiguous ones.

Cost: time O(F + R + P) elementwise tensor work, where R is the number of (triangle,
pixel row) pairs and P the number of covered (triangle, pixel) fragments, with a
Python loop only over chunks; memory O(H*W) for the buffers plus about 100 bytes per
row or fragment of one chunk. Batches run one image at a time. The result carries no
gradient (geometry maps and baking need none).
"""

from __future__ import annotations

import torch

from .rasterizer import Rasterization, Rasterizer, check_raster_inputs

SUBPIXEL_BITS = 4
PIXEL = 1 << SUBPIXEL_BITS
HALF_PIXEL = PIXEL // 2
GUARD_BAND = 2.0
# (axis, sign, bound): keep sign * coordinate <= bound * w. x and y are clipped at the
# guard band, not the screen edge, so an edge is split only when one of its own ends is
# outside; both triangles sharing it are then clipped the same way.
_PLANES = tuple(
    (axis, sign, GUARD_BAND if axis < 2 else 1.0) for axis in range(3) for sign in (1.0, -1.0)
)
_FACE_FIELD = (1 << 31) - 1
_EMPTY_KEY = torch.iinfo(torch.int64).max
_UNBOUNDED = 1 << 40
CPU_CHUNK = 1 << 17
ACCELERATOR_CHUNK = 1 << 21


def _take(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[..., index]`` via ``index_select`` (several times faster on CPU)."""
    flat = values.reshape(-1, values.shape[-1]).index_select(1, index)
    return flat.view(*values.shape[:-1], index.shape[0])


def _gather_corners(coordinates: torch.Tensor, corner_ids: torch.Tensor) -> torch.Tensor:
    """Clip coordinates ``[4, V]`` of triangles ``[3, T]`` as ``[4, 3, T]``."""
    return _take(coordinates, corner_ids.reshape(-1)).view(4, 3, -1)


def _clip_against_plane(
    corners: torch.Tensor, face_ids: torch.Tensor, axis: int, sign: float, bound: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the part of each triangle (``[4, 3, T]`` clip space) where
    ``sign * coord <= bound * w``."""
    distance = bound * corners[3] - sign * corners[axis]  # [3, T], inside when >= 0
    inside = distance >= 0
    count = inside.sum(dim=0)
    pieces, piece_ids = [corners[:, :, count == 3]], [face_ids[count == 3]]
    corner = torch.arange(3, device=corners.device)[:, None]

    def rotated(select: torch.Tensor, start: torch.Tensor):
        order = (start + corner) % 3  # [3, S]
        return (
            corners[:, :, select].gather(1, order.expand(4, -1, -1)),
            distance[:, select].gather(0, order),
        )

    def towards_outside(tris, dist, inner: int, outer: int) -> torch.Tensor:
        t = dist[inner] / (dist[inner] - dist[outer])
        return tris[:, inner] + t * (tris[:, outer] - tris[:, inner])

    one = count == 1  # inside vertex first: (A, A->B, A->C)
    if one.any():
        tris, dist = rotated(one, inside[:, one].to(torch.int64).argmax(dim=0))
        pieces.append(
            torch.stack([tris[:, 0], towards_outside(tris, dist, 0, 1),
                         towards_outside(tris, dist, 0, 2)], dim=1)
        )
        piece_ids.append(face_ids[one])
    two = count == 2  # outside vertex last: quad (A, B, B->C, A->C) as two triangles
    if two.any():
        outside_at = (~inside[:, two]).to(torch.int64).argmax(dim=0)
        tris, dist = rotated(two, (outside_at + 1) % 3)
        b_to_c = towards_outside(tris, dist, 1, 2)
        a_to_c = towards_outside(tris, dist, 0, 2)
        pieces += [torch.stack([tris[:, 0], tris[:, 1], b_to_c], dim=1),
                   torch.stack([tris[:, 0], b_to_c, a_to_c], dim=1)]
        piece_ids += [face_ids[two], face_ids[two]]
    return torch.cat(pieces, dim=2), torch.cat(piece_ids)


def clip_to_frustum(
    corners: torch.Tensor, face_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip only the triangles the integer setup cannot take as they are.

    ``corners`` is ``[4, 3, T]`` clip space; returns the (possibly split) triangles, all
    with ``w > 0``, and the face each piece came from.
    """
    x, y, z, w = corners
    limit = GUARD_BAND * w
    needs_clip = ((z.abs() > w) | (x.abs() > limit) | (y.abs() > limit) | (w <= 0)).any(dim=0)
    if not needs_clip.any():
        return corners, face_ids
    clipped, clipped_ids = corners[:, :, needs_clip], face_ids[needs_clip]
    for axis, sign, bound in _PLANES:
        if clipped_ids.numel() == 0:
            break
        clipped, clipped_ids = _clip_against_plane(clipped, clipped_ids, axis, sign, bound)
    drawable = (clipped[3] > 0).all(dim=0)
    return (
        torch.cat([corners[:, :, ~needs_clip], clipped[:, :, drawable]], dim=2),
        torch.cat([face_ids[~needs_clip], clipped_ids[drawable]]),
    )


def snap_to_subpixels(corners: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Screen positions ``[2, 3, T]`` int64 in 1/16 pixels from the bottom-left corner.

    Same float32 operations and round-to-nearest-even as nvdiffrast's triangle setup,
    so both backends snap a vertex to the same subpixel.
    """
    reciprocal_w = 1.0 / corners[3]
    snapped = []
    for coordinate, size in ((corners[0], width), (corners[1], height)):
        scale = float(size * HALF_PIXEL)
        projected = torch.round((coordinate * reciprocal_w) * scale).to(torch.int64)
        snapped.append(projected + size * HALF_PIXEL)
    return torch.stack(snapped)


def _edge_setup(screen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer edge functions ``E = c + c_col * column + c_row * row`` per triangle edge.

    A pixel is covered when all three ``E >= 0`` (edges 0->1, 1->2, 2->0 of the triangle
    turned counter-clockwise); the fill rule is folded into ``c`` by making the
    exclusive edges' zero negative. Returns the coefficients ``[3 (c, c_col, c_row),
    3 (edge), T]`` and a mask of triangles with non-zero snapped area.
    """
    x, y = screen  # [3, T]
    area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0])
    clockwise = area < 0
    x = torch.stack([x[0], torch.where(clockwise, x[2], x[1]), torch.where(clockwise, x[1], x[2])])
    y = torch.stack([y[0], torch.where(clockwise, y[2], y[1]), torch.where(clockwise, y[1], y[2])])
    dx, dy = x.roll(-1, dims=0) - x, y.roll(-1, dims=0) - y
    exclusive = (dy > 0) | ((dy == 0) & (dx <= 0))
    constant = (x - HALF_PIXEL) * dy - (y - HALF_PIXEL) * dx - exclusive.to(torch.int64)
    return torch.stack([constant, -PIXEL * dy, PIXEL * dx]), area != 0


def _pixel_bounds(screen: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inclusive ``[col_lo, col_hi, row_lo, row_hi]`` ``[4, T]`` of pixel centres inside
    each triangle's bounding box and the image."""
    bounds = []
    for coordinate, size in ((screen[0], width), (screen[1], height)):
        low = torch.minimum(torch.minimum(coordinate[0], coordinate[1]), coordinate[2])
        high = torch.maximum(torch.maximum(coordinate[0], coordinate[1]), coordinate[2])
        low = torch.div(low - HALF_PIXEL + PIXEL - 1, PIXEL, rounding_mode="floor")
        high = torch.div(high - HALF_PIXEL, PIXEL, rounding_mode="floor")
        bounds += [low.clamp(min=0), high.clamp(max=size - 1)]
    return torch.stack(bounds)


def _depth_planes(corners: torch.Tensor, screen: torch.Tensor) -> torch.Tensor:
    """NDC depth as a plane over the snapped screen positions, per triangle.

    ``z/w`` is affine in screen space; like nvdiffrast's depth test it is set up from the
    snapped vertices, whose integer area is never zero here. Returns ``[5, T]``: origin
    x, origin y (subpixels), depth there, and depth per subpixel in x and y.
    """
    depth = corners[2] / corners[3]  # [3, T]
    x, y = screen.to(corners.dtype)
    dx1, dy1, dx2, dy2 = x[1] - x[0], y[1] - y[0], x[2] - x[0], y[2] - y[0]
    rise1, rise2 = depth[1] - depth[0], depth[2] - depth[0]
    area = dx1 * dy2 - dy1 * dx2
    slope_x = (rise1 * dy2 - rise2 * dy1) / area
    slope_y = (rise2 * dx1 - rise1 * dx2) / area
    return torch.stack([x[0], y[0], depth[0], slope_x, slope_y])


def _segment_ids(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For runs of ``counts`` items: the run of each item and its position in the run.

    Same as ``repeat_interleave`` plus a rank, built from a cumulative sum because
    ``repeat_interleave`` costs milliseconds per call on CPU even for tiny inputs.
    """
    total = int(counts.sum())
    starts = counts.cumsum(0) - counts
    marks = torch.zeros(total + 1, dtype=torch.int64, device=counts.device)
    marks.index_add_(0, starts, torch.ones_like(starts))
    run = marks[:total].cumsum(0) - 1
    return run, torch.arange(total, device=counts.device) - starts[run]


def _chunks(sizes: torch.Tensor, budget: int) -> list[torch.Tensor]:
    """Index groups of consecutive items whose sizes add up to about ``budget`` (a
    group exceeds it only by its last item)."""
    if sizes.numel() == 0:
        return []
    group = torch.div(sizes.cumsum(0) - sizes, budget, rounding_mode="floor")
    _, counts = torch.unique_consecutive(group, return_counts=True)
    return list(torch.arange(sizes.shape[0], device=sizes.device).split(counts.tolist()))


def _row_spans(edges: torch.Tensor, bounds: torch.Tensor, row: torch.Tensor):
    """First covered column and span length of a triangle on one pixel row.

    Along a row each edge function is linear in the column, so where it turns negative
    is found with exact integer floor division instead of testing every pixel.
    ``edges`` is ``[3, 3, N]`` and ``bounds`` ``[4, N]`` for the N (triangle, row) pairs.
    """
    constant, slope, per_row = edges
    at_row = constant + per_row * row  # [3, N]
    limit = torch.div(at_row, slope.abs().clamp(min=1), rounding_mode="floor")
    lower = torch.where(slope > 0, -limit, -_UNBOUNDED)
    upper = torch.where(slope < 0, limit, _UNBOUNDED)
    first = torch.maximum(torch.maximum(torch.maximum(lower[0], lower[1]), lower[2]), bounds[0])
    last = torch.minimum(torch.minimum(torch.minimum(upper[0], upper[1]), upper[2]), bounds[1])
    blocked = (slope == 0) & (at_row < 0)  # an edge parallel to the row, row outside it
    length = (last - first + 1).clamp(min=0)
    return first, length.masked_fill(blocked[0] | blocked[1] | blocked[2], 0)


def depth_keys(depth: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """One int64 per fragment whose minimum is the nearest fragment, and among equally
    near ones the highest face index: orderable float bits of ``depth`` in the high
    word, ``2**31 - 1 - face`` in the low word. A single ``scatter_reduce(amin)`` then
    resolves visibility, with no read-back of the buffer."""
    bits = (depth + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into +0.0
    ordered = torch.where(bits < 0, bits ^ _FACE_FIELD, bits).to(torch.int64)
    return ordered * (1 << 32) + (_FACE_FIELD - face)


def _depth_test(planes, faces, row, first, length, keys, width) -> None:
    """Write one chunk of row spans (``planes`` ``[5, S]``) into the depth buffer."""
    origin_x, origin_y, base, slope_x, slope_y = planes
    start = (
        base
        + slope_x * ((PIXEL * first + HALF_PIXEL).to(planes.dtype) - origin_x)
        + slope_y * ((PIXEL * row + HALF_PIXEL).to(planes.dtype) - origin_y)
    )
    span, offset = _segment_ids(length)
    step = (slope_x * PIXEL).index_select(0, span)
    depth = (start.index_select(0, span) + step * offset.to(planes.dtype)).clamp(-1.0, 1.0)
    pixel = (row * width + first).index_select(0, span) + offset
    keys.scatter_reduce_(0, pixel, depth_keys(depth, faces.index_select(0, span)), reduce="amin")


def ndc_pixel_centres(columns: torch.Tensor, rows: torch.Tensor, height: int, width: int):
    """NDC of pixel centres with nvdiffrast's float32 expression ``xs * px + xo``."""
    values = torch.tensor(
        [2.0 / width, 1.0 / width - 1.0, 2.0 / height, 1.0 / height - 1.0], dtype=torch.float32
    ).tolist()
    return (
        columns.to(torch.float32) * values[0] + values[1],
        rows.to(torch.float32) * values[2] + values[3],
    )


def homogeneous_barycentrics(corners: torch.Tensor, fx: torch.Tensor, fy: torch.Tensor):
    """Perspective-correct barycentrics and NDC depth at pixel centres, per nvdiffrast.

    ``corners`` is ``[4, 3, N]``: clip-space x, y, z, w of each pixel's three triangle
    corners. Edge functions are evaluated relative to the pixel, which keeps float32
    accurate for tiny triangles and handles any ``w``. Returns ``u``, ``v`` and
    ``z/w``, each ``[N]``.
    """
    x, y, z, w = corners
    px = x - fx * w
    py = y - fy * w
    a0 = px[1] * py[2] - py[1] * px[2]
    a1 = px[2] * py[0] - py[2] * px[0]
    a2 = px[0] * py[1] - py[0] * px[1]
    inverse = 1.0 / (a0 + a1 + a2)
    depth = (z[0] * a0 + z[1] * a1 + z[2] * a2) / (w[0] * a0 + w[1] * a1 + w[2] * a2)
    return a0 * inverse, a1 * inverse, depth


class TorchRasterizer(Rasterizer):
    """Backend that needs nothing but PyTorch; see the module docstring for the method.

    ``max_candidates`` bounds the (triangle, row) pairs and the fragments handled at
    once (a chunk may exceed it by one span, at most an image row); by default small on
    CPU, where chunks that fit the cache run several times faster, and large elsewhere,
    where each chunk costs kernel launches. ``max_triangles`` bounds how many triangles
    are set up at once.
    """

    name = "torch"

    def __init__(self, max_candidates: int | None = None, max_triangles: int = 1 << 18) -> None:
        if (max_candidates is not None and max_candidates < 1) or max_triangles < 1:
            raise ValueError("max_candidates and max_triangles must be positive.")
        self.max_candidates = max_candidates
        self.max_triangles = max_triangles

    def _budget(self, device: torch.device) -> int:
        if self.max_candidates is not None:
            return self.max_candidates
        return CPU_CHUNK if device.type == "cpu" else ACCELERATOR_CHUNK

    @torch.no_grad()
    def rasterize(
        self, vertices_clip: torch.Tensor, faces: torch.Tensor, resolution: tuple[int, int]
    ) -> Rasterization:
        inputs = check_raster_inputs(vertices_clip, faces, resolution)
        batch, height, width = inputs.vertices.shape[0], inputs.height, inputs.width
        device = inputs.vertices.device
        # Outputs are written in place, view by view: at 2048 pixels a batch of six is
        # half a gigabyte, too much to build per view and then stack.
        face_index = torch.empty(batch, height * width, dtype=torch.int64, device=device)
        barycentrics = torch.zeros(batch, height * width, 3, device=device)
        depth = torch.zeros(batch, height * width, device=device)
        keys = torch.empty(height * width, dtype=torch.int64, device=device)
        corner_ids = inputs.faces.T.contiguous()  # [3, F]
        for image, clip in enumerate(inputs.vertices):
            coordinates = clip.T.contiguous()  # [4, V]
            keys.fill_(_EMPTY_KEY)
            face_count = corner_ids.shape[1]
            for start in range(0, face_count, self.max_triangles):
                end = min(start + self.max_triangles, face_count)
                ids = torch.arange(start, end, device=device)
                corners = _gather_corners(coordinates, corner_ids.index_select(1, ids))
                self._draw(*clip_to_frustum(corners, ids), keys, height, width)
            winner = face_index[image]
            torch.bitwise_and(keys, _FACE_FIELD, out=winner)
            winner.neg_().add_(_FACE_FIELD).masked_fill_(keys == _EMPTY_KEY, -1)
            self._resolve(coordinates, corner_ids, winner, barycentrics[image], depth[image], width)
        shape = (batch, height, width) if inputs.batched else (height, width)
        return Rasterization(
            face_index.view(shape), barycentrics.view(*shape, 3), depth.view(shape)
        )

    def _draw(self, corners, piece_faces, keys, height, width) -> None:
        """Depth-test every covered pixel of these triangles into ``keys``."""
        screen = snap_to_subpixels(corners, height, width)
        edges, drawable = _edge_setup(screen)
        bounds = _pixel_bounds(screen, height, width)
        drawable &= (bounds[0] <= bounds[1]) & (bounds[2] <= bounds[3])
        planes = _depth_planes(corners[:, :, drawable], screen[:, :, drawable])
        edges, bounds = edges[:, :, drawable], bounds[:, drawable]
        piece_faces = piece_faces[drawable]
        rows = bounds[3] - bounds[2] + 1
        budget = self._budget(corners.device)
        for group in _chunks(rows, budget):
            run, rank = _segment_ids(rows.index_select(0, group))
            triangle = group.index_select(0, run)
            row_bounds = bounds.index_select(1, triangle)
            row = row_bounds[2] + rank
            first, length = _row_spans(_take(edges, triangle), row_bounds, row)
            spans = (length > 0).nonzero().squeeze(1)
            triangle, row, first, length = (
                item.index_select(0, spans) for item in (triangle, row, first, length)
            )
            for part in _chunks(length, budget):
                span_triangles = triangle.index_select(0, part)
                _depth_test(
                    planes.index_select(1, span_triangles),
                    piece_faces.index_select(0, span_triangles),
                    row.index_select(0, part), first.index_select(0, part),
                    length.index_select(0, part), keys, width,
                )

    def _resolve(self, coordinates, corner_ids, winner, barycentrics, depth, width) -> None:
        """Barycentrics ``[H*W, 3]`` and depth ``[H*W]`` of each pixel's winning face,
        written in place a chunk at a time."""
        height = winner.shape[0] // width
        covered = (winner >= 0).nonzero().squeeze(1)
        for pixel in covered.split(self._budget(coordinates.device)):
            fx, fy = ndc_pixel_centres(pixel % width, pixel // width, height, width)
            triangles = corner_ids.index_select(1, winner.index_select(0, pixel))
            u, v, z = homogeneous_barycentrics(_gather_corners(coordinates, triangles), fx, fy)
            u, v = u.clamp(0.0, 1.0), v.clamp(0.0, 1.0)
            barycentrics[pixel] = torch.stack([u, v, 1.0 - u - v], dim=1)
            depth[pixel] = z.clamp(-1.0, 1.0)
