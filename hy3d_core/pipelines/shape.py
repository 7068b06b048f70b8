"""The shape job: image -> condition -> latents -> occupancy grid -> mesh.

Each stage is a function here, and :func:`generate_shape` is the one chain of them that
the commands, the tools and the tests run; the ComfyUI nodes run the stages one per node.
Every function takes the loaded networks and plain tensors, and reports through a
:class:`~hy3d_core.sampling.progress.Progress`, so the same code runs anywhere. The
settings' defaults are the release's, read from the family table.

Latents cross stage boundaries as the sampler produces them (``[B, num_latents, 64]``,
still multiplied by the VAE's scale factor), which is what the release's pipeline hands
from sampling to decoding and what ``--save-latents`` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..geometry.cleanup import clean_mesh
from ..geometry.mesh import Mesh
from ..geometry.surface import extract_surface
from ..geometry.volume_decoding import (
    DEFAULT_BOUNDS,
    DEFAULT_NUM_CHUNKS,
    PointField,
    decode_dense,
    decode_flashvdm,
    decode_hierarchical,
    flashvdm_top_k,
)
from ..models.conditioner import ImageConditioner
from ..models.dit import HunyuanDiT
from ..models.families import HUNYUAN3D_2_0
from ..models.shape_model import ShapeModel
from ..models.shape_vae import ShapeVAE
from ..devices import side_tensor_dtype
from ..sampling.flow_matching import initial_noise, sample_flow_matching
from ..sampling.progress import Progress

DECODERS = ("dense", "hierarchical", "flashvdm")
RELEASE = HUNYUAN3D_2_0.defaults
FLASHVDM_SELECTION_STRIDE = 50
"""FlashVDM scores latents with every 50th query of a block (the release uses 100 on its
coarsest level and 50 on finer ones): the scoring then costs a fiftieth of the attention."""


@dataclass(frozen=True)
class SamplingSettings:
    """Defaults are the release's pipeline defaults (the demo app uses 30 steps)."""

    steps: int = RELEASE.steps
    guidance: float = RELEASE.guidance
    seed: int = 0
    skip_last_call: bool = False


@dataclass(frozen=True)
class VolumeSettings:
    """How the occupancy field is evaluated; ``top_k`` None picks the release's value."""

    decoder: str = RELEASE.decoder
    octree_resolution: int = RELEASE.octree_resolution
    num_chunks: int = DEFAULT_NUM_CHUNKS
    bounds: float = DEFAULT_BOUNDS
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {self.decoder!r}")
        if not 16 <= self.octree_resolution <= 1024:
            raise ValueError(
                f"octree_resolution must be between 16 and 1024, got {self.octree_resolution}"
            )
        if self.num_chunks < 1:
            raise ValueError(f"num_chunks must be at least 1, got {self.num_chunks}")


@dataclass(frozen=True)
class SurfaceSettings:
    """Marching cubes and clean-up; ``max_faces`` None keeps every face.

    ``close_at_bounds`` caps a shape the grid cuts (the release leaves it open there).
    """

    mc_level: float = 0.0
    release_mapping: bool = True
    close_at_bounds: bool = True
    postprocess: bool = True
    max_faces: int | None = RELEASE.max_faces


def encode_images(conditioner: ImageConditioner, images: Tensor) -> Tensor:
    """Condition tokens for prepared images ``[B, 3, H, W]`` in [-1, 1]."""
    parameter = next(conditioner.parameters())
    with torch.no_grad():
        return conditioner(images.to(parameter.device))


def encode_views(conditioner: ImageConditioner, views: Tensor, view_indices: Sequence[int]) -> Tensor:
    """Condition tokens for prepared views ``[B, V, 3, H, W]`` (multi-view models)."""
    parameter = next(conditioner.parameters())
    with torch.no_grad():
        return conditioner.forward_views(views.to(parameter.device), view_indices)


def sample_latents(
    dit: HunyuanDiT,
    context: Tensor,
    num_latents: int,
    settings: SamplingSettings = SamplingSettings(),
    progress: Progress | None = None,
) -> Tensor:
    """Run the flow-matching sampler from the seeded noise; returns ``[B, num_latents, C]``
    in ``side_tensor_dtype`` of the DiT's dtype."""
    parameter = next(dit.parameters())
    noise = initial_noise(
        context.shape[0], num_latents, dit.config.in_channels, settings.seed,
        side_tensor_dtype(parameter.dtype), parameter.device,
    )
    return sample_flow_matching(
        dit,
        noise,
        context.to(device=parameter.device, dtype=parameter.dtype),
        steps=settings.steps,
        guidance=settings.guidance,
        guidance_embedded=dit.config.guidance_embed,
        skip_last_call=settings.skip_last_call,
        progress=progress,
    )


