"""The demo shape model that ships inside the pack, and the settings it runs with.

A newcomer has none of the multi-GB released weights; the demo model (a few MB, trained
by ``tools/train_demo_model.py`` on procedural boxes, cylinders, cones, tori, ellipsoids
and unions of them) lets the whole image -> shape -> texture -> GLB job run offline on a
CPU. It knows only those families. Its network is tiny, so the released sampling and
decoding defaults (50 steps, a 384 grid decoded densely: the family's row in
``models/families.py``) would spend minutes on detail it does not have: commands that fall
back to it also fall back to ``DEMO_SHAPE_DEFAULTS``.
"""

from __future__ import annotations

from pathlib import Path

from .models.families import HUNYUAN3D_2_0, ShapeDefaults, ShapeFamily

DEMO_MODEL_DIR = Path(__file__).resolve().parent / "demo_model"

DEMO_SHAPE_DEFAULTS = ShapeDefaults(
    steps=30, guidance=3.0, octree_resolution=128, decoder="hierarchical", max_faces=20000,
    image_view=(30.0, 20.0),
)


def is_demo_model(path: str | Path) -> bool:
    return Path(path).resolve() == DEMO_MODEL_DIR


def shape_defaults_for(path: str | Path, family: ShapeFamily = HUNYUAN3D_2_0) -> ShapeDefaults:
    """The demo model's own defaults for the demo model, else the release defaults of the
    model's ``family`` (a path alone does not say which; Hunyuan3D 2.0 is the first)."""
    return DEMO_SHAPE_DEFAULTS if is_demo_model(path) else family.defaults


def demo_model_dir() -> Path:
    """The shipped demo model's folder, or a clear error when the checkout lacks it."""
    if not (DEMO_MODEL_DIR / "config.yaml").is_file():
        raise FileNotFoundError(
            f"the demo model is missing from {DEMO_MODEL_DIR} (it ships with the pack; restore it "
            f"with git, or recreate it with python tools/train_demo_model.py WORK --install), or "
            f"pass --model with a downloaded shape model"
        )
    return DEMO_MODEL_DIR
