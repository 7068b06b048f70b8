"""Generate the albedo and metallic-roughness views of Hunyuan3D-Paint 2.1 (PBR).

Release settings (``utils/multiview_utils.py``): UniPC with "trailing" timesteps, 15 steps,
guidance 3.0, 512-pixel views, seed 0
(docs/release_conventions_2_1.md, section 16). Guidance has three branches (the release's
"dual" classifier-free guidance):

* unconditional: reference attention off (scale 0), DINO tokens zero;
* reference: reference attention on, DINO tokens zero;
* full: reference attention on, DINO tokens of the reference;

combined as ``uncond + g*(ref - uncond) + g*(full - ref)``. (The release multiplies both
terms by a per-view camera factor that is 1 because it never passes camera azimuths.)
See docs/release_conventions_2_1.md, section 11.

Random numbers are drawn in the release's order from CPU generators seeded with the seed,
so a CPU float32 run repeats Tencent's: the VAE posterior samples of the reference, the
normal maps and the position maps (one generator, in that order), then the initial noise
(a fresh generator); see docs/release_conventions_2_1.md, section 16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..io.paint_pbr_checkpoints import PaintPbrModel
from ..models.paint_pbr_unet import MATERIALS
from ..models.pose_rope import POSITION_LEVELS
from .paint_sampling import decode_latents
from .progress import Progress

RELEASED_STEPS = 15
RELEASED_GUIDANCE = 3.0
RELEASED_VIEW_SIZE = 512
RELEASED_SEED = 0


@dataclass
class PbrViews:
    """Generated views, each ``[N, S, S, 3]`` float32 in 0..1 on the CPU.

    ``metallic_roughness`` holds metallic in R and roughness in G (B is unused), as the
    release's texture baking reads it.
    """

    albedo: torch.Tensor
    metallic_roughness: torch.Tensor


@torch.no_grad()
def paint_pbr_views(
    model: PaintPbrModel,
    reference: torch.Tensor,
    normal_maps: torch.Tensor,
    position_maps: torch.Tensor,
    *,
    steps: int = RELEASED_STEPS,
    guidance: float = RELEASED_GUIDANCE,
    seed: int = RELEASED_SEED,
    view_size: int = RELEASED_VIEW_SIZE,
    progress: Progress | None = None,
) -> PbrViews:
    """Albedo and metallic-roughness images of every view.

    ``reference`` is ``[H, W, 3 or 4]`` (or ``[1, H, W, C]``) in 0..1; RGBA is pasted on
    white as the release does. ``normal_maps`` / ``position_maps`` are ``[N, H, W, 3]``
    in 0..1 with a white background, world-space normals as ``(n + 1) / 2`` and positions
    as ``0.5 - p / 1.15``. Images of another size are resized to ``view_size`` (PIL
    bicubic, on the 8-bit images the release works with). The same seed gives the same
    views on the same device and dtype.
    """
    from diffusers import UniPCMultistepScheduler

    progress = progress or Progress()
    unet, vae = model.unet, model.vae
    device, dtype = model.device, model.dtype
    _check_settings(steps, view_size, vae)
    reference_rgb = _reference_image(reference, view_size)
    normals = _map_images(normal_maps, view_size, "normal_maps")
    positions = _map_images(position_maps, view_size, "position_maps")
    if normals.shape[0] != positions.shape[0]:
        raise ValueError(
            f"Every view needs one normal map and one position map; got {normals.shape[0]} normal maps and "
            f"{positions.shape[0]} position maps. Render both from the same cameras."
        )
    views = normals.shape[0]

    progress.raise_if_cancelled()
    posterior_generator = torch.Generator("cpu").manual_seed(int(seed))
    reference_pixels = _channels_first(reference_rgb[None]).double() / 255.0
    reference_latents = _encode(vae, reference_pixels.to(device=device, dtype=dtype), posterior_generator)
    normal_latents = _encode(vae, _half_pixels(normals, device), posterior_generator)
    position_pixels = _half_pixels(positions, device)
    position_latents = _encode(vae, position_pixels, posterior_generator)
    dino = model.dino(reference_rgb).to(dtype)

    if guidance > 1.0:
        reference_scale = torch.tensor([0.0, 1.0, 1.0])
        dino = torch.cat([torch.zeros_like(dino), torch.zeros_like(dino), dino])
    else:
        reference_scale = torch.tensor([1.0])
    branches = reference_scale.shape[0]

    def per_branch(latents: torch.Tensor) -> torch.Tensor:
        return latents[None].expand(branches, *latents.shape)

    conditions = unet.prepare_conditions(
        reference_latents=per_branch(reference_latents),
        dino_features=dino,
        position_maps=position_pixels[None],
        normal_latents=per_branch(normal_latents),
        position_latents=per_branch(position_latents),
        reference_scale=reference_scale.to(device=device, dtype=dtype),
    )
    text = unet.material_text.to(dtype)[None].expand(branches, -1, -1, -1)

    scheduler = UniPCMultistepScheduler.from_config(model.scheduler_config, timestep_spacing="trailing")
    scheduler.set_timesteps(steps, device=device)
    noise_generator = torch.Generator("cpu").manual_seed(int(seed))
    latent_shape = (len(MATERIALS) * views, *normal_latents.shape[1:])
    latents = torch.randn(latent_shape, generator=noise_generator, dtype=torch.float32).to(device)
    latents = latents * scheduler.init_noise_sigma

    for step, timestep in enumerate(scheduler.timesteps):
        model_input = scheduler.scale_model_input(latents, timestep).to(dtype)
        model_input = model_input.view(1, len(MATERIALS), views, *latent_shape[1:]).expand(branches, -1, -1, -1, -1, -1)
        prediction = unet(model_input, timestep, text, conditions).float().flatten(1, 2)
        if branches == 3:
            unconditional, with_reference, full = prediction.unbind(0)
            prediction = unconditional + guidance * (with_reference - unconditional)
            prediction = prediction + guidance * (full - with_reference)
        else:
            prediction = prediction[0]
        latents = scheduler.step(prediction, timestep, latents, return_dict=False)[0]
        progress.step(step + 1, steps)

    images = decode_latents(vae, latents.to(dtype))
    return PbrViews(albedo=images[:views], metallic_roughness=images[views:])


def _encode(vae: torch.nn.Module, pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``[N, 3, H, W]`` in 0..1 -> scaled latents: one posterior sample for the batch, drawn on the CPU.

    ``(x - 0.5) * 2`` is computed in the input's dtype (float16 for the geometry maps, as
    released) before the cast to the VAE's dtype.
    """
    parameter = next(vae.parameters())
    distribution = vae.encode(((pixels - 0.5) * 2.0).to(parameter.dtype)).latent_dist
    noise = torch.randn(distribution.mean.shape, generator=generator, dtype=torch.float32)
    sample = distribution.mean + distribution.std * noise.to(distribution.mean)
    return sample * vae.config.scaling_factor


