"""The normal and position images the Paint 2.1 (PBR) multiview model is conditioned on
(docs/release_conventions_2_1.md, section 19).

What the release feeds the model (``textureGenPipeline`` -> ``MeshRender.render_normal``
with ``use_abs_coor=True`` and ``render_position``, then ``multiviewDiffusionNet``):

- the maps are rendered at the renderer's ``render_size`` (2048), not at the view size;
- normals are the world-space (renderer frame) unit normals of each pixel's *triangle*
  (2.1's renderer shades per face, 2.0's per vertex), shown as ``(n + 1) / 2``;
  positions ``0.5 - v / 1.15`` interpolated per pixel, as in 2.0; white background; no
  anti-aliasing (the release's rasterizer has none);
- each map becomes an 8-bit image by truncation (``(x * 255).astype(uint8)``), and the
  model resizes it to the view size (512 or 768) with PIL's default filter, bicubic,
  which averages the 2048-pixel render down (soft silhouettes and normal edges).

This module reproduces those steps with this project's rasterizer, so the images differ
from the release's only where the rasterizers disagree about a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .cameras import CameraSet
from .geometry_maps import render_geometry_maps
from .normalization import RELEASED_SCALE_FACTOR
from .rasterizer import Rasterizer

RELEASED_RENDER_SIZE = 2048
"""The size the release renders the views it bakes from (2.0 projection and Paint 2.1 alike)."""
RELEASED_VIEW_SIZES = (512, 768)


@dataclass(frozen=True, eq=False)
class ConditionMaps:
    """``normal`` and ``position`` ``[N, S, S, 3]`` float32 in 0..1, exactly the 8-bit
    levels the model reads (``uint8 / 255``), rows top to bottom as the model gets them."""

    normal: torch.Tensor
    position: torch.Tensor


def _to_model_image(maps: torch.Tensor, view_size: int) -> torch.Tensor:
    """Truncate to 8 bits and resize each view with PIL's bicubic filter, as released
    (a view at a time: no full-size temporaries beside the maps)."""
    images = []
    for view in maps:
        levels = (view.cpu().numpy() * 255).astype(np.uint8)
        if levels.shape[0] != view_size:
            levels = np.asarray(Image.fromarray(levels).resize((view_size, view_size),
                                                               Image.BICUBIC))
        images.append(torch.from_numpy(levels.astype(np.float32) / 255.0))
    return torch.stack(images)


def render_pbr_condition_maps(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    cameras: CameraSet,
    view_size: int = RELEASED_VIEW_SIZES[0],
    *,
    render_size: int | None = RELEASED_RENDER_SIZE,
    rasterizer: Rasterizer | None = None,
    scale_factor: float = RELEASED_SCALE_FACTOR,
) -> ConditionMaps:
    """Normal and position images for every camera at ``view_size``.

    ``vertices`` ``[V, 3]`` are in the normalised renderer frame (``normalize_for_render``).
    ``render_size`` is the size rendered before resizing (None: render at ``view_size``,
    cheaper on a CPU, with hard pixel edges the release never shows the model).
    """
    if view_size < 8:
        raise ValueError(f"view_size must be at least 8 pixels, got {view_size}.")
    render_size = view_size if render_size is None else render_size
    if render_size < view_size:
        raise ValueError(
            f"render_size ({render_size}) must be at least view_size ({view_size}); the "
            "release renders at 2048 and shrinks to the view size."
        )
    maps = render_geometry_maps(vertices, faces, cameras, render_size, rasterizer,
                                scale_factor, flat_normals=True)
    return ConditionMaps(_to_model_image(maps.normal, view_size),
                         _to_model_image(maps.position, view_size))
