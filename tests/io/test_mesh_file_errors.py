"""Damaged mesh files are one-line ValueErrors naming the file and what is wrong."""

import pytest

from hy3d_core.io.mesh_files import load_mesh

PLY_HEADER = ("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
              "property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
              "end_header\n0 0 0\n1 0 0\n0 1 0\n")


@pytest.mark.parametrize("name, text, reason", [
    ("far.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "a face refers to a vertex"),
    ("far.ply", PLY_HEADER + "3 0 1 7\n", "faces index vertices 0..7 but the mesh has 3"),
    ("garbage.glb", "not a binary glTF", "Cannot load"),
], ids=["obj-face-index", "ply-face-index", "glb-garbage"])
def test_a_damaged_mesh_file_is_one_line_naming_it(tmp_path, name, text, reason):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_mesh(path)
    message = str(caught.value)
    assert message.startswith(f"Cannot load {str(path)!r}: ")
    assert reason in message and message.endswith("repair or re-export the file.")
    assert "\n" not in message


def test_a_valid_obj_still_loads(tmp_path):
    path = tmp_path / "ok.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    assert load_mesh(path).faces.tolist() == [[0, 1, 2]]
