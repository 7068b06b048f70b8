"""The loaded Hunyuan3D-Paint model: what multiview sampling needs from one Paint folder.

A type of the models layer, so that the Paint sampler, the texturing job and the nodes
can name it without importing the loader in ``io/paint_checkpoints.py`` that makes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .paint_unet import PaintUNet


@dataclass
class PaintModel:
    """Everything multiview sampling needs from one Paint folder."""

    unet: PaintUNet
    vae: nn.Module
    scheduler_config: dict
    path: Path

    @property
    def device(self) -> torch.device:
        return self.unet.unet.conv_in.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.unet.conv_in.weight.dtype
