"""Hunyuan3D 2.1 shape checkpoints through the real loader: the released folder
(config.yaml + model.fp16.ckpt) and ComfyUI's repackaged single file, both against
Tencent's 2.1 references; the family is recognised from the files, and a file of the other
family under a config that names this one is refused instead of loaded wrongly."""

import shutil

import pytest
import torch
import yaml

from hy3d_core.io.checkpoint_files import CheckpointError
from hy3d_core.io.shape_checkpoints import describe_checkpoint, load_shape_model
from hy3d_core.models.dit_v2_1_config import DIT_V2_1_PRESETS
from hy3d_core.models.families import HUNYUAN3D_2_1, family_for_keys
from hy3d_core.pipelines import SamplingSettings, VolumeSettings, decode_volume, sample_latents
from shared_fixtures import SHAPE_21, fixture_dir, load_reference
from tiny_checkpoints import demo_model_copy

RELEASED_FOLDER = "hunyuan3d-dit-v2-1"
COMFY_FILE = "hunyuan_3d_v2.1_tiny.safetensors"


@pytest.fixture(scope="module")
def reference():
    return load_reference(SHAPE_21)


@pytest.mark.parametrize("layout", [RELEASED_FOLDER, COMFY_FILE])
def test_both_layouts_load_as_hunyuan3d_21_and_match_the_references(layout, reference):
    model = load_shape_model(fixture_dir(SHAPE_21) / layout, dtype=torch.float32)
    assert model.configs.family is HUNYUAN3D_2_1
    assert model.configs.vae.scale_factor == pytest.approx(1.0039506158752403)
    with torch.no_grad():
        inputs = reference["dit_in"]
        velocity = model.dit(inputs["x"], inputs["t"], inputs["contexts"]["main"])
        torch.testing.assert_close(velocity, reference["dit_out"], atol=1e-4, rtol=0)
        decoded = model.vae.decode(reference["vae_latents"])
        logits = model.vae.occupancy(reference["query_points"], decoded)
        torch.testing.assert_close(logits, reference["vae_logits"][..., 0], atol=1e-4, rtol=0)
        if layout == RELEASED_FOLDER:
            # Without config.yaml DINOv2's head count comes from its width in 64-wide
            # heads, right for the released DINOv2-Large (16) but not for the tiny
            # fixture's 48-wide, 4-head encoder; its config.yaml says 4.
            tokens = model.conditioner(reference["prepared_image"])
            torch.testing.assert_close(tokens, reference["cond"], atol=1e-4, rtol=0)


def test_the_released_folder_samples_and_decodes_as_the_release(reference):
    """Seeded noise, 4 steps, CFG 5 through the pipeline functions (the release's call
    makes every model call, the last one of length zero)."""
    model = load_shape_model(fixture_dir(SHAPE_21) / RELEASED_FOLDER, dtype=torch.float32)
    context = model.conditioner(reference["prepared_image"])
    settings = SamplingSettings(steps=4, guidance=5.0, seed=0)
    latents = sample_latents(model.dit, context, model.configs.num_latents, settings)
    torch.testing.assert_close(latents, reference["pipeline_latents"], atol=2e-4, rtol=0)
    grid = decode_volume(model.vae, latents, VolumeSettings(decoder="dense", octree_resolution=48))
    torch.testing.assert_close(grid, reference["pipeline_grid_logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("layout", [RELEASED_FOLDER, COMFY_FILE])
def test_describe_names_the_family_without_loading(layout):
    description = describe_checkpoint(fixture_dir(SHAPE_21) / layout)
    assert description.configs.family.label == "Hunyuan3D 2.1"
    assert {part.name for part in description.parts} == {"dit", "vae", "conditioner"}
    dit = next(part for part in description.parts if part.name == "dit")
    assert dit.parameters == sum(p.numel() for p in load_shape_model(
        fixture_dir(SHAPE_21) / layout, parts=("dit",)).dit.parameters())


def test_the_family_is_recognised_from_the_keys_alone():
    from hy3d_core.io.checkpoint_files import TensorFile

    assert family_for_keys(TensorFile(fixture_dir(SHAPE_21) / COMFY_FILE)) is HUNYUAN3D_2_1


def test_a_21_config_over_20_weights_is_refused(tmp_path):
    """The demo model's 2.0 weights under the 2.1 fixture's config.yaml."""
    folder = demo_model_copy(tmp_path / "model", None)
    shutil.copy(fixture_dir(SHAPE_21) / RELEASED_FOLDER / "config.yaml", folder / "config.yaml")
    with pytest.raises(CheckpointError, match="describes a Hunyuan3D 2.1 model but .* holds "
                                               "Hunyuan3D 2.0 weights"):
        load_shape_model(folder)


def test_20_config_over_21_weights_is_refused(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(fixture_dir(SHAPE_21) / RELEASED_FOLDER, folder)
    from hy3d_core.demo import DEMO_MODEL_DIR

    shutil.copy(DEMO_MODEL_DIR / "config.yaml", folder / "config.yaml")
    with pytest.raises(CheckpointError, match="describes a Hunyuan3D 2.0 model but .* holds "
                                               "Hunyuan3D 2.1 weights"):
        load_shape_model(folder)


def test_the_released_21_layout_builds_from_its_row_on_the_meta_device():
    """The full-size 2.1 DiT as the family row builds it: 3,050,758,720 parameters."""
    with torch.device("meta"):
        dit = HUNYUAN3D_2_1.build_dit(DIT_V2_1_PRESETS["v2-1"])
    assert sum(p.numel() for p in dit.parameters()) == 3_050_758_720


def test_the_coarse_to_fine_decoders_run_on_the_21_vae(reference):
    """FlashVDM for 2.1 uses the 2.1 VAE itself (there is no separate turbo VAE): both
    coarse-to-fine decoders agree with dense decoding of the release run's latents."""
    model = load_shape_model(fixture_dir(SHAPE_21) / RELEASED_FOLDER, parts=("vae",))
    latents = reference["pipeline_latents"]
    grids = {decoder: decode_volume(model.vae, latents, VolumeSettings(decoder=decoder, octree_resolution=126))
             for decoder in ("dense", "hierarchical", "flashvdm")}
    dense = grids["dense"]
    defined = ~torch.isnan(grids["hierarchical"])
    assert 0 < int(defined.sum()) < dense.numel()
    torch.testing.assert_close(grids["hierarchical"][defined], dense[defined], rtol=1e-5, atol=1e-5)
    defined = ~torch.isnan(grids["flashvdm"])
    agreement = ((grids["flashvdm"][defined] > 0) == (dense[defined] > 0)).float().mean()
    assert agreement > 0.95
