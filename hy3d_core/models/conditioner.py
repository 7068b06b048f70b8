"""The DINOv2 image conditioner: turns prepared images into the token sequence the DiT
attends to (docs/release_conventions.md, sections 2 and 8).

The network is Hugging Face's ``Dinov2Model`` so that the released weights, stored under
``main_image_encoder.model.*`` with Hugging Face names, load without renaming. Which
names those are depends on the installed transformers major version (5.x renamed the
attention weights and split the SwiGLU projection); ``hy3d_core.io.dinov2_layout``
converts the released files to whatever the installed ``Dinov2Model`` expects.

The multi-view variant (Hunyuan3D-2mv) encodes each view separately, marks each view's
tokens with a fixed sin-cos embedding of the view's index and concatenates the views.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conditioner_config import ConditionerConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Inputs come from uint8 images mapped to [-1, 1]; anything well outside is a caller
# passing 0..1 or 0..255 data, which would silently give wrong features.
_RANGE_TOLERANCE = 1e-3


def view_index_embedding(view_indices: Sequence[int], dim: int) -> Tensor:
    """Fixed 1-D sin-cos embedding of each view index: ``[len(view_indices), dim]`` in
    float64 on the CPU (the release computes it in float64; callers cast).

    The first half is the sines, the second half the cosines, over frequencies
    ``10000 ** (-k / (dim / 2))``.
    """
    half = dim // 2
    exponents = torch.arange(half, dtype=torch.float64) / (dim / 2.0)
    frequencies = 1.0 / 10000.0**exponents
    angles = torch.tensor(list(view_indices), dtype=torch.float64)[:, None] * frequencies[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class _EncoderSlot(nn.Module):
    """Holds the DINOv2 network as ``.model`` so parameter names read
    ``main_image_encoder.model.*``, as in the released checkpoints."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model


