"""Run ComfyUI graphs in the tests without ComfyUI: load the pack as ComfyUI does, turn a
UI-format workflow into the API format, execute it node by node, and write tiny model
folders for the graphs to load.

The execution follows ComfyUI's rules that matter here: a node runs once its linked inputs
exist, its FUNCTION gets the widget values and upstream outputs by input name, a result
may be a tuple or ``{"ui": ..., "result": ...}``, and a node whose inputs did not change
since the previous run is not run again (its cached outputs are reused).
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from core_nodes import CORE_NODES, FILE_COMBO, FRONTEND_ONLY

REPO_ROOT = Path(__file__).resolve().parents[2]
PACK_NAME = "comfyui-hunyuan3d"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}
SEED_CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}
SEED_INPUT_NAMES = {"seed", "noise_seed"}


def load_pack() -> ModuleType:
    """The repository root imported as a package with a dashed name, as ComfyUI imports
    ``custom_nodes/<folder>``; every import inside must be relative for this to work."""
    if PACK_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACK_NAME, REPO_ROOT / "__init__.py", submodule_search_locations=[str(REPO_ROOT)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACK_NAME] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[PACK_NAME]
            raise
    return sys.modules[PACK_NAME]


def run_node(node_id: str, **inputs) -> Any:
    """One node of the pack called as ComfyUI calls it: its FUNCTION with the inputs."""
    node_class = load_pack().NODE_CLASS_MAPPINGS[node_id]
    return getattr(node_class(), node_class.FUNCTION)(**inputs)


def pack_module(name: str) -> ModuleType:
    """A module of the loaded pack, e.g. ``pack_module("hy3d_core.geometry.mesh")``: the
    pack's own copy, whose classes are the ones its nodes create and check."""
    load_pack()
    return importlib.import_module(f"{PACK_NAME}.{name}")


# ---------------------------------------------------------------------------------------
# Declarations


def declaration(node_type: str, ours: dict) -> dict:
    if node_type in ours:
        return ours[node_type].INPUT_TYPES()
    return CORE_NODES[node_type]["input"]


def output_types(node_type: str, ours: dict) -> tuple:
    if node_type in ours:
        return tuple(ours[node_type].RETURN_TYPES)
    return tuple(CORE_NODES[node_type]["output"])


def declared_inputs(declared: dict) -> list[tuple[str, tuple]]:
    """``(name, spec)`` in the order the frontend lays them out: required, then optional."""
    return [(name, spec) for group in ("required", "optional") for name, spec in declared.get(group, {}).items()]


def _options(spec: tuple) -> dict:
    return spec[1] if len(spec) > 1 else {}


def is_combo(spec: tuple) -> bool:
    return isinstance(spec[0], (list, tuple)) or spec[0] == FILE_COMBO


def is_widget(spec: tuple) -> bool:
    if _options(spec).get("forceInput"):
        return False
    return is_combo(spec) or spec[0] in WIDGET_TYPES


def widget_slots(declared: dict) -> list[tuple[str, str, tuple]]:
    """One ``(name, role, spec)`` per entry of a UI node's ``widgets_values``.

    role "widget" is the input's value; the frontend adds "control" (randomize, fixed...)
    after a seed and "upload" (the string "image") after an image-upload combo.
    """
    slots = []
    for name, spec in declared_inputs(declared):
        if not is_widget(spec):
            continue
        slots.append((name, "widget", spec))
        options = _options(spec)
        if spec[0] == "INT" and (name in SEED_INPUT_NAMES or options.get("control_after_generate")):
            slots.append((name, "control", spec))
        if options.get("image_upload"):
            slots.append((name, "upload", spec))
    return slots


# ---------------------------------------------------------------------------------------
# UI format -> API format


