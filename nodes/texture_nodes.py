"""The texture stages without learned models: UV unwrap, geometry maps (Paint 2.0's, or
Paint 2.1's with its view selection), baking views into a UV texture (and a
metallic-roughness map), inpainting what no view saw, and projecting the reference image.

Texturing works on one mesh at a time (a MESH batch of one): the camera set, the views
and the texture all belong to that one mesh. Rendering and baking run on ComfyUI's
device; results handed on live on the CPU.
"""

from __future__ import annotations

import numpy as np
import torch

from .comfy_formats import mask_to_opacity
from ..hy3d_core.geometry.mesh import Mesh
from ..hy3d_core.render.cameras import PRESETS, CameraSet, camera_preset, orbit_cameras
from ..hy3d_core.render.geometry_maps import render_geometry_maps
from ..hy3d_core.render.normalization import mesh_in_render_frame
from ..hy3d_core.render.rasterizer import RASTERIZER_NAMES, get_rasterizer
from ..hy3d_core.texture.baking import RELEASED_COS_POWER, RELEASED_MAX_ANGLE, bake_views
from ..hy3d_core.pipelines.paint import RELEASED_TEXTURE_SIZE
from ..hy3d_core.pipelines.paint_pbr import select_and_render_views
from ..hy3d_core.render.pbr_condition_maps import RELEASED_RENDER_SIZE as RELEASED_PBR_RENDER_SIZE
from ..hy3d_core.render.view_selection import (
    RELEASED_CANDIDATE_AZIMUTHS,
    RELEASED_DEFAULT_VIEWS,
    RELEASED_SELECTION_RESOLUTION,
)
from ..hy3d_core.sampling.progress import Progress
from ..hy3d_core.texture.pbr_baking import (
    PbrBake,
    UpscaleHook,
    bake_pbr_materials,
    inpaint_pbr_maps,
    prepare_views,
)
from ..hy3d_core.sampling.paint_sampling import RELEASED_VIEW_SIZE
from ..hy3d_core.texture.projection import RELEASED_RENDER_SIZE, project_texture_detailed
from ..hy3d_core.texture.surface_topology import MAX_TEXTURE_SIZE, MIN_TEXTURE_SIZE
from ..hy3d_core.texture.uv_unwrap import UnwrapOptions, unwrap_uv
from .comfy_runtime import offload_device, run_interruptible, torch_device
from .image_nodes import BACKGROUND_IS_ONE, MASK_CONVENTIONS, OBJECT_IS_ONE
from .node_types import CAMERAS, H3DMesh, as_meshes, on_intermediate_device

CATEGORY = "Hunyuan3D/texture"
PRESET_NAME = "hunyuan3d-6view"
CUSTOM = "custom"
CAMERA_CHOICES = [*PRESETS, CUSTOM]
_RELEASED = PRESETS[PRESET_NAME]
# What both map renderers give Paint Multi-View and Bake Texture (one path for 2.0 and 2.1).
MAPS_TYPES = ("IMAGE", "IMAGE", CAMERAS)
MAPS_NAMES = ("normal_maps", "position_maps", "cameras")

_BACKEND_TOOLTIP = (
    "Rasterizer. auto: nvdiffrast on a CUDA device when installed (pip install "
    "diffrp-nvdiffrast), else the built-in PyTorch one (any device, nothing to compile)."
)
_TEXTURE_SIZE_TOOLTIP = (
    f"Texture width and height in texels ({MIN_TEXTURE_SIZE}..{MAX_TEXTURE_SIZE}; release: 2048)."
)


def _numbers(name: str, text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.replace(";", ",").split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"{name} must be numbers separated by commas, e.g. '0, 90, 180', got {text!r}."
        ) from None


def _one_mesh(mesh) -> Mesh:
    meshes = as_meshes(mesh)
    if len(meshes) != 1:
        raise ValueError(
            f"Texturing takes one mesh at a time, got a batch of {len(meshes)}; texture each "
            "mesh in its own branch of the graph."
        )
    return meshes[0]


def _texture_image(texture: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(texture, dtype=np.float32))[None]


