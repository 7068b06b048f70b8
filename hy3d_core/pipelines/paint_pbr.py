"""Texture a mesh with Hunyuan3D-Paint 2.1 (PBR): the release's whole texture job in one call.

The 2.1 counterpart of ``pipelines/paint.py``, run by ``texture`` and ``generate`` when
``--paint`` is a 2.1 folder: UV unwrap (when the mesh has none), the release's view
selection for this mesh (six to nine of its thirty candidate cameras), normal and
position maps for those views, albedo and metallic-roughness views generated, both
baked into the UVs and inpainted. The result carries a PBR material (base colour plus
metallic-roughness), which GLB export writes as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..io.paint_pbr_checkpoints import PaintPbrModel
from ..render.normalization import mesh_in_render_frame
from ..render.cameras import CameraSet
from ..render.pbr_condition_maps import RELEASED_RENDER_SIZE, ConditionMaps, render_pbr_condition_maps
from ..render.rasterizer import get_rasterizer
from ..render.view_selection import RELEASED_DEFAULT_VIEWS, RELEASED_SELECTION_RESOLUTION, select_bake_views
from ..sampling.paint_pbr_sampling import (
    RELEASED_GUIDANCE,
    RELEASED_SEED,
    RELEASED_STEPS,
    RELEASED_VIEW_SIZE,
    paint_pbr_views,
)
from ..sampling.progress import Progress
from ..texture.pbr_baking import DEFAULT_TEXTURE_SIZE, bake_pbr_views
from ..texture.uv_unwrap import UnwrapOptions, unwrap_uv


@dataclass(frozen=True)
class PbrPaintSettings:
    """The 2.1 texture stage's knobs; the defaults are the release's.

    ``render_size`` is both the size the condition maps are rendered at before shrinking
    to ``view_size`` and the size the views are enlarged to for baking (2048 released);
    ``selection_resolution`` is the size the candidate views are rendered at to choose
    them.
    """

    texture_size: int = DEFAULT_TEXTURE_SIZE
    steps: int = RELEASED_STEPS
    guidance: float = RELEASED_GUIDANCE
    view_size: int = RELEASED_VIEW_SIZE
    seed: int = RELEASED_SEED
    max_views: int = RELEASED_DEFAULT_VIEWS
    render_size: int = RELEASED_RENDER_SIZE
    selection_resolution: int = RELEASED_SELECTION_RESOLUTION
    atlas_resolution: int = 1024
    backend: str = "auto"


def paint_pbr_texture(
    mesh: Mesh,
    reference: np.ndarray,
    model: PaintPbrModel,
    settings: PbrPaintSettings = PbrPaintSettings(),
    *,
    device: torch.device | str = "cpu",
    progress_for: Callable[[str], Progress | None] = lambda stage: None,
) -> Mesh:
    """``mesh`` with a baked albedo ``texture`` and ``metallic_roughness`` map, painted by
    Paint 2.1 from ``reference`` ``[H, W, 3]`` (object on white, 0..1; RGBA ``[H, W, 4]``
    is pasted on white).

    A mesh that already has UVs keeps them. ``progress_for(stage)`` gives the
    :class:`Progress` of each long stage ("painting views", "albedo",
    "metallic-roughness"), or None.
    """
    if mesh.is_empty:
        raise ValueError("The mesh has no faces, so there is nothing to texture; check the input mesh.")
    device = torch.device(device)
    if mesh.uvs is None:
        mesh = unwrap_uv(mesh, options=UnwrapOptions(resolution=settings.atlas_resolution))
    cameras, maps = select_and_render_views(
        mesh, max_views=settings.max_views, view_size=settings.view_size, render_size=settings.render_size,
        selection_resolution=settings.selection_resolution, backend=settings.backend, device=device,
    )
    image = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32))
    views = paint_pbr_views(
        model, image, maps.normal, maps.position, steps=settings.steps, guidance=settings.guidance,
        seed=settings.seed, view_size=settings.view_size, progress=progress_for("painting views"),
    )
    return bake_pbr_views(
        mesh, views.albedo, views.metallic_roughness, cameras, texture_size=settings.texture_size,
        render_size=settings.render_size, backend=settings.backend, device=device, progress_for=progress_for,
    )


def select_and_render_views(
    mesh: Mesh,
    *,
    max_views: int = RELEASED_DEFAULT_VIEWS,
    view_size: int = RELEASED_VIEW_SIZE,
    render_size: int = RELEASED_RENDER_SIZE,
    selection_resolution: int = RELEASED_SELECTION_RESOLUTION,
    backend: str = "auto",
    device: torch.device | str = "cpu",
) -> tuple[CameraSet, ConditionMaps]:
    """The geometry side of Paint 2.1 for ``mesh``: the release's view selection (its
    bake weights on the cameras) and the normal and position maps of those views at
    ``view_size``, as the model reads them."""
    device = torch.device(device)
    rasterizer = get_rasterizer(backend, device)
    vertices, faces, _ = mesh_in_render_frame(mesh, device)
    cameras = select_bake_views(vertices, faces, max_views, resolution=selection_resolution,
                                rasterizer=rasterizer)
    maps = render_pbr_condition_maps(vertices, faces, cameras, view_size, render_size=render_size,
                                     rasterizer=rasterizer)
    return cameras, maps
