"""Training a tiny ShapeVAE on a hand-made dataset: the loss falls, shapes round-trip
better than before training, the export loads through the normal loader, and the
refusals say what is wrong."""

import csv
import dataclasses

import pytest
import torch
from tiny_training_data import write_prepared_folder

from hy3d_core.io.shape_checkpoints import load_shape_vae
from hy3d_core.models.shape_vae_config import ShapeVAEConfig
from hy3d_core.training.mesh_dataset import ShapeSampleDataset
from hy3d_core.training.objectives import encoder_surface
from hy3d_core.training.vae_training import starting_vae, train_vae

CONFIG = ShapeVAEConfig(num_latents=32, embed_dim=8, width=64, heads=4, num_decoder_layers=1,
                        num_encoder_layers=1, point_feats=4, pc_size=128, pc_sharpedge_size=64,
                        downsample_ratio=2, qk_norm=True, qkv_bias=False, include_pi=False)
STEPS = 60
SEED = 5


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("vae")
    data = write_prepared_folder(root / "data")
    folder = train_vae(data, root / "run", config=CONFIG, steps=STEPS, batch_size=2, lr=2e-3,
                       save_every=20, seed=SEED)
    return data, root / "run", folder


def _losses(run_dir):
    with open(run_dir / "loss_log.csv", newline="") as handle:
        return [float(row["reconstruction"]) for row in csv.DictReader(handle)]


def _grid_iou(vae, surface, num_uniform, inside) -> float:
    axis = torch.linspace(-1, 1, 14)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(1, -1, 3)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        rows = encoder_surface(surface[None], num_uniform, vae.config, generator=generator)
        latents = vae.encode(rows, generator=generator)
        predicted = vae.occupancy(grid, vae.decode(latents))[0] > 0
    truth = inside(grid[0])
    return ((predicted & truth).sum() / (predicted | truth).sum()).item()


def test_a_few_steps_reduce_the_reconstruction_loss(trained):
    _, run_dir, _ = trained
    losses = _losses(run_dir)
    assert len(losses) == STEPS
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10


def test_trained_vae_round_trips_a_sphere_better_than_untrained(trained):
    data, _, folder = trained
    sample = ShapeSampleDataset(data)[0]
    assert sample["name"].startswith("sphere")

    def sphere(points):
        return points.norm(dim=-1) < 0.8

    num_uniform = ShapeSampleDataset(data).manifest["num_uniform"]
    vae, _ = load_shape_vae(folder)
    untrained = starting_vae(CONFIG, None, SEED)
    trained_iou = _grid_iou(vae, sample["surface"], num_uniform, sphere)
    untrained_iou = _grid_iou(untrained, sample["surface"], num_uniform, sphere)
    assert trained_iou > 0.6
    assert trained_iou > untrained_iou + 0.2


def test_export_loads_with_its_encoder_and_a_measured_scale_factor(trained):
    _, run_dir, folder = trained
    assert folder == run_dir / "vae"
    vae, configs = load_shape_vae(folder)
    assert vae.config.has_encoder and configs.vae.pc_size == CONFIG.pc_size
    assert configs.vae.scale_factor != 1.0 and 0.05 < configs.vae.scale_factor < 50
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    for name, value in vae.state_dict().items():
        torch.testing.assert_close(value, checkpoint["model"][f"vae.{name}"].half().float())


def test_fine_tuning_keeps_the_scale_factor(trained, tmp_path):
    data, _, folder = trained
    _, before = load_shape_vae(folder)
    tuned = train_vae(data, tmp_path, init=folder, steps=2, batch_size=2, lr=1e-4)
    _, after = load_shape_vae(tuned)
    assert after.vae.scale_factor == before.vae.scale_factor


def test_refusals(tmp_path):
    data = write_prepared_folder(tmp_path / "data")
    with pytest.raises(ValueError, match="has no encoder"):
        train_vae(data, tmp_path / "a", config=dataclasses.replace(CONFIG, num_encoder_layers=0),
                  steps=1)
    with pytest.raises(ValueError, match="not both"):
        train_vae(data, tmp_path / "b", config=CONFIG, init=tmp_path, steps=1)
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        train_vae(tmp_path / "missing", tmp_path / "c", config=CONFIG, steps=1)
    with pytest.raises(ValueError, match="pc_size"):
        train_vae(data, tmp_path / "d", config=dataclasses.replace(CONFIG, pc_size=1000), steps=1)