class UnwrapUV:
    DESCRIPTION = (
        "Cuts the surface into charts and lays them out in one square UV atlas with xatlas, as "
        "the release does, so a texture can be baked onto it. Vertices on chart seams are split."
    )
    CATEGORY = CATEGORY
    FUNCTION = "unwrap"
    RETURN_TYPES = ("MESH",)
    RETURN_NAMES = ("mesh",)
    OUTPUT_TOOLTIPS = ("The meshes with UVs (an old texture is dropped unless its UVs are kept).",)

    @classmethod
    def INPUT_TYPES(cls):
        defaults = UnwrapOptions()
        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "Any MESH, ours or ComfyUI's."}),
                "atlas_resolution": ("INT", {"default": defaults.resolution, "min": 0, "max": 16384,
                                             "step": 64,
                                             "tooltip": "Texels the charts are laid out for; use about "
                                                        "half the texture size (0: xatlas chooses)."}),
                "padding": ("INT", {"default": defaults.padding, "min": 0, "max": 64,
                                    "tooltip": "Extra empty texels around each chart, so inpainting can "
                                               "bleed colour past chart borders."}),
                "keep_existing_uvs": ("BOOLEAN", {"default": False,
                                                  "tooltip": "Leave a mesh that already has UVs (and "
                                                             "its texture) as it is."}),
            }
        }

    def unwrap(self, mesh, atlas_resolution: int, padding: int, keep_existing_uvs: bool):
        options = UnwrapOptions(resolution=atlas_resolution, padding=padding)
        meshes = as_meshes(mesh)
        unwrapped = run_interruptible(lambda progress: [
            unwrap_uv(item, options=options, keep_existing=keep_existing_uvs, progress=progress)
            for item in meshes
        ])
        return (H3DMesh.of(unwrapped),)


class RenderGeometryMaps:
    DESCRIPTION = (
        "Renders the mesh's normal and position maps from the Paint model's cameras (the "
        "release's six views by default), in the release's frame and colours: what Paint "
        "Multi-View is conditioned on. The cameras go on to Paint Multi-View and Bake Texture."
    )
    CATEGORY = CATEGORY
    FUNCTION = "render"
    RETURN_TYPES = MAPS_TYPES
    RETURN_NAMES = MAPS_NAMES
    OUTPUT_TOOLTIPS = (
        "World-space normals as (n + 1) / 2 on white, one image per camera.",
        "Positions as 0.5 - v / 1.15 on white, one image per camera.",
        "The camera set, for Paint Multi-View and Bake Texture.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        def listed(values):
            return ", ".join(f"{value:g}" for value in values)

        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "One mesh (with or without UVs)."}),
                "camera_preset": (CAMERA_CHOICES, {"default": PRESET_NAME,
                                                   "tooltip": "hunyuan3d-6view: the release's views "
                                                              "(front, right, back, left, top, bottom); "
                                                              "custom: the angles below."}),
                "azimuths": ("STRING", {"default": listed(_RELEASED["azimuths"]),
                                        "tooltip": "custom only: azimuth of each view in degrees, comma "
                                                   "separated (multiples of 30 for Paint)."}),
                "elevations": ("STRING", {"default": listed(_RELEASED["elevations"]),
                                          "tooltip": "custom only: elevation of each view in degrees "
                                                     "(Paint knows -90, -20, 0, 20, 90)."}),
                "weights": ("STRING", {"default": listed(_RELEASED["weights"]),
                                       "tooltip": "custom only: how much each view counts when baking "
                                                  "(the release weighs the front 1, the back 0.5)."}),
                "size": ("INT", {"default": RELEASED_VIEW_SIZE, "min": 64, "max": 4096, "step": 8,
                                 "tooltip": "Pixels per side (Paint works at 512)."}),
                "backend": (list(RASTERIZER_NAMES), {"default": "auto", "tooltip": _BACKEND_TOOLTIP}),
            }
        }

    def render(self, mesh, camera_preset: str, azimuths: str, elevations: str, weights: str,
               size: int, backend: str):
        cameras = _cameras(camera_preset, azimuths, elevations, weights)
        item = _one_mesh(mesh)
        device = torch_device("auto")
        vertices, faces, _ = mesh_in_render_frame(item, device)
        maps = render_geometry_maps(vertices, faces, cameras, size, get_rasterizer(backend, device))
        return (on_intermediate_device(maps.normal), on_intermediate_device(maps.position), cameras)


