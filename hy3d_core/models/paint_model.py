"""The loaded Hunyuan3D-Paint model: what multiview sampling needs from one Paint folder.

A type of the models layer, so that the Paint sampler, the texturing job and the nodes
can name it without importing the loader in ``io/paint_checkpoints.py`` that makes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .dino_features import DinoFeatures
from .paint_pbr_unet import PaintPbrUNet
from .paint_unet import PaintUNet


@dataclass
class _PaintNetworks:
    """What both Paint generations load from their folder: the 2.5D UNet (main and
    reference copies), the SD VAE and the scheduler settings."""

    unet: nn.Module
    vae: nn.Module
    scheduler_config: dict
    path: Path

    @property
    def device(self) -> torch.device:
        return self.unet.unet.conv_in.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.unet.conv_in.weight.dtype


@dataclass
class PaintModel(_PaintNetworks):
    """Everything Hunyuan3D-Paint 2.0's multiview sampling needs (``unet`` a PaintUNet)."""

    unet: PaintUNet


@dataclass
class PaintPbrModel(_PaintNetworks):
    """Everything Paint 2.1's PBR multiview sampling needs (``unet`` a PaintPbrUNet), and
    the DINOv2 that encodes the reference for it."""

    unet: PaintPbrUNet
    dino: DinoFeatures
