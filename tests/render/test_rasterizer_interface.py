"""Backend choice, input checking and interpolation shared by every rasterizer."""

from importlib.util import find_spec

import pytest
import torch

from hy3d_core.render.rasterizer import (
    RasterizerUnavailableError,
    get_rasterizer,
    interpolate,
    nvdiffrast_available,
)
from hy3d_core.render.torch_rasterizer import TorchRasterizer

TRIANGLE = torch.tensor([[-0.8, -0.8, 0.0, 1.0], [0.8, -0.8, 0.0, 1.0], [0.0, 0.8, 0.0, 1.0]])
FACES = torch.tensor([[0, 1, 2]], dtype=torch.int32)


def test_auto_picks_torch_without_cuda():
    assert get_rasterizer("auto", "cpu").name == "torch"
    assert get_rasterizer("torch", "cpu").name == "torch"
    assert not nvdiffrast_available("cpu")


def test_explicit_nvdiffrast_without_cuda_says_what_to_do():
    with pytest.raises(RasterizerUnavailableError) as error:
        get_rasterizer("nvdiffrast", "cpu")
    message = str(error.value)
    expected = "pip install diffrp-nvdiffrast" if find_spec("nvdiffrast") is None else "CUDA"
    assert expected in message
    assert "'torch' rasterizer" in message


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="auto, torch, nvdiffrast"):
        get_rasterizer("opengl")


@pytest.mark.parametrize(
    "faces, message",
    [
        (torch.tensor([[0, 1, 3]]), "only 3 vertices"),
        (torch.tensor([[0, -1, 2]]), "only 3 vertices"),
        (torch.zeros(0, 3, dtype=torch.int64), "empty"),
        (torch.tensor([[0.0, 1.0, 2.0]]), "integer"),
        (torch.tensor([0, 1, 2]), r"\[F, 3\]"),
    ],
)
def test_bad_faces_are_reported(faces, message):
    with pytest.raises(ValueError, match=message):
        TorchRasterizer().rasterize(TRIANGLE, faces, (8, 8))


def test_bad_vertices_and_resolution_are_reported():
    nan = TRIANGLE.clone()
    nan[1, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite values \\(first at vertex 1\\)"):
        TorchRasterizer().rasterize(nan, FACES, (8, 8))
    with pytest.raises(ValueError, match=r"\[V, 4\]"):
        TorchRasterizer().rasterize(TRIANGLE[:, :3], FACES, (8, 8))
    with pytest.raises(ValueError, match="positive"):
        TorchRasterizer().rasterize(TRIANGLE, FACES, (0, 8))


def test_interpolate_handles_batches_and_keeps_gradients():
    clip = torch.stack([TRIANGLE, TRIANGLE * torch.tensor([1.0, -1.0, 1.0, 1.0])])
    rast = TorchRasterizer().rasterize(clip, FACES, (16, 16))
    colours = torch.eye(3, requires_grad=True)
    shared = interpolate(colours, rast, FACES)
    assert shared.shape == (2, 16, 16, 3)
    assert torch.allclose(shared[rast.mask].sum(dim=-1), torch.ones(()))
    assert (shared[~rast.mask] == 0).all()
    per_view = interpolate(torch.stack([colours, 2 * colours]), rast, FACES)
    assert torch.allclose(per_view[1], 2 * shared[1])
    shared.sum().backward()
    assert colours.grad is not None and colours.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="batch 3 does not match"):
        interpolate(torch.zeros(3, 3, 2), rast, FACES)
