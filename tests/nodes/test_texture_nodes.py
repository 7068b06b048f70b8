"""The texture nodes on tiny inputs (an icosphere, tiny random Paint and Delight folders),
and the texture workflows run end to end on tiny models."""

import shutil

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from graph_runner import GraphRunner, load_pack, pack_module, run_node, write_tiny_models
from test_node_behaviour import _comfy_that_offloads, _fake_comfy, _Interrupted, _record_moves
from test_workflows import EXAMPLES, STAND_INS, _api, _check_saved, _ellipse_rgba, _node_of, _run_with_a_crossed_level

NODES = load_pack().NODE_CLASS_MAPPINGS
Mesh = pack_module("hy3d_core.geometry.mesh").Mesh
H3DMesh = pack_module("nodes.node_types").H3DMesh
paint_nodes = pack_module("nodes.paint_nodes")
comfy_runtime = pack_module("nodes.comfy_runtime")
TINY_VIEW_SIZE = 16  # the tiny VAE halves it to the tiny UNet's 8x8 latents
SMALL = {"view_size": TINY_VIEW_SIZE, "texture_size": 64, "render_size": 64, "atlas_resolution": 128}


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    root = tmp_path_factory.mktemp("comfy")
    write_tiny_models(root / "models")
    inputs = root / "input"
    inputs.mkdir()
    # The shipped example the image workflows name, and stand-ins for the user's own files.
    shutil.copy(EXAMPLES / "demo_box.png", inputs / "demo_box.png")
    Image.fromarray(_ellipse_rgba(96, 128, (48, 64), (36, 30), 120), "RGBA").save(inputs / "your_photo.png")
    trimesh.creation.icosphere(subdivisions=2).export(inputs / "your_mesh.glb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HY3D_MODELS_DIR", str(root / "models"))
        patch.setenv("HY3D_INPUT_DIR", str(inputs))
        patch.setenv("HY3D_OUTPUT_DIR", str(root / "output"))
        patch.setenv("U2NET_HOME", str(root / "no-rembg"))
        yield root


def _sphere() -> H3DMesh:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    return H3DMesh.of([Mesh(sphere.vertices, sphere.faces)])


@pytest.fixture(scope="module")
def unwrapped():
    (mesh,) = run_node("H3DUnwrapUV", mesh=_sphere(), atlas_resolution=128, padding=2, keep_existing_uvs=False)
    return mesh


def _maps(mesh, preset="hunyuan3d-6view", azimuths="", elevations="", weights=""):
    return run_node("H3DRenderGeometryMaps", mesh=mesh, camera_preset=preset, azimuths=azimuths,
                     elevations=elevations, weights=weights, size=64, backend="torch")


