"""Prepared training folders: the contract layout, right labels, reproducible, safe."""

import json

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from hy3d_core.geometry.normalization import RELEASED_ENCODER_BOUND
from hy3d_core.training.mesh_dataset import ShapeSampleDataset, prepare_mesh_dataset
from hy3d_core.training.procedural_shapes import random_shape

COUNTS = dict(num_uniform=64, num_sharp=32, num_volume=200, num_near=200, views_per_shape=2,
              image_size=48)


@pytest.fixture(scope="module")
def shapes():
    rng = np.random.default_rng(4)
    return [random_shape("box", rng), random_shape("torus", rng)]


@pytest.fixture(scope="module")
def prepared(shapes, tmp_path_factory):
    return prepare_mesh_dataset(shapes, tmp_path_factory.mktemp("data") / "set", seed=1,
                                **COUNTS)


def test_round_trip_through_the_dataset(prepared):
    dataset = ShapeSampleDataset(prepared)
    assert len(dataset) == 2 and dataset.names == ["box_0000", "torus_0001"]
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=2)))
    assert batch["name"] == ["box_0000", "torus_0001"]
    assert batch["surface"].shape == (2, 96, 7) and batch["surface"].dtype == torch.float32
    assert batch["points"].shape == (2, 400, 3) and batch["points"].dtype == torch.float32
    assert batch["occupancy"].shape == (2, 400) and batch["occupancy"].dtype == torch.float32
    assert set(batch["occupancy"].unique().tolist()) == {0.0, 1.0}
    box, torus = batch["surface"]
    assert (box[:64, 6] == 0).all() and (box[64:, 6] == 1).all()
    assert (torus[:, 6] == 0).all(), "a torus has no sharp edge: its sharp rows are uniform"
    assert box[:, :3].abs().max() == pytest.approx(RELEASED_ENCODER_BOUND, abs=1e-4)


def test_the_manifest_and_images_follow_the_contract(prepared):
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["seed"] == 1
    assert (manifest["num_uniform"], manifest["num_sharp"], manifest["bound"]) == (64, 32, 1.05)
    box, torus = manifest["shapes"]
    assert (box["family"], box["sharp_edges"], torus["sharp_edges"]) == ("box", True, False)
    for view in box["images"]:
        assert -30 <= view["azimuth"] <= 30 and -10 <= view["elevation"] <= 30
        image = np.asarray(Image.open(prepared / view["file"]))
        assert image.shape == (48, 48, 4) and image[..., 3].max() == 255


def test_labels_match_the_normalised_shape(prepared, shapes):
    torus = ShapeSampleDataset(prepared)[1]
    points, occupancy = torus["points"].numpy(), torus["occupancy"].numpy().astype(bool)
    # In the normalised frame the torus is centred: its axis stays empty, its tube is full.
    radial = np.hypot(points[:, 0], points[:, 2])
    assert not occupancy[radial < 0.2].any()
    params = shapes[1].params
    scale = RELEASED_ENCODER_BOUND / (params["major_radius"] + params["minor_radius"])
    tube = np.hypot(radial - params["major_radius"] * scale, points[:, 1])
    assert (occupancy == (tube <= params["minor_radius"] * scale)).mean() > 0.99


def test_points_pushed_outward_are_mostly_outside(shapes, tmp_path):
    folder = prepare_mesh_dataset(shapes[:1], tmp_path / "near", seed=2, num_uniform=16,
                                  num_sharp=0, num_volume=0, num_near=2000,
                                  near_sigmas=(0.02,), views_per_shape=0)
    item = ShapeSampleDataset(folder)[0]
    points, occupancy = item["points"].numpy(), item["occupancy"].numpy()
    # A box centred at the origin: the outward normal is the axis of the largest ratio
    # to the half size; offsets along it decide inside or outside.
    half = np.abs(points).max(axis=0)
    outside_along_normal = (np.abs(points) > RELEASED_ENCODER_BOUND * half / half.max()).any(1)
    assert np.mean(occupancy[outside_along_normal] == 0) > 0.95
    assert 0.3 < occupancy.mean() < 0.7


