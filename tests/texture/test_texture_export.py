"""A baked texture and its UVs survive saving and loading (GLB and OBJ)."""

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.io.mesh_files import load_mesh, save_mesh
from hy3d_core.render.cameras import orbit_cameras
from hy3d_core.texture.baking import bake_views
from hy3d_core.texture.inpainting import inpaint_texture
from hy3d_core.texture.textured_render import render_textured
from hy3d_core.texture.uv_unwrap import unwrap_uv


@pytest.fixture(scope="module")
def baked() -> Mesh:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    mesh = unwrap_uv(Mesh(sphere.vertices, sphere.faces))
    rows, columns = np.mgrid[0:96, 0:96] / 96
    view = np.stack([columns, rows, 0.5 * np.ones_like(rows)], axis=-1).astype(np.float32)
    result = bake_views(mesh, view[None], orbit_cameras([0.0], [0.0]), texture_size=64,
                        backend="torch")
    texture = inpaint_texture(mesh, result.texture, result.covered, backend="torch")
    return mesh.with_texture(texture)


@pytest.mark.parametrize("suffix", [".glb", ".obj"])
def test_texture_and_uvs_round_trip(baked, tmp_path, suffix):
    path = save_mesh(baked, tmp_path / f"baked{suffix}")
    loaded = load_mesh(path)
    assert loaded.uvs is not None and loaded.texture is not None
    assert np.allclose(loaded.texture, baked.texture, atol=0.5 / 255 + 1e-6)
    # OBJ may reorder or merge vertices; compare per face corner
    assert np.allclose(loaded.vertices[loaded.faces], baked.vertices[baked.faces], atol=1e-6)
    assert np.allclose(loaded.uvs[loaded.faces], baked.uvs[baked.faces], atol=1e-6)
    cameras = orbit_cameras([0.0, 120.0], [0.0, 30.0])
    before, _ = render_textured(baked, cameras, 64, backend="torch")
    after, _ = render_textured(loaded, cameras, 64, backend="torch")
    assert (before - after).abs().max() < 2 / 255
