"""Command line: ``python -m hy3d_core <command> ...``.

Each command is a thin wrapper over the library so that what the CLI does, the nodes and
the tests do too; errors a user can cause print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from .io.checkpoint_files import CheckpointError
from .sampling.progress import Cancelled, Progress

from .devices import DEVICE_CHOICES as DEVICES, DTYPE_CHOICES as DTYPES


def _format_count(n: int) -> str:
    return f"{n:,}"


def command_inspect(args: argparse.Namespace) -> int:
    from .io.shape_checkpoints import describe_checkpoint

    description = describe_checkpoint(args.path)
    configs = description.configs
    print(f"path:        {description.path} ({description.kind})")
    print(f"weights:     {description.weights.name}")
    print(f"variant:     {configs.family.label} {configs.variant}")
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


class StderrBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str):
        self.label = label
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.drawn < 0.1:
            return
        self.drawn = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(
            f"\r{self.label:<22} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
            f"{now - self.started:6.1f}s"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _device_and_dtype(device_name: str, dtype_name: str):
    from .devices import resolve_device, resolve_dtype

    device = resolve_device(device_name)
    return device, resolve_dtype(dtype_name, device)


def load_image_rgba(path: str | Path, *, background: str = "auto"):
    """An image file as the recentred conditioner input, cutting the object out first
    when the file has no alpha (with ``background`` as the removal method)."""
    from .image.background import remove_background
    from .image.files import read_image_rgba
    from .image.prepare import prepare_image

    cut_out, _ = remove_background(read_image_rgba(path), method=background)
    return prepare_image(cut_out)


def _given(value, default):
    """A flag's value, or the model's default when the flag was left out (None)."""
    return default if value is None else value


def shape_model_path(args: argparse.Namespace) -> Path:
    """``--model``, or the demo model shipped with the pack when it was left out."""
    from .demo import demo_model_dir

    return Path(args.model) if args.model is not None else demo_model_dir()


def shape_mesh_from_args(args: argparse.Namespace, prepared, device, dtype):
    """The shape stage as the ``shape`` and ``generate`` commands run it: load, sample
    (optionally saving the latents), decode, extract and clean up one mesh."""
    from .demo import is_demo_model, shape_defaults_for
    from .io.atomic_files import save_tensor
    from .io.shape_checkpoints import load_shape_model
    from .pipelines import (
        SamplingSettings,
        SurfaceSettings,
        VolumeSettings,
        decode_volume,
        encode_images,
        grid_to_meshes,
        sample_latents,
    )

    model_path = shape_model_path(args)
    defaults = shape_defaults_for(model_path)
    decoder = _given(args.decoder, defaults.decoder)
    max_faces = _given(args.max_faces, defaults.max_faces)
    sampling = SamplingSettings(
        steps=_given(args.steps, defaults.steps), guidance=_given(args.guidance, defaults.guidance),
        seed=args.seed, skip_last_call=True,
    )
    volume = VolumeSettings(
        decoder=decoder, octree_resolution=_given(args.octree_resolution, defaults.octree_resolution),
        num_chunks=args.num_chunks,
    )
    surface = SurfaceSettings(
        mc_level=args.mc_level, close_at_bounds=not args.open_at_bounds,
        postprocess=not args.no_postprocess, max_faces=max_faces if max_faces > 0 else None,
    )
    if is_demo_model(model_path):
        print("using the demo model shipped with the pack (it knows only simple procedural "
              "shapes; pass --model for Hunyuan3D 2.0's weights)", file=sys.stderr)
    model = load_shape_model(model_path, device=device, dtype=dtype)
    if model.configs.multiview:
        raise ValueError(f"{model_path} is a multi-view model; this command takes one image")
    context = encode_images(model.conditioner, prepared.tensor)
    latents = sample_latents(
        model.dit, context, model.configs.num_latents, sampling, Progress(StderrBar("sampling"))
    )
    if args.save_latents is not None:
        save_tensor(latents, args.save_latents, overwrite=args.overwrite)
    grid = decode_volume(
        model.vae, latents, volume, Progress(StderrBar(f"decoding ({decoder})")),
        surface_level=args.mc_level,
    )
    return grid_to_meshes(grid, surface, volume.bounds)[0]


def command_shape(args: argparse.Namespace) -> int:
    from .io.mesh_files import SAVE_FORMATS, save_mesh

    out = Path(args.out)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(SAVE_FORMATS)}, got {out.name}")
    for target in (out, args.save_latents):
        if target is not None and Path(target).exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    device, dtype = _device_and_dtype(args.device, args.dtype)
    prepared = load_image_rgba(args.image, background=args.background)
    mesh = shape_mesh_from_args(args, prepared, device, dtype)
    save_mesh(mesh, out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(mesh.vertices)} vertices, {len(mesh.faces)} faces)")
    return 0


def _add_shape_arguments(shape: argparse.ArgumentParser) -> None:
    shape.add_argument("--model", default=None,
                       help="shape checkpoint: official folder or single file (default: the demo "
                            "model shipped with the pack, which knows only simple procedural shapes)")
    shape.add_argument("--image", required=True, help="input image (RGBA cut-out, or any image)")
    shape.add_argument("--out", required=True, help="output mesh: .glb, .obj or .ply")
    shape.add_argument("--steps", type=int, default=None, help="sampling steps (release: 50; demo model: 30)")
    shape.add_argument("--guidance", type=float, default=None,
                       help="guidance scale (release: 5.0; demo model: 3.0)")
    shape.add_argument("--seed", type=int, default=0, help="noise seed")
    shape.add_argument("--octree-resolution", type=int, default=None,
                       help="grid resolution (release: 384; demo model: 128)")
    shape.add_argument("--num-chunks", type=int, default=8000, help="points per decoder call")
    shape.add_argument("--decoder", choices=("dense", "hierarchical", "flashvdm"), default=None,
                       help="volume decoding (release: dense; demo model: hierarchical)")
    shape.add_argument("--mc-level", type=float, default=0.0, help="marching cubes level")
    shape.add_argument("--open-at-bounds", action="store_true",
                       help="leave a shape that reaches the grid's edge open there, as the "
                            "release does (default: capped, so the mesh stays closed)")
    shape.add_argument("--background", default="auto",
                       help="background removal for images without alpha: auto, classical, "
                            "alpha, or a model method with weights on disk")
    shape.add_argument("--device", choices=DEVICES, default="auto")
    shape.add_argument("--dtype", choices=DTYPES, default="auto",
                       help="auto: float16 on a GPU, float32 on the CPU")
    shape.add_argument("--save-latents", type=Path, default=None,
                       help="also write the final latents [B, num_latents, 64] (torch file)")
    shape.add_argument("--no-postprocess", action="store_true",
                       help="skip floater/degenerate removal and face reduction")
    shape.add_argument("--max-faces", type=int, default=None,
                       help="face budget, 0: no reduction (release: 40000; demo model: 20000)")
    shape.add_argument("--overwrite", action="store_true", help="replace existing output files")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hy3d_core", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="say what a checkpoint file or folder holds")
    inspect.add_argument("path", help="an official folder, a .safetensors or a .ckpt file")
    inspect.set_defaults(run=command_inspect)
    shape = commands.add_parser("shape", help="image to mesh")
    _add_shape_arguments(shape)
    shape.set_defaults(run=command_shape)
    from .cli_texture import add_texture_arguments, command_texture

    texture = commands.add_parser("texture", help="give a mesh a texture: projected from its image, or painted by Hunyuan3D-Paint (--paint)")
    add_texture_arguments(texture)
    texture.set_defaults(run=command_texture)
    from .cli_generate import add_generate_arguments

    add_generate_arguments(commands.add_parser("generate", help="image to textured mesh: shape, then Paint (--paint) or projection"))
    from .cli_prepare import add_prepare_arguments, command_prepare

    prepare = commands.add_parser("prepare-data", help="a training dataset from a folder of meshes")
    add_prepare_arguments(prepare)
    prepare.set_defaults(run=command_prepare)
    from .cli_train import (
        add_train_dit_arguments,
        add_train_vae_arguments,
        command_train_dit,
        command_train_vae,
    )

    train_vae = commands.add_parser("train-vae", help="train or fine-tune a ShapeVAE")
    add_train_vae_arguments(train_vae)
    train_vae.set_defaults(run=command_train_vae)
    train_dit = commands.add_parser("train-dit", help="train or fine-tune the shape DiT")
    add_train_dit_arguments(train_dit)
    train_dit.set_defaults(run=command_train_dit)
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


if __name__ == "__main__":
    sys.exit(main())
