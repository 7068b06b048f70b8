"""encode_mesh: mesh -> latents through a tiny random ShapeVAE with an encoder."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.models.shape_vae import ShapeVAE
from hy3d_core.models.shape_vae_config import ShapeVAEConfig
from hy3d_core.pipelines.encoding import encode_mesh

TINY_ENCODER = ShapeVAEConfig(
    num_latents=16, embed_dim=8, width=32, heads=2, num_decoder_layers=1, num_freqs=4,
    include_pi=False, qkv_bias=False, qk_norm=True, num_encoder_layers=1, point_feats=4,
    pc_size=128, pc_sharpedge_size=64, downsample_ratio=4,
)


def _vae(config: ShapeVAEConfig = TINY_ENCODER) -> ShapeVAE:
    torch.manual_seed(0)
    return ShapeVAE(config).eval()


def _cube() -> Mesh:
    box = trimesh.creation.box(extents=(1.0, 2.0, 0.5))
    return Mesh(vertices=box.vertices, faces=box.faces)


def test_shape_and_repeatability_for_a_seed():
    vae = _vae()
    latents = encode_mesh(vae, _cube(), seed=3)
    assert latents.shape == (1, 16, 8)
    torch.testing.assert_close(encode_mesh(vae, _cube(), seed=3), latents, rtol=0, atol=0)
    assert not torch.allclose(encode_mesh(vae, _cube(), seed=4), latents)


def test_posterior_samples_repeat_for_a_seed():
    vae = _vae()
    mean = encode_mesh(vae, _cube(), seed=1)
    sample = encode_mesh(vae, _cube(), seed=1, sample_posterior=True)
    torch.testing.assert_close(encode_mesh(vae, _cube(), seed=1, sample_posterior=True),
                               sample, rtol=0, atol=0)
    assert not torch.allclose(sample, mean)


def test_latents_are_scaled_like_sampler_latents():
    plain = _vae(dataclasses.replace(TINY_ENCODER, scale_factor=1.0))
    scaled = _vae(dataclasses.replace(TINY_ENCODER, scale_factor=2.5))
    scaled.load_state_dict(plain.state_dict())
    torch.testing.assert_close(encode_mesh(scaled, _cube()), 2.5 * encode_mesh(plain, _cube()))


def test_the_mesh_is_normalised_first():
    """Moving and scaling the mesh leaves its latents unchanged."""
    vae = _vae()
    cube = _cube()
    moved = Mesh(vertices=cube.vertices * 7.0 + np.array([3.0, -1.0, 2.0]), faces=cube.faces)
    torch.testing.assert_close(encode_mesh(vae, moved), encode_mesh(vae, cube),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("changes", [
    {"point_feats": 3},
    {"pc_sharpedge_size": 0, "pc_size": 160},
], ids=["normals-only", "uniform-only"])
def test_other_encoder_inputs(changes):
    latents = encode_mesh(_vae(dataclasses.replace(TINY_ENCODER, **changes)), _cube())
    assert latents.shape == (1, 16, 8)
    assert torch.isfinite(latents).all()


def test_a_vae_without_encoder_is_refused():
    decoder_only = _vae(dataclasses.replace(TINY_ENCODER, num_encoder_layers=0))
    with pytest.raises(ValueError, match="hunyuan3d-vae-v2-0-withencoder"):
        encode_mesh(decoder_only, _cube())


def test_a_mesh_without_faces_is_refused():
    empty = Mesh(vertices=np.zeros((4, 3)), faces=np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="without faces"):
        encode_mesh(_vae(), empty)
