"""The demo shape model that ships inside the pack, and the settings it runs with.

A newcomer has none of the multi-GB released weights; the demo model (a few MB, trained
by ``tools/train_demo_model.py`` on procedural boxes, cylinders, cones, tori, ellipsoids
and unions of them) lets the whole image -> shape -> texture -> GLB job run offline on a
CPU. It knows only those families. Its network is tiny, so the released sampling and
decoding defaults (50 steps, a 384 grid decoded densely) would spend minutes on detail it
does not have: commands that fall back to it also fall back to ``DEMO_SHAPE_DEFAULTS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_MODEL_DIR = Path(__file__).resolve().parent / "demo_model"


@dataclass(frozen=True)
class ShapeDefaults:
    """Sampling and decoding settings a command uses when the user does not give them."""

    steps: int
    guidance: float
    octree_resolution: int
    decoder: str
    max_faces: int
    # The orbit pose (azimuth, elevation) the model expects its input image from, where
    # projection texturing puts the image: the release trains on front views, the demo
    # model on three-quarter views around this one.
    image_view: tuple[float, float]


RELEASE_SHAPE_DEFAULTS = ShapeDefaults(
    steps=50, guidance=5.0, octree_resolution=384, decoder="dense", max_faces=40000,
    image_view=(0.0, 0.0),
)
DEMO_SHAPE_DEFAULTS = ShapeDefaults(
    steps=30, guidance=3.0, octree_resolution=128, decoder="hierarchical", max_faces=20000,
    image_view=(30.0, 20.0),
)


def is_demo_model(path: str | Path) -> bool:
    return Path(path).resolve() == DEMO_MODEL_DIR


def shape_defaults_for(path: str | Path) -> ShapeDefaults:
    """The demo model's own defaults for the demo model, the release's for everything else."""
    return DEMO_SHAPE_DEFAULTS if is_demo_model(path) else RELEASE_SHAPE_DEFAULTS


def demo_model_dir() -> Path:
    """The shipped demo model's folder, or a clear error when the checkout lacks it."""
    if not (DEMO_MODEL_DIR / "config.yaml").is_file():
        raise FileNotFoundError(
            f"the demo model is missing from {DEMO_MODEL_DIR} (it ships with the pack; restore it "
            f"with git, or recreate it with python tools/train_demo_model.py WORK --install), or "
            f"pass --model with a downloaded shape model"
        )
    return DEMO_MODEL_DIR
