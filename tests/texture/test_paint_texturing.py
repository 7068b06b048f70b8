"""``paint_texture``: the Paint texture job that ``generate`` and ``texture --paint`` share."""

from dataclasses import replace

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.io.paint_checkpoints import load_paint_model
from hy3d_core.pipelines.paint import PaintSettings, paint_texture
from hy3d_core.sampling.progress import Progress
from tiny_paint import TINY_VIEW_SIZE, flush_denormals, write_tiny_paint_folder  # noqa: F401 - fixture

SETTINGS = PaintSettings(texture_size=64, steps=2, view_size=TINY_VIEW_SIZE, atlas_resolution=128,
                         backend="torch")


@pytest.fixture(scope="module")
def paint_model(tmp_path_factory):
    return load_paint_model(write_tiny_paint_folder(tmp_path_factory.mktemp("paint") / "hunyuan3d-paint-v2-0"))


@pytest.fixture(scope="module")
def ball():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    return Mesh(sphere.vertices, sphere.faces)


def reference() -> tuple[np.ndarray, np.ndarray]:
    opacity = np.zeros((32, 32), dtype=np.float32)
    opacity[6:26, 6:26] = 1.0
    rgb = np.where(opacity[..., None] > 0, np.float32([0.8, 0.3, 0.2]), np.float32(1.0))
    return rgb, opacity


def test_unwraps_paints_and_reports_each_stage(paint_model, ball, flush_denormals):
    stages = []

    def progress_for(stage):
        stages.append(stage)
        return Progress()

    textured = paint_texture(ball, *reference(), paint_model, SETTINGS, progress_for=progress_for)
    assert textured.uvs is not None and textured.texture.shape == (64, 64, 3)
    assert textured.texture.std() > 0
    assert len(textured.faces) == len(ball.faces)
    assert stages == ["painting views", "baking"]


def test_keeps_existing_uvs_and_follows_the_seed(paint_model, ball, flush_denormals):
    unwrapped = paint_texture(ball, *reference(), paint_model, SETTINGS)
    mesh = Mesh(unwrapped.vertices, unwrapped.faces, uvs=unwrapped.uvs)
    first = paint_texture(mesh, *reference(), paint_model, SETTINGS)
    again = paint_texture(mesh, *reference(), paint_model, SETTINGS)
    other = paint_texture(mesh, *reference(), paint_model, replace(SETTINGS, seed=1))
    np.testing.assert_array_equal(first.uvs, mesh.uvs)
    np.testing.assert_array_equal(first.vertices, mesh.vertices)
    np.testing.assert_array_equal(first.texture, again.texture)
    assert np.abs(first.texture - other.texture).max() > 1e-3


def test_refuses_an_empty_mesh(paint_model):
    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="no faces"):
        paint_texture(empty, *reference(), paint_model, SETTINGS)
