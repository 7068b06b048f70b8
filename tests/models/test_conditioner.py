"""The DINOv2 conditioner against the release's SingleImageEncoder / DinoImageEncoderMV.

Tiny random networks with the same weights must give the same tokens for the same
[-1, 1] input, including the resize and centre crop (non-square inputs). The full-size
network is checked for layout on the meta device.
"""

import pytest
import torch

from hy3d_core.io.dinov2_layout import to_released_layout
from hy3d_core.models.conditioner import ImageConditioner, view_index_embedding
from hy3d_core.models.conditioner_config import (
    CONDITIONER_PRESETS,
    ConditionerConfig,
    infer_conditioner_config,
)
from oracle import import_oracle

GIANT_YAML_CONFIG = {
    "attention_probs_dropout_prob": 0.0,
    "drop_path_rate": 0.0,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "hidden_size": 1536,
    "image_size": 518,
    "initializer_range": 0.02,
    "layer_norm_eps": 1.0e-6,
    "layerscale_value": 1.0,
    "mlp_ratio": 4,
    "model_type": "dinov2",
    "num_attention_heads": 24,
    "num_channels": 3,
    "num_hidden_layers": 40,
    "patch_size": 14,
    "qkv_bias": True,
    "torch_dtype": "float32",
    "use_swiglu_ffn": True,
}


def _tiny_dinov2(swiglu: bool) -> dict:
    return {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "patch_size": 14,
        "image_size": 42, "use_swiglu_ffn": swiglu, "layerscale_value": 0.7, "layer_norm_eps": 1e-6,
        "model_type": "dinov2",
    }


def _section(dinov2: dict, encoder_type: str = "DinoImageEncoder", image_size: int = 42, **extra) -> dict:
    return {
        "target": "hy3dgen.shapegen.models.conditioner.SingleImageEncoder",
        "params": {"main_image_encoder": {
            "type": encoder_type,
            "kwargs": {"config": dinov2, "image_size": image_size, "use_cls_token": True, **extra},
        }},
    }


def _oracle_pair(section: dict):
    """The release's encoder with random weights, and ours built on meta holding them."""
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.conditioner import SingleImageEncoder

    reference = SingleImageEncoder(**section["params"]).eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(0, 0.3)
    with torch.device("meta"):
        ours = ImageConditioner(ConditionerConfig.from_yaml_section(section))
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)
    return reference, ours


@pytest.mark.oracle
@pytest.mark.parametrize("swiglu", [True, False])
# (43, 40) resizes to 45x42: an odd crop margin, where the rounding of the offset matters
@pytest.mark.parametrize("height,width", [(40, 56), (43, 40), (42, 42)])
def test_single_view_matches_release(swiglu, height, width):
    reference, ours = _oracle_pair(_section(_tiny_dinov2(swiglu)))
    images = torch.rand(2, 3, height, width) * 2 - 1
    with torch.no_grad():
        expected = reference(image=images)["main"]
        got = ours(images)
    assert got.shape == (2, 10, 32)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


@pytest.mark.oracle
@pytest.mark.parametrize("indices", [[0, 2], [0, 1, 2, 3]])
def test_multi_view_matches_release(indices):
    reference, ours = _oracle_pair(_section(_tiny_dinov2(True), "DinoImageEncoderMV", view_num=4))
    views = torch.rand(2, len(indices), 3, 40, 56) * 2 - 1
    with torch.no_grad():
        expected = reference(image=views, view_idxs=[indices, indices])["main"]
        got = ours.forward_views(views, indices)
    assert got.shape == (2, len(indices) * 10, 32)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


@pytest.mark.oracle
def test_view_embedding_is_sines_then_cosines_as_released():
    import_oracle("hy3dgen.shapegen")
    import numpy as np
    from hy3dgen.shapegen.models.conditioner import get_1d_sincos_pos_embed_from_grid

    expected = get_1d_sincos_pos_embed_from_grid(1536, np.arange(4, dtype=np.float32))
    got = view_index_embedding([0, 1, 2, 3], 1536)
    torch.testing.assert_close(got, torch.from_numpy(expected), rtol=0, atol=1e-12)


@pytest.mark.oracle
def test_views_are_put_in_index_order():
    _, ours = _oracle_pair(_section(_tiny_dinov2(False), "DinoImageEncoderMV", view_num=4))
    front, back = torch.rand(2, 1, 1, 3, 42, 42) * 2 - 1
    with torch.no_grad():
        ordered = ours.forward_views(torch.cat([front, back], dim=1), [0, 2])
        reversed_ = ours.forward_views(torch.cat([back, front], dim=1), [2, 0])
    torch.testing.assert_close(reversed_, ordered, rtol=0, atol=0)


@pytest.mark.oracle
def test_full_size_layout_matches_release():
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.conditioner import SingleImageEncoder

    section = _section(GIANT_YAML_CONFIG, image_size=518)
    with torch.device("meta"):
        reference = SingleImageEncoder(**section["params"])
        ours = ImageConditioner(ConditionerConfig.from_yaml_section(section))
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert got == expected
    assert got["main_image_encoder.model.embeddings.position_embeddings"] == (1, 1370, 1536)
    assert ours.config.tokens_per_view == 1370
    assert ours.unconditional(2).shape == (2, 1370, 1536)


def test_released_yaml_reads_as_the_giant_preset():
    config = ConditionerConfig.from_yaml_section(_section(GIANT_YAML_CONFIG, image_size=518))
    assert config == CONDITIONER_PRESETS["dinov2-giant"]
    mv = ConditionerConfig.from_yaml_section(
        _section(GIANT_YAML_CONFIG, "DinoImageEncoderMV", image_size=518, view_num=4)
    )
    assert mv == CONDITIONER_PRESETS["dinov2-giant-mv"]


