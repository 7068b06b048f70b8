"""Accuracy and speed of the classical background matte on scenes with known masks.

Prints, per background kind, the intersection over union of the matte (at 0.5) with the
true mask, mean and minimum over every object kind and seed, the worst scene, and the
time per image. The scenes are the ones ``tests/image/test_background.py`` asserts its
floors on (shaded sphere, box and torus ray-cast in numpy, and skimage's horse silhouette
filled with a photograph, over plain, gradient, noise, striped and photographed-texture
backgrounds); here they are larger and more of them. No installed or PyPI package ships
real RGBA photo cut-outs to measure on, so there is no real-photo row.

    python bench/bench_background.py [--size 256] [--seeds 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "image")]

from hy3d_core.image.background import classical_matte  # noqa: E402
from test_background import (  # noqa: E402
    BACKGROUND_KINDS,
    OBJECT_KINDS,
    intersection_over_union,
    make_scene,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="scene width and height in pixels")
    parser.add_argument("--seeds", type=int, default=8, help="scenes per object and background kind")
    args = parser.parse_args()

    print(f"classical matte, {args.size} x {args.size} px, {args.seeds} seeds x {len(OBJECT_KINDS)} objects per kind")
    print(f"{'background':<14} {'scenes':>6} {'mean IoU':>9} {'min IoU':>8}  {'worst scene':<16} {'s/image':>7}")
    for background_kind in BACKGROUND_KINDS:
        scores, seconds = [], 0.0
        for object_kind in OBJECT_KINDS:
            for seed in range(args.seeds):
                rgb, truth = make_scene(object_kind, background_kind, args.size, seed)
                start = time.perf_counter()
                matte = classical_matte(rgb)
                seconds += time.perf_counter() - start
                scores.append((intersection_over_union(matte >= 0.5, truth), f"{object_kind} seed {seed}"))
        values = np.array([score for score, _ in scores])
        worst = min(scores)[1]
        print(f"{background_kind:<14} {len(values):>6} {values.mean():>9.3f} {values.min():>8.3f}  "
              f"{worst:<16} {seconds / len(values):>7.3f}")


if __name__ == "__main__":
    main()
