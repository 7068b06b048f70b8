"""The family table: how a checkpoint is matched to its row, and the row's release defaults."""

import dataclasses

import pytest

from hy3d_core.models import families
from hy3d_core.models.dit_config import DIT_PRESETS
from hy3d_core.models.families import HUNYUAN3D_2_0, HUNYUAN3D_2_1, family_for_keys, family_for_target
from hy3d_core.models.shape_vae_config import VAE_PRESETS


def test_hunyuan3d_2_0_is_recognised_by_its_config_targets():
    assert family_for_target("hy3dgen.shapegen.models.Hunyuan3DDiT", "dit") is HUNYUAN3D_2_0
    assert family_for_target("hy3dgen.shapegen.models.ShapeVAE", "vae") is HUNYUAN3D_2_0
    assert family_for_target("ShapeVAE", "vae") is HUNYUAN3D_2_0
    # A DiT class is not a VAE class.
    assert family_for_target("Hunyuan3DDiT", "vae") is None


def test_hunyuan3d_2_1_is_its_own_row():
    target = "hy3dshape.models.denoisers.hunyuandit.HunYuanDiTPlain"
    assert family_for_target(target, "dit") is HUNYUAN3D_2_1
    assert family_for_keys({"model.t_embedder.mlp.2.weight", "vae.post_kl.weight"}) is HUNYUAN3D_2_1
    assert HUNYUAN3D_2_1.default_num_latents == 4096
    assert HUNYUAN3D_2_1.defaults == HUNYUAN3D_2_0.defaults


@pytest.mark.parametrize("keys", [
    {"model.latent_in.weight", "vae.post_kl.weight"},
    {"latent_in.weight"},
    {"geo_decoder.output_proj.weight", "post_kl.weight"},
    {"vae.geo_decoder.output_proj.weight"},
])
def test_hunyuan3d_2_0_is_recognised_by_its_keys(keys):
    assert family_for_keys(keys) is HUNYUAN3D_2_0


def test_a_file_of_another_model_has_no_family():
    assert family_for_keys({"first_stage_model.decoder.conv_in.weight"}) is None
    assert family_for_keys({"model.x_embedder.weight"}) is None


def test_a_new_row_is_found_without_touching_the_lookups(monkeypatch):
    other = dataclasses.replace(HUNYUAN3D_2_0, name="other", label="Other", dit_targets=("OtherDiT",),
                                dit_signature_key="other_in.weight")
    monkeypatch.setattr(families, "SHAPE_FAMILIES", (HUNYUAN3D_2_0, other))
    assert family_for_target("pkg.OtherDiT", "dit") is other
    assert family_for_keys({"model.other_in.weight"}) is other
    assert "Other's OtherDiT" in families.supported_targets("dit")


def test_release_defaults_are_the_release_pipelines():
    defaults = HUNYUAN3D_2_0.defaults
    assert (defaults.steps, defaults.guidance, defaults.octree_resolution) == (50, 5.0, 384)
    assert (defaults.decoder, defaults.max_faces, defaults.image_view) == ("dense", 40000, (0.0, 0.0))
    assert (defaults.image_size, defaults.border_ratio) == (512, 0.15)


def test_a_bare_dit_goes_with_the_released_vae_of_its_size():
    assert HUNYUAN3D_2_0.vae_preset_for_dit(DIT_PRESETS["v2-mini"]) == VAE_PRESETS["v2-mini"]
    assert HUNYUAN3D_2_0.vae_preset_for_dit(DIT_PRESETS["v2-0"]) == VAE_PRESETS["v2-0"]
    assert HUNYUAN3D_2_0.default_num_latents == 3072


def test_variant_names():
    variant = HUNYUAN3D_2_0.variant_name
    assert variant(DIT_PRESETS["v2-0-fast"], False) == "v2-0-fast"
    assert variant(DIT_PRESETS["v2-0"], True) == "v2-mv"
    assert variant(DIT_PRESETS["v2-0-fast"], True) == "v2-mv-fast"
    assert variant(dataclasses.replace(DIT_PRESETS["v2-0"], depth=3), False) == "custom"
    assert variant(None, False) == "vae"
