"""The loaded shape model: its networks and the configs they were built from.

A type of the models layer, so that the pipelines, the nodes and the texture code can
name it without importing the loaders in ``io/`` that make one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..io.checkpoint_files import CheckpointError
from .conditioner import ImageConditioner
from .conditioner_config import ConditionerConfig
from .dit import HunyuanDiT
from .dit_config import DiTConfig
from .families import ShapeFamily
from .shape_vae import ShapeVAE
from .shape_vae_config import ShapeVAEConfig


@dataclass(frozen=True)
class ShapeModelConfigs:
    """Everything needed to build and drive one shape checkpoint."""

    family: ShapeFamily
    variant: str
    dit: DiTConfig | None
    vae: ShapeVAEConfig | None
    conditioner: ConditionerConfig | None
    config_source: str
    image_size: int
    border_ratio: float
    notes: tuple[str, ...] = ()
    # Why the latent count is unknown; empty when config.yaml or a released network gives it.
    unknown_latents: str = ""

    @property
    def num_latents(self) -> int:
        if self.unknown_latents:
            raise CheckpointError(self.unknown_latents)
        return self.vae.num_latents if self.vae is not None else self.family.default_num_latents

    @property
    def guidance_embedded(self) -> bool:
        return bool(self.dit is not None and self.dit.guidance_embed)

    @property
    def multiview(self) -> bool:
        return bool(self.conditioner is not None and self.conditioner.multiview)


@dataclass
class ShapeModel:
    """The loaded networks of one shape checkpoint; parts not asked for are None."""

    configs: ShapeModelConfigs
    dit: HunyuanDiT | None
    vae: ShapeVAE | None
    conditioner: ImageConditioner | None
    source: Path
    dtype: torch.dtype = torch.float32
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
