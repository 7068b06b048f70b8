"""Metallic-roughness maps in meshes and files: glTF channel packing, OBJ PBR maps as
the release names them, and loading them back."""

import io
import json
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest
import trimesh
from PIL import Image

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.io.mesh_files import load_mesh, save_mesh

METALLIC, ROUGHNESS = 0.25, 0.75


@pytest.fixture
def pbr_mesh():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    rng = np.random.default_rng(0)
    metallic_roughness = np.empty((16, 24, 2), np.float32)
    metallic_roughness[..., 0] = METALLIC
    metallic_roughness[..., 1] = ROUGHNESS
    metallic_roughness[0, 0] = (1.0, 0.0)  # one texel tells the channels apart by value
    return Mesh(
        vertices=sphere.vertices,
        faces=sphere.faces,
        uvs=rng.random((len(sphere.vertices), 2)),
        texture=rng.random((16, 24, 3)),
        metallic_roughness=metallic_roughness,
    )


def _glb_chunks(path):
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    json_length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    gltf = json.loads(data[20:20 + json_length])
    binary_length, kind = struct.unpack_from("<I4s", data, 20 + json_length)
    assert kind == b"BIN\x00"
    start = 28 + json_length
    return gltf, data[start:start + binary_length]


def _glb_image(gltf, binary, texture_index):
    view = gltf["bufferViews"][gltf["images"][gltf["textures"][texture_index]["source"]]["bufferView"]]
    start = view.get("byteOffset", 0)
    return np.asarray(Image.open(io.BytesIO(binary[start:start + view["byteLength"]])).convert("RGB"))


def test_mesh_checks_and_copies_the_metallic_roughness_map(pbr_mesh):
    copied = pbr_mesh.copy()
    assert copied.metallic_roughness.dtype == np.float32
    np.testing.assert_array_equal(copied.metallic_roughness, pbr_mesh.metallic_roughness)
    assert copied.metallic_roughness is not pbr_mesh.metallic_roughness
    with pytest.raises(ValueError, match=r"\[H, W, 2\]"):
        Mesh(pbr_mesh.vertices, pbr_mesh.faces, uvs=pbr_mesh.uvs,
             metallic_roughness=np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="within 0..1"):
        Mesh(pbr_mesh.vertices, pbr_mesh.faces, uvs=pbr_mesh.uvs,
             metallic_roughness=np.full((4, 4, 2), 1.5))
    with pytest.raises(ValueError, match="needs UVs"):
        Mesh(pbr_mesh.vertices, pbr_mesh.faces, metallic_roughness=np.zeros((4, 4, 2)))


