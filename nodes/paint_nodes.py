"""Hunyuan3D-Paint 2.0 as nodes: load Paint and Delight, remove lighting from the
reference, generate one image per camera from the reference and the geometry maps.

Both models are diffusers folders from ``tencent/Hunyuan3D-2``; they are looked for under
``models/hunyuan3d/`` by their released folder names, also inside a downloaded copy of
the whole repository (``models/hunyuan3d/Hunyuan3D-2/hunyuan3d-paint-v2-0``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .comfy_formats import mask_to_opacity
from ..hy3d_core.io.delight_checkpoints import load_delight_pipeline
from ..hy3d_core.io.paint_checkpoints import load_paint_model
from ..hy3d_core.models.paint_model import PaintModel
from ..hy3d_core.render.cameras import CameraSet
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
    run_interruptible,
    torch_device,
    torch_dtype,
)
from .image_nodes import BACKGROUND_IS_ONE, MASK_CONVENTIONS, OBJECT_IS_ONE
from .model_files import diffusers_folder_choices, resolve_diffusers_folder, where_folder_goes
from .node_types import CAMERAS, DELIGHT_MODEL, PAINT_MODEL, on_intermediate_device
from .shape_nodes import MAX_SEED

CATEGORY = "Hunyuan3D/texture"
LOADER_CATEGORY = "Hunyuan3D/loaders"
PAINT_PREFIX = "hunyuan3d-paint-v2-0"
DELIGHT_PREFIX = "hunyuan3d-delight-v2-0"
NO_PAINT_FOUND = "(no Hunyuan3D-Paint folder found)"
NO_DELIGHT_FOUND = "(no Hunyuan3D-Delight folder found)"


def _signature(name: str, prefix: str, needs_unet: bool, nothing: str) -> tuple | str:
    try:
        folder = resolve_diffusers_folder(name, prefix, needs_unet, nothing)
    except FileNotFoundError:
        return name
    return tuple(model_cache.file_signature(part) for part in (folder, folder / "unet") if part.is_dir())


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


_DEVICE_TOOLTIP = "Where the networks run. auto: ComfyUI's device (else CUDA, Apple MPS, then CPU)."
_DTYPE_TOOLTIP = f"Precision. {AUTO_DTYPE_RULE}."


def _paint_networks(model: PaintModel) -> tuple[torch.nn.Module, ...]:
    return model.unet, model.vae


def _delight_networks(pipeline) -> tuple[torch.nn.Module, ...]:
    return pipeline.unet, pipeline.vae, pipeline.text_encoder


class LoadPaintModel:
    DESCRIPTION = (
        "Loads Hunyuan3D-Paint 2.0: the multiview UNet (with its reference and multiview "
        "attention) and its SD VAE, from a hunyuan3d-paint-v2-0 folder. " + where_folder_goes(PAINT_PREFIX)
    )
    CATEGORY = LOADER_CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (PAINT_MODEL,)
    RETURN_NAMES = ("paint_model",)
    OUTPUT_TOOLTIPS = ("The Paint model, for Paint Multi-View.",)

    @classmethod
    def INPUT_TYPES(cls):
        choices = diffusers_folder_choices(PAINT_PREFIX, True, NO_PAINT_FOUND)
        return {
            "required": {
                "folder": (choices, {"default": choices[0],
                                     "tooltip": "A hunyuan3d-paint-v2-0* folder in models/hunyuan3d/ "
                                                "(unet/, vae/, scheduler/, model_index.json)."}),
                "dtype": (DTYPE_CHOICES, {"default": "auto", "tooltip": _DTYPE_TOOLTIP}),
                "device": (DEVICE_CHOICES, {"default": "auto", "tooltip": _DEVICE_TOOLTIP}),
            }
        }

    @classmethod
    def IS_CHANGED(cls, folder, dtype, device):
        return _signature(folder, PAINT_PREFIX, True, NO_PAINT_FOUND)

    def load(self, folder: str, dtype: str, device: str):
        path = resolve_diffusers_folder(folder, PAINT_PREFIX, True, NO_PAINT_FOUND)
        chosen_device = torch_device(device)
        chosen_dtype = torch_dtype(dtype, chosen_device)

        def load_model() -> PaintModel:
            return load_parked(
                chosen_device, _folder_bytes(path / "unet") + _folder_bytes(path / "vae"),
                lambda device: load_paint_model(path, device=device, dtype=chosen_dtype), _paint_networks,
            )

        key = ("paint model", str(path.resolve()), _signature(folder, PAINT_PREFIX, True, NO_PAINT_FOUND),
               str(chosen_device), chosen_dtype)
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
        "Generates one image per camera with Hunyuan3D-Paint 2.0, from the reference and the "
        "mesh's normal and position maps, with the release's sampler (Euler ancestral, trailing "
        "spacing). Bake Texture puts them onto the mesh."
    )
    CATEGORY = CATEGORY
    FUNCTION = "paint"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("views",)
    OUTPUT_TOOLTIPS = ("One image per camera (view_size x view_size), in the cameras' order.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "paint_model": (PAINT_MODEL, {"tooltip": "From Load Paint Model."}),
                "reference": ("IMAGE", {"tooltip": "One image of the object on white: Delight Image's "
                                                   "output (or Prepare Image's)."}),
                "normal_maps": ("IMAGE", {"tooltip": "From Render Geometry Maps."}),
                "position_maps": ("IMAGE", {"tooltip": "From Render Geometry Maps."}),
                "cameras": (CAMERAS, {"tooltip": "From Render Geometry Maps (the same node as the maps)."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": MAX_SEED, "control_after_generate": True,
                                 "tooltip": "Seed of the noise; the same seed gives the same views on the "
                                            "same device."}),
                "steps": ("INT", {"default": RELEASED_STEPS, "min": 1, "max": 200,
                                  "tooltip": "Denoising steps (release: 30)."}),
                "guidance": ("FLOAT", {"default": RELEASED_GUIDANCE, "min": 0.0, "max": 20.0, "step": 0.1,
                                       "tooltip": "Classifier-free guidance on the reference (release: "
                                                  "2.0; 1 or less turns it off)."}),
                "view_size": ("INT", {"default": RELEASED_VIEW_SIZE, "min": 16, "max": 2048, "step": 8,
                                      "tooltip": "Pixels per side of each generated view (the model was "
                                                 "trained at 512)."}),
            }
        }

    def paint(self, paint_model: PaintModel, reference: torch.Tensor, normal_maps: torch.Tensor,
              position_maps: torch.Tensor, cameras: CameraSet, seed: int, steps: int, guidance: float,
              view_size: int):
        if reference.ndim != 4 or reference.shape[0] != 1:
            raise ValueError(f"Paint Multi-View takes one reference image, got shape {list(reference.shape)}.")
        if normal_maps.shape[0] != len(cameras) or position_maps.shape[0] != len(cameras):
            raise ValueError(
                f"Got {normal_maps.shape[0]} normal and {position_maps.shape[0]} position maps for "
                f"{len(cameras)} cameras; connect the maps and cameras of the same Render Geometry Maps."
            )
        indices = cameras.paint_camera_indices()
        with in_use(*_paint_networks(paint_model)):
            views = run_interruptible(lambda progress: sample_paint_views(
                paint_model, reference[0, ..., :3], normal_maps[..., :3], position_maps[..., :3],
                indices, seed=seed, steps=steps, guidance=guidance, view_size=view_size,
                progress=progress,
            ))
        return (on_intermediate_device(views),)


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
