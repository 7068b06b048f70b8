"""``python -m hy3d_core inspect``: what a checkpoint file or folder holds, without
reading its weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.paint_family import PAINT_FAMILY_LABELS
from ..io.paint_pbr_checkpoints import describe_paint_folder
from ..io.shape_checkpoints import describe_checkpoint


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="an official shape or paint folder, a .safetensors or a .ckpt file")


def command_inspect(args: argparse.Namespace) -> int:
    if (Path(args.path) / "unet").is_dir():
        return inspect_paint_folder(Path(args.path))
    return inspect_shape_checkpoint(args.path)


def inspect_paint_folder(folder: Path) -> int:
    """A Hunyuan3D-Paint folder (it holds ``unet/``): its release, UNet size and what is missing."""
    description = describe_paint_folder(folder)
    family = PAINT_FAMILY_LABELS.get(description.family, "not recognised as Hunyuan3D-Paint 2.0 or 2.1")
    print(f"path:        {folder} (paint folder)")
    print(f"family:      {family}")
    print(f"unet:        {description.unet_parameters:,} parameters")
    if not description.missing:
        print("missing:     nothing")
    for missing in description.missing:
        print(f"missing:     {missing}")
    return 0


def inspect_shape_checkpoint(path: str) -> int:
    description = describe_checkpoint(path)
    configs = description.configs
    print(f"path:        {description.path} ({description.kind})")
    print(f"weights:     {description.weights.name}")
    print(f"variant:     {configs.family.label} shape, {configs.variant}")
    print(f"config:      {configs.config_source}")
    if configs.dit is not None:
        print(f"dit:         {configs.dit.summary}")
    if configs.vae is not None:
        vae = configs.vae
        print(
            f"vae:         {vae.num_latents} latents x {vae.embed_dim}, width {vae.width}, "
            f"encoder {'yes' if vae.num_encoder_layers else 'no'}, scale factor {vae.scale_factor}"
        )
    if configs.conditioner is not None:
        print(f"conditioner: DINOv2, {'multi-view' if configs.multiview else 'single view'}")
    total = sum(part.parameters for part in description.parts)
    print(f"parameters:  {total / 1e9:.2f} B in all" if total >= 1e8 else f"parameters:  {total:,} in all")
    print("parts:")
    for part in description.parts:
        print(
            f"  {part.name:<12} {part.prefix or '(no prefix)':<13} {part.tensors:>5} tensors "
            f"{part.parameters:>15,} parameters  {'/'.join(part.dtypes)}"
        )
    for note in configs.notes:
        print(f"note:        {note}")
    return 0
