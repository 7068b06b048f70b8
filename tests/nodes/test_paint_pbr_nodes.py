"""Hunyuan3D-Paint 2.1 PBR through the nodes, on the 2.1 oracle's tiny folders: Load Paint
Model on a 2.1 folder (and its missing-DINOv2 error), Render PBR Condition Maps, Paint
Multi-View's albedo and metallic-roughness batches, Bake Texture with both (with and
without a core upscale model), Inpaint Texture and Save Mesh's PBR GLB."""

import shutil

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from graph_runner import DINO_21_FOLDER as DINO_NAME
from graph_runner import pack_module, run_node, write_paint_pbr_21_models
from paint_pbr_fixture import MODEL_FOLDER, VIEW_SIZE, fixture_images, paint_pbr_fixture, reference_on_white
from test_node_behaviour import _fake_comfy, _Interrupted
from tiny_paint import flush_denormals  # noqa: F401 - a fixture

Mesh = pack_module("hy3d_core.geometry.mesh").Mesh
H3DMesh = pack_module("nodes.node_types").H3DMesh
PaintPbrModel = pack_module("hy3d_core.models.paint_model").PaintPbrModel
paint_pbr_views = pack_module("hy3d_core.sampling.paint_pbr_sampling").paint_pbr_views
select_and_render_views = pack_module("hy3d_core.pipelines.paint_pbr").select_and_render_views
orbit_cameras = pack_module("hy3d_core.render.cameras").orbit_cameras
paint_nodes = pack_module("nodes.paint_nodes")
model_files = pack_module("nodes.model_files")

TEXTURE = 64
ALBEDO = (0.2, 0.4, 0.6)
METALLIC, ROUGHNESS = 0.25, 0.75


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """The oracle laid out as a user would: both folders in models/hunyuan3d/, side by side."""
    paint_pbr_fixture()  # skips (fails on CI) without the oracle
    root = tmp_path_factory.mktemp("models")
    assert set(write_paint_pbr_21_models(root / "hunyuan3d")) == {MODEL_FOLDER, DINO_NAME}
    return root


def _load(dino_folder=None):
    return run_node("H3DLoadPaintModel", folder=MODEL_FOLDER, dtype="float32", device="cpu",
                    dino_folder=dino_folder)[0]


@pytest.fixture(scope="module")
def unwrapped():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    (mesh,) = run_node("H3DUnwrapUV", mesh=H3DMesh.of([Mesh(sphere.vertices, sphere.faces)]), atlas_resolution=128,
                       padding=2, keep_existing_uvs=False)
    return mesh


def _pbr_maps(mesh, **changes):
    inputs = dict(mesh=mesh, max_views=6, view_size=32, render_size=64, selection_resolution=64, backend="torch")
    return run_node("H3DRenderPbrConditionMaps", **{**inputs, **changes})


# ---------------------------------------------------------------------------------------
# Loading


def test_a_2_1_folder_and_its_dino_are_offered_and_load(folders):
    assert MODEL_FOLDER in paint_nodes.LoadPaintModel.INPUT_TYPES()["required"]["folder"][0]
    assert model_files.dino_folder_choices() == [model_files.AUTO_DINO, DINO_NAME]
    found = _load()  # auto: the dinov2-giant beside the paint folder
    assert isinstance(found, PaintPbrModel) and found.path.name == MODEL_FOLDER
    picked = _load(DINO_NAME)
    assert isinstance(picked, PaintPbrModel) and picked.dino.width == found.dino.width
    with pytest.raises(FileNotFoundError, match="dinov2-giant"):
        _load("dinov2-large")


