"""Load Shape Model and Load Shape VAE: checkpoint choice -> networks on a device."""

from __future__ import annotations

from pathlib import Path

import torch

from ..hy3d_core.io.shape_checkpoints import load_shape_model, load_shape_vae
from ..hy3d_core.models.shape_model import ShapeModel
from . import model_cache
from .comfy_runtime import (
    AUTO_DTYPE_RULE,
    DEVICE_CHOICES,
    DTYPE_CHOICES,
    load_parked,
    torch_device,
    torch_dtype,
)
from .model_files import WHERE_MODELS_GO, resolve_checkpoint, shape_model_choices, shape_vae_choices
from .node_types import SHAPE_MODEL, SHAPE_VAE, ShapeVAEHandle

CATEGORY = "Hunyuan3D/loaders"

_DEVICE_TOOLTIP = (
    "Where the networks run. auto: ComfyUI's device (else CUDA, Apple MPS, then CPU)."
)
_DTYPE_TOOLTIP = (
    f"Precision of the weights. {AUTO_DTYPE_RULE}. "
    "bfloat16 suits GPUs where float16 overflows."
)


def _resolve_device_and_dtype(device: str, dtype: str) -> tuple[torch.device, torch.dtype]:
    chosen_device = torch_device(device)
    return chosen_device, torch_dtype(dtype, chosen_device)


def _weights_bytes(path: Path) -> int:
    """About what loading takes: release folders often hold the same weights twice
    (model.fp16.ckpt and model.fp16.safetensors), so the largest file, not the sum."""
    files = [path] if path.is_file() else [entry for entry in path.iterdir() if entry.is_file()]
    return max((entry.stat().st_size for entry in files), default=0)


def _files_signature(name: str) -> tuple | str:
    """What IS_CHANGED reports: a replaced file reloads even with unchanged inputs. An
    unknown name is left to the loader, which explains what is missing."""
    try:
        return model_cache.file_signature(resolve_checkpoint(name))
    except FileNotFoundError:
        return name


def _model_key(path: Path, device: torch.device, dtype: torch.dtype) -> tuple:
    return ("shape model", str(path.resolve()), model_cache.file_signature(path), str(device), dtype)


class LoadShapeModel:
    DESCRIPTION = (
        "Loads a Hunyuan3D 2.0 shape checkpoint: the DiT that generates shapes, the image "
        "encoder (DINOv2) and the ShapeVAE that turns latents into volumes. " + WHERE_MODELS_GO
    )
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (SHAPE_MODEL, SHAPE_VAE)
    RETURN_NAMES = ("model", "vae")
    OUTPUT_TOOLTIPS = (
        "DiT and image encoder, for Encode Image / Encode Multi-View and Sample Shape.",
        "The checkpoint's own ShapeVAE, for Decode Shape Volume (no second load).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        choices = shape_model_choices()
        return {
            "required": {
                "model_name": (choices, {
                    "default": choices[0],
                    "tooltip": "An official folder (hunyuan3d-dit-v2-0, -fast, -turbo, -mini, -mv) "
                               "from models/hunyuan3d/, or a single file from models/checkpoints/ "
                               "or models/diffusion_models/.",
                }),
                "dtype": (DTYPE_CHOICES, {"default": "auto", "tooltip": _DTYPE_TOOLTIP}),
                "device": (DEVICE_CHOICES, {"default": "auto", "tooltip": _DEVICE_TOOLTIP}),
            }
        }

    @classmethod
    def IS_CHANGED(cls, model_name, dtype, device):
        return _files_signature(model_name)

    def load(self, model_name: str, dtype: str, device: str):
        path = resolve_checkpoint(model_name)
        chosen_device, chosen_dtype = _resolve_device_and_dtype(device, dtype)

        def load_model() -> ShapeModel:
            return load_parked(
                chosen_device, _weights_bytes(path),
                lambda device: load_shape_model(path, device=device, dtype=chosen_dtype),
                lambda model: (model.dit, model.conditioner, model.vae),
            )

        model = model_cache.cached(_model_key(path, chosen_device, chosen_dtype), load_model)
        return (model, ShapeVAEHandle(vae=model.vae, configs=model.configs, source=model.source))


class LoadShapeVAE:
    DESCRIPTION = (
        "Loads a ShapeVAE on its own: hunyuan3d-vae-v2-0 (decoder), -turbo (made for FlashVDM "
        "decoding), -withencoder (needed by Encode Mesh), or the VAE part of a combined "
        "shape checkpoint. " + WHERE_MODELS_GO
    )
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = (SHAPE_VAE,)
    RETURN_NAMES = ("vae",)
    OUTPUT_TOOLTIPS = ("The ShapeVAE, for Decode Shape Volume and Encode Mesh.",)

    @classmethod
    def INPUT_TYPES(cls):
        choices = shape_vae_choices()
        return {
            "required": {
                "vae_name": (choices, {
                    "default": choices[0],
                    "tooltip": "A VAE folder from models/hunyuan3d/ (hunyuan3d-vae-v2-0, -turbo, "
                               "-withencoder), or a combined shape checkpoint whose VAE is used.",
                }),
                "dtype": (DTYPE_CHOICES, {"default": "auto", "tooltip": _DTYPE_TOOLTIP}),
                "device": (DEVICE_CHOICES, {"default": "auto", "tooltip": _DEVICE_TOOLTIP}),
            }
        }

    @classmethod
    def IS_CHANGED(cls, vae_name, dtype, device):
        return _files_signature(vae_name)

    def load(self, vae_name: str, dtype: str, device: str):
        path = resolve_checkpoint(vae_name)
        chosen_device, chosen_dtype = _resolve_device_and_dtype(device, dtype)
        loaded_model = model_cache.lookup(_model_key(path, chosen_device, chosen_dtype))
        if loaded_model is not None:
            return (ShapeVAEHandle(vae=loaded_model.vae, configs=loaded_model.configs, source=path),)

        def load_vae() -> ShapeVAEHandle:
            vae, configs = load_parked(
                chosen_device, _weights_bytes(path),
                lambda device: load_shape_vae(path, device=device, dtype=chosen_dtype),
                lambda loaded: (loaded[0],),
            )
            return ShapeVAEHandle(vae=vae, configs=configs, source=path)

        key = ("shape vae", str(path.resolve()), model_cache.file_signature(path), str(chosen_device), chosen_dtype)
        return (model_cache.cached(key, load_vae),)


NODE_CLASS_MAPPINGS = {
    "H3DLoadShapeModel": LoadShapeModel,
    "H3DLoadShapeVAE": LoadShapeVAE,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "H3DLoadShapeModel": "Hunyuan3D Load Shape Model",
    "H3DLoadShapeVAE": "Hunyuan3D Load Shape VAE",
}
