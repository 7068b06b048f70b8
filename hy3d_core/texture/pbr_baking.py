"""Bake Paint 2.1's two materials, albedo and metallic-roughness, into one mesh's UVs.

The release (``textureGenPipeline``) bakes each material separately with the same
views and cameras: each view optionally upscaled (RealESRGAN x4), resized to
``render_size`` (2048), back-projected with weight ``view_weight * cos^bake_exp``
(``bake_exp`` 4), merged, then inpainted
(docs/release_conventions_2_1.md, section 20). Here :func:`bake_views` and
:func:`inpaint_texture` do the back-projection and the filling for each material, so
both textures share every convention of the Paint 2.0 texture (see those modules for
where they deliberately differ from the release). One more difference is 2.1's own:
its renderer shades per face, so its ``cos`` is the triangle's normal against the view
axis, where the baker here uses smooth normals on the welded surface (2.0's choice,
which avoids faceting in the weights on coarse meshes).

The upscaler is a hook: a callable taking and returning views ``[V, H, W, 3]`` float
0..1 (ComfyUI's IMAGE layout), which the ComfyUI node fills with a core
``UPSCALE_MODEL``; this library ships no upscaler weights. Without one the views are
only resized (bicubic, as PIL's default that the release uses).

Defaults: ``render_size`` 2048 as released; ``texture_size`` 2048, the size the
release exports (it bakes at 4096 and halves on export; baking at 2048 directly costs a
quarter of the memory and time, and 4096 is one argument away).

The metallic-roughness views hold metallic in R and roughness in G (B is unused), the
model's layout; all three channels are baked, and the mesh keeps (R, G) as its
``metallic_roughness`` map (docs/release_conventions_2_1.md, section 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..geometry.mesh import Mesh
from ..render.cameras import CameraSet
from ..render.pbr_condition_maps import RELEASED_RENDER_SIZE
from ..sampling.progress import Progress
from .baking import RELEASED_COS_POWER, RELEASED_MAX_ANGLE, bake_views
from .inpainting import inpaint_texture
from .surface_topology import check_texture_size

DEFAULT_TEXTURE_SIZE = 2048
MATERIALS = ("albedo", "metallic-roughness")

UpscaleHook = Callable[[torch.Tensor], torch.Tensor]
"""Views ``[V, H, W, 3]`` float 0..1 in, larger views of the same layout out."""


def _as_view_tensor(views, name: str) -> torch.Tensor:
    views = torch.as_tensor(views if isinstance(views, torch.Tensor) else np.asarray(views))
    if views.ndim != 4 or views.shape[-1] != 3:
        raise ValueError(f"{name} must be RGB images [V, H, W, 3], got {list(views.shape)}.")
    if not views.dtype.is_floating_point:
        raise ValueError(f"{name} must be float images in 0..1, got dtype {views.dtype}.")
    return views.to(torch.float32)


def prepare_views(views: torch.Tensor, render_size: int, upscale: UpscaleHook | None = None,
                  name: str = "views") -> torch.Tensor:
    """``views`` ``[V, H, W, 3]`` upscaled by the hook (when given), then resized to
    ``render_size`` square with bicubic filtering and clamped to 0..1."""
    views = _as_view_tensor(views, name)
    if upscale is not None:
        count = views.shape[0]
        views = _as_view_tensor(upscale(views), f"the upscaler's {name}")
        if views.shape[0] != count:
            raise ValueError(
                f"The upscaler returned {views.shape[0]} {name} for {count}; it must map "
                "every view to one larger view, in order."
            )
    if tuple(views.shape[1:3]) != (render_size, render_size):
        views = F.interpolate(views.permute(0, 3, 1, 2), size=(render_size, render_size),
                              mode="bicubic", align_corners=False, antialias=True)
        views = views.permute(0, 2, 3, 1)
    return views.clamp(0.0, 1.0).contiguous()


@dataclass(frozen=True, eq=False)
class PbrBake:
    """Both materials baked, not yet inpainted: ``mesh`` carries the albedo ``texture``
    and the (R, G) ``metallic_roughness`` map, 0 where no view painted; ``covered``
    ``[T, T]`` marks the texels some view painted (one mask for both maps: they are baked
    with the same cameras, weights and geometry)."""

    mesh: Mesh
    covered: np.ndarray


def bake_pbr_materials(
    mesh: Mesh,
    albedo_views,
    mr_views,
    cameras: CameraSet,
    *,
    texture_size: int = DEFAULT_TEXTURE_SIZE,
    render_size: int = RELEASED_RENDER_SIZE,
    upscale: UpscaleHook | None = None,
    cos_power: float = RELEASED_COS_POWER,
    max_angle: float = RELEASED_MAX_ANGLE,
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress_for: Callable[[str], Progress | None] = lambda stage: None,
) -> PbrBake:
    """The bake half of :func:`bake_pbr_views`, for callers that inpaint later (the
    ComfyUI graph bakes and inpaints in two nodes, as for Paint 2.0)."""
    if mesh.uvs is None:
        raise ValueError("The mesh has no UVs to bake into; unwrap it first (unwrap_uv).")
    check_texture_size(texture_size)
    if render_size < 8:
        raise ValueError(f"render_size must be at least 8 pixels, got {render_size}.")
    # both checked before the first (long) bake starts
    materials = {}
    for material, views in zip(MATERIALS, (albedo_views, mr_views)):
        views = _as_view_tensor(views, f"{material} views")
        if views.shape[0] != len(cameras):
            raise ValueError(
                f"There are {views.shape[0]} {material} views but {len(cameras)} cameras; "
                "give one view per camera, in the cameras' order."
            )
        materials[material] = views
    baked = {}
    for material in MATERIALS:
        views = prepare_views(materials.pop(material), render_size, upscale, f"{material} views")
        baked[material] = bake_views(mesh, views, cameras, texture_size=texture_size, cos_power=cos_power,
                                     max_angle=max_angle, backend=backend, device=device,
                                     progress=progress_for(material))
        del views
    albedo, metallic_roughness = baked["albedo"], baked["metallic-roughness"]
    return PbrBake(mesh.with_texture(albedo.texture, metallic_roughness=metallic_roughness.texture[..., :2]),
                   albedo.covered)


def inpaint_pbr_maps(
    mesh: Mesh,
    covered: np.ndarray,
    *,
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress_for: Callable[[str], Progress | None] = lambda stage: None,
) -> Mesh:
    """``mesh`` with its ``texture`` and, when it has one, its ``metallic_roughness`` map
    filled outside ``covered`` ``[T, T]`` (:func:`inpaint_texture`, each channel on its own)."""
    if mesh.texture is None:
        raise ValueError("The mesh has no texture to inpaint; bake one first.")
    albedo = inpaint_texture(mesh, mesh.texture, covered, backend=backend, device=device,
                             progress=progress_for("albedo"))
    metallic_roughness = None
    if mesh.metallic_roughness is not None:
        two = mesh.metallic_roughness
        padded = np.concatenate([two, np.zeros_like(two[..., :1])], axis=-1)
        metallic_roughness = inpaint_texture(mesh, padded, covered, backend=backend, device=device,
                                             progress=progress_for("metallic-roughness"))[..., :2]
    return mesh.with_texture(albedo, metallic_roughness=metallic_roughness)


def bake_pbr_views(
    mesh: Mesh,
    albedo_views,
    mr_views,
    cameras: CameraSet,
    *,
    texture_size: int = DEFAULT_TEXTURE_SIZE,
    render_size: int = RELEASED_RENDER_SIZE,
    upscale: UpscaleHook | None = None,
    cos_power: float = RELEASED_COS_POWER,
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress_for: Callable[[str], Progress | None] = lambda stage: None,
) -> Mesh:
    """``mesh`` (with UVs) carrying the baked, inpainted ``texture`` and
    ``metallic_roughness`` maps, both ``texture_size`` square.

    ``albedo_views`` and ``mr_views`` ``[V, H, W, 3]`` (float 0..1, torch or numpy, rows
    top to bottom) are the Paint model's outputs for ``cameras`` (whose weights are the
    bake weights, e.g. from ``select_bake_views``). ``progress_for(material)`` gives the
    :class:`Progress` of each material's bake ("albedo", "metallic-roughness"), or None.
    """
    bake = bake_pbr_materials(mesh, albedo_views, mr_views, cameras, texture_size=texture_size,
                              render_size=render_size, upscale=upscale, cos_power=cos_power,
                              backend=backend, device=device, progress_for=progress_for)
    return inpaint_pbr_maps(bake.mesh, bake.covered, backend=backend, device=device)
