"""Writing shape models and VAEs in the released folder layout, and reading them back."""

import dataclasses

import pytest
import torch
import yaml
from safetensors import safe_open

from hy3d_core.io.shape_checkpoint_writer import write_shape_model, write_shape_vae
from hy3d_core.io.shape_checkpoints import describe_checkpoint, load_shape_model, load_shape_vae
from hy3d_core.models.conditioner import ImageConditioner
from hy3d_core.models.conditioner_config import CONDITIONER_PRESETS, ConditionerConfig
from hy3d_core.models.dit import HunyuanDiT
from hy3d_core.models.dit_config import DIT_PRESETS, DiTConfig
from hy3d_core.models.shape_vae_config import VAE_PRESETS, ShapeVAEConfig
from oracle import import_oracle
from tiny_checkpoints import TINY_VAE_PARAMS, randomise, tiny_vae, tiny_yaml

TINY_ENCODER_PARAMS = dict(TINY_VAE_PARAMS, num_encoder_layers=1, point_feats=4, pc_size=128,
                           pc_sharpedge_size=64, downsample_ratio=4)


def _yaml_round_trip(mapping: dict) -> dict:
    return yaml.safe_load(yaml.safe_dump(mapping, sort_keys=False))


@pytest.mark.parametrize("name", sorted(DIT_PRESETS))
def test_dit_preset_config_round_trips_through_yaml(name):
    config = DIT_PRESETS[name]
    assert DiTConfig.from_params(_yaml_round_trip(config.to_params())) == config


def test_custom_dit_config_round_trips_through_yaml():
    config = DiTConfig(in_channels=8, context_in_dim=48, hidden_size=96, mlp_ratio=2.5, num_heads=2,
                       depth=1, depth_single_blocks=3, axes_dim=(16, 32), theta=500, qkv_bias=False,
                       guidance_embed=True)
    assert DiTConfig.from_params(_yaml_round_trip(config.to_params())) == config


@pytest.mark.parametrize("name", sorted(VAE_PRESETS))
def test_vae_preset_config_round_trips_through_yaml(name):
    config = VAE_PRESETS[name]
    params = _yaml_round_trip(config.to_params())
    assert ShapeVAEConfig.from_params(params) == config
    assert ("num_encoder_layers" in params) == config.has_encoder


def test_decoder_only_vae_with_unusual_encoder_settings_still_round_trips():
    config = dataclasses.replace(VAE_PRESETS["v2-0"], pc_size=77)
    assert ShapeVAEConfig.from_params(_yaml_round_trip(config.to_params())) == config


@pytest.mark.parametrize("name", sorted(CONDITIONER_PRESETS))
def test_conditioner_preset_config_round_trips_through_yaml(name):
    config = CONDITIONER_PRESETS[name]
    assert ConditionerConfig.from_yaml_section(_yaml_round_trip(config.to_yaml_section())) == config


def test_conditioner_yaml_section_has_the_released_shape():
    section = CONDITIONER_PRESETS["dinov2-giant-mv"].to_yaml_section()
    encoder = section["params"]["main_image_encoder"]
    assert section["target"] == "hy3dgen.shapegen.models.SingleImageEncoder"
    assert encoder["type"] == "DinoImageEncoderMV"
    assert encoder["kwargs"]["view_num"] == 4
    assert encoder["kwargs"]["config"]["model_type"] == "dinov2"
    assert encoder["kwargs"]["config"]["image_size"] == 518


def _tiny_parts(*, multiview=False, vae_params=TINY_VAE_PARAMS, guidance_embed=False):
    config = tiny_yaml(multiview=multiview, guidance_embed=guidance_embed)
    dit = randomise(HunyuanDiT(DiTConfig.from_params(config["model"]["params"])), 11)
    vae = tiny_vae(vae_params, 12)
    conditioner = randomise(
        ImageConditioner(ConditionerConfig.from_yaml_section(config["conditioner"])), 13
    )
    return dit, vae, conditioner


def _assert_equal_states(loaded: torch.nn.Module, expected: dict[str, torch.Tensor]):
    state = loaded.state_dict()
    assert set(state) == set(expected)
    for key, value in state.items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0, msg=key)


