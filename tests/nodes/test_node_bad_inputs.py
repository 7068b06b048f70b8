"""Bad inputs reaching the nodes stop at the node that gets them, with one line: a NaN
image at Encode Image (not three nodes later), a damaged OBJ at Load Mesh."""

import pytest
import torch

from graph_runner import load_pack, write_tiny_models

NODES = load_pack().NODE_CLASS_MAPPINGS


def _run(node_id: str, **inputs):
    node_class = NODES[node_id]
    return getattr(node_class(), node_class.FUNCTION)(**inputs)


@pytest.fixture
def folders(tmp_path, monkeypatch):
    write_tiny_models(tmp_path / "models")
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HY3D_INPUT_DIR", str(tmp_path / "input"))
    monkeypatch.setenv("HY3D_OUTPUT_DIR", str(tmp_path / "output"))
    (tmp_path / "input").mkdir()
    return tmp_path


def test_encode_image_refuses_nan_pixels(folders):
    model = _run("H3DLoadShapeModel", model_name="hunyuan3d-dit-v2-0", dtype="auto",
                 device="cpu")[0]
    image = torch.ones(1, 64, 64, 3)
    image[0, 10, 10] = float("nan")
    with pytest.raises(ValueError, match="images hold 3 NaN or infinite pixel values") as caught:
        _run("H3DEncodeImage", model=model, image=image)
    assert "\n" not in str(caught.value)


def test_load_mesh_names_a_damaged_obj(folders):
    path = folders / "input" / "broken.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    with pytest.raises(ValueError, match=r"Cannot load '.*broken.obj': a face refers to a vertex"):
        _run("H3DLoadMesh", mesh_file="broken.obj", path="")
