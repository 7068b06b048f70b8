"""DINOv2 features of the reference image, the extra condition of Hunyuan3D-Paint 2.1.

The 2.1 paint model attends to the last hidden states (CLS token first) of
``facebook/dinov2-giant`` run on the reference. The release prepares the image with the
folder's ``BitImageProcessor`` (transformers' slow processor): shorter side resized with
PIL bicubic on the uint8 image, centre crop, rescale to 0..1, ImageNet normalisation.
That is done here with PIL and numpy in the same order and dtypes, so the pixels match
without transformers' image-processing stack (which in transformers 5 wants torchvision).
See docs/release_conventions_2_1.md, section 14.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DinoPreprocessing:
    """The ``preprocessor_config.json`` values that change the pixels (dinov2-giant's by default)."""

    shortest_edge: int = 256
    crop_height: int = 224
    crop_width: int = 224
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD
    rescale_factor: float = 1 / 255
    resample: int = int(Image.Resampling.BICUBIC)

    @classmethod
    def from_config(cls, config: dict) -> DinoPreprocessing:
        """Read a ``BitImageProcessor`` config; steps it switches off are not supported."""
        disabled = [name for name in ("do_resize", "do_center_crop", "do_rescale", "do_normalize")
                    if config.get(name, True) is False]
        if disabled:
            raise ValueError(
                f"The DINOv2 preprocessor config turns off {', '.join(disabled)}; the Paint PBR model "
                "was trained with facebook/dinov2-giant's preprocessing (all steps on)."
            )
        size = config.get("size", {"shortest_edge": cls.shortest_edge})
        crop = config.get("crop_size", {"height": cls.crop_height, "width": cls.crop_width})
        if "shortest_edge" not in size:
            raise ValueError(f"The DINOv2 preprocessor config must give size.shortest_edge; got size={size}.")
        return cls(
            shortest_edge=int(size["shortest_edge"]),
            crop_height=int(crop["height"]),
            crop_width=int(crop["width"]),
            image_mean=tuple(float(v) for v in config.get("image_mean", IMAGENET_MEAN)),
            image_std=tuple(float(v) for v in config.get("image_std", IMAGENET_STD)),
            rescale_factor=float(config.get("rescale_factor", cls.rescale_factor)),
            resample=int(config.get("resample", cls.resample)),
        )

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        """``[H, W, 3]`` uint8 RGB -> ``[1, 3, crop_height, crop_width]`` float32 pixel values."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"DINO preprocessing takes an RGB uint8 image [H, W, 3]; got {image.dtype} {image.shape}.")
        height, width = image.shape[:2]
        short, long = sorted((height, width))
        new_long = int(self.shortest_edge * long / short)
        new_height, new_width = (self.shortest_edge, new_long) if height <= width else (new_long, self.shortest_edge)
        resized = np.asarray(
            Image.fromarray(image).resize((new_width, new_height), resample=Image.Resampling(self.resample))
        )
        if new_height < self.crop_height or new_width < self.crop_width:
            raise ValueError(
                f"The DINOv2 crop {self.crop_height}x{self.crop_width} is larger than the resized image "
                f"{new_height}x{new_width}; the preprocessor config is inconsistent."
            )
        top = (new_height - self.crop_height) // 2
        left = (new_width - self.crop_width) // 2
        cropped = resized[top:top + self.crop_height, left:left + self.crop_width]
        scaled = (cropped.astype(np.float64) * self.rescale_factor).astype(np.float32)
        mean = np.asarray(self.image_mean, dtype=np.float32)
        std = np.asarray(self.image_std, dtype=np.float32)
        normalised = (scaled - mean) / std
        return torch.from_numpy(np.ascontiguousarray(normalised.transpose(2, 0, 1)))[None]


class DinoFeatures(nn.Module):
    """A transformers ``Dinov2Model`` with the preprocessing of its folder."""

    def __init__(self, model: nn.Module, preprocessing: DinoPreprocessing) -> None:
        super().__init__()
        self.model = model
        self.preprocessing = preprocessing

    @property
    def width(self) -> int:
        """Hidden size of the tokens (1536 for dinov2-giant)."""
        return self.model.config.hidden_size

    @torch.no_grad()
    def forward(self, image: np.ndarray) -> torch.Tensor:
        """``[H, W, 3]`` uint8 RGB -> last hidden states ``[1, 1 + patches, width]`` (CLS first)."""
        parameter = next(self.model.parameters())
        pixels = self.preprocessing(image).to(device=parameter.device, dtype=parameter.dtype)
        return self.model(pixel_values=pixels).last_hidden_state
