"""Fill the texels no view painted, the release's way: first over the mesh, then in UV.

1. Vertex colours: each vertex takes the mean of the painted texels around it
   (weighted by the texel's barycentric weight for that vertex), on the welded
   surface so both sides of a seam share it.
2. Propagation: vertices without colour take the inverse-square-distance weighted mean
   of coloured neighbours, ring by ring, until colour stops spreading (as the release
   does, but the whole ring at once, so the result does not depend on vertex order).
3. The vertex colours are rasterised into the unpainted texels inside the charts (the
   release writes them into one texel per vertex only, leaving the rest to step 4).
4. What is left inside the charts (parts of the surface colour could not reach) is
   filled with OpenCV's Navier-Stokes inpainting (radius 3, as released).
5. Texels outside every chart take the colour of the nearest chart texel, so bilinear
   and mip-mapped lookups at a chart's border never reach the empty background.
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..geometry.welding import WeldedSurface, weld_vertices
from ..render.rasterizer import get_rasterizer
from ..sampling.progress import Progress
from .surface_topology import check_texturable_mesh
from .uv_raster import texel_bands

INPAINT_RADIUS = 3
_MIN_EDGE_LENGTH = 1e-4


def _check_texture(texture, coverage) -> tuple[np.ndarray, np.ndarray]:
    texture = np.asarray(texture.cpu() if isinstance(texture, torch.Tensor) else texture)
    coverage = np.asarray(coverage.cpu() if isinstance(coverage, torch.Tensor) else coverage)
    if texture.ndim != 3 or texture.shape[2] != 3 or texture.shape[0] != texture.shape[1]:
        raise ValueError(
            f"texture must be a square RGB image [T, T, 3], got {list(texture.shape)}."
        )
    if coverage.shape != texture.shape[:2]:
        raise ValueError(
            f"coverage must be [T, T] = {list(texture.shape[:2])}, got {list(coverage.shape)}."
        )
    texture = texture.astype(np.float32)
    if not np.isfinite(texture).all():
        raise ValueError("texture contains NaN or infinite values.")
    coverage = coverage > 0.5 if coverage.dtype != bool else coverage
    if not coverage.any():
        raise ValueError(
            "No texel is covered: there is nothing to inpaint from. Bake at least one view "
            "that sees the mesh first."
        )
    return np.clip(texture, 0.0, 1.0), coverage


def propagate_vertex_colours(surface: WeldedSurface, colours: np.ndarray,
                             coloured: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spread colours ``[W, C]`` from ``coloured`` welded vertices to their uncoloured
    neighbours, a ring at a time; returns the new colours and coloured mask."""
    colours, coloured = colours.copy(), coloured.copy()
    edges = surface.edges
    lengths = np.linalg.norm(surface.vertices[edges[:, 0]] - surface.vertices[edges[:, 1]], axis=1)
    weights = 1.0 / np.maximum(lengths, _MIN_EDGE_LENGTH) ** 2
    # both directions, so each ring only needs "from coloured to uncoloured"
    sources = np.concatenate([edges[:, 0], edges[:, 1]])
    targets = np.concatenate([edges[:, 1], edges[:, 0]])
    weights = np.concatenate([weights, weights])
    while True:
        open_edges = ~coloured[targets]
        sources, targets, weights = sources[open_edges], targets[open_edges], weights[open_edges]
        frontier = coloured[sources]
        if not frontier.any():
            return colours, coloured
        source, target, weight = sources[frontier], targets[frontier], weights[frontier]
        total = np.bincount(target, weights=weight, minlength=len(coloured))
        reached = total > 0
        for channel in range(colours.shape[1]):
            summed = np.bincount(target, weights=weight * colours[source, channel],
                                 minlength=len(coloured))
            colours[reached, channel] = summed[reached] / total[reached]
        coloured |= reached


