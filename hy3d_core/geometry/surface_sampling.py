"""Surface and sharp-edge point samples of a mesh: the ShapeVAE encoder's input.

What the 2.1 release does (its mesh loader for encoding and its training-data script),
and what is kept here:

- Uniform samples: area-uniform points on the triangles, each with its face's normal.
- Sharp vertices: a vertex normal is the corner-angle-weighted mean of its faces'
  normals (trimesh's definition, which the release uses); a vertex is sharp when the
  smallest dot product between its normal and the normals of its faces is below 0.985
  (about 10 degrees). An edge is sharp when both its ends are sharp.
- Sharp samples: an edge is picked with probability proportional to its length, then a
  uniform point on it; its normal is the linear blend of the two vertex normals.
- Layout: ``[xyz, normal, flag]`` per row, the uniform rows (flag 0) before the sharp
  rows (flag 1); without the flag when the VAE takes normals only.

Where this differs from the release, and why:

- Vertices at the same position are welded before detection. The release rebuilds a
  trimesh, which merges them; without welding, a mesh exported with hard (split)
  normals would have no sharp vertex at all.
- ``creases_only`` (default on) also asks that the faces on both sides of an edge meet
  at an angle (cosine below the same threshold), or that the edge borders fewer or more
  than two faces. The release's training meshes were dense marching-cubes remeshes,
  where "both ends sharp" already means "on a crease"; on a coarse mesh it would also
  take every edge between two corners, such as the diagonals across a cube's faces,
  and spread sharp samples over flat faces the encoder never saw marked sharp.
  ``creases_only=False`` gives the release's rule exactly.
- Sharp-sample normals are rescaled to unit length. The release's blend shortens them
  where the two vertex normals differ (to 0.82 midway along a cube's edge); on its dense
  training meshes neighbouring vertex normals agree and the blend was unit length.
- Each undirected edge is counted once. The release samples half-edges, so a boundary
  edge got half the weight of an interior edge of the same length.
- Zero-area faces take no part: they have no normal. The release gives them a zero
  normal, which makes their vertices sharp.
- A mesh with no sharp edge makes the release fail (it samples from an empty edge list).
  Here its sharp rows are filled with more uniform samples, flagged 0 since they are
  not on an edge, and a warning says so.
- Arithmetic is float64 and the result float32; the release rounds samples to float16.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .face_geometry import face_normals_and_areas
from .mesh import Mesh
from .welding import weld_vertices

RELEASED_SHARP_THRESHOLD = 0.985

Seed = int | np.random.Generator


@dataclass(frozen=True)
class _WeldedMesh:
    """The mesh with one vertex per distinct position, and its normals.

    ``original_index`` maps a welded vertex to its first copy in the input mesh.
    ``valid`` marks faces with a non-zero area (the only ones with a normal).
    """

    vertices: np.ndarray
    faces: np.ndarray
    original_index: np.ndarray
    face_normals: np.ndarray
    valid: np.ndarray
    vertex_normals: np.ndarray


def _require_surface(mesh: Mesh, operation: str) -> None:
    if mesh.is_empty:
        raise ValueError(
            f"{operation} needs a mesh with faces, but this mesh has {len(mesh.vertices)} "
            f"vertices and {len(mesh.faces)} faces; check the step that produced it."
        )


def _check_count(count: int, name: str = "count") -> None:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {count!r}.")


def _check_threshold(threshold: float) -> None:
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(
            f"The sharpness threshold is a cosine and must be within -1..1, got {threshold} "
            f"(the release uses {RELEASED_SHARP_THRESHOLD}, about 10 degrees)."
        )


def _corner_angles(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``[F, 3]`` interior angle at each corner of non-degenerate faces."""
    corners = vertices[faces]
    to_next = corners[:, [1, 2, 0]] - corners
    to_previous = corners[:, [2, 0, 1]] - corners
    lengths = np.linalg.norm(to_next, axis=2) * np.linalg.norm(to_previous, axis=2)
    cosine = np.einsum("fcd,fcd->fc", to_next, to_previous) / lengths
    return np.arccos(np.clip(cosine, -1.0, 1.0))


