"""Hunyuan3D 2.1 shape DiT: parity with Tencent's 2.1 code on the tiny oracle, released
key layout, mixture-of-experts routing, config handling and the full-size parameter count."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from hy3d_core.models.dit_v2_1 import HunyuanDiTPlain, timestep_token_features
from hy3d_core.models.dit_v2_1_blocks import MixtureOfExperts
from hy3d_core.models.dit_v2_1_config import (
    DIT_V2_1_PRESETS,
    DiTPlainConfig,
    infer_config_from_shapes,
)
from shape21_fixture import fixture_config, load_dit, part_state_dict
from shared_fixtures import SHAPE_21, load_reference

ATOL = 1e-4
V2_1_PARAMETERS = 3_050_758_720


@pytest.fixture(scope="module")
def reference() -> dict:
    return load_reference(SHAPE_21)


@pytest.fixture(scope="module")
def traced_call(reference):
    """Our DiT on ``dit_in`` with the time token, every block's output and the MoE gates'
    routing recorded by forward hooks."""
    model = load_dit()
    record = {"blocks": [], "routing": []}
    model.t_embedder.register_forward_hook(lambda m, a, out: record.update(t_embed=out))
    for block in model.blocks:
        block.register_forward_hook(lambda m, a, out: record["blocks"].append(out))
        if block.uses_moe:
            block.moe.gate.register_forward_hook(lambda m, a, out: record["routing"].append(out))
    inputs = reference["dit_in"]
    with torch.no_grad():
        record["out"] = model(inputs["x"], inputs["t"], inputs["contexts"]["main"])
    return record


def _fixture_params() -> dict:
    return fixture_config()["model"]["params"]


def test_state_dict_keys_and_shapes_are_the_released_ones():
    released = part_state_dict("model")
    ours = HunyuanDiTPlain(DiTPlainConfig.from_params(_fixture_params())).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in released.items()}


def test_time_token_matches_reference(traced_call, reference):
    torch.testing.assert_close(traced_call["t_embed"], reference["dit_t_embed"], atol=ATOL, rtol=0)


def test_every_block_output_matches_reference(traced_call, reference):
    expected = reference["dit_block_outputs"]
    assert len(traced_call["blocks"]) == len(expected) == 7
    for index, (ours, theirs) in enumerate(zip(traced_call["blocks"], expected)):
        torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0, msg=f"block {index}")


def test_output_matches_reference(traced_call, reference):
    torch.testing.assert_close(traced_call["out"], reference["dit_out"], atol=ATOL, rtol=0)


def test_cfg_shaped_call_matches_reference(reference):
    inputs = reference["dit_in_cfg"]
    with torch.no_grad():
        out = load_dit()(inputs["x"], inputs["t"], inputs["contexts"]["main"])
    torch.testing.assert_close(out, reference["dit_out_cfg"], atol=ATOL, rtol=0)


def test_moe_routing_matches_reference_per_token(traced_call, reference):
    routed = traced_call["routing"]
    assert len(routed) == len(reference["dit_moe_routing"]) == 2
    for (weights, experts), theirs in zip(routed, reference["dit_moe_routing"]):
        ours_sorted, order = experts.sort(dim=-1)
        theirs_sorted, their_order = theirs["topk_idx"].sort(dim=-1)
        assert torch.equal(ours_sorted, theirs_sorted)
        torch.testing.assert_close(weights.gather(1, order), theirs["topk_weight"].gather(1, their_order),
                                   atol=1e-6, rtol=0)


def test_time_features_use_t_itself_sine_first():
    features = timestep_token_features(torch.tensor([0.5]), 8)
    frequencies = [10000 ** (-i / 4) for i in range(4)]
    expected = [math.sin(0.5 * f) for f in frequencies] + [math.cos(0.5 * f) for f in frequencies]
    torch.testing.assert_close(features[0], torch.tensor(expected), atol=1e-7, rtol=0)


def _tiny_moe(top_k: int = 2) -> MixtureOfExperts:
    config = dataclasses.replace(
        DiTPlainConfig.from_params(_fixture_params()), num_experts=5, moe_top_k=top_k
    )
    moe = MixtureOfExperts(config)
    with torch.no_grad():
        for parameter in moe.parameters():
            parameter.normal_(0, 0.3)
    return moe


def _moe_with_every_expert_on_every_token(moe: MixtureOfExperts, x: torch.Tensor) -> torch.Tensor:
    """The definition, spelled out: all experts on all tokens, weighted by the gate's
    softmax scores where an expert is among a token's top k, zero elsewhere."""
    scores = F.linear(x, moe.gate.weight).softmax(-1)
    kept = scores.topk(moe.gate.top_k, dim=-1).indices
    mask = torch.zeros_like(scores).scatter(-1, kept, 1.0)
    outputs = torch.stack([expert(x) for expert in moe.experts], dim=-2)
    return ((scores * mask)[..., None] * outputs).sum(-2) + moe.shared_experts(x)


