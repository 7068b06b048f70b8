"""Write trained or fine-tuned shape models as folders in the released Hunyuan3D layout.

The folder is what ``tencent/Hunyuan3D-2`` (or, for a 2.1 DiT, ``-2.1``) ships (``config.yaml`` naming the reference
package's classes, plus one weights file with ``model.``/``vae.``/``conditioner.``
prefixes and DINOv2 keys in the transformers 4 names), so the loader here, ComfyUI users
and the reference package itself all read it like a downloaded release.

Both files are written in full under temporary names before either is renamed into
place (``write_files_atomically``), so an interrupted export never leaves a truncated
file that the loader would trust.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import torch
import yaml

from ..models.conditioner import ImageConditioner
from ..models.dit import HunyuanDiT
from ..models.dit_v2_1 import HunyuanDiTPlain
from ..models.families import HUNYUAN3D_2_0, family_of_dit
from ..models.shape_vae import ShapeVAE
from ..models.shape_vae_config import ShapeVAEConfig
from .atomic_files import write_files_atomically
from .dinov2_layout import to_released_layout
from .shape_checkpoints import CONFIG_NAME, WEIGHT_PATTERNS

FLOAT16_WEIGHTS_NAME = "model.fp16.safetensors"
WEIGHTS_NAME = "model.safetensors"


def write_shape_model(
    folder: str | Path,
    *,
    dit: HunyuanDiT | HunyuanDiTPlain,
    vae: ShapeVAE,
    conditioner: ImageConditioner,
    image_size: int = 512,
    border_ratio: float = 0.15,
    dtype: torch.dtype = torch.float16,
    overwrite: bool = False,
) -> Path:
    """Write a complete shape model (DiT, VAE, conditioner) as an official folder.

    The VAE is stored decoder-only, as in every released shape model: the combined file
    is for image-to-3D, and the reference package's 2.0 classes cannot build an encoder.
    Keep the encoder with :func:`write_shape_vae`. ``image_size`` and ``border_ratio``
    are the image preparation settings inference uses for this model.
    """
    _check_parts_fit(dit, vae, conditioner)
    if image_size < 1 or not 0.0 <= border_ratio < 0.5:
        raise ValueError(
            f"image_size must be positive and border_ratio in [0, 0.5); got image_size="
            f"{image_size}, border_ratio={border_ratio} (the release uses 512 and 0.15)."
        )
    targets = family_of_dit(dit).release_targets
    vae_config = vae.config.without_encoder()
    conditioner_config = conditioner.config
    image_processor = (targets.multiview_image_processor if conditioner_config.multiview
                       else targets.image_processor)
    if image_processor is None:
        raise ValueError("Hunyuan3D 2.1 has no multi-view release to write; pair the 2.1 DiT "
                         "with a single-image conditioner.")
    config = {
        "model": {"target": targets.dit, "params": dit.config.to_params()},
        "vae": {"target": targets.vae, "params": vae_config.to_params()},
        "conditioner": {**conditioner_config.to_yaml_section(), "target": targets.conditioner},
        "scheduler": {"target": targets.scheduler, "params": {"num_train_timesteps": 1000}},
        "image_processor": {
            "target": image_processor,
            "params": {"size": int(image_size), "border_ratio": float(border_ratio)},
        },
    }
    if targets.pipeline is not None:
        config["pipeline"] = {"target": targets.pipeline}
    tensors = combined_state_dict(
        dit.state_dict(), _decoder_state(vae, vae_config), conditioner.state_dict()
    )
    return _write_folder(Path(folder), config, tensors, dtype=dtype, overwrite=overwrite)


def write_shape_vae(
    folder: str | Path,
    vae: ShapeVAE,
    *,
    dtype: torch.dtype = torch.float16,
    overwrite: bool = False,
) -> Path:
    """Write a standalone VAE folder (like ``hunyuan3d-vae-v2-0-withencoder``): top-level
    ``target``/``params`` and unprefixed keys, encoder included when the VAE has one."""
    config = {"target": HUNYUAN3D_2_0.release_targets.vae, "params": vae.config.to_params()}
    return _write_folder(Path(folder), config, dict(vae.state_dict()), dtype=dtype, overwrite=overwrite)


def combined_state_dict(
    dit: Mapping[str, torch.Tensor],
    vae: Mapping[str, torch.Tensor],
    conditioner: Mapping[str, torch.Tensor] | None,
) -> dict[str, torch.Tensor]:
    """The parts' state dicts as one flat dict keyed the way the released file is: each
    part under its prefix, DINOv2 weights renamed to the transformers 4 names (whatever
    transformers is installed) so readers pinned to either major version convert them."""
    flat = _prefixed(dit, "model.")
    flat.update(_prefixed(vae, "vae."))
    if conditioner is not None:
        flat.update(_prefixed(to_released_layout(dict(conditioner)), "conditioner."))
    return flat


def weights_name(dtype: torch.dtype) -> str:
    """The release names half-precision weights ``model.fp16.safetensors``; anything else
    gets the plain name, so the file name never lies about its contents."""
    return FLOAT16_WEIGHTS_NAME if dtype == torch.float16 else WEIGHTS_NAME


def _check_parts_fit(dit: HunyuanDiT | HunyuanDiTPlain, vae: ShapeVAE, conditioner: ImageConditioner) -> None:
    """Parts that do not fit would write a folder that loads but cannot run."""
    if dit.config.in_channels != vae.config.embed_dim:
        raise ValueError(
            f"The DiT works on {dit.config.in_channels}-channel latents but the VAE's latents "
            f"have {vae.config.embed_dim} channels (embed_dim); pair the DiT with the VAE it "
            "was trained on."
        )
    if dit.config.context_in_dim != conditioner.config.hidden_size:
        raise ValueError(
            f"The DiT expects {dit.config.context_in_dim}-wide image features but the "
            f"conditioner gives {conditioner.config.hidden_size}; pair the DiT with the "
            "conditioner it was trained with."
        )


def _decoder_state(vae: ShapeVAE, decoder_config: ShapeVAEConfig) -> dict[str, torch.Tensor]:
    """The VAE's weights that the decoder-only network holds (its names, off the meta device)."""
    with torch.device("meta"):
        decoder_keys = ShapeVAE(decoder_config).state_dict().keys()
    state = vae.state_dict()
    return {key: state[key] for key in decoder_keys}


