"""PoseRoPE: 3D rotary position embeddings for the multiview attention of Paint PBR (2.1).

Tokens of different views that see the same surface point should attend to each other.
The 2.1 release tells the multiview attention where each token lies on the object: the
rendered position map is averaged per latent cell, quantised to a voxel grid, and the
voxel's (x, y, z) indices rotate query and key channels like 1-D RoPE does for text
positions. Indices are computed once per generation for every latent resolution the
UNet attends at; the tables for a head width are built from them on first use.

The quantisation is done in float16, as released, so the integer indices (and with them
the rotations the model was trained with) come out the same (docs/release_conventions_2_1.md,
section 13).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

ROPE_THETA = 10000.0
POSITION_LEVELS = 4
"""Latent resolutions that get indices: h, h/2, h/4, h/8 (the UNet's attention levels)."""

VOXELS_PER_CELL = 8
"""Voxel resolution of the finest level, per latent cell: 8h voxels along each axis at h."""


@dataclass
class VoxelLevel:
    """Voxel indices of every latent cell of one resolution, and the tables built from them.

    ``indices`` is ``[B, N * g * g, 3]`` int64 in ``0 .. resolution - 1``, tokens ordered
    (view, row, column) like the multiview attention's token sequence.
    """

    indices: torch.Tensor
    resolution: int
    tables: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def rope(self, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos, sin)`` ``[B, tokens, head_dim]`` float32 for this level, built once per head width."""
        if head_dim not in self.tables:
            self.tables[head_dim] = rope_tables(self.indices, self.resolution, head_dim)
        return self.tables[head_dim]


def position_voxel_levels(position_maps: torch.Tensor, latent_size: int) -> dict[int, VoxelLevel]:
    """Voxel indices per attention resolution, keyed by the multiview sequence length ``N*g*g``.

    ``position_maps`` is ``[B, N, 3, H, W]`` in 0..1 with the background white (1, 1, 1).
    For grid ``g`` in (h, h/2, h/4, h/8) with voxel resolution (8h, 4h, 2h, h): a pixel
    with any channel exactly 1.0 is background and set to 0; each cell's position is the
    mean over its foreground pixels, or 0 when fewer than 1/16 of them are foreground;
    clamped to [0, 1] and scaled to the voxel grid.

    As in the release, background pixels stay zeroed for the coarser levels, where
    (0, 0, 0) counts as foreground (the release zeroes them in the caller's tensor). Here
    a working copy carries that from level to level and the caller's tensor is untouched.
    """
    if position_maps.ndim != 5 or position_maps.shape[2] != 3:
        raise ValueError(f"position maps must be [B, N, 3, H, W]; got {tuple(position_maps.shape)}.")
    height, width = position_maps.shape[-2:]
    working = position_maps.to(torch.float16, copy=True)
    levels: dict[int, VoxelLevel] = {}
    for level in range(POSITION_LEVELS):
        grid = latent_size // 2**level
        if grid < 1:
            break
        if height % grid or width % grid:
            raise ValueError(
                f"position maps of {height}x{width} pixels cannot be split into {grid}x{grid} cells; "
                "render them at the view size (a multiple of 8 times the latent size)."
            )
        resolution = VOXELS_PER_CELL * latent_size // 2**level
        indices = _voxel_indices(working, grid, resolution)
        levels[indices.shape[1]] = VoxelLevel(indices, resolution)
    return levels


def _voxel_indices(working: torch.Tensor, grid: int, resolution: int) -> torch.Tensor:
    """One level of :func:`position_voxel_levels`; zeroes ``working``'s background in place."""
    batch, views, channels, height, width = working.shape
    background = (working == 1).any(dim=2, keepdim=True)
    working.masked_fill_(background, 0)
    foreground = (~background).expand_as(working)
    cell_h, cell_w = height // grid, width // grid

    def cells(x: torch.Tensor) -> torch.Tensor:
        # [B, N, C, g, ch, g, cw] -> [B, N, g, g, C, ch, cw]: sum over the cell's pixels last
        return x.reshape(batch, views, channels, grid, cell_h, grid, cell_w).permute(0, 1, 3, 5, 2, 4, 6)

    totals = cells(working).sum(dim=(-2, -1))
    counts = cells(foreground).sum(dim=(-2, -1))
    means = totals / counts.clamp(min=1)
    means[counts < cell_h * cell_w // 16] = 0
    means = means.permute(0, 1, 4, 2, 3).clamp(0, 1)
    indices = torch.round(means * (resolution - 1)).long()
    return indices.permute(0, 1, 3, 4, 2).reshape(batch, views * grid * grid, channels)


def rope_tables(indices: torch.Tensor, resolution: int, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cos, sin)`` ``[B, L, head_dim]`` for voxel indices ``[B, L, 3]``.

    The head's channels are split 3:3:2 between x, y and z; each part is a 1-D RoPE table
    over the integer voxel positions (frequencies ``theta^(-2i/dim)``, each angle used for
    a pair of adjacent channels).
    """
    check_rope_head_dim(head_dim)
    dim_xy, dim_z = head_dim // 8 * 3, head_dim // 8 * 2
    positions = torch.arange(resolution, dtype=torch.float32, device=indices.device)
    xy_cos, xy_sin = _rope_1d(dim_xy, positions)
    z_cos, z_sin = _rope_1d(dim_z, positions)
    x, y, z = indices.unbind(-1)
    cos = torch.cat([xy_cos[x], xy_cos[y], z_cos[z]], dim=-1)
    sin = torch.cat([xy_sin[x], xy_sin[y], z_sin[z]], dim=-1)
    return cos, sin


def check_rope_head_dim(head_dim: int) -> None:
    """PoseRoPE splits a head 3:3:2 into even parts, so its width must be a multiple of 16."""
    if head_dim % 16:
        raise ValueError(
            f"PoseRoPE needs attention heads whose width is a multiple of 16; this UNet has {head_dim}. "
            "The Paint PBR UNet config (attention_head_dim, block_out_channels) does not fit the model."
        )


def _rope_1d(dim: int, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    frequencies = 1.0 / (ROPE_THETA ** (torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim))
    angles = torch.outer(positions, frequencies)
    return angles.cos().repeat_interleave(2, dim=1), angles.sin().repeat_interleave(2, dim=1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` ``[B, heads, L, d]`` by tables ``[B or 1, L, d]``; pairs (x0, x1) -> (-x1, x0).

    Computed in float32 and returned in ``x``'s dtype.
    """
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)
    return (x.float() * cos.unsqueeze(1) + rotated.float() * sin.unsqueeze(1)).to(x.dtype)
