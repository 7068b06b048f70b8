"""The training losses: row selection for the encoder, the VAE loss, the flow-matching
objective in the sampler's time convention, and condition dropout."""

import pytest
import torch
from torch import nn

from hy3d_core.models.shape_vae import ShapeVAE
from hy3d_core.models.shape_vae_config import ShapeVAEConfig
from hy3d_core.sampling.flow_matching import NUM_TRAIN_TIMESTEPS
from hy3d_core.training.objectives import (
    drop_conditions,
    encoder_surface,
    flow_matching_loss,
    supervision_subset,
    vae_loss,
)

CONFIG = ShapeVAEConfig(num_latents=8, embed_dim=4, width=32, heads=2, num_decoder_layers=1,
                        num_encoder_layers=1, point_feats=4, pc_size=24, pc_sharpedge_size=12,
                        downsample_ratio=2, qk_norm=True, qkv_bias=False, include_pi=False)


def _prepared_rows(batch: int, uniform: int, sharp: int) -> torch.Tensor:
    """Rows whose x is the row number and whose flag marks the sharp group."""
    rows = torch.randn(batch, uniform + sharp, 7)
    rows[..., 0] = torch.arange(uniform + sharp, dtype=torch.float32)
    rows[..., 6] = (torch.arange(uniform + sharp) >= uniform).float()
    return rows


def test_encoder_surface_keeps_groups_in_order_and_subsamples_each():
    surface = _prepared_rows(3, 50, 30)
    rows = encoder_surface(surface, 50, CONFIG, generator=torch.Generator().manual_seed(0))
    assert rows.shape == (3, 36, 7)
    row_numbers = rows[..., 0].long()
    assert (row_numbers[:, :24] < 50).all() and (row_numbers[:, 24:] >= 50).all()
    assert (rows[:, :24, 6] == 0).all() and (rows[:, 24:, 6] == 1).all()
    for item in range(3):
        assert len(set(row_numbers[item].tolist())) == 36
        assert torch.equal(rows[item], surface[item, row_numbers[item]])
    assert not torch.equal(row_numbers[0], row_numbers[1])


def test_encoder_surface_drops_the_flag_for_normal_only_encoders():
    import dataclasses

    config = dataclasses.replace(CONFIG, point_feats=3)
    rows = encoder_surface(_prepared_rows(1, 40, 20), 40, config)
    assert rows.shape == (1, 36, 6)


def test_encoder_surface_refuses_too_few_samples():
    with pytest.raises(ValueError, match="pc_sharpedge_size"):
        encoder_surface(_prepared_rows(1, 40, 5), 40, CONFIG)


def test_vae_loss_is_reconstruction_plus_weighted_kl_and_trains_every_part():
    vae = ShapeVAE(CONFIG)
    surface = _prepared_rows(2, 30, 15)
    surface[..., :3] = torch.rand(2, 45, 3) * 2 - 1
    points = torch.rand(2, 20, 3) * 2 - 1
    occupancy = (points.norm(dim=-1) < 0.5).float()
    losses = vae_loss(vae, surface, points, occupancy, num_uniform=30, kl_weight=0.25,
                      generator=torch.Generator().manual_seed(1))
    assert set(losses) == {"total", "reconstruction", "kl"}
    torch.testing.assert_close(losses["total"], losses["reconstruction"] + 0.25 * losses["kl"])
    losses["total"].backward()
    for part in (vae.encoder, vae.pre_kl, vae.post_kl, vae.transformer, vae.geo_decoder):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


class _RecordingDiT(nn.Module):
    """Records what the loss feeds the model and answers a fixed velocity."""

    def __init__(self, answer: torch.Tensor):
        super().__init__()
        self.answer = answer

    def forward(self, latents, t, context, guidance=None):
        self.seen = (latents.clone(), t.clone(), context, guidance)
        return self.answer


