"""Bad inputs reaching the nodes stop at the node that gets them, with one line: a NaN
image at Encode Image (not three nodes later), a damaged OBJ at Load Mesh."""

import pytest
import torch

from graph_runner import run_node, write_tiny_models


@pytest.fixture
def models_dir(tmp_path):
    write_tiny_models(tmp_path / "models")
    return tmp_path / "models"


def test_encode_image_refuses_nan_pixels(folders):
    model = run_node("H3DLoadShapeModel", model_name="hunyuan3d-dit-v2-0", dtype="auto",
                      device="cpu")[0]
    image = torch.ones(1, 64, 64, 3)
    image[0, 10, 10] = float("nan")
    with pytest.raises(ValueError, match="images hold 3 NaN or infinite pixel values") as caught:
        run_node("H3DEncodeImage", model=model, image=image)
    assert "\n" not in str(caught.value)


def test_load_mesh_names_a_damaged_obj(folders):
    path = folders / "input" / "broken.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    with pytest.raises(ValueError, match=r"Cannot load '.*broken.obj': a face refers to a vertex"):
        run_node("H3DLoadMesh", mesh_file="broken.obj", path="")