def _weld(mesh: Mesh) -> _WeldedMesh:
    # Positions only: a UV or normal seam is no crease (see geometry/welding).
    surface = weld_vertices(mesh.vertices, mesh.faces)
    vertices, faces = surface.vertices.astype(np.float64), surface.faces
    face_normals, areas = face_normals_and_areas(vertices, faces)
    valid = areas > 0.0
    angles = _corner_angles(vertices, faces[valid])
    weighted = angles[:, :, None] * face_normals[valid][:, None, :]
    summed = np.stack([np.bincount(faces[valid].ravel(), weights=weighted[..., axis].ravel(),
                                   minlength=len(vertices)) for axis in range(3)], axis=1)
    length = np.linalg.norm(summed, axis=1, keepdims=True)
    vertex_normals = np.divide(summed, length, out=np.zeros_like(summed), where=length > 0)
    return _WeldedMesh(vertices, faces, surface.first_copy, face_normals, valid, vertex_normals)


def _sharp_vertices(welded: _WeldedMesh, threshold: float) -> np.ndarray:
    faces = welded.faces[welded.valid]
    alignment = np.einsum("fcd,fd->fc", welded.vertex_normals[faces],
                          welded.face_normals[welded.valid])
    smallest = np.ones(len(welded.vertices))
    np.minimum.at(smallest, faces.ravel(), alignment.ravel())
    return smallest < threshold


def _half_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each face's three sides as ``[3F, 2]`` vertex pairs (smaller first), and its face."""
    sides = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.sort(sides, axis=1), np.tile(np.arange(len(faces)), 3)