def test_scientific_notation_read_as_text_by_yaml_is_accepted():
    config = ConditionerConfig.from_yaml_section(
        _section({**GIANT_YAML_CONFIG, "layer_norm_eps": "1e-6"}, image_size=518)
    )
    assert config.dinov2.layer_norm_eps == 1e-6


@pytest.mark.parametrize("preset", ["dinov2-giant", "dinov2-large"])
def test_config_is_inferred_from_weight_shapes(preset):
    with torch.device("meta"):
        model = ImageConditioner(CONDITIONER_PRESETS[preset])
    installed = model.state_dict()
    released = {
        "main_image_encoder.model." + key: value
        for key, value in to_released_layout(model.main_image_encoder.model.state_dict()).items()
    }
    for state in (installed, released):
        shapes = {key: value.shape for key, value in state.items()}
        assert infer_conditioner_config(shapes) == CONDITIONER_PRESETS[preset]
    bare = {key.removeprefix("main_image_encoder.model."): value.shape for key, value in released.items()}
    assert infer_conditioner_config(bare, multiview=True).multiview


def test_inferring_from_non_dinov2_weights_says_what_is_missing():
    with pytest.raises(ValueError, match="Not a DINOv2 state dict"):
        infer_conditioner_config({"main_image_encoder.model.foo": (3,)})


@pytest.mark.parametrize(
    "section,message",
    [
        ({"target": "hy3dgen.shapegen.models.conditioner.DualImageEncoder", "params": {}},
         "dual-encoder conditioner is not supported"),
        (_section(GIANT_YAML_CONFIG, "CLIPImageEncoder"), "CLIPImageEncoder.*not supported"),
        ({"target": "x.SingleImageEncoder",
          "params": {"main_image_encoder": {"type": "DinoImageEncoder",
                                            "kwargs": {"version": "facebook/dinov2-giant"}}}},
         "never downloads"),
        (_section({**GIANT_YAML_CONFIG, "model_type": "clip_vision_model"}), "DINOv2"),
        (_section({"hidden_size": 64}), "lacks num_hidden_layers"),
        (_section({**GIANT_YAML_CONFIG, "mlp_ratio": 4.5}), "mlp_ratio"),
        ([1, 2], "Expected the 'conditioner' mapping"),
    ],
)
def test_unsupported_yaml_sections_are_refused_clearly(section, message):
    with pytest.raises(ValueError, match=message):
        ConditionerConfig.from_yaml_section(section)


@pytest.fixture
def single_view() -> ImageConditioner:
    return ImageConditioner(ConditionerConfig.from_yaml_section(_section(_tiny_dinov2(True))))


@pytest.fixture
def multi_view() -> ImageConditioner:
    return ImageConditioner(
        ConditionerConfig.from_yaml_section(_section(_tiny_dinov2(True), "DinoImageEncoderMV", view_num=3))
    )


def test_model_is_frozen_and_in_eval_mode(single_view):
    assert not single_view.training and not single_view.main_image_encoder.model.training
    assert not any(parameter.requires_grad for parameter in single_view.parameters())


@pytest.mark.parametrize(
    "images,message",
    [
        (torch.zeros(1, 4, 42, 42), "3 colour channels"),
        (torch.zeros(3, 42, 42), r"\[B, 3, H, W\]"),
        (torch.full((1, 3, 42, 42), 200.0), r"must be in \[-1, 1\]"),
        (torch.zeros(1, 3, 42, 42, dtype=torch.uint8), "floating point"),
        (torch.zeros(1, 3, 0, 42), "empty"),
    ],
)
def test_bad_images_are_refused_clearly(single_view, images, message):
    with pytest.raises(ValueError, match=message):
        single_view(images)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_pixels_are_refused_before_encoding(single_view, multi_view, bad):
    images = torch.zeros(1, 3, 42, 42)
    images[0, 1, 5, 7] = bad
    with pytest.raises(ValueError, match="images hold 1 NaN or infinite pixel values"):
        single_view(images)
    with pytest.raises(ValueError, match="views hold 1 NaN or infinite pixel values"):
        multi_view.forward_views(images[:, None], [0])


def test_single_and_multi_view_calls_are_not_mixed_up(single_view, multi_view):
    with pytest.raises(ValueError, match="single-view"):
        single_view.forward_views(torch.zeros(1, 1, 3, 42, 42), [0])
    with pytest.raises(ValueError, match="multi-view"):
        multi_view(torch.zeros(1, 3, 42, 42))


@pytest.mark.parametrize(
    "count,indices,message",
    [
        (2, [0, 0], "distinct"),
        (2, [0, 3], "out of range"),
        (4, [0, 1, 2, 3], "at most 3"),
        (2, [0], "2 views but 1 view indices"),
    ],
)
def test_bad_view_indices_are_refused_clearly(multi_view, count, indices, message):
    with pytest.raises(ValueError, match=message):
        multi_view.forward_views(torch.zeros(1, count, 3, 42, 42), indices)


def test_unconditional_matches_the_condition_shape(single_view, multi_view):
    with torch.no_grad():
        condition = multi_view.forward_views(torch.zeros(2, 2, 3, 42, 42), [0, 2])
    empty = multi_view.unconditional(2, num_views=2)
    assert empty.shape == condition.shape and empty.dtype == condition.dtype
    assert not empty.any()
    with pytest.raises(ValueError, match="exactly 1 view"):
        single_view.unconditional(1, num_views=2)
    with pytest.raises(ValueError, match="up to 3 views"):
        multi_view.unconditional(1, num_views=4)
