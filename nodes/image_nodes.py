"""Remove Background and Prepare Image: a photo -> the recentred view the DiT expects.

Mask conventions differ between ComfyUI nodes: LoadImage's MASK is 1 - alpha (1 where
the image is transparent, as inpainting wants it), segmentation nodes give 1 on the
object. The mask inputs therefore say which one they get; every MASK these nodes output
is 1 on the object.
"""

from __future__ import annotations

import numpy as np
import torch

from .comfy_formats import mask_to_opacity
from ..hy3d_core.image.background import METHODS, remove_background
from ..hy3d_core.image.prepare import DEFAULT_BORDER_RATIO, DEFAULT_SIZE, prepare_image
from .comfy_runtime import models_dir, torch_device

CATEGORY = "Hunyuan3D/image"

OBJECT_IS_ONE = "object is 1"
BACKGROUND_IS_ONE = "background is 1 (LoadImage)"
MASK_CONVENTIONS = [OBJECT_IS_ONE, BACKGROUND_IS_ONE]
_MASK_CONVENTION_TOOLTIP = (
    "What the connected MASK marks with 1. LoadImage's mask is 1 where the picture is "
    "transparent (background); segmentation and background-removal nodes mark the object."
)


def _mask_for_item(mask: torch.Tensor | None, index: int, batch: int) -> torch.Tensor | None:
    """One mask per image; a single mask serves the whole batch."""
    if mask is None:
        return None
    masks = mask if mask.ndim == 3 else mask[None]
    if masks.shape[0] not in (1, batch):
        raise ValueError(
            f"Got {masks.shape[0]} masks for {batch} images; give one mask, or one per image."
        )
    return masks[index if masks.shape[0] == batch else 0]


def _opacity(mask: torch.Tensor | None, index: int, image: torch.Tensor, convention: str) -> np.ndarray | None:
    item = _mask_for_item(mask, index, image.shape[0])
    if item is None:
        return None
    return mask_to_opacity(
        item, image.shape[1], image.shape[2], background_is_one=convention == BACKGROUND_IS_ONE
    )


def _check_images(image: torch.Tensor) -> None:
    if image.ndim != 4 or image.shape[-1] not in (3, 4):
        raise ValueError(f"Expected an IMAGE [batch, height, width, 3 or 4], got shape {list(image.shape)}.")
    if image.shape[0] == 0:
        raise ValueError("The IMAGE input is an empty batch (0 images); connect a node that gives at "
                         "least one image.")


class RemoveBackground:
    DESCRIPTION = (
        "Finds the object's opacity. auto keeps a real alpha or mask when there is one, else "
        "uses a learned matte whose weights are in models/rembg/ (RMBG-2.0, BiRefNet folders, "
        "or u2net.onnx), else the built-in classical matte for plain or simple backgrounds. "
        "Nothing is downloaded."
    )
    CATEGORY = CATEGORY
    FUNCTION = "remove"
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask")
    OUTPUT_TOOLTIPS = (
        "The RGB image, unchanged (Prepare Image composites it by the mask).",
        "The object's opacity: 1 on the object, 0 on the background.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The photo or rendering of one object."}),
                "method": (list(METHODS), {
                    "default": "auto",
                    "tooltip": "alpha: use the image's mask as is; classical: computed from the "
                               "pixels, no weights; rmbg / birefnet / rembg: learned mattes from "
                               "weights on disk; auto: the first of these that applies.",
                }),
                "mask_convention": (MASK_CONVENTIONS, {
                    "default": BACKGROUND_IS_ONE, "tooltip": _MASK_CONVENTION_TOOLTIP,
                }),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "An existing cut-out, e.g. LoadImage's mask of a PNG "
                                             "with transparency."}),
            },
        }

    def remove(self, image: torch.Tensor, method: str, mask_convention: str, mask: torch.Tensor | None = None):
        _check_images(image)
        device = str(torch_device("auto"))
        colours, opacities = [], []
        for index in range(image.shape[0]):
            pixels = image[index].detach().cpu().float().numpy()
            given = _opacity(mask, index, image, mask_convention)
            try:
                rgba, opacity = remove_background(
                    pixels, given, method=method, models_dir=models_dir(), device=device
                )
            except ValueError as error:
                raise ValueError(f"Image {index} of the batch: {error}") from error
            colours.append(torch.from_numpy(np.ascontiguousarray(rgba[..., :3])))
            opacities.append(torch.from_numpy(opacity))
        return (torch.stack(colours), torch.stack(opacities))


class PrepareImage:
    DESCRIPTION = (
        "Recentres the object as Hunyuan3D 2.0 was trained to see it: cropped to its mask, "
        "scaled to fill (1 - border_ratio) of a square, centred on white, resized."
    )
    CATEGORY = CATEGORY
    FUNCTION = "prepare"
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask")
    OUTPUT_TOOLTIPS = (
        "The object over white, size x size, for Encode Image / Encode Multi-View.",
        "The object's opacity at the same size (1 on the object).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The object; with an alpha channel or a mask, "
                                               "else the whole image counts as the object."}),
                "size": ("INT", {"default": DEFAULT_SIZE, "min": 64, "max": 2048, "step": 8,
                                 "tooltip": "Output size in pixels (the release uses 512)."}),
                "border_ratio": ("FLOAT", {"default": DEFAULT_BORDER_RATIO, "min": 0.0, "max": 0.9,
                                           "step": 0.01,
                                           "tooltip": "Share of the canvas left empty around the "
                                                      "object (the release uses 0.15)."}),
                "mask_convention": (MASK_CONVENTIONS, {
                    "default": OBJECT_IS_ONE, "tooltip": _MASK_CONVENTION_TOOLTIP,
                }),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "The object's mask, e.g. from Remove Background."}),
            },
        }

    def prepare(self, image: torch.Tensor, size: int, border_ratio: float, mask_convention: str,
                mask: torch.Tensor | None = None):
        _check_images(image)
        colours, opacities = [], []
        for index in range(image.shape[0]):
            pixels = image[index]
            alpha = _opacity(mask, index, image, mask_convention)
            if alpha is not None and pixels.shape[-1] == 4:
                pixels = pixels[..., :3]
            try:
                prepared = prepare_image(pixels, alpha, size=size, border_ratio=border_ratio)
            except ValueError as error:
                raise ValueError(f"Image {index} of the batch: {error}") from error
            colours.append(torch.from_numpy(prepared.rgb))
            opacities.append(torch.from_numpy(prepared.mask))
        return (torch.stack(colours), torch.stack(opacities))


NODE_CLASS_MAPPINGS = {
    "H3DRemoveBackground": RemoveBackground,
    "H3DPrepareImage": PrepareImage,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "H3DRemoveBackground": "Hunyuan3D Remove Background",
    "H3DPrepareImage": "Hunyuan3D Prepare Image",
}