def _object_image(size=64):
    image = torch.ones(1, size, size, 3)
    mask = torch.zeros(1, size, size)
    mask[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    image[mask > 0] = torch.tensor([0.8, 0.2, 0.1])
    return image, mask


# ---------------------------------------------------------------------------------------
# Geometry nodes


def test_unwrap_gives_every_vertex_a_uv_and_can_keep_existing_ones(unwrapped):
    (mesh,) = unwrapped.meshes
    assert mesh.uvs is not None and mesh.uvs.shape == (len(mesh.vertices), 2)
    assert mesh.uvs.min() >= 0 and mesh.uvs.max() <= 1
    (kept,) = run_node("H3DUnwrapUV", mesh=unwrapped, atlas_resolution=128, padding=2, keep_existing_uvs=True)
    np.testing.assert_array_equal(kept.meshes[0].uvs, mesh.uvs)


def test_geometry_maps_from_the_released_views_and_custom_ones(unwrapped):
    normals, positions, cameras = _maps(unwrapped)
    assert normals.shape == positions.shape == (6, 64, 64, 3)
    assert cameras.paint_camera_indices() == [21, 12, 15, 18, 43, 37]  # docs/release_conventions.md, section 11
    assert normals[:, 0, 0].eq(1).all() and normals[:, 32, 32].lt(1).any()
    normals, _, cameras = _maps(unwrapped, "custom", "0, 180", "0; 20", "1, 0.5")
    assert normals.shape[0] == 2 and cameras.weights == (1.0, 0.5) and cameras.elevations == (0.0, 20.0)
    with pytest.raises(ValueError, match="one entry per view"):
        _maps(unwrapped, "custom", "0, 90", "0", "1, 1")
    with pytest.raises(ValueError, match="numbers separated by commas"):
        _maps(unwrapped, "custom", "front", "0", "1")


def test_texturing_takes_one_mesh_at_a_time(unwrapped):
    pair = H3DMesh.of(unwrapped.meshes * 2)
    with pytest.raises(ValueError, match="one mesh at a time"):
        _maps(pair)


def test_baking_one_colour_then_inpainting_paints_the_whole_surface(unwrapped):
    _, _, cameras = _maps(unwrapped)
    colour = torch.tensor([0.8, 0.2, 0.1])
    views = colour.expand(6, 32, 32, 3).clone()
    baked, texture, coverage = run_node("H3DBakeTexture", mesh=unwrapped, views=views, cameras=cameras,
                                         texture_size=64, max_angle=75.0, cos_power=4.0, backend="torch")
    assert texture.shape == (1, 64, 64, 3) and coverage.shape == (1, 64, 64)
    covered = coverage[0] > 0.5
    assert 0.2 < covered.float().mean() < 1.0
    torch.testing.assert_close(texture[0][covered], colour.expand(int(covered.sum()), 3), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(baked.meshes[0].texture, texture[0].numpy())

    for mask in (coverage, None):
        filled, filled_texture = run_node("H3DInpaintTexture", mesh=baked, coverage=mask)
        assert filled.meshes[0].texture is not None
        torch.testing.assert_close(filled_texture[0], colour.expand(64, 64, 3), atol=2 / 255, rtol=0)


def test_bake_texture_says_what_is_wrong(unwrapped):
    _, _, cameras = _maps(unwrapped)
    with pytest.raises(ValueError, match="5 view images for 6 cameras"):
        run_node("H3DBakeTexture", mesh=unwrapped, views=torch.rand(5, 32, 32, 3), cameras=cameras,
                  texture_size=64, max_angle=75.0, cos_power=4.0, backend="torch")
    with pytest.raises(ValueError, match="Unwrap UV"):
        run_node("H3DBakeTexture", mesh=_sphere(), views=torch.rand(6, 32, 32, 3), cameras=cameras,
                  texture_size=64, max_angle=75.0, cos_power=4.0, backend="torch")
    baked, _, _ = run_node("H3DBakeTexture", mesh=unwrapped, views=torch.rand(6, 32, 32, 3), cameras=cameras,
                            texture_size=64, max_angle=75.0, cos_power=4.0, backend="torch")
    with pytest.raises(ValueError, match="coverage mask"):
        run_node("H3DInpaintTexture", mesh=baked, coverage=torch.ones(1, 32, 32))


def test_project_texture_paints_the_front_with_the_image():
    image, mask = _object_image()
    mesh, texture, coverage = run_node("H3DProjectTexture", mesh=_sphere(), image=image, texture_size=64,
                                        render_size=64, mask_convention="object is 1", backend="torch",
                                        image_azimuth=0.0, image_elevation=0.0, mask=mask)
    (textured,) = mesh.meshes
    assert textured.uvs is not None and texture.shape == (1, 64, 64, 3)
    covered = coverage[0] > 0.5
    assert covered.any()
    torch.testing.assert_close(texture[0][covered].mean(0), torch.tensor([0.8, 0.2, 0.1]), atol=0.02, rtol=0)


def test_project_texture_puts_the_image_at_the_pose_given(unwrapped):
    image, mask = _object_image()
    coverages = [
        run_node("H3DProjectTexture", mesh=unwrapped, image=image, texture_size=64, render_size=64,
                  mask_convention="object is 1", backend="torch", image_azimuth=azimuth,
                  image_elevation=0.0, mask=mask)[2][0] > 0.5
        for azimuth in (0.0, 90.0)
    ]
    # A quarter turn round the sphere: the texels seen overlap in only part.
    overlap = (coverages[0] & coverages[1]).sum() / coverages[0].sum()
    assert coverages[1].any() and overlap < 0.8


def test_save_mesh_embeds_the_texture(environment, unwrapped):
    image, mask = _object_image()
    mesh, texture, _ = run_node("H3DProjectTexture", mesh=unwrapped, image=image, texture_size=64,
                                 render_size=64, mask_convention="object is 1", backend="torch",
                                 image_azimuth=0.0, image_elevation=0.0, mask=mask)
    saved = run_node("H3DSaveMesh", mesh=mesh, filename_prefix="texture_test/sphere", file_format="glb")
    loaded = trimesh.load(environment / "output" / saved["result"][0], force="mesh")
    pixels = np.asarray(loaded.visual.material.baseColorTexture.convert("RGB"))
    np.testing.assert_allclose(pixels / 255.0, texture[0].numpy(), atol=1 / 255)


# ---------------------------------------------------------------------------------------
# Paint and Delight


def test_paint_and_delight_folders_are_listed_and_loaded(environment):
    for node_id, name in (("H3DLoadPaintModel", "hunyuan3d-paint-v2-0"),
                          ("H3DLoadDelightModel", "hunyuan3d-delight-v2-0")):
        assert NODES[node_id].INPUT_TYPES()["required"]["folder"][0] == [name]
        (first,) = run_node(node_id, folder=name, dtype="auto", device="cpu")
        (second,) = run_node(node_id, folder=name, dtype="auto", device="cpu")
        assert first is second  # cached while the folder is unchanged


def test_missing_paint_weights_say_where_the_folder_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path))
    for node_id, nothing, folder in (
            ("H3DLoadPaintModel", paint_nodes.NO_PAINT_FOUND, "hunyuan3d-paint-v2-0"),
            ("H3DLoadDelightModel", paint_nodes.NO_DELIGHT_FOUND, "hunyuan3d-delight-v2-0")):
        assert NODES[node_id].INPUT_TYPES()["required"]["folder"][0] == [nothing]
        with pytest.raises(FileNotFoundError, match=f"{folder}/ of huggingface.co/tencent/Hunyuan3D-2.*"
                                                    f"models/hunyuan3d/{folder}/"):
            run_node(node_id, folder=nothing, dtype="auto", device="cpu")


