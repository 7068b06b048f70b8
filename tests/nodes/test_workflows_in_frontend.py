"""The shipped workflows load in the real ComfyUI frontend (PyPI
``comfyui-frontend-package``, in headless Chromium, served by the stand-in backend of
``tools/check_workflows_in_frontend.py``) without a notice or console error, and the API
prompt the frontend makes from each is the one our converter makes."""

import copy
import importlib.util
import json
import os
import shutil
import sys

import pytest

from graph_runner import REPO_ROOT

CHROMIUM = shutil.which("chromium")
MISSING = [name for name in ("comfyui_frontend_package", "playwright") if importlib.util.find_spec(name) is None]
WORKFLOWS = sorted((REPO_ROOT / "workflows").glob("*.json"))

pytestmark = [pytest.mark.frontend, pytest.mark.slow]


def _missing_requirements() -> str | None:
    if CHROMIUM is None:
        return "needs a Chromium binary on PATH (Debian: apt-get install chromium)"
    if MISSING:
        return f"needs {' and '.join(MISSING)} from PyPI (pip install -r requirements-test.txt)"
    return None


def _checker():
    """The tool, imported by path (tools/ is not a package)."""
    name = "check_workflows_in_frontend"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def _broken_copies(folder):
    """Two defects the check must find: a seed without its control value (every later
    widget value shifts by one in the frontend as in our converter, but the last input
    then takes its default in the frontend only) and a node type nobody registers."""
    workflow = json.loads((REPO_ROOT / "workflows" / "hunyuan3d_image_to_mesh.json").read_text())
    no_control, unknown = copy.deepcopy(workflow), copy.deepcopy(workflow)
    (sampler,) = [node for node in no_control["nodes"] if node["type"] == "H3DSampleShape"]
    sampler["widgets_values"].remove("fixed")
    (encoder,) = [node for node in unknown["nodes"] if node["type"] == "H3DEncodeImage"]
    encoder["type"] = "H3DNoSuchNode"
    paths = {"no_control": folder / "broken_no_seed_control.json", "unknown": folder / "broken_unknown_type.json"}
    paths["no_control"].write_text(json.dumps(no_control))
    paths["unknown"].write_text(json.dumps(unknown))
    return paths


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """One frontend session for the shipped workflows and the broken copies.

    Without Chromium or the frontend the tests skip, except on CI (``CI`` set), where
    they fail so that they can never be skipped unnoticed."""
    missing = _missing_requirements()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    broken = _broken_copies(tmp_path_factory.mktemp("broken"))
    checks, _ = _checker().check(WORKFLOWS + list(broken.values()), CHROMIUM)
    return checks, {kind: path.name for kind, path in broken.items()}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.stem)
def test_workflow_loads_in_the_frontend_as_our_converter_reads_it(path, checked):
    checks, _ = checked
    assert checks[path.name].problems == []


def test_the_check_finds_a_missing_seed_control_and_an_unknown_node(checked):
    checks, broken = checked
    shifted = "node 7 (H3DSampleShape).skip_last_call: frontend True, missing in ours"
    assert shifted in checks[broken["no_control"]].problems
    unknown = checks[broken["unknown"]].problems
    assert "unknown node type in the frontend: H3DNoSuchNode" in unknown
    assert any(problem.startswith("dialog or toast:") and "H3DNoSuchNode" in problem for problem in unknown)
