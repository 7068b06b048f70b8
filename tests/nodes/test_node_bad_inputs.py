"""Bad inputs reaching the nodes stop at the node that gets them, with one line: a NaN
image at Encode Image (not three nodes later), a damaged OBJ at Load Mesh, a LATENT
without samples, an empty IMAGE batch, a file name prefix too long for the disk."""

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


def test_a_latent_without_samples_is_one_line():
    with pytest.raises(ValueError, match="This LATENT has no 'samples' tensor"):
        run_node("H3DDecodeShapeVolume", vae=None, latent={"type": "hunyuan3dv2"}, decoder="dense",
                 octree_resolution=32, num_chunks=8000, mc_level=0.0)


@pytest.mark.parametrize("node, inputs", [
    ("H3DPrepareImage", dict(size=512, border_ratio=0.15, mask_convention="object is 1")),
    ("H3DRemoveBackground", dict(method="classical", mask_convention="background is 1 (LoadImage)")),
])
def test_an_empty_image_batch_is_one_line(node, inputs):
    with pytest.raises(ValueError, match="empty batch"):
        run_node(node, image=torch.zeros(0, 64, 64, 3), **inputs)


def test_a_save_prefix_too_long_for_a_file_name_is_one_line(folders):
    import trimesh

    from graph_runner import pack_module
    from hy3d_core.geometry.mesh import Mesh

    mesh = pack_module("nodes.node_types").H3DMesh.of([Mesh.from_trimesh(trimesh.creation.box())])
    with pytest.raises(ValueError, match="300 bytes long; .* use at most 200"):
        run_node("H3DSaveMesh", mesh=mesh, filename_prefix="a" * 300, file_format="glb")
