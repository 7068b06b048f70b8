"""Decimation benchmark: the fast path and the topology-preserving fallback of
``reduce_faces`` on smooth and rough marching-cubes surfaces.

For each surface it prints the face count, the topology signature (pieces, Euler
characteristic, non-manifold edges) before and after, the time of ``reduce_faces``, and,
for comparison, the signature fast-simplification alone would leave. Smooth surfaces are
what the released model makes; rough ones (a noise field's zero set, closed by empty
space) stand for an undertrained model's, such as the demo model's. Nothing is asserted.

    python bench/bench_cleanup.py [--budget 40000]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hy3d_core.geometry import cleanup  # noqa: E402
from hy3d_core.geometry.cleanup import reduce_faces, remove_floaters, topology_signature  # noqa: E402
from hy3d_core.geometry.surface import extract_surface  # noqa: E402


def smooth_surface(resolution: int):
    """A torus fused with a ball: one closed piece with one hole."""
    axis = np.linspace(-1.01, 1.01, resolution + 1)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    torus = 0.25 - np.sqrt((np.sqrt(x**2 + y**2) - 0.6) ** 2 + z**2)
    ball = 0.35 - np.sqrt(x**2 + (y - 0.3) ** 2 + (z - 0.3) ** 2)
    return extract_surface(np.maximum(torus, ball).astype(np.float32))


def rough_surface(resolution: int, smoothing_voxels: float):
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(0).standard_normal((resolution + 1,) * 3)
    field = np.pad(gaussian_filter(noise, smoothing_voxels), 2, constant_values=-1.0)
    return remove_floaters(extract_surface(field.astype(np.float32), close_at_bounds=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=40000, help="face budget")
    args = parser.parse_args()

    surfaces = {
        "smooth, R=256": smooth_surface(256),
        "smooth, R=384": smooth_surface(384),
        "rough, R=96, noise 3 voxels": rough_surface(96, 3.0),
        "rough, R=128, noise 2 voxels": rough_surface(128, 2.0),
    }
    print(f"budget {args.budget} faces; signature = (pieces, Euler characteristic, non-manifold edges)")
    print(f"{'surface':<30} {'faces':>8} {'signature':>16} {'fast alone':>18} "
          f"{'result':>16} {'faces':>7} {'time':>7}")
    for name, mesh in surfaces.items():
        fast_alone = topology_signature(cleanup._fast_quadric_decimation(mesh, args.budget))
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reduced = reduce_faces(mesh, args.budget)
        seconds = time.perf_counter() - start
        note = " (over budget, warned)" if caught else ""
        print(f"{name:<30} {len(mesh.faces):>8} {str(topology_signature(mesh)):>16} "
              f"{str(fast_alone):>18} {str(topology_signature(reduced)):>16} "
              f"{len(reduced.faces):>7} {seconds:>6.2f}s{note}")


if __name__ == "__main__":
    main()