def nearest_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` with every unknown pixel set to its nearest known pixel's value."""
    from scipy.ndimage import distance_transform_edt

    if known.all():
        return image
    rows, columns = distance_transform_edt(~known, return_distances=False, return_indices=True)
    return image[rows, columns]


def inpaint_texture(
    mesh: Mesh,
    texture,
    coverage,
    *,
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> np.ndarray:
    """``texture`` ``[T, T, 3]`` (float 0..1) with every texel outside ``coverage``
    ``[T, T]`` filled; covered texels are kept as they are. Returns float32."""
    import cv2

    check_texturable_mesh(mesh, need_uvs=True)
    texture, coverage = _check_texture(texture, coverage)
    size = texture.shape[0]
    device = torch.device(device)
    rasterizer = get_rasterizer(backend, device)
    surface = weld_vertices(mesh.vertices, mesh.faces)
    welded_of = torch.from_numpy(surface.welded_of).to(device)
    faces = torch.from_numpy(mesh.faces).to(device)
    uvs = torch.from_numpy(mesh.uvs).to(device)
    flat_texture = torch.from_numpy(texture.reshape(-1, 3)).to(device)
    flat_coverage = torch.from_numpy(coverage.reshape(-1)).to(device)
    welded_count = len(surface.vertices)

    chart = torch.zeros(size * size, dtype=torch.bool, device=device)
    colour_sum = torch.zeros(welded_count, 3, device=device)
    weight_sum = torch.zeros(welded_count, device=device)
    for band in texel_bands(uvs, faces, size, rasterizer):
        chart[band.texels] = True
        painted = flat_coverage.index_select(0, band.texels)
        colours = flat_texture.index_select(0, band.texels[painted])
        corners = welded_of[faces.index_select(0, band.faces[painted])]
        weights = band.barycentrics[painted]
        for corner in range(3):
            weight_sum.index_add_(0, corners[:, corner], weights[:, corner])
            colour_sum.index_add_(0, corners[:, corner], weights[:, corner:corner + 1] * colours)
    _step(progress, 1)

    coloured = (weight_sum > 0).cpu().numpy()
    vertex_colours = (colour_sum / weight_sum.clamp(min=1e-30)[:, None]).cpu().double().numpy()
    vertex_colours, coloured = propagate_vertex_colours(surface, vertex_colours, coloured)
    _step(progress, 2)

    result = flat_texture.clone()
    known = flat_coverage.clone()
    vertex_colours = torch.from_numpy(vertex_colours).to(device=device, dtype=torch.float32)
    coloured = torch.from_numpy(coloured).to(device)
    for band in texel_bands(uvs, faces, size, rasterizer):
        empty = ~flat_coverage.index_select(0, band.texels)
        corners = welded_of[faces.index_select(0, band.faces[empty])]
        weights = band.barycentrics[empty] * coloured[corners].to(torch.float32)
        total = weights.sum(dim=1)
        reached = total > 0
        colours = sum(weights[:, corner:corner + 1] * vertex_colours[corners[:, corner]]
                      for corner in range(3))
        texels = band.texels[empty][reached]
        result[texels] = colours[reached] / total[reached, None]
        known[texels] = True
    _step(progress, 3)

    result = result.view(size, size, 3).cpu().numpy()
    known = known.view(size, size).cpu().numpy()
    chart = chart.view(size, size).cpu().numpy()
    holes = chart & ~known
    if holes.any():
        filled = nearest_fill(result, known)
        pixels = np.round(filled * 255).astype(np.uint8)
        inpainted = cv2.inpaint(pixels, holes.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_NS)
        result[holes] = inpainted[holes].astype(np.float32) / 255
    result = nearest_fill(result, chart | coverage)
    _step(progress, 4)
    return np.ascontiguousarray(np.clip(result, 0.0, 1.0), dtype=np.float32)


def _step(progress: Progress | None, done: int) -> None:
    if progress is not None:
        progress.step(done, 4)