def test_a_missing_dino_is_a_one_line_error_before_any_weights_load(tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(paint_pbr_fixture() / MODEL_FOLDER, models / "hunyuan3d" / MODEL_FOLDER)
    monkeypatch.setenv("HY3D_MODELS_DIR", str(models))
    loaded = []
    monkeypatch.setattr(paint_nodes, "load_paint_pbr_model", lambda *args, **kwargs: loaded.append(args))
    with pytest.raises(ValueError, match="needs DINOv2-giant") as error:
        _load()
    message = str(error.value)
    assert "\n" not in message and "facebook/dinov2-giant" in message
    assert str(models / "hunyuan3d" / DINO_NAME) in message  # where it goes
    assert loaded == []


# ---------------------------------------------------------------------------------------
# Cameras and maps


def test_render_pbr_condition_maps_is_the_release_selection_and_maps(unwrapped):
    normals, positions, cameras = _pbr_maps(unwrapped, max_views=9)
    assert 6 <= len(cameras) <= 9 and normals.shape == positions.shape == (len(cameras), 32, 32, 3)
    # the release always keeps Paint 2.0's six views with their bake weights
    assert cameras.azimuths[:6] == (0.0, 90.0, 180.0, 270.0, 0.0, 180.0)
    assert cameras.weights[:6] == (1.0, 0.1, 0.5, 0.1, 0.05, 0.05)
    expected_cameras, expected = select_and_render_views(
        unwrapped.meshes[0], max_views=9, view_size=32, render_size=64, selection_resolution=64, backend="torch")
    assert cameras.azimuths == expected_cameras.azimuths and cameras.elevations == expected_cameras.elevations
    torch.testing.assert_close(normals, expected.normal, atol=0, rtol=0)
    torch.testing.assert_close(positions, expected.position, atol=0, rtol=0)


# ---------------------------------------------------------------------------------------
# Painting


@pytest.mark.usefixtures("flush_denormals")
def test_paint_multiview_gives_the_albedo_and_metallic_roughness_of_paint_pbr_views(folders, monkeypatch):
    model = _load()
    rgba, normals, positions = fixture_images()
    reference = torch.from_numpy(reference_on_white().astype(np.float32) / 255)[None]
    cameras = orbit_cameras([0.0, 90.0, 180.0, 270.0], [0.0] * 4, [1.0] * 4)
    updates = _fake_comfy(monkeypatch, interrupt_after=None)
    albedo, metallic_roughness = run_node(
        "H3DPaintMultiView", paint_model=model, reference=reference, normal_maps=normals, position_maps=positions,
        cameras=cameras, seed=0, steps=3, guidance=3.0, view_size=VIEW_SIZE)
    assert updates == [(1, 3), (2, 3), (3, 3)]
    assert albedo.shape == metallic_roughness.shape == (4, VIEW_SIZE, VIEW_SIZE, 3)
    direct = paint_pbr_views(model, reference[0], normals, positions, steps=3, guidance=3.0, seed=0,
                             view_size=VIEW_SIZE)
    torch.testing.assert_close(albedo, direct.albedo, atol=0, rtol=0)
    torch.testing.assert_close(metallic_roughness, direct.metallic_roughness, atol=0, rtol=0)
    # and they are the release's images: its mr views (metallic R, roughness G), not the albedo
    recorded = _recorded_images()
    for got, name in ((albedo, "albedo"), (metallic_roughness, "mr")):
        levels = (got * 255).round().to(torch.int32) - recorded[name]
        assert levels.abs().max() <= 1, name
    assert (metallic_roughness - albedo).abs().max() > 0.1
    _fake_comfy(monkeypatch, interrupt_after=2)
    with pytest.raises(_Interrupted):
        run_node("H3DPaintMultiView", paint_model=model, reference=reference, normal_maps=normals,
                 position_maps=positions, cameras=cameras, seed=0, steps=15, guidance=3.0, view_size=VIEW_SIZE)


def _recorded_images() -> dict[str, torch.Tensor]:
    """The oracle's 3-step albedo and mr views (uint8 levels), as Tencent's code wrote them."""
    folder = paint_pbr_fixture()
    return {name: torch.stack([torch.from_numpy(np.array(Image.open(folder / f"{name}_{view}.png").convert("RGB")))
                               .to(torch.int32) for view in range(4)])
            for name in ("albedo", "mr")}


# ---------------------------------------------------------------------------------------
# Baking, inpainting, saving


def _constant(count: int, colour, size: int = 16) -> torch.Tensor:
    return torch.tensor(colour, dtype=torch.float32).expand(count, size, size, 3).clone()


def _bake(mesh, cameras, views, **optional):
    return run_node("H3DBakeTexture", mesh=mesh, views=views, cameras=cameras, texture_size=TEXTURE,
                    max_angle=75.0, cos_power=4.0, backend="torch", **optional)


class FakeUpscaleModel:
    """What core Load Upscale Model gives (a spandrel ImageModelDescriptor), as core's Upscale
    Image (using Model) uses it: ``.scale``, ``.to(device)`` and a call on [B, 3, H, W] in 0..1.
    It doubles the size and inverts the colours, so the bake must show its output."""

    scale = 2

    def __init__(self):
        self.calls, self.devices = [], []

    def to(self, device):
        self.devices.append(torch.device(device))
        return self

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(pixels.shape))
        return 1.0 - pixels.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


