"""The losses the ShapeVAE and the DiT are trained with.

VAE: the occupancy logits decoded from a posterior sample are fitted to inside/outside
labels (binary cross-entropy) with a small KL term towards N(0, I). DiT: the flow-matching
objective in the release's own time convention (t is the data fraction), so the trained
model is what the sampler in ``sampling/flow_matching.py`` expects. Both recipes are in
docs/release_conventions.md, section 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.dit import HunyuanDiT
from ..models.shape_vae import ShapeVAE
from ..models.shape_vae_config import ShapeVAEConfig
from ..sampling.flow_matching import NUM_TRAIN_TIMESTEPS

# Columns of a prepared surface row: xyz, normal, sharp-edge flag.
_NORMAL_COLUMNS = slice(3, 6)
_PREPARED_COLUMNS = 7


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Draw on the generator's device (a CPU generator can drive CUDA training) then move."""
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)


def _normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    source = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=source).to(device)


def _random_rows(batch: int, available: int, keep: int, generator: torch.Generator | None,
                 device: torch.device) -> Tensor:
    """``keep`` distinct row numbers in ``[0, available)`` per batch item: ``[batch, keep]``."""
    return _uniform((batch, available), generator, device).argsort(dim=1)[:, :keep]


def encoder_surface(surface: Tensor, num_uniform: int, config: ShapeVAEConfig, *,
                    generator: torch.Generator | None = None) -> Tensor:
    """Prepared surface rows ``[B, R, 7]`` cut down to what the VAE's encoder takes.

    The first ``num_uniform`` rows are area-uniform samples, the rest sharp-edge samples;
    each group is subsampled at random to the VAE's ``pc_size`` / ``pc_sharpedge_size``
    and the groups stay in that order, because the encoder places its latent queries on
    each group separately by position. Columns are xyz plus the features ``point_feats``
    asks for: the normal, and the sharp-edge flag when it is 4.
    """
    if surface.ndim != 3 or surface.shape[-1] != _PREPARED_COLUMNS:
        raise ValueError(f"prepared surface rows must be [B, R, {_PREPARED_COLUMNS}] (xyz, normal, "
                         f"sharp flag), got {tuple(surface.shape)}")
    if config.point_feats not in (3, 4):
        raise ValueError(f"this VAE's encoder takes {config.point_feats} features per point; "
                         "training data provides normals (3) or normals plus a sharp flag (4)")
    batch, rows, _ = surface.shape
    groups = ((0, num_uniform, config.pc_size, "uniform", "pc_size"),
              (num_uniform, rows - num_uniform, config.pc_sharpedge_size, "sharp-edge",
               "pc_sharpedge_size"))
    picked = []
    for offset, available, wanted, label, field in groups:
        if wanted > available:
            raise ValueError(
                f"the VAE's encoder takes {wanted} {label} samples ({field}) but the dataset has "
                f"{available} per shape: prepare the data with at least that many, or choose a "
                f"VAE config with a smaller {field}")
        if wanted:
            picked.append(_random_rows(batch, available, wanted, generator, surface.device) + offset)
    index = torch.cat(picked, dim=1)
    columns = 3 + config.point_feats
    return surface.gather(1, index[..., None].expand(-1, -1, _PREPARED_COLUMNS))[..., :columns]


