"""Time and peak memory of the texture stage on CPU with the PyTorch rasterizer.

For a 40k- and a 200k-face mesh: rasterising UV space at 2048 and 4096 texels (what
baking and inpainting do per texture), a full six-view bake with the released cameras
and sizes (views 2048, texture 2048, and 4096), and the inpainting of that bake. Then
the six views' normal and position maps Paint is conditioned on, at 1024 and 2048, with
the PyTorch rasterizer and, when Open3D is installed, with its ``RaycastingScene`` as
the peer (the measurement is ``bench_rasterizer.py``'s; without Open3D the script says
so and times ours only).

The mesh is a torus with its own (u, v) parametrisation as UVs, one chart filling the
whole texture: the most texels a layout can have (xatlas layouts fill 50-70 %).
``--unwrap`` times xatlas on the same torus instead and uses its layout. The six views
are a synthetic pattern standing in for generated images (their content does not
change the work).

Each measurement runs in a fresh process so its peak resident memory is its own;
memory is reported above the process's footprint once its inputs exist (for a bake:
the mesh and the six 2048-pixel views, 300 MB), and covers the inpainting after it.

    python bench/bench_texture.py [--faces 40000 200000] [--threads N] [--unwrap] [--map-sizes 1024 2048]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def uv_torus(face_count: int):
    """A torus with about ``face_count`` faces and per-vertex UVs (seams duplicated)."""
    import numpy as np

    from hy3d_core.geometry.mesh import Mesh

    minor = max(8, int(round((face_count / 4) ** 0.5)))
    major = max(8, int(round(face_count / (2 * minor))))
    u, v = np.meshgrid(np.linspace(0, 1, major + 1), np.linspace(0, 1, minor + 1), indexing="ij")
    theta, phi = 2 * np.pi * u, 2 * np.pi * v
    ring = 1.0 + 0.4 * np.cos(phi)
    vertices = np.stack([ring * np.cos(theta), 0.4 * np.sin(phi), ring * np.sin(theta)], -1)
    index = np.arange((major + 1) * (minor + 1)).reshape(major + 1, minor + 1)
    a, b = index[:-1, :-1].ravel(), index[1:, :-1].ravel()
    c, d = index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, d, b], 1), np.stack([b, d, c], 1)])
    return Mesh(vertices.reshape(-1, 3), faces, uvs=np.stack([u, v], -1).reshape(-1, 2))


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(face_count: int, threads: int, unwrap: bool):
    import torch

    torch.set_num_threads(threads)
    mesh = uv_torus(face_count)
    if unwrap:
        from hy3d_core.texture.uv_unwrap import unwrap_uv

        mesh = unwrap_uv(type(mesh)(mesh.vertices, mesh.faces))
    return mesh


def run_uv_raster(face_count, size, threads, unwrap, queue) -> None:
    import torch

    from hy3d_core.render.torch_rasterizer import TorchRasterizer
    from hy3d_core.texture.uv_raster import texel_bands

    mesh = prepare(face_count, threads, unwrap)
    uvs, faces = torch.from_numpy(mesh.uvs), torch.from_numpy(mesh.faces)
    rasterizer = TorchRasterizer()
    list(texel_bands(uvs, faces, 64, rasterizer))  # warm-up
    baseline = current_rss_mb()
    start = time.perf_counter()
    texels = sum(band.texels.numel() for band in texel_bands(uvs, faces, size, rasterizer))
    seconds = time.perf_counter() - start
    queue.put((seconds, peak_rss_mb() - baseline, f"{texels / size**2:.0%} of texels in charts"))


def synthetic_views(count: int, size: int):
    """``[count, size, size, 3]`` float images with a pattern, made row by row so that
    making them does not raise the process's peak memory above the views themselves."""
    import torch

    views = torch.empty(count, size, size, 3)
    columns = torch.linspace(0, 1, size)
    for view in range(count):
        for row in range(size):
            y = row / size
            views[view, row, :, 0] = 0.5 + 0.4 * torch.sin(9 * columns + view)
            views[view, row, :, 1] = 0.5 + 0.4 * torch.cos(7 * y + columns)
            views[view, row, :, 2] = 0.5 + 0.4 * torch.sin(5 * (y - columns))
    return views


def run_bake(face_count, size, threads, unwrap, queue) -> None:
    from hy3d_core.render.cameras import camera_preset
    from hy3d_core.texture.baking import bake_views
    from hy3d_core.texture.inpainting import inpaint_texture

    mesh = prepare(face_count, threads, unwrap)
    cameras = camera_preset()
    views = synthetic_views(len(cameras), 2048)
    bake_views(mesh, views[:, :64, :64].contiguous(), cameras, texture_size=64, backend="torch")
    baseline = current_rss_mb()
    start = time.perf_counter()
    result = bake_views(mesh, views, cameras, texture_size=size, backend="torch")
    baked = time.perf_counter()
    inpaint_texture(mesh, result.texture, result.covered, backend="torch")
    done = time.perf_counter()
    queue.put((baked - start, peak_rss_mb() - baseline,
               f"inpaint {done - baked:.1f} s, coverage {result.coverage:.1%}"))


def run_unwrap(face_count, size, threads, unwrap, queue) -> None:
    from hy3d_core.geometry.mesh import Mesh
    from hy3d_core.texture.uv_unwrap import unwrap_uv_detailed

    mesh = uv_torus(face_count)
    start = time.perf_counter()
    result = unwrap_uv_detailed(Mesh(mesh.vertices, mesh.faces))
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    queue.put((time.perf_counter() - start, child_peak,
               f"{result.chart_count} charts, {result.utilization:.0%} used; memory: the "
               "xatlas child's peak"))


def measure(target, *arguments):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*arguments, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, nargs="+", default=[40000, 200000])
    parser.add_argument("--threads", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--unwrap", action="store_true",
                        help="unwrap with xatlas (timed) instead of the torus's own UVs")
    parser.add_argument("--map-sizes", type=int, nargs="*", default=[1024, 2048],
                        help="geometry-map sizes to time against Open3D (none: skip the maps)")
    parser.add_argument("--map-rounds", type=int, default=3,
                        help="alternating rounds of ours and Open3D per geometry-map row")
    args = parser.parse_args()
    print(f"torch rasterizer on CPU, {args.threads} threads, "
          f"{'xatlas' if args.unwrap else 'parametric'} UVs")
    header = f"{'faces':>8}  {'step':<26} {'seconds':>8} {'peak MB':>8}  notes"
    print(header)
    print("-" * len(header))
    for faces in args.faces:
        steps = [("UV raster 2048", run_uv_raster, 2048), ("UV raster 4096", run_uv_raster, 4096),
                 ("bake 6 views 2048 -> 2048", run_bake, 2048),
                 ("bake 6 views 2048 -> 4096", run_bake, 4096)]
        if args.unwrap:
            steps.insert(0, ("xatlas unwrap", run_unwrap, 0))
        for label, target, size in steps:
            seconds, memory, note = measure(target, faces, size, args.threads, args.unwrap)
            print(f"{faces:>8}  {label:<26} {seconds:>8.2f} {memory:>8.0f}  {note}", flush=True)
    if args.map_sizes:
        from bench_rasterizer import compare_maps

        print()
        compare_maps(args.faces, args.map_sizes, args.threads, args.map_rounds)


if __name__ == "__main__":
    main()
