"""One triangle-rasterizer interface with interchangeable backends.

Geometry maps and texture baking need "which triangle is visible at each pixel, and
where inside it". nvdiffrast answers that fastest but needs CUDA and a compile step; the
pure PyTorch backend runs anywhere. Both follow nvdiffrast's conventions, so callers never
care which one ran:

- Input positions are clip space ``(x, y, z, w)``; NDC is ``(x, y, z) / w``.
- Pixel ``(row i, column j)`` samples NDC ``x = (j + 0.5) / W * 2 - 1`` and
  ``y = (i + 0.5) / H * 2 - 1``: row 0 is the bottom of NDC (OpenGL memory order).
- Depth is NDC ``z / w``; smaller is nearer. Only ``-1 <= z/w <= 1`` and ``w > 0`` is
  drawn (the view frustum clips triangles).
- Barycentrics ``(u, v, w)`` weight the face's first, second and third vertex; they are
  perspective-correct, so interpolating clip-space-linear attributes is exact.
- Empty pixels have face index -1 and zero barycentrics and depth.
- Fill rule (who owns a pixel centre lying exactly on an edge), in pixel coordinates with
  rows growing with NDC y: the triangle on the +x side of a non-horizontal edge, and the
  triangle on the +y side (higher row index) of a horizontal edge. nvdiffrast's CUDA
  rasterizer implements this with vertices snapped to 1/16 pixel, and so does the
  PyTorch backend, so a mesh's shared edges are drawn once: no gaps, no double coverage.
- On exactly equal depth the face with the higher index wins (nvdiffrast draws faces in
  order and a later fragment of equal depth overwrites).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Iterator

import torch

NVDIFFRAST_PIP_COMMAND = "pip install diffrp-nvdiffrast"
RASTERIZER_NAMES = ("auto", "torch", "nvdiffrast")


class RasterizerUnavailableError(RuntimeError):
    """The requested backend cannot run here (missing package or no CUDA device)."""


@dataclass(frozen=True, eq=False)
class Rasterization:
    """Per-pixel visibility: ``[..., H, W]`` (a leading batch axis iff the input had one).

    ``face_index`` is int64 (-1 where empty); ``barycentrics`` ``[..., H, W, 3]`` and
    ``depth`` (NDC ``z / w``) are float32.
    """

    face_index: torch.Tensor
    barycentrics: torch.Tensor
    depth: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        return self.face_index >= 0

    @property
    def resolution(self) -> tuple[int, int]:
        return tuple(self.face_index.shape[-2:])


@dataclass(frozen=True, eq=False)
class RasterInputs:
    """Checked rasterizer inputs: ``vertices`` ``[B, V, 4]`` float32, ``faces`` ``[F, 3]``
    int64 on the vertices' device; ``batched`` says whether the caller passed a batch."""

    vertices: torch.Tensor
    faces: torch.Tensor
    height: int
    width: int
    batched: bool


def check_faces(faces: torch.Tensor, vertex_count: int, device: torch.device) -> torch.Tensor:
    """Faces as int64 ``[F, 3]`` on ``device``, with every index inside the vertex range."""
    if not isinstance(faces, torch.Tensor):
        raise TypeError(f"faces must be a torch.Tensor, got {type(faces).__name__}.")
    if faces.dtype.is_floating_point or faces.dtype.is_complex or faces.dtype == torch.bool:
        raise ValueError(f"faces must hold integer vertex indices, got dtype {faces.dtype}.")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape [F, 3], got {list(faces.shape)}.")
    if faces.shape[0] == 0:
        raise ValueError("faces is empty: there is no triangle to rasterize.")
    faces = faces.to(device=device, dtype=torch.int64)
    low, high = int(faces.min()), int(faces.max())
    if low < 0 or high >= vertex_count:
        raise ValueError(
            f"faces index vertices {low}..{high}, but there are only {vertex_count} "
            f"vertices (valid indices 0..{vertex_count - 1})."
        )
    return faces


def check_raster_inputs(
    vertices_clip: torch.Tensor, faces: torch.Tensor, resolution: tuple[int, int]
) -> RasterInputs:
    """Validate once, so a user mistake fails here with a message instead of in a kernel."""
    if not isinstance(vertices_clip, torch.Tensor):
        raise TypeError(
            f"vertices_clip must be a torch.Tensor, got {type(vertices_clip).__name__}."
        )
    if vertices_clip.ndim not in (2, 3) or vertices_clip.shape[-1] != 4:
        raise ValueError(
            "vertices_clip must be clip-space positions of shape [V, 4] or [B, V, 4], got "
            f"{list(vertices_clip.shape)}."
        )
    if not vertices_clip.dtype.is_floating_point:
        raise ValueError(f"vertices_clip must be floating point, got {vertices_clip.dtype}.")
    batched = vertices_clip.ndim == 3
    vertices = (vertices_clip if batched else vertices_clip[None]).to(torch.float32)
    if vertices.shape[0] == 0:
        raise ValueError("vertices_clip has an empty batch: nothing to rasterize.")
    bad = ~torch.isfinite(vertices).all(dim=-1)
    if bad.any():
        first = bad.nonzero()[0].tolist()
        where = f"batch {first[0]}, vertex {first[1]}" if batched else f"vertex {first[1]}"
        raise ValueError(
            f"vertices_clip contains NaN or infinite values (first at {where}); repair "
            "the mesh or the camera matrices before rasterizing."
        )
    try:
        height, width = (int(size) for size in resolution)
    except (TypeError, ValueError) as error:
        raise ValueError(f"resolution must be (height, width), got {resolution!r}.") from error
    if height <= 0 or width <= 0:
        raise ValueError(f"resolution must be positive, got {(height, width)}.")
    faces = check_faces(faces, vertices.shape[1], vertices.device)
    return RasterInputs(vertices.contiguous(), faces, height, width, batched)


