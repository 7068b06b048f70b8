"""Import the reference implementation (PyPI ``hy3dgen`` 2.0.2) as a test oracle.

``hy3dgen`` imports ``torchvision.transforms``, which has no CPU build on our test
machines. It touches only ``Compose``, ``Resize`` (bilinear, antialiased),
``CenterCrop`` and ``Normalize`` on tensors, so a small stand-in that does the same with
``torch.nn.functional`` is enough. The stand-in is registered only after transformers has
decided torchvision is absent, so transformers keeps its own torchvision-free paths.
"""

from __future__ import annotations

import importlib
import sys
import types

import pytest
import torch
import torch.nn.functional as F


def _transforms_module() -> types.ModuleType:
    module = types.ModuleType("torchvision.transforms")

    class InterpolationMode:
        BILINEAR = "bilinear"
        BICUBIC = "bicubic"
        NEAREST = "nearest"

    class Compose:
        def __init__(self, transforms):
            self.transforms = list(transforms)

        def __call__(self, x):
            for transform in self.transforms:
                x = transform(x)
            return x

    class Resize:
        """Shorter side to ``size``, like torchvision's tensor path."""

        def __init__(self, size, interpolation="bilinear", antialias=True, **_):
            self.size = size
            self.mode = interpolation
            self.antialias = antialias

        def __call__(self, x):
            h, w = x.shape[-2:]
            if isinstance(self.size, int):
                if h <= w:
                    new_h, new_w = self.size, int(self.size * w / h)
                else:
                    new_h, new_w = int(self.size * h / w), self.size
            else:
                new_h, new_w = self.size
            return F.interpolate(x, size=(new_h, new_w), mode=self.mode,
                                 align_corners=False, antialias=self.antialias)

    class CenterCrop:
        def __init__(self, size):
            self.size = (size, size) if isinstance(size, int) else tuple(size)

        def __call__(self, x):
            h, w = x.shape[-2:]
            th, tw = self.size
            top = int(round((h - th) / 2.0))
            left = int(round((w - tw) / 2.0))
            return x[..., top:top + th, left:left + tw]

    class Normalize:
        def __init__(self, mean, std):
            self.mean = torch.tensor(mean)
            self.std = torch.tensor(std)

        def __call__(self, x):
            mean = self.mean.to(x).view(-1, 1, 1)
            std = self.std.to(x).view(-1, 1, 1)
            return (x - mean) / std

    class ToTensor:
        def __call__(self, pic):
            import numpy as np
            array = np.asarray(pic, dtype=np.float32) / 255.0
            return torch.from_numpy(array).permute(2, 0, 1).contiguous()

    for obj in (InterpolationMode, Compose, Resize, CenterCrop, Normalize, ToTensor):
        setattr(module, obj.__name__, obj)
    return module


def _install_torchvision_stand_in() -> None:
    if "torchvision" in sys.modules:
        return
    # transformers and diffusers each probe for torchvision once, at import: let them
    # see it absent before the stand-in exists.
    import diffusers.utils.torch_utils  # noqa: F401
    from transformers import CLIPVisionModelWithProjection, Dinov2Model  # noqa: F401
    package = types.ModuleType("torchvision")
    package.transforms = _transforms_module()
    sys.modules["torchvision"] = package
    sys.modules["torchvision.transforms"] = package.transforms


def import_oracle(module: str = "hy3dgen.shapegen"):
    """Return an ``hy3dgen`` module, or skip the calling test with the reason."""
    try:
        _install_torchvision_stand_in()
        return importlib.import_module(module)
    except Exception as error:  # any import failure means "no oracle here"
        pytest.skip(f"reference hy3dgen 2.0.2 not importable ({type(error).__name__}: {error})")
