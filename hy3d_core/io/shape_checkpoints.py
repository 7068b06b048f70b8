"""Find, recognise and load the released Hunyuan3D 2.0 shape checkpoints.

Accepted sources (docs/release_conventions.md, section 1):
- an official folder: ``config.yaml`` + ``model*.safetensors`` or ``model*.ckpt``, holding the
  DiT (``model.*``), the ShapeVAE (``vae.*``) and the DINOv2 conditioner (``conditioner.*``);
- a standalone VAE folder (``hunyuan3d-vae-v2-0*``): ``config.yaml`` with top-level
  ``target``/``params`` and a file of unprefixed VAE keys;
- a single file, official or ComfyUI's repackaged one, with or without a ``config.yaml``
  beside it; without one the networks are read off the tensor shapes.

Models are built on the meta device and the file's tensors are assigned one by one,
converted to the caller's dtype and device as they are read, so loading never holds two
copies of the weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

from ..models.families import (
    SHAPE_FAMILIES,
    ShapeFamily,
    family_for_keys,
    family_for_target,
    supported_targets,
)
from ..models.shape_model import ShapeModel, ShapeModelConfigs
from ..models.shape_vae import ShapeVAE
from .checkpoint_files import CheckpointError, TensorFile, split_parts
from .dinov2_layout import to_split_layout, uses_split_layout

CONFIG_NAME = "config.yaml"
# Preference order inside an official folder: safetensors before pickles, fp16 files as
# released before anything else.
WEIGHT_PATTERNS = (
    "model.fp16.safetensors",
    "model.safetensors",
    "model*.safetensors",
    "*.safetensors",
    "model.fp16.ckpt",
    "model.ckpt",
    "model*.ckpt",
    "*.ckpt",
)

@dataclass(frozen=True)
class PartDescription:
    name: str
    prefix: str
    tensors: int
    parameters: int
    dtypes: tuple[str, ...]


@dataclass(frozen=True)
class CheckpointDescription:
    """What ``inspect`` prints: what a path holds, without reading the weights."""

    path: Path
    weights: Path
    kind: str
    configs: ShapeModelConfigs
    parts: tuple[PartDescription, ...]


@dataclass
class _Source:
    path: Path
    weights: Path
    yaml: dict | None
    tensors: TensorFile


def open_source(path: str | Path) -> _Source:
    """Locate the weights file (and config.yaml) that ``path`` names."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(
            f"{path} does not exist. Expected an official Hunyuan3D 2.0 folder "
            f"(with {CONFIG_NAME} and model.fp16.safetensors) or a single .safetensors/.ckpt file."
        )
    if path.is_dir():
        weights = _find_weights(path)
        config_path = path / CONFIG_NAME
    else:
        weights = path
        config_path = path.parent / CONFIG_NAME
    yaml_config = _read_yaml(config_path) if config_path.is_file() else None
    return _Source(path=path, weights=weights, yaml=yaml_config, tensors=TensorFile(weights))


def _find_weights(folder: Path) -> Path:
    for pattern in WEIGHT_PATTERNS:
        matches = sorted(folder.glob(pattern))
        if matches:
            return matches[0]
    present = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "nothing"
    raise CheckpointError(
        f"No weights file in {folder}: expected model.fp16.safetensors (or model.fp16.ckpt) "
        f"from the Hunyuan3D 2.0 release; the folder holds {present}."
    )


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise CheckpointError(f"{path} is not valid YAML ({error}).") from error
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a Hunyuan3D config (expected a mapping).")
    return data


# ---------------------------------------------------------------------------------------
# Recognising what a file holds


def _part_prefixes(tensors: TensorFile, family: ShapeFamily) -> dict[str, str]:
    """Map part name -> key prefix for the parts of ``family`` present in the file."""
    keys = tensors.keys()
    dit_key, vae_key = family.dit_signature_key, family.vae_signature_key
    found: dict[str, str] = {}
    if f"model.{dit_key}" in tensors:
        found["dit"] = "model."
    elif dit_key in tensors:
        found["dit"] = ""
    if f"vae.{vae_key}" in tensors:
        found["vae"] = "vae."
    elif vae_key in tensors and "dit" not in found:
        found["vae"] = ""
    if any(k.startswith(f"conditioner.{family.conditioner_key_prefix}") for k in keys):
        found["conditioner"] = "conditioner."
    return found


def _recognise(source: _Source) -> tuple[ShapeFamily, dict[str, str]]:
    """The file's family (from its keys) and the prefixes of the parts it holds."""
    family = family_for_keys(source.tensors)
    if family is None:
        raise _not_hunyuan_error(source)
    return family, _part_prefixes(source.tensors, family)