class ImageConditioner(nn.Module):
    """DINOv2 features of images in [-1, 1], with the released preprocessing.

    Built in eval mode with frozen parameters: Hunyuan3D never trains its image encoder,
    and freezing keeps autograd from storing a 1 B-parameter network's activations when a
    caller forgets ``torch.no_grad``. Constructible under ``torch.device("meta")``.
    """

    def __init__(self, config: ConditionerConfig):
        super().__init__()
        from transformers import Dinov2Model

        self.config = config
        self.main_image_encoder = _EncoderSlot(Dinov2Model(config.dinov2.to_transformers()))
        self.eval()
        self.requires_grad_(False)

    def forward(self, images: Tensor) -> Tensor:
        """``[B, 3, H, W]`` in [-1, 1] -> ``[B, tokens_per_view, hidden]``."""
        if self.config.multiview:
            raise ValueError(
                "This is a multi-view conditioner (Hunyuan3D-2mv): call forward_views(views, "
                "view_indices), e.g. forward_views(images[:, None], [0]) for a front view only."
            )
        _check_pixels(images, "images", "[B, 3, H, W]")
        return self._encode(images)

    def forward_views(self, views: Tensor, view_indices: Sequence[int]) -> Tensor:
        """``[B, V, 3, H, W]`` in [-1, 1] -> ``[B, V * tokens_per_view, hidden]``.

        ``view_indices[i]`` is the index of ``views[:, i]`` (front 0, left 1, back 2,
        right 3). Views are put in index order first, as the release's processor does,
        so the token order does not depend on the order they were passed in.
        """
        if not self.config.multiview:
            raise ValueError(
                "This conditioner is single-view (it has no view embedding); call "
                "forward(images). Multi-view input needs a Hunyuan3D-2mv checkpoint."
            )
        _check_pixels(views, "views", "[B, V, 3, H, W]")
        batch, count = views.shape[:2]
        indices = self._check_view_indices(view_indices, count)
        order = sorted(range(count), key=indices.__getitem__)
        views = views[:, order]
        tokens = self._encode(views.flatten(0, 1)).unflatten(0, (batch, count))
        embedding = view_index_embedding([indices[i] for i in order], self.config.hidden_size)
        tokens = tokens + embedding.to(device=tokens.device, dtype=tokens.dtype)[None, :, None, :]
        return tokens.flatten(1, 2)

    def unconditional(self, batch_size: int, num_views: int = 1) -> Tensor:
        """The all-zero condition the release uses for classifier-free guidance."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        limit = self.config.view_num if self.config.multiview else 1
        if not 1 <= num_views <= limit:
            kind = f"up to {limit} views" if self.config.multiview else "exactly 1 view (single-view model)"
            raise ValueError(f"num_views must be {kind}, got {num_views}")
        parameter = next(self.parameters())
        return torch.zeros(
            batch_size, num_views * self.config.tokens_per_view, self.config.hidden_size,
            device=parameter.device, dtype=parameter.dtype,
        )

    def _check_view_indices(self, view_indices: Sequence[int], count: int) -> list[int]:
        indices = [int(index) for index in view_indices]
        if len(indices) != count:
            raise ValueError(f"got {count} views but {len(indices)} view indices {indices}")
        if count > self.config.view_num:
            raise ValueError(f"got {count} views; this model takes at most {self.config.view_num}")
        if len(set(indices)) != count:
            raise ValueError(f"view indices must be distinct, got {indices}")
        bad = [index for index in indices if not 0 <= index < self.config.view_num]
        if bad:
            raise ValueError(
                f"view indices {bad} out of range 0..{self.config.view_num - 1} "
                "(front 0, left 1, back 2, right 3)"
            )
        return indices

    def _encode(self, images: Tensor) -> Tensor:
        pixels = self._preprocess(images)
        hidden = self.main_image_encoder.model(pixel_values=pixels).last_hidden_state
        return hidden if self.config.use_cls_token else hidden[:, 1:]

    def _preprocess(self, images: Tensor) -> Tensor:
        """Released preprocessing: [-1, 1] -> [0, 1], shorter side to ``image_size``
        (bilinear, antialiased), centre crop, ImageNet normalisation.

        Done in float32 whatever the model dtype: resampling in half precision loses
        detail and gains nothing, as the network dominates the cost.
        """
        parameter = next(self.parameters())
        size = self.config.image_size
        pixels = (images.to(device=parameter.device, dtype=torch.float32) + 1) / 2
        pixels = _resize_shorter_side(pixels, size)
        pixels = _centre_crop(pixels, size)
        mean = torch.tensor(IMAGENET_MEAN, device=pixels.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=pixels.device).view(1, 3, 1, 1)
        return ((pixels - mean) / std).to(parameter.dtype)


def _check_pixels(images: Tensor, name: str, layout: str) -> None:
    """``layout`` names the expected dims, e.g. ``"[B, 3, H, W]"``; channels are at -3."""
    ndim = layout.count(",") + 1
    if not isinstance(images, Tensor) or images.ndim != ndim:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a tensor {layout}; got {shape}")
    if images.shape[-3] != 3:
        raise ValueError(
            f"{name} must be {layout} with 3 colour channels; got shape {tuple(images.shape)}. "
            "Composite RGBA onto white first (hy3d_core.image.prepare.prepare_image)."
        )
    if not images.is_floating_point():
        raise ValueError(f"{name} must be floating point in [-1, 1]; got {images.dtype}")
    if images.numel() == 0:
        raise ValueError(f"{name} is empty: shape {tuple(images.shape)}")
    finite = torch.isfinite(images)
    if not finite.all():
        raise ValueError(
            f"{name} hold {int((~finite).sum())} NaN or infinite pixel values (shape "
            f"{tuple(images.shape)}); a node before this one produced a damaged image: fix or "
            "replace it."
        )
    low, high = images.min().item(), images.max().item()
    if low < -1 - _RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise ValueError(
            f"{name} must be in [-1, 1]; got values in [{low:.3g}, {high:.3g}]. Map 0..1 "
            "images with x * 2 - 1 and 0..255 images with x / 127.5 - 1."
        )


def _resize_shorter_side(pixels: Tensor, size: int) -> Tensor:
    """Shorter side to ``size``, longer side truncated in proportion (torchvision's rule)."""
    height, width = pixels.shape[-2:]
    if width <= height:
        new_width, new_height = size, int(size * height / width)
    else:
        new_width, new_height = int(size * width / height), size
    if (new_height, new_width) == (height, width):
        return pixels
    return F.interpolate(pixels, size=(new_height, new_width), mode="bilinear",
                         align_corners=False, antialias=True)


def _centre_crop(pixels: Tensor, size: int) -> Tensor:
    """Square crop; the offset rounds half to even like torchvision's ``CenterCrop``."""
    height, width = pixels.shape[-2:]
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return pixels[..., top:top + size, left:left + size]
