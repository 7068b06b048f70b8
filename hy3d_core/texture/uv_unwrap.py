"""UV unwrap with xatlas, as the release does, giving per-vertex UVs.

xatlas cuts the surface into charts and packs them into one square atlas; a vertex on a
chart seam becomes one copy per chart (``vertex_map`` says which input vertex each
output vertex copies), so positions and normals are carried over through that map.

Before unwrapping, copies of one vertex left by an earlier unwrap (same position and
normal) are merged again, so old seams do not force new chart boundaries.

The mesh reaches xatlas centred and scaled to a unit box, so the layout does not depend
on the mesh's units. xatlas runs in bounded child processes that never outlive the job
(``xatlas_jobs.py``); a mesh above 100k faces is charted in parts in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec

import numpy as np

from ..geometry.mesh import Mesh
from ..geometry.welding import weld_vertices
from ..sampling.progress import Progress
from .surface_topology import check_texturable_mesh
from .xatlas_jobs import UVUnwrapError, run_xatlas

__all__ = ["UVUnwrap", "UVUnwrapError", "UnwrapOptions", "unwrap_uv", "unwrap_uv_detailed"]


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
    """``unwrap_uv`` plus what xatlas made of it. ``progress`` counts the parts charted
    on a large mesh (a small one is one step) and may cancel: the children stop within
    a fraction of a second."""
    check_texturable_mesh(mesh, need_uvs=False)
    if keep_existing and mesh.uvs is not None:
        return UVUnwrap(mesh.copy(), 0, (0, 0), 0.0, kept_existing=True)
    if find_spec("xatlas") is None:
        raise ModuleNotFoundError("UV unwrapping needs xatlas: pip install xatlas")
    # A normal seam is a real crease the file asked for: xatlas keeps it as a boundary.
    surface = weld_vertices(mesh.vertices, mesh.faces, keep_seams_in=(mesh.vertex_normals,))
    representative = surface.first_copy
    normals = None if mesh.vertex_normals is None else mesh.vertex_normals[representative]
    positions = unit_frame(surface.vertices)
    settings = {"resolution": options.resolution, "padding": options.padding,
                "max_cost": options.max_cost, "max_iterations": options.max_iterations}
    atlas = run_xatlas(positions, surface.faces, normals, settings, progress)
    source = representative[atlas.source]
    unwrapped = Mesh(
        vertices=mesh.vertices[source],
        faces=atlas.faces,
        uvs=atlas.uvs,
        vertex_normals=None if mesh.vertex_normals is None else mesh.vertex_normals[source],
    )
    return UVUnwrap(unwrapped, atlas.chart_count, atlas.size, atlas.utilization,
                    kept_existing=False)


def unit_frame(vertices: np.ndarray) -> np.ndarray:
    """``vertices`` centred on their bounding box and scaled to span [-1, 1] along its
    longest side, in float32: xatlas's tolerances are absolute, so a mesh in metres and
    the same mesh in micrometres must reach it the same (at 1e12 it ran away with
    memory, at 1e-4 it packed nothing)."""
    points = np.asarray(vertices, dtype=np.float64)
    low, high = points.min(axis=0), points.max(axis=0)
    half_extent = float((high - low).max()) / 2
    return ((points - (low + high) / 2) / (half_extent if half_extent > 0 else 1.0)).astype(np.float32)
