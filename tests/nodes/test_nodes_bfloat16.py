"""The nodes in bfloat16 on the CPU: a loader's bfloat16 weights through encoding,
sampling, decoding and surface extraction, and what dtype "auto" picks (and logs) with
the CPU's bfloat16 matrix units stubbed present and absent."""

import logging

import pytest
import torch

from graph_runner import load_pack, pack_module, run_node, write_tiny_models
from test_node_behaviour import _object_image

load_pack()
devices = pack_module("hy3d_core.devices")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_tiny_models(root)
    return root


def _mesh_from(model, vae):
    condition = run_node("H3DEncodeImage", model=model, image=_object_image())[0]
    latent = run_node("H3DSampleShape", model=model, condition=condition, seed=5, steps=3,
                      guidance=5.0, skip_last_call=True)[0]
    voxel = run_node("H3DDecodeShapeVolume", vae=vae, latent=latent, decoder="hierarchical",
                     octree_resolution=32, num_chunks=8000, mc_level=0.0)[0]
    mesh = run_node("H3DExtractSurface", voxel=voxel, level=0.0, release_mapping=True,
                    close_at_bounds=True)[0]
    return condition, latent, voxel, mesh


@pytest.mark.parametrize("name", ["hunyuan3d-dit-v2-0", "hunyuan3d-dit-v2-1"])
def test_a_bfloat16_model_runs_every_shape_node(folders, models_dir, name):
    if not (models_dir / "hunyuan3d" / name).is_dir():
        pytest.skip(f"{name} is not at hand (shared fixtures)")
    model, vae = run_node("H3DLoadShapeModel", model_name=name, dtype="bfloat16", device="cpu")
    assert {p.dtype for p in model.dit.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in vae.vae.parameters()} == {torch.bfloat16}
    condition, latent, voxel, mesh = _mesh_from(model, vae)
    assert condition.context.dtype == torch.bfloat16
    assert torch.isfinite(latent["samples"]).all()
    assert torch.isfinite(voxel.logits[~voxel.logits.isnan()]).all()
    assert len(mesh.meshes[0].faces) > 0


@pytest.mark.parametrize("units, expected", [(("amx_bf16",), torch.bfloat16), ((), torch.float32)])
def test_auto_on_the_cpu_is_logged_and_follows_the_cpu(folders, monkeypatch, caplog, units, expected):
    monkeypatch.setattr(devices, "cpu_bfloat16_units", lambda: units)
    with caplog.at_level(logging.INFO):
        model, vae = run_node("H3DLoadShapeModel", model_name="hunyuan3d-dit-v2-0", dtype="auto",
                              device="cpu")
    assert next(model.dit.parameters()).dtype == expected
    assert next(vae.vae.parameters()).dtype == expected
    lines = [record.getMessage() for record in caplog.records if "dtype auto" in record.getMessage()]
    assert lines and all(f"{str(expected).removeprefix('torch.')} on the CPU" in line for line in lines)