@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_moe_equals_every_expert_on_every_token(top_k):
    moe = _tiny_moe(top_k)
    x = torch.randn(3, 40, 64)
    with torch.no_grad():
        torch.testing.assert_close(moe(x), _moe_with_every_expert_on_every_token(moe, x),
                                   atol=1e-5, rtol=1e-5)


def test_moe_gradients_equal_the_definitions():
    """Routing per expert stays differentiable (for fine-tuning): same gradients for the
    input and for every weight as the all-experts formulation."""
    moe = _tiny_moe()
    x = torch.randn(2, 30, 64, requires_grad=True)
    upstream = torch.randn(2, 30, 64)
    grads = []
    for function in (moe, lambda inputs: _moe_with_every_expert_on_every_token(moe, inputs)):
        moe.zero_grad()
        x.grad = None
        (function(x) * upstream).sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in moe.parameters()])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_moe_runs_each_expert_only_on_its_tokens():
    moe = _tiny_moe()
    rows = []
    for expert in moe.experts:
        expert.register_forward_hook(lambda m, args, out: rows.append(args[0].shape[0]))
    x = torch.randn(2, 50, 64)
    with torch.no_grad():
        moe(x)
        _, experts = moe.gate(x.reshape(-1, 64))
    counts = torch.bincount(experts.reshape(-1), minlength=5)
    assert sorted(rows) == sorted(count for count in counts.tolist() if count)
    assert sum(rows) == 2 * x.shape[0] * x.shape[1]


def test_half_precision_weights_take_float32_inputs_and_return_their_dtype(reference):
    model = load_dit().to(torch.bfloat16)
    inputs = reference["dit_in"]
    with torch.no_grad():
        out = model(inputs["x"], inputs["t"], inputs["contexts"]["main"])
    assert out.dtype == torch.float32
    error = (out - reference["dit_out"]).norm() / reference["dit_out"].norm()
    assert error < 0.05


def test_guidance_and_bad_shapes_are_refused(reference):
    model = load_dit()
    inputs = reference["dit_in"]
    x, t, context = inputs["x"], inputs["t"], inputs["contexts"]["main"]
    with pytest.raises(ValueError, match="guidance=None"):
        model(x, t, context, guidance=5.0)
    with pytest.raises(ValueError, match="latents must be"):
        model(x.transpose(1, 2), t, context)
    with pytest.raises(ValueError, match="context must be"):
        model(x, t, context[..., :32])
    with pytest.raises(ValueError, match="1 or 2 values"):
        model(x, torch.rand(3), context)


# ----- config ---------------------------------------------------------------------------


def test_config_round_trips():
    for config in (DiTPlainConfig.from_params(_fixture_params()), DIT_V2_1_PRESETS["v2-1"]):
        assert DiTPlainConfig.from_params(config.to_params()) == config


def test_released_preset():
    config = DIT_V2_1_PRESETS["v2-1"]
    assert (config.hidden_size, config.depth, config.num_heads, config.context_dim) == (2048, 21, 16, 1024)
    assert (config.num_moe_layers, config.num_experts, config.moe_top_k) == (6, 8, 2)
    assert (config.input_size, config.in_channels, config.head_dim) == (4096, 64, 128)
    assert [i for i in range(21) if config.has_skip(i)] == list(range(11, 21))
    assert [i for i in range(21) if config.pushes_skip(i)] == list(range(10))
    assert [i for i in range(21) if config.uses_moe(i)] == list(range(15, 21))


def test_missing_keys_take_the_reference_constructor_defaults():
    params = {k: v for k, v in _fixture_params().items() if k != "qkv_bias"}
    assert DiTPlainConfig.from_params(params).qkv_bias is True
    params = {k: v for k, v in _fixture_params().items() if k != "use_attention_pooling"}
    with pytest.raises(ValueError, match="use_attention_pooling"):
        DiTPlainConfig.from_params(params)


def test_unknown_config_key_is_an_error():
    with pytest.raises(ValueError, match="depth_single_blocks"):
        DiTPlainConfig.from_params({**_fixture_params(), "depth_single_blocks": 32})


@pytest.mark.parametrize("option, value", [
    ("use_attention_pooling", True),
    ("with_decoupled_ca", True),
    ("use_pos_emb", True),
    ("qk_norm_type", "layer"),
    ("guidance_cond_proj_dim", 256),
    ("norm_type", "rms"),
    ("mlp_ratio", 2.0),
])
def test_unsupported_options_are_refused_by_name(option, value):
    with pytest.raises(ValueError, match=f"{option}={value!r}"):
        DiTPlainConfig.from_params({**_fixture_params(), option: value})


