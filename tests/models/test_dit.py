"""Hunyuan3D-DiT: parity with the reference, released checkpoint layout, config handling."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

from hy3d_core.models.dit import HunyuanDiT
from hy3d_core.models.dit_blocks import timestep_features
from hy3d_core.models.dit_config import DIT_PRESETS, DiTConfig, infer_dit_config
from oracle import import_oracle

TINY_PARAMS = dict(
    in_channels=8, context_in_dim=32, hidden_size=64, mlp_ratio=4.0, num_heads=4,
    depth=2, depth_single_blocks=2, axes_dim=[16], theta=10000, qkv_bias=True,
)

RELEASED_V2_0_YAML = """
model:
  target: hy3dgen.shapegen.models.Hunyuan3DDiT
  params:
    in_channels: 64
    context_in_dim: 1536
    hidden_size: 1024
    mlp_ratio: 4.0
    num_heads: 16
    depth: 16
    depth_single_blocks: 32
    axes_dim: [ 64 ]
    theta: 10000
    qkv_bias: true
    guidance_embed: false
"""


def _tiny_config(guidance_embed: bool = False) -> DiTConfig:
    return DiTConfig.from_params({**TINY_PARAMS, "guidance_embed": guidance_embed})


def _tiny_inputs(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    latents = torch.randn(batch, 16, TINY_PARAMS["in_channels"])
    t = torch.rand(batch)
    context = torch.randn(batch, 12, TINY_PARAMS["context_in_dim"])
    return latents, t, context


def _randomise_norm_scales(model: torch.nn.Module) -> None:
    """The RMS-norm scales start at one; make them matter for the comparison."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".scale"):
                parameter.uniform_(0.5, 1.5)


def _meta_shapes(model_factory) -> dict[str, torch.Size]:
    with torch.device("meta"):
        model = model_factory()
    return {key: value.shape for key, value in model.state_dict().items()}


def _oracle_dit_class():
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models import Hunyuan3DDiT

    return Hunyuan3DDiT


@pytest.mark.oracle
@pytest.mark.parametrize("guidance_embed", [False, True])
def test_forward_matches_reference(guidance_embed: bool) -> None:
    reference_class = _oracle_dit_class()
    reference = reference_class(**TINY_PARAMS, guidance_embed=guidance_embed).eval()
    _randomise_norm_scales(reference)
    ours = HunyuanDiT(_tiny_config(guidance_embed)).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)

    latents, t, context = _tiny_inputs()
    guidance = torch.tensor([3.0, 7.5]) if guidance_embed else None
    with torch.no_grad():
        expected = reference(latents, t, {"main": context}, guidance=guidance)
        actual = ours(latents, t, context, guidance)

    assert actual.shape == latents.shape
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, atol=1e-5 * scale, rtol=1e-5)
    # the two samples have different t (and guidance): the outputs must tell them apart
    assert not torch.allclose(actual[0], actual[1])


@pytest.mark.oracle
@pytest.mark.parametrize("preset", ["v2-0", "v2-0-fast", "v2-mini"])
def test_full_size_layout_matches_reference(preset: str) -> None:
    reference_class = _oracle_dit_class()
    config = DIT_PRESETS[preset]
    reference_params = {**config.__dict__, "axes_dim": list(config.axes_dim)}
    expected = _meta_shapes(lambda: reference_class(**reference_params))
    actual = _meta_shapes(lambda: HunyuanDiT(config))
    assert actual == expected


def test_v2_0_parameter_count() -> None:
    with torch.device("meta"):
        model = HunyuanDiT(DIT_PRESETS["v2-0"])
    assert sum(parameter.numel() for parameter in model.parameters()) == 1_113_274_432


def test_mv_preset_is_the_v2_0_network() -> None:
    assert DIT_PRESETS["v2-mv"] == DIT_PRESETS["v2-0"]


@pytest.mark.parametrize("preset", sorted(DIT_PRESETS))
def test_infer_config_recovers_each_preset(preset: str) -> None:
    shapes = _meta_shapes(lambda: HunyuanDiT(DIT_PRESETS[preset]))
    assert infer_dit_config(shapes) == DIT_PRESETS[preset]


def test_infer_config_recovers_a_non_default_head_width() -> None:
    config = DiTConfig(
        in_channels=8, context_in_dim=32, hidden_size=96, mlp_ratio=2.0, num_heads=3,
        depth=1, depth_single_blocks=3, axes_dim=(32,), qkv_bias=False, guidance_embed=True,
    )
    assert infer_dit_config(_meta_shapes(lambda: HunyuanDiT(config))) == config


def test_infer_config_explains_a_prefixed_state_dict() -> None:
    shapes = _meta_shapes(lambda: HunyuanDiT(_tiny_config()))
    prefixed = {f"model.{key}": shape for key, shape in shapes.items()}
    with pytest.raises(ValueError, match="model\\."):
        infer_dit_config(prefixed)


