"""Generate the multiview images of Hunyuan3D-Paint 2.0 from a reference and geometry maps.

The settings are the released ones (30 Euler-ancestral steps with "trailing" spacing,
guidance 2.0, 512x512 views) because the model was tuned with them. Classifier-free
guidance uses the release's unconditional branch: zero reference latents seen with a
reference-attention scale of 0, and a zero text embedding. The reference pass through the
dual UNet does not depend on the step, so it runs once per generation.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..models.paint_model import PaintModel
from ..models.paint_unet import MAX_GENERATED_VIEWS
from .progress import Progress

RELEASED_STEPS = 30
RELEASED_GUIDANCE = 2.0
RELEASED_VIEW_SIZE = 512


@torch.no_grad()
def sample_paint_views(
    model: PaintModel,
    reference: torch.Tensor,
    normal_maps: torch.Tensor,
    position_maps: torch.Tensor,
    camera_indices: Sequence[int],
    seed: int = 0,
    steps: int = RELEASED_STEPS,
    guidance: float = RELEASED_GUIDANCE,
    view_size: int = RELEASED_VIEW_SIZE,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Return one generated image per view, ``[V, view_size, view_size, 3]`` float32 in 0..1 on the CPU.

    ``reference`` is ``[H, W, 3]`` (or ``[1, H, W, 3]``) RGB in 0..1, already on its
    background; ``normal_maps`` / ``position_maps`` are ``[V, H, W, 3]`` in 0..1 as
    rendered; ``camera_indices`` are the released per-view indices
    (``CameraSet.paint_camera_indices()``). Inputs of another size are resized to
    ``view_size``. The same seed gives the same images on the same device and dtype.
    """
    from diffusers import EulerAncestralDiscreteScheduler

    progress = progress or Progress()
    reference, normal_maps, position_maps, indices = _check_inputs(
        reference, normal_maps, position_maps, camera_indices, steps
    )
    unet, vae = model.unet, model.vae
    downscale = 2 ** (len(vae.config.block_out_channels) - 1)
    if view_size < downscale or view_size % downscale != 0:
        raise ValueError(
            f"view_size must be a positive multiple of {downscale} (the VAE's downscale), got {view_size}."
        )
    device, dtype = model.device, model.dtype
    generator = torch.Generator("cpu").manual_seed(int(seed))

    progress.raise_if_cancelled()
    reference_latents = encode_images(vae, _to_size(reference, view_size), generator, device, dtype)
    normal_latents = encode_images(vae, _to_size(normal_maps, view_size), generator, device, dtype)
    position_latents = encode_images(vae, _to_size(position_maps, view_size), generator, device, dtype)

    use_cfg = guidance > 1.0
    text, references, reference_scale, camera = _guidance_batch(
        unet.text_embedding.to(dtype), reference_latents[None], indices.to(device)[None], use_cfg
    )
    batch = references.shape[0]
    normal_latents = normal_latents[None].expand(batch, -1, -1, -1, -1)
    position_latents = position_latents[None].expand(batch, -1, -1, -1, -1)

    scheduler = EulerAncestralDiscreteScheduler.from_config(model.scheduler_config, timestep_spacing="trailing")
    scheduler.set_timesteps(steps, device=device)
    latents = torch.randn(normal_latents.shape[1:], generator=generator, dtype=torch.float32)
    latents = (latents * scheduler.init_noise_sigma).to(device=device, dtype=dtype)

    reference_states = unet.encode_reference(references)
    for step, timestep in enumerate(scheduler.timesteps):
        model_input = scheduler.scale_model_input(latents, timestep)[None].expand(batch, -1, -1, -1, -1)
        noise = unet(
            model_input,
            timestep,
            text,
            normal_latents,
            position_latents,
            camera,
            reference_states,
            reference_scale=reference_scale,
        )
        if use_cfg:
            unconditional, conditional = noise.unbind(0)
            noise = unconditional + guidance * (conditional - unconditional)
        else:
            noise = noise[0]
        latents = scheduler.step(noise, timestep, latents, generator=generator, return_dict=False)[0]
        progress.step(step + 1, steps)

    return decode_latents(vae, latents)