class RenderPbrConditionMaps:
    DESCRIPTION = (
        "Paint 2.1's geometry side: picks the cameras as the release does (its six views, then "
        "up to max_views with those of 24 more candidates at +-20 degrees that see the most "
        "surface no kept view sees) and renders the normal and position maps as Paint 2.1 reads "
        "them (per-face normals, rendered at render_size and shrunk to view_size). The same "
        "outputs as Render Geometry Maps: the maps go to Paint Multi-View, the cameras (with the "
        "release's bake weights) to Paint Multi-View and Bake Texture."
    )
    CATEGORY = CATEGORY
    FUNCTION = "render"
    RETURN_TYPES = MAPS_TYPES
    RETURN_NAMES = MAPS_NAMES
    OUTPUT_TOOLTIPS = (
        "Per-face world-space normals as (n + 1) / 2 on white, one image per selected camera.",
        "Positions as 0.5 - v / 1.15 on white, one image per selected camera.",
        "The selected cameras, for Paint Multi-View and Bake Texture.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "One mesh (with or without UVs)."}),
                "max_views": ("INT", {"default": RELEASED_DEFAULT_VIEWS, "min": RELEASED_DEFAULT_VIEWS,
                                      "max": len(RELEASED_CANDIDATE_AZIMUTHS),
                                      "tooltip": "Most views to paint (release: 6; it says 6 to 9 work). "
                                                 "More views see more of the surface and cost time."}),
                "view_size": ("INT", {"default": RELEASED_VIEW_SIZE, "min": 16, "max": 2048, "step": 8,
                                      "tooltip": "Pixels per side of the maps, the size Paint Multi-View "
                                                 "paints at (Paint 2.1 works at 512 or 768)."}),
                "render_size": ("INT", {"default": RELEASED_PBR_RENDER_SIZE, "min": 16, "max": 8192, "step": 8,
                                        "tooltip": "Pixels the maps are rendered at before shrinking to "
                                                   "view_size (release: 2048; at least view_size)."}),
                "selection_resolution": ("INT", {"default": RELEASED_SELECTION_RESOLUTION, "min": 16,
                                                 "max": 4096, "step": 8,
                                                 "tooltip": "Pixels the candidate views are rendered at to "
                                                            "choose them (release: 1024)."}),
                "backend": (list(RASTERIZER_NAMES), {"default": "auto", "tooltip": _BACKEND_TOOLTIP}),
            }
        }

    def render(self, mesh, max_views: int, view_size: int, render_size: int, selection_resolution: int,
               backend: str):
        cameras, maps = select_and_render_views(
            _one_mesh(mesh), max_views=max_views, view_size=view_size, render_size=render_size,
            selection_resolution=selection_resolution, backend=backend, device=torch_device("auto"),
        )
        return on_intermediate_device(maps.normal), on_intermediate_device(maps.position), cameras


def _cameras(preset: str, azimuths: str, elevations: str, weights: str) -> CameraSet:
    if preset == CUSTOM:
        return orbit_cameras(_numbers("azimuths", azimuths), _numbers("elevations", elevations),
                             _numbers("weights", weights))
    if preset not in PRESETS:
        raise ValueError(f"camera_preset must be one of {', '.join(CAMERA_CHOICES)}, got {preset!r}.")
    return camera_preset(preset)


def _upscale_hook(upscale_model, device: torch.device, progress: Progress) -> UpscaleHook:
    """ComfyUI's core UPSCALE_MODEL (Load Upscale Model's, e.g. RealESRGAN x4) as the bake's
    upscaler: called as core's Upscale Image (using Model) calls it, on ``[B, 3, H, W]``
    in 0..1, one view at a time on ``device``, then moved back off it."""
    @torch.no_grad()
    def upscale(views: torch.Tensor) -> torch.Tensor:
        upscale_model.to(device)
        try:
            larger = []
            for view in views:
                progress.raise_if_cancelled()
                pixels = view.permute(2, 0, 1)[None].to(device)
                larger.append(upscale_model(pixels).float().clamp(0.0, 1.0).cpu())
        finally:
            upscale_model.to(offload_device(device))
        return torch.cat(larger).permute(0, 2, 3, 1)

    return upscale


