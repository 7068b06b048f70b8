"""Mesh files: round trips, embedded textures, no overwriting, atomic writes, naming."""

import json
import os
import struct

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.io import mesh_files
from hy3d_core.io.mesh_files import load_mesh, save_mesh, unique_output_path


@pytest.fixture
def sphere():
    icosphere = trimesh.creation.icosphere(subdivisions=2)
    return Mesh(vertices=icosphere.vertices, faces=icosphere.faces)


@pytest.fixture
def textured(sphere):
    rng = np.random.default_rng(0)
    return Mesh(
        vertices=sphere.vertices,
        faces=sphere.faces,
        uvs=rng.random((len(sphere.vertices), 2)),
        texture=rng.random((16, 24, 3)),
    )


def _glb_json(path):
    data = path.read_bytes()
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20:20 + length])


@pytest.mark.parametrize("ext", ["glb", "obj", "ply"])
def test_round_trip(sphere, tmp_path, ext):
    path = save_mesh(sphere, tmp_path / f"ball.{ext}")
    loaded = load_mesh(path)
    assert loaded.vertices.shape == sphere.vertices.shape
    np.testing.assert_allclose(loaded.vertices, sphere.vertices, atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, sphere.faces)
    assert loaded.uvs is None and loaded.texture is None


def test_textured_glb_embeds_base_color_and_round_trips(textured, tmp_path):
    path = save_mesh(textured, tmp_path / "ball.glb")
    assert sorted(os.listdir(tmp_path)) == ["ball.glb"]
    gltf = _glb_json(path)
    assert "baseColorTexture" in gltf["materials"][0]["pbrMetallicRoughness"]
    assert gltf["images"][0]["mimeType"] == "image/png"
    loaded = load_mesh(path)
    np.testing.assert_allclose(loaded.uvs, textured.uvs, atol=1e-6)
    assert loaded.texture.shape == textured.texture.shape
    np.testing.assert_allclose(loaded.texture, textured.texture, atol=0.5 / 255 + 1e-6)


def test_textured_obj_writes_mtl_and_png_named_after_it(textured, tmp_path):
    path = save_mesh(textured, tmp_path / "ball.obj")
    assert sorted(os.listdir(tmp_path)) == ["ball.mtl", "ball.obj", "ball.png"]
    assert "map_Kd ball.png" in (tmp_path / "ball.mtl").read_text()
    loaded = load_mesh(path)
    np.testing.assert_allclose(loaded.uvs, textured.uvs, atol=1e-6)
    np.testing.assert_allclose(loaded.texture, textured.texture, atol=0.5 / 255 + 1e-6)


def test_normals_survive_a_round_trip(sphere, tmp_path):
    normals = -trimesh.Trimesh(sphere.vertices, sphere.faces).vertex_normals
    mesh = Mesh(vertices=sphere.vertices, faces=sphere.faces, vertex_normals=normals)
    for ext in ("glb", "obj", "ply"):
        loaded = load_mesh(save_mesh(mesh, tmp_path / f"ball.{ext}"))
        np.testing.assert_allclose(loaded.vertex_normals, normals, atol=1e-6)


def test_existing_file_is_not_overwritten(sphere, tmp_path):
    path = save_mesh(sphere, tmp_path / "ball.glb")
    before = path.read_bytes()
    smaller = Mesh(vertices=sphere.vertices, faces=sphere.faces[:10])
    with pytest.raises(FileExistsError, match="Not overwriting existing"):
        save_mesh(smaller, path)
    assert path.read_bytes() == before
    save_mesh(smaller, path, overwrite=True)
    assert len(load_mesh(path).faces) == 10


def test_existing_obj_companion_blocks_the_save(textured, tmp_path):
    (tmp_path / "ball.png").write_bytes(b"someone else's image")
    with pytest.raises(FileExistsError, match="ball.png"):
        save_mesh(textured, tmp_path / "ball.obj")
    assert sorted(os.listdir(tmp_path)) == ["ball.png"]