def workflow_to_api(workflow: dict, ours: dict) -> dict:
    """``{"<id>": {"class_type", "inputs"}}`` as ``POST /prompt`` takes it; frontend-only
    nodes (notes) are left out, as the frontend leaves them out."""
    links = {link[0]: link for link in workflow["links"]}
    api = {}
    for node in workflow["nodes"]:
        if node["type"] in FRONTEND_ONLY:
            continue
        inputs: dict[str, Any] = {}
        for (name, role, _), value in zip(widget_slots(declaration(node["type"], ours)),
                                          node.get("widgets_values", [])):
            if role == "widget":
                inputs[name] = value
        for slot in node.get("inputs", []):
            if slot.get("link") is not None:
                _, from_node, from_slot, *_ = links[slot["link"]]
                inputs[slot["name"]] = [str(from_node), from_slot]
        api[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return api


# ---------------------------------------------------------------------------------------
# Execution


def _upstream(api: dict, targets: Iterable[str]) -> set[str]:
    needed: set[str] = set()
    pending = list(targets)
    while pending:
        node_id = pending.pop()
        if node_id in needed:
            continue
        needed.add(node_id)
        pending.extend(value[0] for value in api[node_id]["inputs"].values() if isinstance(value, list))
    return needed


def _execution_order(api: dict, needed: set[str]) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    remaining = sorted(needed, key=int)
    while remaining:
        ready = [node_id for node_id in remaining
                 if all(value[0] in placed for value in api[node_id]["inputs"].values()
                        if isinstance(value, list))]
        if not ready:
            raise ValueError(f"The graph has a cycle among nodes {remaining}.")
        order.extend(ready)
        placed.update(ready)
        remaining = [node_id for node_id in remaining if node_id not in placed]
    return order


class GraphRunner:
    """Executes API graphs with ``classes`` (node id -> class), caching like ComfyUI."""

    def __init__(self, classes: dict):
        self.classes = classes
        self.ui: dict[str, Any] = {}
        self.executed: list[str] = []
        self._cache: dict[str, tuple[Any, tuple]] = {}

    def run(self, api: dict, targets: Iterable[str] | None = None) -> dict[str, tuple]:
        """Outputs of every node run (or reused); only ``targets`` and what they need when given."""
        needed = _upstream(api, targets) if targets is not None else set(api)
        outputs: dict[str, tuple] = {}
        signatures: dict[str, Any] = {}
        self.executed = []
        for node_id in _execution_order(api, needed):
            node = api[node_id]
            arguments, parts = {}, []
            for name, value in node["inputs"].items():
                if isinstance(value, list):
                    arguments[name] = outputs[value[0]][value[1]]
                    parts.append((name, signatures[value[0]], value[1]))
                else:
                    arguments[name] = value
                    parts.append((name, repr(value)))
            signature = (node["class_type"], tuple(sorted(parts, key=lambda part: part[0])))
            signatures[node_id] = signature
            cached = self._cache.get(node_id)
            if cached is not None and cached[0] == signature:
                outputs[node_id] = cached[1]
                continue
            outputs[node_id] = self._execute(node_id, node["class_type"], arguments)
            self._cache[node_id] = (signature, outputs[node_id])
        return outputs

    def _execute(self, node_id: str, class_type: str, arguments: dict) -> tuple:
        node_class = self.classes[class_type]
        result = getattr(node_class(), node_class.FUNCTION)(**arguments)
        self.executed.append(node_id)
        if isinstance(result, dict):
            self.ui[node_id] = result.get("ui")
            result = result.get("result", ())
        return tuple(result)


# ---------------------------------------------------------------------------------------
# Tiny model folders


TINY_ENCODER_PARAMS = dict(num_encoder_layers=1, point_feats=4, pc_size=128, pc_sharpedge_size=64,
                           downsample_ratio=4)


SHAPE_21_FOLDER = "hunyuan3d-dit-v2-1"
PAINT_PBR_21_FOLDER = "hunyuan3d-paintpbr-v2-1"
DINO_21_FOLDER = "dinov2-giant"


def write_tiny_models(models_dir: Path) -> dict[str, Path]:
    """Release-layout folders with random tiny weights under ``models_dir/hunyuan3d``:
    ``hunyuan3d-dit-v2-0`` (single view), ``hunyuan3d-dit-v2-mv`` (multi-view),
    ``hunyuan3d-vae-v2-0-withencoder``, ``hunyuan3d-paint-v2-0`` and
    ``hunyuan3d-delight-v2-0``; the single view model's weights as ComfyUI's
    single file ``checkpoints/hunyuan3d-dit-v2-0.safetensors``; and, where the 2.1 oracle
    is at hand (``tests/shared_fixtures.py``), its tiny ``hunyuan3d-dit-v2-1`` folder."""
    from shared_fixtures import SHAPE_21, fixtures_root
    from tiny_checkpoints import TINY_VAE_PARAMS, tiny_vae, write_official_folder, write_tiny_shape_model

    own = models_dir / "hunyuan3d"
    written = {}
    for name, multiview in (("hunyuan3d-dit-v2-0", False), ("hunyuan3d-dit-v2-mv", True)):
        written[name] = write_tiny_shape_model(own / name, multiview=multiview)
    encoder_params = dict(TINY_VAE_PARAMS, **TINY_ENCODER_PARAMS)
    vae_config = {"target": "hy3dgen.shapegen.models.ShapeVAE", "params": encoder_params}
    written["hunyuan3d-vae-v2-0-withencoder"] = write_official_folder(
        own / "hunyuan3d-vae-v2-0-withencoder", tiny_vae(encoder_params, 4).state_dict(), vae_config
    )
    single_file = models_dir / "checkpoints" / "hunyuan3d-dit-v2-0.safetensors"
    single_file.parent.mkdir(parents=True, exist_ok=True)
    single_file.write_bytes((written["hunyuan3d-dit-v2-0"] / "model.fp16.safetensors").read_bytes())
    written["checkpoints/hunyuan3d-dit-v2-0.safetensors"] = single_file
    shape_21 = fixtures_root() / SHAPE_21 / SHAPE_21_FOLDER
    if shape_21.is_dir():
        written[SHAPE_21_FOLDER] = Path(shutil.copytree(shape_21, own / SHAPE_21_FOLDER))
    written.update(write_tiny_paint_models(own))
    return written


def write_paint_pbr_21_models(own: Path) -> dict[str, Path]:
    """Where the 2.1 PBR oracle is at hand: its tiny ``hunyuan3d-paintpbr-v2-1`` folder and
    its tiny DINOv2 as ``dinov2-giant`` in ``own`` (``models/hunyuan3d``), as a user lays
    out the release."""
    from shared_fixtures import PAINT_PBR_21, fixtures_root

    source = fixtures_root() / PAINT_PBR_21
    if not source.is_dir():
        return {}
    return {name: Path(shutil.copytree(source / part, own / name))
            for part, name in ((PAINT_PBR_21_FOLDER, PAINT_PBR_21_FOLDER), ("dinov2-giant-tiny", DINO_21_FOLDER))}


def write_tiny_paint_models(own: Path) -> dict[str, Path]:
    """``hunyuan3d-paint-v2-0`` and ``hunyuan3d-delight-v2-0`` diffusers folders in ``own``
    (``models/hunyuan3d``), with tiny random networks (``tiny_paint.py``)."""
    import tempfile

    from tiny_paint import write_tiny_delight_folder, write_tiny_paint_folder

    paint = write_tiny_paint_folder(own / "hunyuan3d-paint-v2-0")
    delight = own / "hunyuan3d-delight-v2-0"
    with tempfile.TemporaryDirectory() as scratch:
        shutil.move(str(write_tiny_delight_folder(Path(scratch))), str(delight))
    return {"hunyuan3d-paint-v2-0": paint, "hunyuan3d-delight-v2-0": delight}