class BakeTexture:
    DESCRIPTION = (
        "Bakes one image per camera into the mesh's UV texture with the release's weighting "
        "(view weight x cos^4 of the viewing angle, nothing beyond 75 degrees, near silhouettes "
        "or depth edges), averaging the views. With Paint 2.1's metallic_roughness views it bakes "
        "those the same way into the mesh's metallic-roughness map (a PBR material in the GLB). "
        "Texels no view saw stay black: follow with Inpaint Texture."
    )
    CATEGORY = CATEGORY
    FUNCTION = "bake"
    RETURN_TYPES = ("MESH", "IMAGE", "MASK")
    RETURN_NAMES = ("mesh", "texture", "coverage")
    OUTPUT_TOOLTIPS = (
        "The mesh with the baked texture (and metallic-roughness map when given).",
        "The texture image (T x T).",
        "1 where some view painted the texel, 0 where Inpaint Texture has to fill.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "One mesh with UVs (Unwrap UV), the one the cameras rendered."}),
                "views": ("IMAGE", {"tooltip": "One image per camera, in the cameras' order (Paint "
                                               "Multi-View's output)."}),
                "cameras": (CAMERAS, {"tooltip": "From the node that rendered the maps (Render Geometry "
                                                 "Maps or Render PBR Condition Maps)."}),
                "texture_size": ("INT", {"default": RELEASED_TEXTURE_SIZE, "min": MIN_TEXTURE_SIZE, "max": MAX_TEXTURE_SIZE,
                                         "step": 64, "tooltip": _TEXTURE_SIZE_TOOLTIP}),
                "max_angle": ("FLOAT", {"default": RELEASED_MAX_ANGLE, "min": 1.0, "max": 90.0, "step": 1.0,
                                        "tooltip": "A view paints no surface seen more obliquely than "
                                                   "this (degrees; release: 75)."}),
                "cos_power": ("FLOAT", {"default": RELEASED_COS_POWER, "min": 0.0, "max": 16.0, "step": 0.5,
                                        "tooltip": "Views are weighted by cos(angle) to this power "
                                                   "(release: 4): higher favours head-on views."}),
                "backend": (list(RASTERIZER_NAMES), {"default": "auto", "tooltip": _BACKEND_TOOLTIP}),
            },
            "optional": {
                "metallic_roughness": ("IMAGE", {"tooltip": "Paint 2.1: Paint Multi-View's metallic_roughness "
                                                            "views (metallic in R, roughness in G). An empty "
                                                            "batch (Paint 2.0's) counts as not connected."}),
                "upscale_model": ("UPSCALE_MODEL", {"tooltip": "Optional: a model from core Load Upscale Model "
                                                               "(the release uses RealESRGAN x4) that enlarges "
                                                               "the views before they are resized to "
                                                               "render_size and baked."}),
                "render_size": ("INT", {"default": RELEASED_PBR_RENDER_SIZE, "min": 16, "max": 8192, "step": 8,
                                        "tooltip": "With metallic_roughness or an upscale model: the views "
                                                   "are resized (bicubic) to this before baking (release: "
                                                   "2048). Otherwise the views are baked at their own size."}),
            },
        }

    def bake(self, mesh, views: torch.Tensor, cameras: CameraSet, texture_size: int, max_angle: float,
             cos_power: float, backend: str, metallic_roughness: torch.Tensor | None = None,
             upscale_model=None, render_size: int | None = None):
        render_size = RELEASED_PBR_RENDER_SIZE if render_size is None else render_size
        item = _one_mesh(mesh)
        if item.uvs is None:
            raise ValueError("The mesh has no UVs: put Unwrap UV before Bake Texture.")
        _check_views("view images", views, cameras)
        if metallic_roughness is not None and metallic_roughness.shape[0] == 0:
            metallic_roughness = None  # Paint 2.0's empty batch
        if metallic_roughness is not None:
            _check_views("metallic-roughness images", metallic_roughness, cameras)
        device = torch_device("auto")

        def bake(progress: Progress):
            upscale = None if upscale_model is None else _upscale_hook(upscale_model, device, progress)
            if metallic_roughness is not None:
                return bake_pbr_materials(
                    item, views[..., :3], metallic_roughness[..., :3], cameras, texture_size=texture_size,
                    render_size=render_size, upscale=upscale, cos_power=cos_power, max_angle=max_angle,
                    backend=backend, device=device, progress_for=lambda material: progress,
                )
            prepared = views[..., :3] if upscale is None else prepare_views(views[..., :3], render_size, upscale)
            result = bake_views(item, prepared, cameras, texture_size=texture_size, cos_power=cos_power,
                                max_angle=max_angle, backend=backend, device=device, progress=progress)
            return PbrBake(item.with_texture(result.texture), result.covered)

        baked = run_interruptible(bake)
        coverage = torch.from_numpy(baked.covered.astype(np.float32))[None]
        return (H3DMesh.of([baked.mesh]), _texture_image(baked.mesh.texture), coverage)


