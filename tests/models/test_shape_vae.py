"""ShapeVAE: parity with hy3dgen 2.0.2, release layouts, FlashVDM selection, encoder."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from hy3d_core.models.shape_vae import ShapeVAE
from hy3d_core.models.shape_vae_config import VAE_PRESETS, ShapeVAEConfig, infer_vae_config
from oracle import import_oracle

TINY = ShapeVAEConfig(
    num_latents=32, embed_dim=8, width=64, heads=4, num_decoder_layers=2, num_freqs=8,
    include_pi=False, qkv_bias=False, qk_norm=True,
)
TINY_VARIANTS = {
    "released": TINY,
    "turbo-like": dataclasses.replace(TINY, geo_decoder_downsample_ratio=2,
                                      geo_decoder_mlp_expand_ratio=1, geo_decoder_ln_post=False),
    "constructor-defaults": dataclasses.replace(TINY, include_pi=True, qkv_bias=True,
                                                qk_norm=False),
}
ORACLE_KWARGS = ("num_latents", "embed_dim", "width", "heads", "num_decoder_layers",
                 "geo_decoder_downsample_ratio", "geo_decoder_mlp_expand_ratio",
                 "geo_decoder_ln_post", "num_freqs", "include_pi", "qkv_bias", "qk_norm",
                 "scale_factor")
# A tiny encoder whose sets are larger than queries * downsample_ratio, so the random
# subsets are taken (the released configs keep whole sets).
TINY_ENCODER = dataclasses.replace(TINY, num_encoder_layers=2, point_feats=4, pc_size=96,
                                   pc_sharpedge_size=64, downsample_ratio=4)


def _oracle_vae(config: ShapeVAEConfig) -> nn.Module:
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models import ShapeVAE as OracleShapeVAE
    return OracleShapeVAE(**{name: getattr(config, name) for name in ORACLE_KWARGS})


def _randomize(module: nn.Module) -> None:
    """Perturb every parameter so LayerNorm affines and biases are exercised too."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))


def _oracle_pair(config: ShapeVAEConfig) -> tuple[ShapeVAE, nn.Module]:
    oracle = _oracle_vae(config).eval()
    _randomize(oracle)
    ours = ShapeVAE(config).eval()
    ours.load_state_dict(oracle.state_dict(), strict=True)
    return ours, oracle


def _surface(config: ShapeVAEConfig, batch: int = 2) -> torch.Tensor:
    rows = config.pc_size + config.pc_sharpedge_size
    xyz = torch.rand(batch, rows, 3) * 2 - 1
    normals = nn.functional.normalize(torch.randn(batch, rows, 3), dim=-1)
    sharp = torch.zeros(batch, rows, 1)
    sharp[:, config.pc_size:] = 1.0
    return torch.cat((xyz, normals, sharp), dim=-1)[..., :3 + config.point_feats]


# ----- parity with the reference decoder ----------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("variant", sorted(TINY_VARIANTS))
def test_decode_and_occupancy_match_reference(variant: str) -> None:
    ours, oracle = _oracle_pair(TINY_VARIANTS[variant])
    latents = torch.randn(2, TINY.num_latents, TINY.embed_dim)
    points = torch.rand(2, 300, 3) * 2.02 - 1.01
    with torch.no_grad():
        expected_decoded = oracle(latents)
        expected_logits = oracle.geo_decoder(queries=points, latents=expected_decoded)[..., 0]
        decoded = ours.decode(latents)
        logits = ours.query(points, ours.project_latents(decoded))
        one_shot = ours.occupancy(points, decoded)
    torch.testing.assert_close(decoded, expected_decoded, atol=1e-5, rtol=1e-5)
    scale = expected_logits.abs().max().item()
    assert scale > 0.1
    torch.testing.assert_close(logits, expected_logits, atol=1e-5 * scale, rtol=1e-5)
    torch.testing.assert_close(one_shot, logits, atol=0, rtol=0)


