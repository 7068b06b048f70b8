"""``python -m hy3d_core paint-views``: Hunyuan3D-Paint 2.1 PBR views from images on disk.

The generation step alone (``sampling/paint_pbr_sampling.py``), fed with a reference image
and per-view normal and position maps rendered elsewhere; it writes ``albedo_{i}.png`` and
``mr_{i}.png`` (metallic in R, roughness in G). Useful to check a model folder against
Tencent's outputs, or to paint views for a mesh baked by other tools. The release passes no
camera azimuths to the sampler, so none are taken here.

Every argument is checked before any model is loaded: a missing image or an existing
output fails in a second, not after minutes of loading.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..devices import AUTO_DTYPE_RULE
from ..image.arrays import to_uint8, to_unit_float
from ..image.files import read_image_rgba
from ..io.paint_pbr_checkpoints import load_paint_pbr_model
from ..sampling.paint_pbr_sampling import (
    RELEASED_GUIDANCE,
    RELEASED_SEED,
    RELEASED_STEPS,
    RELEASED_VIEW_SIZE,
    paint_pbr_views,
)
from .common import (
    POSITIVE_INT,
    VIEW_SIZE,
    add_device_arguments,
    check_outputs,
    device_and_dtype,
    finite_float,
    stderr_progress,
)


def add_paint_views_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paint", required=True, help="the hunyuan3d-paintpbr-v2-1 folder")
    parser.add_argument("--dino", default=None,
                        help="the facebook/dinov2-giant folder (default: dinov2-giant beside --paint)")
    parser.add_argument("--reference", required=True, help="the reference image (RGBA cut-out or RGB on white)")
    parser.add_argument("--normals", nargs="+", required=True,
                        help="one normal map per view, world normals as (n + 1) / 2 on white")
    parser.add_argument("--positions", nargs="+", required=True,
                        help="one position map per view, in the same order as --normals")
    parser.add_argument("--steps", type=POSITIVE_INT, default=RELEASED_STEPS, help=f"denoising steps (release: {RELEASED_STEPS})")
    parser.add_argument("--guidance", type=finite_float, default=RELEASED_GUIDANCE,
                        help=f"guidance scale (release: {RELEASED_GUIDANCE})")
    parser.add_argument("--seed", type=int, default=RELEASED_SEED, help=f"noise seed (release: {RELEASED_SEED})")
    parser.add_argument("--view-size", type=VIEW_SIZE, default=RELEASED_VIEW_SIZE,
                        help=f"pixels per generated view, a multiple of 64 (release: {RELEASED_VIEW_SIZE})")
    add_device_arguments(parser, AUTO_DTYPE_RULE)
    parser.add_argument("--out", required=True, type=Path, help="output folder (created when missing)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def output_paths(out: Path, views: int) -> list[Path]:
    """Where view ``i``'s albedo and metallic-roughness images go, albedo first."""
    return [out / f"albedo_{view}.png" for view in range(views)] + [out / f"mr_{view}.png" for view in range(views)]


def check_paint_views_arguments(args: argparse.Namespace) -> None:
    """Refuse what would fail later: unequal map counts, missing inputs, an unusable output folder."""
    if len(args.normals) != len(args.positions):
        raise ValueError(
            f"every view needs one normal map and one position map; got {len(args.normals)} --normals and "
            f"{len(args.positions)} --positions"
        )
    for path in [args.reference, *args.normals, *args.positions]:
        if not Path(path).is_file():
            raise ValueError(f"image {path} does not exist")
    if not Path(args.paint).is_dir():
        raise ValueError(f"--paint {args.paint} is not a folder; point to the hunyuan3d-paintpbr-v2-1 folder")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for the views")
    check_outputs(output_paths(args.out, len(args.normals)),
                  [args.reference, *args.normals, *args.positions], overwrite=args.overwrite)


def read_map_images(paths: list[str]) -> torch.Tensor:
    """Maps ``[N, H, W, 3]`` in 0..1, transparent pixels on white as the release composites them."""
    images = [read_image_rgba(path) for path in paths]
    sizes = {image.shape[:2] for image in images}
    if len(sizes) != 1:
        raise ValueError(f"the maps differ in size ({', '.join(f'{w}x{h}' for h, w in sorted(sizes))}); render them at one size")
    pixels = torch.from_numpy(to_unit_float(np.stack(images), "maps"))
    alpha = pixels[..., 3:]
    return pixels[..., :3] * alpha + (1 - alpha)


def command_paint_views(args: argparse.Namespace) -> int:
    check_paint_views_arguments(args)
    reference = torch.from_numpy(to_unit_float(read_image_rgba(args.reference), "reference"))
    normals = read_map_images(args.normals)
    positions = read_map_images(args.positions)
    device, dtype = device_and_dtype(args)
    model = load_paint_pbr_model(args.paint, dino_folder=args.dino, device=device, dtype=dtype)
    views = paint_pbr_views(
        model, reference, normals, positions, steps=args.steps, guidance=args.guidance, seed=args.seed,
        view_size=args.view_size, progress=stderr_progress("paint-views"),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    images = torch.cat([views.albedo, views.metallic_roughness])
    for image, path in zip(images, output_paths(args.out, len(args.normals))):
        Image.fromarray(to_uint8(image.numpy(), "view"), mode="RGB").save(path)
        print(f"wrote {path}")
    return 0