def test_failed_write_leaves_no_file(textured, tmp_path, monkeypatch):
    def disk_full(_descriptor):
        raise OSError("No space left on device")

    monkeypatch.setattr(mesh_files.os, "fsync", disk_full)
    for name in ("ball.glb", "ball.obj"):
        with pytest.raises(OSError, match="No space"):
            save_mesh(textured, tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_unknown_extension_lists_supported(sphere, tmp_path):
    with pytest.raises(ValueError, match=r"\.glb, \.obj, \.ply"):
        save_mesh(sphere, tmp_path / "ball.fbx")
    with pytest.raises(ValueError, match=r"\.stl"):
        load_mesh(tmp_path / "ball.fbx")


def test_mesh_without_faces_is_not_saved(tmp_path):
    with pytest.raises(ValueError, match="needs at least one face"):
        save_mesh(Mesh(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3))), tmp_path / "a.glb")


def test_unique_output_path_counts_past_existing_files(tmp_path):
    assert unique_output_path(tmp_path, "mesh", "glb") == tmp_path / "mesh_00001.glb"
    (tmp_path / "mesh_00001.glb").touch()
    assert unique_output_path(tmp_path, "mesh", ".glb") == tmp_path / "mesh_00002.glb"
    (tmp_path / "mesh_00007.png").touch()  # an OBJ companion holds its number
    (tmp_path / "meshy_00020.glb").touch()
    (tmp_path / "other_00030.glb").touch()
    assert unique_output_path(tmp_path, "mesh", "obj") == tmp_path / "mesh_00008.obj"
    assert unique_output_path(tmp_path, "sub/mesh", "glb") == tmp_path / "sub" / "mesh_00001.glb"
    with pytest.raises(ValueError, match="outside the output folder"):
        unique_output_path(tmp_path, "../mesh", "glb")
    with pytest.raises(ValueError, match="plain file extension"):
        unique_output_path(tmp_path, "mesh", "g/lb")


def test_scene_parts_are_placed_and_merged(tmp_path):
    scene = trimesh.Scene()
    moved = trimesh.transformations.translation_matrix([5, 0, 0])
    scene.add_geometry(trimesh.creation.box(), transform=moved)
    scene.add_geometry(trimesh.creation.icosphere(1))
    path = tmp_path / "scene.glb"
    scene.export(path)
    loaded = load_mesh(path)
    assert len(loaded.faces) == 12 + 80
    assert loaded.vertices[:, 0].max() == pytest.approx(5.5)


def test_stl_loads(sphere, tmp_path):
    path = tmp_path / "ball.stl"
    sphere.to_trimesh().export(path)
    assert len(load_mesh(path).faces) == len(sphere.faces)


def test_files_without_faces_are_refused(tmp_path):
    path = tmp_path / "points.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(path)
    with pytest.raises(ValueError, match="holds no triangles"):
        load_mesh(path)
    with pytest.raises(FileNotFoundError, match="missing.glb"):
        load_mesh(tmp_path / "missing.glb")


@pytest.mark.parametrize("name", ["box.obj", "my box.obj", "box.glb", "box.ply"])
@pytest.mark.parametrize("parts", ["plain", "uvs", "textured", "pbr"])
def test_output_files_are_exactly_the_files_a_save_writes(textured, tmp_path, name, parts):
    rng = np.random.default_rng(1)
    mesh = Mesh(
        vertices=textured.vertices, faces=textured.faces,
        uvs=None if parts == "plain" else textured.uvs,
        texture=textured.texture if parts in ("textured", "pbr") else None,
        metallic_roughness=rng.random((16, 24, 2)) if parts == "pbr" else None,
    )
    announced = mesh_files.output_files(
        tmp_path / name, has_uvs=mesh.uvs is not None, has_texture=mesh.texture is not None,
        has_metallic_roughness=mesh.metallic_roughness is not None)
    save_mesh(mesh, tmp_path / name)
    assert sorted(announced) == sorted(tmp_path.iterdir())
    assert announced[-1] == tmp_path / name
    if name == "box.obj" and parts != "plain":
        assert tmp_path / "box.mtl" in announced
        assert (tmp_path / "box.png" in announced) == (parts != "uvs")
