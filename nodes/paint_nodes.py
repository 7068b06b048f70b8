"""Hunyuan3D-Paint as nodes: load Paint (2.0, or 2.1 PBR with its DINOv2) and Delight,
remove lighting from the reference, generate one image per camera from the reference and
the geometry maps (2.1: an albedo and a metallic-roughness image per camera).

The models are diffusers folders from ``tencent/Hunyuan3D-2`` (Paint 2.0, Delight) and
``tencent/Hunyuan3D-2.1`` (Paint PBR); they are looked for under ``models/hunyuan3d/`` by
their released folder names, also inside a downloaded copy of the whole repository
(``models/hunyuan3d/Hunyuan3D-2/hunyuan3d-paint-v2-0``). Which Paint a folder holds is
read from its weights (``hy3d_core/io/paint_family.py``), so one loader serves both.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .comfy_formats import mask_to_opacity
from ..hy3d_core.io.delight_checkpoints import load_delight_pipeline
from ..hy3d_core.io.paint_checkpoints import load_paint_model
from ..hy3d_core.io.paint_family import PAINT_20, PAINT_PBR_21, paint_family
from ..hy3d_core.io.paint_pbr_checkpoints import DINO_REPO, load_paint_pbr_model, locate_dino_folder
from ..hy3d_core.models.paint_model import PaintModel, PaintPbrModel
from ..hy3d_core.render.cameras import CameraSet
from ..hy3d_core.sampling.paint_pbr_sampling import (
    RELEASED_GUIDANCE as RELEASED_PBR_GUIDANCE,
    RELEASED_STEPS as RELEASED_PBR_STEPS,
    paint_pbr_views,
)
from ..hy3d_core.sampling.paint_sampling import (
    RELEASED_GUIDANCE,
    RELEASED_STEPS,
    RELEASED_VIEW_SIZE,
    sample_paint_views,
)
from ..hy3d_core.texture.delight import (
    RELEASED_IMAGE_GUIDANCE,
    RELEASED_SEED,
    RELEASED_SIZE,
    RELEASED_STEPS as RELEASED_DELIGHT_STEPS,
    RELEASED_TEXT_GUIDANCE,
    delight_image,
)
from . import model_cache
from .comfy_runtime import (
    AUTO_DTYPE_RULE,
    DEVICE_CHOICES,
    DTYPE_CHOICES,
    in_use,
    load_parked,
    models_dir,
    run_interruptible,
    torch_device,
    torch_dtype,
)
from .image_nodes import BACKGROUND_IS_ONE, MASK_CONVENTIONS, OBJECT_IS_ONE
from .model_files import (
    AUTO_DINO,
    diffusers_folder_choices,
    dino_folder_choices,
    resolve_diffusers_folder,
    resolve_dino_folder,
    where_folder_goes,
)
from .node_types import CAMERAS, DELIGHT_MODEL, PAINT_MODEL, on_intermediate_device
from .shape_nodes import MAX_SEED

CATEGORY = "Hunyuan3D/texture"
LOADER_CATEGORY = "Hunyuan3D/loaders"
PAINT_PREFIXES = (PAINT_20, PAINT_PBR_21)
DELIGHT_PREFIX = "hunyuan3d-delight-v2-0"
NO_PAINT_FOUND = "(no Hunyuan3D-Paint folder found)"
NO_DELIGHT_FOUND = "(no Hunyuan3D-Delight folder found)"


def _signature(name: str, prefix: str | tuple[str, ...], needs_unet: bool, nothing: str) -> tuple | str:
    try:
        folder = resolve_diffusers_folder(name, prefix, needs_unet, nothing)
    except FileNotFoundError:
        return name
    return tuple(model_cache.file_signature(part) for part in (folder, folder / "unet") if part.is_dir())


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


_DEVICE_TOOLTIP = "Where the networks run. auto: ComfyUI's device (else CUDA, Apple MPS, then CPU)."
_DTYPE_TOOLTIP = f"Precision. {AUTO_DTYPE_RULE}."


def _paint_networks(model: PaintModel | PaintPbrModel) -> tuple[torch.nn.Module, ...]:
    if isinstance(model, PaintPbrModel):
        return model.unet, model.vae, model.dino
    return model.unet, model.vae


def _dino_folder(paint_folder: Path, choice: str | None) -> Path:
    """The DINOv2 folder a Paint 2.1 folder is loaded with: the chosen one, else the one
    found beside the paint folder or in models/hunyuan3d/ (a one-line error when none)."""
    return locate_dino_folder(paint_folder, resolve_dino_folder(choice or AUTO_DINO), models_dir())


def _delight_networks(pipeline) -> tuple[torch.nn.Module, ...]:
    return pipeline.unet, pipeline.vae, pipeline.text_encoder


class LoadPaintModel:
    DESCRIPTION = (
        "Loads Hunyuan3D-Paint from its folder; which release it is comes from the weights. "
        "2.0 (hunyuan3d-paint-v2-0): the multiview UNet and its SD VAE. 2.1 PBR "
        "(hunyuan3d-paintpbr-v2-1): the UNet that paints albedo and metallic-roughness, its VAE "
        f"and the DINOv2-giant image encoder it needs ({DINO_REPO}, put at "
        "ComfyUI/models/hunyuan3d/dinov2-giant/ or beside the paint folder). " + where_folder_goes(PAINT_PREFIXES)
    )
    CATEGORY = LOADER_CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (PAINT_MODEL,)
    RETURN_NAMES = ("paint_model",)
    OUTPUT_TOOLTIPS = ("The Paint model (2.0 or 2.1 PBR), for Paint Multi-View.",)

    @classmethod
    def INPUT_TYPES(cls):
        choices = diffusers_folder_choices(PAINT_PREFIXES, True, NO_PAINT_FOUND)
        return {
            "required": {
                "folder": (choices, {"default": choices[0],
                                     "tooltip": "A hunyuan3d-paint-v2-0* or hunyuan3d-paintpbr-v2-1* folder in "
                                                "models/hunyuan3d/ (unet/, vae/, scheduler/, model_index.json)."}),
                "dtype": (DTYPE_CHOICES, {"default": "auto", "tooltip": _DTYPE_TOOLTIP}),
                "device": (DEVICE_CHOICES, {"default": "auto", "tooltip": _DEVICE_TOOLTIP}),
            },
            "optional": {
                "dino_folder": (dino_folder_choices(), {
                    "default": AUTO_DINO,
                    "tooltip": f"Paint 2.1 only: the {DINO_REPO} folder. auto: dinov2-giant beside the paint "
                               "folder, then models/hunyuan3d/dinov2-giant."}),
            },
        }

    @classmethod
    def IS_CHANGED(cls, folder, dtype, device, dino_folder=None):
        return _signature(folder, PAINT_PREFIXES, True, NO_PAINT_FOUND), dino_folder

    def load(self, folder: str, dtype: str, device: str, dino_folder: str | None = None):
        path = resolve_diffusers_folder(folder, PAINT_PREFIXES, True, NO_PAINT_FOUND)
        chosen_device = torch_device(device)
        chosen_dtype = torch_dtype(dtype, chosen_device)
        size = _folder_bytes(path / "unet") + _folder_bytes(path / "vae")
        dino = None
        if paint_family(path) == PAINT_PBR_21:
            dino = _dino_folder(path, dino_folder)  # before any weights load
            size += _folder_bytes(dino)

        def load_model() -> PaintModel | PaintPbrModel:
            def load(device: torch.device) -> PaintModel | PaintPbrModel:
                if dino is None:
                    return load_paint_model(path, device=device, dtype=chosen_dtype)
                return load_paint_pbr_model(path, dino_folder=dino, device=device, dtype=chosen_dtype)

            return load_parked(chosen_device, size, load, _paint_networks)

        key = ("paint model", str(path.resolve()), _signature(folder, PAINT_PREFIXES, True, NO_PAINT_FOUND),
               None if dino is None else str(dino.resolve()), str(chosen_device), chosen_dtype)
        return (model_cache.cached(key, load_model),)


class LoadDelightModel:
    DESCRIPTION = (
        "Loads Hunyuan3D-Delight 2.0, the InstructPix2Pix model that removes lighting and "
        "shadows from the reference before Paint copies its colours. " + where_folder_goes(DELIGHT_PREFIX)
    )
    CATEGORY = LOADER_CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (DELIGHT_MODEL,)
    RETURN_NAMES = ("delight_model",)
    OUTPUT_TOOLTIPS = ("The Delight pipeline, for Delight Image.",)

    @classmethod
    def INPUT_TYPES(cls):
        choices = diffusers_folder_choices(DELIGHT_PREFIX, False, NO_DELIGHT_FOUND)
        return {
            "required": {
                "folder": (choices, {"default": choices[0],
                                     "tooltip": "A hunyuan3d-delight-v2-0* folder in models/hunyuan3d/ "
                                                "(diffusers layout)."}),
                "dtype": (DTYPE_CHOICES, {"default": "auto", "tooltip": _DTYPE_TOOLTIP}),
                "device": (DEVICE_CHOICES, {"default": "auto", "tooltip": _DEVICE_TOOLTIP}),
            }
        }

    @classmethod
    def IS_CHANGED(cls, folder, dtype, device):
        return _signature(folder, DELIGHT_PREFIX, False, NO_DELIGHT_FOUND)

    def load(self, folder: str, dtype: str, device: str):
        path = resolve_diffusers_folder(folder, DELIGHT_PREFIX, False, NO_DELIGHT_FOUND)
        chosen_device = torch_device(device)
        chosen_dtype = torch_dtype(dtype, chosen_device)

        def load_pipeline():
            return load_parked(
                chosen_device, _folder_bytes(path),
                lambda device: load_delight_pipeline(path, device=device, dtype=chosen_dtype),
                _delight_networks,
            )

        key = ("delight model", str(path.resolve()), _signature(folder, DELIGHT_PREFIX, False, NO_DELIGHT_FOUND),
               str(chosen_device), chosen_dtype)
        return (model_cache.cached(key, load_pipeline),)


class DelightImage:
    DESCRIPTION = (
        "Removes baked-in lighting (highlights, shadows) from the reference with Hunyuan3D-Delight, "
        "with the release's settings, and re-matches its colours to the input. The object is "
        "put on white using the mask."
    )
    CATEGORY = CATEGORY
    FUNCTION = "delight"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The unlit image (size x size), object on white; Paint Multi-View's reference.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "delight_model": (DELIGHT_MODEL, {"tooltip": "From Load Delight Model."}),
                "image": ("IMAGE", {"tooltip": "The reference, best Prepare Image's output."}),
                "seed": ("INT", {"default": RELEASED_SEED, "min": 0, "max": MAX_SEED,
                                 "control_after_generate": True, "tooltip": "Seed (release: 42)."}),
                "steps": ("INT", {"default": RELEASED_DELIGHT_STEPS, "min": 1, "max": 200,
                                  "tooltip": "Denoising steps (release: 50)."}),
                "image_guidance": ("FLOAT", {"default": RELEASED_IMAGE_GUIDANCE, "min": 0.0, "max": 20.0,
                                             "step": 0.05, "tooltip": "How closely the output follows "
                                                                      "the input image (release: 1.5)."}),
                "guidance": ("FLOAT", {"default": RELEASED_TEXT_GUIDANCE, "min": 0.0, "max": 20.0, "step": 0.05,
                                       "tooltip": "Text guidance of the empty prompt (release: 1.0)."}),
                "size": ("INT", {"default": RELEASED_SIZE, "min": 64, "max": 2048, "step": 8,
                                 "tooltip": "Working and output size in pixels (release: 512)."}),
                "mask_convention": (MASK_CONVENTIONS, {"default": OBJECT_IS_ONE,
                                                       "tooltip": "What the connected MASK marks with 1 "
                                                                  "(LoadImage's mask marks the background)."}),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "The object's mask (Prepare Image's); without it the whole "
                                             "image is the object."}),
            },
        }

    def delight(self, delight_model, image: torch.Tensor, seed: int, steps: int, image_guidance: float,
                guidance: float, size: int, mask_convention: str, mask: torch.Tensor | None = None):
        if image.ndim != 4 or image.shape[-1] not in (3, 4):
            raise ValueError(f"Expected an IMAGE [batch, height, width, 3], got shape {list(image.shape)}.")
        masks = None if mask is None else (mask if mask.ndim == 3 else mask[None])
        if masks is not None and masks.shape[0] not in (1, image.shape[0]):
            raise ValueError(f"Got {masks.shape[0]} masks for {image.shape[0]} images; give one, or one per image.")
        results = []
        with in_use(*_delight_networks(delight_model)):
            for index in range(image.shape[0]):
                alpha = None
                if masks is not None:
                    opacity = mask_to_opacity(masks[index if masks.shape[0] > 1 else 0], image.shape[1],
                                              image.shape[2],
                                              background_is_one=mask_convention == BACKGROUND_IS_ONE)
                    alpha = None if opacity is None else torch.from_numpy(opacity)
                pixels = image[index, ..., :3].detach().cpu().float()
                results.append(run_interruptible(lambda progress: delight_image(
                    delight_model, pixels, alpha, seed=seed, steps=steps,
                    image_guidance=image_guidance, guidance=guidance, size=size, progress=progress,
                )))
        return (torch.stack(results),)


class PaintMultiView:
    DESCRIPTION = (
        "Generates one image per camera with Hunyuan3D-Paint, from the reference and the mesh's "
        "normal and position maps. Paint 2.0 (from Render Geometry Maps): one colour image per "
        "camera, with the release's Euler ancestral sampler. Paint 2.1 PBR (from Render PBR "
        "Condition Maps): an albedo and a metallic-roughness image per camera, with the release's "
        "UniPC sampler (release: 15 steps, guidance 3.0). Bake Texture puts them onto the mesh."
    )
    CATEGORY = CATEGORY
    FUNCTION = "paint"
    RETURN_TYPES = ("IMAGE", "IMAGE")
    RETURN_NAMES = ("views", "metallic_roughness")
    OUTPUT_TOOLTIPS = (
        "One image per camera (view_size x view_size), in the cameras' order: the colour views "
        "(2.0) or the albedo views (2.1).",
        "Paint 2.1: one metallic-roughness image per camera (metallic in R, roughness in G, B "
        "unused), for Bake Texture's metallic_roughness input. Paint 2.0 paints no such views: "
        "this is then an empty batch (0 images), which Bake Texture takes as not connected, so a "
        "graph wired for 2.1 also runs with a 2.0 model.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "paint_model": (PAINT_MODEL, {"tooltip": "From Load Paint Model."}),
                "reference": ("IMAGE", {"tooltip": "One image of the object on white: Delight Image's "
                                                   "output (or Prepare Image's)."}),
                "normal_maps": ("IMAGE", {"tooltip": "From Render Geometry Maps (Paint 2.0) or Render PBR "
                                                     "Condition Maps (Paint 2.1)."}),
                "position_maps": ("IMAGE", {"tooltip": "From the same node as the normal maps."}),
                "cameras": (CAMERAS, {"tooltip": "From the same node as the maps."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": MAX_SEED, "control_after_generate": True,
                                 "tooltip": "Seed of the noise; the same seed gives the same views on the "
                                            "same device."}),
                "steps": ("INT", {"default": RELEASED_STEPS, "min": 1, "max": 200,
                                  "tooltip": f"Denoising steps (release: {RELEASED_STEPS} for 2.0, "
                                             f"{RELEASED_PBR_STEPS} for 2.1)."}),
                "guidance": ("FLOAT", {"default": RELEASED_GUIDANCE, "min": 0.0, "max": 20.0, "step": 0.1,
                                       "tooltip": f"Classifier-free guidance on the reference (release: "
                                                  f"{RELEASED_GUIDANCE:g} for 2.0, {RELEASED_PBR_GUIDANCE:g} "
                                                  "for 2.1; 1 or less turns it off)."}),
                "view_size": ("INT", {"default": RELEASED_VIEW_SIZE, "min": 16, "max": 2048, "step": 8,
                                      "tooltip": "Pixels per side of each generated view (2.0 was trained "
                                                 "at 512; 2.1 at 512 or 768)."}),
            }
        }

    def paint(self, paint_model: PaintModel | PaintPbrModel, reference: torch.Tensor, normal_maps: torch.Tensor,
              position_maps: torch.Tensor, cameras: CameraSet, seed: int, steps: int, guidance: float,
              view_size: int):
        if reference.ndim != 4 or reference.shape[0] != 1:
            raise ValueError(f"Paint Multi-View takes one reference image, got shape {list(reference.shape)}.")
        if normal_maps.shape[0] != len(cameras) or position_maps.shape[0] != len(cameras):
            raise ValueError(
                f"Got {normal_maps.shape[0]} normal and {position_maps.shape[0]} position maps for "
                f"{len(cameras)} cameras; connect the maps and cameras of the same Render Geometry Maps "
                "(or Render PBR Condition Maps)."
            )
        if isinstance(paint_model, PaintPbrModel):
            with in_use(*_paint_networks(paint_model)):
                painted = run_interruptible(lambda progress: paint_pbr_views(
                    paint_model, reference[0, ..., :3], normal_maps[..., :3], position_maps[..., :3],
                    steps=steps, guidance=guidance, seed=seed, view_size=view_size, progress=progress,
                ))
            return on_intermediate_device(painted.albedo), on_intermediate_device(painted.metallic_roughness)
        indices = cameras.paint_camera_indices()
        with in_use(*_paint_networks(paint_model)):
            views = run_interruptible(lambda progress: sample_paint_views(
                paint_model, reference[0, ..., :3], normal_maps[..., :3], position_maps[..., :3],
                indices, seed=seed, steps=steps, guidance=guidance, view_size=view_size,
                progress=progress,
            ))
        views = on_intermediate_device(views)
        return views, views.new_zeros((0, *views.shape[1:]))


NODE_CLASS_MAPPINGS = {
    "H3DLoadPaintModel": LoadPaintModel,
    "H3DLoadDelightModel": LoadDelightModel,
    "H3DDelightImage": DelightImage,
    "H3DPaintMultiView": PaintMultiView,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "H3DLoadPaintModel": "Hunyuan3D Load Paint Model",
    "H3DLoadDelightModel": "Hunyuan3D Load Delight Model",
    "H3DDelightImage": "Hunyuan3D Delight Image",
    "H3DPaintMultiView": "Hunyuan3D Paint Multi-View",
}