@pytest.mark.parametrize("changes, message", [
    (dict(num_heads=5), "not divisible"),
    (dict(num_moe_layers=8), "num_moe_layers"),
    (dict(moe_top_k=5), "moe_top_k"),
    (dict(depth=0), "depth"),
])
def test_inconsistent_sizes_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        DiTPlainConfig.from_params({**_fixture_params(), **changes})


# ----- configs from bare weights --------------------------------------------------------


def _meta_shapes(config: DiTPlainConfig) -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: v.shape for k, v in HunyuanDiTPlain(config).state_dict().items()}


def test_infer_config_from_the_fixture_weights():
    """Everything the weights record comes back, heads included (the q/k norms are
    head-wide); input_size and text_len shape no weight and take the released values."""
    inferred = infer_config_from_shapes({k: v.shape for k, v in part_state_dict("model").items()})
    expected = DiTPlainConfig.from_params(_fixture_params())
    assert (inferred.input_size, inferred.text_len) == (4096, 1370)
    unrecorded = dict(input_size=expected.input_size, text_len=expected.text_len)
    assert dataclasses.replace(inferred, **unrecorded) == expected


def test_infer_config_of_the_released_network():
    assert infer_config_from_shapes(_meta_shapes(DIT_V2_1_PRESETS["v2-1"])) == DIT_V2_1_PRESETS["v2-1"]


@pytest.mark.parametrize("hidden, heads", [(2048, 16), (64, 1)])
def test_without_qk_norm_the_released_head_width_is_assumed(hidden, heads):
    config = dataclasses.replace(DIT_V2_1_PRESETS["v2-1"], hidden_size=hidden,
                                 num_heads=4 if hidden == 64 else 32, qk_norm=False,
                                 qkv_bias=True, depth=3, num_moe_layers=1)
    inferred = infer_config_from_shapes(_meta_shapes(config))
    assert inferred == dataclasses.replace(config, num_heads=heads)


def test_infer_config_explains_wrong_inputs():
    shapes = {k: v.shape for k, v in part_state_dict("model").items()}
    with pytest.raises(ValueError, match="strip the 'model.' prefix"):
        infer_config_from_shapes({f"model.{k}": v for k, v in shapes.items()})
    with pytest.raises(ValueError, match="use_attention_pooling"):
        infer_config_from_shapes({**shapes, "pooler.q_proj.weight": (1024, 1024)})
    without_block_5 = {k: v for k, v in shapes.items() if not k.startswith("blocks.5.")}
    with pytest.raises(ValueError, match="numbered"):
        infer_config_from_shapes(without_block_5)


def test_full_size_parameter_count():
    """3,050,758,720, counted from the architecture: H = 2048, 21 blocks, 10 with a long
    skip, 15 dense MLPs and 6 mixtures of 8 experts plus a shared one, all 4H wide."""
    hidden, ctx, channels, inner = 2048, 1024, 64, 4 * 2048

    def linear(n_in: int, n_out: int, bias: bool = True) -> int:
        return n_in * n_out + (n_out if bias else 0)

    mlp = linear(hidden, inner) + linear(inner, hidden)
    block = (3 * 2 * hidden                                        # norm1-3
             + 3 * linear(hidden, hidden, False) + 2 * 128 + linear(hidden, hidden)      # attn1
             + linear(hidden, hidden, False) + 2 * linear(ctx, hidden, False) + 2 * 128  # attn2
             + linear(hidden, hidden))
    expected = (linear(channels, hidden) + mlp                    # x_embedder, t_embedder
                + 21 * block
                + 10 * (linear(2 * hidden, hidden) + 2 * hidden)  # skip_linear, skip_norm
                + 15 * mlp + 6 * (8 * hidden + 9 * mlp)           # MLPs; gate, experts, shared
                + 2 * hidden + linear(hidden, channels))          # final layer
    assert expected == V2_1_PARAMETERS
    with torch.device("meta"):
        model = HunyuanDiTPlain(DIT_V2_1_PRESETS["v2-1"])
    assert sum(p.numel() for p in model.parameters()) == V2_1_PARAMETERS


def test_comfyuis_port_is_our_dit_in_flipped_time_and_sign(reference):
    """ComfyUI's 2.1 port takes latents [B, 64, N] and time 1 - t, and returns the negated
    velocity (docs/release_conventions_2_1.md, section 8): on a CFG-shaped batch its
    recorded output is ours turned the same way, so its samplers and our decoder agree."""
    inputs = reference["dit_in_cfg"]
    with torch.no_grad():
        ours = load_dit()(inputs["x"], inputs["t"], inputs["contexts"]["main"])
    torch.testing.assert_close(-ours.movedim(-1, -2), reference["comfy_dit_out_cfg"],
                               atol=1e-4, rtol=0)
