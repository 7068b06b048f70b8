"""The shape model families this pack runs, one row each, and how a checkpoint is matched
to its row.

A row says how to recognise the family (the class names its ``config.yaml`` names for the
DiT and the VAE, and a key only its bare DiT state dict has), which config parsers,
shape inferrers and network builders make its DiT, VAE and image conditioner, and the
settings its release samples and decodes with. The loaders in ``io/``, the commands and
the nodes ask this table instead of naming a family, so adding a family is a new row
and the modules its row names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from .conditioner import ImageConditioner
from .conditioner_config import ConditionerConfig, infer_conditioner_config
from .dit import HunyuanDiT
from .dit_config import DIT_PRESETS, DiTConfig, infer_dit_config
from .dit_v2_1 import HunyuanDiTPlain
from .dit_v2_1_config import DIT_V2_1_PRESETS, DiTPlainConfig, infer_config_from_shapes
from .shape_vae import ShapeVAE
from .shape_vae_config import VAE_PRESETS, ShapeVAEConfig, infer_vae_config


@dataclass(frozen=True)
class ShapeDefaults:
    """Sampling and decoding settings a job uses when the user does not give them."""

    steps: int
    guidance: float
    octree_resolution: int
    decoder: str
    max_faces: int
    # The orbit pose (azimuth, elevation) the model expects its input image from, where
    # projection texturing puts the image: the release trains on front views, the demo
    # model on three-quarter views around this one.
    image_view: tuple[float, float]
    # The conditioner's input image: side in pixels and the empty border around the
    # object, as the release's image processor makes it (used when config.yaml is silent).
    image_size: int = 512
    border_ratio: float = 0.15


@dataclass(frozen=True)
class ReleaseTargets:
    """The class paths a release's config.yaml names for each section, which the
    checkpoint writer puts in the folders it writes so that they read like a download:
    2.0's reference package is ``hy3dgen``, 2.1's is ``hy3dshape`` (which names no
    pipeline class and has no multi-view image processor)."""

    dit: str
    vae: str
    conditioner: str
    scheduler: str
    image_processor: str
    multiview_image_processor: str | None
    pipeline: str | None


@dataclass(frozen=True)
class ShapeFamily:
    """One model family: how to recognise its files and how to build its networks."""

    name: str
    label: str
    # Class names (the last part of ``target``) config.yaml gives the DiT and the VAE.
    dit_targets: tuple[str, ...]
    vae_targets: tuple[str, ...]
    # A key of the bare DiT state dict (``model.`` stripped) that no other family has.
    dit_signature_key: str
    # A key of the bare VAE state dict (``vae.`` stripped).
    vae_signature_key: str
    # The prefix, under ``conditioner.``, of the image encoder's weights.
    conditioner_key_prefix: str
    dit_from_params: Callable[[Mapping[str, Any]], Any]
    dit_from_shapes: Callable[[Mapping[str, Any]], Any]
    build_dit: Callable[[Any], nn.Module]
    vae_from_params: Callable[[Mapping[str, Any]], Any]
    vae_from_shapes: Callable[..., Any]
    build_vae: Callable[[Any], nn.Module]
    conditioner_from_section: Callable[[Mapping[str, Any]], Any]
    conditioner_from_shapes: Callable[..., Any]
    build_conditioner: Callable[[Any], nn.Module]
    # The released VAE a bare DiT file goes with: its latent count and scale factor are
    # not stored in the weights.
    vae_preset_for_dit: Callable[[Any], Any]
    # The variant name ``inspect`` prints, from the DiT config and whether the
    # conditioner is multi-view.
    variant_name: Callable[[Any, bool], str]
    defaults: ShapeDefaults
    release_targets: ReleaseTargets

    @property
    def default_num_latents(self) -> int:
        """The latent count sampling uses when no VAE config says otherwise."""
        return self.vae_preset_for_dit(None).num_latents


def _hunyuan3d_20_vae_preset(dit: DiTConfig | None) -> ShapeVAEConfig:
    """Hunyuan3D-2mini's DiT is the only 2.0 DiT half as deep, and its VAE the only one
    with 512 latents; every other 2.0 DiT goes with v2-0's VAE."""
    if dit is not None and dit.depth == DIT_PRESETS["v2-mini"].depth:
        return VAE_PRESETS["v2-mini"]
    return VAE_PRESETS["v2-0"]


def _hunyuan3d_20_variant(dit: DiTConfig | None, multiview: bool) -> str:
    if dit is None:
        return "vae"
    if multiview:
        return "v2-mv-fast" if dit.guidance_embed else "v2-mv"
    for name, preset in DIT_PRESETS.items():
        if name != "v2-mv" and preset == dit:
            return name
    return "custom"


