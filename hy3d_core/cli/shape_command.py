"""``python -m hy3d_core shape``: one image to a mesh, with the shape model's defaults
(the demo model that ships with the pack when ``--model`` is left out)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from ..demo import demo_model_dir, is_demo_model, shape_defaults_for
from ..geometry.mesh import Mesh
from ..image.loading import load_image_rgba
from ..image.prepare import PreparedImage
from ..io.atomic_files import save_tensor
from ..io.mesh_files import SAVE_FORMATS, output_files, save_mesh
from ..io.shape_checkpoints import describe_checkpoint, load_shape_model
from ..models.families import ShapeDefaults
from ..pipelines.shape import SamplingSettings, SurfaceSettings, VolumeSettings, generate_shape
from .common import check_outputs, device_and_dtype, given, stderr_progress


def shape_model_path(args: argparse.Namespace) -> Path:
    """``--model``, or the demo model shipped with the pack when it was left out."""
    return Path(args.model) if args.model is not None else demo_model_dir()


def load_input_image(args: argparse.Namespace) -> PreparedImage:
    """``--image`` recentred as the shape model's image processor does: at the size and
    border its config.yaml gives (read without loading any weights)."""
    configs = describe_checkpoint(shape_model_path(args)).configs
    return load_image_rgba(args.image, background=args.background, size=configs.image_size,
                           border_ratio=configs.border_ratio, models_dir=args.models_dir)


def shape_from_args(
    args: argparse.Namespace, prepared: PreparedImage, device: torch.device, dtype: torch.dtype
) -> tuple[Mesh, ShapeDefaults]:
    """The shape stage as the ``shape`` and ``generate`` commands run it: load, then the
    one image -> mesh chain (saving the latents when asked); also the defaults it used.
    The mesh records the model's ``image_view``, so a saved GLB tells ``texture`` the pose."""
    model_path = shape_model_path(args)
    if is_demo_model(model_path):
        print("using the demo model shipped with the pack (it knows only simple procedural "
              "shapes; pass --model for Hunyuan3D 2.0's weights)", file=sys.stderr)
    model = load_shape_model(model_path, device=device, dtype=dtype)
    if model.configs.multiview:
        raise ValueError(f"{model_path} is a multi-view model; this command takes one image")
    defaults = shape_defaults_for(model_path, model.configs.family)
    max_faces = given(args.max_faces, defaults.max_faces)
    sampling = SamplingSettings(
        steps=given(args.steps, defaults.steps), guidance=given(args.guidance, defaults.guidance),
        seed=args.seed, skip_last_call=True,
    )
    volume = VolumeSettings(
        decoder=given(args.decoder, defaults.decoder),
        octree_resolution=given(args.octree_resolution, defaults.octree_resolution),
        num_chunks=args.num_chunks,
    )
    surface = SurfaceSettings(
        mc_level=args.mc_level, close_at_bounds=not args.open_at_bounds,
        postprocess=not args.no_postprocess, max_faces=max_faces if max_faces > 0 else None,
    )

    def save_latents(latents: torch.Tensor) -> None:
        if args.save_latents is not None:
            save_tensor(latents, args.save_latents, overwrite=args.overwrite)

    result = generate_shape(
        model, prepared.tensor, sampling=sampling, volume=volume, surface=surface,
        progress_for=stderr_progress, on_latents=save_latents,
    )
    return replace(result.meshes[0], image_view=defaults.image_view), defaults


def command_shape(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(SAVE_FORMATS)}, got {out.name}")
    check_outputs((*output_files(out, has_uvs=False, has_texture=False), args.save_latents),
                  (args.image,), overwrite=args.overwrite)
    device, dtype = device_and_dtype(args)
    prepared = load_input_image(args)
    mesh, _ = shape_from_args(args, prepared, device, dtype)
    save_mesh(mesh, out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(mesh.vertices)} vertices, {len(mesh.faces)} faces)")
    return 0
