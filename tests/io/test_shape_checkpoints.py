"""Loading official folders and single files, and every way a wrong file is refused."""

import pytest
import torch
from safetensors.torch import save_file

from hy3d_core.cli import main as cli_main
from hy3d_core.io.checkpoint_files import CheckpointError
from hy3d_core.io.shape_checkpoints import describe_checkpoint, load_shape_model, load_shape_vae
from hy3d_core.models.conditioner import ImageConditioner
from hy3d_core.models.conditioner_config import ConditionerConfig
from hy3d_core.models.dit import HunyuanDiT
from hy3d_core.models.dit_config import DiTConfig
from hy3d_core.models.shape_vae import ShapeVAE
from hy3d_core.models.shape_vae_config import ShapeVAEConfig
from tiny_checkpoints import (
    TINY_DIT_PARAMS,
    TINY_VAE_PARAMS,
    combined_state_dict,
    tiny_yaml,
    write_official_folder,
)


def _random_models(guidance_embed=False, multiview=False):
    config = tiny_yaml(guidance_embed=guidance_embed, multiview=multiview)
    dit = HunyuanDiT(DiTConfig.from_params(config["model"]["params"]))
    vae = ShapeVAE(ShapeVAEConfig.from_params(config["vae"]["params"]))
    conditioner = ImageConditioner(ConditionerConfig.from_yaml_section(config["conditioner"]))
    for module in (dit, vae, conditioner):
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.normal_(0, 0.05)
    return config, dit, vae, conditioner


@pytest.fixture
def tiny_folder(tmp_path):
    config, dit, vae, conditioner = _random_models()
    state = combined_state_dict(dit.state_dict(), vae.state_dict(), conditioner.state_dict())
    folder = write_official_folder(tmp_path / "hunyuan3d-dit-v2-0", state, config)
    return folder, dit, vae, conditioner