def _not_hunyuan_error(source: _Source) -> CheckpointError:
    keys = source.tensors.keys()
    groups = split_parts(keys)
    summary = ", ".join(f"{name}.* ({len(group)})" for name, group in list(groups.items())[:6])
    expected = ", ".join(
        f"model.{family.dit_signature_key}, vae.{family.vae_signature_key} or "
        f"{family.vae_signature_key}"
        for family in SHAPE_FAMILIES
    )
    return CheckpointError(
        f"{source.weights} is not a Hunyuan3D 2.0 shape checkpoint: it has {len(keys)} tensors "
        f"({summary or 'none'}) and none of the keys {expected}. Expected a file from "
        "tencent/Hunyuan3D-2 (hunyuan3d-dit-v2-0*/model.fp16.safetensors) or ComfyUI's "
        "hunyuan3d-dit-v2*.safetensors."
    )


def _shapes(tensors: TensorFile, prefix: str) -> dict[str, torch.Size]:
    return {
        key[len(prefix):]: torch.Size(tensors.info(key).shape)
        for key in tensors.keys()
        if key.startswith(prefix)
    }


def _family_of_section(section: dict, part: str, path: Path) -> tuple[ShapeFamily, dict]:
    """The family whose ``part`` ("dit" or "vae") config.yaml's ``section`` names, and the
    section's params."""
    what = "DiT" if part == "dit" else "VAE"
    if not isinstance(section, dict):
        raise CheckpointError(
            f"{path}: the {what} section of config.yaml must be a mapping with target and "
            f"params, got {section!r}; restore the config.yaml of the release folder."
        )
    family = family_for_target(section.get("target", ""), part)
    if family is None:
        raise CheckpointError(
            f"{path}: config.yaml names {section.get('target')!r} for the {what}; this pack "
            f"loads {supported_targets(part)}; other models are not supported."
        )
    params = section.get("params") or {}
    if not isinstance(params, dict):
        raise CheckpointError(f"{path}: the {what}'s params in config.yaml must be a mapping.")
    return family, params


def _multiview_from_name(path: Path) -> bool:
    tokens = path.stem.lower().replace("_", "-").replace(".", "-").split("-")
    return "mv" in tokens


def resolve_configs(source: _Source) -> ShapeModelConfigs:
    """Configs from config.yaml when present, else read off the tensor shapes."""
    family, prefixes = _recognise(source)
    if source.yaml is None:
        return _configs_from_shapes(source, family, prefixes)
    configs = _configs_from_yaml(source, prefixes, family)
    if configs.dit is not None and "dit" in prefixes and configs.family is not family:
        raise CheckpointError(
            f"{source.weights.parent / CONFIG_NAME} describes a {configs.family.label} model but "
            f"{source.weights.name} holds {family.label} weights (model."
            f"{family.dit_signature_key}); the config.yaml does not belong to these weights: "
            "keep each release folder as downloaded."
        )
    return configs


def _configs_from_yaml(
    source: _Source, prefixes: dict[str, str], family: ShapeFamily
) -> ShapeModelConfigs:
    try:
        return _parse_yaml_configs(source, prefixes)
    except CheckpointError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise CheckpointError(
            f"{source.weights.parent / CONFIG_NAME} is not a valid {family.label} config: {error}"
        ) from error


def _parse_yaml_configs(source: _Source, prefixes: dict[str, str]) -> ShapeModelConfigs:
    data = source.yaml
    config_path = source.weights.parent / CONFIG_NAME
    notes: list[str] = []
    if "target" in data and "model" not in data:  # standalone VAE folder
        family, params = _family_of_section(data, "vae", config_path)
        return ShapeModelConfigs(
            family=family, variant="vae", dit=None, vae=family.vae_from_params(params),
            conditioner=None, config_source=str(config_path),
            image_size=family.defaults.image_size, border_ratio=family.defaults.border_ratio,
        )
    dit = vae = conditioner = None
    families = []
    if "model" in data:
        family, params = _family_of_section(data["model"], "dit", config_path)
        families.append(family)
        dit = family.dit_from_params(params)
    if "vae" in data:
        family, params = _family_of_section(data["vae"], "vae", config_path)
        families.append(family)
        vae = family.vae_from_params(params)
    if not families:
        raise CheckpointError(f"{config_path} has neither a model nor a vae section.")
    family = families[0]
    if "conditioner" in data:
        conditioner = family.conditioner_from_section(data["conditioner"])
    if "conditioner" not in prefixes and conditioner is not None:
        notes.append("the file holds no conditioner weights")
    processor = (data.get("image_processor") or {}).get("params") or {}
    return ShapeModelConfigs(
        family=family,
        variant=family.variant_name(dit, conditioner is not None and conditioner.multiview),
        dit=dit,
        vae=vae,
        conditioner=conditioner,
        config_source=str(config_path),
        image_size=int(processor.get("size", family.defaults.image_size)),
        border_ratio=float(processor.get("border_ratio", family.defaults.border_ratio)),
        notes=tuple(notes),
    )