INTERPOLATION_CHUNK = 1 << 17


def interpolate_chunks(
    attributes: torch.Tensor,
    rast: Rasterization,
    faces: torch.Tensor,
    chunk_size: int = INTERPOLATION_CHUNK,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Attributes at covered pixels only, a chunk at a time: flat pixel indices ``[n]``
    into the ``[..., H, W]`` grid and their values ``[n, C]``.

    ``attributes`` is ``[V, C]``, or ``[B, V, C]`` with one set per image. Small chunks
    keep the temporaries in the CPU cache, which is several times faster than one pass
    over millions of pixels; callers that paint onto their own background (geometry
    maps) also skip a full-size temporary.
    """
    if not isinstance(attributes, torch.Tensor) or attributes.ndim not in (2, 3):
        shape = list(attributes.shape) if isinstance(attributes, torch.Tensor) else type(attributes)
        raise ValueError(f"attributes must be a tensor [V, C] or [B, V, C], got {shape}.")
    face_index = rast.face_index.to(attributes.device)
    batch = face_index.shape[0] if face_index.ndim == 3 else 1
    if attributes.ndim == 3:
        if face_index.ndim != 3:
            raise ValueError(
                "attributes have a batch axis but the rasterization does not; pass [V, C]."
            )
        if attributes.shape[0] not in (1, batch):
            raise ValueError(
                f"attributes batch {attributes.shape[0]} does not match the rasterization "
                f"batch {batch}."
            )
    vertex_count, channels = attributes.shape[-2:]
    faces = check_faces(faces, vertex_count, attributes.device)
    return _interpolated_chunks(attributes, face_index, rast.barycentrics, faces, chunk_size)


def _interpolated_chunks(attributes, face_index, barycentrics, faces, chunk_size):
    vertex_count, channels = attributes.shape[-2:]
    per_image = attributes.ndim == 3 and attributes.shape[0] > 1
    flat_face = face_index.reshape(-1)
    pixels_per_image = flat_face.numel() // (face_index.shape[0] if face_index.ndim == 3 else 1)
    barycentrics = barycentrics.to(attributes.device, attributes.dtype).reshape(-1, 3)
    # Channels-first keeps every multiply a contiguous [n] x [n] operation, and
    # index_select is several times faster than advanced indexing on CPU.
    table = attributes.reshape(-1, channels).T.contiguous()
    corner_table = faces.T.contiguous()  # [3, F]
    for pixels in (flat_face >= 0).nonzero().squeeze(1).split(chunk_size):
        corners = corner_table.index_select(1, flat_face.index_select(0, pixels))  # [3, n]
        if per_image:
            corners = corners + (pixels // pixels_per_image) * vertex_count
        weights = barycentrics.index_select(0, pixels).T
        values = weights[0] * table.index_select(1, corners[0])
        for corner in (1, 2):
            values = values + weights[corner] * table.index_select(1, corners[corner])
        yield pixels, values.T


def interpolate(
    attributes: torch.Tensor, rast: Rasterization, faces: torch.Tensor
) -> torch.Tensor:
    """Per-vertex attributes ``[V, C]`` (or ``[B, V, C]``) to per-pixel ``[..., H, W, C]``.

    Empty pixels get zeros, as in nvdiffrast. Differentiable with respect to
    ``attributes`` (the visibility itself is not).
    """
    shape = rast.face_index.shape
    result = attributes.new_zeros(shape.numel(), attributes.shape[-1])
    for pixels, values in interpolate_chunks(attributes, rast, faces):
        result[pixels] = values
    return result.reshape(*shape, attributes.shape[-1])


class Rasterizer(ABC):
    """A backend: ``rasterize`` is backend specific, ``interpolate`` is shared."""

    name: str

    @abstractmethod
    def rasterize(
        self, vertices_clip: torch.Tensor, faces: torch.Tensor, resolution: tuple[int, int]
    ) -> Rasterization:
        """Clip-space ``[V, 4]`` or ``[B, V, 4]`` positions to per-pixel visibility."""

    def interpolate(
        self, attributes: torch.Tensor, rast: Rasterization, faces: torch.Tensor
    ) -> torch.Tensor:
        return interpolate(attributes, rast, faces)


def nvdiffrast_available(device: torch.device | str) -> bool:
    """True when nvdiffrast is installed and ``device`` is a usable CUDA device."""
    device = torch.device(device)
    return (
        device.type == "cuda"
        and torch.cuda.is_available()
        and find_spec("nvdiffrast") is not None
    )


def get_rasterizer(name: str = "auto", device: torch.device | str = "cpu") -> Rasterizer:
    """Pick a backend: ``"auto"`` takes nvdiffrast when it can run on ``device``."""
    if name not in RASTERIZER_NAMES:
        raise ValueError(
            f"Unknown rasterizer {name!r}; choose one of {', '.join(RASTERIZER_NAMES)}."
        )
    device = torch.device(device)
    if name == "nvdiffrast" or (name == "auto" and nvdiffrast_available(device)):
        from .nvdiffrast_rasterizer import NvdiffrastRasterizer

        return NvdiffrastRasterizer(device)
    from .torch_rasterizer import TorchRasterizer

    return TorchRasterizer()
