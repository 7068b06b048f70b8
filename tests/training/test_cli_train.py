"""``train-vae`` and ``train-dit`` end to end on a tiny folder, the trained model through
the ``shape`` command, config specs, and the one-line errors."""

import pytest
import torch
from tiny_training_data import write_prepared_folder

from hy3d_core.cli import build_parser, main
from hy3d_core.cli.train_command import (
    conditioner_config_from_spec,
    dit_config_from_spec,
    split_spec,
    vae_config_from_spec,
)
from hy3d_core.io.shape_checkpoints import load_shape_model, load_shape_vae

VAE_SPEC = "tiny:num_latents=32,pc_size=128,pc_sharpedge_size=64,downsample_ratio=2,width=32,heads=2"
CONDITIONER_SPEC = "tiny:hidden_size=32,num_attention_heads=2,num_hidden_layers=1,image_size=28"


def _common(data, out, steps=2):
    return ["--data", str(data), "--out", str(out), "--steps", str(steps), "--batch-size", "2",
            "--device", "cpu", "--save-every", "1"]


def test_train_vae_then_train_dit_then_shape(tmp_path):
    data = write_prepared_folder(tmp_path / "data")
    assert main(["train-vae", *_common(data, tmp_path / "vae_run"), "--config", VAE_SPEC,
                 "--export-dtype", "float32"]) == 0
    vae, configs = load_shape_vae(tmp_path / "vae_run" / "vae")
    assert configs.vae.num_latents == 32 and vae.config.has_encoder
    assert (tmp_path / "vae_run" / "vae" / "model.safetensors").is_file()

    assert main(["train-dit", *_common(data, tmp_path / "dit_run"), "--vae",
                 str(tmp_path / "vae_run" / "vae"), "--config", "tiny", "--conditioner",
                 CONDITIONER_SPEC, "--train-conditioner", "--image-size", "64"]) == 0
    model = load_shape_model(tmp_path / "dit_run" / "model")
    assert model.configs.dit.in_channels == 8 and model.configs.dit.context_in_dim == 32

    out = tmp_path / "shape.glb"
    assert main(["shape", "--model", str(tmp_path / "dit_run" / "model"), "--image",
                 str(data / "images" / "sphere_0_0.png"), "--out", str(out), "--steps", "2",
                 "--octree-resolution", "16", "--device", "cpu", "--max-faces", "0",
                 "--no-postprocess"]) == 0
    assert out.is_file()


def test_resume_continues_and_refuses_other_settings(tmp_path, capsys):
    data = write_prepared_folder(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train-vae", *_common(data, run, steps=1), "--config", VAE_SPEC]) == 0
    assert main(["train-vae", *_common(data, run, steps=2), "--config", VAE_SPEC, "--resume"]) == 0
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2
    capsys.readouterr()
    assert main(["train-vae", *_common(data, run, steps=3), "--config", VAE_SPEC + ",width=64",
                 "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err
    assert main(["train-vae", *_common(data, run, steps=3), "--config", VAE_SPEC]) == 2
    assert "already holds a training run" in capsys.readouterr().err


def test_clear_errors(tmp_path, capsys):
    data = write_prepared_folder(tmp_path / "data")
    assert main(["train-vae", *_common(tmp_path / "nothing", tmp_path / "a"),
                 "--config", VAE_SPEC]) == 2
    assert "manifest.json" in capsys.readouterr().err
    assert main(["train-vae", *_common(data, tmp_path / "b"), "--config", "v2-0"]) == 2
    assert "no encoder" in capsys.readouterr().err
    assert main(["train-vae", *_common(data, tmp_path / "c"), "--config", "huge"]) == 2
    assert "unknown VAE config 'huge'" in capsys.readouterr().err
    assert main(["train-vae", *_common(data, tmp_path / "v"), "--config", VAE_SPEC]) == 0
    capsys.readouterr()
    assert main(["train-dit", *_common(data, tmp_path / "d"), "--vae", str(tmp_path / "v" / "vae"),
                 "--config", "tiny:in_channels=4", "--conditioner", CONDITIONER_SPEC]) == 2
    assert "latent size mismatch" in capsys.readouterr().err
    assert main(["train-dit", *_common(data, tmp_path / "e"), "--vae", str(tmp_path / "v" / "vae"),
                 "--config", "tiny"]) == 2
    assert "--conditioner" in capsys.readouterr().err


def test_config_specs(tmp_path):
    assert split_spec("tiny:axes_dim=[16,16],width=8") == ("tiny", {"axes_dim": [16, 16], "width": 8})
    assert vae_config_from_spec("v2-0-withencoder:num_latents=512").num_latents == 512
    yaml_file = tmp_path / "vae.yaml"
    yaml_file.write_text("vae:\n  target: x.ShapeVAE\n  params: {num_latents: 8, embed_dim: 4, "
                         "width: 32, heads: 2, num_decoder_layers: 1, num_encoder_layers: 1}\n")
    assert vae_config_from_spec(f"{yaml_file}:width=64").width == 64
    conditioner = conditioner_config_from_spec("tiny:image_size=28")
    assert conditioner.image_size == 28 and conditioner.dinov2.image_size == 28
    assert conditioner_config_from_spec("dinov2-giant").hidden_size == 1536
    dit = dit_config_from_spec("tiny", latent_channels=16, context_width=48)
    assert (dit.in_channels, dit.context_in_dim) == (16, 48)
    assert dit_config_from_spec("v2-mini", latent_channels=1, context_width=1).depth == 8
    with pytest.raises(ValueError, match="not key=value"):
        split_spec("tiny:width")


def test_prepare_data_is_registered():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"prepare-data", "train-vae", "train-dit"} <= set(commands)


def test_train_dit_from_the_2_1_release_writes_a_2_1_folder(tmp_path, monkeypatch):
    """Fine-tuning 2.1 keeps it 2.1: the exported config.yaml names 2.1's classes, so the
    folder loads as the 2.1 family with the release's VAE settings and runs ``shape``."""
    import tiny_training_data
    from shared_fixtures import SHAPE_21, fixture_dir

    release = fixture_dir(SHAPE_21) / "hunyuan3d-dit-v2-1"
    monkeypatch.setattr(tiny_training_data, "NUM_UNIFORM", 1024)  # 2.1's encoder pc_size
    data = write_prepared_folder(tmp_path / "data")
    assert main(["train-dit", *_common(data, tmp_path / "run", steps=1), "--vae", str(release),
                 "--init", str(release), "--export-dtype", "float32"]) == 0
    trained, initial = load_shape_model(tmp_path / "run" / "model"), load_shape_model(release)
    assert trained.configs.family.name == "hunyuan3d-2.1"
    assert trained.configs.dit == initial.configs.dit
    assert trained.configs.vae == initial.configs.vae.without_encoder()
    out = tmp_path / "shape.glb"
    assert main(["shape", "--model", str(tmp_path / "run" / "model"), "--image",
                 str(data / "images" / "sphere_0_0.png"), "--out", str(out), "--steps", "2",
                 "--octree-resolution", "16", "--device", "cpu", "--max-faces", "0",
                 "--no-postprocess"]) == 0
