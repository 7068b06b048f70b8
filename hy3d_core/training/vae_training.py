"""Train a ShapeVAE from scratch, or fine-tune a released one, on a prepared dataset.

The result is a standalone VAE folder (config.yaml + weights, encoder kept) that the
normal loader, the nodes and ``train-dit`` take. A new VAE also gets its latent scale
factor measured here, because the DiT's flow matching assumes latents of unit spread,
which is what the release's factors (about 1.0) give its VAEs.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from ..models.shape_vae import ShapeVAE
from ..models.shape_vae_config import ShapeVAEConfig
from ..sampling.progress import Progress
from .objectives import encoder_surface, vae_loss
from .trainer import ProcessGroup, TrainingSettings, run_training

VAE_FOLDER_NAME = "vae"
# Draws of the scale-factor measurement; fixed so the same weights give the same factor.
_MEASUREMENT_SEED = 0


class VAEObjective(nn.Module):
    """The VAE loss as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, vae: ShapeVAE, num_uniform: int, kl_weight: float,
                 points_per_step: int | None = None):
        super().__init__()
        self.vae = vae
        self.num_uniform = num_uniform
        self.kl_weight = kl_weight
        self.points_per_step = points_per_step

    def forward(self, batch: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
        return vae_loss(self.vae, batch["surface"], batch["points"], batch["occupancy"],
                        num_uniform=self.num_uniform, kl_weight=self.kl_weight,
                        points_per_step=self.points_per_step, generator=generator)


def starting_vae(config: ShapeVAEConfig | None, init: str | os.PathLike | None,
                 seed: int) -> ShapeVAE:
    """A new VAE built from ``config`` (weights seeded) or the VAE of folder ``init``."""
    if (config is None) == (init is None):
        raise ValueError("give either a VAE config (train a new VAE) or an existing VAE "
                         "folder to fine-tune, not both and not neither")
    if init is not None:
        from ..io.shape_checkpoints import load_shape_vae

        vae, _ = load_shape_vae(init)
    else:
        torch.manual_seed(seed)
        vae = ShapeVAE(config)
    if not vae.config.has_encoder:
        source = init if init is not None else "the config"
        raise ValueError(f"the VAE from {source} has no encoder (num_encoder_layers 0); training "
                         "needs one: use a VAE with an encoder, e.g. hunyuan3d-vae-v2-0-withencoder "
                         "or a config with num_encoder_layers > 0")
    # Loaded models come frozen for inference.
    return vae.float().requires_grad_(True)


def measure_scale_factor(vae: ShapeVAE, dataset, num_uniform: int) -> float:
    """``1 / std`` of the posterior means of every shape: makes the DiT's latents unit-spread."""
    generator = torch.Generator("cpu").manual_seed(_MEASUREMENT_SEED)
    device = next(vae.parameters()).device
    latents = []
    with torch.no_grad():
        for index in range(len(dataset)):
            surface = dataset[index]["surface"][None].to(device)
            rows = encoder_surface(surface, num_uniform, vae.config, generator=generator)
            latents.append(vae.encode(rows, generator=generator).flatten().cpu())
    spread = torch.cat(latents).double().std().item()
    if not spread > 0:
        raise ValueError("the encoded latents of the dataset do not vary; cannot set a scale factor")
    return 1.0 / spread


def train_vae(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    config: ShapeVAEConfig | None = None,
    init: str | os.PathLike | None = None,
    steps: int = 1000,
    batch_size: int = 4,
    lr: float = 1e-4,
    kl_weight: float = 1e-3,
    points_per_step: int | None = None,
    warmup_steps: int = 0,
    final_lr_fraction: float = 1.0,
    save_every: int = 100,
    seed: int = 0,
    device: str | torch.device = "cpu",
    resume: bool = False,
    export_dtype: torch.dtype = torch.float16,
    progress: Progress | None = None,
) -> Path:
    """Train and export to ``out_dir/vae/``; returns that folder.

    ``out_dir`` also holds the run's ``checkpoint.pt`` and ``loss_log.csv``. A fine-tuned
    VAE keeps its scale factor (a DiT trained on it would otherwise see rescaled latents);
    a new one gets ``1 / std`` of its dataset latents. ``points_per_step``: supervision
    points per shape and step, drawn afresh each step (None: all the prepared ones).
    """
    from ..io.shape_checkpoint_writer import write_shape_vae
    from .mesh_dataset import ShapeSampleDataset

    dataset = ShapeSampleDataset(data_dir)
    manifest = dataset.manifest
    settings = TrainingSettings(steps=steps, batch_size=batch_size, lr=lr,
                                warmup_steps=warmup_steps, final_lr_fraction=final_lr_fraction,
                                save_every=save_every, seed=seed)
    vae = starting_vae(config, init, seed)
    num_uniform = int(manifest["num_uniform"])
    objective = VAEObjective(vae, num_uniform, kl_weight, points_per_step)
    arguments = {
        "job": "train-vae", "data_dir": str(Path(data_dir).resolve()),
        "config": dataclasses.asdict(config) if config is not None else None,
        "init": str(Path(init).resolve()) if init is not None else None,
        "kl_weight": kl_weight,
        "points_per_step": points_per_step,
    }
    run_training(objective, dataset, out_dir, settings, arguments=arguments, device=device,
                 resume=resume, progress=progress)
    folder = Path(out_dir) / VAE_FOLDER_NAME
    if not ProcessGroup.current().writes_files:
        return folder
    if init is None:
        factor = measure_scale_factor(vae, dataset, num_uniform)
        vae.config = dataclasses.replace(vae.config, scale_factor=factor)
    return write_shape_vae(folder, vae, dtype=export_dtype, overwrite=resume)
