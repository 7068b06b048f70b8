"""Every file a shipped workflow loads (Load Image, Load Mesh) either ships in examples/,
with the workflow's note saying to copy it into ComfyUI's input folder, or is named in the
note as a stand-in for the user's own file: a newcomer is never left looking for a file
that does not exist."""

import json
import re

import pytest

from core_nodes import FRONTEND_ONLY
from graph_runner import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / "workflows").glob("*.json"))
EXAMPLES = REPO_ROOT / "examples"
# Node type -> the position of its file choice in widgets_values.
FILE_WIDGETS = {"LoadImage": 0, "H3DLoadMesh": 0}


def _files_and_note(path) -> tuple[list[str], str]:
    workflow = json.loads(path.read_text())
    files = [node["widgets_values"][FILE_WIDGETS[node["type"]]] for node in workflow["nodes"]
             if node["type"] in FILE_WIDGETS]
    note = "\n".join(node["widgets_values"][0] for node in workflow["nodes"] if node["type"] in FRONTEND_ONLY)
    return files, note


def where_it_comes_from(name: str, note: str) -> str | None:
    """Where the note says the file comes from: "examples" (it ships), "user" (the user's
    own, this name standing for it) or None (the note does not account for it)."""
    if (EXAMPLES / name).is_file() and f"examples/{name}" in note and "ComfyUI/input/" in note:
        return "examples"
    named_as_stand_in = re.search(re.escape(name) + r"[^\n]{0,80}?\bstands? for", note)
    if named_as_stand_in and "your own" in note and not (EXAMPLES / name).exists():
        return "user"
    return None


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.stem)
def test_every_loaded_file_ships_or_is_the_users_own(path):
    files, note = _files_and_note(path)
    for name in files:
        assert where_it_comes_from(name, note), (
            f"{path.name} loads {name!r}, which neither ships in examples/ (with the note saying to copy "
            f"examples/{name} into ComfyUI/input/) nor is named in the note as standing for the user's own file"
        )


def test_the_demo_workflow_loads_a_shipped_example():
    files, note = _files_and_note(REPO_ROOT / "workflows" / "hunyuan3d_demo_image_to_mesh.json")
    assert files == ["demo_box.png"] and where_it_comes_from("demo_box.png", note) == "examples"


def test_an_unaccounted_file_is_found():
    assert where_it_comes_from("example.png", "Put an image in ComfyUI/input/.") is None
    assert where_it_comes_from("demo_box.png", "Pick an image.") is None
    assert where_it_comes_from("demo_box.png", "demo_box.png stands for your own image.") is None