def test_float32_shape_model_loads_back_identical(tmp_path):
    dit, vae, conditioner = _tiny_parts(vae_params=TINY_ENCODER_PARAMS)
    folder = write_shape_model(tmp_path / "export", dit=dit, vae=vae, conditioner=conditioner,
                               image_size=256, border_ratio=0.1, dtype=torch.float32)
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "model.safetensors"]
    model = load_shape_model(folder, dtype=torch.float32)
    assert model.configs.dit == dit.config
    assert model.configs.vae == vae.config.without_encoder()
    assert model.configs.conditioner == conditioner.config
    assert (model.configs.image_size, model.configs.border_ratio) == (256, 0.1)
    assert model.configs.variant == "custom"
    _assert_equal_states(model.dit, dit.state_dict())
    _assert_equal_states(model.conditioner, conditioner.state_dict())
    decoder_state = {k: v for k, v in vae.state_dict().items()
                     if not k.startswith(("encoder.", "pre_kl."))}
    _assert_equal_states(model.vae, decoder_state)


def test_float16_shape_model_gives_close_outputs(tmp_path):
    dit, vae, conditioner = _tiny_parts(guidance_embed=True)
    folder = write_shape_model(tmp_path / "export", dit=dit, vae=vae, conditioner=conditioner)
    with safe_open(str(folder / "model.fp16.safetensors"), "pt") as handle:
        keys = list(handle.keys())
        assert {handle.get_tensor(key).dtype for key in keys} == {torch.float16}
    assert any(".attention.attention.query." in key for key in keys), "DINOv2 not in released names"
    model = load_shape_model(folder, dtype=torch.float32)
    assert model.configs.guidance_embedded
    generator = torch.Generator().manual_seed(5)
    latents = torch.randn(2, 32, 8, generator=generator)
    t = torch.tensor([0.3, 0.9])
    guidance = torch.tensor([4.0, 6.0])
    image = torch.rand(1, 3, 28, 28, generator=generator) * 2 - 1
    points = torch.rand(1, 50, 3, generator=generator) * 2 - 1
    with torch.no_grad():
        context = conditioner(image).expand(2, -1, -1)
        pairs = [
            (model.conditioner(image), conditioner(image)),
            (model.dit(latents, t, context, guidance=guidance), dit(latents, t, context, guidance=guidance)),
            (model.vae.occupancy(points, model.vae.decode(latents[:1])),
             vae.occupancy(points, vae.decode(latents[:1]))),
        ]
    for got, expected in pairs:
        scale = expected.abs().max().item()
        torch.testing.assert_close(got, expected, rtol=0, atol=2e-2 * scale)


def test_multiview_model_is_recognised_after_writing(tmp_path):
    dit, vae, conditioner = _tiny_parts(multiview=True)
    folder = write_shape_model(tmp_path / "mv", dit=dit, vae=vae, conditioner=conditioner)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["image_processor"]["target"].endswith("MVImageProcessorV2")
    configs = describe_checkpoint(folder).configs
    assert configs.multiview and configs.variant == "v2-mv"


def test_written_config_has_the_released_sections(tmp_path):
    dit, vae, conditioner = _tiny_parts()
    folder = write_shape_model(tmp_path / "export", dit=dit, vae=vae, conditioner=conditioner)
    written = yaml.safe_load((folder / "config.yaml").read_text())
    released = tiny_yaml()
    assert list(written) == list(released)
    for section in released:
        assert written[section].get("target") == released[section].get("target"), section
    assert written["scheduler"] == released["scheduler"]
    assert written["image_processor"] == released["image_processor"]


def test_standalone_vae_keeps_its_encoder(tmp_path):
    vae = tiny_vae(TINY_ENCODER_PARAMS, 21)
    folder = write_shape_vae(tmp_path / "hunyuan3d-vae-custom", vae, dtype=torch.float32)
    loaded, configs = load_shape_vae(folder)
    assert configs.vae == vae.config and loaded.config.has_encoder
    _assert_equal_states(loaded, vae.state_dict())
    description = describe_checkpoint(folder)
    assert description.kind == "folder" and description.weights.name == "model.safetensors"
    assert description.configs.variant == "vae"
    assert [(p.name, p.prefix, p.tensors, p.dtypes) for p in description.parts] == [
        ("vae", "", len(vae.state_dict()), ("float32",))
    ]


