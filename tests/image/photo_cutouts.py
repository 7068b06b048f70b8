"""Real photographs with a known mask: Tux Paint's photographic stamps composited over
the generated backgrounds of ``test_background.py``, for measuring background removal.

The stamps come from the Debian package ``tuxpaint-stamps-default`` (2022.06.04-1),
which installs RGBA PNGs under /usr/share/tuxpaint/stamps. Many are photographs of real
objects cut out by hand by Tux Paint contributors; their alpha is a good but not
pixel-perfect truth. The rest (drawings, cartoons, symbols, smoke, fire, lens flares)
are left out of ``PHOTO_STAMPS``, which lists photographs with a clean, mostly hard
alpha, at least 120 px on each side. The test and ``bench/bench_background.py`` share this
list and this scene maker, so the bench's figures and the test's floors are measured on
the same scenes.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from test_background import BACKGROUND_KINDS, make_background

STAMPS_PACKAGE = "tuxpaint-stamps-default"
STAMPS_PACKAGE_VERSION = "2022.06.04-1"
DEFAULT_STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
# Points at another copy of the stamps folder (an unpacked .deb, a non-Debian system).
STAMPS_DIR_VARIABLE = "HY3D_TUXPAINT_STAMPS"

# Paths under the stamps folder: animals with fur, feathers, thin legs and horns; fruit,
# food and flowers; household objects with openings and shiny parts; vehicles.
PHOTO_STAMPS = (
    "animals/birds/blackbird.png",
    "animals/birds/duck.png",
    "animals/birds/helmeted_guineafowl.png",
    "animals/birds/magellanic_penguin.png",
    "animals/birds/owl.png",
    "animals/birds/pelican.png",
    "animals/birds/rooster.png",
    "animals/birds/tucan.png",
    "animals/mammals/apes/gorilla.png",
    "animals/mammals/aquatic/otter.png",
    "animals/mammals/bears/european-bear.png",
    "animals/mammals/bovines/bull.png",
    "animals/mammals/bovines/cow_white.png",
    "animals/mammals/bovines/sheep.png",
    "animals/mammals/elephant.png",
    "animals/mammals/equines/zebra.png",
    "animals/mammals/giraffe.png",
    "animals/mammals/pig_golden.png",
    "animals/mammals/rhino_black.png",
    "animals/mammals/rodents/rabbit-2.png",
    "food/fruit/Cherry_Stella.png",
    "food/fruit/Strawberry2.png",
    "food/fruit/avocado.png",
    "food/fruit/cherimoya.png",
    "food/fruit/orange_seville.png",
    "food/spices/ginger.png",
    "food/vegetables/broccoli.png",
    "seasonal/christmas/Christmas_pudding.png",
    "seasonal/christmas/Mince_Pie.png",
    "seasonal/christmas/Roast_turkey.png",
    "plants/flowers/anemone_red.png",
    "plants/flowers/daffodil.png",
    "plants/mushrooms/cep-1.png",
    "hobbies/music/percussion/drum_tomtom_floor.png",
    "hobbies/music/string/guitar2.png",
    "household/Lightbulb.png",
    "household/home_compost_bin.png",
    "household/toilet.png",
    "household/tools/cementmixer.png",
    "vehicles/wheel_tractor.png",
    "vehicles/emergency/firetruck.png",
    "vehicles/garbagetruck.png",
    "vehicles/flight/balloon360.png",
    "military/vehicles/f22_raptor.png",
    "military/vehicles/bradley.png",
)

# Share of the canvas the stamp's longer side is scaled to, drawn per scene: the object
# is large, as in the images Hunyuan3D is given, with background around it; placed at
# random, it may touch one or two canvas edges.
_FILL_RANGE = (0.55, 0.85)


def stamps_dir() -> Path | None:
    """The stamps folder (``$HY3D_TUXPAINT_STAMPS``, else the Debian path), or None when
    it is not there."""
    directory = _looked_up_dir()
    return directory if directory.is_dir() else None


def missing_stamps_message() -> str:
    return (
        f"the real photo cut-outs are not installed: no folder {_looked_up_dir()}; install "
        f"the Debian package {STAMPS_PACKAGE} ({STAMPS_PACKAGE_VERSION}): sudo apt-get "
        f"install {STAMPS_PACKAGE}, or set ${STAMPS_DIR_VARIABLE} to its stamps folder"
    )


def _looked_up_dir() -> Path:
    return Path(os.environ.get(STAMPS_DIR_VARIABLE) or DEFAULT_STAMPS_DIR)


def make_photo_scene(
    stamp: str, background_kind: str, directory: Path, size: int = 256, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb float32 [size, size, 3] in 0..1, true mask bool [size, size])``: the stamp
    ``stamp`` (a path in ``PHOTO_STAMPS``), its longer side scaled to a random 55-85 % of
    the canvas and placed at random fully inside it, over one background of
    ``background_kind``, all drawn from ``seed``.

    The true mask is where the scaled stamp's alpha is at least 0.5.
    """
    import cv2

    rng = np.random.default_rng([seed, PHOTO_STAMPS.index(stamp), BACKGROUND_KINDS.index(background_kind)])
    premultiplied = _premultiplied_stamp(directory / stamp)
    fill = rng.uniform(*_FILL_RANGE)
    scale = fill * size / max(premultiplied.shape[:2])
    height, width = (max(1, round(side * scale)) for side in premultiplied.shape[:2])
    # Scaled with premultiplied colour, so the see-through pixels' hidden RGB does not
    # bleed into the edge.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = np.clip(cv2.resize(premultiplied, (width, height), interpolation=interpolation), 0, 1)
    top = int(rng.integers(0, size - height + 1))
    left = int(rng.integers(0, size - width + 1))
    background = make_background(background_kind, size, rng)
    colour, alpha = np.zeros((size, size, 3)), np.zeros((size, size))
    colour[top:top + height, left:left + width] = scaled[..., :3]
    alpha[top:top + height, left:left + width] = scaled[..., 3]
    rgb = colour + (1 - alpha[..., None]) * background
    return np.clip(rgb, 0, 1).astype(np.float32), alpha >= 0.5


@lru_cache(maxsize=None)
def _premultiplied_stamp(path: Path) -> np.ndarray:
    """The stamp as float64 ``[H, W, 4]`` with colour multiplied by alpha, cropped to its
    visible pixels (stamps carry transparent margins of any width)."""
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; PHOTO_STAMPS lists the stamps of {STAMPS_PACKAGE} "
            f"{STAMPS_PACKAGE_VERSION}, install that version"
        )
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255
    rows, cols = np.nonzero(pixels[..., 3] > 0)
    pixels = pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    pixels[..., :3] *= pixels[..., 3:]
    return pixels
