"""UV and image orientation agree with trimesh/glTF: (0, 0) is the image's bottom-left."""

import numpy as np
import torch
import trimesh
from PIL import Image

from hy3d_core.render.torch_rasterizer import TorchRasterizer
from hy3d_core.texture.textured_render import sample_texture
from hy3d_core.texture.uv_raster import texel_bands


def quadrants(size: int) -> np.ndarray:
    """Top-left red, top-right green, bottom-left blue, bottom-right white (rows down)."""
    image = np.zeros((size, size, 3), dtype=np.float32)
    half = size // 2
    image[:half, :half] = (1, 0, 0)
    image[:half, half:] = (0, 1, 0)
    image[half:, :half] = (0, 0, 1)
    image[half:, half:] = (1, 1, 1)
    return image


def test_texture_lookup_matches_trimesh():
    texture = quadrants(16)
    uvs = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.3, 0.7]], dtype=np.float32)
    ours = sample_texture(torch.from_numpy(texture), torch.from_numpy(uvs)).numpy()
    image = Image.fromarray((texture * 255).astype(np.uint8))
    theirs = trimesh.visual.color.uv_to_color(uvs, image)[:, :3] / 255.0
    assert np.allclose(ours, theirs, atol=1e-6)
    assert np.allclose(ours[0], (0, 0, 1))  # u, v near 0: bottom-left


def test_uv_raster_puts_low_v_in_the_bottom_rows():
    size = 32
    uvs = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]])
    faces = torch.tensor([[0, 1, 2]])
    texels = torch.cat([band.texels for band in texel_bands(uvs, faces, size, TorchRasterizer())])
    rows, columns = texels // size, texels % size
    assert (rows >= size // 2).all() and (columns < size // 2).all()
    assert texels.numel() == 16 * 15 // 2  # the diagonal's texel centres lie on the edge
