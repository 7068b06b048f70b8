"""Rasterise a mesh in UV space: which triangle, and where in it, each texel lies.

Drawing the mesh with clip positions ``(u * 2 - 1, v * 2 - 1, 0, 1)`` makes the
rasterizer's pixels the texture's texels, so baking and inpainting get every texel's
3D position and normal by interpolation, with no hole between neighbouring texels.

Texel ``(row r, column c)`` of the texture image (row 0 at the top, the trimesh/glTF
convention) has its centre at ``u = (c + 0.5) / T`` and ``v = 1 - (r + 0.5) / T``; the
rasterizer's row 0 is ``v`` near 0, so rows are flipped on the way out.

At 4096 texels a whole-texture rasterization holds ~400 MB (face index, barycentrics,
depth); the texture is therefore drawn in horizontal bands of at most ``band_texels``
texels, each band only with the faces that reach it, which bounds memory at any size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..render.rasterizer import Rasterizer

DEFAULT_BAND_TEXELS = 1 << 21


@dataclass(frozen=True, eq=False)
class TexelBand:
    """Covered texels of one band: flat indices into the ``[T, T]`` texture image
    (row-major, row 0 at the top), their face and barycentrics, all on one device."""

    texels: torch.Tensor
    faces: torch.Tensor
    barycentrics: torch.Tensor

    def interpolate(self, attributes: torch.Tensor, mesh_faces: torch.Tensor) -> torch.Tensor:
        """Per-vertex ``[V, C]`` values at these texels, ``[n, C]``."""
        corners = mesh_faces.index_select(0, self.faces)
        weights = self.barycentrics.to(attributes.dtype)
        result = weights[:, :1] * attributes.index_select(0, corners[:, 0])
        for corner in (1, 2):
            result = result + weights[:, corner:corner + 1] * attributes.index_select(
                0, corners[:, corner]
            )
        return result

    def split(self, size: int) -> Iterator["TexelBand"]:
        for start in range(0, self.texels.shape[0], size):
            end = start + size
            yield TexelBand(self.texels[start:end], self.faces[start:end],
                            self.barycentrics[start:end])


def texel_bands(
    uvs: torch.Tensor,
    faces: torch.Tensor,
    texture_size: int,
    rasterizer: Rasterizer,
    band_texels: int = DEFAULT_BAND_TEXELS,
) -> Iterator[TexelBand]:
    """Covered texels of a ``texture_size`` square texture, band by band.

    ``uvs`` ``[V, 2]`` float and ``faces`` ``[F, 3]`` int64 on the device to work on.
    """
    size = int(texture_size)
    rows_per_band = max(1, band_texels // size)
    u, v = uvs[:, 0].to(torch.float32), uvs[:, 1].to(torch.float32)
    face_v = v[faces]  # [F, 3]
    face_low = face_v.amin(dim=1) * size
    face_high = face_v.amax(dim=1) * size
    for first_row in range(0, size, rows_per_band):
        rows = min(rows_per_band, size - first_row)
        # one texel of margin: a face whose v-range ends just outside the band cannot
        # cover a texel centre inside it, and the margin keeps rounding on the safe side
        reaching = (face_high >= first_row - 1) & (face_low <= first_row + rows + 1)
        face_ids = reaching.nonzero().squeeze(1)
        if face_ids.numel() == 0:
            continue
        band = _rasterize_band(u, v, faces, face_ids, size, first_row, rows, rasterizer)
        if band.texels.numel():
            yield band


def _rasterize_band(u, v, faces, face_ids, size, first_row, rows, rasterizer) -> TexelBand:
    """One band's covered texels; its full-band temporaries are freed on return, so
    only the covered texels stay alive while the caller works on them."""
    clip = torch.stack(
        [u * 2 - 1, (v * size - first_row) * (2.0 / rows) - 1,
         torch.zeros_like(u), torch.ones_like(u)], dim=1,
    )
    rast = rasterizer.rasterize(clip, faces.index_select(0, face_ids), (rows, size))
    face_index = rast.face_index.reshape(-1).to(faces.device)
    covered = (face_index >= 0).nonzero().squeeze(1)
    image_row = size - 1 - (first_row + covered // size)
    return TexelBand(
        texels=image_row * size + covered % size,
        faces=face_ids.index_select(0, face_index.index_select(0, covered)),
        barycentrics=rast.barycentrics.reshape(-1, 3).to(faces.device).index_select(0, covered),
    )


def chart_mask(uvs: torch.Tensor, faces: torch.Tensor, texture_size: int,
               rasterizer: Rasterizer) -> np.ndarray:
    """``[T, T]`` bool: texels whose centre lies inside some UV triangle."""
    mask = torch.zeros(texture_size * texture_size, dtype=torch.bool, device=faces.device)
    for band in texel_bands(uvs, faces, texture_size, rasterizer):
        mask[band.texels] = True
    return mask.view(texture_size, texture_size).cpu().numpy()
