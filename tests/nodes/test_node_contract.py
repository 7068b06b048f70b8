"""Every node class honours ComfyUI's V1 contract, so ComfyUI can list, draw and run it."""

import inspect

import pytest

from core_nodes import CORE_NODE_IDS
from graph_runner import declared_inputs, is_combo, is_widget, load_pack, pack_module

PACK = load_pack()
NODES = PACK.NODE_CLASS_MAPPINGS
OWN_TYPES = set(pack_module("nodes.node_types").OWN_TYPES)
SOCKET_TYPES = {"IMAGE", "MASK", "LATENT", "VOXEL", "MESH", "STRING", "UPSCALE_MODEL"} | OWN_TYPES  # core types and ours
EXPECTED_IDS = {
    "H3DRemoveBackground", "H3DPrepareImage", "H3DLoadShapeModel", "H3DLoadShapeVAE",
    "H3DEncodeImage", "H3DEncodeMultiView", "H3DSampleShape", "H3DDecodeShapeVolume",
    "H3DExtractSurface", "H3DPostprocessMesh", "H3DEncodeMesh", "H3DSaveMesh", "H3DLoadMesh",
}


def test_every_stage_has_its_node():
    assert EXPECTED_IDS <= set(NODES)
    assert set(PACK.NODE_DISPLAY_NAME_MAPPINGS) == set(NODES)


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_ids_and_names_collide_with_nothing(node_id):
    assert node_id.startswith("H3D") and not node_id.startswith("Hy3D")
    assert node_id not in CORE_NODE_IDS
    assert PACK.NODE_DISPLAY_NAME_MAPPINGS[node_id].startswith("Hunyuan3D ")


def _check_widget(name: str, spec: tuple) -> None:
    kind, options = spec[0], spec[1]
    if is_combo(spec):
        assert kind and all(isinstance(choice, str) for choice in kind), name
        assert options.get("default", kind[0]) in kind, name
    elif kind in ("INT", "FLOAT"):
        number = int if kind == "INT" else (int, float)
        for key in ("default", "min", "max"):
            assert isinstance(options.get(key), number) and not isinstance(options[key], bool), (name, key)
        assert options["min"] <= options["default"] <= options["max"], name
    elif kind == "BOOLEAN":
        assert isinstance(options.get("default"), bool), name
    else:
        assert kind == "STRING" and isinstance(options.get("default"), str), name


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_inputs_are_declared_completely(node_id):
    node_class = NODES[node_id]
    assert isinstance(inspect.getattr_static(node_class, "INPUT_TYPES"), classmethod)
    declared = node_class.INPUT_TYPES()
    assert set(declared) <= {"required", "optional", "hidden"} and "required" in declared
    for name, spec in declared_inputs(declared):
        assert isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict), name
        tooltip = spec[1].get("tooltip")
        assert isinstance(tooltip, str) and len(tooltip) > 10, f"{node_id}.{name} needs a tooltip"
        if is_widget(spec):
            _check_widget(f"{node_id}.{name}", spec)
        else:
            assert spec[0] in SOCKET_TYPES, f"{node_id}.{name}: unknown type {spec[0]}"


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_outputs_category_and_description(node_id):
    node_class = NODES[node_id]
    outputs = node_class.RETURN_TYPES
    assert isinstance(outputs, tuple) and outputs and set(outputs) <= SOCKET_TYPES
    assert len(node_class.RETURN_NAMES) == len(outputs)
    assert len(node_class.OUTPUT_TOOLTIPS) == len(outputs)
    assert all(isinstance(tip, str) and tip for tip in node_class.OUTPUT_TOOLTIPS)
    assert node_class.CATEGORY.startswith("Hunyuan3D/")
    assert isinstance(node_class.DESCRIPTION, str) and len(node_class.DESCRIPTION) > 30
    assert isinstance(getattr(node_class, "OUTPUT_NODE", False), bool)


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_function_parameters_match_the_inputs(node_id):
    node_class = NODES[node_id]
    declared = node_class.INPUT_TYPES()
    function = getattr(node_class, node_class.FUNCTION)
    parameters = dict(list(inspect.signature(function).parameters.items())[1:])
    assert set(parameters) == {name for name, _ in declared_inputs(declared)}
    for name in declared["required"]:
        assert parameters[name].default is inspect.Parameter.empty, name
    for name in declared.get("optional", {}):
        assert parameters[name].default is None, name
    if hasattr(node_class, "IS_CHANGED"):
        assert isinstance(inspect.getattr_static(node_class, "IS_CHANGED"), classmethod)
        checker = inspect.signature(node_class.IS_CHANGED).parameters
        assert set(checker) == set(declared["required"]) | set(declared.get("optional", {}))


def test_save_mesh_is_an_output_node_and_the_shape_stages_are_not():
    outputs = {node_id for node_id, node_class in NODES.items() if getattr(node_class, "OUTPUT_NODE", False)}
    assert outputs & EXPECTED_IDS == {"H3DSaveMesh"}
