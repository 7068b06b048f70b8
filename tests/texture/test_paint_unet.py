"""The Paint 2.5D UNet and its loader against the reference ``UNet2p5DConditionModel``."""

from __future__ import annotations

import ast
import importlib.util
import json

import pytest
import torch

from hy3d_core.io.checkpoint_files import CheckpointError
from hy3d_core.io.paint_checkpoints import load_paint_model, load_paint_unet
from hy3d_core.models.paint_unet import PaintUNet
from hy3d_core.render.cameras import paint_camera_index
from tiny_paint import (  # noqa: F401 - flush_denormals is a fixture
    TINY_UNET_CONFIG,
    flush_denormals,
    randomize_,
    tiny_paint_unet_state,
    write_tiny_paint_folder,
)

pytestmark = pytest.mark.usefixtures("flush_denormals")


def _oracle_model():
    from oracle import import_oracle

    modules = import_oracle("hy3dgen.texgen.hunyuanpaint.unet.modules")
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    config = {k: v for k, v in TINY_UNET_CONFIG.items() if not k.startswith("_")}
    model = modules.UNet2p5DConditionModel(UNet2DConditionModel(**config))
    randomize_(model, seed=1)
    return model.eval()


def _inputs(batch: int, views: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)

    def noise(*shape):
        return torch.randn(*shape, generator=generator)

    return {
        "latents": noise(batch, views, 4, 8, 8),
        "normals": noise(batch, views, 4, 8, 8),
        "positions": noise(batch, views, 4, 8, 8),
        "reference": noise(1, 1, 4, 8, 8),
        "cameras": torch.tensor([[12, 15, 18, 40, 36][:views]] * batch),
    }


@pytest.mark.oracle
@pytest.mark.parametrize("guided", [True, False])
def test_noise_prediction_matches_reference(tmp_path, guided):
    oracle = _oracle_model()
    write_tiny_paint_folder(tmp_path, unet_state=oracle.state_dict())
    ours = load_paint_unet(tmp_path / "unet")
    batch, views = (2, 3) if guided else (1, 3)
    x = _inputs(batch, views)
    text = oracle.unet.learned_text_clip_gen.detach()
    reference = x["reference"]
    scale: torch.Tensor | float = 1.0
    if guided:  # the release's unconditional half: zero reference seen at scale 0, zero text
        text = torch.cat([torch.zeros_like(text), text])
        reference = torch.cat([torch.zeros_like(reference), reference])
        scale = torch.tensor([0.0, 1.0])
    timestep = torch.tensor(601)
    with torch.no_grad():
        expected = oracle(
            x["latents"], timestep, text,
            camera_info_gen=x["cameras"], camera_info_ref=torch.zeros(batch, 1, dtype=torch.long),
            normal_imgs=x["normals"], position_imgs=x["positions"],
            ref_latents=reference, ref_scale=scale,
        )[0]
        states = ours.encode_reference(reference)
        got = ours(x["latents"], timestep, text, x["normals"], x["positions"], x["cameras"], states,
                   reference_scale=scale)
    assert got.shape == (batch, views, 4, 8, 8)
    torch.testing.assert_close(got.flatten(0, 1), expected, atol=1e-5 * expected.abs().max().item(), rtol=1e-5)


def test_reference_scale_zero_ignores_the_reference(tmp_path):
    model = PaintUNet(dict(TINY_UNET_CONFIG))
    randomize_(model, seed=3)
    model.eval()
    x = _inputs(1, 2)
    text = model.text_embedding.detach()
    with torch.no_grad():
        outputs = [
            model(x["latents"], 500, text, x["normals"], x["positions"], x["cameras"],
                  model.encode_reference(reference), reference_scale=scale)
            for reference, scale in ((x["reference"], 0.0), (-x["reference"], 0.0), (x["reference"], 1.0))
        ]
    torch.testing.assert_close(outputs[0], outputs[1])
    assert not torch.allclose(outputs[0], outputs[2])


