"""Conditioning images for training: a shape rendered the way the shape model sees it.

The DiT learns "image -> latent" pairs, so the images must show the shape in the pose
that the released pipeline assumes: the Paint stage's orbit cameras (``render/cameras``)
on the mesh in its own frame, with azimuth 0 / elevation 0 the front view the shape
model is conditioned on. With the release's axis change and cameras, the rasterizer's
row order is already the upright picture (``+y`` of the shape at the top, ``+x`` to the
right, seen from ``+z``; see ``render/geometry_maps``), so no flip is needed.

Flat Lambert shading from a light fixed to the camera (above, left, in front) plus
ambient makes faces of different orientation differ in brightness, so the silhouette's
inside reads as 3-D, as in a photo; alpha is the silhouette, RGB is white outside it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..geometry.face_geometry import face_normals_and_areas
from ..geometry.mesh import Mesh
from ..render.cameras import orbit_cameras
from ..render.normalization import mesh_in_render_frame, to_render_axes
from ..render.torch_rasterizer import TorchRasterizer

AMBIENT = 0.35
DIFFUSE = 0.65
# Camera axes: x right, -y up in the image (rows run from the top), +z towards the viewer.
_LIGHT_IN_CAMERA = np.array([-0.4, -0.6, 0.7]) / np.linalg.norm([-0.4, -0.6, 0.7])

DEFAULT_COLOUR = (0.8, 0.8, 0.8)


def _check_options(size: int, colour: Sequence[float]) -> np.ndarray:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}.")
    colour = np.asarray(colour, dtype=np.float32)
    if colour.shape != (3,) or colour.min() < 0 or colour.max() > 1:
        raise ValueError(f"colour must be three values in 0..1, got {colour.tolist()}.")
    return colour


def render_condition_images(mesh: Mesh, poses: Sequence[tuple[float, float]], *,
                            size: int = 512, colour: Sequence[float] = DEFAULT_COLOUR,
                            colours: Sequence[Sequence[float]] | None = None
                            ) -> list[np.ndarray]:
    """``render_condition_image`` for several ``(azimuth, elevation)`` poses at once
    (the mesh is prepared and rasterized once for all of them), all in ``colour`` or
    each in its own entry of ``colours``."""
    if mesh.is_empty:
        raise ValueError("Cannot render a mesh without faces.")
    if colours is not None and len(colours) != len(poses):
        raise ValueError(f"colours has {len(colours)} entries for {len(poses)} poses.")
    if colours is None:
        view_colours = [torch.from_numpy(_check_options(size, colour))] * len(poses)
    else:
        view_colours = [torch.from_numpy(_check_options(size, c)) for c in colours]
    if not poses:
        return []
    vertices, faces, _ = mesh_in_render_frame(mesh)
    cameras = orbit_cameras([pose[0] for pose in poses], [pose[1] for pose in poses])
    face_index = TorchRasterizer().rasterize(cameras.to_clip(vertices), faces,
                                             (size, size)).face_index
    # A reflection (the axis change) maps normals like any other vector.
    face_normals, _ = face_normals_and_areas(mesh.vertices, mesh.faces)
    normals = to_render_axes(torch.from_numpy(face_normals.astype(np.float32)))
    light = torch.from_numpy(_LIGHT_IN_CAMERA.astype(np.float32))
    images = []
    for view in range(len(poses)):
        in_camera = normals @ cameras.world_to_camera[view, :3, :3].T
        shade = AMBIENT + DIFFUSE * (in_camera @ light).clamp(min=0)
        visible = face_index[view] >= 0
        rgb = torch.ones(size, size, 3)
        rgb[visible] = (shade[face_index[view][visible], None] * view_colours[view]).clamp(0, 1)
        image = np.empty((size, size, 4), dtype=np.uint8)
        image[..., :3] = np.round(rgb.numpy() * 255).astype(np.uint8)
        image[..., 3] = np.where(visible.numpy(), 255, 0).astype(np.uint8)
        images.append(image)
    return images


def render_condition_image(mesh: Mesh, *, azimuth: float, elevation: float, size: int = 512,
                           colour: Sequence[float] = DEFAULT_COLOUR) -> np.ndarray:
    """``[size, size, 4]`` RGBA uint8 of ``mesh`` (faces wound outward) seen from the
    orbit pose ``(azimuth, elevation)`` in degrees, orthographic, filling the release's
    render frame (the mesh is centred and scaled as the texture stage does)."""
    return render_condition_images(mesh, [(azimuth, elevation)], size=size, colour=colour)[0]
