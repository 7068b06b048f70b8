"""nvdiffrast and the PyTorch backend agree (runs only where CUDA and nvdiffrast exist)."""

from importlib.util import find_spec

import pytest
import torch
import trimesh

from hy3d_core.render.cameras import camera_preset, orbit_cameras
from hy3d_core.render.geometry_maps import render_geometry_maps
from hy3d_core.render.normalization import normalize_for_render
from hy3d_core.render.rasterizer import get_rasterizer
from hy3d_core.render.torch_rasterizer import TorchRasterizer

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and find_spec("nvdiffrast") is not None),
    reason="needs a CUDA device and nvdiffrast (pip install diffrp-nvdiffrast)",
)


def sphere_on_cuda():
    mesh = trimesh.creation.icosphere(subdivisions=5)
    mesh.vertices = mesh.vertices * [1.0, 0.8, 1.2]
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32, device="cuda")
    faces = torch.tensor(mesh.faces, dtype=torch.int64, device="cuda")
    normalised, _ = normalize_for_render(vertices)
    return normalised, faces


def assert_backends_agree(clip, faces, resolution):
    nvdiffrast = get_rasterizer("nvdiffrast", "cuda").rasterize(clip, faces, resolution)
    reference = TorchRasterizer().rasterize(clip, faces, resolution)
    same = nvdiffrast.face_index == reference.face_index
    assert same.float().mean() > 0.9999
    both = same & nvdiffrast.mask
    assert torch.allclose(nvdiffrast.barycentrics[both], reference.barycentrics[both], atol=2e-5)
    assert torch.allclose(nvdiffrast.depth[both], reference.depth[both], atol=2e-5)


def test_auto_picks_nvdiffrast_on_cuda():
    assert get_rasterizer("auto", "cuda").name == "nvdiffrast"


def test_same_visibility_for_the_released_views():
    vertices, faces = sphere_on_cuda()
    clip = camera_preset().to_clip(vertices)
    assert_backends_agree(clip, faces, (512, 512))


def test_same_visibility_with_perspective_and_clipping():
    vertices, faces = sphere_on_cuda()
    # The camera sits inside the (scaled) mesh, so the near plane cuts it.
    cameras = orbit_cameras([0, 45], [0, 20], kind="perspective", distance=0.7)
    assert_backends_agree(cameras.to_clip(vertices * 1.3), faces, (256, 320))


def test_same_geometry_maps():
    vertices, faces = sphere_on_cuda()
    cameras = camera_preset()
    fast = render_geometry_maps(vertices, faces, cameras, 256, get_rasterizer("nvdiffrast", "cuda"))
    portable = render_geometry_maps(vertices, faces, cameras, 256, TorchRasterizer())
    same = (fast.rasterization.face_index == portable.rasterization.face_index)
    assert same.float().mean() > 0.9999
    assert torch.allclose(fast.normal[same], portable.normal[same], atol=1e-4)
    assert torch.allclose(fast.position[same], portable.position[same], atol=1e-4)