def _half_pixels(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """``[N, H, W, 3]`` uint8 -> ``[N, 3, H, W]`` float16 in 0..1, the release's geometry-map tensor."""
    return (_channels_first(images).float() / 255.0).half().to(device)


def _channels_first(images: np.ndarray) -> torch.Tensor:
    """``[N, H, W, C]`` -> contiguous ``[N, C, H, W]``.

    Contiguous, not a permuted view: convolutions pick other kernels for channels-last
    strides, which moves the VAE latents by about 1e-4 from the release's.
    """
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.detach().float().cpu().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).numpy()


def _reference_image(reference: torch.Tensor, size: int) -> np.ndarray:
    """The reference as the release feeds it: ``size`` x ``size`` RGB uint8, RGBA pasted on white."""
    if reference.ndim == 4 and reference.shape[0] == 1:
        reference = reference[0]
    if reference.ndim != 3 or reference.shape[-1] not in (3, 4):
        raise ValueError(f"The reference must be one RGB or RGBA image [H, W, 3 or 4]; got {tuple(reference.shape)}.")
    image = Image.fromarray(_to_uint8(reference), "RGBA" if reference.shape[-1] == 4 else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), resample=Image.Resampling.BICUBIC)
    if image.mode == "RGBA":
        white = Image.new("RGB", image.size, (255, 255, 255))
        white.paste(image, mask=image.getchannel("A"))
        image = white
    return np.asarray(image)


def _map_images(maps: torch.Tensor, size: int, name: str) -> np.ndarray:
    """Geometry maps as ``[N, size, size, 3]`` uint8."""
    if maps.ndim != 4 or maps.shape[-1] != 3 or maps.shape[0] == 0:
        raise ValueError(f"{name} must be RGB images [N, H, W, 3] with N >= 1; got {tuple(maps.shape)}.")
    images = _to_uint8(maps)
    if images.shape[1:3] == (size, size):
        return images
    return np.stack(
        [np.asarray(Image.fromarray(image).resize((size, size), resample=Image.Resampling.BICUBIC)) for image in images]
    )


def _check_settings(steps: int, view_size: int, vae: torch.nn.Module) -> None:
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    downscale = 2 ** (len(vae.config.block_out_channels) - 1)
    multiple = downscale * 2 ** (POSITION_LEVELS - 1)
    if view_size < multiple or view_size % multiple:
        raise ValueError(
            f"view_size must be a positive multiple of {multiple} (the VAE's downscale {downscale} times the "
            f"{2 ** (POSITION_LEVELS - 1)}x coarsest position grid); the release uses 512 or 768, got {view_size}."
        )
