"""``python -m hy3d_core generate``: one image to a textured asset, the whole Hunyuan3D 2.0 job.

Shape as the ``shape`` command makes it, then Paint: UV unwrap, normal and position maps
from the release's six cameras, the reference delighted (when a Delight folder is given),
six views generated, baked into the UV texture and inpainted. The shape model is dropped
before Paint is loaded, so both never occupy the GPU at once.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .sampling.progress import Progress

if TYPE_CHECKING:
    import numpy as np
    import torch

    from .geometry.mesh import Mesh
    from .io.paint_checkpoints import PaintModel

BACKENDS = ("auto", "torch", "nvdiffrast")
PAINT_CAMERAS = "hunyuan3d-6view"


@dataclass(frozen=True)
class PaintSettings:
    """The texture stage's knobs; the defaults are the release's."""

    texture_size: int = 2048
    steps: int = 30
    guidance: float = 2.0
    view_size: int = 512
    seed: int = 0
    atlas_resolution: int = 1024
    backend: str = "auto"


def paint_texture(
    mesh: Mesh,
    reference: np.ndarray,
    opacity: np.ndarray,
    paint_model: PaintModel,
    settings: PaintSettings,
    *,
    delight_pipeline=None,
    device: torch.device | str = "cpu",
    progress_for: Callable[[str], Progress | None] = lambda stage: None,
) -> Mesh:
    """``mesh`` unwrapped and textured by Paint from ``reference`` ``[H, W, 3]`` (object on
    white) with ``opacity`` ``[H, W]`` (1 on the object). ``progress_for(stage)`` gives the
    :class:`Progress` of each long stage (or None)."""
    import numpy as np
    import torch

    from .geometry.mesh import Mesh
    from .render.cameras import camera_preset
    from .render.geometry_maps import render_geometry_maps
    from .render.normalization import normalize_for_render
    from .render.rasterizer import get_rasterizer
    from .texture.baking import bake_views
    from .texture.delight import delight_image
    from .texture.inpainting import inpaint_texture
    from .texture.paint_sampling import sample_paint_views
    from .texture.uv_unwrap import UnwrapOptions, unwrap_uv

    device = torch.device(device)
    if mesh.uvs is None:
        mesh = unwrap_uv(mesh, options=UnwrapOptions(resolution=settings.atlas_resolution))
    cameras = camera_preset(PAINT_CAMERAS)
    vertices, _ = normalize_for_render(torch.from_numpy(mesh.vertices).to(device))
    maps = render_geometry_maps(vertices, torch.from_numpy(mesh.faces).to(device), cameras,
                                settings.view_size, get_rasterizer(settings.backend, device))
    image = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32))
    if delight_pipeline is not None:
        image = delight_image(delight_pipeline, image, torch.from_numpy(np.asarray(opacity, np.float32)),
                              size=settings.view_size, progress=progress_for("delighting"))
    views = sample_paint_views(
        paint_model, image, maps.normal.cpu(), maps.position.cpu(), cameras.paint_camera_indices(),
        seed=settings.seed, steps=settings.steps, guidance=settings.guidance,
        view_size=settings.view_size, progress=progress_for("painting views"),
    )
    bake = bake_views(mesh, views, cameras, texture_size=settings.texture_size, backend=settings.backend,
                      device=device, progress=progress_for("baking"))
    texture = inpaint_texture(mesh, bake.texture, bake.covered, backend=settings.backend, device=device)
    return Mesh(mesh.vertices, mesh.faces, uvs=mesh.uvs, vertex_normals=mesh.vertex_normals, texture=texture)


def _shape_mesh(args: argparse.Namespace, prepared, device: torch.device, dtype: torch.dtype) -> Mesh:
    from .__main__ import shape_mesh_from_args

    mesh = shape_mesh_from_args(args, prepared, device, dtype)
    if mesh.is_empty:
        raise ValueError("The shape stage gave an empty mesh (no surface at --mc-level); try another "
                         "--mc-level or seed")
    return mesh


def command_generate(args: argparse.Namespace) -> int:
    import torch

    from .__main__ import StderrBar, _device_and_dtype, load_image_rgba
    from .io.mesh_files import save_mesh
    from .io.paint_checkpoints import load_paint_model
    from .texture.delight import load_delight_pipeline

    out = Path(args.out)
    if out.suffix.lower() not in (".glb", ".obj"):
        raise ValueError(f"--out must end in .glb or .obj (formats that carry a texture), got {out.name}")
    for target in (out, args.save_latents):
        if target is not None and Path(target).exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    for flag, folder in (("--paint", args.paint), ("--delight", args.delight)):
        if folder is not None and not Path(folder).is_dir():
            raise ValueError(f"{flag} {folder} is not a folder; give the downloaded "
                             f"hunyuan3d-{flag[2:]}-v2-0 folder of huggingface.co/tencent/Hunyuan3D-2")
    settings = PaintSettings(texture_size=args.texture_size, steps=args.paint_steps, guidance=args.paint_guidance,
                             view_size=args.view_size, seed=args.seed, atlas_resolution=args.atlas_resolution,
                             backend=args.backend)
    device, dtype = _device_and_dtype(args.device, args.dtype)
    prepared = load_image_rgba(args.image, background=args.background)
    mesh = _shape_mesh(args, prepared, device, dtype)
    print(f"shape: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces")
    if device.type == "cuda":
        torch.cuda.empty_cache()
    paint_model = load_paint_model(args.paint, device=device, dtype=dtype)
    delight = None if args.delight is None else load_delight_pipeline(args.delight, device=device, dtype=dtype)
    textured = paint_texture(
        mesh, prepared.rgb, prepared.mask, paint_model, settings, delight_pipeline=delight, device=device,
        progress_for=lambda stage: Progress(StderrBar(stage)),
    )
    save_mesh(textured, out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(textured.vertices)} vertices, {len(textured.faces)} faces, "
          f"{args.texture_size}x{args.texture_size} texture)")
    return 0


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``shape`` command's arguments plus the texture stage's; the parser runs
    ``command_generate``."""
    from .__main__ import _add_shape_arguments

    _add_shape_arguments(parser)
    parser.set_defaults(run=command_generate)
    parser.add_argument("--paint", required=True,
                        help="the hunyuan3d-paint-v2-0 folder (unet/, vae/, scheduler/, model_index.json)")
    parser.add_argument("--delight", default=None,
                        help="the hunyuan3d-delight-v2-0 folder; without it the image's lighting is kept")
    parser.add_argument("--texture-size", type=int, default=2048, help="texture size (64..4096; release: 2048)")
    parser.add_argument("--paint-steps", type=int, default=30, help="Paint denoising steps (release: 30)")
    parser.add_argument("--paint-guidance", type=float, default=2.0, help="Paint guidance (release: 2.0)")
    parser.add_argument("--view-size", type=int, default=512,
                        help="pixels per generated view, also the geometry maps' and Delight's size (release: 512)")
    parser.add_argument("--atlas-resolution", type=int, default=1024,
                        help="texels the UV charts are laid out for (xatlas)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="rasterizer: nvdiffrast on CUDA when installed, else torch")
