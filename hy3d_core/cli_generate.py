"""``python -m hy3d_core generate``: one image to a textured asset, the whole Hunyuan3D 2.0 job.

Shape as the ``shape`` command makes it, then the ``texture`` command's route on that
mesh: Hunyuan3D-Paint with ``--paint`` (``texture/paint_texturing.py``), otherwise the
image projected onto the mesh, which needs no texture weights. With neither ``--model``
nor ``--paint`` it runs entirely on what ships with the pack (the demo model). The shape
model is dropped before Paint is loaded, so both never occupy the GPU at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .geometry.mesh import Mesh
    from .image.prepare import PreparedImage


def _shape_mesh(args: argparse.Namespace, prepared: PreparedImage, device: torch.device,
                dtype: torch.dtype) -> Mesh:
    from .__main__ import shape_mesh_from_args

    mesh = shape_mesh_from_args(args, prepared, device, dtype)
    if mesh.is_empty:
        raise ValueError("The shape stage gave an empty mesh (no surface at --mc-level); try another "
                         "--mc-level or seed")
    return mesh


def command_generate(args: argparse.Namespace) -> int:
    import torch

    from .__main__ import _device_and_dtype, load_image_rgba, shape_model_path
    from .cli_texture import check_paint_folders, paint_with_args, project_with_args, unwrap_with_args
    from .demo import shape_defaults_for
    from .io.mesh_files import save_mesh

    out = Path(args.out)
    if out.suffix.lower() not in (".glb", ".obj"):
        raise ValueError(f"--out must end in .glb or .obj (formats that carry a texture), got {out.name}")
    for target in (out, args.save_latents):
        if target is not None and Path(target).exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    check_paint_folders(args)
    device, dtype = _device_and_dtype(args.device, args.dtype)
    prepared = load_image_rgba(args.image, background=args.background)
    mesh = _shape_mesh(args, prepared, device, dtype)
    print(f"shape: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces")
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if args.paint is not None:
        textured = paint_with_args(args, mesh, prepared, device, dtype)
        summary = "painted by Hunyuan3D-Paint"
    else:
        image_view = shape_defaults_for(shape_model_path(args)).image_view
        textured, summary, _ = project_with_args(args, unwrap_with_args(args, mesh), prepared, [], device,
                                                 image_view)
        summary = "image projected, " + summary
    save_mesh(textured, out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(textured.vertices)} vertices, {len(textured.faces)} faces, "
          f"{args.texture_size}x{args.texture_size} texture, {summary})")
    return 0


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``shape`` command's arguments plus the ``texture`` command's texturing ones; the
    parser runs ``command_generate``."""
    from .__main__ import _add_shape_arguments
    from .cli_texture import add_baking_arguments, add_paint_arguments, add_projection_arguments

    _add_shape_arguments(parser)
    parser.set_defaults(run=command_generate)
    add_paint_arguments(parser, required=False)
    add_projection_arguments(parser)
    add_baking_arguments(parser)
