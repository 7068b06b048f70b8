"""Conversions between this library's tensors and the layouts of ComfyUI's built-in
Hunyuan3D nodes, so graphs can mix those nodes with ours.

Nothing here imports ComfyUI; the layouts were read off its source (``comfy/sd.py``,
``comfy/latent_formats.py``, ``comfy/ldm/hunyuan3d/vae.py``,
``comfy_extras/nodes_hunyuan3d.py``):

- LATENT: ComfyUI's samplers hand out latents divided by the VAE's scale factor
  (``LatentFormat.process_out``) and its ``VAEDecodeHunyuan3D`` feeds them to the VAE
  unchanged, channels first: ``[B, 64, N]``. Our sampler's latents are ``[B, N, 64]`` and
  still carry the factor (decoding divides by it), as the release hands them on.
- VOXEL: ComfyUI's VAE decode passes the logits through its image output mapping
  ``clamp((x + 1) / 2, 0, 1)`` and moves axes twice (last two swapped, then axis 1 to the
  end), which reverses the three spatial axes: ``data[b, k, j, i] = f(grid[b, i, j, k])``.
  Its ``VoxelToMesh`` undoes the reversal with a final ``fliplr``.
- MESH: ``.vertices [B, V, 3]`` and ``.faces [B, F, 3]``; ComfyUI stacks per-item meshes,
  so every item of a batch must have the same counts.
- IMAGE ``[B, H, W, C]`` in 0..1; MASK ``[B, H, W]``; ``LoadImage`` gives mask = 1 - alpha.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..hy3d_core.geometry.mesh import Mesh

COMFY_LATENT_TYPE = "hunyuan3dv2"
# ComfyUI's LoadImage returns this all-zero mask when the file has no alpha channel.
_PLACEHOLDER_MASK_SIZE = 64


def latents_to_comfy(latents: Tensor, scale_factor: float) -> Tensor:
    """Sampler latents ``[B, N, C]`` -> ComfyUI LATENT samples ``[B, C, N]``."""
    if latents.ndim != 3:
        raise ValueError(f"latents must be [batch, tokens, channels], got shape {list(latents.shape)}")
    return (latents / scale_factor).transpose(1, 2).contiguous()


def latents_from_comfy(samples: Tensor, scale_factor: float, channels: int) -> Tensor:
    """ComfyUI LATENT samples ``[B, C, N]`` -> sampler latents ``[B, N, C]``.

    ``channels`` is the VAE's latent width; a mismatch means the LATENT came from another
    model (an image sampler, say), which is said plainly instead of failing in a matmul.
    """
    if samples.ndim != 3 or samples.shape[1] != channels:
        raise ValueError(
            f"This LATENT has shape {list(samples.shape)}; a Hunyuan3D shape latent is "
            f"[batch, {channels}, tokens]. Connect the output of Sample Shape, Encode Mesh "
            "or ComfyUI's EmptyLatentHunyuan3Dv2 + KSampler, not an image latent."
        )
    return samples.transpose(1, 2).float().contiguous() * scale_factor


def grid_to_comfy_voxels(grid: Tensor) -> Tensor:
    """Occupancy logits ``[B, X, Y, Z]`` -> ComfyUI VOXEL data ``[B, Z, Y, X]`` in 0..1.

    Points a coarse-to-fine decoder left undecoded (NaN) become 0, outside: ComfyUI's
    mesh nodes have no notion of undecoded points, and a NaN would spread into vertices.
    """
    occupancy = ((grid.float() + 1) / 2).clamp(0, 1)
    return torch.nan_to_num(occupancy, nan=0.0).permute(0, 3, 2, 1).contiguous()


def grid_from_comfy_voxels(data: Tensor) -> Tensor:
    """ComfyUI VOXEL data ``[B, Z, Y, X]`` -> logits ``[B, X, Y, Z]``.

    ComfyUI clamps the logits to [-1, 1] on the way out, so only levels inside that
    range can be extracted from its voxels; within it the values are exact.
    """
    if data.ndim != 4:
        raise ValueError(f"VOXEL data must be [batch, R, R, R], got shape {list(data.shape)}")
    return (data.float() * 2 - 1).permute(0, 3, 2, 1).contiguous()


def pad_mesh_batch(meshes: Sequence[Mesh]) -> tuple[Tensor, Tensor]:
    """Stack meshes into ``vertices [B, V, 3]`` float32 and ``faces [B, F, 3]`` int64.

    ComfyUI's mesh type needs equal counts per item, so shorter items are padded:
    vertices with copies of their last vertex (the bounding box is unchanged), faces with
    ``(0, 0, 0)``, a triangle of zero area that no viewer draws.
    """
    if not meshes:
        raise ValueError("pad_mesh_batch needs at least one mesh")
    most_vertices = max(len(mesh.vertices) for mesh in meshes)
    most_faces = max(len(mesh.faces) for mesh in meshes)
    vertices = np.zeros((len(meshes), most_vertices, 3), dtype=np.float32)
    faces = np.zeros((len(meshes), most_faces, 3), dtype=np.int64)
    for index, mesh in enumerate(meshes):
        count = len(mesh.vertices)
        vertices[index, :count] = mesh.vertices
        if count:
            vertices[index, count:] = mesh.vertices[-1]
        faces[index, :len(mesh.faces)] = mesh.faces
    return torch.from_numpy(vertices), torch.from_numpy(faces)


def meshes_from_batch(vertices: Tensor, faces: Tensor) -> list[Mesh]:
    """ComfyUI MESH tensors ``[B, V, 3]`` / ``[B, F, 3]`` -> one :class:`Mesh` per item.

    ComfyUI's voxel-to-mesh nodes store face indices as floats in some cases; they are
    whole numbers and are read as such.
    """
    if vertices.ndim != 3 or faces.ndim != 3 or vertices.shape[0] != faces.shape[0]:
        raise ValueError(
            "A MESH must hold vertices [batch, V, 3] and faces [batch, F, 3] with one batch "
            f"size; got {list(vertices.shape)} and {list(faces.shape)}."
        )
    vertex_arrays = vertices.detach().to("cpu", torch.float32).numpy()
    face_arrays = faces.detach().to("cpu").numpy()
    meshes = []
    for item_vertices, item_faces in zip(vertex_arrays, face_arrays):
        if not np.issubdtype(item_faces.dtype, np.integer):
            if not np.array_equal(item_faces, np.round(item_faces)):
                raise ValueError("MESH faces must hold whole vertex indices.")
            item_faces = item_faces.astype(np.int64)
        meshes.append(Mesh(vertices=item_vertices, faces=item_faces))
    return meshes


def images_to_signed_channels_first(images: Tensor) -> Tensor:
    """IMAGE ``[B, H, W, 3]`` in 0..1 -> ``[B, 3, H, W]`` in [-1, 1], the conditioner's input."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"Expected an RGB IMAGE [batch, height, width, 3], got shape {list(images.shape)}. "
            "Run the image through Prepare Image first (it composites the object over white)."
        )
    if images.shape[0] == 0:
        raise ValueError("The IMAGE input is an empty batch (0 images); connect a node that gives at "
                         "least one image.")
    return (images.float() * 2 - 1).permute(0, 3, 1, 2).contiguous()


def mask_to_opacity(mask: Tensor, height: int, width: int, *, background_is_one: bool) -> np.ndarray | None:
    """One MASK ``[H, W]`` -> the object's opacity ``[H, W]`` float32, or None when it carries
    no cut-out.

    ``background_is_one`` is ComfyUI LoadImage's convention (mask = 1 - alpha); otherwise
    1 marks the object, as segmentation nodes give it. None is returned for LoadImage's
    64x64 placeholder of an image without alpha and for a mask that leaves everything
    opaque, so callers can fall back to computing a matte.
    """
    array = mask.detach().to("cpu", torch.float32).numpy()
    if array.shape != (height, width):
        placeholder = array.shape == (_PLACEHOLDER_MASK_SIZE, _PLACEHOLDER_MASK_SIZE) and not array.any()
        if placeholder:
            return None
        raise ValueError(
            f"The mask is {array.shape[1]}x{array.shape[0]} pixels but the image is "
            f"{width}x{height}; give a mask of the image's size."
        )
    opacity = 1.0 - array if background_is_one else array
    if (opacity >= 1.0).all():
        return None
    return np.ascontiguousarray(opacity.clip(0.0, 1.0), dtype=np.float32)
