"""The shipped workflows: valid UI-format graphs of known nodes with matching links and
widget values, and, where their nodes are ours (plus stand-ins for a few core nodes), they
run end to end on tiny random models (the demo workflow on the demo model that ships
with the pack)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from core_nodes import CORE_NODES, FILE_COMBO, FRONTEND_ONLY
from graph_runner import (
    REPO_ROOT,
    PAINT_PBR_21_FOLDER,
    SEED_CONTROL_VALUES,
    SHAPE_21_FOLDER,
    GraphRunner,
    declaration,
    declared_inputs,
    is_widget,
    load_pack,
    output_types,
    pack_module,
    widget_slots,
    workflow_to_api,
    write_paint_pbr_21_models,
    write_tiny_models,
)
from hy3d_core.cli import main as cli_main
from hy3d_core.demo import DEMO_SHAPE_DEFAULTS
from shared_fixtures import PAINT_PBR_21, SHAPE_21, fixture_dir

OURS = load_pack().NODE_CLASS_MAPPINGS
DEMO_CHOICE = pack_module("nodes.model_files").DEMO_CHOICE
WORKFLOWS = sorted((REPO_ROOT / "workflows").glob("*.json"))
EXAMPLES = REPO_ROOT / "examples"
# Small enough for a slow shared CPU: few steps, a 17^3 grid, small images.
FAST = {"steps": 2, "octree_resolution": 16, "size": 64, "width": 128, "height": 128}


def _ellipse_rgba(height: int, width: int, centre: tuple[int, int], radii: tuple[int, int], colour) -> np.ndarray:
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    yy, xx = np.mgrid[:height, :width]
    inside = ((yy - centre[0]) / radii[0]) ** 2 + ((xx - centre[1]) / radii[1]) ** 2 < 1
    rgba[..., 0] = (xx * 2) % 255
    rgba[..., 1] = colour
    rgba[..., 2] = (yy * 3) % 255
    rgba[..., 3] = np.where(inside, 255, 0)
    return rgba


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """Model, input and output folders as the nodes find them outside ComfyUI."""
    root = tmp_path_factory.mktemp("comfy")
    write_tiny_models(root / "models")
    write_paint_pbr_21_models(root / "models" / "hunyuan3d")
    inputs = root / "input"
    inputs.mkdir()
    # What the workflows' notes say to copy from examples/, and stand-ins for the files
    # they leave to the user (tests/nodes/test_workflow_inputs.py keeps the two apart).
    for example in EXAMPLES.glob("*.png"):
        shutil.copy(example, inputs / example.name)
    for name, centre, radii, colour in (("your_photo", (40, 70), (30, 22), 120), ("front", (48, 64), (30, 20), 60),
                                        ("left", (48, 64), (30, 12), 90), ("back", (50, 60), (28, 20), 200)):
        Image.fromarray(_ellipse_rgba(96, 128, centre, radii, colour), "RGBA").save(inputs / f"{name}.png")
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(inputs / "your_mesh.glb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HY3D_MODELS_DIR", str(root / "models"))
        patch.setenv("HY3D_INPUT_DIR", str(inputs))
        patch.setenv("HY3D_OUTPUT_DIR", str(root / "output"))
        patch.setenv("U2NET_HOME", str(root / "no-rembg"))
        yield root


def _needs_fixture(workflow_name: str) -> None:
    """The 2.1 workflows run on the 2.1 oracles' tiny folders: skip (fail on CI) without them."""
    if workflow_name.startswith("hunyuan3d21_"):
        fixture_dir(SHAPE_21)
    if "pbr" in workflow_name:
        fixture_dir(PAINT_PBR_21)


# ---------------------------------------------------------------------------------------
# Static checks


def test_the_use_cases_are_all_shipped():
    assert {path.stem for path in WORKFLOWS} == {
        "hunyuan3d_image_to_mesh", "hunyuan3d_multiview_to_mesh", "hunyuan3d_text_to_image_to_mesh",
        "hunyuan3d_sample_then_core_decode", "hunyuan3d_mesh_cleanup", "hunyuan3d_mesh_round_trip",
        "hunyuan3d_image_to_projected_texture", "hunyuan3d_image_to_textured_mesh",
        "hunyuan3d_texture_existing_mesh", "hunyuan3d_demo_image_to_mesh", "hunyuan3d21_image_to_mesh",
        "hunyuan3d21_image_to_pbr_mesh",
    }


