"""Recentre an object photo the way Hunyuan3D 2.0 was trained to see it
(docs/release_conventions.md, section 8): crop to the object, scale it to fill ``1 - border_ratio`` of a square canvas,
centre it, composite over white, resize.

The arithmetic runs on uint8 pixels with OpenCV's resamplers (area for the crop, cubic
for the final resize, nearest for the mask) because that is what the release does; any
other path shifts pixel values and with them the DINOv2 features the DiT was trained on.
Float inputs are first rounded to uint8, so a float image and its uint8 original give
identical results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Union

import numpy as np
import torch

from .arrays import to_uint8

ImageArray = Union[np.ndarray, torch.Tensor]

DEFAULT_SIZE = 512
DEFAULT_BORDER_RATIO = 0.15
# Index each view carries in the multi-view conditioner (Hunyuan3D-2mv).
VIEW_INDICES: Mapping[str, int] = MappingProxyType({"front": 0, "left": 1, "back": 2, "right": 3})
# Float images come from uint8 ones; a little overshoot (from resampling upstream) is
# clipped, anything more means 0..255 data passed as float.


@dataclass(frozen=True, eq=False)
class PreparedImage:
    """One recentred image.

    ``rgb``: ``[size, size, 3]`` float32 in 0..1, the object over white.
    ``mask``: ``[size, size]`` float32 in 0..1, the object's opacity.
    ``tensor``: ``[1, 3, size, size]`` float32 in [-1, 1], what the conditioner takes.
    """

    rgb: np.ndarray
    mask: np.ndarray
    tensor: torch.Tensor


@dataclass(frozen=True, eq=False)
class PreparedViews:
    """Several recentred views in the released order (front, left, back, right).

    ``tensor``: ``[1, V, 3, size, size]`` in [-1, 1], for ``ImageConditioner.forward_views``
    together with ``view_indices``.
    """

    tensor: torch.Tensor
    view_indices: tuple[int, ...]
    view_names: tuple[str, ...]
    images: tuple[PreparedImage, ...]


def prepare_image(
    image: ImageArray,
    alpha: ImageArray | None = None,
    *,
    size: int = DEFAULT_SIZE,
    border_ratio: float = DEFAULT_BORDER_RATIO,
) -> PreparedImage:
    """Recentre ``image`` on white as the release's image processor does.

    ``image`` is ``[H, W, 3]`` or ``[H, W, 4]`` (RGBA), uint8 0..255 or float 0..1, numpy
    or torch. ``alpha`` is the object's opacity ``[H, W]`` (1 or 255 = object), uint8,
    float or bool; give it only for an RGB image. With neither an alpha channel nor a
    mask the whole image is taken as the object: background removal is a separate stage.

    As in the release, the object's bounding box loses its last row and column before
    scaling; keeping that quirk keeps the output identical to the release's.
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if not 0 <= border_ratio < 1:
        raise ValueError(f"border_ratio must be in [0, 1), got {border_ratio}")
    import cv2

    pixels = _image_to_uint8(image)
    opacity = _opacity(pixels, alpha)
    rgba = np.concatenate([pixels[..., :3], opacity[..., None]], axis=-1)
    centred_rgb, centred_mask = _recentre(rgba, border_ratio)
    rgb = cv2.resize(centred_rgb, (size, size), interpolation=cv2.INTER_CUBIC)
    mask = cv2.resize(centred_mask, (size, size), interpolation=cv2.INTER_NEAREST)
    tensor = (torch.from_numpy(rgb).float() / 255 * 2 - 1).permute(2, 0, 1)[None].contiguous()
    return PreparedImage(
        rgb=rgb.astype(np.float32) / 255,
        mask=mask.astype(np.float32) / 255,
        tensor=tensor,
    )


def prepare_views(
    images: Mapping[str, ImageArray],
    alphas: Mapping[str, ImageArray | None] | None = None,
    *,
    size: int = DEFAULT_SIZE,
    border_ratio: float = DEFAULT_BORDER_RATIO,
) -> PreparedViews:
    """Prepare named views (``front``, ``left``, ``back``, ``right``) for the multi-view
    conditioner; ``alphas`` optionally gives each view's opacity by the same names."""
    alphas = alphas or {}
    _check_view_names(images.keys(), "images")
    _check_view_names(alphas.keys(), "alphas")
    extra = sorted(set(alphas) - set(images))
    if extra:
        raise ValueError(f"alphas given for views {extra} that have no image")
    prepared = {}
    for name, image in images.items():
        try:
            prepared[name] = prepare_image(image, alphas.get(name), size=size, border_ratio=border_ratio)
        except ValueError as error:
            raise ValueError(f"{name} view: {error}") from error
    return stack_views(prepared)


