"""Load the released ``hunyuan3d-paintpbr-v2-1`` folder and its DINOv2-giant into a :class:`PaintPbrModel`.

The folder is a diffusers pipeline layout whose ``unet/`` holds the wrapped 2.5D model
(main UNet + reference UNet + extra attentions, ``hy3d_core.models.paint_pbr_unet``) as a
torch pickle beside a plain SD 2.1 ``config.json``: the model is built from that config on
the meta device and the weights are assigned key by key with a strict check. ``vae/`` is
an ordinary ``AutoencoderKL``; ``scheduler/`` contributes its noise-schedule settings;
the text encoder is never needed (learned tokens replace it). See
docs/release_conventions_2_1.md, section 9.

The release also needs ``facebook/dinov2-giant`` (a transformers ``Dinov2Model`` folder),
looked for beside the paint folder and then in ``<models>/hunyuan3d/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..models.conditioner_config import Dinov2Architecture
from ..models.dino_features import DinoFeatures, DinoPreprocessing
from ..models.paint_model import PaintPbrModel
from ..models.paint_pbr_unet import PaintPbrUNet
from .checkpoint_files import CheckpointError, TensorFile, strict_state_dict
from .dinov2_layout import to_split_layout, uses_split_layout
from .paint_checkpoints import _load_vae, _read_json
from .paint_family import PAINT_PBR_21, find_unet_weights, paint_family, require_paint_family

DINO_FOLDER = "dinov2-giant"
DINO_REPO = "facebook/dinov2-giant"
DINO_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
MODELS_SUBFOLDER = "hunyuan3d"
SCHEDULER_CONFIG = Path("scheduler") / "scheduler_config.json"
_DINO_PROJECTION = "unet.image_proj_model_dino.proj.weight"


@dataclass
class PaintPbrDescription:
    """What ``inspect`` says about a paint folder without loading it."""

    family: str | None
    unet_parameters: int
    missing: list[str] = field(default_factory=list)


def load_paint_pbr_model(
    folder: str | Path,
    dino_folder: str | Path | None = None,
    models_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> PaintPbrModel:
    """Load the PBR UNet, VAE, scheduler settings and DINOv2 (see :func:`locate_dino_folder`)."""
    folder = Path(folder)
    _check_folder(folder)
    require_paint_family(folder, PAINT_PBR_21)
    dino_path = locate_dino_folder(folder, dino_folder, models_dir)
    device = torch.device(device)
    unet = load_paint_pbr_unet(folder / "unet", device, dtype)
    dino = load_dino_features(dino_path, device, dtype)
    expected_width = unet.unet.image_proj_model_dino.proj.in_features
    if dino.width != expected_width:
        raise CheckpointError(
            f"{dino_path} is a DINOv2 with {dino.width}-wide tokens, but the Paint PBR UNet projects "
            f"{expected_width}-wide ones; use {DINO_REPO} (or the DINOv2 the UNet was trained with)."
        )
    return PaintPbrModel(
        unet=unet,
        vae=_load_vae(folder / "vae", device, dtype),
        scheduler_config=_read_json(folder / SCHEDULER_CONFIG),
        dino=dino,
        path=folder,
    )


def load_paint_pbr_unet(
    unet_folder: str | Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> PaintPbrUNet:
    """Build the PBR UNet from ``config.json`` on the meta device and load its weights strictly.

    The DINO projection's input width is read off the weights (1536 for dinov2-giant).
    """
    unet_folder = Path(unet_folder)
    config_path = unet_folder / "config.json"
    config = _read_json(config_path)
    weights = find_unet_weights(unet_folder.parent)
    if weights is None or weights.parent != unet_folder:
        raise CheckpointError(
            f"{unet_folder} holds no UNet weights; expected diffusion_pytorch_model.bin (the released file) "
            "there. Download it again if it is missing."
        )
    tensors = TensorFile(weights)
    if _DINO_PROJECTION not in tensors:
        raise CheckpointError(
            f"{weights} has no {_DINO_PROJECTION}: it is not a Hunyuan3D-Paint 2.1 PBR UNet "
            f"({PAINT_PBR_21}/unet)."
        )
    dino_width = tensors.info(_DINO_PROJECTION).shape[1]
    with torch.device("meta"):
        try:
            model = PaintPbrUNet(config, dino_width=dino_width)
        except TypeError as error:
            raise CheckpointError(f"{config_path} is not a UNet2DConditionModel config ({error}).") from error
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    state = strict_state_dict(
        expected,
        {key: (lambda key=key: tensors.tensor(key)) for key in tensors.keys()},
        weights,
        config_path,
        device,
        dtype,
    )
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def load_dino_features(
    folder: str | Path,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> DinoFeatures:
    """Load a transformers ``Dinov2Model`` folder (``config.json``, ``model.safetensors``,
    ``preprocessor_config.json``) written with transformers 4 or 5 key names."""
    from transformers import Dinov2Model

    folder = Path(folder)
    for name in DINO_FILES:
        if not (folder / name).is_file():
            raise CheckpointError(
                f"{folder / name} is missing; the DINOv2 folder needs {', '.join(DINO_FILES)} "
                f"from {DINO_REPO}."
            )
    try:
        architecture = Dinov2Architecture.from_dict(_read_json(folder / "config.json"))
        preprocessing = DinoPreprocessing.from_config(_read_json(folder / "preprocessor_config.json"))
    except ValueError as error:
        raise CheckpointError(f"{folder} is not a usable DINOv2 folder: {error}") from error
    with torch.device("meta"):
        model = Dinov2Model(architecture.to_transformers())
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    tensors = TensorFile(folder / "model.safetensors")
    items = [(key, lambda key=key: tensors.tensor(key)) for key in tensors.keys()]
    if uses_split_layout(expected):
        items = list(to_split_layout(items))
    state = strict_state_dict(expected, dict(items), tensors.path, folder / "config.json", device, dtype)
    model.load_state_dict(state, strict=True, assign=True)
    return DinoFeatures(model.eval().requires_grad_(False), preprocessing)


def locate_dino_folder(
    paint_folder: str | Path,
    dino_folder: str | Path | None = None,
    models_dir: str | Path | None = None,
) -> Path:
    """The DINOv2-giant folder: ``dino_folder`` when given, else ``dinov2-giant`` beside the
    paint folder, else ``<models_dir>/hunyuan3d/dinov2-giant``."""
    if dino_folder is not None:
        dino_folder = Path(dino_folder)
        if not dino_folder.is_dir():
            raise CheckpointError(f"{dino_folder} is not a folder; point to the {DINO_REPO} folder.")
        return dino_folder
    candidates = _dino_candidates(Path(paint_folder), models_dir)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = " and ".join(str(candidate) for candidate in candidates)
    raise CheckpointError(
        f"The Paint PBR model needs DINOv2-giant, which was not found (looked in {looked}). Download "
        f"{DINO_REPO} ({', '.join(DINO_FILES)}) into {candidates[-1]}."
    )


def describe_paint_folder(
    folder: str | Path,
    models_dir: str | Path | None = None,
) -> PaintPbrDescription:
    """Family, UNet parameter count and the files a generation would still need, read without loading.

    Works for 2.0 folders as well; only a 2.1 PBR folder needs a DINOv2 folder.
    """
    folder = Path(folder)
    family = paint_family(folder)
    missing = [
        str(folder / part)
        for part in ("unet/config.json", "vae/config.json", str(SCHEDULER_CONFIG))
        if not (folder / part).is_file()
    ]
    weights = find_unet_weights(folder)
    parameters = 0
    if weights is None:
        missing.append(str(folder / "unet" / "diffusion_pytorch_model.bin"))
    else:
        tensors = TensorFile(weights)
        parameters = sum(_count(tensors.info(key).shape) for key in tensors.keys())
    if family == PAINT_PBR_21 and not any(candidate.is_dir() for candidate in _dino_candidates(folder, models_dir)):
        missing.append(f"{DINO_REPO} (as {_dino_candidates(folder, models_dir)[-1]})")
    return PaintPbrDescription(family=family, unet_parameters=parameters, missing=missing)


def _dino_candidates(paint_folder: Path, models_dir: str | Path | None) -> list[Path]:
    candidates = [paint_folder.parent / DINO_FOLDER]
    if models_dir is not None:
        candidates.append(Path(models_dir) / MODELS_SUBFOLDER / DINO_FOLDER)
    return candidates


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder} is not a folder. Point to the {PAINT_PBR_21} folder (the one holding unet/, vae/ "
            "and scheduler/)."
        )
    missing = [name for name in ("unet", "vae", "scheduler") if not (folder / name).is_dir()]
    if missing:
        raise CheckpointError(
            f"{folder} has no {', '.join(name + '/' for name in missing)}: it is not a Hunyuan3D-Paint "
            f"folder. Expected {PAINT_PBR_21} with unet/ (config.json + diffusion_pytorch_model.bin), "
            "vae/ and scheduler/."
        )
