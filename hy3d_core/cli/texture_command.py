"""``python -m hy3d_core texture``: give a mesh a texture from its image.

Unwraps the mesh when it has no UVs, then either projects the reference image from
``--image-view``, else the pose the mesh file records (a GLB the pack wrote), else the
front (plus optional extra views; ``pipelines/projection.py``), or, with ``--paint``,
has Hunyuan3D-Paint generate six views from it (``pipelines/paint.py``); bakes, inpaints
and saves. ``generate`` runs the same routes on the mesh its shape stage made.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from ..devices import AUTO_DTYPE_RULE
from ..geometry.mesh import Mesh
from ..image.loading import load_image_rgba
from ..image.prepare import PreparedImage
from ..io.delight_checkpoints import load_delight_pipeline
from ..io.mesh_files import SAVE_FORMATS, load_mesh, output_files, save_mesh
from ..io.paint_checkpoints import load_paint_model
from ..io.paint_family import PAINT_PBR_21, paint_family
from ..io.paint_pbr_checkpoints import load_paint_pbr_model
from ..pipelines.paint import PaintSettings, paint_texture
from ..pipelines.paint_pbr import PbrPaintSettings, paint_pbr_texture
from ..pipelines.projection import project_image_texture, projection_warnings
from ..texture.projection import FRONT_VIEW
from ..texture.uv_unwrap import UnwrapOptions, unwrap_uv_detailed
from .common import (
    add_background_argument,
    add_baking_arguments,
    add_device_arguments,
    add_paint_arguments,
    add_projection_arguments,
    check_outputs,
    device_and_dtype,
    stderr_progress,
)


FOLDER_HINTS = {
    "--paint": "hunyuan3d-paint-v2-0 folder of huggingface.co/tencent/Hunyuan3D-2 or the "
               "hunyuan3d-paintpbr-v2-1 folder of huggingface.co/tencent/Hunyuan3D-2.1",
    "--delight": "hunyuan3d-delight-v2-0 folder of huggingface.co/tencent/Hunyuan3D-2",
    "--paint-dino": "facebook/dinov2-giant folder",
}


def parse_views(specs: list[str]) -> list[tuple[float, float, Path]]:
    """``AZ:EL=IMAGE`` items, comma separated, from one or more ``--views`` values."""
    views = []
    for spec in specs:
        for item in filter(None, (part.strip() for part in spec.split(","))):
            angles, separator, image = item.partition("=")
            azimuth, colon, elevation = angles.partition(":")
            try:
                if not separator or not colon or not image:
                    raise ValueError
                views.append((float(azimuth), float(elevation), Path(image)))
            except ValueError:
                raise ValueError(
                    f"--views item {item!r} is not AZIMUTH:ELEVATION=IMAGE (degrees), "
                    "e.g. 180:0=back.png"
                ) from None
    return views


def check_paint_folders(args: argparse.Namespace) -> None:
    """Refuse missing model folders, Delight without Paint and flags the Paint release in
    --paint does not take, before any slow work starts."""
    if args.paint is None and args.delight is not None:
        raise ValueError("--delight de-lights the image for Paint; give --paint too, or drop --delight")
    if args.paint is None and args.paint_dino is not None:
        raise ValueError("--paint-dino is the DINOv2 folder of Paint 2.1; give --paint too, or drop --paint-dino")
    for flag, folder in (("--paint", args.paint), ("--delight", args.delight), ("--paint-dino", args.paint_dino)):
        if folder is not None and not Path(folder).is_dir():
            raise ValueError(f"{flag} {folder} is not a folder; give the downloaded {FOLDER_HINTS[flag]}")
    if args.paint is None:
        return
    if paint_family(args.paint) == PAINT_PBR_21:
        if args.delight is not None:
            raise ValueError("--delight is not supported with Paint 2.1 (PBR), which generates albedo from the "
                             "lit image itself; drop --delight")
    elif args.paint_dino is not None:
        raise ValueError(f"--paint-dino is only for Paint 2.1 ({PAINT_PBR_21}); {args.paint} is not such a "
                         "folder, so drop --paint-dino")


def paints_pbr(args: argparse.Namespace) -> bool:
    """Whether --paint names a Paint 2.1 folder, whose mesh also carries a metallic-
    roughness map (an OBJ then writes two more images)."""
    return args.paint is not None and paint_family(args.paint) == PAINT_PBR_21


def paint_with_args(
    args: argparse.Namespace, mesh: Mesh, reference: PreparedImage, device: torch.device, dtype: torch.dtype
) -> Mesh:
    """Load the Paint release in --paint (and Delight when asked for) and texture ``mesh``
    from ``reference`` (a prepared image), drawing a progress bar per stage on stderr.
    A 2.1 folder gives the mesh a PBR material (albedo and metallic-roughness)."""
    if paint_family(args.paint) == PAINT_PBR_21:
        model = load_paint_pbr_model(args.paint, dino_folder=args.paint_dino, device=device, dtype=dtype)
        pbr_settings = PbrPaintSettings(
            texture_size=args.texture_size, steps=args.paint_steps, guidance=args.paint_guidance,
            view_size=args.view_size, seed=args.seed, render_size=args.render_size,
            atlas_resolution=args.atlas_resolution, backend=args.backend,
        )
        return paint_pbr_texture(mesh, reference.rgb, model, pbr_settings, device=device,
                                 progress_for=stderr_progress)
    paint_model = load_paint_model(args.paint, device=device, dtype=dtype)
    delight = None if args.delight is None else load_delight_pipeline(args.delight, device=device, dtype=dtype)
    settings = PaintSettings(texture_size=args.texture_size, steps=args.paint_steps,
                             guidance=args.paint_guidance, view_size=args.view_size, seed=args.seed,
                             atlas_resolution=args.atlas_resolution, backend=args.backend)
    return paint_texture(
        mesh, reference.rgb, reference.mask, paint_model, settings,
        delight_pipeline=delight, device=device, progress_for=stderr_progress,
    )


def unwrap_with_args(args: argparse.Namespace, mesh: Mesh, *, again: bool = False) -> Mesh:
    """``mesh`` with UVs: its own unless it has none or ``again``, else an xatlas layout."""
    if mesh.uvs is not None and not again:
        return mesh
    try:
        unwrap = unwrap_uv_detailed(mesh, options=UnwrapOptions(resolution=args.atlas_resolution),
                                    progress=stderr_progress("UV unwrap"))
    except ModuleNotFoundError as error:
        raise ValueError(str(error)) from None
    print(f"unwrapped UVs: {unwrap.chart_count} charts, {unwrap.utilization:.0%} of the atlas used")
    return unwrap.mesh


def project_with_args(
    args: argparse.Namespace,
    mesh: Mesh,
    reference: PreparedImage,
    views: list[tuple[float, float, Path]],
    device: torch.device,
    default_image_view: tuple[float, float],
) -> tuple[Mesh, str, list[str]]:
    """The projection route (``mesh`` has UVs): the mesh textured from the image(s), the
    reference seen from ``--image-view``, or ``default_image_view`` without it; what to say
    about the result, and warnings."""
    extra_views = [(load_image_rgba(path, background=args.background, models_dir=args.models_dir),
                    azimuth, elevation)
                   for azimuth, elevation, path in views]
    result = project_image_texture(
        mesh,
        reference,
        image_view=args.image_view if args.image_view is not None else default_image_view,
        extra_views=extra_views,
        texture_size=args.texture_size,
        render_size=args.render_size,
        backend=args.backend,
        device=device,
        progress=stderr_progress("baking"),
    )
    fits = ", ".join(f"{iou:.2f}" for iou in result.silhouette_iou)
    summary = f"{result.bake.coverage:.0%} of it seen by the images, silhouette fit {fits}"
    return result.mesh, summary, projection_warnings(result)


def describe_image_pose(flag: tuple[float, float] | None,
                        recorded: tuple[float, float] | None) -> str:
    """Which orbit pose the projection takes and where it came from, for the log."""
    if flag is not None:
        return f"{flag[0]:g}:{flag[1]:g} (--image-view)"
    if recorded is not None:
        return f"{recorded[0]:g}:{recorded[1]:g} (recorded in the mesh file)"
    return f"{FRONT_VIEW[0]:g}:{FRONT_VIEW[1]:g} (the front; the mesh records no pose)"


def command_texture(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(SAVE_FORMATS)}, got {out.name}")
    views = parse_views(args.views or [])
    check_paint_folders(args)
    check_outputs(output_files(out, has_uvs=True, has_texture=True,
                               has_metallic_roughness=paints_pbr(args)),
                  (args.image, args.mesh, *(image for _, _, image in views)), overwrite=args.overwrite)
    if args.paint is not None and args.views:
        raise ValueError("--views are for projection; Paint generates its own six views from the one "
                         "--image, so drop --views or --paint")
    device, dtype = device_and_dtype(args)
    mesh = load_mesh(args.mesh)
    image_view = mesh.image_view
    reference = load_image_rgba(args.image, background=args.background, models_dir=args.models_dir)
    mesh = unwrap_with_args(args, mesh, again=args.new_uvs)
    if args.paint is None:
        print(f"image pose {describe_image_pose(args.image_view, image_view)}")
        textured, summary, warnings = project_with_args(args, mesh, reference, views, device,
                                                        image_view or FRONT_VIEW)
        image_view = args.image_view or image_view
    else:
        textured = paint_with_args(args, mesh, reference, device, dtype)
        summary = ("painted by Hunyuan3D-Paint 2.1 with a PBR material" if textured.metallic_roughness is not None
                   else "painted by Hunyuan3D-Paint from six views" + (", image de-lit" if args.delight else ""))
        warnings = []
    save_mesh(replace(textured, image_view=image_view), out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(textured.vertices)} vertices, {len(textured.faces)} faces, "
          f"{args.texture_size}x{args.texture_size} texture, {summary})")
    for warning in warnings:
        print(f"warning: {warning}")
    return 0


def add_texture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mesh", required=True, help="input mesh (.glb, .gltf, .obj, .ply, .stl)")
    parser.add_argument("--image", required=True,
                        help="reference image of the front (RGBA cut-out, or any image)")
    parser.add_argument("--out", required=True, help="output mesh: .glb, .obj or .ply")
    parser.add_argument("--views", action="append", metavar="AZ:EL=IMG,...",
                        help="extra views with their camera angles in degrees, e.g. 180:0=back.png "
                             "(projection only)")
    add_projection_arguments(parser)
    add_baking_arguments(parser)
    add_paint_arguments(parser, required=False)
    parser.add_argument("--seed", type=int, default=0, help="Paint's noise seed (with --paint)")
    add_device_arguments(parser, f"Paint's dtype; {AUTO_DTYPE_RULE}")
    add_background_argument(parser, "background removal for images without alpha (as for shape)")
    parser.add_argument("--new-uvs", action="store_true",
                        help="unwrap again even when the mesh has UVs")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
