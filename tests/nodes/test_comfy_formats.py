"""Our tensors against the layouts ComfyUI's own Hunyuan3D nodes use.

The expected values are built by replaying the operations ComfyUI's source applies (read
off comfy/sd.py, comfy/ldm/hunyuan3d/vae.py, comfy_extras/nodes_hunyuan3d.py), not by
calling our conversions a second way.
"""

import numpy as np
import pytest
import torch

from graph_runner import pack_module

# The conversions live in the node pack (only the nodes use them), imported as ComfyUI does.
_formats = pack_module("nodes.comfy_formats")
grid_from_comfy_voxels = _formats.grid_from_comfy_voxels
grid_to_comfy_voxels = _formats.grid_to_comfy_voxels
images_to_signed_channels_first = _formats.images_to_signed_channels_first
latents_from_comfy = _formats.latents_from_comfy
latents_to_comfy = _formats.latents_to_comfy
mask_to_opacity = _formats.mask_to_opacity
meshes_from_batch = _formats.meshes_from_batch
pad_mesh_batch = _formats.pad_mesh_batch
Mesh = pack_module("hy3d_core.geometry.mesh").Mesh

SCALE = 0.9990943042622529


def test_latents_feed_comfys_decoder_what_ours_feeds_the_vae():
    sampler_latents = torch.randn(2, 96, 64)  # [B, N, C], scaled, as our sampler returns them
    samples = latents_to_comfy(sampler_latents, SCALE)
    assert samples.shape == (2, 64, 96)
    # ComfyUI's ShapeVAE.decode: post_kl(latents.movedim(-2, -1)), no scaling.
    # Ours (and the release's): vae.decode(latents / scale_factor).
    torch.testing.assert_close(samples.movedim(-2, -1), sampler_latents / SCALE)


def test_latents_round_trip_and_comfys_sampler_output_is_read_in_vae_space():
    sampler_latents = torch.randn(1, 32, 64)
    back = latents_from_comfy(latents_to_comfy(sampler_latents, SCALE), SCALE, channels=64)
    torch.testing.assert_close(back, sampler_latents)
    # ComfyUI's KSampler hands out process_out(x) = x / scale_factor, [B, 64, N]
    comfy_samples = torch.randn(1, 64, 32)
    ours = latents_from_comfy(comfy_samples, SCALE, channels=64)
    torch.testing.assert_close(ours / SCALE, comfy_samples.movedim(-2, -1))


def test_an_image_latent_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="not an image latent"):
        latents_from_comfy(torch.zeros(1, 4, 64, 64), SCALE, channels=64)
    with pytest.raises(ValueError, match=r"\[batch, 64, tokens\]"):
        latents_from_comfy(torch.zeros(1, 3072, 64), SCALE, channels=64)


def _comfy_voxel_data(grid: torch.Tensor) -> torch.Tensor:
    """What ComfyUI's VAEDecodeHunyuan3D makes of a logit grid the VAE decoded."""
    first_stage = grid.movedim(-2, -1)                                  # ShapeVAE.decode
    images = torch.clamp((first_stage + 1.0) / 2.0, min=0.0, max=1.0)  # VAE.process_output
    return images.movedim(1, -1)                                        # end of VAE.decode


def test_voxel_data_is_what_comfys_decoder_produces():
    grid = torch.randn(2, 9, 10, 11) * 3
    torch.testing.assert_close(grid_to_comfy_voxels(grid), _comfy_voxel_data(grid))


def test_comfys_voxel_to_mesh_finds_our_objects_where_they_are():
    """ComfyUI's voxel_to_mesh takes voxel indices (d, h, w) of .data and flips them
    (fliplr) into x, y, z; an object off-centre in x must stay there."""
    axis = torch.linspace(-1, 1, 21)
    x, y, z = torch.meshgrid(axis, axis, axis, indexing="ij")
    grid = (0.3 - ((x - 0.5) ** 2 + (y + 0.2) ** 2 + z**2).sqrt())[None] * 10
    data = grid_to_comfy_voxels(grid)[0]
    comfy_centre = (data > 0.5).nonzero().float().mean(0).flip(0)
    our_centre = (grid[0] > 0).nonzero().float().mean(0)
    torch.testing.assert_close(comfy_centre, our_centre)


def test_voxels_read_back_exactly_within_comfys_clamp():
    grid = torch.rand(1, 6, 7, 8) * 1.8 - 0.9
    torch.testing.assert_close(grid_from_comfy_voxels(grid_to_comfy_voxels(grid)), grid, atol=1e-6, rtol=0)


def test_undecoded_points_become_outside_for_comfy():
    grid = torch.full((1, 4, 4, 4), float("nan"))
    grid[0, 1, 1, 1] = 5.0
    data = grid_to_comfy_voxels(grid)
    assert torch.isfinite(data).all()
    assert data.sum() == 1.0


def test_meshes_of_different_sizes_pad_without_visible_change():
    small = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 2]])
    large = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
                 faces=[[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    vertices, faces = pad_mesh_batch([small, large])
    assert vertices.shape == (2, 4, 3) and faces.shape == (2, 4, 3)
    assert faces.dtype == torch.int64
    torch.testing.assert_close(vertices[0, 3], vertices[0, 2])  # the box is unchanged
    padded = faces[0, 1:]
    corners = vertices[0][padded]
    areas = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]).norm(dim=-1)
    assert (areas == 0).all()


def test_comfy_meshes_with_float_faces_are_read():
    vertices = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
    meshes = meshes_from_batch(vertices, torch.tensor([[[0.0, 1.0, 2.0]]]))
    assert meshes[0].faces.dtype == np.int64 and meshes[0].faces.tolist() == [[0, 1, 2]]
    with pytest.raises(ValueError, match="whole vertex indices"):
        meshes_from_batch(vertices, torch.tensor([[[0.0, 1.5, 2.0]]]))


def test_images_become_signed_channels_first():
    images = torch.rand(2, 5, 7, 3)
    pixels = images_to_signed_channels_first(images)
    assert pixels.shape == (2, 3, 5, 7)
    torch.testing.assert_close(pixels[1, 2, 4, 6], images[1, 4, 6, 2] * 2 - 1)
    with pytest.raises(ValueError, match="Prepare Image"):
        images_to_signed_channels_first(torch.rand(1, 5, 7, 4))


def test_mask_conventions():
    mask = torch.zeros(4, 5)
    mask[1:3, 1:4] = 1.0
    object_opacity = mask_to_opacity(mask, 4, 5, background_is_one=False)
    np.testing.assert_array_equal(object_opacity, mask.numpy())
    load_image_opacity = mask_to_opacity(mask, 4, 5, background_is_one=True)
    np.testing.assert_array_equal(load_image_opacity, 1 - mask.numpy())
    # LoadImage of a file without alpha: a 64x64 zero mask, i.e. no cut-out
    assert mask_to_opacity(torch.zeros(64, 64), 4, 5, background_is_one=True) is None
    # a mask that leaves everything opaque carries no cut-out either
    assert mask_to_opacity(torch.zeros(4, 5), 4, 5, background_is_one=True) is None
    with pytest.raises(ValueError, match="image's size"):
        mask_to_opacity(torch.ones(3, 3), 4, 5, background_is_one=False)