def _check_views(what: str, views: torch.Tensor, cameras: CameraSet) -> None:
    if views.ndim != 4 or views.shape[0] != len(cameras):
        raise ValueError(
            f"Got {views.shape[0] if views.ndim == 4 else 'no'} {what} for {len(cameras)} cameras; "
            "bake the images generated from the same cameras, one per camera."
        )


class InpaintTexture:
    DESCRIPTION = (
        "Fills the texels no view painted (in the texture and, for Paint 2.1, the metallic-roughness "
        "map), as the release does: colours spread over the mesh "
        "from painted neighbours, then image inpainting in UV space, then a bleed past chart "
        "borders so filtering never shows the empty background."
    )
    CATEGORY = CATEGORY
    FUNCTION = "inpaint"
    RETURN_TYPES = ("MESH", "IMAGE")
    RETURN_NAMES = ("mesh", "texture")
    OUTPUT_TOOLTIPS = ("The mesh with the filled texture.", "The filled texture image.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "One mesh with UVs and a texture (Bake Texture)."}),
            },
            "optional": {
                "coverage": ("MASK", {"tooltip": "1 on texels to keep (Bake Texture's coverage). "
                                                 "Without it, pure black texels are filled."}),
            },
        }

    def inpaint(self, mesh, coverage: torch.Tensor | None = None):
        item = _one_mesh(mesh)
        if item.uvs is None or item.texture is None:
            raise ValueError("The mesh has no texture to inpaint: connect Bake Texture's mesh.")
        texture = item.texture
        if coverage is None:
            known = texture.max(axis=2) > 0
        else:
            masks = coverage if coverage.ndim == 3 else coverage[None]
            if masks.shape[0] != 1 or tuple(masks.shape[1:]) != texture.shape[:2]:
                raise ValueError(
                    f"The coverage mask is {list(masks.shape)} but the texture is {texture.shape[1]}x"
                    f"{texture.shape[0]}; connect the coverage from the Bake Texture that made it."
                )
            known = masks[0].detach().cpu().numpy() > 0.5
        device = torch_device("auto")
        filled = run_interruptible(lambda progress: inpaint_pbr_maps(
            item, known, device=device, progress_for=lambda material: progress
        ))
        return (H3DMesh.of([filled]), _texture_image(filled.texture))