def test_bake_texture_bakes_albedo_and_metallic_roughness_and_inpaint_fills_both(unwrapped, tmp_path, monkeypatch):
    _, _, cameras = _pbr_maps(unwrapped)
    count = len(cameras)
    baked, texture, coverage = _bake(unwrapped, cameras, _constant(count, ALBEDO),
                                     metallic_roughness=_constant(count, (METALLIC, ROUGHNESS, 0.5)), render_size=48)
    (item,) = baked.meshes
    covered = coverage[0].numpy() > 0.5
    assert item.metallic_roughness.shape == (TEXTURE, TEXTURE, 2) and 0.2 < covered.mean() < 1.0
    np.testing.assert_allclose(item.texture[covered], np.broadcast_to(ALBEDO, (covered.sum(), 3)), atol=1e-5)
    np.testing.assert_allclose(item.metallic_roughness[covered],
                               np.broadcast_to((METALLIC, ROUGHNESS), (covered.sum(), 2)), atol=1e-5)
    assert not item.metallic_roughness[~covered].any()  # left for Inpaint Texture
    torch.testing.assert_close(texture[0], torch.from_numpy(item.texture))

    filled, _ = run_node("H3DInpaintTexture", mesh=baked, coverage=coverage)
    (painted,) = filled.meshes
    np.testing.assert_allclose(painted.metallic_roughness[..., 0], METALLIC, atol=1 / 255)
    np.testing.assert_allclose(painted.metallic_roughness[..., 1], ROUGHNESS, atol=1 / 255)

    monkeypatch.setenv("HY3D_OUTPUT_DIR", str(tmp_path))
    saved = run_node("H3DSaveMesh", mesh=filled, filename_prefix="pbr/ball", file_format="glb")
    (entry,) = saved["ui"]["3d"]
    material = trimesh.load(tmp_path / entry["subfolder"] / entry["filename"], force="mesh").visual.material
    assert material.baseColorTexture is not None and material.metallicRoughnessTexture is not None
    packed = np.asarray(material.metallicRoughnessTexture.convert("RGB")).astype(np.float32) / 255
    np.testing.assert_allclose(packed[..., 1], ROUGHNESS, atol=1.5 / 255)  # glTF: roughness in G
    np.testing.assert_allclose(packed[..., 2], METALLIC, atol=1.5 / 255)  # metallic in B
    colour = np.asarray(material.baseColorTexture.convert("RGB")).astype(np.float32) / 255
    np.testing.assert_allclose(colour.reshape(-1, 3).mean(axis=0), ALBEDO, atol=2 / 255)


def test_bake_texture_upscales_the_views_with_a_core_upscale_model(unwrapped):
    _, _, cameras = _pbr_maps(unwrapped)
    count = len(cameras)
    upscaler = FakeUpscaleModel()
    baked, _, coverage = _bake(unwrapped, cameras, _constant(count, ALBEDO),
                               metallic_roughness=_constant(count, (METALLIC, ROUGHNESS, 0.0)),
                               upscale_model=upscaler, render_size=48)
    assert upscaler.calls == [(1, 3, 16, 16)] * (2 * count)  # every view of both materials
    (item,) = baked.meshes
    covered = coverage[0].numpy() > 0.5
    np.testing.assert_allclose(item.texture[covered], 1 - np.broadcast_to(ALBEDO, (covered.sum(), 3)), atol=1e-5)
    np.testing.assert_allclose(item.metallic_roughness[covered],
                               1 - np.broadcast_to((METALLIC, ROUGHNESS), (covered.sum(), 2)), atol=1e-5)
    # Paint 2.0's views (no metallic-roughness) are upscaled too
    upscaler = FakeUpscaleModel()
    baked, _, _ = _bake(unwrapped, cameras, _constant(count, ALBEDO), upscale_model=upscaler, render_size=48)
    assert len(upscaler.calls) == count and baked.meshes[0].metallic_roughness is None
    np.testing.assert_allclose(baked.meshes[0].texture[covered], 1 - np.broadcast_to(ALBEDO, (covered.sum(), 3)),
                               atol=1e-5)


def test_an_empty_metallic_roughness_batch_is_paint_2_0s_and_bakes_colour_only(unwrapped):
    _, _, cameras = _pbr_maps(unwrapped)
    count = len(cameras)
    views = _constant(count, ALBEDO)
    alone, texture, coverage = _bake(unwrapped, cameras, views)
    with_empty, empty_texture, empty_coverage = _bake(unwrapped, cameras, views,
                                                      metallic_roughness=views.new_zeros((0, 16, 16, 3)))
    assert with_empty.meshes[0].metallic_roughness is None
    torch.testing.assert_close(empty_texture, texture, atol=0, rtol=0)
    torch.testing.assert_close(empty_coverage, coverage, atol=0, rtol=0)
    with pytest.raises(ValueError, match="5 metallic-roughness images for 6 cameras"):
        _bake(unwrapped, cameras, views, metallic_roughness=views[:5])


def test_with_no_paint_folder_the_error_says_where_both_releases_go(tmp_path, monkeypatch):
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        run_node("H3DLoadPaintModel", folder=paint_nodes.NO_PAINT_FOUND, dtype="auto", device="cpu")
    message = str(error.value)
    assert "hunyuan3d-paint-v2-0/ of huggingface.co/tencent/Hunyuan3D-2 whole" in message
    assert f"{MODEL_FOLDER}/ of huggingface.co/tencent/Hunyuan3D-2.1 whole" in message
    assert f"models/hunyuan3d/{MODEL_FOLDER}/" in message
