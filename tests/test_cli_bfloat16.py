"""The commands in bfloat16 on the CPU: ``shape`` (demo model, every decoder; the 2.1
fixture against Tencent's float32 run), ``generate``, ``texture`` with tiny Paint and
Delight models and ``paint-views`` against the 2.1 PBR fixture, with the tolerances of
docs/precision.md; and what ``--dtype auto`` picks with the CPU's bfloat16 matrix
units stubbed present and absent."""

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image
from scipy.spatial import cKDTree

from hy3d_core import devices
from hy3d_core.cli import main
from paint_pbr_fixture import DINO_FOLDER, MODEL_FOLDER, VIEW_SIZE, VIEWS, paint_pbr_fixture
from shared_fixtures import SHAPE_21, fixture_dir, load_reference
from test_cli_texture_paint import inputs, small  # noqa: F401 - a fixture
from test_pipelines import _relative_difference
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


def _record_weight_dtypes(monkeypatch, module, loader_name: str, networks) -> set:
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

    paint = _record_weight_dtypes(monkeypatch, texture_command, "load_paint_model",
                                  lambda model: (model.unet, model.vae))
    delight = _record_weight_dtypes(monkeypatch, texture_command, "load_delight_pipeline",
                                    lambda pipeline: (pipeline.unet, pipeline.vae, pipeline.text_encoder))
    out = inputs[0] / "painted_bfloat16.glb"
    assert main(["texture", *small(inputs, out, "--delight", str(inputs[2]), "--seed", "3",
                                   "--dtype", "bfloat16")]) == 0
    assert paint == {torch.bfloat16} and delight == {torch.bfloat16}
    texture = np.asarray(trimesh.load(out, force="mesh").visual.material.baseColorTexture.convert("RGB"))
    assert texture.shape == (64, 64, 3) and texture.std() > 0


def test_the_21_shape_fixture_in_bfloat16_stays_near_the_release(tmp_path):
    """Tencent's float32 run (4 steps, guidance 5, dense 48 grid) against ours in
    bfloat16: latents within 4% (measured 1.8%), the mesh as close as float32's."""
    folder = fixture_dir(SHAPE_21)
    out, latents_file = tmp_path / "mesh.ply", tmp_path / "latents.pt"
    assert main([
        "shape", "--model", str(folder / "hunyuan3d-dit-v2-1"), "--image", str(folder / "input.png"),
        "--out", str(out), "--save-latents", str(latents_file), "--steps", "4", "--guidance", "5",
        "--seed", "0", "--octree-resolution", "48", "--decoder", "dense", "--open-at-bounds",
        "--no-postprocess", "--dtype", "bfloat16", "--device", "cpu",
    ]) == 0
    latents = torch.load(latents_file, weights_only=True)
    assert _relative_difference(latents, load_reference(SHAPE_21)["pipeline_latents"]) < 0.04
    mesh = trimesh.load(out, process=False)
    expected = np.load(folder / "pipeline_mesh.npz")
    distances = [cKDTree(b).query(a)[0] for a, b in ((mesh.vertices, expected["v"]),
                                                    (expected["v"], mesh.vertices))]
    assert max(float(np.mean(d ** 2)) for d in distances) < 1e-4


@pytest.mark.usefixtures("flush_denormals")
def test_paint_views_in_bfloat16_stay_near_the_release_views(tmp_path, monkeypatch):
    """Tencent's float32 PBR views against ours in bfloat16 (DINO, UNet and VAE): at most
    40 of 255 levels anywhere and 5 on average per image (measured 24 and 2.8)."""
    from hy3d_core.cli import paint_views_command

    weights = _record_weight_dtypes(monkeypatch, paint_views_command, "load_paint_pbr_model",
                                    lambda model: (model.unet, model.vae, model.dino))
    folder = paint_pbr_fixture()
    out = tmp_path / "views"
    assert main(["paint-views", "--paint", str(folder / MODEL_FOLDER), "--dino", str(folder / DINO_FOLDER),
                 "--reference", str(folder / "reference.png"),
                 "--normals", *(str(folder / f"normal_{view}.png") for view in range(VIEWS)),
                 "--positions", *(str(folder / f"position_{view}.png") for view in range(VIEWS)),
                 "--steps", "3", "--guidance", "3.0", "--seed", "0", "--view-size", str(VIEW_SIZE),
                 "--device", "cpu", "--dtype", "bfloat16", "--out", str(out)]) == 0
    for view in range(VIEWS):
        for name in (f"albedo_{view}.png", f"mr_{view}.png"):
            ours, theirs = (np.asarray(Image.open(path).convert("RGB")).astype(np.int32)
                            for path in (out / name, folder / name))
            difference = np.abs(ours - theirs)
            assert difference.max() <= 40 and difference.mean() <= 5, (
                f"{name}: {difference.max()} levels at most, {difference.mean():.2f} on average")
    assert weights == {torch.bfloat16}
