"""``python -m hy3d_core shape`` end to end on a tiny official-format folder."""

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from hy3d_core.cli import main
from hy3d_core.image.prepare import prepare_image
from hy3d_core.io.shape_checkpoints import load_shape_model
from hy3d_core.pipelines import SamplingSettings, VolumeSettings, decode_volume, encode_images, sample_latents
from tiny_checkpoints import write_tiny_shape_model

SEED = 7


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    folder = write_tiny_shape_model(root / "hunyuan3d-dit-v2-0")
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[16:48, 20:44] = (200, 80, 40, 255)
    image = root / "object.png"
    Image.fromarray(rgba, "RGBA").save(image)
    model = load_shape_model(folder)
    latents = sample_latents(
        model.dit, encode_images(model.conditioner, prepare_image(rgba).tensor),
        model.configs.num_latents, SamplingSettings(steps=3, seed=SEED),
    )
    level = float(decode_volume(model.vae, latents, VolumeSettings(octree_resolution=32)).median())
    return root, folder, image, level, latents


def _args(folder, image, out, level, *extra):
    return [
        "shape", "--model", str(folder), "--image", str(image), "--out", str(out),
        "--steps", "3", "--seed", str(SEED), "--octree-resolution", "32",
        "--mc-level", f"{level}", "--max-faces", "8000", *extra,
    ]


def test_writes_a_glb_trimesh_loads_and_the_latents(setup, capsys):
    root, folder, image, level, expected_latents = setup
    out = root / "out.glb"
    latents_path = root / "latents.pt"
    assert main(_args(folder, image, out, level, "--save-latents", str(latents_path))) == 0
    loaded = trimesh.load(out, force="mesh")
    # Unreduced, this random model's noisy surface has about 57000 faces; with fewer than
    # about 6000 its many handles could not all be kept.
    assert 0 < len(loaded.faces) <= 8000
    saved = torch.load(latents_path, weights_only=True)
    assert saved.shape == (1, 32, 8)
    torch.testing.assert_close(saved, expected_latents)
    captured = capsys.readouterr()
    assert "sampling" in captured.err and "3/3" in captured.err.replace("2/2", "3/3")
    assert f"wrote {out}" in captured.out


def _boundary_edges(mesh):
    edges = np.sort(mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    return int((np.unique(edges, axis=0, return_counts=True)[1] == 1).sum())


def test_meshes_are_closed_at_the_grid_edge_unless_asked_to_stay_open(setup):
    """Half of this random model's grid is inside, so its surface reaches the grid's edge."""
    root, folder, image, level, _ = setup
    closed, opened = root / "closed.ply", root / "opened.ply"
    assert main(_args(folder, image, closed, level, "--no-postprocess")) == 0
    assert main(_args(folder, image, opened, level, "--no-postprocess", "--open-at-bounds")) == 0
    assert _boundary_edges(trimesh.load(closed, process=True)) == 0
    assert _boundary_edges(trimesh.load(opened, process=True)) > 0


def test_never_overwrites_without_the_flag(setup, capsys):
    root, folder, image, level, _ = setup
    out = root / "existing.glb"
    out.write_bytes(b"keep me")
    assert main(_args(folder, image, out, level)) == 2
    assert out.read_bytes() == b"keep me"
    assert "--overwrite" in capsys.readouterr().err
    assert main(_args(folder, image, out, level, "--overwrite", "--decoder", "hierarchical")) == 0
    assert out.read_bytes() != b"keep me"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--out": "mesh.fbx"}, "--out must end in one of"),
        ({"--image": "missing.png"}, "does not exist"),
        ({"--model": "nowhere"}, "does not exist"),
    ],
)
def test_clear_errors(setup, capsys, change, message):
    root, folder, image, level, _ = setup
    args = _args(folder, image, root / "x.glb", level)
    for flag, value in change.items():
        args[args.index(flag) + 1] = str(root / value)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_transparent_image_is_refused(setup, capsys):
    root, folder, _, level, _ = setup
    empty = root / "empty.png"
    Image.fromarray(np.zeros((32, 32, 4), dtype=np.uint8), "RGBA").save(empty)
    assert main(_args(folder, empty, root / "y.glb", level)) == 2
    assert "transparent" in capsys.readouterr().err
