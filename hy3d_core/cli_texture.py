"""``python -m hy3d_core texture``: give a mesh a texture from its image.

Unwraps the mesh when it has no UVs, then either projects the reference image as the
front view (plus optional extra views; see ``texture/projection.py`` for how the image
is lined up with the mesh), or, with ``--paint``, has Hunyuan3D-Paint generate six views
from it (``texture/paint_texturing.py``); bakes, inpaints and saves.

The Paint flags are defined here once and shared with ``generate``, which is the shape
command followed by this one's Paint route.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .geometry.mesh import Mesh
    from .image.prepare import PreparedImage
    from .texture.paint_texturing import PaintSettings

BACKENDS = ("auto", "torch", "nvdiffrast")


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


def parse_orbit_pose(text: str) -> tuple[float, float]:
    """``AZ:EL`` in degrees, as ``--image-view`` takes it."""
    azimuth, colon, elevation = text.partition(":")
    try:
        if not colon:
            raise ValueError
        return float(azimuth), float(elevation)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not AZIMUTH:ELEVATION in degrees, e.g. 30:20") from None


def add_baking_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every texturing route has: texture size, UV layout and rasterizer."""
    parser.add_argument("--texture-size", type=int, default=2048, help="texture size (64..4096; release: 2048)")
    parser.add_argument("--atlas-resolution", type=int, default=1024,
                        help="texels the UV charts are laid out for (xatlas)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="rasterizer: nvdiffrast on CUDA when installed, else torch")


def add_projection_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the projection route only."""
    parser.add_argument("--render-size", type=int, default=2048,
                        help="size the images are projected at (projection only; release: 2048)")
    parser.add_argument("--image-view", type=parse_orbit_pose, default=None, metavar="AZ:EL",
                        help="orbit pose the --image was taken from, in degrees (default: the "
                             "shape model's: 0:0, the front, for Hunyuan3D 2.0; 30:20 for the "
                             "demo model)")


def add_paint_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The Paint model's flags; the noise seed is ``--seed``, which the caller defines
    (``generate`` shares it with the shape stage)."""
    parser.add_argument("--paint", required=required, default=None,
                        help="the hunyuan3d-paint-v2-0 folder (unet/, vae/, scheduler/, model_index.json)"
                             + ("" if required else "; texture with Paint instead of projecting the image"))
    parser.add_argument("--delight", default=None,
                        help="the hunyuan3d-delight-v2-0 folder; without it the image's lighting is kept")
    parser.add_argument("--paint-steps", type=int, default=30, help="Paint denoising steps (release: 30)")
    parser.add_argument("--paint-guidance", type=float, default=2.0, help="Paint guidance (release: 2.0)")
    parser.add_argument("--view-size", type=int, default=512,
                        help="pixels per generated view, also the geometry maps' and Delight's size (release: 512)")


def check_paint_folders(args: argparse.Namespace) -> None:
    """Refuse missing model folders, and Delight without Paint, before any slow work starts."""
    if args.paint is None and args.delight is not None:
        raise ValueError("--delight de-lights the image for Paint; give --paint too, or drop --delight")
    for flag, folder in (("--paint", args.paint), ("--delight", args.delight)):
        if folder is not None and not Path(folder).is_dir():
            raise ValueError(f"{flag} {folder} is not a folder; give the downloaded "
                             f"hunyuan3d-{flag[2:]}-v2-0 folder of huggingface.co/tencent/Hunyuan3D-2")


def paint_settings_from_args(args: argparse.Namespace) -> PaintSettings:
    from .texture.paint_texturing import PaintSettings

    return PaintSettings(texture_size=args.texture_size, steps=args.paint_steps, guidance=args.paint_guidance,
                         view_size=args.view_size, seed=args.seed, atlas_resolution=args.atlas_resolution,
                         backend=args.backend)


def paint_with_args(
    args: argparse.Namespace, mesh: Mesh, reference: PreparedImage, device: torch.device, dtype: torch.dtype
) -> Mesh:
    """Load Paint (and Delight when asked for) and texture ``mesh`` from ``reference``
    (a prepared image), drawing a progress bar per stage on stderr."""
    from .__main__ import StderrBar
    from .io.paint_checkpoints import load_paint_model
    from .sampling.progress import Progress
    from .texture.delight import load_delight_pipeline
    from .texture.paint_texturing import paint_texture

    paint_model = load_paint_model(args.paint, device=device, dtype=dtype)
    delight = None if args.delight is None else load_delight_pipeline(args.delight, device=device, dtype=dtype)
    return paint_texture(
        mesh, reference.rgb, reference.mask, paint_model, paint_settings_from_args(args),
        delight_pipeline=delight, device=device, progress_for=lambda stage: Progress(StderrBar(stage)),
    )


def unwrap_with_args(args: argparse.Namespace, mesh: Mesh, *, again: bool = False) -> Mesh:
    """``mesh`` with UVs: its own unless it has none or ``again``, else an xatlas layout."""
    from .__main__ import StderrBar
    from .sampling.progress import Progress
    from .texture.uv_unwrap import UnwrapOptions, unwrap_uv_detailed

    if mesh.uvs is not None and not again:
        return mesh
    try:
        unwrap = unwrap_uv_detailed(mesh, options=UnwrapOptions(resolution=args.atlas_resolution),
                                    progress=Progress(StderrBar("UV unwrap")))
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
    import numpy as np

    from .__main__ import StderrBar, load_image_rgba
    from .sampling.progress import Progress
    from .texture.projection import project_texture_detailed

    extra_views = []
    for azimuth, elevation, path in views:
        prepared = load_image_rgba(path, background=args.background)
        extra_views.append((np.dstack([prepared.rgb, prepared.mask]), azimuth, elevation))
    result = project_texture_detailed(
        mesh,
        np.dstack([reference.rgb, reference.mask]),
        image_view=args.image_view if args.image_view is not None else default_image_view,
        extra_views=extra_views,
        texture_size=args.texture_size,
        render_size=args.render_size,
        backend=args.backend,
        device=device,
        progress=Progress(StderrBar("baking")),
    )
    fits = ", ".join(f"{iou:.2f}" for iou in result.silhouette_iou)
    summary = f"{result.bake.coverage:.0%} of it seen by the images, silhouette fit {fits}"
    warnings = []
    if min(result.silhouette_iou) < 0.8:
        warnings.append("an image's silhouette does not match the mesh's (IoU below 0.8); "
                        "the mesh may not face +z with +y up as the shape stage outputs it, "
                        "or --image-view may not be where the image was taken from")
    return result.mesh, summary, warnings


def command_texture(args: argparse.Namespace) -> int:
    from .__main__ import _device_and_dtype, load_image_rgba
    from .io.mesh_files import SAVE_FORMATS, load_mesh, save_mesh
    from .texture.projection import FRONT_VIEW

    out = Path(args.out)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(SAVE_FORMATS)}, got {out.name}")
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    views = parse_views(args.views or [])
    check_paint_folders(args)
    if args.paint is not None and args.views:
        raise ValueError("--views are for projection; Paint generates its own six views from the one "
                         "--image, so drop --views or --paint")
    device, dtype = _device_and_dtype(args.device, args.dtype)
    mesh = load_mesh(args.mesh)
    reference = load_image_rgba(args.image, background=args.background)
    mesh = unwrap_with_args(args, mesh, again=args.new_uvs)
    if args.paint is None:
        textured, summary, warnings = project_with_args(args, mesh, reference, views, device,
                                                        FRONT_VIEW)
    else:
        textured = paint_with_args(args, mesh, reference, device, dtype)
        summary = "painted by Hunyuan3D-Paint from six views" + (", image de-lit" if args.delight else "")
        warnings = []
    save_mesh(textured, out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(textured.vertices)} vertices, {len(textured.faces)} faces, "
          f"{args.texture_size}x{args.texture_size} texture, {summary})")
    for warning in warnings:
        print(f"warning: {warning}")
    return 0


def add_texture_arguments(parser: argparse.ArgumentParser) -> None:
    from .__main__ import DEVICES, DTYPES

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
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--dtype", choices=DTYPES, default="auto",
                        help="Paint's dtype; auto: float16 on a GPU, float32 on the CPU")
    parser.add_argument("--background", default="auto",
                        help="background removal for images without alpha (as for shape)")
    parser.add_argument("--new-uvs", action="store_true",
                        help="unwrap again even when the mesh has UVs")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