def stack_views(prepared: Mapping[str, PreparedImage]) -> PreparedViews:
    """Order already prepared views by view index and stack them into one batch item."""
    _check_view_names(prepared.keys(), "views")
    if not prepared:
        raise ValueError("no views given; pass at least one of front, left, back, right")
    names = tuple(sorted(prepared, key=VIEW_INDICES.__getitem__))
    sizes = {prepared[name].tensor.shape for name in names}
    if len(sizes) > 1:
        raise ValueError(f"views were prepared at different sizes {sorted(map(tuple, sizes))}")
    images = tuple(prepared[name] for name in names)
    return PreparedViews(
        tensor=torch.cat([image.tensor for image in images], dim=0)[None],
        view_indices=tuple(VIEW_INDICES[name] for name in names),
        view_names=names,
        images=images,
    )


def _check_view_names(names, what: str) -> None:
    unknown = sorted(set(names) - set(VIEW_INDICES))
    if unknown:
        raise ValueError(f"unknown view names in {what}: {unknown}; use {', '.join(VIEW_INDICES)}")


def _recentre(rgba: np.ndarray, border_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Object scaled into a square canvas the size of the image's longer side, over white.

    Returns the uint8 RGB canvas and the uint8 opacity canvas.
    """
    import cv2

    rows, cols = np.nonzero(rgba[..., 3])
    if rows.size == 0:
        raise ValueError(
            "the image is fully transparent (its alpha/mask is zero everywhere), so there is "
            "no object to centre. Check the background removal or the mask, or pass no mask "
            "to use the whole image."
        )
    top, left = rows.min(), cols.min()
    height, width = rows.max() - top, cols.max() - left
    if height == 0 or width == 0:
        raise ValueError(
            "the visible object is a single row or column of pixels; it is too small to "
            "recentre. Check the alpha/mask."
        )
    canvas = max(rgba.shape[0], rgba.shape[1])
    scale = int(canvas * (1 - border_ratio)) / max(height, width)
    new_height, new_width = int(height * scale), int(width * scale)
    if new_height == 0 or new_width == 0:
        raise ValueError(
            f"the object ({height}x{width} pixels) would shrink to {new_height}x{new_width} "
            f"pixels with border_ratio {border_ratio}; it is too thin to recentre."
        )
    placed = np.zeros((canvas, canvas, 4), dtype=np.uint8)
    y0, x0 = (canvas - new_height) // 2, (canvas - new_width) // 2
    placed[y0:y0 + new_height, x0:x0 + new_width] = cv2.resize(
        rgba[top:top + height, left:left + width], (new_width, new_height),
        interpolation=cv2.INTER_AREA,
    )
    coverage = placed[..., 3:].astype(np.float32) / 255
    white = np.full((canvas, canvas, 3), 255, dtype=np.uint8)
    rgb = (placed[..., :3] * coverage + white * (1 - coverage)).clip(0, 255).astype(np.uint8)
    mask = (coverage[..., 0] * 255).clip(0, 255).astype(np.uint8)
    return rgb, mask


def _image_to_uint8(image: ImageArray) -> np.ndarray:
    array = _as_numpy(image)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        hint = " (a batch? pass one image, e.g. images[0])" if array.ndim == 4 else ""
        raise ValueError(
            f"expected an image of shape [H, W, 3] (RGB) or [H, W, 4] (RGBA); got "
            f"{tuple(array.shape)}{hint}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"the image is empty: shape {tuple(array.shape)}")
    return to_uint8(array, "image")


def _opacity(pixels: np.ndarray, alpha: ImageArray | None) -> np.ndarray:
    height, width, channels = pixels.shape
    if alpha is None:
        if channels == 4:
            return pixels[..., 3]
        return np.full((height, width), 255, dtype=np.uint8)
    if channels == 4:
        raise ValueError("got an RGBA image and a separate alpha; pass the alpha one way only")
    array = _as_numpy(alpha)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.shape != (height, width):
        raise ValueError(
            f"alpha/mask shape {tuple(array.shape)} does not match the image's "
            f"{(height, width)}; expected [H, W]"
        )
    return to_uint8(array, "alpha/mask")


def _as_numpy(array: ImageArray) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        if array.dtype in (torch.float16, torch.bfloat16):
            array = array.float()
        return array.numpy()
    return np.asarray(array)
