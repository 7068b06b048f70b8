"""Command line: ``python -m hy3d_core <command> ...``.

Each command is a thin wrapper over the library so that what the CLI does, the nodes and
the tests do too; errors a user can cause print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .io.checkpoint_files import CheckpointError


def _format_count(n: int) -> str:
    return f"{n:,}"


def command_inspect(args: argparse.Namespace) -> int:
    from .io.shape_checkpoints import describe_checkpoint

    description = describe_checkpoint(args.path)
    configs = description.configs
    print(f"path:        {description.path} ({description.kind})")
    print(f"weights:     {description.weights.name}")
    print(f"variant:     Hunyuan3D 2.0 {configs.variant}")
    print(f"config:      {configs.config_source}")
    if configs.dit is not None:
        dit = configs.dit
        print(
            f"dit:         depth {dit.depth} + {dit.depth_single_blocks} single, hidden "
            f"{dit.hidden_size}, guidance-embedded {'yes' if dit.guidance_embed else 'no'}"
        )
    if configs.vae is not None:
        vae = configs.vae
        print(
            f"vae:         {vae.num_latents} latents x {vae.embed_dim}, width {vae.width}, "
            f"encoder {'yes' if vae.num_encoder_layers else 'no'}, scale factor {vae.scale_factor}"
        )
    if configs.conditioner is not None:
        print(f"conditioner: DINOv2, {'multi-view' if configs.multiview else 'single view'}")
    print("parts:")
    for part in description.parts:
        print(
            f"  {part.name:<12} {part.prefix or '(no prefix)':<13} {part.tensors:>5} tensors "
            f"{_format_count(part.parameters):>15} parameters  {'/'.join(part.dtypes)}"
        )
    for note in configs.notes:
        print(f"note:        {note}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hy3d_core", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="say what a checkpoint file or folder holds")
    inspect.add_argument("path", help="an official folder, a .safetensors or a .ckpt file")
    inspect.set_defaults(run=command_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CheckpointError, ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
