"""Command line: ``python -m hy3d_core <command> ...``.

Each command is a thin wrapper over the library's jobs (``hy3d_core.pipelines``) so that
what the CLI does, the nodes and the tests do too; errors a user can cause print one line
and exit with status 2, a cancel (Ctrl-C) exits with 130.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..io.checkpoint_files import CheckpointError
from ..sampling.progress import Cancelled
from . import (
    generate_command,
    inspect_command,
    paint_views_command,
    prepare_command,
    shape_command,
    texture_command,
    train_command,
)
from .common import add_shape_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hy3d_core", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="say what a checkpoint file or folder holds")
    inspect_command.add_inspect_arguments(inspect)
    inspect.set_defaults(run=inspect_command.command_inspect)
    shape = commands.add_parser("shape", help="image to mesh")
    add_shape_arguments(shape)
    shape.set_defaults(run=shape_command.command_shape)
    texture = commands.add_parser("texture", help="give a mesh a texture: projected from its image, or painted by Hunyuan3D-Paint (--paint)")
    texture_command.add_texture_arguments(texture)
    texture.set_defaults(run=texture_command.command_texture)
    generate_command.add_generate_arguments(commands.add_parser("generate", help="image to textured mesh: shape, then Paint (--paint) or projection"))
    paint_views = commands.add_parser("paint-views", help="Hunyuan3D-Paint 2.1 PBR views from a reference image and per-view geometry maps")
    paint_views_command.add_paint_views_arguments(paint_views)
    paint_views.set_defaults(run=paint_views_command.command_paint_views)
    prepare = commands.add_parser("prepare-data", help="a training dataset from a folder of meshes")
    prepare_command.add_prepare_arguments(prepare)
    prepare.set_defaults(run=prepare_command.command_prepare)
    train_vae = commands.add_parser("train-vae", help="train or fine-tune a ShapeVAE")
    train_command.add_train_vae_arguments(train_vae)
    train_vae.set_defaults(run=train_command.command_train_vae)
    train_dit = commands.add_parser("train-dit", help="train or fine-tune the shape DiT")
    train_command.add_train_dit_arguments(train_dit)
    train_dit.set_defaults(run=train_command.command_train_dit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CheckpointError, ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("\ncancelled", file=sys.stderr)
        return 130
