"""Time and peak memory of Paint 2.1's geometry side and PBR bake on CPU (PyTorch rasterizer).

For a 40k- and a 200k-face mesh (``bench_texture.py``'s torus, one chart filling the
texture): the release's view selection (30 candidates at 1024 px, up to 9 views), the
condition maps (rendered at 2048, shrunk to 512), and ``bake_pbr_views`` with six
512-pixel albedo and metallic-roughness views resized to the released render size 2048
and baked into 2048 and 4096 textures, inpainting of both materials included.

Each measurement runs in a fresh process; memory is the peak resident size above the
process's footprint once its inputs exist (the mesh and the 512-pixel views).

    python bench/bench_pbr_bake.py [--faces 40000 200000] [--threads N] [--steps bake2048 ...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_texture import current_rss_mb, measure, peak_rss_mb, prepare, synthetic_views  # noqa: E402


def normalised_tensors(mesh):
    from hy3d_core.render.normalization import mesh_in_render_frame

    vertices, faces, _ = mesh_in_render_frame(mesh, "cpu")
    return vertices, faces


def run_selection(face_count, size, threads, unwrap, queue) -> None:
    from hy3d_core.render.torch_rasterizer import TorchRasterizer
    from hy3d_core.render.view_selection import select_bake_views

    vertices, faces = normalised_tensors(prepare(face_count, threads, unwrap))
    baseline = current_rss_mb()
    start = time.perf_counter()
    cameras = select_bake_views(vertices, faces, size, rasterizer=TorchRasterizer())
    poses = ", ".join(f"{a:g}/{e:g}" for a, e in zip(cameras.azimuths[6:], cameras.elevations[6:]))
    queue.put((time.perf_counter() - start, peak_rss_mb() - baseline,
               f"{len(cameras)} views; added (azimuth/elevation): {poses or 'none'}"))


def run_condition_maps(face_count, size, threads, unwrap, queue) -> None:
    from hy3d_core.render.cameras import camera_preset
    from hy3d_core.render.pbr_condition_maps import render_pbr_condition_maps
    from hy3d_core.render.torch_rasterizer import TorchRasterizer

    vertices, faces = normalised_tensors(prepare(face_count, threads, unwrap))
    baseline = current_rss_mb()
    start = time.perf_counter()
    render_pbr_condition_maps(vertices, faces, camera_preset(), size, render_size=2048,
                              rasterizer=TorchRasterizer())
    queue.put((time.perf_counter() - start, peak_rss_mb() - baseline, "6 views"))


def run_pbr_bake(face_count, size, threads, unwrap, queue) -> None:
    from hy3d_core.render.cameras import camera_preset
    from hy3d_core.texture.pbr_baking import bake_pbr_views

    mesh = prepare(face_count, threads, unwrap)
    cameras = camera_preset()
    albedo = synthetic_views(len(cameras), 512)
    mr = synthetic_views(len(cameras), 512).flip(3).contiguous()
    bake_pbr_views(mesh, albedo[:, :64, :64], mr[:, :64, :64], cameras, texture_size=64,
                   render_size=64, backend="torch")  # warm-up
    baseline = current_rss_mb()
    start = time.perf_counter()
    result = bake_pbr_views(mesh, albedo, mr, cameras, texture_size=size, render_size=2048,
                            backend="torch")
    queue.put((time.perf_counter() - start, peak_rss_mb() - baseline,
               f"both materials, inpainted; textures {result.texture.shape[0]} px"))


STEPS = {
    "selection": ("view selection, up to 9 views", run_selection, 9),
    "maps": ("condition maps 2048 -> 512", run_condition_maps, 512),
    "bake2048": ("PBR bake 6x512 -> 2048 -> 2048", run_pbr_bake, 2048),
    "bake4096": ("PBR bake 6x512 -> 2048 -> 4096", run_pbr_bake, 4096),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, nargs="+", default=[40000, 200000])
    parser.add_argument("--threads", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--steps", nargs="+", choices=sorted(STEPS), default=list(STEPS))
    args = parser.parse_args()
    print(f"torch rasterizer on CPU, {args.threads} threads")
    header = f"{'faces':>8}  {'step':<34} {'seconds':>8} {'peak MB':>8}  notes"
    print(header)
    print("-" * len(header))
    for faces in args.faces:
        for label, target, size in (STEPS[name] for name in args.steps):
            seconds, memory, note = measure(target, faces, size, args.threads, False)
            print(f"{faces:>8}  {label:<34} {seconds:>8.2f} {memory:>8.0f}  {note}", flush=True)


if __name__ == "__main__":
    main()
