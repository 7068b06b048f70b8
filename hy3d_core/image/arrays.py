"""One reading of "an image or mask array" for every image stage.

Users hand in uint8 0..255, float 0..1 (ComfyUI's IMAGE) or bool masks; each stage
needs one of two working forms. Checking the range in one place means a 0..255 float
array is refused with the same advice everywhere, instead of silently clipping to white.
"""

from __future__ import annotations

import numpy as np

FLOAT_RANGE_TOLERANCE = 1e-3
"""Float input may overshoot 0..1 a little after resampling upstream; more means 0..255."""


def _checked_float(array: np.ndarray, what: str) -> np.ndarray:
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{what} must be uint8 (0..255), float (0..1) or bool; got {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or infinite values; fix or replace the image")
    low, high = float(array.min()), float(array.max())
    if low < -FLOAT_RANGE_TOLERANCE or high > 1 + FLOAT_RANGE_TOLERANCE:
        raise ValueError(
            f"float {what} must be in 0..1; got values in [{low:.3g}, {high:.3g}]. "
            "Divide 0..255 data by 255 or pass it as uint8."
        )
    return np.clip(array.astype(np.float64), 0, 1)


def to_unit_float(array: np.ndarray, what: str) -> np.ndarray:
    """float32 in 0..1."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    return _checked_float(array, what).astype(np.float32)


def to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    """uint8 in 0..255, floats rounded to the nearest level."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    return np.rint(_checked_float(array, what) * 255).astype(np.uint8)
