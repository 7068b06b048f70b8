"""Solids from arbitrary user meshes: open, non-manifold, in several overlapping pieces.

Training needs a closed surface to sample and an inside test to label points, and real
meshes rarely have either. The mesh is turned into a solid on a voxel grid:

1. ``d``: unsigned distance from every grid point to dense area-uniform surface samples
   (a k-d tree, searched only up to a few voxels).
2. Outside: grid points farther than ``band`` from the surface that a flood fill from
   the grid border reaches. Holes and cracks narrower than about ``2 * band`` are too
   thin for the fill to pass, so they are sealed; overlapping pieces and internal
   faces end up inside, since the fill never reaches them.
3. The boundary of that outside region is a shell ``band`` outside the true surface;
   moving it ``band`` back inwards (a morphological closing) gives the field
   ``phi = d`` outside and ``band - (distance to the shell)`` inside, zero on the
   closed surface, negative inside.
4. Marching cubes of ``phi`` gives a watertight mesh; trilinear interpolation of
   ``phi`` gives the inside test for occupancy labels, consistent with that mesh.

Accuracy: about one voxel (``extent / resolution``): the surface may move by up to a
voxel, concave corners sharper than the band are rounded off, and parts thinner than a
voxel (or open sheets thinner than ``2 * band``, which enclose no volume) disappear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.face_geometry import face_normals_and_areas, wind_outward
from ..geometry.mesh import Mesh
from ..geometry.surface_sampling import sample_surface

DEFAULT_BAND_VOXELS = 2.0
# Surface samples per voxel face area: keeps the distance error well under a voxel.
_SAMPLES_PER_VOXEL_AREA = 8.0
_MAX_SAMPLES = 2_000_000


@dataclass(frozen=True, eq=False)
class GridSolid:
    """A solid as a signed field on a regular grid: negative inside, zero on the surface.

    ``phi[i, j, k]`` is the value at ``origin + voxel * (i, j, k)``.
    """

    phi: np.ndarray
    origin: np.ndarray
    voxel: float

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Inside test for ``[N, 3]`` points; points off the grid are outside."""
        from scipy.ndimage import map_coordinates

        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"points must have shape [N, 3], got {list(points.shape)}.")
        coordinates = ((points - self.origin) / self.voxel).T
        values = map_coordinates(self.phi, coordinates, order=1, mode="constant",
                                 cval=float(self.phi.max()))
        return values < 0.0

    def mesh(self) -> Mesh:
        """The zero level as a watertight mesh, faces wound outward."""
        from skimage.measure import marching_cubes

        vertices, faces, _, _ = marching_cubes(self.phi, level=0.0, method="lewiner")
        vertices = vertices * self.voxel + self.origin
        return Mesh(vertices=vertices, faces=wind_outward(vertices, faces))


def _grid(mesh: Mesh, resolution: int, margin_voxels: float) -> tuple[np.ndarray, float, tuple]:
    used = mesh.vertices[np.unique(mesh.faces)].astype(np.float64)
    low, high = used.min(axis=0), used.max(axis=0)
    voxel = float((high - low).max()) / resolution
    if voxel == 0.0:
        raise ValueError("The mesh's faces all collapse to one point; it has no extent.")
    margin = margin_voxels * voxel
    shape = tuple(int(n) for n in np.ceil((high - low + 2 * margin) / voxel).astype(int) + 1)
    return low - margin, voxel, shape


def _grid_points(origin: np.ndarray, voxel: float, shape: tuple) -> np.ndarray:
    axes = [origin[axis] + voxel * np.arange(shape[axis]) for axis in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _outside_region(distance: np.ndarray, band: float) -> np.ndarray:
    from scipy.ndimage import label

    labels, _ = label(distance > band)
    border = np.concatenate([labels[[0, -1]].ravel(), labels[:, [0, -1]].ravel(),
                             labels[:, :, [0, -1]].ravel()])
    reached = np.unique(border[border > 0])
    return np.isin(labels, reached)


def _no_volume_message(band_voxels: float) -> str:
    return ("The mesh encloses no volume at this resolution: it is an open sheet, has a "
            f"hole wider than about {2 * band_voxels:g} voxels that let the outside in "
            "(close the hole, lower the resolution or raise band_voxels), or every part "
            "is thinner than the band (raise the resolution).")


def watertight_solid(mesh: Mesh, *, resolution: int = 128,
                     band_voxels: float = DEFAULT_BAND_VOXELS, seed: int = 0) -> GridSolid:
    """The solid that ``mesh`` encloses, on a grid with ``resolution`` voxels along the
    mesh's longest side (see the module docstring for the method and its accuracy)."""
    from scipy.spatial import cKDTree
    from skimage.measure import marching_cubes

    if mesh.is_empty:
        raise ValueError(f"Cannot make a solid from a mesh without faces "
                         f"({len(mesh.vertices)} vertices, {len(mesh.faces)} faces).")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
        raise ValueError(f"resolution must be an integer of at least 8, got {resolution!r}.")
    if not band_voxels >= 1.0:
        raise ValueError(f"band_voxels must be at least 1 (a voxel), got {band_voxels}.")
    origin, voxel, shape = _grid(mesh, resolution, margin_voxels=band_voxels + 3.0)
    band = band_voxels * voxel
    reach = band + 2.0 * voxel
    area = float(face_normals_and_areas(mesh.vertices, mesh.faces)[1].sum())
    count = int(min(_MAX_SAMPLES, max(10_000, _SAMPLES_PER_VOXEL_AREA * area / voxel**2)))
    samples, _ = sample_surface(mesh, count, seed=seed)
    samples = np.concatenate([samples, mesh.vertices[np.unique(mesh.faces)]])
    points = _grid_points(origin, voxel, shape)
    distance, _ = cKDTree(samples).query(points, distance_upper_bound=reach, workers=-1)
    distance = np.minimum(distance, reach).reshape(shape)
    outside = _outside_region(distance, band)
    if outside.all():
        raise ValueError(_no_volume_message(band_voxels))
    # The outside region's boundary: continuous through the band, -1 deeper inside.
    shell_field = np.where(outside | (distance <= band), distance - band, -1.0)
    shell, _, _, _ = marching_cubes(shell_field, level=0.0, method="lewiner")
    inner = ~outside
    to_shell, _ = cKDTree(shell * voxel + origin).query(
        points[inner.ravel()], distance_upper_bound=reach, workers=-1)
    phi = distance.copy()
    phi[inner] = band - np.minimum(to_shell, reach)
    if not (phi < 0).any():
        raise ValueError(_no_volume_message(band_voxels))
    return GridSolid(phi=phi.astype(np.float32), origin=origin, voxel=voxel)


def make_watertight(mesh: Mesh, *, resolution: int = 128,
                    band_voxels: float = DEFAULT_BAND_VOXELS) -> Mesh:
    """A watertight, outward-wound version of ``mesh``, accurate to about one voxel of a
    ``resolution`` grid over the mesh's longest side (see ``watertight_solid``)."""
    return watertight_solid(mesh, resolution=resolution, band_voxels=band_voxels).mesh()
