"""Training a tiny DiT on a hand-made dataset: the flow-matching loss falls, the latents
are cached as the sampler's latents, the export is a shape model the normal loader and
sampler take, the conditioner trains when asked, and mismatches are refused."""

import csv
import dataclasses

import pytest
import torch
from tiny_training_data import write_prepared_folder

from hy3d_core.io.shape_checkpoint_writer import write_shape_vae
from hy3d_core.io.shape_checkpoints import load_shape_model, load_shape_vae
from hy3d_core.models.conditioner_config import ConditionerConfig, Dinov2Architecture
from hy3d_core.models.dit_config import DiTConfig
from hy3d_core.models.shape_vae import ShapeVAE
from hy3d_core.models.shape_vae_config import ShapeVAEConfig
from hy3d_core.pipelines import SamplingSettings, encode_images, sample_latents
from hy3d_core.training.dit_training import LATENT_CACHE_NAME, encode_dataset, train_dit
from hy3d_core.training.mesh_dataset import ShapeSampleDataset

VAE_CONFIG = ShapeVAEConfig(num_latents=16, embed_dim=8, width=32, heads=2, num_decoder_layers=1,
                            num_encoder_layers=1, point_feats=4, pc_size=64, pc_sharpedge_size=32,
                            downsample_ratio=2, qk_norm=True, qkv_bias=False, include_pi=False,
                            scale_factor=1.7)
CONDITIONER = ConditionerConfig(
    dinov2=Dinov2Architecture(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                              image_size=28), image_size=28)
DIT_CONFIG = DiTConfig(in_channels=8, context_in_dim=32, hidden_size=64, num_heads=4, depth=1,
                       depth_single_blocks=1, axes_dim=(16,))
STEPS = 40


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dit")
    data = write_prepared_folder(root / "data")
    torch.manual_seed(0)
    vae_folder = write_shape_vae(root / "vae", ShapeVAE(VAE_CONFIG), dtype=torch.float32)
    return root, data, vae_folder


@pytest.fixture(scope="module")
def trained(dataset):
    root, data, vae_folder = dataset
    folder = train_dit(data, vae_folder, root / "run", dit_config=DIT_CONFIG,
                       conditioner_config=CONDITIONER, steps=STEPS, batch_size=4, lr=2e-3,
                       save_every=20, seed=1, image_size=64)
    return root / "run", folder


def test_a_few_steps_reduce_the_flow_matching_loss(trained):
    run_dir, _ = trained
    with open(run_dir / "loss_log.csv", newline="") as handle:
        losses = [float(row["flow_matching"]) for row in csv.DictReader(handle)]
    assert len(losses) == STEPS
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10


def test_latents_are_cached_as_the_sampler_produces_them(dataset, trained):
    run_dir, _ = trained
    _, data, vae_folder = dataset
    vae, _ = load_shape_vae(vae_folder)
    dataset_items = ShapeSampleDataset(data)
    cached = torch.load(run_dir / LATENT_CACHE_NAME)["latents"]
    expected = encode_dataset(vae, dataset_items, dataset_items.manifest["num_uniform"])
    assert cached.shape == (4, 16, 8)
    torch.testing.assert_close(cached, expected)
    raw = expected / 1.7
    assert not torch.allclose(raw, expected), "latents carry the VAE's scale factor"


def test_export_is_a_shape_model_the_loader_and_sampler_take(trained):
    run_dir, folder = trained
    assert folder == run_dir / "model"
    model = load_shape_model(folder)
    assert model.configs.dit == DIT_CONFIG and model.configs.vae.scale_factor == 1.7
    assert model.configs.image_size == 64
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    for name, value in model.dit.state_dict().items():
        torch.testing.assert_close(value, checkpoint["model"][f"dit.{name}"].half().float())
    torch.manual_seed(1)
    images = torch.rand(1, 3, 64, 64) * 2 - 1
    context = encode_images(model.conditioner, images)
    latents = sample_latents(model.dit, context, 16, SamplingSettings(steps=3))
    assert latents.shape == (1, 16, 8) and torch.isfinite(latents).all()


def test_the_conditioner_trains_when_asked(dataset, tmp_path):
    _, data, vae_folder = dataset

    def exported_conditioner(folder, train_conditioner):
        train_dit(data, vae_folder, folder, dit_config=DIT_CONFIG, conditioner_config=CONDITIONER,
                  train_conditioner=train_conditioner, steps=3, batch_size=2, lr=1e-2, seed=1,
                  image_size=64, export_dtype=torch.float32)
        return load_shape_model(folder / "model").conditioner.state_dict()

    frozen = exported_conditioner(tmp_path / "frozen", False)
    trained = exported_conditioner(tmp_path / "trained", True)
    changed = [name for name, value in trained.items() if not torch.equal(value, frozen[name])]
    assert any("encoder.layer.0" in name for name in changed)


def test_refusals(dataset, tmp_path):
    _, data, vae_folder = dataset
    wrong_channels = dataclasses.replace(DIT_CONFIG, in_channels=4)
    with pytest.raises(ValueError, match="latent size mismatch"):
        train_dit(data, vae_folder, tmp_path / "a", dit_config=wrong_channels,
                  conditioner_config=CONDITIONER, steps=1)
    decoder_only = write_shape_vae(
        tmp_path / "decoder", ShapeVAE(dataclasses.replace(VAE_CONFIG, num_encoder_layers=0)))
    with pytest.raises(ValueError, match="has no encoder"):
        train_dit(data, decoder_only, tmp_path / "b", dit_config=DIT_CONFIG,
                  conditioner_config=CONDITIONER, steps=1)
    train_dit(data, vae_folder, tmp_path / "c", dit_config=DIT_CONFIG,
              conditioner_config=CONDITIONER, steps=1, image_size=64)
    with pytest.raises(ValueError, match="condition_dropout: saved 0.1, now 0.5"):
        train_dit(data, vae_folder, tmp_path / "c", dit_config=DIT_CONFIG,
                  conditioner_config=CONDITIONER, steps=2, image_size=64,
                  condition_dropout=0.5, resume=True)
