"""``python -m hy3d_core texture``: give a mesh a texture projected from its image.

Unwraps the mesh when it has no UVs, projects the reference image as the front view
(plus optional extra views), bakes, inpaints and saves (see ``texture/projection.py``
for how the image is lined up with the mesh).
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda", "mps")
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


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA device")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps was asked for but torch sees no MPS device")
    return torch.device(name)


def command_texture(args: argparse.Namespace) -> int:
    import numpy as np

    from .__main__ import StderrBar, load_image_rgba
    from .io.mesh_files import SAVE_FORMATS, load_mesh, save_mesh
    from .sampling.progress import Progress
    from .texture.projection import project_texture_detailed
    from .texture.uv_unwrap import UnwrapOptions, unwrap_uv_detailed

    out = Path(args.out)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(SAVE_FORMATS)}, got {out.name}")
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    extra = parse_views(args.views or [])
    device = _device(args.device)
    mesh = load_mesh(args.mesh)
    reference = load_image_rgba(args.image, background=args.background)
    extra_views = []
    for azimuth, elevation, path in extra:
        prepared = load_image_rgba(path, background=args.background)
        extra_views.append((np.dstack([prepared.rgb, prepared.mask]), azimuth, elevation))
    if mesh.uvs is None or args.new_uvs:
        try:
            options = UnwrapOptions(resolution=args.atlas_resolution)
            unwrap = unwrap_uv_detailed(mesh, options=options)
        except ModuleNotFoundError as error:
            raise ValueError(str(error)) from None
        mesh = unwrap.mesh
        print(f"unwrapped UVs: {unwrap.chart_count} charts, "
              f"{unwrap.utilization:.0%} of the atlas used")
    result = project_texture_detailed(
        mesh,
        np.dstack([reference.rgb, reference.mask]),
        extra_views=extra_views,
        texture_size=args.texture_size,
        render_size=args.render_size,
        backend=args.backend,
        device=device,
        progress=Progress(StderrBar("baking")),
    )
    save_mesh(result.mesh, out, overwrite=args.overwrite)
    fits = ", ".join(f"{iou:.2f}" for iou in result.silhouette_iou)
    print(
        f"wrote {out} ({len(result.mesh.vertices)} vertices, {len(result.mesh.faces)} faces, "
        f"{args.texture_size}x{args.texture_size} texture, {result.bake.coverage:.0%} of it "
        f"seen by the images, silhouette fit {fits})"
    )
    if min(result.silhouette_iou) < 0.8:
        print("warning: an image's silhouette does not match the mesh's (IoU below 0.8); "
              "the mesh may not face +z with +y up as the shape stage outputs it")
    return 0


def add_texture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mesh", required=True, help="input mesh (.glb, .gltf, .obj, .ply, .stl)")
    parser.add_argument("--image", required=True,
                        help="reference image of the front (RGBA cut-out, or any image)")
    parser.add_argument("--out", required=True, help="output mesh: .glb, .obj or .ply")
    parser.add_argument("--views", action="append", metavar="AZ:EL=IMG,...",
                        help="extra views with their camera angles in degrees, e.g. 180:0=back.png")
    parser.add_argument("--texture-size", type=int, default=2048, help="texture size (64..4096)")
    parser.add_argument("--render-size", type=int, default=2048,
                        help="size the images are projected at (release: 2048)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="rasterizer: nvdiffrast on CUDA when installed, else torch")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--background", default="auto",
                        help="background removal for images without alpha (as for shape)")
    parser.add_argument("--new-uvs", action="store_true",
                        help="unwrap again even when the mesh has UVs")
    parser.add_argument("--atlas-resolution", type=int, default=1024,
                        help="texels the UV charts are laid out for (xatlas)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
