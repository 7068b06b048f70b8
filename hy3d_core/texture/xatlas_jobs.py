"""The work the xatlas children do (``xatlas_worker.py``), within bounds.

A mesh of up to ``WHOLE_UP_TO_FACES`` faces is charted and packed by one child, as the
release does. A larger one is cut into parts of ``PART_FACES`` faces
(``uv_partition.py``), charted by one child per CPU, each taking every n-th part, and
the charts of all parts are packed into one atlas by a last child. That is what makes
large meshes finish: xatlas's charting costs more than linearly in the face count
(measurements in bench/README.md), and the parts run in parallel.

Every child is bounded: the whole job has a deadline proportional to its face count
with a floor, each child an address-space limit, and a child that runs past its bound,
runs out of memory or fails says so in a one-line ``UVUnwrapError`` that tells the user
to reduce the face count first. A child that crashes (xatlas segfaults on some meshes)
is run once more on its input moved by a ten-thousandth of the mesh's size, which
changes xatlas's inputs just enough to avoid the crash seen on a subdivision-6
icosphere; the UVs are then used with the original positions.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..sampling.progress import Progress
from .child_processes import ChildExit, ChildTimedOut, run_children
from .uv_partition import part_mesh, spatial_parts
from .xatlas_worker import MULTIPLE_ATLASES_EXIT, NO_CHARTS_EXIT, OUT_OF_MEMORY_EXIT

WORKER = Path(__file__).with_name("xatlas_worker.py")
WHOLE_UP_TO_FACES = 100_000
PART_FACES = 5_000
RETRY_JITTER = 1e-4
SECONDS_FLOOR = 120.0
SECONDS_PER_FACE = 2e-3
MEMORY_FLOOR = 1 << 30
MEMORY_PER_CPU = 256 << 20
MEMORY_PER_FACE = 16 << 10
PART_TEXELS = 4096
PART_GAP_TEXELS = 4.0
REDUCE_FACES = ("Reduce the face count first (--max-faces on the command line, max_faces in "
                "the Postprocess Mesh node) and unwrap again.")


class UVUnwrapError(ValueError):
    """xatlas could not unwrap this mesh."""


class _ChildCrashed(Exception):
    pass


@dataclass(frozen=True, eq=False)
class Atlas:
    """What xatlas made: output vertex ``i`` copies input vertex ``source[i]``; the
    faces (in input order) index the output vertices."""

    source: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    chart_count: int
    size: tuple[int, int]
    utilization: float


@dataclass(frozen=True)
class Bounds:
    """The moment (``time.monotonic()``) the job must be done by, how long that was
    when it started, and the face count it was sized for."""

    deadline: float
    seconds: float
    face_count: int

    @classmethod
    def for_faces(cls, face_count: int) -> Bounds:
        seconds = SECONDS_FLOOR + SECONDS_PER_FACE * face_count
        return cls(time.monotonic() + seconds, seconds, face_count)


def memory_limit(face_count: int) -> int:
    """Address space allowed to a child handling ``face_count`` faces: generous (xatlas
    runs one thread per CPU, each with its own stack and allocator arena), but far
    below what a runaway child would take."""
    return MEMORY_FLOOR + MEMORY_PER_CPU * (os.cpu_count() or 1) + MEMORY_PER_FACE * face_count


def run_xatlas(positions: np.ndarray, faces: np.ndarray, normals: np.ndarray | None,
               settings: dict, progress: Progress | None) -> Atlas:
    """The atlas of a mesh already in xatlas's frame: whole when it is small, else in
    parts. ``settings``: resolution, padding, max_cost and max_iterations."""
    unwrap = unwrap_whole if len(faces) <= WHOLE_UP_TO_FACES else unwrap_in_parts
    return unwrap(positions, faces, normals, settings, progress)


def unwrap_whole(positions: np.ndarray, faces: np.ndarray, normals: np.ndarray | None,
                 settings: dict, progress: Progress | None) -> Atlas:
    """Chart and pack the mesh in one child, as the release does (one progress step:
    xatlas reports none)."""
    bounds = Bounds.for_faces(len(faces))
    with tempfile.TemporaryDirectory(prefix="hy3d-unwrap-") as folder:
        mesh, atlas = Path(folder) / "mesh.npz", Path(folder) / "atlas.npz"
        _write_mesh(mesh, positions, faces, normals)
        try:
            _run("atlas", settings, [[mesh, atlas]], len(faces), bounds, progress)
        except _ChildCrashed:
            _write_mesh(mesh, _jittered(positions), faces, normals)
            _run_after_crash("atlas", settings, [[mesh, atlas]], len(faces), bounds, progress)
        if progress is not None:
            progress.step(1, 1)
        return _read_atlas(atlas, np.arange(len(positions)))


def unwrap_in_parts(positions: np.ndarray, faces: np.ndarray, normals: np.ndarray | None,
                    settings: dict, progress: Progress | None) -> Atlas:
    """Chart spatial parts in parallel children, then pack all their charts in one;
    ``progress`` counts the parts charted, then the packing."""
    bounds = Bounds.for_faces(len(faces))
    parts = spatial_parts(positions, faces, PART_FACES)
    corners = positions[faces]
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0],
                                         corners[:, 2] - corners[:, 0]), axis=1).sum()
    # Texels per unit length so that the parts' charts together would fill a
    # PART_TEXELS-wide square: fine enough that no chart is a speck.
    chart_settings = {**settings, "texels_per_unit": PART_TEXELS / max(float(area), 1e-12) ** 0.5}
    with tempfile.TemporaryDirectory(prefix="hy3d-unwrap-") as folder:
        folder = Path(folder)
        charted = folder / "charts"
        charted.mkdir()
        part_files, vertices_of_part = [], []
        for index, members in enumerate(parts):
            used, local_faces = part_mesh(faces, members)
            part_files.append(folder / f"part_{index:05d}.npz")
            vertices_of_part.append(used)
            _write_mesh(part_files[-1], positions[used], local_faces,
                        None if normals is None else normals[used])
        reporter = _PartsReporter(charted, len(parts) + 1, progress)
        _chart_parts(part_files, charted, chart_settings, bounds, progress, reporter)
        source, uv_faces, uvs = _gather_charts(parts, vertices_of_part, charted, len(faces))
        uv_mesh, atlas = folder / "uv_mesh.npz", folder / "atlas.npz"
        _write_uv_mesh(uv_mesh, uvs, uv_faces)
        try:
            _run("pack", settings, [[uv_mesh, atlas]], len(faces), bounds, progress)
        except _ChildCrashed as error:
            raise UVUnwrapError(_crash_message(error, "packing the charts")) from None
        if progress is not None:
            progress.step(len(parts) + 1, len(parts) + 1)
        packed = _read_atlas(atlas, source)
    # xatlas gives a face too small to chart one point, (0, 0) when it lays out a whole
    # mesh; when packing charts it leaves such a face where it was, outside the atlas.
    corners = uvs[uv_faces]
    edges = corners[:, 1:] - corners[:, :1]
    pointlike = edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0] == 0
    packed.uvs[packed.faces[pointlike]] = 0.0
    return packed


class _PartsReporter:
    """Counts the parts whose charts are written and tells ``progress`` when it grows."""

    def __init__(self, charted: Path, total: int, progress: Progress | None) -> None:
        self.charted, self.total, self.progress, self.done = charted, total, progress, -1

    def __call__(self) -> None:
        done = sum(1 for _ in self.charted.glob("part_*.npz"))
        if self.progress is not None and done != self.done:
            self.progress.step(done, self.total)
        self.done = done


def _chart_parts(part_files: list[Path], charted: Path, settings: dict, bounds: Bounds,
                 progress: Progress | None, reporter: _PartsReporter) -> None:
    """One child per CPU charts every n-th part; the parts left uncharted by a child
    that crashed are charted once more, moved slightly, by one child."""
    children = max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else os.cpu_count() or 1, len(part_files)))
    commands = [[charted, *part_files[child::children]] for child in range(children)]
    try:
        _run("charts", settings, commands, PART_FACES, bounds, progress, reporter)
        return
    except _ChildCrashed:
        pass
    missing = [part for part in part_files if not (charted / part.name).exists()]
    for part in missing:
        with np.load(part) as arrays:
            mesh = {name: arrays[name] for name in arrays.files}
        mesh["positions"] = _jittered(mesh["positions"])
        with open(part, "wb") as file:
            np.savez(file, **mesh)
    _run_after_crash("charts", settings, [[charted, *missing]], PART_FACES, bounds, progress,
                     reporter)


def _gather_charts(parts: list[np.ndarray], vertices_of_part: list[np.ndarray], charted: Path,
                   face_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All parts' charts as one UV mesh with the faces in the mesh's order: the mesh
    vertex behind each UV vertex, the faces, and the UVs in texels. Each part is moved
    right of the previous one so that no two parts' charts overlap (xatlas would take
    coinciding UVs for one chart)."""
    sources, uv_chunks = [], []
    uv_faces = np.empty((face_count, 3), dtype=np.int64)
    offset, shift = 0, 0.0
    for index, members in enumerate(parts):
        with np.load(charted / f"part_{index:05d}.npz") as charts:
            vertex_map, local_faces, uvs = charts["vertex_map"], charts["faces"], charts["uvs"]
        sources.append(vertices_of_part[index][vertex_map.astype(np.int64)])
        uv_faces[members] = local_faces.astype(np.int64) + offset
        uvs = uvs.astype(np.float64)
        uvs[:, 0] += shift - uvs[:, 0].min()
        shift = uvs[:, 0].max() + PART_GAP_TEXELS
        uv_chunks.append(uvs)
        offset += len(vertex_map)
    return np.concatenate(sources), uv_faces, np.concatenate(uv_chunks)