HUNYUAN3D_2_0 = ShapeFamily(
    name="hunyuan3d-2.0",
    label="Hunyuan3D 2.0",
    dit_targets=("Hunyuan3DDiT",),
    vae_targets=("ShapeVAE",),
    dit_signature_key="latent_in.weight",
    vae_signature_key="geo_decoder.output_proj.weight",
    conditioner_key_prefix="main_image_encoder.model.",
    dit_from_params=DiTConfig.from_params,
    dit_from_shapes=infer_dit_config,
    build_dit=HunyuanDiT,
    vae_from_params=ShapeVAEConfig.from_params,
    vae_from_shapes=infer_vae_config,
    build_vae=ShapeVAE,
    conditioner_from_section=ConditionerConfig.from_yaml_section,
    conditioner_from_shapes=infer_conditioner_config,
    build_conditioner=ImageConditioner,
    vae_preset_for_dit=_hunyuan3d_20_vae_preset,
    variant_name=_hunyuan3d_20_variant,
    # The release pipeline's defaults (its demo app uses 30 steps).
    defaults=ShapeDefaults(
        steps=50, guidance=5.0, octree_resolution=384, decoder="dense", max_faces=40000,
        image_view=(0.0, 0.0),
    ),
    release_targets=ReleaseTargets(
        dit="hy3dgen.shapegen.models.Hunyuan3DDiT",
        vae="hy3dgen.shapegen.models.ShapeVAE",
        conditioner="hy3dgen.shapegen.models.SingleImageEncoder",
        scheduler="hy3dgen.shapegen.schedulers.FlowMatchEulerDiscreteScheduler",
        image_processor="hy3dgen.shapegen.preprocessors.ImageProcessorV2",
        multiview_image_processor="hy3dgen.shapegen.preprocessors.MVImageProcessorV2",
        pipeline="hy3dgen.shapegen.pipelines.Hunyuan3DDiTFlowMatchingPipeline",
    ),
)

def _hunyuan3d_21_variant(dit: DiTPlainConfig | None, multiview: bool) -> str:
    if dit is None:
        return "vae"
    for name, preset in DIT_V2_1_PRESETS.items():
        if preset == dit:
            return name
    return "custom"


HUNYUAN3D_2_1 = dataclasses.replace(
    HUNYUAN3D_2_0,
    name="hunyuan3d-2.1",
    label="Hunyuan3D 2.1",
    dit_targets=("HunYuanDiTPlain",),
    dit_signature_key="t_embedder.mlp.2.weight",
    dit_from_params=DiTPlainConfig.from_params,
    dit_from_shapes=infer_config_from_shapes,
    build_dit=HunyuanDiTPlain,
    # One released VAE (4096 latents, scale factor 1.00395...); FlashVDM decodes with it too.
    vae_preset_for_dit=lambda dit: VAE_PRESETS["v2-1"],
    variant_name=_hunyuan3d_21_variant,
    release_targets=ReleaseTargets(
        dit="hy3dshape.models.denoisers.hunyuandit.HunYuanDiTPlain",
        vae="hy3dshape.models.autoencoders.ShapeVAE",
        conditioner="hy3dshape.models.conditioner.SingleImageEncoder",
        scheduler="hy3dshape.schedulers.FlowMatchEulerDiscreteScheduler",
        image_processor="hy3dshape.preprocessors.ImageProcessorV2",
        multiview_image_processor=None,
        pipeline=None,
    ),
)
"""Hunyuan3D 2.1: the 2.0 row with its own DiT. The VAE class, the DINOv2 conditioner
(here DINOv2-Large, read from config.yaml or the weights) and the release pipeline's
defaults are 2.0's (docs/release_conventions_2_1.md, sections 1, 6 and 7)."""

SHAPE_FAMILIES: tuple[ShapeFamily, ...] = (HUNYUAN3D_2_0, HUNYUAN3D_2_1)
"""Every family the loaders recognise, tried in this order."""


def family_for_target(target: str, part: str) -> ShapeFamily | None:
    """The family whose config.yaml names class ``target`` (a dotted path or its last
    part) for ``part`` ("dit" or "vae"), or None."""
    class_name = str(target).rsplit(".", 1)[-1]
    for family in SHAPE_FAMILIES:
        if class_name in (family.dit_targets if part == "dit" else family.vae_targets):
            return family
    return None


def family_of_dit(dit: nn.Module) -> ShapeFamily:
    """The family whose row builds this DiT network."""
    for family in SHAPE_FAMILIES:
        if isinstance(dit, family.build_dit):
            return family
    raise ValueError(f"{type(dit).__name__} is not the DiT of any family this pack runs")


def family_for_keys(keys: Container[str]) -> ShapeFamily | None:
    """The family of a state dict from its keys: a DiT signature key (bare or under
    ``model.``) first, then a bare or ``vae.``-prefixed VAE key; None when neither."""
    for family in SHAPE_FAMILIES:
        if family.dit_signature_key in keys or f"model.{family.dit_signature_key}" in keys:
            return family
    for family in SHAPE_FAMILIES:
        if family.vae_signature_key in keys or f"vae.{family.vae_signature_key}" in keys:
            return family
    return None


def supported_targets(part: str) -> str:
    """What the loaders accept for ``part``, for error messages."""
    return " or ".join(
        f"{family.label}'s {'/'.join(family.dit_targets if part == 'dit' else family.vae_targets)}"
        for family in SHAPE_FAMILIES
    )