def _paint(environment, unwrapped, **changes):
    (model,) = run_node("H3DLoadPaintModel", folder="hunyuan3d-paint-v2-0", dtype="auto", device="cpu")
    normals, positions, cameras = _maps(unwrapped)
    image, _ = _object_image()
    inputs = dict(paint_model=model, reference=image, normal_maps=normals, position_maps=positions,
                  cameras=cameras, seed=3, steps=2, guidance=2.0, view_size=TINY_VIEW_SIZE)
    return run_node("H3DPaintMultiView", **{**inputs, **changes})


def test_paint_multiview_gives_one_repeatable_image_per_camera(environment, unwrapped):
    views, metallic_roughness = _paint(environment, unwrapped)
    assert views.shape == (6, TINY_VIEW_SIZE, TINY_VIEW_SIZE, 3) and views.dtype == torch.float32
    assert metallic_roughness.shape == (0, TINY_VIEW_SIZE, TINY_VIEW_SIZE, 3)  # Paint 2.0 paints none
    assert 0 <= views.min() and views.max() <= 1
    torch.testing.assert_close(_paint(environment, unwrapped)[0], views, atol=0, rtol=0)
    with pytest.raises(ValueError, match="same Render Geometry Maps"):
        _paint(environment, unwrapped, normal_maps=torch.rand(5, 64, 64, 3))


def test_paint_multiview_reports_progress_and_stops_on_interrupt(environment, unwrapped, monkeypatch):
    updates = _fake_comfy(monkeypatch, interrupt_after=None)
    _paint(environment, unwrapped, steps=3)
    assert updates == [(1, 3), (2, 3), (3, 3)]
    updates = _fake_comfy(monkeypatch, interrupt_after=3)
    with pytest.raises(_Interrupted):
        _paint(environment, unwrapped, steps=20)
    assert len(updates) < 5