def test_from_params_reads_the_released_yaml() -> None:
    params = yaml.safe_load(RELEASED_V2_0_YAML)["model"]["params"]
    assert DiTConfig.from_params(params) == DIT_PRESETS["v2-0"]
    mini = {**params, "depth": 8, "depth_single_blocks": 16}
    assert DiTConfig.from_params(mini) == DIT_PRESETS["v2-mini"]
    fast = {**params, "guidance_embed": True}
    assert DiTConfig.from_params(fast) == DIT_PRESETS["v2-0-fast"]


def test_from_params_accepts_reference_constructor_extras() -> None:
    params = {**yaml.safe_load(RELEASED_V2_0_YAML)["model"]["params"]}
    params.update(time_factor=1000, ckpt_path="ignored.ckpt")
    assert DiTConfig.from_params(params) == DIT_PRESETS["v2-0"]


def test_from_params_rejects_unknown_keys_and_other_time_factors() -> None:
    params = yaml.safe_load(RELEASED_V2_0_YAML)["model"]["params"]
    with pytest.raises(ValueError, match="patch_size"):
        DiTConfig.from_params({**params, "patch_size": 2})
    with pytest.raises(ValueError, match="time_factor"):
        DiTConfig.from_params({**params, "time_factor": 500})


def test_config_rejects_axes_dim_that_does_not_sum_to_head_width() -> None:
    with pytest.raises(ValueError, match="axes_dim"):
        DiTConfig(axes_dim=(32,))


def test_guidance_embedded_model_requires_guidance() -> None:
    model = HunyuanDiT(_tiny_config(guidance_embed=True))
    latents, t, context = _tiny_inputs()
    with pytest.raises(ValueError, match="guidance"):
        model(latents, t, context)


def test_plain_model_rejects_guidance() -> None:
    model = HunyuanDiT(_tiny_config())
    latents, t, context = _tiny_inputs()
    with pytest.raises(ValueError, match="guidance_embed=False"):
        model(latents, t, context, guidance=5.0)


def test_input_shapes_are_checked() -> None:
    model = HunyuanDiT(_tiny_config())
    latents, t, context = _tiny_inputs()
    with pytest.raises(ValueError, match="latents"):
        model(latents.transpose(1, 2), t, context)
    with pytest.raises(ValueError, match="context"):
        model(latents, t, context[..., :-1])
    with pytest.raises(ValueError, match="`t`"):
        model(latents, torch.rand(3), context)


def test_scalar_time_equals_per_sample_time() -> None:
    model = HunyuanDiT(_tiny_config()).eval()
    latents, _, context = _tiny_inputs()
    with torch.no_grad():
        torch.testing.assert_close(
            model(latents, 0.25, context), model(latents, torch.full((2,), 0.25), context)
        )


def test_timestep_features_use_max_period_1000_cosine_first() -> None:
    t = torch.tensor([0.37])
    features = timestep_features(t)[0]
    half = features.shape[0] // 2
    lowest_frequency = 1000.0 ** (-(half - 1) / half)
    expected = torch.tensor([
        math.cos(1000 * 0.37), math.cos(1000 * 0.37 * lowest_frequency),
        math.sin(1000 * 0.37), math.sin(1000 * 0.37 * lowest_frequency),
    ])
    actual = torch.stack([features[0], features[half - 1], features[half], features[-1]])
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


def test_meta_built_model_loads_with_assign_and_runs() -> None:
    source = HunyuanDiT(_tiny_config(guidance_embed=True)).eval()
    with torch.device("meta"):
        target = HunyuanDiT(_tiny_config(guidance_embed=True))
    target.load_state_dict(source.state_dict(), strict=True, assign=True)
    latents, t, context = _tiny_inputs()
    with torch.no_grad():
        torch.testing.assert_close(
            target.eval()(latents, t, context, 5.0), source(latents, t, context, 5.0)
        )


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_runs_close_to_float32(dtype: torch.dtype) -> None:
    model = HunyuanDiT(_tiny_config(guidance_embed=True)).eval()
    _randomise_norm_scales(model)
    latents, t, context = _tiny_inputs()
    guidance = torch.tensor([3.0, 7.5])
    with torch.no_grad():
        expected = model(latents, t, context, guidance)
        model.to(dtype)
        # t stays float32: rounded to half precision it would move the 1000*t features
        half_out = model(latents.to(dtype), t, context.to(dtype), guidance.to(dtype))
        mixed_out = model(latents, t, context, guidance)

    assert half_out.dtype == dtype
    assert mixed_out.dtype == torch.float32
    scale = expected.abs().max().item()
    for actual in (half_out.float(), mixed_out):
        assert torch.isfinite(actual).all()
        torch.testing.assert_close(actual, expected, atol=0.05 * scale, rtol=0)