def test_existing_checkpoint_is_not_overwritten_unless_asked(tmp_path):
    folder = tmp_path / "export"
    first, second = tiny_vae(TINY_VAE_PARAMS, 31), tiny_vae(TINY_VAE_PARAMS, 32)
    write_shape_vae(folder, first)
    before = (folder / "model.fp16.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match=str(folder)):
        write_shape_vae(folder, second)
    assert (folder / "model.fp16.safetensors").read_bytes() == before
    write_shape_vae(folder, second, overwrite=True)
    loaded, _ = load_shape_vae(folder)
    _assert_equal_states(loaded, {k: v.half().float() for k, v in second.state_dict().items()})
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_overwrite_refuses_to_leave_a_file_the_loader_would_prefer(tmp_path):
    folder = write_shape_vae(tmp_path / "export", tiny_vae(TINY_VAE_PARAMS, 41))
    with pytest.raises(FileExistsError, match="model.fp16.safetensors"):
        write_shape_vae(folder, tiny_vae(TINY_VAE_PARAMS, 42), dtype=torch.float32, overwrite=True)


def test_folder_with_other_files_is_accepted(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "notes.txt").write_text("training run")
    write_shape_vae(folder, tiny_vae(TINY_VAE_PARAMS, 51))
    assert load_shape_vae(folder)[1].vae.num_latents == TINY_VAE_PARAMS["num_latents"]


def test_parts_that_do_not_fit_are_refused(tmp_path):
    dit, _, conditioner = _tiny_parts()
    wider_vae = tiny_vae(dict(TINY_VAE_PARAMS, embed_dim=16), 61)
    with pytest.raises(ValueError, match="embed_dim"):
        write_shape_model(tmp_path / "x", dit=dit, vae=wider_vae, conditioner=conditioner)
    assert not (tmp_path / "x").exists()


@pytest.mark.oracle
@pytest.mark.parametrize("multiview", [False, True], ids=["single-view", "multi-view"])
def test_reference_package_loads_what_we_write(tmp_path, multiview):
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.pipelines import instantiate_from_config
    from safetensors.torch import load_file

    from hy3d_core.io.dinov2_layout import to_split_layout, uses_split_layout

    dit, vae, conditioner = _tiny_parts(multiview=multiview, vae_params=TINY_ENCODER_PARAMS)
    folder = write_shape_model(tmp_path / "export", dit=dit, vae=vae, conditioner=conditioner,
                               dtype=torch.float32)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in load_file(str(folder / "model.safetensors")).items():
        part, _, rest = key.partition(".")
        parts.setdefault(part, {})[rest] = value
    reference = {name: instantiate_from_config(config[name]) for name in ("model", "vae", "conditioner")}
    for name in ("scheduler", "image_processor"):
        instantiate_from_config(config[name])
    conditioner_state = parts["conditioner"]
    # The reference builds DINOv2 with the installed transformers, whose own loader
    # renames released keys; a plain load_state_dict needs them renamed here.
    if uses_split_layout(reference["conditioner"].state_dict()):
        conditioner_state = {k: load() for k, load in
                             to_split_layout((k, (lambda v=v: v)) for k, v in conditioner_state.items())}
    for name, state in (("model", parts["model"]), ("vae", parts["vae"]),
                        ("conditioner", conditioner_state)):
        reference[name].load_state_dict(state, strict=True)
    latents = torch.randn(2, 32, 8, generator=torch.Generator().manual_seed(7))
    context = torch.randn(2, 10, 32, generator=torch.Generator().manual_seed(8))
    t = torch.tensor([0.2, 0.7])
    with torch.no_grad():
        expected = reference["model"].eval()(latents, t, {"main": context})
        got = dit(latents, t, context)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
