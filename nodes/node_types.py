"""The values that travel between the pack's nodes, and how foreign values are read.

Types of our own carry the ``H3D_`` prefix so they only connect to our nodes. Voxel and
mesh values also satisfy ComfyUI's built-in VOXEL and MESH types (``.data``;
``.vertices`` / ``.faces``), so its VoxelToMesh and SaveGLB take ours, and our inputs take
its values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from .comfy_formats import (
    grid_from_comfy_voxels,
    grid_to_comfy_voxels,
    meshes_from_batch,
    pad_mesh_batch,
)
from ..hy3d_core.geometry.mesh import Mesh
from ..hy3d_core.geometry.volume_decoding import DEFAULT_BOUNDS
from ..hy3d_core.models.shape_model import ShapeModelConfigs
from ..hy3d_core.models.shape_vae import ShapeVAE

SHAPE_MODEL = "H3D_SHAPE_MODEL"
SHAPE_VAE = "H3D_SHAPE_VAE"
CONDITION = "H3D_CONDITION"
CAMERAS = "H3D_CAMERAS"
PAINT_MODEL = "H3D_PAINT_MODEL"
DELIGHT_MODEL = "H3D_DELIGHT_MODEL"
OWN_TYPES = (SHAPE_MODEL, SHAPE_VAE, CONDITION, CAMERAS, PAINT_MODEL, DELIGHT_MODEL)


@dataclass(eq=False)
class ShapeVAEHandle:
    """A loaded ShapeVAE with the configs of the file it came from."""

    vae: ShapeVAE
    configs: ShapeModelConfigs
    source: Path

    @property
    def scale_factor(self) -> float:
        return self.vae.config.scale_factor


@dataclass(eq=False)
class ShapeCondition:
    """Condition tokens ``[B, tokens, width]`` for the DiT, and the views they came from."""

    context: Tensor
    views: tuple[str, ...]


@dataclass(eq=False)
class H3DVoxel:
    """Occupancy logits ``[B, R+1, R+1, R+1]`` (x, y, z order; NaN where undecoded) over
    the cube ``[-bounds, bounds]^3``. ``.data`` is ComfyUI's VOXEL view of them."""

    logits: Tensor
    bounds: float = DEFAULT_BOUNDS

    @property
    def data(self) -> Tensor:
        return grid_to_comfy_voxels(self.logits)


def voxel_logits(voxel: Any) -> tuple[Tensor, float]:
    """Logits and bounds of our VOXEL, or of ComfyUI's (decoded over the release's cube)."""
    if isinstance(voxel, H3DVoxel):
        return voxel.logits, voxel.bounds
    data = getattr(voxel, "data", None)
    if not isinstance(data, Tensor):
        raise ValueError(
            f"Expected a VOXEL (an object with a .data tensor), got {type(voxel).__name__}."
        )
    return grid_from_comfy_voxels(data), DEFAULT_BOUNDS


@dataclass(eq=False)
class H3DMesh:
    """A batch of meshes. ``.vertices`` / ``.faces`` are ComfyUI's MESH view (padded to
    equal counts); ``.meshes`` keeps each mesh exactly, with its UVs, normals and texture."""

    meshes: list[Mesh]

    def __post_init__(self) -> None:
        if not self.meshes:
            raise ValueError("A MESH needs at least one mesh.")
        self.vertices, self.faces = pad_mesh_batch(self.meshes)

    @classmethod
    def of(cls, meshes: Sequence[Mesh]) -> "H3DMesh":
        return cls(list(meshes))


def as_meshes(mesh: Any) -> list[Mesh]:
    """The meshes of our MESH, or of ComfyUI's (only ``.vertices`` and ``.faces``)."""
    if isinstance(mesh, H3DMesh):
        return list(mesh.meshes)
    vertices = getattr(mesh, "vertices", None)
    faces = getattr(mesh, "faces", None)
    if not isinstance(vertices, Tensor) or not isinstance(faces, Tensor):
        raise ValueError(
            f"Expected a MESH (an object with .vertices and .faces tensors), got {type(mesh).__name__}."
        )
    return meshes_from_batch(vertices, faces)


def on_intermediate_device(tensor: Tensor) -> Tensor:
    """Results handed to other nodes live on the CPU, as ComfyUI's own do, so a model's
    GPU memory is not pinned by values cached between runs."""
    return tensor.detach().to(device="cpu", dtype=torch.float32)