def test_the_seed_fixes_the_output(shapes, prepared, tmp_path):
    again = prepare_mesh_dataset(shapes, tmp_path / "again", seed=1, **COUNTS)
    other = prepare_mesh_dataset(shapes, tmp_path / "other", seed=2, **COUNTS)
    for name in ("box_0000", "torus_0001"):
        first, second = (np.load(folder / "samples" / f"{name}.npz")
                         for folder in (prepared, again))
        for key in ("surface", "points", "occupancy"):
            assert np.array_equal(first[key], second[key])
    assert not np.array_equal(np.load(prepared / "samples" / "box_0000.npz")["points"],
                              np.load(other / "samples" / "box_0000.npz")["points"])


def test_random_colours_change_the_renders_and_nothing_else(shapes, prepared, tmp_path):
    coloured = prepare_mesh_dataset(shapes, tmp_path / "coloured", seed=1, random_colours=True,
                                    **COUNTS)
    grey_entries = json.loads((prepared / "manifest.json").read_text())["shapes"]
    entries = json.loads((coloured / "manifest.json").read_text())["shapes"]
    colours = {tuple(image["colour"]) for entry in entries for image in entry["images"]}
    assert len(colours) == 4
    for grey, entry in zip(grey_entries, entries):
        name = entry["name"]
        for key in ("surface", "points", "occupancy"):
            assert np.array_equal(np.load(prepared / "samples" / f"{name}.npz")[key],
                                  np.load(coloured / "samples" / f"{name}.npz")[key])
        for grey_image, image in zip(grey["images"], entry["images"]):
            assert (grey_image["azimuth"], grey_image["elevation"]) == (image["azimuth"], image["elevation"])
            before = np.asarray(Image.open(prepared / grey_image["file"]))
            after = np.asarray(Image.open(coloured / image["file"]))
            assert np.array_equal(before[..., 3], after[..., 3])
            inside = after[..., 3] > 0
            mean = after[inside][:, :3].astype(float).mean(axis=0)
            colour = np.array(image["colour"])
            assert np.allclose(mean / mean.max(), colour / colour.max(), atol=0.03)


def test_a_full_folder_is_not_overwritten_unless_asked(shapes, prepared):
    with pytest.raises(FileExistsError, match="not empty"):
        prepare_mesh_dataset(shapes, prepared, seed=1, **COUNTS)
    prepare_mesh_dataset(shapes[:1], prepared, seed=1, overwrite=True, **COUNTS)
    assert len(ShapeSampleDataset(prepared)) == 1
    assert sorted(p.name for p in (prepared / "samples").iterdir()) == ["box_0000.npz"]


def test_user_meshes_are_made_watertight_and_labelled(tmp_path):
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    box = trimesh.creation.box((1.0, 2.0, 1.0)).subdivide().subdivide().subdivide()
    box.update_faces(np.arange(len(box.faces)) != 3)  # a small hole
    box.export(meshes / "holed box.ply")
    folder = prepare_mesh_dataset(meshes, tmp_path / "out", seed=0, watertight_resolution=64,
                                  **COUNTS)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [s["name"] for s in manifest["shapes"]] == ["holed_box"]
    assert manifest["shapes"][0]["family"] is None
    item = ShapeSampleDataset(folder)[0]
    points, occupancy = item["points"].numpy(), item["occupancy"].numpy().astype(bool)
    truth = (np.abs(points) <= [0.5 * RELEASED_ENCODER_BOUND, RELEASED_ENCODER_BOUND,
                                0.5 * RELEASED_ENCODER_BOUND]).all(1)
    assert np.mean(occupancy == truth) > 0.9


def test_bad_sources_are_explained(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No mesh files"):
        prepare_mesh_dataset(empty, tmp_path / "out")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "junk.obj").write_bytes(b"\x00\x01 not a mesh")
    with pytest.raises(ValueError, match="junk.obj"):
        prepare_mesh_dataset(broken, tmp_path / "out2")
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        ShapeSampleDataset(empty)
    with pytest.raises(ValueError, match="ProceduralShape"):
        prepare_mesh_dataset([], tmp_path / "out3")
