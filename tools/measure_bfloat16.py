"""Measure what bfloat16 on the CPU does to shapes generated with trained weights.

    python tools/measure_bfloat16.py [--seeds 2] [--octree-resolution 128]

The shipped demo model turns held-out renders of procedural shapes (seeds no training
shape was drawn with) into meshes three ways: float32, bfloat16 with the sampler's
latents rounded to bfloat16 after every Euler step (the release's rule for its float16),
and bfloat16 with the latents kept in float32 between steps (the pack's rule). For each it prints the
volume IoU against the true shape and against the float32 mesh. docs/precision.md
records the figures; tests/test_demo_model_bfloat16.py pins a floor under them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import hy3d_core.pipelines.shape as shape_pipeline  # noqa: E402
from hy3d_core.demo import DEMO_SHAPE_DEFAULTS, demo_model_dir  # noqa: E402
from hy3d_core.geometry.normalization import RELEASED_ENCODER_BOUND, normalize_mesh  # noqa: E402
from hy3d_core.geometry.occupancy_iou import occupancy_iou  # noqa: E402
from hy3d_core.image.prepare import prepare_image  # noqa: E402
from hy3d_core.io.shape_checkpoints import load_shape_model  # noqa: E402
from hy3d_core.pipelines import SamplingSettings, SurfaceSettings, VolumeSettings, generate_shape  # noqa: E402
from hy3d_core.training.condition_renders import render_condition_image  # noqa: E402
from hy3d_core.training.procedural_shapes import SHAPE_FAMILIES, random_shape  # noqa: E402

# Seeds no training shape was drawn with (tools/train_demo_model.py draws from (SEED, family)).
HELD_OUT_SEED = 4242
IOU_RESOLUTION = 64


def held_out(family: str, seed: int):
    """(RGBA render, inside test in the generated mesh's frame) of a held-out shape."""
    shape = random_shape(family, np.random.default_rng(seed))
    rgba = render_condition_image(shape.mesh, azimuth=30.0, elevation=20.0, size=256,
                                  colour=(0.8, 0.5, 0.3))
    _, normalisation = normalize_mesh(shape.mesh, bound=RELEASED_ENCODER_BOUND)
    return rgba, (lambda points: shape.contains(normalisation.undo(points)))


def generate(model, rgba, octree_resolution: int, float32_latents: bool):
    """The demo model's mesh at its defaults (tests/test_demo_model_bfloat16.py uses it
    too); ``float32_latents`` False swaps the pipeline's side_tensor_dtype for the
    release's rule (the model's own dtype)."""
    defaults = DEMO_SHAPE_DEFAULTS
    chosen = shape_pipeline.side_tensor_dtype
    if not float32_latents:
        shape_pipeline.side_tensor_dtype = lambda model_dtype: model_dtype
    try:
        return generate_shape(
            model, prepare_image(rgba).tensor,
            sampling=SamplingSettings(steps=defaults.steps, guidance=defaults.guidance, seed=0,
                                      skip_last_call=True),
            volume=VolumeSettings(decoder=defaults.decoder, octree_resolution=octree_resolution),
            surface=SurfaceSettings(max_faces=defaults.max_faces),
        ).meshes[0]
    finally:
        shape_pipeline.side_tensor_dtype = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="held-out shapes per family")
    parser.add_argument("--octree-resolution", type=int, default=DEMO_SHAPE_DEFAULTS.octree_resolution)
    args = parser.parse_args()
    models = {dtype: load_shape_model(demo_model_dir(), dtype=dtype)
              for dtype in (torch.float32, torch.bfloat16)}
    variants = {"float32": (torch.float32, False), "bf16 rounded": (torch.bfloat16, False),
                "bf16 f32 latents": (torch.bfloat16, True)}
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    print(f"{'shape':<16}" + "".join(f"{name + ' vs truth / vs f32':>36}" for name in variants))
    for family in SHAPE_FAMILIES:
        for seed in range(HELD_OUT_SEED, HELD_OUT_SEED + args.seeds):
            rgba, truth = held_out(family, seed)
            meshes = {name: generate(models[dtype], rgba, args.octree_resolution, keep)
                      for name, (dtype, keep) in variants.items()}
            line = f"{family}/{seed:<10}"
            for name, mesh in meshes.items():
                against_truth = occupancy_iou(mesh, truth, resolution=IOU_RESOLUTION)
                against_float32 = occupancy_iou(mesh, meshes["float32"], resolution=IOU_RESOLUTION)
                rows[name].append((against_truth, against_float32))
                line += f"{against_truth:>28.3f} / {against_float32:.3f}"
            print(line, flush=True)
    for name, values in rows.items():
        truth_values = [value[0] for value in values]
        float32_values = [value[1] for value in values]
        print(f"{name:<18} vs truth mean {statistics.mean(truth_values):.3f}  "
              f"vs float32 mean {statistics.mean(float32_values):.3f} min {min(float32_values):.3f}")


if __name__ == "__main__":
    main()