def supervision_subset(points: Tensor, occupancy: Tensor, count: int, *,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """A fresh random ``count`` of each shape's supervision points and their labels.

    The geometry decoder's cost grows with the number of points it is asked about, and a
    shape's cached points are many times what one step needs; drawing a new subset each
    step keeps steps cheap while every point still gets seen over training.
    """
    available = points.shape[1]
    if not 0 < count <= available:
        raise ValueError(f"points per step must be in 1..{available} (the prepared points per "
                         f"shape), got {count}")
    index = _random_rows(points.shape[0], available, count, generator, points.device)
    return points.gather(1, index[..., None].expand(-1, -1, 3)), occupancy.gather(1, index)


def vae_loss(vae: ShapeVAE, surface: Tensor, points: Tensor, occupancy: Tensor, *,
             num_uniform: int | None = None, kl_weight: float = 1e-3,
             points_per_step: int | None = None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """``{"total", "reconstruction", "kl"}`` for one batch of shapes.

    ``surface`` holds prepared rows ``[B, R, 7]`` whose first ``num_uniform`` are uniform
    samples (None: exactly the VAE's ``pc_size`` then ``pc_sharpedge_size`` rows);
    ``points`` ``[B, Q, 3]`` are supervision points with labels ``occupancy`` ``[B, Q]``
    (1 inside), of which ``points_per_step`` drawn at random are used (None: all). The
    decoder sees a sample of the posterior, not its mean, so nearby latents decode to
    nearby shapes, which the DiT relies on.
    """
    config = vae.config
    if num_uniform is None:
        if surface.shape[1] != config.pc_size + config.pc_sharpedge_size:
            raise ValueError(
                f"surface has {surface.shape[1]} rows; without num_uniform it must have the "
                f"VAE's {config.pc_size} uniform + {config.pc_sharpedge_size} sharp rows")
        num_uniform = config.pc_size
    if points.ndim != 3 or points.shape[-1] != 3 or occupancy.shape != points.shape[:2]:
        raise ValueError(f"points must be [B, Q, 3] with occupancy [B, Q], got "
                         f"{tuple(points.shape)} and {tuple(occupancy.shape)}")
    if points_per_step is not None:
        points, occupancy = supervision_subset(points, occupancy, points_per_step,
                                               generator=generator)
    rows = encoder_surface(surface, num_uniform, config, generator=generator)
    posterior = vae.encode_posterior(rows, generator=generator)
    latents = posterior.sample(generator)
    logits = vae.occupancy(points, vae.decode(latents))
    reconstruction = F.binary_cross_entropy_with_logits(logits.float(), occupancy.float())
    kl = posterior.kl().float().mean()
    return {"total": reconstruction + kl_weight * kl, "reconstruction": reconstruction, "kl": kl}


def flow_matching_loss(dit: HunyuanDiT, latents: Tensor, context: Tensor, *,
                       generator: torch.Generator | None = None,
                       guidance: Tensor | float | None = None) -> Tensor:
    """Mean squared error of the predicted velocity (docs/release_conventions.md, section 4).

    ``latents`` ``[B, N, C]`` are data latents as the sampler produces them (the
    encoder's times the VAE's scale factor). With noise x0 and t ~ U[0, 1] per sample,
    the model sees ``x_t = t * x1 + (1 - t) * x0`` and must predict ``x1 - x0``. t reaches
    the model the way the sampler hands it over: through ``t * 1000`` in the latents'
    dtype, then divided by 1000.
    """
    device = latents.device
    noise = _normal(tuple(latents.shape), generator, device).to(latents.dtype)
    t = _uniform((latents.shape[0],), generator, device)
    model_t = (t * NUM_TRAIN_TIMESTEPS).to(latents.dtype) / NUM_TRAIN_TIMESTEPS
    mix = model_t.to(latents.dtype)[:, None, None]
    noisy = mix * latents + (1 - mix) * noise
    velocity = dit(noisy, model_t, context, guidance=guidance)
    return F.mse_loss(velocity.float(), (latents - noise).float())


def drop_conditions(context: Tensor, probability: float, *,
                    generator: torch.Generator | None = None) -> Tensor:
    """Replace each sample's condition by the unconditional one with ``probability``.

    Classifier-free guidance needs the model to know the unconditional velocity too. The
    release's unconditional context is all zeros of the condition's shape
    (``ImageConditioner.unconditional``), so that is what dropped samples get.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"condition dropout must be a probability in [0, 1], got {probability}")
    if probability == 0.0:
        return context
    keep = _uniform((context.shape[0],), generator, context.device) >= probability
    return context * keep.to(context.dtype)[:, None, None]