def test_delight_keeps_the_object_and_whitens_the_background(environment):
    (pipeline,) = run_node("H3DLoadDelightModel", folder="hunyuan3d-delight-v2-0", dtype="auto", device="cpu")
    image, mask = _object_image()
    (unlit,) = run_node("H3DDelightImage", delight_model=pipeline, image=image, seed=42, steps=2,
                         image_guidance=1.5, guidance=1.0, size=64, mask_convention="background is 1 (LoadImage)",
                         mask=1 - mask)
    assert unlit.shape == (1, 64, 64, 3)
    assert unlit[0][mask[0] == 0].eq(1).all()
    assert unlit[0][mask[0] > 0].lt(1).any()


def test_paint_and_delight_bring_their_networks_to_the_gpu_and_park_them_after(environment, unwrapped,
                                                                             monkeypatch):
    (paint_model,) = run_node("H3DLoadPaintModel", folder="hunyuan3d-paint-v2-0", dtype="auto", device="cpu")
    (pipeline,) = run_node("H3DLoadDelightModel", folder="hunyuan3d-delight-v2-0", dtype="auto", device="cpu")
    image, mask = _object_image()
    normals, positions, cameras = _maps(unwrapped)
    events = _comfy_that_offloads(monkeypatch)
    _record_moves(monkeypatch, events)
    cuda = torch.device("cuda")
    comfy_runtime.park(cuda, paint_model.unet, paint_model.vae)
    comfy_runtime.park(cuda, pipeline.unet, pipeline.vae, pipeline.text_encoder)
    run_node("H3DPaintMultiView", paint_model=paint_model, reference=image, normal_maps=normals,
              position_maps=positions, cameras=cameras, seed=3, steps=2, guidance=2.0, view_size=TINY_VIEW_SIZE)
    run_node("H3DDelightImage", delight_model=pipeline, image=image.expand(2, -1, -1, -1), seed=42, steps=2,
              image_guidance=1.5, guidance=1.0, size=64, mask_convention="background is 1 (LoadImage)",
              mask=1 - mask)
    moves = [event[1:] for event in events if event[0] == "to"]
    paint_unet, paint_vae = type(paint_model.unet).__name__, type(paint_model.vae).__name__
    assert moves[:2] == [(paint_unet, "cuda"), (paint_vae, "cuda")]
    assert moves[2:4] == [(paint_unet, "cpu"), (paint_vae, "cpu")]
    delight_names = [type(network).__name__ for network in (pipeline.unet, pipeline.vae, pipeline.text_encoder)]
    # One trip for the whole batch of two images.
    assert moves[4:] == [(name, "cuda") for name in delight_names] + [(name, "cpu") for name in delight_names]


# ---------------------------------------------------------------------------------------
# Workflows


def _small(api: dict) -> dict:
    for node in api.values():
        for key, value in SMALL.items():
            if key in node["inputs"]:
                node["inputs"][key] = value
    return api


def _textured(runner, api, environment) -> trimesh.Trimesh:
    loaded = _check_saved(runner, api, environment)
    image = loaded.visual.material.baseColorTexture
    assert image is not None and image.size == (64, 64)
    return loaded


def test_image_to_projected_texture_runs(environment):
    api = _small(_api("hunyuan3d_image_to_projected_texture"))
    runner, _ = _run_with_a_crossed_level(api)
    _textured(runner, api, environment)


def test_image_to_textured_mesh_runs(environment):
    api = _small(_api("hunyuan3d_image_to_textured_mesh"))
    runner, outputs = _run_with_a_crossed_level(api)
    views = outputs[_node_of(api, "H3DPaintMultiView")][0]
    assert views.shape == (6, TINY_VIEW_SIZE, TINY_VIEW_SIZE, 3)
    _textured(runner, api, environment)


def test_texture_existing_mesh_runs(environment):
    api = _small(_api("hunyuan3d_texture_existing_mesh"))
    runner = GraphRunner({**NODES, **STAND_INS})
    runner.run(api)
    _textured(runner, api, environment)