def _group_edges(sides: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct edges ``[E, 2]`` and, per side, its edge (one integer key per edge sorts
    far faster than rows)."""
    keys, edge_of_side = np.unique(sides[:, 0] * vertex_count + sides[:, 1],
                                   return_inverse=True)
    edges = np.stack([keys // vertex_count, keys % vertex_count], axis=1)
    return edges, edge_of_side.reshape(-1)


def _crease_edges(edge_count: int, edge_of_side: np.ndarray, face_of_side: np.ndarray,
                  face_normals: np.ndarray, threshold: float) -> np.ndarray:
    """Edges whose two faces meet at an angle, or with other than two faces."""
    face_count = np.bincount(edge_of_side, minlength=edge_count)
    order = np.argsort(edge_of_side, kind="stable")
    first_slot = np.cumsum(face_count) - face_count
    crease = face_count != 2
    pairs = np.flatnonzero(face_count == 2)
    first_face = face_of_side[order[first_slot[pairs]]]
    second_face = face_of_side[order[first_slot[pairs] + 1]]
    alignment = np.einsum("ed,ed->e", face_normals[first_face], face_normals[second_face])
    crease[pairs] = alignment < threshold
    return crease


def _sharp_edges_welded(welded: _WeldedMesh, threshold: float,
                        creases_only: bool) -> np.ndarray:
    sharp = _sharp_vertices(welded, threshold)
    sides, face_of_side = _half_edges(welded.faces[welded.valid])
    # Every side of an edge has the same two ends, so this keeps whole edges.
    between_sharp = sharp[sides[:, 0]] & sharp[sides[:, 1]]
    sides, face_of_side = sides[between_sharp], face_of_side[between_sharp]
    edges, edge_of_side = _group_edges(sides, len(welded.vertices))
    if not creases_only:
        return edges
    crease = _crease_edges(len(edges), edge_of_side, face_of_side,
                           welded.face_normals[welded.valid], threshold)
    return edges[crease]


def sharp_edges(mesh: Mesh, *, threshold: float = RELEASED_SHARP_THRESHOLD,
                creases_only: bool = True) -> np.ndarray:
    """Sharp edges ``[E, 2]`` (int64, smaller index first), as vertex indices of ``mesh``.

    ``threshold`` is the cosine below which a vertex's normal and one of its faces'
    normals disagree enough to make the vertex sharp (and, with ``creases_only``, the
    two faces of an edge to make it a crease). Where several vertices share a position
    the edge names the first of them.
    """
    _require_surface(mesh, "sharp_edges")
    _check_threshold(threshold)
    welded = _weld(mesh)
    edges = welded.original_index[_sharp_edges_welded(welded, threshold, creases_only)]
    return np.sort(edges, axis=1)


def sample_surface(mesh: Mesh, count: int, *,
                   seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` area-uniform points on the mesh and their face normals, float32 ``[count, 3]``.

    ``seed`` is an int or a ``numpy.random.Generator`` (which then advances), so one
    generator can drive several samplings in a fixed order.
    """
    _require_surface(mesh, "sample_surface")
    _check_count(count)
    rng = np.random.default_rng(seed)
    vertices = mesh.vertices.astype(np.float64)
    face_normals, areas = face_normals_and_areas(vertices, mesh.faces)
    total = areas.sum()
    if total == 0.0:
        raise ValueError("The mesh has no surface to sample: every face has zero area.")
    faces = rng.choice(len(mesh.faces), size=count, p=areas / total)
    u, v = rng.random((2, count))
    outside = u + v > 1.0
    u[outside], v[outside] = 1.0 - u[outside], 1.0 - v[outside]
    a, b, c = np.moveaxis(vertices[mesh.faces[faces]], 1, 0)
    points = a + u[:, None] * (b - a) + v[:, None] * (c - a)
    return points.astype(np.float32), face_normals[faces].astype(np.float32)


def _sample_edges(welded: _WeldedMesh, edges: np.ndarray, count: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    start, end = welded.vertices[edges[:, 0]], welded.vertices[edges[:, 1]]
    lengths = np.linalg.norm(end - start, axis=1)
    picked = rng.choice(len(edges), size=count, p=lengths / lengths.sum())
    along = rng.random((count, 1))
    points = start[picked] + along * (end[picked] - start[picked])
    start_normal = welded.vertex_normals[edges[picked, 0]]
    blend = start_normal + along * (welded.vertex_normals[edges[picked, 1]] - start_normal)
    length = np.linalg.norm(blend, axis=1, keepdims=True)
    # Opposite end normals can cancel; the start's normal is then the nearest sensible one.
    normals = np.where(length > 1e-12, blend / np.maximum(length, 1e-12), start_normal)
    return points.astype(np.float32), normals.astype(np.float32)


def _no_sharp_edge_message(threshold: float) -> str:
    return (f"The mesh has no sharp edge at threshold {threshold} (cosine); raise it "
            f"towards 1 to find softer edges.")


def sample_sharp_edges(mesh: Mesh, count: int, *, seed: Seed = 0,
                       threshold: float = RELEASED_SHARP_THRESHOLD,
                       creases_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points along the sharp edges, by edge length, with unit normals.

    Raises ``ValueError`` when the mesh has no sharp edge (see ``surface_point_cloud``
    for the fallback the encoder input uses).
    """
    _require_surface(mesh, "sample_sharp_edges")
    _check_count(count)
    _check_threshold(threshold)
    welded = _weld(mesh)
    edges = _sharp_edges_welded(welded, threshold, creases_only)
    if len(edges) == 0:
        raise ValueError(_no_sharp_edge_message(threshold))
    return _sample_edges(welded, edges, count, np.random.default_rng(seed))


def surface_point_cloud(mesh: Mesh, *, num_uniform: int, num_sharp: int, seed: Seed = 0,
                        sharp_threshold: float = RELEASED_SHARP_THRESHOLD,
                        creases_only: bool = True, sharp_flag: bool = True) -> torch.Tensor:
    """The encoder's input ``[1, num_uniform + num_sharp, 3 + 3 + flag]``, float32, CPU.

    Rows: ``num_uniform`` surface samples, then ``num_sharp`` sharp-edge samples; columns
    xyz, normal, and (with ``sharp_flag``, for VAEs with 4 point features) 0 for uniform
    rows and 1 for sharp rows. Samples are taken in the mesh's own frame: normalise it
    first (``normalize_mesh``). A mesh without sharp edges gets uniform samples, flagged
    0, in its sharp rows, with a warning.
    """
    _require_surface(mesh, "surface_point_cloud")
    _check_count(num_uniform, "num_uniform")
    _check_count(num_sharp, "num_sharp")
    _check_threshold(sharp_threshold)
    rng = np.random.default_rng(seed)
    points, normals = sample_surface(mesh, num_uniform, seed=rng)
    flags = np.zeros(num_uniform + num_sharp, dtype=np.float32)
    if num_sharp:
        welded = _weld(mesh)
        edges = _sharp_edges_welded(welded, sharp_threshold, creases_only)
        if len(edges):
            sharp_points, sharp_normals = _sample_edges(welded, edges, num_sharp, rng)
            flags[num_uniform:] = 1.0
        else:
            warnings.warn(_no_sharp_edge_message(sharp_threshold)
                          + " Its sharp-edge rows hold uniform surface samples instead.",
                          stacklevel=2)
            sharp_points, sharp_normals = sample_surface(mesh, num_sharp, seed=rng)
        points = np.concatenate([points, sharp_points])
        normals = np.concatenate([normals, sharp_normals])
    columns = [points, normals] + ([flags[:, None]] if sharp_flag else [])
    return torch.from_numpy(np.concatenate(columns, axis=1))[None]