def _run(mode: str, settings: dict, paths: list[list[Path]], child_faces: int, bounds: Bounds,
         progress: Progress | None, on_poll=None) -> None:
    """Run one child per entry of ``paths``; raise ``UVUnwrapError`` for a failure the
    user must act on and ``_ChildCrashed`` when a child died of a signal."""
    limit = memory_limit(child_faces)
    arguments = json.dumps({**settings, "parent_pid": os.getpid(), "memory_limit": limit})
    commands = [[sys.executable, str(WORKER), mode, arguments, *map(str, entry)] for entry in paths]
    try:
        exits = run_children(commands, deadline=bounds.deadline, progress=progress, on_poll=on_poll)
    except ChildTimedOut:
        raise UVUnwrapError(
            f"Unwrapping {bounds.face_count} faces did not finish within {bounds.seconds:.0f} s "
            f"(the bound for this many faces), so xatlas was stopped. {REDUCE_FACES}"
        ) from None
    for child in exits:
        if child.returncode in (MULTIPLE_ATLASES_EXIT, OUT_OF_MEMORY_EXIT):
            raise UVUnwrapError(f"{child.message}. {REDUCE_FACES}")
        if child.returncode == NO_CHARTS_EXIT:
            raise UVUnwrapError(f"{child.message}. Give a mesh with a surface.")
        if child.returncode > 0:
            raise UVUnwrapError(f"xatlas could not unwrap the mesh: "
                                f"{child.message or f'exit status {child.returncode}'}")
    crashed = [child for child in exits if child.returncode < 0]
    if crashed:
        raise _ChildCrashed(_signal_name(crashed[0]))


