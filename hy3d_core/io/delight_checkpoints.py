"""Load the released ``hunyuan3d-delight-v2-0`` folder, a diffusers InstructPix2Pix
pipeline; ``texture/delight.py`` runs it on a reference image."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint_files import CheckpointError


def load_delight_pipeline(
    folder: str | Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
):
    """Load the released Delight folder as a diffusers ``StableDiffusionInstructPix2PixPipeline``.

    Only local files are read. The scheduler is switched to Euler ancestral on the
    folder's own schedule, as the release does.
    """
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder} is not a folder. Point to the hunyuan3d-delight-v2-0 folder (the one holding "
            "model_index.json, unet/, vae/, text_encoder/, tokenizer/ and scheduler/)."
        )
    missing = [
        name for name in ("model_index.json", "unet", "vae", "text_encoder", "tokenizer", "scheduler")
        if not (folder / name).exists()
    ]
    if missing:
        raise CheckpointError(
            f"{folder} lacks {', '.join(missing)}: it is not a Hunyuan3D-Delight folder (expected "
            "hunyuan3d-delight-v2-0 in diffusers layout). Download it again if it is incomplete."
        )
    try:
        pipeline = StableDiffusionInstructPix2PixPipeline.from_pretrained(
            folder,
            local_files_only=True,
            dtype=dtype,
            safety_checker=None,
            requires_safety_checker=False,
        )
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{folder} could not be loaded as an InstructPix2Pix pipeline ({error}).") from error
    pipeline.scheduler = EulerAncestralDiscreteScheduler.from_config(pipeline.scheduler.config)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(torch.device(device))
