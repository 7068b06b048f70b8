"""Train the shape DiT (and optionally its image conditioner) on a prepared dataset.

Everything that does not change during training is computed once before the first step:
each shape's latent (the VAE posterior mean, times the scale factor, cached in the run
folder), each conditioning image prepared exactly as inference prepares it, and, when the
conditioner stays frozen, its tokens. Steps then only run the DiT (and the conditioner,
when it learns too: the demo model's tiny DINOv2 starts from random weights).
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..models.conditioner import ImageConditioner
from ..models.conditioner_config import ConditionerConfig
from ..models.dit import HunyuanDiT
from ..models.dit_config import DiTConfig
from ..models.shape_vae import ShapeVAE
from ..sampling.progress import Progress
from .objectives import drop_conditions, encoder_surface, flow_matching_loss
from .trainer import CHECKPOINT_NAME, ProcessGroup, TrainingSettings, run_training

MODEL_FOLDER_NAME = "model"
LATENT_CACHE_NAME = "latents.pt"
_ENCODING_SEED = 0


class ConditionedLatents(Dataset):
    """One item per conditioning image: its shape's latent and either the image's cached
    conditioner tokens (``"context"``) or its prepared pixels (``"pixels"``, uint8)."""

    def __init__(self, latents: Tensor, shape_of_item: list[int], *,
                 tokens: Tensor | None = None, pixels: Tensor | None = None):
        if (tokens is None) == (pixels is None):
            raise ValueError("give either cached condition tokens or prepared pixels")
        self.latents = latents
        self.shape_of_item = shape_of_item
        self.tokens = tokens
        self.pixels = pixels

    def __len__(self) -> int:
        return len(self.shape_of_item)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        item = {"latents": self.latents[self.shape_of_item[index]]}
        if self.tokens is not None:
            item["context"] = self.tokens[index]
        else:
            item["pixels"] = self.pixels[index]
        return item


class DiTObjective(nn.Module):
    """Flow matching with condition dropout, as a module for DistributedDataParallel."""

    def __init__(self, dit: HunyuanDiT, conditioner: ImageConditioner | None,
                 condition_dropout: float):
        super().__init__()
        self.dit = dit
        self.conditioner = conditioner
        self.condition_dropout = condition_dropout

    def forward(self, batch: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
        if "context" in batch:
            context = batch["context"]
        else:
            context = self.conditioner(batch["pixels"].float() / 255 * 2 - 1)
        context = drop_conditions(context, self.condition_dropout, generator=generator)
        loss = flow_matching_loss(self.dit, batch["latents"], context, generator=generator)
        return {"total": loss, "flow_matching": loss}


def _load_encoding_vae(vae_folder: str | os.PathLike) -> ShapeVAE:
    from ..io.shape_checkpoints import load_shape_vae

    vae, _ = load_shape_vae(vae_folder)
    if not vae.config.has_encoder:
        raise ValueError(f"the VAE in {vae_folder} has no encoder, so it cannot turn the "
                         "dataset's shapes into latents; train one with `train-vae` or use "
                         "hunyuan3d-vae-v2-0-withencoder")
    return vae


def encode_dataset(vae: ShapeVAE, dataset, num_uniform: int) -> Tensor:
    """Latents ``[S, num_latents, embed_dim]`` of every shape: posterior means times the
    scale factor, i.e. what the sampler produces and what the DiT must learn."""
    generator = torch.Generator("cpu").manual_seed(_ENCODING_SEED)
    device = next(vae.parameters()).device
    latents = []
    with torch.no_grad():
        for index in range(len(dataset)):
            surface = dataset[index]["surface"][None].to(device)
            rows = encoder_surface(surface, num_uniform, vae.config, generator=generator)
            latents.append(vae.encode(rows, generator=generator)[0].cpu() * vae.config.scale_factor)
    return torch.stack(latents)


def _cached_latents(run_dir: Path, vae: ShapeVAE, vae_folder: Path, dataset, num_uniform: int,
                    group: ProcessGroup) -> Tensor:
    """Latents from ``run_dir``'s cache when it was made from the same VAE, else encoded
    (by every rank, deterministically, so they agree); rank 0 writes the cache."""
    path = run_dir / LATENT_CACHE_NAME
    source = {"vae_folder": str(vae_folder.resolve()), "vae_config": dataclasses.asdict(vae.config),
              "shapes": len(dataset)}
    if path.is_file():
        cache = torch.load(path, map_location="cpu", weights_only=True)
        if cache["source"] == source:
            return cache["latents"]
    latents = encode_dataset(vae, dataset, num_uniform)
    if group.writes_files:
        from ..io.atomic_files import write_files_atomically

        buffer = io.BytesIO()
        torch.save({"source": source, "latents": latents}, buffer)
        write_files_atomically({path: buffer.getvalue()}, overwrite=True)
    return latents


def prepared_pixels(data_dir: Path, manifest: dict[str, Any], image_size: int,
                    border_ratio: float) -> tuple[Tensor, list[int]]:
    """Every conditioning image recentred as inference does, uint8 ``[I, 3, size, size]``,
    and the shape index of each (images are kept as uint8: a quarter of the memory, and
    the same values ``prepare_image``'s tensor holds)."""
    from PIL import Image

    from ..image.prepare import prepare_image

    pixels, shape_of_item = [], []
    for shape_index, shape in enumerate(manifest["shapes"]):
        if not shape.get("images"):
            raise ValueError(f"shape {shape['name']!r} has no conditioning images in "
                             f"{data_dir}/manifest.json; prepare the dataset with renders")
        for image in shape["images"]:
            path = data_dir / image["file"]
            if not path.is_file():
                raise FileNotFoundError(f"conditioning image {path} is missing; prepare the "
                                        "dataset again")
            with Image.open(path) as opened:
                rgba = np.asarray(opened.convert("RGBA"))
            prepared = prepare_image(rgba, size=image_size, border_ratio=border_ratio)
            rgb = np.rint(prepared.rgb * 255).astype(np.uint8)
            pixels.append(torch.from_numpy(rgb).permute(2, 0, 1))
            shape_of_item.append(shape_index)
    return torch.stack(pixels), shape_of_item


def _condition_tokens(conditioner: ImageConditioner, pixels: Tensor, batch: int = 16) -> Tensor:
    tokens = []
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            tokens.append(conditioner(pixels[start:start + batch].float() / 255 * 2 - 1))
    return torch.cat(tokens)


def _starting_networks(init, dit_config, conditioner_config, seed: int
                       ) -> tuple[HunyuanDiT, ImageConditioner]:
    if (dit_config is None) == (init is None):
        raise ValueError("give either a DiT config (train a new DiT) or an existing shape model "
                         "folder to fine-tune, not both and not neither")
    torch.manual_seed(seed)
    if init is not None:
        from ..io.shape_checkpoints import load_shape_model

        model = load_shape_model(init, parts=("dit", "conditioner"))
        dit = model.dit
        conditioner = (model.conditioner if conditioner_config is None
                       else ImageConditioner(conditioner_config))
    else:
        if conditioner_config is None:
            raise ValueError("a new DiT needs a conditioner config (or fine-tune a shape model "
                             "folder, whose conditioner is reused)")
        dit = HunyuanDiT(dit_config)
        conditioner = ImageConditioner(conditioner_config)
    # Loaded models come frozen for inference; the conditioner stays frozen unless asked.
    return dit.float().requires_grad_(True), conditioner.float().requires_grad_(False)


def _check_networks_fit(dit: HunyuanDiT, vae: ShapeVAE, conditioner: ImageConditioner) -> None:
    if dit.config.in_channels != vae.config.embed_dim:
        raise ValueError(f"latent size mismatch: the DiT takes {dit.config.in_channels}-channel "
                         f"latents but the VAE's have {vae.config.embed_dim} (embed_dim); set "
                         "the DiT's in_channels to the VAE's embed_dim")
    if dit.config.context_in_dim != conditioner.config.hidden_size:
        raise ValueError(f"the DiT takes {dit.config.context_in_dim}-wide condition tokens but "
                         f"the conditioner gives {conditioner.config.hidden_size}; set the DiT's "
                         "context_in_dim to the conditioner's hidden size")
    if dit.config.guidance_embed:
        raise ValueError("this DiT is guidance-distilled (guidance_embed): it is trained by "
                         "distillation from a CFG model, not by plain flow matching")
    if conditioner.config.multiview:
        raise ValueError("training supports single-view conditioners only")


def train_dit(
    data_dir: str | os.PathLike,
    vae_folder: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    dit_config: DiTConfig | None = None,
    init: str | os.PathLike | None = None,
    conditioner_config: ConditionerConfig | None = None,
    train_conditioner: bool = False,
    steps: int = 1000,
    batch_size: int = 4,
    lr: float = 1e-4,
    condition_dropout: float = 0.1,
    warmup_steps: int = 0,
    final_lr_fraction: float = 1.0,
    save_every: int = 100,
    seed: int = 0,
    image_size: int = 512,
    border_ratio: float = 0.15,
    device: str | torch.device = "cpu",
    resume: bool = False,
    export_dtype: torch.dtype = torch.float16,
    progress: Progress | None = None,
) -> Path:
    """Train and export DiT + VAE (decoder) + conditioner to ``out_dir/model/``; returns it.

    A new DiT needs ``dit_config`` and ``conditioner_config``; ``init`` fine-tunes the DiT
    (and reuses the conditioner) of an existing shape model folder. The VAE of
    ``vae_folder`` must have an encoder; it is not trained here. ``image_size`` and
    ``border_ratio`` are the image preparation, as inference will do it. With ``init`` a
    ``conditioner_config`` replaces the model's conditioner by a new one.
    """
    from ..io.shape_checkpoint_writer import write_shape_model
    from .mesh_dataset import ShapeSampleDataset, read_manifest

    if not 0.0 <= condition_dropout <= 1.0:
        raise ValueError(f"condition_dropout must be in [0, 1], got {condition_dropout}")
    data_dir, run_dir = Path(data_dir), Path(out_dir)
    manifest = read_manifest(data_dir)
    settings = TrainingSettings(steps=steps, batch_size=batch_size, lr=lr,
                                warmup_steps=warmup_steps, final_lr_fraction=final_lr_fraction,
                                save_every=save_every, seed=seed)
    group = ProcessGroup.current()
    vae = _load_encoding_vae(vae_folder)
    dit, conditioner = _starting_networks(init, dit_config, conditioner_config, seed)
    _check_networks_fit(dit, vae, conditioner)
    arguments = {
        "job": "train-dit", "data_dir": str(data_dir.resolve()),
        "vae_folder": str(Path(vae_folder).resolve()), "vae_config": dataclasses.asdict(vae.config),
        "dit_config": dataclasses.asdict(dit_config) if dit_config is not None else None,
        "init": str(Path(init).resolve()) if init is not None else None,
        "conditioner_config": (dataclasses.asdict(conditioner_config)
                               if conditioner_config is not None else None),
        "train_conditioner": train_conditioner, "condition_dropout": condition_dropout,
        "image_size": image_size, "border_ratio": border_ratio,
    }
    if not resume and (run_dir / CHECKPOINT_NAME).exists():
        raise FileExistsError(f"{run_dir} already holds a training run; resume it, or choose "
                              "another output folder")

    latents = _cached_latents(run_dir, vae.to(device), Path(vae_folder),
                              ShapeSampleDataset(data_dir), int(manifest["num_uniform"]), group)
    vae.cpu()
    pixels, shape_of_item = prepared_pixels(data_dir, manifest, image_size, border_ratio)
    if train_conditioner:
        conditioner.requires_grad_(True)
        dataset = ConditionedLatents(latents, shape_of_item, pixels=pixels)
        objective = DiTObjective(dit, conditioner, condition_dropout)
    else:
        conditioner.to(device)
        tokens = _condition_tokens(conditioner, pixels.to(device)).cpu()
        dataset = ConditionedLatents(latents, shape_of_item, tokens=tokens)
        objective = DiTObjective(dit, None, condition_dropout)
    # A trained DINOv2 has idle parameters (its mask token is only used for masked inputs).
    run_training(objective, dataset, run_dir, settings, arguments=arguments, device=device,
                 resume=resume, progress=progress, find_unused_parameters=train_conditioner)
    folder = run_dir / MODEL_FOLDER_NAME
    if not group.writes_files:
        return folder
    conditioner.requires_grad_(False)
    return write_shape_model(folder, dit=dit.cpu(), vae=vae, conditioner=conditioner.cpu().eval(),
                             image_size=image_size, border_ratio=border_ratio,
                             dtype=export_dtype, overwrite=resume)
