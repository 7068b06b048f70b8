"""``python -m hy3d_core prepare-data``: a training folder from meshes or procedural shapes."""

from __future__ import annotations

import argparse

from ..training.mesh_dataset import prepare_mesh_dataset
from ..training.procedural_shapes import shape_set
from .common import stderr_progress


def add_prepare_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--meshes", help="folder of mesh files (.glb .gltf .obj .ply .stl) to "
                        "train on; they are made watertight first")
    source.add_argument("--procedural", type=int, metavar="N_PER_FAMILY",
                        help="generate N shapes of every procedural family instead")
    parser.add_argument("--out", required=True, help="output folder (must be empty or new)")
    parser.add_argument("--seed", type=int, default=0, help="seed for shapes and samples")
    parser.add_argument("--views", type=int, default=4, help="conditioning renders per shape")
    parser.add_argument("--image-size", type=int, default=256, help="render size in pixels")
    parser.add_argument("--random-colours", action="store_true",
                        help="give each conditioning render its own random colour (default: grey)")
    parser.add_argument("--num-surface", type=int, default=8192,
                        help="uniform surface samples per shape (as many sharp-edge ones)")
    parser.add_argument("--num-points", type=int, default=8192,
                        help="supervision points per shape in the volume (as many near the surface)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the manifest, samples and images of an existing folder")


def command_prepare(args: argparse.Namespace) -> int:
    if args.procedural is not None:
        sources = shape_set(args.procedural, args.seed)
    else:
        sources = args.meshes
    out = prepare_mesh_dataset(
        sources, args.out, num_uniform=args.num_surface, num_sharp=args.num_surface,
        num_volume=args.num_points, num_near=args.num_points, views_per_shape=args.views,
        image_size=args.image_size, random_colours=args.random_colours, seed=args.seed,
        overwrite=args.overwrite,
        progress=stderr_progress("preparing shapes"),
    )
    print(f"wrote {out}")
    return 0