@pytest.mark.oracle
def test_coarse_level_top_k_matches_reference_flashvdm_processor() -> None:
    """The release's first FlashVDM level: blocks as batch items, top M//3 by stride-100 mean."""
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.autoencoders.attention_processors import (
        FlashVDMCrossAttentionProcessor,
    )
    ours, oracle = _oracle_pair(TINY)
    blocks = torch.rand(3, 250, 3) * 2 - 1
    with torch.no_grad():
        decoded = ours.decode(torch.randn(1, TINY.num_latents, TINY.embed_dim))
        processor = FlashVDMCrossAttentionProcessor()
        oracle.geo_decoder.set_cross_attention_processor(processor)
        processor.topk = True
        expected = oracle.geo_decoder(queries=blocks, latents=decoded.expand(3, -1, -1))[..., 0]
        top_k = TINY.num_latents // 3
        selected = ours.query(blocks, ours.project_latents(decoded), top_k=top_k,
                              selection_stride=100)
        full = ours.query(blocks, ours.project_latents(decoded))
    torch.testing.assert_close(selected, expected, atol=1e-5, rtol=1e-5)
    assert (selected - full).abs().max() > 1e-3


@pytest.mark.oracle
def test_refinement_top_k_per_cell_matches_reference_flashvdm_processor() -> None:
    """The release's finer levels: one chunk split into grid cells, each with its own top-k."""
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.autoencoders.attention_processors import (
        FlashVDMCrossAttentionProcessor,
    )
    ours, oracle = _oracle_pair(TINY)
    counts = [120, 130]
    cells = [torch.rand(1, count, 3) * 0.5 + offset for count, offset in zip(counts, (-0.8, 0.3))]
    with torch.no_grad():
        decoded = ours.decode(torch.randn(1, TINY.num_latents, TINY.embed_dim))
        processor = FlashVDMCrossAttentionProcessor()
        oracle.geo_decoder.set_cross_attention_processor(processor)
        processor.topk = ([0, 1], counts)
        expected = oracle.geo_decoder(queries=torch.cat(cells, dim=1), latents=decoded)[..., 0]
        kv = ours.project_latents(decoded)
        selected = torch.cat([ours.query(cell, kv, top_k=TINY.num_latents // 3,
                                         selection_stride=50) for cell in cells], dim=1)
    torch.testing.assert_close(selected, expected, atol=1e-5, rtol=1e-5)


def test_top_k_of_all_latents_equals_plain_query() -> None:
    vae = ShapeVAE(TINY).eval()
    _randomize(vae)
    points = torch.rand(2, 100, 3) * 2 - 1
    with torch.no_grad():
        kv = vae.project_latents(vae.decode(torch.randn(2, TINY.num_latents, TINY.embed_dim)))
        plain = vae.query(points, kv)
        everything = vae.query(points, kv, top_k=TINY.num_latents)
    torch.testing.assert_close(everything, plain, atol=1e-5, rtol=1e-5)


def test_one_latent_set_serves_many_query_batches() -> None:
    vae = ShapeVAE(TINY).eval()
    _randomize(vae)
    blocks = torch.rand(3, 50, 3) * 2 - 1
    with torch.no_grad():
        kv = vae.project_latents(vae.decode(torch.randn(1, TINY.num_latents, TINY.embed_dim)))
        together = vae.query(blocks, kv, top_k=8)
        apart = torch.cat([vae.query(block[None], kv, top_k=8) for block in blocks])
    torch.testing.assert_close(together, apart, atol=1e-6, rtol=1e-6)


def test_query_rejects_bad_inputs_with_clear_messages() -> None:
    vae = ShapeVAE(TINY).eval()
    with torch.no_grad():
        kv = vae.project_latents(vae.decode(torch.randn(2, TINY.num_latents, TINY.embed_dim)))
        with pytest.raises(ValueError, match=r"\[B, P, 3\]"):
            vae.query(torch.rand(2, 10, 2), kv)
        with pytest.raises(ValueError, match="top_k"):
            vae.query(torch.rand(2, 10, 3), kv, top_k=TINY.num_latents + 1)
        with pytest.raises(ValueError, match="latent sets"):
            vae.query(torch.rand(3, 10, 3), kv)
        with pytest.raises(ValueError, match="transpose"):
            vae.decode(torch.randn(1, TINY.embed_dim, TINY.num_latents))


# ----- released layouts, configs and detection ----------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("preset", ["v2-0", "v2-mini", "v2-0-turbo"])
def test_full_size_decoder_has_the_reference_keys_and_shapes(preset: str) -> None:
    config = VAE_PRESETS[preset]
    with torch.device("meta"):
        ours = ShapeVAE(config)
        oracle = _oracle_vae(config)
    assert ({key: value.shape for key, value in ours.state_dict().items()}
            == {key: value.shape for key, value in oracle.state_dict().items()})
    # The epsilons are too small to show in float32 outputs, so compare them directly:
    # 1e-6 in the blocks, the default 1e-5 in geo_decoder.ln_post.
    assert _layer_norm_eps(ours) == _layer_norm_eps(oracle)
    if config.geo_decoder_ln_post:
        assert ours.geo_decoder.ln_post.eps == 1e-5


