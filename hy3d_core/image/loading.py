"""An image file made into the shape stage's input: read upright and in 8 bits, cut out
when it has no alpha, recentred as the release's image processor does."""

from __future__ import annotations

from pathlib import Path

from .background import remove_background
from .files import read_image_rgba
from .prepare import DEFAULT_BORDER_RATIO, DEFAULT_SIZE, PreparedImage, prepare_image


def load_image_rgba(path: str | Path, *, background: str = "auto", size: int = DEFAULT_SIZE,
                    border_ratio: float = DEFAULT_BORDER_RATIO,
                    models_dir: Path | None = None) -> PreparedImage:
    """An image file as the recentred conditioner input, cutting the object out first
    when the file has no alpha (with ``background`` as the removal method, its weights under ``models_dir``); ``size`` and
    ``border_ratio`` are the shape model's image processor's (its config.yaml's)."""
    cut_out, _ = remove_background(read_image_rgba(path), method=background, models_dir=models_dir)
    return prepare_image(cut_out, size=size, border_ratio=border_ratio)