def test_glb_packs_roughness_in_green_and_metallic_in_blue(pbr_mesh, tmp_path):
    path = save_mesh(pbr_mesh, tmp_path / "ball.glb")
    gltf, binary = _glb_chunks(path)
    (material,) = gltf["materials"]
    pbr = material["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 1.0 and pbr["roughnessFactor"] == 1.0
    packed = _glb_image(gltf, binary, pbr["metallicRoughnessTexture"]["index"])
    assert packed.shape == (16, 24, 3)
    assert (packed[..., 0] == 255).all()
    assert packed[0, 0].tolist() == [255, 0, 255]
    assert (packed[1:, :, 1] == round(ROUGHNESS * 255)).all()
    assert (packed[1:, :, 2] == round(METALLIC * 255)).all()
    base = _glb_image(gltf, binary, pbr["baseColorTexture"]["index"])
    np.testing.assert_allclose(base / 255, pbr_mesh.texture, atol=0.5 / 255 + 1e-6)

    scene = trimesh.load(path)
    (geometry,) = scene.geometry.values()
    read = geometry.visual.material
    assert read.metallicFactor == 1.0 and read.roughnessFactor == 1.0
    trimesh_packed = np.asarray(read.metallicRoughnessTexture.convert("RGB"))
    np.testing.assert_array_equal(trimesh_packed, packed)


def test_glb_without_a_map_stays_a_plain_dielectric(pbr_mesh, tmp_path):
    plain = Mesh(pbr_mesh.vertices, pbr_mesh.faces, uvs=pbr_mesh.uvs, texture=pbr_mesh.texture)
    gltf, _ = _glb_chunks(save_mesh(plain, tmp_path / "ball.glb"))
    pbr = gltf["materials"][0]["pbrMetallicRoughness"]
    assert "metallicRoughnessTexture" not in pbr and pbr["metallicFactor"] == 0.0
    assert load_mesh(tmp_path / "ball.glb").metallic_roughness is None


def test_load_mesh_keeps_the_metallic_roughness_map_of_a_glb(pbr_mesh, tmp_path):
    loaded = load_mesh(save_mesh(pbr_mesh, tmp_path / "ball.glb"))
    assert loaded.metallic_roughness.shape == (16, 24, 2)
    np.testing.assert_allclose(loaded.metallic_roughness, pbr_mesh.metallic_roughness,
                               atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(loaded.texture, pbr_mesh.texture, atol=0.5 / 255 + 1e-6)


def test_load_mesh_applies_the_gltf_factors(pbr_mesh, tmp_path):
    scene = trimesh.Scene(pbr_mesh.to_trimesh())
    (geometry,) = scene.geometry.values()
    geometry.visual.material.metallicFactor = 0.5
    geometry.visual.material.roughnessFactor = 0.5
    path = tmp_path / "scaled.glb"
    path.write_bytes(scene.export(file_type="glb"))
    loaded = load_mesh(path)
    np.testing.assert_allclose(loaded.metallic_roughness[1:, :, 0], METALLIC / 2, atol=1 / 255)
    np.testing.assert_allclose(loaded.metallic_roughness[1:, :, 1], ROUGHNESS / 2, atol=1 / 255)


def test_obj_writes_the_release_pbr_maps_beside_map_kd(pbr_mesh, tmp_path):
    path = save_mesh(pbr_mesh, tmp_path / "ball.obj")
    assert sorted(os.listdir(tmp_path)) == [
        "ball.mtl", "ball.obj", "ball.png", "ball_metallic.png", "ball_roughness.png"]
    lines = (tmp_path / "ball.mtl").read_text().splitlines()
    assert {"map_Kd ball.png", "map_Pm ball_metallic.png", "map_Pr ball_roughness.png"} <= set(lines)
    metallic = Image.open(tmp_path / "ball_metallic.png")
    roughness = Image.open(tmp_path / "ball_roughness.png")
    assert metallic.mode == roughness.mode == "L"
    assert np.asarray(metallic)[0, 0] == 255 and np.asarray(roughness)[0, 0] == 0
    assert (np.asarray(metallic)[1:] == round(METALLIC * 255)).all()
    assert (np.asarray(roughness)[1:] == round(ROUGHNESS * 255)).all()

    loaded = load_mesh(path)
    np.testing.assert_allclose(loaded.metallic_roughness, pbr_mesh.metallic_roughness,
                               atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(loaded.texture, pbr_mesh.texture, atol=0.5 / 255 + 1e-6)


def test_obj_naming_a_missing_pbr_map_is_a_clear_error(pbr_mesh, tmp_path):
    path = save_mesh(pbr_mesh, tmp_path / "ball.obj")
    (tmp_path / "ball_roughness.png").unlink()
    with pytest.raises(FileNotFoundError, match="map_Pr 'ball_roughness.png'"):
        load_mesh(path)


def _gltf_validator_command():
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        return None
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True).stdout.strip()
    if not os.path.isdir(os.path.join(root, "gltf-validator")):
        return None
    return node, root


VALIDATE_SCRIPT = """
const fs = require('fs');
const validator = require('gltf-validator');
validator.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])))
  .then(report => console.log(JSON.stringify(report.issues)))
  .catch(error => { console.error(error); process.exit(2); });
"""


def test_pbr_glb_passes_the_khronos_gltf_validator(pbr_mesh, tmp_path):
    found = _gltf_validator_command()
    if found is None:
        pytest.skip("gltf-validator (npm install -g gltf-validator) is not installed")
    node, root = found
    path = save_mesh(pbr_mesh, tmp_path / "ball.glb")
    result = subprocess.run([node, "-e", VALIDATE_SCRIPT, str(path)], capture_output=True,
                            text=True, env={**os.environ, "NODE_PATH": root}, timeout=120)
    assert result.returncode == 0, result.stderr
    issues = json.loads(result.stdout)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