def _layer_norm_eps(module: nn.Module) -> dict[str, float]:
    return {name: child.eps for name, child in module.named_modules()
            if isinstance(child, nn.LayerNorm)}


def test_meta_built_model_loads_with_assign_and_runs() -> None:
    source = ShapeVAE(TINY_ENCODER).eval()
    _randomize(source)
    with torch.device("meta"):
        loaded = ShapeVAE(TINY_ENCODER)
    loaded.load_state_dict(source.state_dict(), strict=True, assign=True)
    latents = torch.randn(1, TINY.num_latents, TINY.embed_dim)
    points = torch.rand(1, 20, 3)
    rows = torch.arange(TINY_ENCODER.num_latents)
    surface = _surface(TINY_ENCODER, batch=1)
    with torch.no_grad():
        torch.testing.assert_close(loaded.occupancy(points, loaded.decode(latents)),
                                   source.occupancy(points, source.decode(latents)))
        torch.testing.assert_close(loaded.encode(surface, query_indices=rows),
                                   source.encode(surface, query_indices=rows))


def _expected_encoder_keys(layers: int) -> set[str]:
    """Encoder names of the 2.1 release's PointCrossAttentionEncoder (plus pre_kl)."""
    norms = [f"attn.attention.{norm}.{param}" for norm in ("q_norm", "k_norm")
             for param in ("weight", "bias")]
    layer_norms = lambda names: [f"{name}.{param}" for name in names  # noqa: E731
                                 for param in ("weight", "bias")]
    mlp = [f"mlp.{name}.{param}" for name in ("c_fc", "c_proj") for param in ("weight", "bias")]
    cross = (["attn.c_q.weight", "attn.c_kv.weight", "attn.c_proj.weight", "attn.c_proj.bias"]
             + norms + layer_norms(["ln_1", "ln_2", "ln_3"]) + mlp)
    block = (["attn.c_qkv.weight", "attn.c_proj.weight", "attn.c_proj.bias"] + norms
             + layer_norms(["ln_1", "ln_2"]) + mlp)
    keys = {"encoder.input_proj.weight", "encoder.input_proj.bias", "encoder.ln_post.weight",
            "encoder.ln_post.bias", "pre_kl.weight", "pre_kl.bias"}
    keys |= {f"encoder.cross_attn.{name}" for name in cross}
    keys |= {f"encoder.self_attn.resblocks.{index}.{name}" for index in range(layers)
             for name in block}
    return keys


@pytest.mark.parametrize("preset", ["v2-0-withencoder", "v2-1"])
def test_encoder_keys_follow_the_2_1_release(preset: str) -> None:
    config = VAE_PRESETS[preset]
    with torch.device("meta"):
        shapes = {key: value.shape for key, value in ShapeVAE(config).state_dict().items()}
    with torch.device("meta"):
        decoder_only = ShapeVAE(dataclasses.replace(config, num_encoder_layers=0))
    encoder_keys = set(shapes) - set(decoder_only.state_dict())
    assert encoder_keys == _expected_encoder_keys(config.num_encoder_layers)
    assert shapes["encoder.input_proj.weight"] == (1024, 51 + 4)
    assert shapes["pre_kl.weight"] == (128, 1024)


@pytest.mark.parametrize("preset", sorted(VAE_PRESETS))
def test_infer_vae_config_recovers_each_preset(preset: str) -> None:
    config = VAE_PRESETS[preset]
    with torch.device("meta"):
        shapes = {key: value.shape for key, value in ShapeVAE(config).state_dict().items()}
    assert infer_vae_config(shapes, num_latents=config.num_latents) == config


def test_infer_vae_config_reads_an_unreleased_network() -> None:
    with torch.device("meta"):
        shapes = {key: value.shape for key, value
                  in ShapeVAE(TINY_VARIANTS["turbo-like"]).state_dict().items()}
    inferred = infer_vae_config(shapes)
    assert inferred.num_latents == 3072
    assert dataclasses.replace(inferred, num_latents=TINY.num_latents,
                               scale_factor=1.0) == TINY_VARIANTS["turbo-like"]
    assert inferred.scale_factor == VAE_PRESETS["v2-0"].scale_factor


