"""The ``train-vae`` and ``train-dit`` commands.

Network sizes are given as a *config spec*: ``NAME[:key=value,...]`` where NAME is a
released preset, ``tiny`` (a few-hundred-thousand-parameter model that trains on a CPU),
or a ``.yaml`` file (a released ``config.yaml``, or just the section's ``params``), and
the optional ``key=value`` pairs override single fields, e.g. ``tiny:width=128,num_latents=128``.
Under torchrun (``WORLD_SIZE`` > 1) the commands join the process group and train in
data parallel; only rank 0 writes files.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import yaml

from ..devices import DEVICE_CHOICES, resolve_device
from ..io.shape_checkpoints import describe_checkpoint
from ..models.conditioner_config import CONDITIONER_PRESETS, ConditionerConfig, Dinov2Architecture
from ..models.dit_config import DIT_PRESETS, DiTConfig
from ..models.shape_vae_config import VAE_PRESETS, ShapeVAEConfig
from ..sampling.progress import Progress, StderrBar
from ..training.distributed import is_main_process, process_group, stop_on_interrupt
from ..training.dit_training import train_dit
from ..training.vae_training import train_vae

TINY = "tiny"
# A tiny ShapeVAE with an encoder: fits the procedural demo shapes on a CPU in minutes.
TINY_VAE_PARAMS: dict[str, Any] = dict(
    num_latents=64, embed_dim=8, width=64, heads=4, num_decoder_layers=2, num_freqs=8,
    include_pi=False, qkv_bias=False, qk_norm=True, scale_factor=1.0, num_encoder_layers=1,
    point_feats=4, pc_size=1024, pc_sharpedge_size=512, downsample_ratio=4,
)
TINY_DIT_PARAMS: dict[str, Any] = dict(
    hidden_size=64, mlp_ratio=4.0, num_heads=4, depth=1, depth_single_blocks=2, axes_dim=[16],
)
TINY_DINOV2_PARAMS: dict[str, Any] = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, patch_size=14, image_size=56,
)
EXPORT_DTYPES = ("float16", "bfloat16", "float32")


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME[:key=value,...]`` -> (NAME, overrides); values are read as YAML scalars/lists."""
    name, _, rest = spec.partition(":")
    overrides: dict[str, Any] = {}
    for pair in filter(None, (part.strip() for part in _split_pairs(rest))):
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"config override {pair!r} in {spec!r} is not key=value")
        overrides[key.strip()] = yaml.safe_load(value)
    return name.strip(), overrides


def _split_pairs(text: str) -> list[str]:
    """Split on commas outside brackets, so ``axes_dim=[16,16]`` stays one pair."""
    pairs, depth, current = [], 0, ""
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            pairs.append(current)
            current = ""
        else:
            current += char
    return pairs + [current]


def _yaml_section(path: Path, section: str) -> Mapping[str, Any]:
    """A released config.yaml's ``section`` (or the file itself when it is that section)."""
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping):
        raise ValueError(f"{path} does not hold a mapping")
    if section in data and isinstance(data[section], Mapping):
        data = data[section]
    return data


def _params_of(data: Mapping[str, Any]) -> dict[str, Any]:
    params = data.get("params", data) if "target" in data else data
    return dict(params)


def _named(kind: str, presets: Mapping[str, Any], name: str) -> Any:
    if name not in presets:
        raise ValueError(f"unknown {kind} config {name!r}: use one of "
                         f"{', '.join([TINY, *presets])}, or a .yaml file")
    return presets[name]


def vae_config_from_spec(spec: str):
    """A ShapeVAEConfig from a spec (presets: VAE_PRESETS)."""
    name, overrides = split_spec(spec)
    if name == TINY:
        params = dict(TINY_VAE_PARAMS)
    elif name.endswith((".yaml", ".yml")):
        section = _yaml_section(Path(name), "vae")
        params = _params_of(section)
    else:
        params = dataclasses.asdict(_named("VAE", VAE_PRESETS, name))
    return ShapeVAEConfig.from_params({**params, **overrides})


def conditioner_config_from_spec(spec: str):
    """A ConditionerConfig from a spec (presets: CONDITIONER_PRESETS). Overrides set DINOv2
    fields; ``image_size`` sets both the input crop and DINOv2's grid, as in every release."""
    name, overrides = split_spec(spec)
    if name == TINY:
        base = ConditionerConfig(dinov2=Dinov2Architecture(**TINY_DINOV2_PARAMS),
                                 image_size=TINY_DINOV2_PARAMS["image_size"])
    elif name.endswith((".yaml", ".yml")):
        base = ConditionerConfig.from_yaml_section(_yaml_section(Path(name), "conditioner"))
    else:
        base = _named("conditioner", CONDITIONER_PRESETS, name)
    if not overrides:
        return base
    dinov2 = Dinov2Architecture.from_dict({**dataclasses.asdict(base.dinov2), **overrides})
    return dataclasses.replace(base, dinov2=dinov2,
                               image_size=int(overrides.get("image_size", base.image_size)))


def dit_config_from_spec(spec: str, *, latent_channels: int, context_width: int):
    """A DiTConfig from a spec (presets: DIT_PRESETS). ``tiny`` takes its latent channels
    and context width from the VAE and conditioner it is trained with."""
    name, overrides = split_spec(spec)
    if name == TINY:
        params = dict(TINY_DIT_PARAMS, in_channels=latent_channels, context_in_dim=context_width)
    elif name.endswith((".yaml", ".yml")):
        params = _params_of(_yaml_section(Path(name), "model"))
    else:
        params = dataclasses.asdict(_named("DiT", DIT_PRESETS, name))
    return DiTConfig.from_params({**params, **overrides})


