"""An image file made into the shape stage's input: read, cut out when it has no alpha,
recentred as the release's image processor does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .background import remove_background
from .prepare import PreparedImage, prepare_image


def load_image_rgba(path: str | Path, *, background: str = "auto") -> PreparedImage:
    """An image file as the recentred conditioner input, cutting the object out first
    when the file has no alpha (with ``background`` as the removal method)."""
    try:
        with Image.open(path) as image:
            rgba = np.asarray(image.convert("RGBA"))
    except FileNotFoundError:
        raise ValueError(f"image {path} does not exist") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file PIL can read") from None
    cut_out, _ = remove_background(rgba, method=background)
    return prepare_image(cut_out)
