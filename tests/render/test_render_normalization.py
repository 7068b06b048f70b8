"""The release's mesh normalisation: axes, centre, size, and its inverse."""

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.render.normalization import (
    from_render_axes,
    mesh_in_render_frame,
    normalize_for_render,
    to_render_axes,
)
from oracle import import_oracle


def offset_box() -> torch.Tensor:
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    box.apply_translation((0.3, -0.2, 5.0))
    return torch.tensor(box.vertices, dtype=torch.float32)


def test_axes_change_is_x_y_negated_then_y_z_swapped():
    point = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(to_render_axes(point), torch.tensor([[-1.0, 3.0, -2.0]]))
    assert torch.equal(from_render_axes(to_render_axes(point)), point)


def test_centred_on_the_box_and_scaled_to_the_released_size():
    vertices = offset_box()
    normalised, transform = normalize_for_render(vertices)
    assert torch.allclose((normalised.amax(0) + normalised.amin(0)) / 2, torch.zeros(3), atol=1e-6)
    assert torch.allclose(normalised.norm(dim=1).max(), torch.tensor(1.15 / 2))
    # A box's farthest point from its centre is a corner: half its diagonal.
    assert transform.scale == pytest.approx(1.15 / np.sqrt(1 + 4 + 9))
    assert torch.allclose(transform.apply(vertices), normalised)
    assert torch.allclose(transform.invert(normalised), vertices, atol=1e-6)


def test_bad_meshes_are_reported():
    with pytest.raises(ValueError, match="coincide"):
        normalize_for_render(torch.ones(4, 3))
    with pytest.raises(ValueError, match="no vertices"):
        normalize_for_render(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="NaN"):
        normalize_for_render(torch.tensor([[0.0, float("nan"), 0.0], [1.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"\[V, 3\]"):
        normalize_for_render(torch.zeros(4, 2))


@pytest.mark.oracle
def test_matches_the_reference_renderer():
    render = import_oracle("hy3dgen.texgen.differentiable_renderer.mesh_render")
    # set_mesh needs no compiled rasterizer; only the constructor loads one.
    reference = render.MeshRender.__new__(render.MeshRender)
    reference.device = "cpu"
    vertices = offset_box()
    faces = np.array([[0, 1, 2]])
    reference.set_mesh(vertices.numpy().copy(), faces)  # it edits the array it is given
    normalised, _ = normalize_for_render(vertices)
    assert torch.allclose(normalised, reference.vtx_pos, atol=1e-7)
    assert reference.scale_factor == 1.15


def test_mesh_in_render_frame_is_the_normalised_mesh_with_its_faces():
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    box.apply_translation((0.3, -0.2, 5.0))
    mesh = Mesh(vertices=box.vertices, faces=box.faces)
    vertices, faces, transform = mesh_in_render_frame(mesh, "cpu", scale_factor=0.9)
    expected, expected_transform = normalize_for_render(torch.from_numpy(mesh.vertices), 0.9)
    assert torch.equal(vertices, expected)
    assert vertices.dtype == torch.float32 and faces.dtype == torch.int64
    assert torch.equal(faces, torch.from_numpy(mesh.faces))
    assert transform.scale == expected_transform.scale and transform.scale_factor == 0.9
    assert float(torch.linalg.vector_norm(vertices, dim=1).amax()) == pytest.approx(0.45)
    np.testing.assert_allclose(transform.invert(vertices).numpy(), mesh.vertices, atol=1e-5)


def test_mesh_in_render_frame_refuses_a_mesh_of_one_point():
    mesh = Mesh(vertices=np.ones((3, 3)), faces=[[0, 1, 2]])
    with pytest.raises(ValueError, match="no size"):
        mesh_in_render_frame(mesh)
