"""Time, charts and atlas coverage of the xatlas UV unwrap on large marching-cubes meshes.

The meshes are lumpy balls from ``tests/texture/blob_meshes.py`` (what the shape stage
makes before decimation). Each mesh is unwrapped two ways, each in a fresh process:

``whole``: one xatlas child charts and packs the whole mesh (the only path before
issue 14, and still the path up to 100k faces);
``parts``: the mesh is cut into 5000-face parts charted by one child per CPU, and one
child packs all their charts (the path above 100k faces).

Reported: wall time, CPU time of this process and of all children (a fair measure on a
shared machine; on the parts path also the packing child's share), chart count, the share of the atlas the charts cover (xatlas's
utilization) and the largest child's peak memory. A run past ``--limit`` seconds is
stopped and reported as such. The load average is printed with each row: on a busy
machine the wall times mean little and the CPU times still do.

    python bench/bench_unwrap.py [--faces 200000 500000 2000000] [--paths whole parts] [--limit 600]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "texture")]

from bench_texture import measure  # noqa: E402


def run_unwrap(face_count: int, path: str, limit: float, queue) -> None:
    from blob_meshes import blob_resolution, noisy_blob

    from hy3d_core.sampling.progress import Progress
    from hy3d_core.texture import xatlas_jobs
    from hy3d_core.texture.uv_unwrap import UVUnwrapError, unwrap_uv_detailed

    mesh = noisy_blob(blob_resolution(face_count))
    xatlas_jobs.WHOLE_UP_TO_FACES = len(mesh.faces) if path == "whole" else 0
    xatlas_jobs.SECONDS_FLOOR, xatlas_jobs.SECONDS_PER_FACE = limit, 0.0
    steps, charting_done = [], []
    run_children = xatlas_jobs._run

    def run_noting_when_packing_starts(mode: str, *arguments, **options) -> None:
        if mode == "pack":
            charting_done.append(resource.getrusage(resource.RUSAGE_CHILDREN))
        run_children(mode, *arguments, **options)

    xatlas_jobs._run = run_noting_when_packing_starts
    start, own = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    try:
        result = unwrap_uv_detailed(mesh, progress=Progress(lambda done, total: steps.append(done)))
        outcome = (f"{result.chart_count} charts, {result.utilization:.1%} covered, "
                   f"{len(steps)} progress steps")
    except UVUnwrapError as error:
        outcome = f"stopped: {error}"[:90]
    seconds = time.perf_counter() - start
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    child_seconds = children.ru_utime + children.ru_stime
    if charting_done:
        charting = charting_done[-1].ru_utime + charting_done[-1].ru_stime
        outcome += f"; packing {child_seconds - charting:.1f} s CPU"
    queue.put((len(mesh.faces), seconds, mine.ru_utime + mine.ru_stime - own.ru_utime - own.ru_stime,
               child_seconds, children.ru_maxrss / 1024, outcome))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, nargs="+", default=[200000, 500000, 2000000])
    parser.add_argument("--paths", nargs="+", choices=["whole", "parts"], default=["whole", "parts"])
    parser.add_argument("--limit", type=float, default=600.0,
                        help="seconds after which an unwrap is stopped")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; xatlas UV unwrap of lumpy marching-cubes balls")
    header = (f"{'faces':>8} {'path':<6} {'wall s':>7} {'own cpu':>8} {'child cpu':>9} "
              f"{'child MB':>8} {'load':>5}  result")
    print(header)
    print("-" * len(header))
    for face_count in args.faces:
        for path in args.paths:
            faces, seconds, own, children, memory, outcome = measure(run_unwrap, face_count, path, args.limit)
            load = os.getloadavg()[0]
            print(f"{faces:>8} {path:<6} {seconds:>7.1f} {own:>8.1f} {children:>9.1f} "
                  f"{memory:>8.0f} {load:>5.1f}  {outcome}", flush=True)


if __name__ == "__main__":
    main()
