"""Marching-cubes meshes of a lumpy ball, the kind of surface the shape stage makes
before decimation: many small, nearly equal triangles, some of them slivers.

The UV unwrap tests and ``bench/bench_unwrap.py`` share this maker, so the bench's
figures are measured on the meshes the tests run on, only larger.
"""

from __future__ import annotations

import numpy as np

from hy3d_core.geometry.mesh import Mesh

FACES_PER_CELL_SQUARED = 5.0


def noisy_blob(resolution: int, seed: int = 0) -> Mesh:
    """The zero level of a ball of radius 0.8 with twelve random plane waves of
    amplitude 0.04 added, sampled on a ``resolution``-cubed grid over [-1.2, 1.2]:
    about ``5 * resolution**2`` faces. The field is made a slab at a time so a 600-cubed
    grid needs no more than the grid itself."""
    from skimage.measure import marching_cubes

    rng = np.random.default_rng(seed)
    axis = np.linspace(-1.2, 1.2, resolution, dtype=np.float32)
    waves = []
    for _ in range(12):
        direction = rng.normal(size=3)
        waves.append((direction / np.linalg.norm(direction), rng.uniform(3, 9), rng.uniform(0, 6.3)))
    field = np.empty((resolution,) * 3, dtype=np.float32)
    y, z = np.meshgrid(axis, axis, indexing="ij")
    for index, x in enumerate(axis):
        slab = np.sqrt(x * x + y * y + z * z) - 0.8
        for direction, frequency, phase in waves:
            slab += 0.04 * np.sin(frequency * (direction[0] * x + direction[1] * y + direction[2] * z)
                                  + phase)
        field[index] = slab
    vertices, faces, normals, _ = marching_cubes(field, 0.0, spacing=(float(axis[1] - axis[0]),) * 3)
    return Mesh(vertices.astype(np.float64) - 1.2, faces.astype(np.int64),
                vertex_normals=-normals.astype(np.float64))


def blob_resolution(face_count: int) -> int:
    """The grid resolution whose blob has about ``face_count`` faces."""
    return max(8, round((face_count / FACES_PER_CELL_SQUARED) ** 0.5))