def _progress(label: str, should_cancel: Callable[[], bool]) -> Progress:
    """A bar on stderr from rank 0 only; every rank stops when asked to."""
    return Progress(StderrBar(label) if is_main_process() else None, should_cancel)


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path,
                        help="prepared dataset folder (from prepare-data)")
    parser.add_argument("--out", required=True, type=Path,
                        help="run folder: checkpoint.pt, loss_log.csv and the exported model")
    parser.add_argument("--steps", type=int, default=1000, help="optimiser steps in total")
    parser.add_argument("--batch-size", type=int, default=4, help="shapes per step and process")
    parser.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate")
    parser.add_argument("--warmup-steps", type=int, default=0, help="linear warm-up steps")
    parser.add_argument("--final-lr-fraction", type=float, default=1.0,
                        help="below 1: cosine decay of the learning rate after the warm-up, "
                             "to this fraction of --lr at the last step (1: flat)")
    parser.add_argument("--save-every", type=int, default=100, help="checkpoint interval in steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, batches and noise")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint (same settings; "
                             "--save-every may change, and --steps unless the rate decays)")
    parser.add_argument("--export-dtype", choices=EXPORT_DTYPES, default="float16",
                        help="dtype of the exported weights (release: float16)")


_SPEC_HELP = ("NAME[:key=value,...]: NAME is a preset ({presets}), 'tiny', or a .yaml file "
              "(a released config.yaml or its params); key=value pairs override fields")


def add_train_vae_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_arguments(parser)
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--config", help="new VAE (needs an encoder). " + _SPEC_HELP.format(
        presets=", ".join(name for name, c in VAE_PRESETS.items() if c.has_encoder)))
    start.add_argument("--init", type=Path, help="VAE folder with an encoder to fine-tune")
    parser.add_argument("--kl-weight", type=float, default=1e-3, help="weight of the KL term")
    parser.add_argument("--points-per-step", type=int, default=None,
                        help="supervision points per shape and step, drawn afresh each step "
                             "(default: all prepared points; fewer makes steps cheaper)")


def add_train_dit_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common_arguments(parser)
    parser.add_argument("--vae", required=True, type=Path,
                        help="VAE folder with an encoder (e.g. RUN/vae from train-vae)")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--config", help="new DiT. " + _SPEC_HELP.format(
        presets=", ".join(DIT_PRESETS)) + "; 'tiny' matches the VAE and conditioner")
    start.add_argument("--init", type=Path, help="shape model folder whose DiT to fine-tune")
    parser.add_argument("--conditioner", default=None,
                        help="image conditioner of a new DiT (default for --init: the model's "
                             "own). " + _SPEC_HELP.format(presets=", ".join(CONDITIONER_PRESETS)))
    parser.add_argument("--train-conditioner", action="store_true",
                        help="train the conditioner with the DiT (needed when it starts random)")
    parser.add_argument("--condition-dropout", type=float, default=0.1,
                        help="probability of training on the unconditional context (for CFG)")
    parser.add_argument("--image-size", type=int, default=512, help="prepared image size (release: 512)")
    parser.add_argument("--border-ratio", type=float, default=0.15, help="release: 0.15")


def command_train_vae(args: argparse.Namespace) -> int:
    config = vae_config_from_spec(args.config) if args.config is not None else None
    with stop_on_interrupt() as should_cancel, process_group(args.device) as device_name:
        folder = train_vae(
            args.data, args.out, config=config, init=args.init, steps=args.steps,
            batch_size=args.batch_size, lr=args.lr, kl_weight=args.kl_weight,
            points_per_step=args.points_per_step, warmup_steps=args.warmup_steps,
            final_lr_fraction=args.final_lr_fraction, save_every=args.save_every, seed=args.seed,
            device=resolve_device(device_name), resume=args.resume,
            export_dtype=getattr(torch, args.export_dtype),
            progress=_progress("training vae", should_cancel),
        )
    if is_main_process():
        print(f"wrote {folder}")
    return 0


def command_train_dit(args: argparse.Namespace) -> int:
    conditioner = (conditioner_config_from_spec(args.conditioner)
                   if args.conditioner is not None else None)
    dit_config = None
    if args.config is not None:
        if conditioner is None:
            raise ValueError("a new DiT (--config) needs --conditioner, e.g. --conditioner tiny "
                             "or dinov2-giant")
        vae_config = describe_checkpoint(args.vae).configs.vae
        if vae_config is None:
            raise ValueError(f"{args.vae} holds no ShapeVAE")
        dit_config = dit_config_from_spec(args.config, latent_channels=vae_config.embed_dim,
                                          context_width=conditioner.hidden_size)
    with stop_on_interrupt() as should_cancel, process_group(args.device) as device_name:
        folder = train_dit(
            args.data, args.vae, args.out, dit_config=dit_config, init=args.init,
            conditioner_config=conditioner, train_conditioner=args.train_conditioner,
            steps=args.steps, batch_size=args.batch_size, lr=args.lr,
            condition_dropout=args.condition_dropout, warmup_steps=args.warmup_steps,
            final_lr_fraction=args.final_lr_fraction, save_every=args.save_every, seed=args.seed,
            image_size=args.image_size, border_ratio=args.border_ratio, device=resolve_device(device_name),
            resume=args.resume, export_dtype=getattr(torch, args.export_dtype),
            progress=_progress("training dit", should_cancel),
        )
    if is_main_process():
        print(f"wrote {folder}")
    return 0