def _configs_from_shapes(
    source: _Source, family: ShapeFamily, prefixes: dict[str, str]
) -> ShapeModelConfigs:
    tensors = source.tensors
    notes: list[str] = []
    dit = family.dit_from_shapes(_shapes(tensors, prefixes["dit"])) if "dit" in prefixes else None
    if dit is None:
        raise CheckpointError(
            f"{source.weights} holds a ShapeVAE without a {CONFIG_NAME} beside it. A standalone "
            f"VAE's latent count and scale factor are not stored in its weights: put the "
            f"{CONFIG_NAME} from the same release folder (e.g. hunyuan3d-vae-v2-0/) next to the file."
        )
    preset = family.vae_preset_for_dit(dit)
    num_latents = preset.num_latents
    # A folder is a release layout, which always has its config.yaml; without it a network
    # no release has (the demo model's, a trained one) would sample a count it never saw.
    # Single files carry no config by design (ComfyUI's repackaged checkpoints) and keep
    # the released count.
    unknown_latents = ""
    if source.path.is_dir() and family.variant_name(dit, False) == "custom":
        unknown_latents = (
            f"{source.path} has no {CONFIG_NAME} and its DiT matches no released "
            f"{family.label} model, so its latent count and scale factor (not stored in the "
            f"weights) are unknown; put the {CONFIG_NAME} it was made with back into the folder."
        )
        notes.append(f"no {CONFIG_NAME} and no released network: latent count unknown")
    else:
        notes.append(f"no {CONFIG_NAME}: networks read from tensor shapes, {num_latents} latents assumed")
    vae = None
    if "vae" in prefixes:
        vae = family.vae_from_shapes(_shapes(tensors, prefixes["vae"]), num_latents=num_latents)
        vae = dataclasses.replace(vae, scale_factor=preset.scale_factor)
    conditioner = None
    if "conditioner" in prefixes:
        multiview = _multiview_from_name(source.weights)
        if multiview:
            notes.append("multi-view conditioner assumed from the file name")
        conditioner = family.conditioner_from_shapes(
            _shapes(tensors, prefixes["conditioner"] + family.conditioner_key_prefix),
            multiview=multiview,
        )
    return ShapeModelConfigs(
        family=family,
        variant=family.variant_name(dit, conditioner is not None and conditioner.multiview),
        dit=dit,
        vae=vae,
        conditioner=conditioner,
        config_source="tensor shapes",
        image_size=family.defaults.image_size,
        border_ratio=family.defaults.border_ratio,
        notes=tuple(notes),
        unknown_latents=unknown_latents,
    )


def describe_checkpoint(path: str | Path) -> CheckpointDescription:
    """Recognise what ``path`` holds from its config and tensor table only."""
    source = open_source(path)
    configs = resolve_configs(source)
    prefixes = _part_prefixes(source.tensors, configs.family)
    parts = []
    for name, prefix in prefixes.items():
        keys = [k for k in source.tensors.keys() if k.startswith(prefix)]
        if name == "dit" and prefix == "":
            keys = [k for k in keys if not k.startswith(("vae.", "conditioner."))]
        infos = [source.tensors.info(k) for k in keys]
        parts.append(
            PartDescription(
                name=name,
                prefix=prefix,
                tensors=len(keys),
                parameters=sum(prod(i.shape) for i in infos),
                dtypes=tuple(sorted({str(i.dtype).removeprefix("torch.") for i in infos})),
            )
        )
    kind = "folder" if source.path.is_dir() else "single file"
    return CheckpointDescription(
        path=source.path, weights=source.weights, kind=kind, configs=configs, parts=tuple(parts)
    )


# ---------------------------------------------------------------------------------------
# Loading


