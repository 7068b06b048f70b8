"""The Paint PBR (2.1) UNet and PoseRoPE against the tensors Tencent's release recorded."""

from __future__ import annotations

import json

import pytest
import torch

from hy3d_core.models.paint_pbr_unet import PaintPbrUNet, released_layer_name
from hy3d_core.models.pose_rope import apply_rope, position_voxel_levels, rope_tables
from paint_pbr_fixture import MODEL_FOLDER, model, paint_pbr_fixture, reference  # noqa: F401 - fixtures
from tiny_paint import flush_denormals  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("flush_denormals")


@torch.no_grad()
def _conditions(model, inputs):
    return model.unet.prepare_conditions(
        reference_latents=inputs["ref_latents"],
        dino_features=inputs["dino_hidden_states"],
        position_maps=inputs["position_maps"],
        normal_latents=inputs["embeds_normal"],
        position_latents=inputs["embeds_position"],
        reference_scale=inputs["ref_scale"],
    )


def test_position_voxel_indices_are_the_releases_and_leave_the_maps_alone(reference):
    maps = reference["unet_inputs"]["position_maps"]
    before = maps.clone()
    levels = position_voxel_levels(maps, latent_size=8)
    recorded = reference["unet_intermediates"]["position_voxel_indices"]
    assert sorted(levels) == sorted(recorded)
    for length, level in recorded.items():
        assert levels[length].resolution == level["voxel_resolution"]
        assert torch.equal(levels[length].indices, level["voxel_indices"])
        for head_dim in [key for key in level if isinstance(key, int)]:
            cos, sin = levels[length].rope(head_dim)
            # the release repeats the tables for both materials: rows (branch, material)
            torch.testing.assert_close(cos.repeat_interleave(2, 0), level[head_dim][0], atol=1e-6, rtol=0)
            torch.testing.assert_close(sin.repeat_interleave(2, 0), level[head_dim][1], atol=1e-6, rtol=0)
    assert torch.equal(maps, before)


def test_coarser_levels_count_the_zeroed_background_as_surface():
    """One view, 16x16 pixels, latent 2: the object covers only the top-left pixel block."""
    maps = torch.ones(1, 1, 3, 16, 16)
    maps[..., :8, :8] = 0.5
    levels = position_voxel_levels(maps, latent_size=2)
    fine, coarse = levels[4], levels[1]
    # fine grid (2x2 cells): only the object cell has a position; the background cells are 0
    assert fine.indices[0, :, 0].tolist() == [round(0.5 * 15), 0, 0, 0]
    # coarse grid (1 cell): the zeroed background now counts, diluting the mean to 0.125
    assert coarse.indices[0, 0, 0].item() == round(0.125 * 7)


def test_rope_depends_only_on_the_offset_between_positions():
    generator = torch.Generator().manual_seed(0)
    query, key = torch.randn(2, 1, 1, 1, 32, generator=generator)
    indices = torch.tensor([[[3, 5, 7], [10, 1, 2], [13, 15, 17], [20, 11, 12]]])
    cos, sin = rope_tables(indices, resolution=32, head_dim=32)

    def rotated(x, token):
        return apply_rope(x, cos[:, token:token + 1], sin[:, token:token + 1])

    near = (rotated(query, 0) * rotated(key, 1)).sum()
    shifted = (rotated(query, 2) * rotated(key, 3)).sum()  # both moved by (10, 10, 10)
    torch.testing.assert_close(near, shifted, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(near, (query * key).sum(), atol=1e-3)


def test_unet_call_matches_the_release(model, reference):
    inputs = reference["unet_inputs"]
    recorded = reference["unet_intermediates"]
    torch.testing.assert_close(
        model.unet.material_text[None].expand(3, -1, -1, -1), inputs["encoder_hidden_states"], atol=0, rtol=0
    )
    with torch.no_grad():
        conditions = _conditions(model, inputs)
        output = model.unet(inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"], conditions)
    assert output.shape == inputs["sample"].shape
    torch.testing.assert_close(output.reshape(reference["unet_out"].shape), reference["unet_out"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(conditions.dino_tokens, recorded["dino_hidden_states_proj"], atol=1e-5, rtol=1e-5)
    assert sorted(conditions.reference_states) == sorted(recorded["condition_embed_dict"])
    for name, states in recorded["condition_embed_dict"].items():
        torch.testing.assert_close(conditions.reference_states[name], states, atol=1e-4, rtol=1e-4)


def test_reference_scale_zero_switches_the_reference_off(model, reference):
    inputs = dict(reference["unet_inputs"])
    with torch.no_grad():
        first = model.unet(inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"],
                           _conditions(model, inputs))
        inputs["ref_latents"] = -inputs["ref_latents"]
        second = model.unet(inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"],
                            _conditions(model, inputs))
    torch.testing.assert_close(first[0], second[0], atol=1e-6, rtol=0)  # branch 0 has ref_scale 0
    assert (first[1:] - second[1:]).abs().max() > 1e-2


def test_wrong_sample_layout_is_refused(model, reference):
    inputs = reference["unet_inputs"]
    conditions = _conditions(model, inputs)
    with torch.no_grad(), pytest.raises(ValueError, match="does not fit the conditions"):
        model.unet(inputs["sample"].flatten(1, 2), inputs["timestep"], inputs["encoder_hidden_states"], conditions)


def test_heads_narrower_than_sixteen_are_refused():
    config = json.loads((paint_pbr_fixture() / MODEL_FOLDER / "unet" / "config.json").read_text())
    config["attention_head_dim"] = [4, 1]  # 32 channels / 4 heads = 8 wide
    with torch.device("meta"), pytest.raises(ValueError, match="multiple of 16"):
        PaintPbrUNet(config, dino_width=32)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("down_blocks.0.attentions.1.transformer_blocks.0", "down_0_1_0"),
        ("mid_block.attentions.0.transformer_blocks.2", "mid_0_2"),
        ("up_blocks.3.attentions.2.transformer_blocks.0", "up_3_2_0"),
    ],
)
def test_layer_names_are_the_releases(path, name):
    assert released_layer_name(path) == name