def _prefixed(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}{key}": value for key, value in state.items()}


def _write_folder(
    folder: Path,
    config: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    *,
    dtype: torch.dtype,
    overwrite: bool,
) -> Path:
    from safetensors.torch import save

    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating point type such as torch.float16, got {dtype}")
    name = weights_name(dtype)
    _check_folder(folder, name, overwrite)
    stored = {key: _stored_tensor(key, value, dtype) for key, value in tensors.items()}
    config_text = yaml.safe_dump(config, sort_keys=False)
    # config.yaml is renamed first: were a new folder left with one file only, the loader
    # then reports the missing weights rather than guessing a config from tensor shapes.
    write_files_atomically(
        {
            folder / CONFIG_NAME: config_text.encode("utf-8"),
            folder / name: save(stored, metadata={"format": "pt"}),
        },
        overwrite=overwrite,
    )
    return folder


def _check_folder(folder: Path, name: str, overwrite: bool) -> None:
    """Refuse before writing anything: a folder with another checkpoint in it would end
    up pairing our config.yaml with someone else's weights, or the reverse."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; give a folder to write the checkpoint into.")
    if not folder.is_dir():
        return
    present = sorted({path.name for pattern in WEIGHT_PATTERNS for path in folder.glob(pattern)})
    if (folder / CONFIG_NAME).exists():
        present.insert(0, CONFIG_NAME)
    if present and not overwrite:
        raise FileExistsError(
            f"{folder} already holds a checkpoint ({', '.join(present)}); choose a new folder, "
            "or pass overwrite=True to replace it."
        )
    chosen = _weights_the_loader_picks(folder, name)
    if chosen != name:
        raise FileExistsError(
            f"{folder} holds {chosen}, which the loader would pick instead of the {name} about "
            "to be written; remove it, or write to a new folder."
        )


def _weights_the_loader_picks(folder: Path, name: str) -> str:
    """The file the loader's search order finds once ``name`` is written into ``folder``."""
    for pattern in WEIGHT_PATTERNS:
        candidates = {path.name for path in folder.glob(pattern)}
        if fnmatch(name, pattern):
            candidates.add(name)
        if candidates:
            return min(candidates)
    return name


def _stored_tensor(key: str, value: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if value.is_meta:
        raise ValueError(
            f"Weight {key} is on the meta device (never loaded); load or train the model "
            "before writing it."
        )
    target = dtype if value.is_floating_point() else value.dtype
    # A copy, so tensors that share storage in the model are saved independently, as
    # safetensors requires.
    return value.detach().to(device="cpu", dtype=target, copy=True).contiguous()


__all__ = ["combined_state_dict", "weights_name", "write_shape_model", "write_shape_vae"]