def _assert_same_weights(loaded, original, dtype=torch.float16):
    theirs = original.state_dict()
    for key, value in loaded.state_dict().items():
        expected = theirs[key].to(dtype).to(value.dtype)
        torch.testing.assert_close(value, expected, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("filename", ["model.fp16.safetensors", "model.fp16.ckpt"])
def test_official_folder_loads_every_part(tmp_path, filename):
    config, dit, vae, conditioner = _random_models()
    state = combined_state_dict(dit.state_dict(), vae.state_dict(), conditioner.state_dict())
    folder = write_official_folder(tmp_path / "release", state, config, filename=filename)
    model = load_shape_model(folder, dtype=torch.float32)
    assert model.configs.config_source.endswith("config.yaml")
    assert model.configs.num_latents == TINY_VAE_PARAMS["num_latents"]
    assert model.configs.vae.scale_factor == TINY_VAE_PARAMS["scale_factor"]
    _assert_same_weights(model.dit, dit)
    _assert_same_weights(model.vae, vae)
    _assert_same_weights(model.conditioner, conditioner)
    assert all(p.dtype == torch.float32 for p in model.dit.parameters())
    assert not any(p.requires_grad for p in model.dit.parameters())


def test_dtype_is_the_callers_choice(tiny_folder):
    folder, *_ = tiny_folder
    model = load_shape_model(folder, dtype=torch.bfloat16, parts=("dit",))
    assert model.vae is None and model.conditioner is None
    assert {p.dtype for p in model.dit.parameters()} == {torch.bfloat16}


def test_single_file_without_config_is_read_from_shapes(tiny_folder, tmp_path):
    folder, dit, vae, conditioner = tiny_folder
    single = tmp_path / "elsewhere" / "hunyuan3d-dit-v2-0_fp16.safetensors"
    single.parent.mkdir()
    single.write_bytes((folder / "model.fp16.safetensors").read_bytes())
    model = load_shape_model(single)
    assert model.configs.config_source == "tensor shapes"
    assert model.configs.dit == DiTConfig.from_params(TINY_DIT_PARAMS)
    assert not model.configs.multiview
    _assert_same_weights(model.dit, dit)
    _assert_same_weights(model.vae, vae)
    _assert_same_weights(model.conditioner, conditioner)


def test_single_file_with_config_beside_it_uses_the_config(tiny_folder):
    folder, *_ = tiny_folder
    model = load_shape_model(folder / "model.fp16.safetensors", parts=("vae",))
    assert model.configs.config_source.endswith("config.yaml")


def test_transformers_5_named_conditioner_loads_too(tmp_path):
    config, dit, vae, conditioner = _random_models()
    state = combined_state_dict(
        dit.state_dict(), vae.state_dict(), conditioner.state_dict(), released_dino_names=False
    )
    folder = write_official_folder(tmp_path / "release", state, config)
    model = load_shape_model(folder, parts=("conditioner",))
    _assert_same_weights(model.conditioner, conditioner)


def test_multiview_is_read_from_the_config(tmp_path):
    config, dit, vae, conditioner = _random_models(multiview=True)
    state = combined_state_dict(dit.state_dict(), vae.state_dict(), conditioner.state_dict())
    folder = write_official_folder(tmp_path / "hunyuan3d-dit-v2-mv", state, config)
    model = load_shape_model(folder, parts=("conditioner",))
    assert model.configs.multiview
    assert model.configs.variant == "v2-mv"


def test_standalone_vae_folder(tmp_path):
    _, _, vae, _ = _random_models()
    folder = tmp_path / "hunyuan3d-vae-v2-0"
    config = {"target": "hy3dgen.shapegen.models.ShapeVAE", "params": dict(TINY_VAE_PARAMS)}
    write_official_folder(folder, vae.state_dict(), config)
    loaded, configs = load_shape_vae(folder)
    assert configs.variant == "vae" and configs.dit is None
    _assert_same_weights(loaded, vae)
    with pytest.raises(CheckpointError, match="holds a ShapeVAE, not a shape model"):
        load_shape_model(folder)


def test_standalone_vae_file_without_config_asks_for_it(tmp_path):
    _, _, vae, _ = _random_models()
    folder = write_official_folder(tmp_path / "vae", vae.state_dict(), None)
    with pytest.raises(CheckpointError, match="config.yaml"):
        load_shape_vae(folder / "model.fp16.safetensors")


def test_vae_from_combined_checkpoint(tiny_folder):
    folder, _, vae, _ = tiny_folder
    loaded, configs = load_shape_vae(folder)
    _assert_same_weights(loaded, vae)
    assert configs.dit is not None


def test_non_hunyuan_file_is_refused_with_what_was_found(tmp_path):
    path = tmp_path / "sd15.safetensors"
    save_file({"first_stage_model.decoder.conv_in.weight": torch.zeros(4, 4)}, str(path))
    with pytest.raises(CheckpointError, match="not a Hunyuan3D 2.0 shape checkpoint.*first_stage_model"):
        load_shape_model(path)


def test_missing_weights_in_folder(tmp_path):
    (tmp_path / "config.yaml").write_text("model: {}\n")
    with pytest.raises(CheckpointError, match="No weights file.*model.fp16.safetensors"):
        load_shape_model(tmp_path)


def test_missing_path(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_shape_model(tmp_path / "nowhere")


def test_truncated_weights_are_refused(tiny_folder):
    folder, *_ = tiny_folder
    weights = folder / "model.fp16.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 1000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_shape_model(folder)


def test_missing_tensor_is_named(tmp_path):
    config, dit, vae, conditioner = _random_models()
    state = combined_state_dict(dit.state_dict(), vae.state_dict(), conditioner.state_dict())
    del state["model.final_layer.linear.weight"]
    folder = write_official_folder(tmp_path / "broken", state, config)
    with pytest.raises(CheckpointError, match="1 missing, e.g. final_layer.linear.weight"):
        load_shape_model(folder, parts=("dit",))


def test_config_that_does_not_match_the_weights(tiny_folder):
    folder, *_ = tiny_folder
    config = tiny_yaml()
    config["model"]["params"]["context_in_dim"] = 48
    import yaml

    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match="does not belong to these weights|do not match"):
        load_shape_model(folder, parts=("dit",))


def test_invalid_config_values_are_a_checkpoint_error(tiny_folder):
    folder, *_ = tiny_folder
    config = tiny_yaml()
    config["model"]["params"]["hidden_size"] = 100
    import yaml

    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match="not a valid Hunyuan3D 2.0 config"):
        load_shape_model(folder)


def test_hunyuan3d_2_1_config_is_refused(tiny_folder):
    folder, *_ = tiny_folder
    config = tiny_yaml()
    config["model"]["target"] = "hy3dshape.models.denoisers.hunyuandit.HunYuanDiTPlain"
    import yaml

    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match="Hunyuan3D 2.1"):
        load_shape_model(folder)


def test_describe_reads_no_weights(tiny_folder):
    folder, dit, vae, conditioner = tiny_folder
    description = describe_checkpoint(folder)
    parts = {p.name: p for p in description.parts}
    assert set(parts) == {"dit", "vae", "conditioner"}
    assert parts["dit"].parameters == sum(p.numel() for p in dit.parameters())
    assert parts["vae"].parameters == sum(p.numel() for p in vae.parameters())
    assert parts["dit"].dtypes == ("float16",)


def test_inspect_command_on_tiny_folder(tiny_folder, capsys):
    folder, dit, *_ = tiny_folder
    assert cli_main(["inspect", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "variant:     Hunyuan3D 2.0" in out
    assert f"{sum(p.numel() for p in dit.parameters()):,}" in out
    assert "conditioner" in out and "float16" in out


def test_inspect_command_on_foreign_file(tmp_path, capsys):
    path = tmp_path / "other.safetensors"
    save_file({"text_model.embeddings.weight": torch.zeros(2, 2)}, str(path))
    assert cli_main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not a Hunyuan3D 2.0 shape checkpoint" in err
