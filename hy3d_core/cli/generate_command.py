"""``python -m hy3d_core generate``: one image to a textured asset, the whole Hunyuan3D 2.0 job.

Shape as the ``shape`` command makes it, then the ``texture`` command's route on that
mesh: Hunyuan3D-Paint with ``--paint`` (``pipelines/paint.py``), otherwise the image
projected onto the mesh, which needs no texture weights. With neither ``--model`` nor
``--paint`` it runs entirely on what ships with the pack (the demo model). The shape
model is dropped before Paint is loaded, so both never occupy the GPU at once.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from ..io.mesh_files import output_files, save_mesh
from .common import (
    add_baking_arguments,
    add_paint_arguments,
    add_projection_arguments,
    add_shape_arguments,
    check_outputs,
    device_and_dtype,
)
from .shape_command import load_input_image, shape_from_args
from .texture_command import (
    check_paint_folders,
    paint_with_args,
    paints_pbr,
    project_with_args,
    unwrap_with_args,
)


def command_generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".glb", ".obj"):
        raise ValueError(f"--out must end in .glb or .obj (formats that carry a texture), got {out.name}")
    check_paint_folders(args)
    check_outputs((*output_files(out, has_uvs=True, has_texture=True,
                                 has_metallic_roughness=paints_pbr(args)), args.save_latents),
                  (args.image,), overwrite=args.overwrite)
    device, dtype = device_and_dtype(args)
    prepared = load_input_image(args)
    mesh, defaults = shape_from_args(args, prepared, device, dtype)
    if mesh.is_empty:
        raise ValueError("The shape stage gave an empty mesh (no surface at --mc-level); try another "
                         "--mc-level or seed")
    print(f"shape: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces")
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if args.paint is not None:
        textured = paint_with_args(args, mesh, prepared, device, dtype)
        summary = "painted by Hunyuan3D-Paint"
    else:
        textured, summary, _ = project_with_args(args, unwrap_with_args(args, mesh), prepared, [], device,
                                                 defaults.image_view)
        summary = "image projected, " + summary
    textured = replace(textured, image_view=defaults.image_view)
    save_mesh(textured, out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(textured.vertices)} vertices, {len(textured.faces)} faces, "
          f"{args.texture_size}x{args.texture_size} texture, {summary})")
    return 0


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``shape`` command's arguments plus the ``texture`` command's texturing ones; the
    parser runs ``command_generate``."""
    add_shape_arguments(parser)
    parser.set_defaults(run=command_generate)
    add_paint_arguments(parser, required=False)
    add_projection_arguments(parser)
    add_baking_arguments(parser)