def latent_field(vae: ShapeVAE, latents: Tensor) -> PointField:
    """A point field over sampled latents: the transformer and the geometry decoder's
    keys/values run once here, every chunk of points after that only attends to them."""
    parameter = next(vae.parameters())
    with torch.no_grad():
        scaled = latents.to(device=parameter.device, dtype=parameter.dtype) / vae.config.scale_factor
        keys_values = vae.project_latents(vae.decode(scaled))

    def field(points: Tensor, top_k: int | None) -> Tensor:
        stride = FLASHVDM_SELECTION_STRIDE if top_k is not None else 1
        return vae.query(points.to(parameter.dtype), keys_values, top_k, selection_stride=stride)

    return field


def decode_volume(
    vae: ShapeVAE,
    latents: Tensor,
    settings: VolumeSettings = VolumeSettings(),
    progress: Progress | None = None,
    *,
    surface_level: float = 0.0,
) -> Tensor:
    """Occupancy logits ``[B, R+1, R+1, R+1]`` (NaN where a coarse-to-fine decoder skipped).

    ``surface_level`` is the marching-cubes level the coarse-to-fine decoders refine
    around. FlashVDM decodes the nearest resolution whose coarsest level splits into its
    blocks (384 gives 380); the grid's shape says which, and surface extraction maps
    vertices by that shape, so its meshes are not shrunk as the release's are.
    """
    parameter = next(vae.parameters())
    common = dict(
        batch_size=latents.shape[0],
        resolution=settings.octree_resolution,
        bounds=settings.bounds,
        num_chunks=settings.num_chunks,
        device=parameter.device,
        dtype=parameter.dtype,
        progress=progress,
    )
    field = latent_field(vae, latents)
    if settings.decoder == "dense":
        return decode_dense(field, **common)
    if settings.decoder == "hierarchical":
        return decode_hierarchical(field, surface_level=surface_level, **common)
    top_k = settings.top_k or flashvdm_top_k(latents.shape[1])
    return decode_flashvdm(
        field, top_k=min(top_k, latents.shape[1]), surface_level=surface_level, **common
    )


def grid_to_meshes(
    grid: Tensor, settings: SurfaceSettings = SurfaceSettings(), bounds: float = DEFAULT_BOUNDS
) -> list[Mesh]:
    """Marching cubes on each grid of the batch, then the optional clean-up."""
    meshes = extract_surface(
        grid,
        level=settings.mc_level,
        bounds=bounds,
        release_mapping=settings.release_mapping,
        close_at_bounds=settings.close_at_bounds,
    )
    if isinstance(meshes, Mesh):
        meshes = [meshes]
    if not settings.postprocess:
        return list(meshes)
    return [clean_mesh(mesh, max_faces=settings.max_faces) for mesh in meshes]


@dataclass
class ShapeResult:
    latents: Tensor
    grid: Tensor
    meshes: list[Mesh]


def generate_shape(
    model: ShapeModel,
    images: Tensor,
    *,
    view_indices: Sequence[int] | None = None,
    sampling: SamplingSettings = SamplingSettings(),
    volume: VolumeSettings = VolumeSettings(),
    surface: SurfaceSettings = SurfaceSettings(),
    progress: Progress | None = None,
    progress_for: Callable[[str], Progress | None] | None = None,
    on_latents: Callable[[Tensor], None] | None = None,
) -> ShapeResult:
    """The whole shape stage from prepared image tensors.

    ``images`` is ``[B, 3, H, W]`` for single-view models, or ``[B, V, 3, H, W]`` with
    ``view_indices`` for multi-view ones. ``progress_for(stage)`` gives each stage
    ("sampling", then "decoding (<decoder>)") its own progress (a bar per stage on the
    command line); without it every stage reports to ``progress``. ``on_latents`` sees
    the sampled latents before decoding starts (the command line saves them there, so
    they survive a failed or cancelled decode).
    """
    if model.dit is None or model.vae is None or model.conditioner is None:
        raise ValueError("generate_shape needs the DiT, the VAE and the conditioner loaded")

    def stage_progress(stage: str) -> Progress | None:
        return progress_for(stage) if progress_for is not None else progress

    if view_indices is None:
        context = encode_images(model.conditioner, images)
    else:
        context = encode_views(model.conditioner, images, view_indices)
    latents = sample_latents(
        model.dit, context, model.configs.num_latents, sampling, stage_progress("sampling")
    )
    if on_latents is not None:
        on_latents(latents)
    grid = decode_volume(
        model.vae, latents, volume, stage_progress(f"decoding ({volume.decoder})"),
        surface_level=surface.mc_level,
    )
    meshes = grid_to_meshes(grid, surface, volume.bounds)
    return ShapeResult(latents=latents, grid=grid, meshes=meshes)