def _run_after_crash(mode: str, settings: dict, paths: list[list[Path]], child_faces: int,
                     bounds: Bounds, progress: Progress | None, on_poll=None) -> None:
    try:
        _run(mode, settings, paths, child_faces, bounds, progress, on_poll)
    except _ChildCrashed as error:
        raise UVUnwrapError(_crash_message(error, "unwrapping this mesh")) from None


def _crash_message(error: _ChildCrashed, doing: str) -> str:
    return (f"xatlas crashed while {doing} ({error}), twice; this is an xatlas bug on some "
            f"meshes (or it ran out of its memory bound). Simplify or remesh it slightly, or "
            f"give a mesh that already has UVs.")


def _signal_name(child: ChildExit) -> str:
    return f"signal {-child.returncode}"


def _jittered(positions: np.ndarray) -> np.ndarray:
    extent = float(np.linalg.norm(positions.max(axis=0) - positions.min(axis=0)))
    jitter = np.random.default_rng(0).normal(scale=RETRY_JITTER * extent, size=positions.shape)
    return (positions + jitter).astype(np.float32)


def _write_mesh(path: Path, positions: np.ndarray, faces: np.ndarray,
                normals: np.ndarray | None) -> None:
    arrays = {"positions": np.ascontiguousarray(positions, dtype=np.float32),
              "faces": np.ascontiguousarray(faces, dtype=np.uint32)}
    if normals is not None:
        arrays["normals"] = np.ascontiguousarray(normals, dtype=np.float32)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _write_uv_mesh(path: Path, uvs: np.ndarray, faces: np.ndarray) -> None:
    with open(path, "wb") as file:
        np.savez(file, uvs=np.ascontiguousarray(uvs, dtype=np.float32),
                 faces=np.ascontiguousarray(faces, dtype=np.uint32))


def _read_atlas(path: Path, source: np.ndarray) -> Atlas:
    with np.load(path) as atlas:
        charts, width, height, utilization = atlas["stats"].tolist()
        return Atlas(source[atlas["vertex_map"].astype(np.int64)], atlas["faces"].astype(np.int64),
                     atlas["uvs"], int(charts), (int(width), int(height)), float(utilization))
