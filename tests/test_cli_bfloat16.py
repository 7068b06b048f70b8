"""The commands in bfloat16 on the CPU: ``shape`` on the demo model with every decoder,
``generate``, and ``texture`` with tiny Paint and Delight models; and what ``--dtype
auto`` picks with the CPU's bfloat16 matrix units stubbed present and absent. The
fixtures' bfloat16 runs sit beside their float32 ones (test_cli_shape_v2_1.py,
test_cli_paint_views.py), with the tolerances of docs/precision.md."""

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core import devices
from hy3d_core.cli import main
from test_cli_texture_paint import inputs, small  # noqa: F401 - a fixture
from tiny_paint import flush_denormals  # noqa: F401 - a fixture

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "demo_box.png"


def _demo_shape(tmp_path, name, *extra):
    out, latents = tmp_path / f"{name}.glb", tmp_path / f"{name}.pt"
    assert main(["shape", "--image", str(EXAMPLE), "--out", str(out), "--save-latents", str(latents),
                 "--steps", "4", "--octree-resolution", "48", "--device", "cpu", *extra]) == 0
    return trimesh.load(out, force="mesh"), torch.load(latents, weights_only=True)


@pytest.mark.parametrize("decoder", ["dense", "hierarchical", "flashvdm"])
def test_shape_runs_the_demo_model_in_bfloat16_with_every_decoder(tmp_path, decoder):
    mesh, latents = _demo_shape(tmp_path, decoder, "--dtype", "bfloat16", "--decoder", decoder)
    assert len(mesh.faces) > 100 and mesh.is_watertight
    assert latents.dtype == torch.float32 and torch.isfinite(latents).all()


@pytest.mark.parametrize("units, expected", [(("avx512_bf16",), "bfloat16"), ((), "float32")])
def test_auto_picks_by_the_cpus_units_and_says_so(tmp_path, capsys, monkeypatch, units, expected):
    monkeypatch.setattr(devices, "cpu_bfloat16_units", lambda: units)
    _, chosen = _demo_shape(tmp_path, "auto", "--dtype", "auto")
    assert f"dtype auto: {expected} on the CPU" in capsys.readouterr().err
    _, explicit = _demo_shape(tmp_path, expected, "--dtype", expected)
    assert torch.equal(chosen, explicit)


def test_generate_runs_in_bfloat16_when_auto_picks_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(devices, "cpu_bfloat16_units", lambda: ("amx_bf16",))
    out = tmp_path / "asset.glb"
    assert main(["generate", "--image", str(EXAMPLE), "--out", str(out), "--steps", "4",
                 "--octree-resolution", "48", "--texture-size", "128", "--render-size", "256",
                 "--device", "cpu"]) == 0
    assert capsys.readouterr().err.count("dtype auto: bfloat16 on the CPU") == 1
    loaded = trimesh.load(out, force="mesh")
    assert len(loaded.faces) > 100 and loaded.visual.kind == "texture"


def record_weight_dtypes(monkeypatch, module, loader_name: str, networks) -> set:
    """Wrap ``module.loader_name`` so the dtypes of the weights it loads are collected."""
    seen: set = set()
    loader = getattr(module, loader_name)

    def recording(*args, **kwargs):
        loaded = loader(*args, **kwargs)
        for network in networks(loaded):
            seen.update(parameter.dtype for parameter in network.parameters())
        return loaded

    monkeypatch.setattr(module, loader_name, recording)
    return seen


@pytest.mark.usefixtures("flush_denormals")
def test_texture_paints_and_delights_in_bfloat16(inputs, monkeypatch):  # noqa: F811 - the fixture
    from hy3d_core.cli import texture_command

    paint = record_weight_dtypes(monkeypatch, texture_command, "load_paint_model",
                                  lambda model: (model.unet, model.vae))
    delight = record_weight_dtypes(monkeypatch, texture_command, "load_delight_pipeline",
                                    lambda pipeline: (pipeline.unet, pipeline.vae, pipeline.text_encoder))
    out = inputs[0] / "painted_bfloat16.glb"
    assert main(["texture", *small(inputs, out, "--delight", str(inputs[2]), "--seed", "3",
                                   "--dtype", "bfloat16")]) == 0
    assert paint == {torch.bfloat16} and delight == {torch.bfloat16}
    texture = np.asarray(trimesh.load(out, force="mesh").visual.material.baseColorTexture.convert("RGB"))
    assert texture.shape == (64, 64, 3) and texture.std() > 0