def _check_value(where: str, role: str, spec: tuple, value) -> None:
    kind, options = spec[0], spec[1]
    if role == "control":
        assert value in SEED_CONTROL_VALUES, where
    elif role == "upload":
        assert value == "image", where
    elif kind == FILE_COMBO:
        assert isinstance(value, str) and value, where
    elif isinstance(kind, (list, tuple)):
        assert value in kind, f"{where}: {value!r} is not one of {kind}"
    elif kind in ("INT", "FLOAT"):
        number = int if kind == "INT" else (int, float)
        assert isinstance(value, number) and not isinstance(value, bool), where
        assert options.get("min", value) <= value <= options.get("max", value), where
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), where
    else:
        assert kind == "STRING" and isinstance(value, str), where


def _check_links(workflow: dict, nodes: dict) -> None:
    for link_id, from_id, from_slot, to_id, to_slot, link_type in workflow["links"]:
        source, target = nodes[from_id], nodes[to_id]
        assert output_types(source["type"], OURS)[from_slot] == link_type, f"link {link_id}"
        assert link_id in source["outputs"][from_slot]["links"], f"link {link_id}"
        socket = target["inputs"][to_slot]
        assert socket["link"] == link_id and socket["type"] == link_type, f"link {link_id}"
        declared = dict(declared_inputs(declaration(target["type"], OURS)))
        assert declared[socket["name"]][0] == link_type, f"link {link_id} into {target['type']}.{socket['name']}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.stem)
def test_workflow_is_a_valid_graph(path, environment):
    _needs_fixture(path.stem)
    workflow = json.loads(path.read_text())
    nodes = {node["id"]: node for node in workflow["nodes"]}
    assert len(nodes) == len(workflow["nodes"])
    assert workflow["last_node_id"] == max(nodes) and workflow["last_link_id"] == len(workflow["links"])
    notes = [node for node in workflow["nodes"] if node["type"] in FRONTEND_ONLY]
    assert notes and any("models/" in node["widgets_values"][0] or "No weights" in node["widgets_values"][0]
                         for node in notes)
    for node in workflow["nodes"]:
        if node["type"] in FRONTEND_ONLY:
            continue
        assert node["type"] in OURS or node["type"] in CORE_NODES, node["type"]
        declared = declaration(node["type"], OURS)
        slots = widget_slots(declared)
        values = node["widgets_values"]
        assert len(values) == len(slots), f"{node['type']} #{node['id']}: widget values {values}"
        for (name, role, spec), value in zip(slots, values):
            _check_value(f"{node['type']} #{node['id']}.{name}", role, spec, value)
        linked = {socket["name"] for socket in node["inputs"] if socket["link"] is not None}
        for name, spec in declared.get("required", {}).items():
            if not is_widget(spec):
                assert name in linked, f"{node['type']} #{node['id']}: required input {name} is not connected"
        assert len(node["outputs"]) == len(output_types(node["type"], OURS))
    _check_links(workflow, nodes)


# ---------------------------------------------------------------------------------------
# Running them


class LoadImageStandIn:
    """Core LoadImage: RGB image, mask = 1 - alpha (a 64x64 zero mask without alpha)."""

    FUNCTION = "load"

    def load(self, image):
        import os

        pixels = np.asarray(Image.open(Path(os.environ["HY3D_INPUT_DIR"]) / image)).astype(np.float32) / 255
        rgb = torch.from_numpy(pixels[..., :3].copy())[None]
        if pixels.shape[-1] == 4:
            return rgb, 1.0 - torch.from_numpy(pixels[..., 3].copy())[None]
        return rgb, torch.zeros(1, 64, 64)


class ShowStandIn:
    """Core PreviewImage / Preview3D: remembers what it was given."""

    FUNCTION = "show"

    def show(self, **inputs):
        return {"ui": inputs, "result": ()}