def test_infer_vae_config_explains_prefixed_keys() -> None:
    with pytest.raises(ValueError, match="strip that prefix"):
        infer_vae_config({"vae.post_kl.weight": torch.Size([1024, 64])})


def test_from_params_reads_released_yaml_params() -> None:
    v2_0 = dict(num_latents=3072, embed_dim=64, num_freqs=8, include_pi=False, heads=16,
                width=1024, num_decoder_layers=16, qkv_bias=False, qk_norm=True,
                scale_factor=0.9990943042622529)
    assert ShapeVAEConfig.from_params(v2_0) == VAE_PRESETS["v2-0"]
    v2_1 = dict(v2_0, num_latents=4096, num_encoder_layers=8, scale_factor=1.0039506158752403,
                geo_decoder_mlp_expand_ratio=4, geo_decoder_downsample_ratio=1,
                geo_decoder_ln_post=True, point_feats=4, pc_size=81920, pc_sharpedge_size=0,
                label_type="binary", drop_path_rate=0.0)
    assert ShapeVAEConfig.from_params(v2_1) == VAE_PRESETS["v2-1"]
    with pytest.raises(ValueError, match="unknown ShapeVAE config keys.*'patch_size'"):
        ShapeVAEConfig.from_params(dict(v2_0, patch_size=2))
    with pytest.raises(ValueError, match="missing required keys.*'width'"):
        ShapeVAEConfig.from_params({k: v for k, v in v2_0.items() if k != "width"})


def test_config_rejects_inconsistent_sizes() -> None:
    with pytest.raises(ValueError, match="divisible"):
        dataclasses.replace(TINY, heads=5)
    with pytest.raises(ValueError, match="geo_decoder_downsample_ratio"):
        dataclasses.replace(TINY, geo_decoder_downsample_ratio=3)


# ----- encoder --------------------------------------------------------------------------