def _released_camera_index_expression():
    """The release's inline camera-index list comprehension, read from its source."""
    spec = importlib.util.find_spec("hy3dgen.texgen.pipelines")
    if spec is None or spec.origin is None:
        pytest.skip("reference hy3dgen 2.0.2 not installed")
    tree = ast.parse(open(spec.origin, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.ListComp):
            if any(isinstance(t, ast.Name) and t.id == "camera_info" for t in node.targets):
                return compile(ast.Expression(node.value), spec.origin, "eval")
    pytest.fail("the reference no longer computes camera_info inline")


@pytest.mark.oracle
def test_camera_index_matches_reference():
    expression = _released_camera_index_expression()
    elevations = [-20, 0, 20, -90, 90]
    azimuths = list(range(0, 360, 15)) + [-30, 405]
    pairs = [(a, e) for e in elevations for a in azimuths]
    expected = eval(expression, {}, {  # noqa: S307 - the reference's own expression
        "selected_camera_azims": [a for a, _ in pairs],
        "selected_camera_elevs": [e for _, e in pairs],
    })
    assert [paint_camera_index(a, e) for a, e in pairs] == expected


def test_builds_on_meta_device_with_released_key_layout():
    with torch.device("meta"):
        model = PaintUNet(dict(TINY_UNET_CONFIG))
    keys = set(model.state_dict())
    assert "unet.learned_text_clip_gen" in keys and "unet.learned_text_clip_ref" in keys
    assert model.unet.class_embedding.weight.shape == (49, 1280)
    assert model.unet.conv_in.weight.shape[1] == 12
    assert model.unet_dual.conv_in.weight.shape[1] == 4
    assert "unet.down_blocks.0.attentions.0.transformer_blocks.0.transformer.attn1.to_q.weight" in keys
    assert "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn_multiview.to_out.0.bias" in keys
    assert "unet.mid_block.attentions.0.transformer_blocks.0.attn_refview.to_k.weight" in keys
    assert not any("attn_multiview" in k or "attn_refview" in k for k in keys if k.startswith("unet_dual."))


SD21_UNET_CONFIG = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": [5, 10, 20, 20],
    "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 1024,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "sample_size": 96,
    "upcast_attention": True,
    "use_linear_projection": True,
}


def test_released_size_on_meta_device():
    """The SD 2.1 config gives the shapes the release hard-codes (1280-wide camera rows, 1024-wide text)."""
    with torch.device("meta"):
        model = PaintUNet(dict(SD21_UNET_CONFIG))
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert shapes["unet.conv_in.weight"] == (320, 12, 3, 3)
    assert shapes["unet_dual.conv_in.weight"] == (320, 4, 3, 3)
    assert shapes["unet.class_embedding.weight"] == (49, 1280)
    assert shapes["unet.learned_text_clip_gen"] == (1, 77, 1024)
    assert shapes["unet.up_blocks.3.attentions.2.transformer_blocks.0.attn_refview.to_q.weight"] == (320, 320)
    assert shapes["unet.mid_block.attentions.0.transformer_blocks.0.attn_multiview.to_out.0.weight"] == (1280, 1280)
    wrapped = {key.split(".transformer.")[0] for key in shapes if key.startswith("unet.") and ".transformer." in key}
    assert len(wrapped) == 16  # 6 down, 1 mid, 9 up


def test_missing_unet_folder_is_a_clear_error(tmp_path):
    write_tiny_paint_folder(tmp_path, unet_state=tiny_paint_unet_state())
    for path in (tmp_path / "unet").iterdir():
        path.unlink()
    (tmp_path / "unet").rmdir()
    with pytest.raises(CheckpointError, match="unet/"):
        load_paint_model(tmp_path)


def test_not_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not a folder"):
        load_paint_model(tmp_path / "nowhere")
    (tmp_path / "file.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a folder"):
        load_paint_model(tmp_path / "file.bin")


def test_wrong_weights_name_the_expected_layout(tmp_path):
    state = tiny_paint_unet_state()
    plain = {k[len("unet."):]: v for k, v in state.items() if k.startswith("unet.")}
    write_tiny_paint_folder(tmp_path, unet_state=plain)
    with pytest.raises(CheckpointError, match="unet_dual"):
        load_paint_unet(tmp_path / "unet")


def test_config_that_does_not_fit_the_weights_is_a_clear_error(tmp_path):
    write_tiny_paint_folder(tmp_path, unet_state=tiny_paint_unet_state())
    config = dict(TINY_UNET_CONFIG, time_embedding_dim=640)
    (tmp_path / "unet" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="has shape"):
        load_paint_unet(tmp_path / "unet")


def test_loaded_model_matches_saved_weights(tmp_path):
    state = tiny_paint_unet_state(seed=4)
    write_tiny_paint_folder(tmp_path, unet_state=state)
    model = load_paint_model(tmp_path, dtype=torch.float64)
    assert model.dtype == torch.float64
    loaded = model.unet.state_dict()
    assert set(loaded) == set(state)
    torch.testing.assert_close(loaded["unet.learned_text_clip_ref"], state["unet.learned_text_clip_ref"].double())
    assert model.scheduler_config["num_train_timesteps"] == 1000