class TextToImageStandIns:
    """Core CheckpointLoaderSimple ... VAEDecode, ending in a rendered object on white."""

    class Checkpoint:
        FUNCTION = "load"

        def load(self, ckpt_name):
            return (None, None, None)

    class Encode:
        FUNCTION = "encode"

        def encode(self, text, clip):
            return ([],)

    class EmptyLatent:
        FUNCTION = "make"

        def make(self, width, height, batch_size):
            return ({"samples": torch.zeros(batch_size, 4, height // 8, width // 8)},)

    class Sampler:
        FUNCTION = "sample"

        def sample(self, latent_image, **_):
            return (latent_image,)

    class Decode:
        FUNCTION = "decode"

        def decode(self, samples, vae):
            height, width = (8 * size for size in samples["samples"].shape[-2:])
            rgba = _ellipse_rgba(height, width, (height // 2, width // 2), (height // 3, width // 4), 90)
            alpha = rgba[..., 3:].astype(np.float32) / 255
            rgb = rgba[..., :3].astype(np.float32) / 255 * alpha + (1 - alpha)
            return (torch.from_numpy(rgb)[None],)


STAND_INS = {
    "LoadImage": LoadImageStandIn, "PreviewImage": ShowStandIn, "Preview3D": ShowStandIn,
    "CheckpointLoaderSimple": TextToImageStandIns.Checkpoint, "CLIPTextEncode": TextToImageStandIns.Encode,
    "EmptyLatentImage": TextToImageStandIns.EmptyLatent, "KSampler": TextToImageStandIns.Sampler,
    "VAEDecode": TextToImageStandIns.Decode,
}


def _api(name: str) -> dict:
    workflow = json.loads((REPO_ROOT / "workflows" / f"{name}.json").read_text())
    api = workflow_to_api(workflow, OURS)
    for node in api.values():
        for key, value in FAST.items():
            if key in node["inputs"] and not isinstance(node["inputs"][key], list):
                node["inputs"][key] = value
    return api


def _node_of(api: dict, class_type: str) -> str:
    (node_id,) = [node_id for node_id, node in api.items() if node["class_type"] == class_type]
    return node_id


def _run_with_a_crossed_level(api: dict) -> tuple[GraphRunner, dict]:
    """Random weights put the surface at any level: decode first, then extract at the
    field's median, reusing everything decoded (the runner caches as ComfyUI does)."""
    runner = GraphRunner({**OURS, **STAND_INS})
    decode = _node_of(api, "H3DDecodeShapeVolume")
    voxel = runner.run(api, targets=[decode])[decode][0]
    level = float(voxel.logits[torch.isfinite(voxel.logits)].median())
    api[_node_of(api, "H3DExtractSurface")]["inputs"]["level"] = level
    outputs = runner.run(api)
    assert runner.executed and decode not in runner.executed
    return runner, outputs


def _check_saved(runner: GraphRunner, api: dict, environment: Path) -> trimesh.Trimesh:
    save = _node_of(api, "H3DSaveMesh")
    (entry,) = runner.ui[save]["3d"]
    relative = f"{entry['subfolder']}/{entry['filename']}"
    assert runner.ui[_node_of(api, "Preview3D")]["model_file"] == relative
    loaded = trimesh.load(environment / "output" / relative, force="mesh")
    assert len(loaded.faces) > 0
    return loaded


@pytest.mark.parametrize("name", ["hunyuan3d_image_to_mesh", "hunyuan3d_multiview_to_mesh",
                                  "hunyuan3d_text_to_image_to_mesh"])
def test_image_workflows_run_to_a_saved_mesh(name, environment):
    api = _api(name)
    runner, outputs = _run_with_a_crossed_level(api)
    latent = outputs[_node_of(api, "H3DSampleShape")][0]
    assert latent["type"] == "hunyuan3dv2" and latent["samples"].shape == (1, 8, 32)
    _check_saved(runner, api, environment)


def test_the_2_1_workflow_runs_to_a_saved_mesh(environment):
    """On the 2.1 oracle's tiny release folder, placed where the workflow's note says."""
    _needs_fixture("hunyuan3d21_image_to_mesh")
    api = _api("hunyuan3d21_image_to_mesh")
    assert api[_node_of(api, "H3DLoadShapeModel")]["inputs"]["model_name"] == SHAPE_21_FOLDER
    runner, outputs = _run_with_a_crossed_level(api)
    latent = outputs[_node_of(api, "H3DSampleShape")][0]
    assert latent["type"] == "hunyuan3dv2" and latent["samples"].shape == (1, 64, 128)
    _check_saved(runner, api, environment)


def test_the_2_1_pbr_workflow_runs_to_a_saved_pbr_glb(environment):
    """Shape, Paint 2.1 and both bakes on the 2.1 oracles' tiny folders, placed where the
    workflow's note says (the paint model's 64-pixel views, small renders and texture)."""
    _needs_fixture("hunyuan3d21_image_to_pbr_mesh")
    api = _api("hunyuan3d21_image_to_pbr_mesh")
    assert api[_node_of(api, "H3DLoadShapeModel")]["inputs"]["model_name"] == SHAPE_21_FOLDER
    assert api[_node_of(api, "H3DLoadPaintModel")]["inputs"]["folder"] == PAINT_PBR_21_FOLDER
    shipped = workflow_to_api(json.loads((REPO_ROOT / "workflows" / "hunyuan3d21_image_to_pbr_mesh.json").read_text()),
                              OURS)
    paint = shipped[_node_of(shipped, "H3DPaintMultiView")]["inputs"]
    assert (paint["steps"], paint["guidance"], paint["view_size"]) == (15, 3.0, 512)  # the release's
    api[_node_of(api, "H3DPaintMultiView")]["inputs"].update(view_size=64)
    api[_node_of(api, "H3DLoadPaintModel")]["inputs"].update(dtype="float32", device="cpu")
    api[_node_of(api, "H3DRenderPbrConditionMaps")]["inputs"].update(
        view_size=64, render_size=64, selection_resolution=64, backend="torch")
    api[_node_of(api, "H3DBakeTexture")]["inputs"].update(texture_size=64, render_size=64, backend="torch")
    api[_node_of(api, "H3DUnwrapUV")]["inputs"].update(atlas_resolution=128)
    runner, outputs = _run_with_a_crossed_level(api)
    albedo, metallic_roughness = outputs[_node_of(api, "H3DPaintMultiView")]
    assert albedo.shape == metallic_roughness.shape and albedo.shape[1:] == (64, 64, 3) and albedo.shape[0] >= 6
    loaded = _check_saved(runner, api, environment)
    material = loaded.visual.material
    assert material.baseColorTexture is not None and material.metallicRoughnessTexture is not None
    assert material.metallicRoughnessTexture.size == (64, 64)


def test_mesh_round_trip_runs(environment):
    api = _api("hunyuan3d_mesh_round_trip")
    runner, outputs = _run_with_a_crossed_level(api)
    assert outputs[_node_of(api, "H3DEncodeMesh")][0]["samples"].shape == (1, 8, 32)
    _check_saved(runner, api, environment)


def test_mesh_cleanup_runs(environment):
    api = _api("hunyuan3d_mesh_cleanup")
    runner = GraphRunner({**OURS, **STAND_INS})
    runner.run(api)
    loaded = _check_saved(runner, api, environment)
    assert len(loaded.faces) == 12  # a box: nothing to clean, nothing to decimate


def test_sampling_for_comfys_decoder_runs_from_a_single_file(environment):
    """The part before ComfyUI's own decoder, with the model read from checkpoints/ (no
    config.yaml there: the networks are read off the tensor shapes)."""
    api = _api("hunyuan3d_sample_then_core_decode")
    sample = _node_of(api, "H3DSampleShape")
    latent = GraphRunner({**OURS, **STAND_INS}).run(api, targets=[sample])[sample][0]
    assert latent["type"] == "hunyuan3dv2" and latent["samples"].shape[1] == 8


# ---------------------------------------------------------------------------------------
# The demo workflow, with the model that ships with the pack


def _demo_api() -> dict:
    """The demo workflow as shipped (no tiny-model overrides: its model is the real one)."""
    workflow = json.loads((REPO_ROOT / "workflows" / "hunyuan3d_demo_image_to_mesh.json").read_text())
    return workflow_to_api(workflow, OURS)


def test_the_demo_workflow_has_the_demo_models_settings():
    api = _demo_api()
    defaults = DEMO_SHAPE_DEFAULTS
    assert api[_node_of(api, "H3DLoadShapeModel")]["inputs"]["model_name"] == DEMO_CHOICE
    sample = api[_node_of(api, "H3DSampleShape")]["inputs"]
    assert (sample["steps"], sample["guidance"]) == (defaults.steps, defaults.guidance)
    decode = api[_node_of(api, "H3DDecodeShapeVolume")]["inputs"]
    assert (decode["decoder"], decode["octree_resolution"]) == (defaults.decoder, defaults.octree_resolution)
    assert api[_node_of(api, "H3DPostprocessMesh")]["inputs"]["max_faces"] == defaults.max_faces
    assert api[_node_of(api, "LoadImage")]["inputs"]["image"] == "demo_box.png"


@pytest.mark.slow
def test_the_demo_workflow_makes_the_shape_commands_mesh(environment, tmp_path):
    """The graph and ``python -m hy3d_core shape`` on the example give one mesh (on a
    coarser grid than shipped, to keep the test short; the other settings as shipped)."""
    api = _demo_api()
    api[_node_of(api, "H3DDecodeShapeVolume")]["inputs"]["octree_resolution"] = 64
    runner = GraphRunner({**OURS, **STAND_INS})
    runner.run(api)
    from_graph = _check_saved(runner, api, environment)
    out = tmp_path / "demo_box.glb"
    assert cli_main(["shape", "--image", str(EXAMPLES / "demo_box.png"), "--out", str(out),
                     "--octree-resolution", "64"]) == 0
    from_command = trimesh.load(out, force="mesh")
    assert len(from_graph.faces) > 1000
    np.testing.assert_array_equal(from_graph.faces, from_command.faces)
    np.testing.assert_allclose(from_graph.vertices, from_command.vertices, atol=1e-6)