def test_flow_matching_loss_follows_the_release_convention():
    latents = torch.randn(3, 5, 4)
    answer = torch.randn(3, 5, 4)
    context = torch.randn(3, 2, 6)
    dit = _RecordingDiT(answer)
    loss = flow_matching_loss(dit, latents, context, generator=torch.Generator().manual_seed(7))

    replay = torch.Generator().manual_seed(7)
    noise = torch.randn(latents.shape, generator=replay)
    t = torch.rand(3, generator=replay)
    fed_latents, fed_t, fed_context, _ = dit.seen
    expected_t = (t * NUM_TRAIN_TIMESTEPS) / NUM_TRAIN_TIMESTEPS
    torch.testing.assert_close(fed_t, expected_t)
    # t is the data fraction: t = 1 is data, t = 0 is noise.
    torch.testing.assert_close(fed_latents, fed_t[:, None, None] * latents
                               + (1 - fed_t[:, None, None]) * noise)
    assert fed_context is context
    torch.testing.assert_close(loss, ((answer - (latents - noise)) ** 2).mean())


def test_flow_matching_loss_is_zero_for_the_true_velocity():
    latents = torch.randn(2, 4, 3)

    class Oracle(nn.Module):
        def forward(self, x, t, context, guidance=None):
            # From x_t = t x1 + (1 - t) x0 with x1 known: x1 - x0 = (x1 - x_t) / (1 - t).
            return (latents - x) / (1 - t[:, None, None])

    loss = flow_matching_loss(Oracle(), latents, torch.zeros(2, 1, 1),
                              generator=torch.Generator().manual_seed(3))
    assert loss.item() < 1e-8


def test_drop_conditions_uses_the_zero_unconditional_context():
    context = torch.randn(2000, 3, 4) + 5
    dropped = drop_conditions(context, 0.3, generator=torch.Generator().manual_seed(0))
    zero = (dropped == 0).flatten(1).all(dim=1)
    kept = (dropped == context).flatten(1).all(dim=1)
    assert (zero | kept).all()
    assert 0.25 < zero.float().mean().item() < 0.35
    assert drop_conditions(context, 0.0) is context
    assert (drop_conditions(context, 1.0) == 0).all()
    with pytest.raises(ValueError, match="probability"):
        drop_conditions(context, 1.5)


def test_supervision_subset_draws_distinct_points_with_their_own_labels():
    points = torch.randn(2, 40, 3)
    points[..., 0] = torch.arange(40, dtype=torch.float32)
    occupancy = (torch.arange(40) % 3 == 0).float().expand(2, -1)
    generator = torch.Generator().manual_seed(0)
    kept, labels = supervision_subset(points, occupancy, 10, generator=generator)
    assert kept.shape == (2, 10, 3) and labels.shape == (2, 10)
    for item in range(2):
        numbers = kept[item, :, 0].long()
        assert len(set(numbers.tolist())) == 10
        assert torch.equal(kept[item], points[item, numbers])
        assert torch.equal(labels[item], occupancy[item, numbers])
    again, _ = supervision_subset(points, occupancy, 10, generator=generator)
    assert not torch.equal(again, kept)
    with pytest.raises(ValueError, match="1..40"):
        supervision_subset(points, occupancy, 41)


def test_vae_loss_on_a_point_subset_matches_the_loss_on_those_points():
    torch.manual_seed(0)
    vae = ShapeVAE(CONFIG)
    surface = _prepared_rows(2, 24, 12)
    points, occupancy = torch.rand(2, 30, 3) * 2 - 1, (torch.rand(2, 30) > 0.5).float()
    subset = vae_loss(vae, surface, points, occupancy, points_per_step=8,
                      generator=torch.Generator().manual_seed(3))
    replay = torch.Generator().manual_seed(3)
    kept, labels = supervision_subset(points, occupancy, 8, generator=replay)
    direct = vae_loss(vae, surface, kept, labels, generator=replay)
    torch.testing.assert_close(subset["total"], direct["total"])
