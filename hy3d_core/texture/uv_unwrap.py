"""UV unwrap with xatlas, as the release does, giving per-vertex UVs.

xatlas cuts the surface into charts and packs them into one square atlas; a vertex on a
chart seam becomes one copy per chart (``vertex_map`` says which input vertex each
output vertex copies), so positions and normals are carried over through that map.

Before unwrapping, copies of one vertex left by an earlier unwrap (same position and
normal) are merged again, so old seams do not force new chart boundaries.

xatlas runs in a child process (see ``xatlas_worker.py``): it crashes outright on some
meshes. After a crash the unwrap is tried once more with every position moved by a
ten-thousandth of the mesh's size, which changes xatlas's inputs just enough to
avoid the crash seen on a subdivision-6 icosphere; the UVs are then used with the
original positions, which the tiny move does not distort visibly.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from ..geometry.mesh import Mesh
from ..geometry.welding import weld_vertices
from ..sampling.progress import Progress
from .surface_topology import check_texturable_mesh

WORKER = Path(__file__).with_name("xatlas_worker.py")
RETRY_JITTER = 1e-4
_POLL_SECONDS = 0.2


class UVUnwrapError(ValueError):
    """xatlas could not unwrap this mesh."""


@dataclass(frozen=True)
class UnwrapOptions:
    """xatlas settings; the defaults are xatlas's own except ``resolution`` and
    ``padding``.

    ``resolution``: the atlas size in texels the charts are scaled for (0 lets xatlas
    choose, about 1024); ``padding``: empty atlas texels around each chart, on top of
    the one xatlas always leaves for bilinear filtering, so that charts stay a few
    texels apart for inpainting to dilate into even when baking at twice the resolution.
    ``max_cost``: how far a chart may bend before it is split (higher: fewer, larger,
    more distorted charts); ``max_iterations``: chart-growing passes (more: better
    charts, slower).
    """

    resolution: int = 1024
    padding: int = 2
    max_cost: float = 2.0
    max_iterations: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.resolution <= 16384:
            raise ValueError(f"resolution must be 0..16384, got {self.resolution}.")
        if not 0 <= self.padding <= 64:
            raise ValueError(f"padding must be 0..64 texels, got {self.padding}.")
        if not self.max_cost > 0:
            raise ValueError(f"max_cost must be positive, got {self.max_cost}.")
        if not 1 <= self.max_iterations <= 64:
            raise ValueError(f"max_iterations must be 1..64, got {self.max_iterations}.")


@dataclass(frozen=True, eq=False)
class UVUnwrap:
    """The unwrapped mesh and what xatlas made: chart count, atlas size in texels and
    the share of the atlas the charts cover. ``kept_existing`` when the mesh's own UVs
    were kept (no atlas was made, the statistics are zero)."""

    mesh: Mesh
    chart_count: int
    atlas_size: tuple[int, int]
    utilization: float
    kept_existing: bool


def unwrap_uv(mesh: Mesh, *, options: UnwrapOptions = UnwrapOptions(),
              keep_existing: bool = False, progress: Progress | None = None) -> Mesh:
    """A copy of ``mesh`` with per-vertex UVs (vertices split at seams).

    With ``keep_existing`` a mesh that already has UVs is returned unchanged (texture
    included). Otherwise any texture is dropped: it belonged to the old UVs.
    """
    return unwrap_uv_detailed(mesh, options=options, keep_existing=keep_existing,
                              progress=progress).mesh


def unwrap_uv_detailed(mesh: Mesh, *, options: UnwrapOptions = UnwrapOptions(),
                       keep_existing: bool = False, progress: Progress | None = None) -> UVUnwrap:
    """``unwrap_uv`` plus what xatlas made of it. ``progress`` is only asked whether to
    cancel (xatlas reports no progress); cancelling stops the child process."""
    check_texturable_mesh(mesh, need_uvs=False)
    if keep_existing and mesh.uvs is not None:
        return UVUnwrap(mesh.copy(), 0, (0, 0), 0.0, kept_existing=True)
    if find_spec("xatlas") is None:
        raise ModuleNotFoundError("UV unwrapping needs xatlas: pip install xatlas")
    # A normal seam is a real crease the file asked for: xatlas keeps it as a boundary.
    surface = weld_vertices(mesh.vertices, mesh.faces, keep_seams_in=(mesh.vertex_normals,))
    representative = surface.first_copy
    normals = None if mesh.vertex_normals is None else mesh.vertex_normals[representative]
    positions = surface.vertices
    try:
        atlas = _run_worker(positions, surface.faces, normals, options, progress)
    except _WorkerCrashed:
        extent = float(np.linalg.norm(positions.max(axis=0) - positions.min(axis=0)))
        jitter = np.random.default_rng(0).normal(scale=RETRY_JITTER * extent, size=positions.shape)
        try:
            atlas = _run_worker(positions + jitter.astype(np.float32), surface.faces, normals,
                                options, progress)
        except _WorkerCrashed as error:
            raise UVUnwrapError(
                f"xatlas crashed while unwrapping this mesh ({error}), twice; this is an "
                "xatlas bug on some meshes. Simplify or remesh it slightly, or give a mesh "
                "that already has UVs."
            ) from None
    source = representative[atlas["vertex_map"].astype(np.int64)]
    unwrapped = Mesh(
        vertices=mesh.vertices[source],
        faces=atlas["faces"].astype(np.int64),
        uvs=atlas["uvs"],
        vertex_normals=None if mesh.vertex_normals is None else mesh.vertex_normals[source],
    )
    charts, width, height, utilization = atlas["stats"].tolist()
    return UVUnwrap(unwrapped, int(charts), (int(width), int(height)), float(utilization),
                    kept_existing=False)


class _WorkerCrashed(Exception):
    pass


def _run_worker(positions: np.ndarray, faces: np.ndarray, normals: np.ndarray | None,
                options: UnwrapOptions, progress: Progress | None) -> dict[str, np.ndarray]:
    payload = io.BytesIO()
    arrays = {"positions": np.ascontiguousarray(positions, dtype=np.float32),
              "faces": np.ascontiguousarray(faces, dtype=np.uint32)}
    if normals is not None:
        arrays["normals"] = np.ascontiguousarray(normals, dtype=np.float32)
    np.savez(payload, **arrays)
    settings = json.dumps({"resolution": options.resolution, "padding": options.padding,
                           "max_cost": options.max_cost, "max_iterations": options.max_iterations})
    # The mesh goes in through a file: a pipe would have to be fed while polling for
    # cancellation, which subprocess.communicate cannot resume after a timeout.
    with tempfile.TemporaryFile() as mesh_file:
        mesh_file.write(payload.getvalue())
        mesh_file.seek(0)
        process = subprocess.Popen(
            [sys.executable, str(WORKER), settings],
            stdin=mesh_file, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        output, errors = _wait(process, progress)
    message = errors.decode(errors="replace").strip().splitlines()
    if process.returncode != 0:
        detail = message[-1] if message else f"exit status {process.returncode}"
        if process.returncode < 0:
            raise _WorkerCrashed(f"signal {-process.returncode}")
        raise UVUnwrapError(f"xatlas could not unwrap the mesh: {detail}")
    with np.load(io.BytesIO(output)) as atlas:
        return {name: atlas[name] for name in atlas.files}


def _wait(process: subprocess.Popen, progress: Progress | None) -> tuple[bytes, bytes]:
    """The child's output, asking ``progress`` between polls whether to stop; on a stop
    request or an interrupt the child is killed, never left running."""
    try:
        while True:
            try:
                return process.communicate(timeout=_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                if progress is not None:
                    progress.raise_if_cancelled()
    except BaseException:
        process.kill()
        process.communicate()
        raise
