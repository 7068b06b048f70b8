"""Hunyuan3D 2.1 shape through the nodes: the released folder and ComfyUI's single file are
offered and load, the unchanged shape nodes run a 2.1 model end to end, and 2.1 latents
cross to and from ComfyUI's own Hunyuan3D nodes in their layout."""

import shutil

import pytest
import torch
import trimesh

from graph_runner import pack_module, run_node
from shared_fixtures import SHAPE_21, fixture_dir

model_files = pack_module("nodes.model_files")
pipelines = pack_module("hy3d_core.pipelines")
encoding = pack_module("hy3d_core.pipelines.encoding")
node_types = pack_module("nodes.node_types")
Mesh = pack_module("hy3d_core.geometry.mesh").Mesh

FOLDER = "hunyuan3d-dit-v2-1"
SINGLE_FILE = "checkpoints/hunyuan_3d_v2.1_tiny.safetensors"
SCALE_FACTOR_2_1 = 1.0039506158752403
TINY_LATENTS = 128


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """The 2.1 fixture laid out as a user would: the folder in models/hunyuan3d/, ComfyUI's
    file in models/checkpoints/."""
    source = fixture_dir(SHAPE_21)
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(source / FOLDER, root / "hunyuan3d" / FOLDER)
    (root / "checkpoints").mkdir()
    shutil.copy(source / "hunyuan_3d_v2.1_tiny.safetensors", root / SINGLE_FILE)
    return root


def _load(name=FOLDER):
    return run_node("H3DLoadShapeModel", model_name=name, dtype="float32", device="cpu")


def _object_image() -> torch.Tensor:
    image = torch.ones(1, 64, 64, 3)
    image[:, 16:48, 21:43] = torch.tensor([0.8, 0.3, 0.1])
    return image


def _decode(vae, latent, resolution=16):
    return run_node("H3DDecodeShapeVolume", vae=vae, latent=latent, decoder="dense",
                     octree_resolution=resolution, num_chunks=8000, mc_level=0.0)[0]


def test_both_2_1_layouts_are_offered(folders):
    choices = model_files.shape_model_choices()
    assert FOLDER in choices and SINGLE_FILE in choices


def test_a_2_1_graph_runs_image_to_mesh(folders):
    model, vae = _load()
    assert model.configs.family.name == "hunyuan3d-2.1"
    condition = run_node("H3DEncodeImage", model=model, image=_object_image())[0]
    latent = run_node("H3DSampleShape", model=model, condition=condition, seed=5, steps=3, guidance=5.0,
                       skip_last_call=True)[0]
    assert latent["type"] == "hunyuan3dv2" and latent["samples"].shape == (1, 64, TINY_LATENTS)
    expected = pipelines.sample_latents(model.dit, condition.context, model.configs.num_latents,
                                        pipelines.SamplingSettings(steps=3, seed=5))
    assert vae.scale_factor == pytest.approx(SCALE_FACTOR_2_1)
    torch.testing.assert_close(latent["samples"].movedim(-2, -1), expected / vae.scale_factor)

    voxel = _decode(vae, latent)
    grid = pipelines.decode_volume(vae.vae, expected, pipelines.VolumeSettings(octree_resolution=16))
    torch.testing.assert_close(voxel.logits, grid)
    mesh = run_node("H3DExtractSurface", voxel=voxel, level=0.0, release_mapping=True,
                     close_at_bounds=True)[0]
    assert len(mesh.meshes) == 1


def test_comfys_single_file_is_the_same_2_1_model(folders):
    folder_model, folder_vae = _load()
    file_model, file_vae = _load(SINGLE_FILE)
    assert file_model.configs.family.name == "hunyuan3d-2.1"
    for ours, theirs in ((folder_model.dit, file_model.dit), (folder_vae.vae, file_vae.vae)):
        torch.testing.assert_close(theirs.state_dict(), ours.state_dict(), rtol=0, atol=0)


def test_comfys_2_1_sampler_output_decodes_as_comfy_would(folders):
    """EmptyLatentHunyuan3Dv2 + KSampler with the 2.1 file give [B, 64, N] unscaled VAE
    latents; Decode Shape Volume must feed post_kl what VAEDecodeHunyuan3D would."""
    _, vae = _load(SINGLE_FILE)
    samples = torch.randn(2, 64, TINY_LATENTS)
    seen = []
    inner = vae.vae.decode

    def recording_decode(latents):
        seen.append(latents.detach().clone())
        return inner(latents)

    vae.vae.decode = recording_decode
    try:
        voxel = _decode(vae, {"samples": samples, "type": "hunyuan3dv2", "batch_index": [0, 1]})
    finally:
        del vae.vae.decode
    torch.testing.assert_close(seen[0], samples.movedim(-2, -1))
    assert voxel.logits.shape == (2, 17, 17, 17)


def test_our_2_1_latents_decode_in_comfys_decoder_from_the_single_file(folders):
    """Sample Shape with the release folder feeding ComfyUI's VAEDecodeHunyuan3D loaded from
    the single file: that decoder hands post_kl ``samples.movedim(-2, -1)`` unscaled, which
    must be the release's latents / scale factor."""
    model, folder_vae = _load()
    _, file_vae = _load(SINGLE_FILE)
    condition = run_node("H3DEncodeImage", model=model, image=_object_image())[0]
    latent = run_node("H3DSampleShape", model=model, condition=condition, seed=3, steps=2, guidance=5.0,
                       skip_last_call=True)[0]
    comfy_feeds_post_kl = latent["samples"].movedim(-2, -1)
    settings = pipelines.VolumeSettings(octree_resolution=16)
    comfys_grid = pipelines.decode_volume(file_vae.vae, comfy_feeds_post_kl * file_vae.scale_factor, settings)
    torch.testing.assert_close(comfys_grid, _decode(folder_vae, latent).logits)


def test_encode_mesh_takes_the_2_1_vae(folders):
    """The 2.1 release's VAE carries its point encoder, so Encode Mesh needs no separate
    withencoder folder; the latents come out in ComfyUI's layout at 2.1's scale."""
    vae = run_node("H3DLoadShapeVAE", vae_name=FOLDER, dtype="float32", device="cpu")[0]
    box = Mesh.from_trimesh(trimesh.creation.box(extents=(1.0, 0.6, 0.4)))
    latent = run_node("H3DEncodeMesh", vae=vae, mesh=node_types.H3DMesh(meshes=[box]), seed=0,
                       sample_posterior=False)[0]
    assert latent["samples"].shape == (1, 64, TINY_LATENTS)
    expected = encoding.encode_mesh(vae.vae, box, seed=0)
    torch.testing.assert_close(latent["samples"].movedim(-2, -1), expected / SCALE_FACTOR_2_1)
    assert _decode(vae, latent).logits.shape == (1, 17, 17, 17)
