"""Released (transformers 4.x) DINOv2 names load into the installed transformers.

transformers' own ``from_pretrained`` knows how to read 4.x-named files; it is the oracle
for our conversion, which has to work on plain state dicts inside combined checkpoints.
"""

import json

import pytest
import torch
from safetensors.torch import save_file
from transformers import Dinov2Config, Dinov2Model

from hy3d_core.io.dinov2_layout import to_released_layout, to_split_layout, uses_split_layout


def _tiny(swiglu: bool) -> Dinov2Model:
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=28,
        patch_size=14, use_swiglu_ffn=swiglu, layerscale_value=0.5,
    )
    return Dinov2Model(config).eval()


RELEASED_LAYER_KEYS = {
    "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
    "attention.attention.query.weight", "attention.attention.query.bias",
    "attention.attention.key.weight", "attention.attention.key.bias",
    "attention.attention.value.weight", "attention.attention.value.bias",
    "attention.output.dense.weight", "attention.output.dense.bias",
    "layer_scale1.lambda1", "layer_scale2.lambda1",
    "mlp.weights_in.weight", "mlp.weights_in.bias", "mlp.weights_out.weight", "mlp.weights_out.bias",
}


def test_released_names_are_the_transformers_4_names():
    model = _tiny(swiglu=True)
    released = to_released_layout(model.state_dict())
    layer0 = {k.removeprefix("encoder.layer.0.") for k in released if k.startswith("encoder.layer.0.")}
    assert layer0 == RELEASED_LAYER_KEYS


@pytest.mark.parametrize("swiglu", [True, False])
def test_round_trip_through_released_layout(swiglu):
    model = _tiny(swiglu)
    state = model.state_dict()
    released = to_released_layout(state)
    items = [(k, (lambda v=v: v)) for k, v in released.items()]
    converted = {k: load() for k, load in to_split_layout(items)} if uses_split_layout(state) else released
    assert converted.keys() == state.keys()
    for key in state:
        assert torch.equal(converted[key], state[key]), key


def test_conversion_agrees_with_transformers_from_pretrained(tmp_path):
    """A folder with 4.x names, read by transformers itself, gives the same network."""
    model = _tiny(swiglu=True)
    released = to_released_layout(model.state_dict())
    save_file({k: v.contiguous() for k, v in released.items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(model.config.to_dict()))
    reference = Dinov2Model.from_pretrained(str(tmp_path)).eval()

    items = [(k, (lambda v=v: v)) for k, v in released.items()]
    ours = _tiny(swiglu=True)
    if uses_split_layout(ours.state_dict()):
        items = list(to_split_layout(items))
    ours.load_state_dict({k: load() for k, load in items}, strict=True)

    pixels = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected = reference(pixel_values=pixels).last_hidden_state
        got = ours(pixel_values=pixels).last_hidden_state
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
