"""Accuracy and speed of the classical background matte on scenes with known masks.

Prints two tables, per background kind (plain, gradient, noise, striped and
photographed-texture backgrounds): the intersection over union of the matte (at 0.5)
with the true mask, mean and minimum over every scene, how many scenes score under 0.8
(failures the mean hides), the worst scene, and the time per image.

- Generated scenes: the ones ``tests/image/test_background.py`` asserts its floors on
  (shaded sphere, box and torus ray-cast in numpy, and skimage's horse silhouette filled
  with a photograph), here larger and more of them.
- Real photo cut-outs: every curated photographic stamp of the Debian package
  tuxpaint-stamps-default (``tests/image/photo_cutouts.py``, photographs cut out by hand,
  so the alpha is a good but not pixel-perfect truth) over the same backgrounds, as
  ``tests/image/test_background_photos.py`` measures a sample of them. Skipped, with a
  note, when the package is not installed.

    python bench/bench_background.py [--size 256] [--seeds 8] [--photo-seeds 3]
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
from photo_cutouts import PHOTO_STAMPS, make_photo_scene, missing_stamps_message, stamps_dir  # noqa: E402
from test_background import (  # noqa: E402
    BACKGROUND_KINDS,
    OBJECT_KINDS,
    intersection_over_union,
    make_scene,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="scene width and height in pixels")
    parser.add_argument("--seeds", type=int, default=8, help="generated scenes per object and background kind")
    parser.add_argument("--photo-seeds", type=int, default=3, help="scenes per photo stamp and background kind")
    args = parser.parse_args()

    print(f"classical matte on generated scenes, {args.size} x {args.size} px, "
          f"{args.seeds} seeds x {len(OBJECT_KINDS)} objects per kind")
    _print_table(lambda kind: [
        (f"{object_kind} seed {seed}", lambda o=object_kind, s=seed: make_scene(o, kind, args.size, s))
        for object_kind in OBJECT_KINDS for seed in range(args.seeds)
    ])

    directory = stamps_dir()
    print()
    if directory is None:
        print(f"no real photo cut-outs table: {missing_stamps_message()}")
        return
    print(f"classical matte on real photo cut-outs (Tux Paint stamps), {args.size} x {args.size} px, "
          f"{args.photo_seeds} seeds x {len(PHOTO_STAMPS)} stamps per kind")
    _print_table(lambda kind: [
        (f"{Path(stamp).stem} seed {seed}",
         lambda t=stamp, s=seed: make_photo_scene(t, kind, directory, args.size, s))
        for stamp in PHOTO_STAMPS for seed in range(args.photo_seeds)
    ])


def _print_table(scenes_of_kind) -> None:
    """One row per background kind; ``scenes_of_kind(kind)`` lists ``(name, make)`` pairs,
    ``make()`` returning ``(rgb, true mask)``; only the matte is timed."""
    print(f"{'background':<14} {'scenes':>6} {'mean IoU':>9} {'min IoU':>8} {'< 0.8':>6}  "
          f"{'worst scene':<28} {'s/image':>7}")
    for background_kind in BACKGROUND_KINDS:
        scores, seconds = [], 0.0
        for name, make in scenes_of_kind(background_kind):
            rgb, truth = make()
            start = time.perf_counter()
            matte = classical_matte(rgb)
            seconds += time.perf_counter() - start
            scores.append((intersection_over_union(matte >= 0.5, truth), name))
        values = np.array([score for score, _ in scores])
        worst = min(scores)[1]
        print(f"{background_kind:<14} {len(values):>6} {values.mean():>9.3f} {values.min():>8.3f} "
              f"{(values < 0.8).sum():>6}  "
              f"{worst:<28} {seconds / len(values):>7.3f}", flush=True)


if __name__ == "__main__":
    main()
