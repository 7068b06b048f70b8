"""Load the released ``hunyuan3d-paint-v2-0`` diffusers folder into a :class:`PaintModel`.

The folder is a diffusers pipeline layout, but its ``unet/`` weights are not a diffusers
UNet: they are the wrapped 2.5D model (two UNets plus extra attentions, see
``hy3d_core.models.paint_unet``), stored as a torch pickle next to a plain SD 2.1
``config.json``. So the UNet is built from that config and loaded key by key with a
strict check, while ``vae/`` is an ordinary ``AutoencoderKL`` and ``scheduler/`` only
contributes its noise-schedule settings. The text encoder is never loaded: learned
embeddings inside the UNet weights replace it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..models.paint_model import PaintModel
from ..models.paint_unet import PaintUNet
from .checkpoint_files import CheckpointError, TensorFile, strict_state_dict
from .paint_family import PAINT_20, require_paint_family

UNET_WEIGHT_NAMES = ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors")
SCHEDULER_CONFIG = Path("scheduler") / "scheduler_config.json"


def load_paint_model(
    folder: str | Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> PaintModel:
    """Load the Paint UNet, its VAE and its scheduler settings from a released folder."""
    folder = Path(folder)
    _check_paint_folder(folder)
    require_paint_family(folder, PAINT_20)
    device = torch.device(device)
    unet = load_paint_unet(folder / "unet", device, dtype)
    vae = _load_vae(folder / "vae", device, dtype)
    scheduler_config = _read_json(folder / SCHEDULER_CONFIG)
    return PaintModel(unet=unet, vae=vae, scheduler_config=scheduler_config, path=folder)


def load_paint_unet(
    unet_folder: str | Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> PaintUNet:
    """Build the 2.5D UNet from ``config.json`` on the meta device and load its weights strictly."""
    unet_folder = Path(unet_folder)
    config = _read_json(unet_folder / "config.json")
    weights = _find_unet_weights(unet_folder)
    with torch.device("meta"):
        try:
            model = PaintUNet(config)
        except TypeError as error:
            raise CheckpointError(
                f"{unet_folder / 'config.json'} is not a UNet2DConditionModel config ({error})."
            ) from error
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    tensors = TensorFile(weights)
    found = {key: (lambda key=key: tensors.tensor(key)) for key in tensors.keys()}
    state = strict_state_dict(expected, found, weights, unet_folder / "config.json", device, dtype,
                              layout_hint=_WRAPPED_LAYOUT_HINT)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def _check_paint_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder} is not a folder. Point to the hunyuan3d-paint-v2-0 folder (the one "
            "holding unet/, vae/ and scheduler/)."
        )
    missing = [name for name in ("unet", "vae", "scheduler") if not (folder / name).is_dir()]
    if missing:
        raise CheckpointError(
            f"{folder} has no {', '.join(name + '/' for name in missing)}: it is not a Hunyuan3D-Paint "
            "folder. Expected hunyuan3d-paint-v2-0 with unet/ (config.json + "
            "diffusion_pytorch_model.bin), vae/ and scheduler/."
        )


def _find_unet_weights(unet_folder: Path) -> Path:
    for name in UNET_WEIGHT_NAMES:
        if (unet_folder / name).is_file():
            return unet_folder / name
    raise CheckpointError(
        f"{unet_folder} holds no UNet weights; expected {UNET_WEIGHT_NAMES[0]} (the released "
        "file) there. Download it again if it is missing."
    )


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the Paint folder is incomplete: download it again.")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} could not be read as JSON ({error}).") from error
    if not isinstance(content, dict):
        raise CheckpointError(f"{path} should hold a JSON object, not {type(content).__name__}.")
    return content


def _load_vae(vae_folder: Path, device: torch.device, dtype: torch.dtype) -> nn.Module:
    from diffusers import AutoencoderKL

    try:
        vae = AutoencoderKL.from_pretrained(vae_folder, local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{vae_folder} could not be loaded as an AutoencoderKL ({error}).") from error
    return vae.to(device).eval().requires_grad_(False)


_WRAPPED_LAYOUT_HINT = (
    "Expected the wrapped layout (unet.*, unet_dual.*, ...transformer_blocks.N.transformer.*, "
    "attn_multiview.*, attn_refview.*, unet.learned_text_clip_gen/ref). A plain diffusers "
    "UNet or a truncated file does not load here."
)
