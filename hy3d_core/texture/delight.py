"""Remove baked-in lighting from the reference image with Hunyuan3D-Delight 2.0.

Paint copies the reference's colours onto the mesh, so highlights and shadows in the
photo would end up painted into the texture. The released remedy is an InstructPix2Pix
model (``hunyuan3d-delight-v2-0``) run with an empty prompt; its output drifts in overall
colour, so each channel is re-matched to the input's mean and spread, kept only when that
brings it closer to the input. Settings are the released ones.
"""

from __future__ import annotations

import numpy as np
import torch

from ..sampling.progress import Progress

RELEASED_STEPS = 50
RELEASED_IMAGE_GUIDANCE = 1.5
RELEASED_TEXT_GUIDANCE = 1.0
RELEASED_SEED = 42
RELEASED_SIZE = 512
COLOUR_MATCH_STRENGTH = 0.95
"""How far the colour match moves the means (the release's value): 1 would match them fully."""


@torch.no_grad()
def delight_image(
    pipeline,
    image: torch.Tensor,
    alpha: torch.Tensor | None = None,
    seed: int = RELEASED_SEED,
    steps: int = RELEASED_STEPS,
    image_guidance: float = RELEASED_IMAGE_GUIDANCE,
    guidance: float = RELEASED_TEXT_GUIDANCE,
    size: int = RELEASED_SIZE,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Return the unlit image ``[size, size, 3]`` float32 in 0..1 on the CPU, on a white background.

    ``image`` is ``[H, W, 3]`` (or ``[1, H, W, 3]``) RGB in 0..1; ``alpha`` is ``[H, W]``
    coverage in 0..1 (1 = object; note that ComfyUI's MASK from LoadImage is the
    inverse). Without ``alpha`` the whole image is treated as the object.
    """
    from PIL import Image

    progress = progress or Progress()
    rgb, coverage = _prepare(image, alpha, size)
    progress.raise_if_cancelled()

    def report(_pipeline, step, _timestep, _tensors):
        progress.step(step + 1, steps)
        return {}

    generated = pipeline(
        prompt="",
        image=Image.fromarray(rgb),
        generator=torch.Generator("cpu").manual_seed(int(seed)),
        height=size,
        width=size,
        num_inference_steps=steps,
        image_guidance_scale=image_guidance,
        guidance_scale=guidance,
        callback_on_step_end=report,
    ).images[0]
    unlit = torch.from_numpy(np.asarray(generated.convert("RGB"), dtype=np.float64) / 255.0)
    target = torch.from_numpy(rgb.astype(np.float64) / 255.0)
    matched = match_colours(unlit, target, coverage)
    composed = matched * coverage[..., None] + (1.0 - coverage[..., None])
    return composed.float()


def match_colours(
    source: torch.Tensor, target: torch.Tensor, coverage: torch.Tensor, strength: float = COLOUR_MATCH_STRENGTH
) -> torch.Tensor:
    """Shift and scale each channel of ``source`` towards ``target``'s statistics on the object.

    Statistics come from pixels with coverage above one half; the result replaces
    ``source`` only when it is closer to ``target`` over the whole image (mean squared
    error), because the match can hurt an image whose colours were already right.
    """
    inside = coverage > 0.5
    if not bool(inside.any()):
        return source
    source_pixels, target_pixels = source[inside], target[inside]
    source_mean, source_std = source_pixels.mean(0), source_pixels.std(0)
    target_mean, target_std = target_pixels.mean(0), target_pixels.std(0)
    ratio = torch.where(source_std > 0, target_std / source_std, torch.ones_like(source_std))
    matched = ((source - strength * source_mean) * ratio + strength * target_mean).clamp(0.0, 1.0)
    if torch.mean((source - target) ** 2) < torch.mean((matched - target) ** 2):
        return source
    return matched


def _prepare(image: torch.Tensor, alpha: torch.Tensor | None, size: int) -> tuple[np.ndarray, torch.Tensor]:
    """The release's input handling: resize, erode the alpha by 3x3, whiten what it drops.

    Returns the RGB uint8 image fed to the model and the eroded coverage in 0..1 (float64).
    """
    import cv2
    from PIL import Image

    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"Delight takes one RGB image [H, W, 3]; got shape {tuple(image.shape)}.")
    if alpha is not None:
        if alpha.ndim == 3 and alpha.shape[0] == 1:
            alpha = alpha[0]
        if tuple(alpha.shape) != tuple(image.shape[:2]):
            raise ValueError(
                f"The alpha {tuple(alpha.shape)} must cover the image {tuple(image.shape[:2])} pixel for pixel."
            )
    rgb = _to_uint8(image)
    if alpha is None:
        resized = np.asarray(Image.fromarray(rgb).resize((size, size)))
        return resized, torch.ones(size, size, dtype=torch.float64)
    rgba = np.concatenate([rgb, _to_uint8(alpha)[..., None]], axis=-1)
    rgba = np.array(Image.fromarray(rgba, "RGBA").resize((size, size)))
    eroded = cv2.erode(rgba[..., 3], np.ones((3, 3), np.uint8), iterations=1)
    rgba[eroded == 0, :3] = 255
    return np.ascontiguousarray(rgba[..., :3]), torch.from_numpy(eroded.astype(np.float64) / 255.0)


def _to_uint8(values: torch.Tensor) -> np.ndarray:
    return (values.detach().float().clamp(0.0, 1.0).cpu().numpy() * 255.0).round().astype(np.uint8)
