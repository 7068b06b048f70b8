"""Time and peak memory of the released six-view geometry maps on CPU.

Renders normal + position + depth maps for the ``hunyuan3d-6view`` cameras with the
PyTorch rasterizer, for a 40k- and a 200k-face mesh at 1024 and 2048 pixels. When
Open3D is importable, the same maps are made by casting one orthographic ray per pixel
into its ``RaycastingScene`` (Embree) as an independent peer: its time is printed as a
ratio, and the share of pixels where both hit the same face as a cross-check.

Each measurement runs in a fresh process so its peak resident memory is its own; the
two renderers run in alternating rounds (``interleaved.py``), and each row gives the
median and spread per side and the ratio of the medians.

    python bench/bench_rasterizer.py [--sizes 1024 2048] [--faces 40000 200000] [--threads N] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]


def torus(face_count: int):
    """A torus with about ``face_count`` faces (it hides parts of itself in side views)."""
    import trimesh

    minor = max(8, int(round((face_count / 4) ** 0.5)))
    major = max(8, int(round(face_count / (2 * minor))))
    mesh = trimesh.creation.torus(major_radius=1.0, minor_radius=0.4,
                                  major_sections=major, minor_sections=minor)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(0.6, [1, 0, 0]))
    return mesh


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def inputs(face_count: int):
    import torch

    from hy3d_core.render.cameras import camera_preset
    from hy3d_core.render.normalization import normalize_for_render

    mesh = torus(face_count)
    vertices, _ = normalize_for_render(torch.tensor(mesh.vertices, dtype=torch.float32))
    return vertices, torch.tensor(mesh.faces, dtype=torch.int64), camera_preset()


def run_torch(face_count: int, size: int, threads: int, queue) -> None:
    import torch

    torch.set_num_threads(threads)
    from hy3d_core.render.geometry_maps import render_geometry_maps
    from hy3d_core.render.torch_rasterizer import TorchRasterizer

    vertices, faces, cameras = inputs(face_count)
    render_geometry_maps(vertices, faces, cameras, 64, TorchRasterizer())  # warm-up
    baseline = current_rss_mb()
    start = time.perf_counter()
    maps = render_geometry_maps(vertices, faces, cameras, size, TorchRasterizer())
    seconds = time.perf_counter() - start
    face_index = maps.rasterization.face_index
    queue.put((seconds, peak_rss_mb() - baseline, faces.shape[0], face_index.int().numpy()))


def run_open3d(face_count: int, size: int, threads: int, queue) -> None:
    import numpy as np
    import open3d as o3d

    from hy3d_core.render.geometry_maps import smooth_vertex_normals

    vertices, faces, cameras = inputs(face_count)
    normals = smooth_vertex_normals(vertices, faces).numpy()
    vertex_array, face_array = vertices.numpy(), faces.numpy().astype(np.uint32)
    centres = (np.arange(size) + 0.5) / size * 2 - 1
    fx, fy = np.meshgrid(centres, centres)  # row 0 at NDC y = -1, like the rasterizer
    world_to_camera = cameras.world_to_camera.numpy()
    baseline = current_rss_mb()
    start = time.perf_counter()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(vertex_array), o3d.core.Tensor(face_array))
    hits = []
    for world_to_view in world_to_camera:
        right, up, backward = world_to_view[:3, :3]
        position = -world_to_view[:3, :3].T @ world_to_view[:3, 3]
        origins = position + 0.6 * (fx[..., None] * right + fy[..., None] * up)
        directions = np.broadcast_to(-backward, origins.shape)
        rays = np.concatenate([origins, directions], axis=-1).astype(np.float32)
        result = scene.cast_rays(o3d.core.Tensor(rays), nthreads=threads)
        face = result["primitive_ids"].numpy().astype(np.int64)
        covered = np.isfinite(result["t_hit"].numpy())
        u, v = np.moveaxis(result["primitive_uvs"].numpy(), -1, 0)
        weights = np.stack([1 - u - v, u, v], axis=-1)[..., None]
        corners = face_array[np.where(covered, face, 0)]
        normal = np.where(covered[..., None], ((normals[corners] * weights).sum(-2) + 1) / 2, 1.0)
        position_map = np.where(
            covered[..., None], 0.5 - (vertex_array[corners] * weights).sum(-2) / 1.15, 1.0
        )
        del normal, position_map
        hits.append(np.where(covered, face, -1).astype(np.int32))
    seconds = time.perf_counter() - start
    queue.put((seconds, peak_rss_mb() - baseline, faces.shape[0], np.stack(hits)))


def measure(target, face_count: int, size: int, threads: int):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(face_count, size, threads, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _side(target, face_count: int, size: int, threads: int):
    """One renderer as a measurement for ``interleaved``: a fresh process per sample."""

    def run() -> dict:
        seconds, megabytes, faces, face_index = measure(target, face_count, size, threads)
        return {"seconds": seconds, "peak_mb": megabytes, "faces": faces, "face_index": face_index}

    return run


def compare_maps(face_counts: list[int], sizes: list[int], threads: int, rounds: int) -> None:
    """Print the geometry-map table: ours, and with Open3D installed Open3D alongside,
    the two run in alternating rounds (``interleaved.py``); ``same face`` is the share of
    pixels where both see the same face (or both see none), from the first round."""
    from interleaved import comparison_rows, interleave, machine_header, print_table

    try:
        import open3d  # noqa: F401

        have_open3d = True
    except ImportError as error:
        print(f"Open3D, the peer for the geometry maps, is missing ({error}); timing ours only.")
        have_open3d = False
    print(machine_header())
    print(f"Six views (hunyuan3d-6view), normal + position + depth maps, CPU, {threads} "
          f"thread(s), {rounds} round(s) per row")
    rows = []
    for face_count in face_counts:
        for size in sizes:
            sides = {"torch": _side(run_torch, face_count, size, threads)}
            if have_open3d:
                sides = {"open3d": _side(run_open3d, face_count, size, threads), **sides}
            samples = interleave(sides, rounds)
            ours = samples["torch"][0]
            label = f"{ours['faces']} faces, {size} px"
            for row in comparison_rows(label, samples, next(iter(sides))):
                note = f"peak {max(sample['peak_mb'] for sample in samples[row[1]]):.0f} MB"
                if have_open3d and row[1] == "torch":
                    theirs = samples["open3d"][0]["face_index"]
                    mine = ours["face_index"]
                    agree = ((mine == theirs) | ((mine < 0) & (theirs < 0))).mean()
                    note += f", same face {agree:.2%}"
                rows.append((*row, note))
            print(*rows[-1], sep=" | ", flush=True)
    print_table(rows, ("row", "side", "median (min-max, runs)", "open3d / torch", "notes"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--faces", type=int, nargs="+", default=[40_000, 200_000])
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for both renderers (default: PyTorch's default)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per row")
    options = parser.parse_args()
    import torch

    compare_maps(options.faces, options.sizes, options.threads or torch.get_num_threads(),
                 options.rounds)


if __name__ == "__main__":
    main()
