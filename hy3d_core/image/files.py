"""Image files as the uint8 RGBA pixels every image stage starts from.

``Image.open(...).convert("RGBA")`` alone gets two kinds of everyday files wrong: a phone
photo stores its pixels as the sensor saw them and the upright orientation only in its
EXIF tag (ComfyUI's Load Image applies it, so the command line must too), and high bit
depth greyscale (16-bit PNG, 32-bit integer or float TIFF) is clipped to 0..255 instead of
scaled, which turns almost every pixel white.
"""

from __future__ import annotations

import os

import numpy as np

_UINT16_MAX = 65535
_INT32_MAX = 2**31 - 1


def read_image_rgba(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` upright (EXIF orientation applied) as uint8 ``[H, W, 4]``.

    16-bit, 32-bit integer and float greyscale are mapped to 8 bits by their real range
    (see :func:`high_depth_to_uint8`); every other mode goes through Pillow's RGBA
    conversion. A missing or unreadable file is a ValueError naming it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)
            if upright.mode.startswith(("I", "F")):
                grey = high_depth_to_uint8(np.asarray(upright), path)
                return np.concatenate(
                    [np.repeat(grey[..., None], 3, axis=-1), np.full_like(grey[..., None], 255)],
                    axis=-1,
                )
            return np.asarray(upright.convert("RGBA"))
    except FileNotFoundError:
        raise ValueError(f"image {path} does not exist") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file PIL can read") from None
    except OSError as error:  # a truncated or damaged file fails while decoding
        raise ValueError(f"{path} could not be decoded ({error}); the file may be damaged or "
                         "incomplete: save or download it again") from None


def high_depth_to_uint8(values: np.ndarray, path: str | os.PathLike = "image") -> np.ndarray:
    """One channel of 16-bit, 32-bit integer or float samples as uint8 ``[H, W]``.

    Integers are scaled by the range their file format gives them: up to 65535 (16-bit
    files, which Pillow may also hand over as 32-bit mode ``I``) or up to 2^31 - 1.
    Floats in 0..1 are scaled by 255; other floats (depth, HDR) are stretched from their
    minimum to their maximum, as there is no agreed white for them.
    """
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.floating):
        finite = np.isfinite(values)
        if not finite.all():
            raise ValueError(f"{path} holds {int((~finite).sum())} NaN or infinite pixel "
                             "values; fix or replace the image")
        low = float(values.min()) if values.size else 0.0
        high = float(values.max()) if values.size else 0.0
        if low >= 0.0 and high <= 1.0:
            unit = values.astype(np.float64)
        else:
            unit = (values - low) / (high - low) if high > low else np.zeros(values.shape)
    else:
        top = _UINT16_MAX if int(values.max(initial=0)) <= _UINT16_MAX else _INT32_MAX
        unit = np.clip(values.astype(np.float64), 0, top) / top
    return np.rint(unit * 255).astype(np.uint8)