class ProjectTexture:
    DESCRIPTION = (
        "Textures the mesh without any texture model: the reference image is projected as the "
        "front view, or from the orbit pose given (the image is fitted onto the mesh's "
        "silhouette from there), baked with the "
        "release's weighting and inpainted. Needs the mesh facing +z with +y up, as the shape "
        "stage outputs it. Unwraps UVs when the mesh has none."
    )
    CATEGORY = CATEGORY
    FUNCTION = "project"
    RETURN_TYPES = ("MESH", "IMAGE", "MASK")
    RETURN_NAMES = ("mesh", "texture", "coverage")
    OUTPUT_TOOLTIPS = (
        "The textured mesh (inpainted).",
        "The texture image.",
        "1 on texels the image painted, 0 on those inpainted.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "One mesh, best with UVs from Unwrap UV."}),
                "image": ("IMAGE", {"tooltip": "The reference image of the front (one image)."}),
                "texture_size": ("INT", {"default": RELEASED_TEXTURE_SIZE, "min": MIN_TEXTURE_SIZE, "max": MAX_TEXTURE_SIZE,
                                         "step": 64, "tooltip": _TEXTURE_SIZE_TOOLTIP}),
                "render_size": ("INT", {"default": RELEASED_RENDER_SIZE, "min": 64, "max": 8192, "step": 64,
                                        "tooltip": "Pixels the image is projected at (release: 2048)."}),
                "mask_convention": (MASK_CONVENTIONS, {"default": OBJECT_IS_ONE,
                                                       "tooltip": "What the connected MASK marks with 1 "
                                                                  "(LoadImage's mask marks the background)."}),
                "backend": (list(RASTERIZER_NAMES), {"default": "auto", "tooltip": _BACKEND_TOOLTIP}),
                "image_azimuth": ("FLOAT", {"default": 0.0, "min": -180.0, "max": 180.0, "step": 1.0,
                                            "tooltip": "Azimuth the image was taken from, in degrees: 0 "
                                                       "(the front) for Hunyuan3D 2.0, whose meshes face "
                                                       "the image; 30 for the demo model."}),
                "image_elevation": ("FLOAT", {"default": 0.0, "min": -89.0, "max": 89.0, "step": 1.0,
                                              "tooltip": "Elevation the image was taken from, in degrees "
                                                         "(0 for Hunyuan3D 2.0; 20 for the demo model)."}),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "The object's cut-out (Remove Background); without it the "
                                             "image is cut out by its colours."}),
            },
        }

    def project(self, mesh, image: torch.Tensor, texture_size: int, render_size: int, mask_convention: str,
                backend: str, image_azimuth: float, image_elevation: float,
                mask: torch.Tensor | None = None):
        item = _one_mesh(mesh)
        if image.ndim != 4 or image.shape[0] != 1:
            raise ValueError(f"Project Texture takes one reference IMAGE, got shape {list(image.shape)}.")
        pixels = image[0, ..., :3].detach().cpu().float().numpy()
        opacity = None
        if mask is not None:
            masks = mask if mask.ndim == 3 else mask[None]
            opacity = mask_to_opacity(masks[0], pixels.shape[0], pixels.shape[1],
                                      background_is_one=mask_convention == BACKGROUND_IS_ONE)
        device = torch_device("auto")
        result = run_interruptible(lambda progress: project_texture_detailed(
            item, pixels, mask=opacity, image_view=(image_azimuth, image_elevation),
            texture_size=texture_size, render_size=render_size, backend=backend, device=device,
            progress=progress,
        ))
        coverage = torch.from_numpy(result.bake.covered.astype(np.float32))[None]
        return (H3DMesh.of([result.mesh]), _texture_image(result.mesh.texture), coverage)


NODE_CLASS_MAPPINGS = {
    "H3DUnwrapUV": UnwrapUV,
    "H3DRenderGeometryMaps": RenderGeometryMaps,
    "H3DRenderPbrConditionMaps": RenderPbrConditionMaps,
    "H3DBakeTexture": BakeTexture,
    "H3DInpaintTexture": InpaintTexture,
    "H3DProjectTexture": ProjectTexture,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "H3DUnwrapUV": "Hunyuan3D Unwrap UV",
    "H3DRenderGeometryMaps": "Hunyuan3D Render Geometry Maps",
    "H3DRenderPbrConditionMaps": "Hunyuan3D Render PBR Condition Maps (Paint 2.1)",
    "H3DBakeTexture": "Hunyuan3D Bake Texture",
    "H3DInpaintTexture": "Hunyuan3D Inpaint Texture",
    "H3DProjectTexture": "Hunyuan3D Project Texture",
}