def _guidance_batch(
    text: torch.Tensor, references: torch.Tensor, camera: torch.Tensor, use_cfg: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | float, torch.Tensor]:
    """Text, reference latents, reference scale and camera indices for the UNet batch.

    With guidance, the unconditional item comes first, as in the release: zero text, zero
    reference latents, and a reference-attention scale of 0.
    """
    if not use_cfg:
        return text, references, 1.0, camera
    scale = torch.tensor([0.0, 1.0], device=references.device, dtype=references.dtype)
    return (
        torch.cat([torch.zeros_like(text), text]),
        torch.cat([torch.zeros_like(references), references]),
        scale,
        camera.repeat(2, 1),
    )


def encode_images(
    vae: torch.nn.Module,
    images: torch.Tensor,
    generator: torch.Generator,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """``[N, H, W, 3]`` images in 0..1 to scaled SD-VAE latents ``[N, C, h, w]``, one image at a time.

    Like the release, the latent is a sample of the posterior, not its mean; ``generator``
    makes that draw repeatable.
    """
    latents = []
    for image in images:
        pixels = (image.permute(2, 0, 1)[None] * 2.0 - 1.0).to(device=device, dtype=dtype)
        latents.append(vae.encode(pixels).latent_dist.sample(generator))
    return torch.cat(latents) * vae.config.scaling_factor


def decode_latents(vae: torch.nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Scaled SD-VAE latents ``[N, C, h, w]`` to images ``[N, H, W, 3]`` float32 in 0..1 on the CPU."""
    images = []
    for latent in latents:
        decoded = vae.decode(latent[None] / vae.config.scaling_factor, return_dict=False)[0]
        images.append((decoded[0].float() / 2.0 + 0.5).clamp(0.0, 1.0).permute(1, 2, 0).cpu())
    return torch.stack(images)


def _check_inputs(
    reference: torch.Tensor,
    normal_maps: torch.Tensor,
    position_maps: torch.Tensor,
    camera_indices: Sequence[int],
    steps: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    if reference.ndim == 4 and reference.shape[0] == 1:
        reference = reference[0]
    if reference.ndim != 3 or reference.shape[-1] != 3:
        raise ValueError(f"The reference must be one RGB image [H, W, 3]; got shape {tuple(reference.shape)}.")
    for name, maps in (("normal_maps", normal_maps), ("position_maps", position_maps)):
        if maps.ndim != 4 or maps.shape[-1] != 3:
            raise ValueError(f"{name} must be RGB images [V, H, W, 3]; got shape {tuple(maps.shape)}.")
    counts = {
        "normal maps": normal_maps.shape[0],
        "position maps": position_maps.shape[0],
        "camera indices": len(camera_indices),
    }
    if len(set(counts.values())) != 1:
        described = ", ".join(f"{count} {name}" for name, count in counts.items())
        raise ValueError(
            f"Every view needs one normal map, one position map and one camera index; got {described}. "
            "Render the geometry maps and the camera indices from the same camera set."
        )
    if counts["normal maps"] == 0:
        raise ValueError("No views to generate: the normal and position maps are empty.")
    indices = torch.as_tensor(list(camera_indices), dtype=torch.long)
    if indices.min() < 0 or indices.max() >= MAX_GENERATED_VIEWS:
        raise ValueError(
            f"Paint camera indices run from 0 to {MAX_GENERATED_VIEWS - 1}; got {indices.tolist()}. "
            "Compute them with paint_camera_index(azimuth, elevation)."
        )
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    return reference.float(), normal_maps.float(), position_maps.float(), indices


def _to_size(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[N, H, W, 3]`` (or one ``[H, W, 3]``) images to ``size`` x ``size`` when they differ."""
    batch = images if images.ndim == 4 else images[None]
    if batch.shape[1:3] != (size, size):
        resized = F.interpolate(
            batch.permute(0, 3, 1, 2), size=(size, size), mode="bicubic", antialias=True, align_corners=False
        )
        batch = resized.clamp(0.0, 1.0).permute(0, 2, 3, 1)
    return batch