@pytest.mark.oracle
def test_encoder_network_matches_reference_blocks() -> None:
    """The 2.1 encoder is input_proj -> cross block -> transformer -> ln_post; hy3dgen 2.0.2
    ships those blocks, so the network (queries fixed) is checked against them."""
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.autoencoders.attention_blocks import (
        FourierEmbedder,
        ResidualCrossAttentionBlock,
        Transformer,
    )
    config = TINY_ENCODER
    embedder = FourierEmbedder(num_freqs=config.num_freqs, include_pi=config.include_pi)
    reference = nn.Module()
    reference.input_proj = nn.Linear(embedder.out_dim + config.point_feats, config.width)
    reference.cross_attn = ResidualCrossAttentionBlock(
        width=config.width, heads=config.heads, qkv_bias=config.qkv_bias,
        qk_norm=config.qk_norm)
    reference.self_attn = Transformer(n_ctx=config.num_latents, width=config.width,
                                      layers=config.num_encoder_layers, heads=config.heads,
                                      qkv_bias=config.qkv_bias, qk_norm=config.qk_norm)
    reference.ln_post = nn.LayerNorm(config.width)
    _randomize(reference)
    ours = ShapeVAE(config).eval()
    ours.encoder.load_state_dict(reference.state_dict(), strict=True)

    surface = _surface(config)
    query_rows = torch.stack([torch.randperm(surface.shape[1])[:config.num_latents]
                              for _ in range(2)])
    with torch.no_grad():
        embed = lambda s: torch.cat((embedder(s[..., :3]), s[..., 3:]), dim=-1)  # noqa: E731
        queries = torch.stack([surface[b, query_rows[b]] for b in range(2)])
        latents = reference.cross_attn(reference.input_proj(embed(queries)),
                                       reference.input_proj(embed(surface)))
        latents = reference.ln_post(reference.self_attn(latents))
        mean, logvar = ours.pre_kl(latents).chunk(2, dim=-1)
        posterior = ours.encode_posterior(surface, query_indices=query_rows)
    torch.testing.assert_close(posterior.mean, mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(posterior.logvar, logvar.clamp(-30, 20), atol=1e-5, rtol=1e-5)


def test_encode_shapes_and_determinism() -> None:
    vae = ShapeVAE(TINY_ENCODER).eval()
    surface = _surface(TINY_ENCODER)
    rows = torch.randperm(surface.shape[1])[:TINY_ENCODER.num_latents]
    with torch.no_grad():
        fixed = [vae.encode(surface, query_indices=rows) for _ in range(2)]
        seeded = [vae.encode(surface, generator=torch.Generator().manual_seed(7))
                  for _ in range(2)]
        other_seed = vae.encode(surface, generator=torch.Generator().manual_seed(8))
        sampled = [vae.encode(surface, sample_posterior=True,
                              generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert fixed[0].shape == (2, TINY_ENCODER.num_latents, TINY_ENCODER.embed_dim)
    torch.testing.assert_close(fixed[0], fixed[1], atol=0, rtol=0)
    torch.testing.assert_close(seeded[0], seeded[1], atol=0, rtol=0)
    assert not torch.equal(seeded[0], other_seed)
    torch.testing.assert_close(sampled[0], sampled[1], atol=0, rtol=0)
    assert not torch.equal(sampled[0], seeded[0])


def test_encoder_queries_come_from_each_set_in_proportion() -> None:
    config = TINY_ENCODER
    vae = ShapeVAE(config).eval()
    surface = _surface(config)
    uniform_share, sharp_share = config.encoder_query_counts
    assert (uniform_share, sharp_share) == (19, 13)
    query_rows, point_rows = vae.sample_encoder_rows(surface,
                                                     generator=torch.Generator().manual_seed(0))
    assert query_rows.shape == (2, config.num_latents)
    assert (query_rows[:, :uniform_share] < config.pc_size).all()
    assert (query_rows[:, uniform_share:] >= config.pc_size).all()
    # Uniform set: 19 * 4 = 76 of 96 rows kept; sharp set: 13 * 4 = 52 of 64.
    assert point_rows.shape == (76 + 52,)
    assert point_rows.unique().numel() == point_rows.numel()
    for batch in range(2):
        assert torch.isin(query_rows[batch], point_rows).all()
        assert query_rows[batch].unique().numel() == config.num_latents


def test_sampled_queries_reproduce_through_query_indices_when_every_point_is_kept() -> None:
    config = dataclasses.replace(TINY_ENCODER, pc_size=64, pc_sharpedge_size=64,
                                 downsample_ratio=4)
    vae = ShapeVAE(config).eval()
    surface = _surface(config)
    query_rows, point_rows = vae.sample_encoder_rows(surface,
                                                     generator=torch.Generator().manual_seed(5))
    assert point_rows.numel() == surface.shape[1]
    with torch.no_grad():
        sampled = vae.encode(surface, generator=torch.Generator().manual_seed(5))
        fixed = vae.encode(surface, query_indices=query_rows)
    torch.testing.assert_close(sampled, fixed, atol=1e-5, rtol=1e-5)


def test_posterior_splits_mean_and_clamped_logvar() -> None:
    config = TINY_ENCODER
    vae = ShapeVAE(config).eval()
    with torch.no_grad():
        vae.pre_kl.weight.zero_()
        bias = torch.linspace(-5, 5, config.embed_dim)
        vae.pre_kl.bias.copy_(torch.cat((bias, torch.full((config.embed_dim,), 100.0))))
        high = vae.encode_posterior(_surface(config))
        vae.pre_kl.bias[config.embed_dim:] = -100.0
        low = vae.encode_posterior(_surface(config))
    assert torch.equal(high.mean, bias.expand_as(high.mean))
    assert torch.equal(high.mode(), high.mean)
    assert (high.logvar == 20.0).all() and (low.logvar == -30.0).all()
    assert high.kl().shape == (2,)
    torch.testing.assert_close(low.sample(torch.Generator().manual_seed(0)), low.mean,
                               atol=1e-5, rtol=0)
    noise = (high.sample(torch.Generator().manual_seed(0)) - high.mean) / torch.exp(
        torch.tensor(10.0))
    assert 0.8 < noise.std().item() < 1.2 and abs(noise.mean().item()) < 0.2


def test_encode_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="no encoder"):
        ShapeVAE(TINY).encode(torch.rand(1, 10, 7))
    vae = ShapeVAE(TINY_ENCODER)
    with pytest.raises(ValueError, match="96 uniform then 64 sharp-edge"):
        vae.encode(torch.rand(1, 100, 7))
    with pytest.raises(ValueError, match="query_indices"):
        vae.encode(_surface(TINY_ENCODER), query_indices=torch.arange(5))
