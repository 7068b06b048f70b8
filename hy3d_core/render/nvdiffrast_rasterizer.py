"""nvdiffrast backend: the fastest choice on an NVIDIA GPU.

PyPI ``diffrp-nvdiffrast`` ships nvdiffrast's sources and compiles its CUDA extension the
first time it is used (a minute or two, needs a CUDA toolkit matching PyTorch). Its
output ``(u, v, z/w, triangle_id + 1)`` is converted to the shared ``Rasterization``.
"""

from __future__ import annotations

from importlib.util import find_spec

import torch

from .rasterizer import (
    NVDIFFRAST_PIP_COMMAND,
    Rasterization,
    Rasterizer,
    RasterizerUnavailableError,
    check_raster_inputs,
)

_EXACT_FLOAT_LIMIT = 1 << 24


class NvdiffrastRasterizer(Rasterizer):
    """Rasterizes with nvdiffrast's CUDA rasterizer on ``device`` (a CUDA device)."""

    name = "nvdiffrast"

    def __init__(self, device: torch.device | str = "cuda") -> None:
        device = torch.device(device)
        if find_spec("nvdiffrast") is None:
            raise RasterizerUnavailableError(
                "The nvdiffrast rasterizer is not installed. Install it with "
                f"`{NVDIFFRAST_PIP_COMMAND}` (it compiles on first use and needs CUDA), "
                "or use the 'torch' rasterizer, which needs nothing extra."
            )
        if device.type != "cuda" or not torch.cuda.is_available():
            raise RasterizerUnavailableError(
                f"The nvdiffrast rasterizer needs a CUDA device, but the device is {device} "
                f"(CUDA available: {torch.cuda.is_available()}). Use the 'torch' rasterizer "
                "on this device."
            )
        self.device = device
        self._context = None

    def _rasterizer_context(self):
        if self._context is None:
            import nvdiffrast.torch as dr

            self._context = dr.RasterizeCudaContext(device=self.device)
        return self._context

    @torch.no_grad()
    def rasterize(
        self, vertices_clip: torch.Tensor, faces: torch.Tensor, resolution: tuple[int, int]
    ) -> Rasterization:
        import nvdiffrast.torch as dr

        inputs = check_raster_inputs(vertices_clip, faces, resolution)
        if inputs.faces.shape[0] >= _EXACT_FLOAT_LIMIT:
            raise ValueError(
                f"nvdiffrast reports face ids as float32, exact below {_EXACT_FLOAT_LIMIT} "
                f"faces; this mesh has {inputs.faces.shape[0]}. Simplify it or use the "
                "'torch' rasterizer."
            )
        output, _ = dr.rasterize(
            self._rasterizer_context(),
            inputs.vertices.to(self.device).contiguous(),
            inputs.faces.to(device=self.device, dtype=torch.int32).contiguous(),
            resolution=[inputs.height, inputs.width],
            grad_db=False,
        )
        face_index = output[..., 3].to(torch.int64) - 1
        u, v = output[..., 0], output[..., 1]
        covered = face_index >= 0
        w = torch.where(covered, 1.0 - u - v, torch.zeros_like(u))
        barycentrics = torch.stack([u, v, w], dim=-1)
        depth = output[..., 2]
        if not inputs.batched:
            face_index, barycentrics, depth = face_index[0], barycentrics[0], depth[0]
        return Rasterization(face_index, barycentrics, depth)