def load_shape_model(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    parts: Iterable[str] = ("dit", "vae", "conditioner"),
) -> ShapeModel:
    """Load the DiT, VAE and conditioner of an official folder or single file.

    ``parts`` limits what is built (a decoding-only graph needs just the VAE).
    """
    wanted = set(parts)
    unknown = wanted - {"dit", "vae", "conditioner"}
    if unknown:
        raise ValueError(f"Unknown parts {sorted(unknown)}; choose from dit, vae, conditioner.")
    source = open_source(path)
    configs = resolve_configs(source)
    family = configs.family
    prefixes = _part_prefixes(source.tensors, family)
    if "dit" in wanted and "dit" not in prefixes:
        raise CheckpointError(
            f"{source.weights} holds a ShapeVAE, not a shape model (no "
            f"model.{family.dit_signature_key}). Load "
            "it as a VAE (load_shape_vae / the Load Shape VAE node), or pick the "
            "hunyuan3d-dit-v2-* checkpoint here."
        )
    device = torch.device(device)
    loaded: dict[str, nn.Module | None] = {"dit": None, "vae": None, "conditioner": None}
    builders: dict[str, tuple[Callable[[], nn.Module], object]] = {
        "dit": (lambda: family.build_dit(configs.dit), configs.dit),
        "vae": (lambda: family.build_vae(configs.vae), configs.vae),
        "conditioner": (lambda: family.build_conditioner(configs.conditioner), configs.conditioner),
    }
    for name in ("dit", "vae", "conditioner"):
        if name not in wanted:
            continue
        build, config = builders[name]
        if name not in prefixes or config is None:
            raise _missing_part_error(source, name)
        loaded[name] = _load_part(build, source.tensors, prefixes[name], name, device, dtype)
    return ShapeModel(
        configs=configs,
        dit=loaded["dit"],
        vae=loaded["vae"],
        conditioner=loaded["conditioner"],
        source=source.path,
        dtype=dtype,
        device=device,
    )


def load_shape_vae(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[ShapeVAE, ShapeModelConfigs]:
    """Load a ShapeVAE from a standalone VAE folder or from a combined shape checkpoint."""
    source = open_source(path)
    configs = resolve_configs(source)
    prefixes = _part_prefixes(source.tensors, configs.family)
    if "vae" not in prefixes or configs.vae is None:
        raise _missing_part_error(source, "vae")
    vae = _load_part(
        lambda: configs.family.build_vae(configs.vae), source.tensors, prefixes["vae"], "vae",
        torch.device(device), dtype,
    )
    return vae, configs


def _missing_part_error(source: _Source, name: str) -> CheckpointError:
    what = {"dit": "DiT (model.*)", "vae": "ShapeVAE (vae.*)", "conditioner": "image conditioner (conditioner.*)"}[name]
    return CheckpointError(
        f"{source.weights} has no {what} weights"
        + (" or its config.yaml has no section for it" if source.yaml is not None else "")
        + ". The official hunyuan3d-dit-v2-0 files hold all three parts; download the full "
        "model.fp16.safetensors from tencent/Hunyuan3D-2."
    )


def _load_part(
    build: Callable[[], nn.Module],
    tensors: TensorFile,
    prefix: str,
    name: str,
    device: torch.device,
    dtype: torch.dtype,
) -> nn.Module:
    with torch.device("meta"):
        module = build()
    expected = {k: v.shape for k, v in module.state_dict().items()}
    items = [
        (key[len(prefix):], (lambda key=key: tensors.tensor(key)))
        for key in tensors.keys()
        if key.startswith(prefix) and not (prefix == "" and key.startswith(("vae.", "conditioner.")))
    ]
    if name == "conditioner" and uses_split_layout(expected):
        items = list(to_split_layout(items))
    found = dict(items)
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointError(_key_mismatch_message(tensors.path, name, missing, unexpected))
    state: dict[str, torch.Tensor] = {}
    for key, load in found.items():
        tensor = load()
        if tuple(tensor.shape) != tuple(expected[key]):
            raise CheckpointError(
                f"{tensors.path}: {name} weight {prefix}{key} has shape {tuple(tensor.shape)} but "
                f"the config builds {tuple(expected[key])}; the config.yaml does not belong to "
                "these weights."
            )
        target_dtype = dtype if tensor.is_floating_point() else tensor.dtype
        state[key] = tensor.to(device=device, dtype=target_dtype)
    module.load_state_dict(state, strict=True, assign=True)
    module.eval().requires_grad_(False)
    return module


def _key_mismatch_message(path: Path, name: str, missing: list[str], unexpected: list[str]) -> str:
    lines = [f"{path}: the {name} weights do not match the network its config describes."]
    if missing:
        lines.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}.")
    if unexpected:
        lines.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:3])}.")
    lines.append("The file may be truncated, another model, or paired with the wrong config.yaml.")
    return " ".join(lines)
