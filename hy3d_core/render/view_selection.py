"""Which cameras Paint 2.1 generates and bakes views for: the release's view selection
(docs/release_conventions_2_1.md, section 18).

The release (``ViewProcessor.bake_view_selection``) starts from 30 candidate poses: the
six of Paint 2.0 (front, right, back, left, top, bottom with bake weights 1, 0.1, 0.5,
0.1, 0.05, 0.05) and a ring of twelve at elevation +20 and twelve at -20 (azimuths 0 to
330 in steps of 30, weight 0.01 each), interleaved as +20, -20 per azimuth. It renders
every candidate's triangle ids at 1024 px and then:

1. always keeps the first six candidates, in order;
2. up to ``max_views`` views, repeatedly adds the candidate that sees the largest share
   of the total surface area not seen by any kept view (the first such candidate on a
   tie), and stops early once the best one adds no more than 1 % of the area.

A triangle counts as seen by a view when it owns at least one pixel. Here the triangle
ids come from this project's rasterizer, so on a triangle a few pixels wide the choice
can differ from the release's where the two rasterizers disagree about a pixel.
"""

from __future__ import annotations

import torch

from ..geometry.face_geometry import face_normals_and_areas
from .cameras import CameraSet, orbit_cameras
from .rasterizer import Rasterizer, check_faces, get_rasterizer

RELEASED_DEFAULT_VIEWS = 6
"""``demo.py``'s ``max_num_view``; the release says 6 to 9 work."""
RELEASED_SELECTION_RESOLUTION = 1024
RELEASED_MIN_NEW_AREA = 0.01
ALWAYS_KEPT = 6


def _released_candidates() -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    azimuths = [0.0, 90.0, 180.0, 270.0, 0.0, 180.0]
    elevations = [0.0, 0.0, 0.0, 0.0, 90.0, -90.0]
    weights = [1.0, 0.1, 0.5, 0.1, 0.05, 0.05]
    for azimuth in range(0, 360, 30):
        for elevation in (20.0, -20.0):
            azimuths.append(float(azimuth))
            elevations.append(elevation)
            weights.append(0.01)
    return tuple(azimuths), tuple(elevations), tuple(weights)


RELEASED_CANDIDATE_AZIMUTHS, RELEASED_CANDIDATE_ELEVATIONS, RELEASED_CANDIDATE_WEIGHTS = (
    _released_candidates()
)


def released_candidate_cameras(**options) -> CameraSet:
    """The release's 30 candidates in its order; ``options`` go to ``orbit_cameras``."""
    return orbit_cameras(RELEASED_CANDIDATE_AZIMUTHS, RELEASED_CANDIDATE_ELEVATIONS,
                         RELEASED_CANDIDATE_WEIGHTS, **options)


def subset(cameras: CameraSet, indices: list[int]) -> CameraSet:
    """The views ``indices`` of ``cameras``, in that order."""
    picked = torch.as_tensor(indices, dtype=torch.int64)
    return CameraSet(
        azimuths=tuple(cameras.azimuths[i] for i in indices),
        elevations=tuple(cameras.elevations[i] for i in indices),
        weights=tuple(cameras.weights[i] for i in indices),
        kind=cameras.kind,
        distance=cameras.distance,
        world_to_camera=cameras.world_to_camera.index_select(0, picked),
        projection=cameras.projection,
    )


def visible_faces(vertices: torch.Tensor, faces: torch.Tensor, cameras: CameraSet,
                  resolution: int, rasterizer: Rasterizer) -> torch.Tensor:
    """``[N, F]`` bool: which faces own at least one pixel of each view."""
    seen = torch.zeros(len(cameras), faces.shape[0], dtype=torch.bool)
    clip = cameras.to_clip(vertices)
    for view in range(len(cameras)):  # one view at a time: 30 at 1024 px would be 1 GB
        face_index = rasterizer.rasterize(clip[view], faces, (resolution, resolution)).face_index
        ids = face_index[face_index >= 0].unique().cpu()
        seen[view, ids] = True
    return seen


def greedy_view_order(seen: torch.Tensor, face_areas: torch.Tensor, max_views: int,
                      always_kept: int = ALWAYS_KEPT,
                      min_new_area: float = RELEASED_MIN_NEW_AREA) -> list[int]:
    """Indices of the kept candidates, in the order the release adds them (module doc).

    ``seen`` ``[N, F]`` bool, ``face_areas`` ``[F]``.
    """
    ratios = (face_areas.double() / face_areas.double().sum()).numpy()
    seen = seen.numpy()
    kept = list(range(min(always_kept, len(seen))))
    covered = seen[kept].any(axis=0)
    while len(kept) < max_views:
        best, best_gain = -1, 0.0
        for candidate in range(len(seen)):
            if candidate in kept:
                continue
            gain = float(ratios[seen[candidate] & ~covered].sum())
            if gain > best_gain:
                best, best_gain = candidate, gain
        if best_gain <= min_new_area:
            break
        kept.append(best)
        covered |= seen[best]
    return kept


def select_bake_views(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    max_views: int = RELEASED_DEFAULT_VIEWS,
    *,
    candidates: CameraSet | None = None,
    resolution: int = RELEASED_SELECTION_RESOLUTION,
    rasterizer: Rasterizer | None = None,
) -> CameraSet:
    """The cameras Paint 2.1 paints and bakes for this mesh, as a :class:`CameraSet`
    (poses and bake weights of the kept candidates, in the release's order).

    ``vertices`` ``[V, 3]`` are in the normalised renderer frame (``normalize_for_render``),
    as for ``render_geometry_maps``. ``candidates`` defaults to the release's 30; the
    first six of them are always kept, so ``max_views`` must be at least 6.
    """
    candidates = candidates or released_candidate_cameras()
    if not isinstance(vertices, torch.Tensor) or vertices.ndim != 2 or vertices.shape[1] != 3:
        shape = list(vertices.shape) if isinstance(vertices, torch.Tensor) else type(vertices)
        raise ValueError(f"vertices must be a tensor of shape [V, 3], got {shape}.")
    lowest = min(ALWAYS_KEPT, len(candidates))
    if not lowest <= max_views <= len(candidates):
        raise ValueError(
            f"max_views must be between {lowest} (the release always keeps the first six "
            f"candidates) and the {len(candidates)} candidates, got {max_views}; the "
            "release uses 6 to 9."
        )
    if resolution < 8:
        raise ValueError(f"resolution must be at least 8 pixels, got {resolution}.")
    vertices = vertices.to(torch.float32)
    faces = check_faces(faces, vertices.shape[0], vertices.device)
    rasterizer = rasterizer or get_rasterizer("auto", vertices.device)
    _, face_areas = face_normals_and_areas(vertices.cpu().numpy(), faces.cpu().numpy())
    areas = torch.from_numpy(face_areas)
    if not float(areas.sum()) > 0:
        raise ValueError("The mesh has no surface area (every face is degenerate); repair it first.")
    seen = visible_faces(vertices, faces, candidates, resolution, rasterizer)
    return subset(candidates, greedy_view_order(seen, areas, max_views))

