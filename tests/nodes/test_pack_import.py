"""The pack imports the way ComfyUI imports it: the folder under an arbitrary (dashed)
name, nothing of it on sys.path, quickly, without pulling in heavy libraries."""

import json
import os
import subprocess
import sys

from graph_runner import PACK_NAME, REPO_ROOT, load_pack

# ComfyUI has torch loaded long before it imports packs; what the pack adds is measured.
_IMPORT_SCRIPT = """
import importlib.util, json, sys, time
import torch
root = sys.argv[1]
before = set(sys.modules)
start = time.perf_counter()
spec = importlib.util.spec_from_file_location(
    "comfyui-hunyuan3d-core", root + "/__init__.py", submodule_search_locations=[root])
pack = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = pack
spec.loader.exec_module(pack)
seconds = time.perf_counter() - start
listed = {node_id: sorted(node.INPUT_TYPES()) for node_id, node in pack.NODE_CLASS_MAPPINGS.items()}
added = sorted(name.split(".")[0] for name in set(sys.modules) - before)
print(json.dumps({"seconds": seconds, "nodes": listed, "added": sorted(set(added))}))
"""
HEAVY = {"transformers", "diffusers", "trimesh", "skimage", "cv2", "xatlas", "pymeshlab", "fast_simplification"}


def test_imports_under_a_dashed_name_quickly_and_lightly(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_SCRIPT, str(REPO_ROOT)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert len(report["nodes"]) >= 13
    assert all("required" in groups for groups in report["nodes"].values())
    assert report["seconds"] < 3.0
    assert not HEAVY & set(report["added"]), "heavy libraries imported while loading the pack"
    # nothing outside the pack's own package was imported as a top-level name of ours
    assert not {"hy3d_core", "nodes"} & set(report["added"])


def test_the_entry_point_exports_the_mappings():
    pack = load_pack()
    assert pack.__name__ == PACK_NAME
    assert pack.NODE_CLASS_MAPPINGS is sys.modules[f"{PACK_NAME}.nodes"].NODE_CLASS_MAPPINGS
    for node_class in pack.NODE_CLASS_MAPPINGS.values():
        assert node_class.__module__.startswith(f"{PACK_NAME}.nodes.")
