"""Texture a mesh with Hunyuan3D-Paint: the whole texture job of the release, in one call.

Both the ``generate`` and the ``texture --paint`` commands run this, so a mesh made by
the shape stage and a mesh loaded from a file go through exactly the same steps: UV
unwrap (when the mesh has none), normal and position maps from the release's six
cameras, the reference de-lit (when a Delight pipeline is given), six views generated,
baked into the UV texture and inpainted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..models.paint_model import PaintModel
from ..render.cameras import camera_preset
from ..render.geometry_maps import render_geometry_maps
from ..render.normalization import mesh_in_render_frame
from ..render.rasterizer import get_rasterizer
from ..sampling.paint_sampling import (
    RELEASED_GUIDANCE,
    RELEASED_STEPS,
    RELEASED_VIEW_SIZE,
    sample_paint_views,
)
from ..sampling.progress import Progress
from ..texture.baking import bake_views
from ..texture.delight import delight_image
from ..texture.inpainting import inpaint_texture
from ..texture.uv_unwrap import UnwrapOptions, unwrap_uv

PAINT_CAMERAS = "hunyuan3d-6view"
"""The multiview model was trained on these six poses; other cameras give it views it never saw."""

RELEASED_TEXTURE_SIZE = 2048


@dataclass(frozen=True)
class PaintSettings:
    """The texture stage's knobs; the defaults are the release's."""

    texture_size: int = RELEASED_TEXTURE_SIZE
    steps: int = RELEASED_STEPS
    guidance: float = RELEASED_GUIDANCE
    view_size: int = RELEASED_VIEW_SIZE
    seed: int = 0
    atlas_resolution: int = 1024
    backend: str = "auto"


def paint_texture(
    mesh: Mesh,
    reference: np.ndarray,
    opacity: np.ndarray,
    paint_model: PaintModel,
    settings: PaintSettings = PaintSettings(),
    *,
    delight_pipeline=None,
    device: torch.device | str = "cpu",
    progress_for: Callable[[str], Progress | None] = lambda stage: None,
) -> Mesh:
    """``mesh`` textured by Paint from ``reference`` ``[H, W, 3]`` (object on white, 0..1)
    with ``opacity`` ``[H, W]`` (1 on the object).

    A mesh that already has UVs keeps them, so a caller can unwrap with its own options
    (or report on the layout) first. ``progress_for(stage)`` gives the :class:`Progress`
    of each long stage ("delighting", "painting views", "baking"), or None.
    """
    if mesh.is_empty:
        raise ValueError("The mesh has no faces, so there is nothing to texture; check the input mesh.")
    device = torch.device(device)
    if mesh.uvs is None:
        mesh = unwrap_uv(mesh, options=UnwrapOptions(resolution=settings.atlas_resolution))
    cameras = camera_preset(PAINT_CAMERAS)
    vertices, faces, _ = mesh_in_render_frame(mesh, device)
    maps = render_geometry_maps(vertices, faces, cameras, settings.view_size,
                                get_rasterizer(settings.backend, device))
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
    return mesh.with_texture(texture)
