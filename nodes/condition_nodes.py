"""Encode Image and Encode Multi-View: prepared images -> DINOv2 condition tokens."""

from __future__ import annotations

import torch

from .comfy_formats import images_to_signed_channels_first
from ..hy3d_core.image.prepare import VIEW_INDICES
from ..hy3d_core.models.shape_model import ShapeModel
from ..hy3d_core.pipelines import encode_images, encode_views
from .comfy_runtime import in_use
from .node_types import CONDITION, SHAPE_MODEL, ShapeCondition

CATEGORY = "Hunyuan3D/shape"
_MULTIVIEW_MODEL_HINT = (
    "load a Hunyuan3D-2mv checkpoint (hunyuan3d-dit-v2-mv, from huggingface.co/tencent/Hunyuan3D-2mv)"
)


def _conditioner(model: ShapeModel):
    if model.conditioner is None:
        raise ValueError(
            f"{model.source} was loaded without its image encoder (conditioner.* weights); "
            "load a full shape checkpoint such as hunyuan3d-dit-v2-0."
        )
    return model.conditioner


class EncodeImage:
    DESCRIPTION = (
        "DINOv2 features of prepared images (one condition per image of the batch). With a "
        "multi-view model the image is taken as the front view."
    )
    CATEGORY = CATEGORY
    FUNCTION = "encode"
    RETURN_TYPES = (CONDITION,)
    RETURN_NAMES = ("condition",)
    OUTPUT_TOOLTIPS = ("Condition tokens for Sample Shape (use the same model there).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": (SHAPE_MODEL, {"tooltip": "From Load Shape Model."}),
                "image": ("IMAGE", {"tooltip": "From Prepare Image: the object centred on white."}),
            }
        }

    def encode(self, model: ShapeModel, image: torch.Tensor):
        conditioner = _conditioner(model)
        pixels = images_to_signed_channels_first(image)
        with in_use(conditioner):
            if model.configs.multiview:
                context = encode_views(conditioner, pixels[:, None], [VIEW_INDICES["front"]])
            else:
                context = encode_images(conditioner, pixels)
        return (ShapeCondition(context=context, views=("front",)),)


class EncodeMultiView:
    DESCRIPTION = (
        "DINOv2 features of up to four prepared views for a multi-view model (Hunyuan3D-2mv). "
        "Connect the views you have; at least one."
    )
    CATEGORY = CATEGORY
    FUNCTION = "encode"
    RETURN_TYPES = (CONDITION,)
    RETURN_NAMES = ("condition",)
    OUTPUT_TOOLTIPS = ("Condition tokens for Sample Shape (use the same model there).",)

    @classmethod
    def INPUT_TYPES(cls):
        view_tooltip = "From Prepare Image: the object seen from the {}; all views the same size."
        return {
            "required": {
                "model": (SHAPE_MODEL, {"tooltip": "A multi-view model (hunyuan3d-dit-v2-mv*)."}),
            },
            "optional": {
                name: ("IMAGE", {"tooltip": view_tooltip.format(name)}) for name in VIEW_INDICES
            },
        }

    def encode(self, model: ShapeModel, front=None, left=None, back=None, right=None):
        if not model.configs.multiview:
            raise ValueError(
                f"{model.source.name} is a single-view model; Encode Multi-View needs a multi-view "
                f"one: {_MULTIVIEW_MODEL_HINT}. For one image use Encode Image."
            )
        given = {name: image for name, image in
                 (("front", front), ("left", left), ("back", back), ("right", right)) if image is not None}
        if not given:
            raise ValueError("Encode Multi-View got no image: connect at least one of front, left, back, right.")
        shapes = {name: tuple(image.shape) for name, image in given.items()}
        if len(set(shapes.values())) > 1:
            raise ValueError(
                f"The views differ in batch size or image size: {shapes}. Prepare them all at "
                "one size (Prepare Image) and with the same batch size."
            )
        views = torch.stack([images_to_signed_channels_first(image) for image in given.values()], dim=1)
        indices = [VIEW_INDICES[name] for name in given]
        conditioner = _conditioner(model)
        with in_use(conditioner):
            context = encode_views(conditioner, views, indices)
        return (ShapeCondition(context=context, views=tuple(given)),)


NODE_CLASS_MAPPINGS = {
    "H3DEncodeImage": EncodeImage,
    "H3DEncodeMultiView": EncodeMultiView,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "H3DEncodeImage": "Hunyuan3D Encode Image",
    "H3DEncodeMultiView": "Hunyuan3D Encode Multi-View",
}
