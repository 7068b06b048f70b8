"""The ShapeVAE with Hunyuan3D 2.1's config: parity with Tencent's 2.1 VAE on the tiny
oracle (decode and geometry decoder) and the released v2-1 size."""

from __future__ import annotations

import torch

from hy3d_core.models.shape_vae import ShapeVAE
from hy3d_core.models.shape_vae_config import VAE_PRESETS, ShapeVAEConfig
from shape21_fixture import fixture_config, load_vae
from shared_fixtures import SHAPE_21, load_reference

ATOL = 1e-4


def test_decode_and_geometry_decoder_match_reference():
    reference = load_reference(SHAPE_21)
    vae = load_vae()
    with torch.no_grad():
        decoded = vae.decode(reference["vae_latents"])
        logits = vae.occupancy(reference["query_points"], decoded)
    torch.testing.assert_close(decoded, reference["vae_decoded"], atol=ATOL, rtol=0)
    torch.testing.assert_close(logits, reference["vae_logits"][..., 0], atol=ATOL, rtol=0)


def test_fixture_config_is_the_v2_1_preset_at_tiny_size():
    """Only sizes differ from the released preset: the 2.1 flags (no pi, no qkv bias,
    q/k norms, one uniform point set) are the preset's."""
    tiny = ShapeVAEConfig.from_params(fixture_config()["vae"]["params"])
    released = VAE_PRESETS["v2-1"]
    flags = ("include_pi", "qkv_bias", "qk_norm", "scale_factor", "num_freqs", "point_feats",
             "pc_sharpedge_size", "geo_decoder_ln_post", "geo_decoder_mlp_expand_ratio",
             "geo_decoder_downsample_ratio", "embed_dim")
    assert {name: getattr(tiny, name) for name in flags} == {name: getattr(released, name) for name in flags}
    assert (released.num_latents, released.width, released.heads) == (4096, 1024, 16)
    assert (released.num_decoder_layers, released.num_encoder_layers, released.pc_size) == (16, 8, 81920)


def test_full_size_v2_1_parameter_count():
    """327,746,177 with the point encoder the 2.1 checkpoint carries; 214,212,865 of
    them decode."""
    with torch.device("meta"):
        vae = ShapeVAE(VAE_PRESETS["v2-1"])
    counts = {"all": 0, "decoder": 0}
    for name, parameter in vae.named_parameters():
        counts["all"] += parameter.numel()
        if not name.startswith(("encoder.", "pre_kl.")):
            counts["decoder"] += parameter.numel()
    assert counts == {"all": 327_746_177, "decoder": 214_212_865}
