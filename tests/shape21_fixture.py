"""Our networks built from the tiny Hunyuan3D 2.1 shape oracle (shared/fixtures/hy3d21-shape).

The fixture's ``model.fp16.ckpt`` is the released format (``torch.save`` of
``{'model', 'vae', 'conditioner'}`` fp16 state dicts); Tencent's references were computed
in float32 from those fp16 values, so every part is loaded here as float32.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import yaml

from hy3d_core.io.dinov2_layout import to_split_layout, uses_split_layout
from hy3d_core.models.conditioner import ImageConditioner
from hy3d_core.models.conditioner_config import ConditionerConfig
from hy3d_core.models.dit_v2_1 import HunyuanDiTPlain
from hy3d_core.models.dit_v2_1_config import DiTPlainConfig
from hy3d_core.models.shape_vae import ShapeVAE
from hy3d_core.models.shape_vae_config import ShapeVAEConfig
from shared_fixtures import SHAPE_21, fixture_dir

SUBFOLDER = "hunyuan3d-dit-v2-1"


def fixture_config() -> dict:
    """The fixture's config.yaml (sections model, vae, conditioner, ...)."""
    with open(fixture_dir(SHAPE_21) / SUBFOLDER / "config.yaml", encoding="utf-8") as file:
        return yaml.safe_load(file)


@lru_cache(maxsize=1)
def _checkpoint() -> dict[str, dict[str, torch.Tensor]]:
    path = fixture_dir(SHAPE_21) / SUBFOLDER / "model.fp16.ckpt"
    return torch.load(path, map_location="cpu", weights_only=True)


def part_state_dict(part: str) -> dict[str, torch.Tensor]:
    """One part (``model``, ``vae`` or ``conditioner``) of the checkpoint in float32."""
    return {key: value.float() for key, value in _checkpoint()[part].items()}


def load_dit() -> HunyuanDiTPlain:
    model = HunyuanDiTPlain(DiTPlainConfig.from_params(fixture_config()["model"]["params"]))
    model.load_state_dict(part_state_dict("model"), strict=True)
    return model.eval()


def load_vae() -> ShapeVAE:
    vae = ShapeVAE(ShapeVAEConfig.from_params(fixture_config()["vae"]["params"]))
    vae.load_state_dict(part_state_dict("vae"), strict=True)
    return vae.eval()


def load_conditioner() -> ImageConditioner:
    """The DINOv2 conditioner; the file's transformers-4 names are converted when the
    installed transformers uses the version-5 names."""
    conditioner = ImageConditioner(ConditionerConfig.from_yaml_section(fixture_config()["conditioner"]))
    state = part_state_dict("conditioner")
    if uses_split_layout(conditioner.state_dict()):
        state = {key: load() for key, load in to_split_layout(
            (key, lambda value=value: value) for key, value in state.items())}
    conditioner.load_state_dict(state, strict=True)
    return conditioner
