"""Cut the object out of its background, so the image stage gets the RGBA Hunyuan3D
expects (docs/release_conventions.md, section 8: it crops, centres and composites by the
alpha).

Three sources of a matte, chosen by ``method``:

- ``"alpha"``: the image's own alpha channel or a mask the caller gives (an image already
  cut out, or a mask drawn or made elsewhere);
- ``"classical"``: a matte computed here from the pixels alone, with no weights and no
  network, for an object on a plain or simple background (see ``classical_matte``);
- ``"rembg"``, ``"birefnet"``, ``"rmbg"``: learned mattes, used only from weights already on
  the user's disk (``hy3d_core.image.matting_models``); nothing is ever downloaded.

``"auto"`` takes the first of these that applies, in that order of trust: a real alpha or
mask, then a learned matte whose weights are present, then the classical one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .arrays import to_unit_float
from .matting_models import (
    MODEL_METHODS,
    available_model_methods,
    load_matting_model,
)

METHODS = ("auto", "alpha", "classical") + MODEL_METHODS

# The classical matte works on at most this many pixels along the longer side: graph cut
# time grows with the pixel count, and a matte this size upsampled with a feathered edge
# is as good as the full-size one for recentring at 512 (docs/release_conventions.md,
# section 8).
_CLASSICAL_WORK_SIZE = 512
# Share of the shorter side taken as the border strip the background is learnt from.
_BORDER_FRACTION = 0.03
# Colour difference (CIE Lab, Delta E 76) below which a pixel is never seeded as object:
# about the difference between two neighbouring grey levels a few steps apart.
_MIN_OBJECT_CONTRAST = 8.0
# A pixel seeds as object when its colour is further from the background field than
# this share of the border's own spread (99th percentile). Below 1 on purpose: on a
# textured background an object inside the texture's colour range still gets seeds, and
# GrabCut's colour models, learnt from the border, give the texture back to the background.
_BACKGROUND_SPREAD_MARGIN = 0.7
# Gaussian sigma, as a share of the shorter side, that averages fine background texture
# out of the colour difference used for seeding; also the scale the texture is measured at.
_TEXTURE_SMOOTHING = 0.01
# Border pixels further from the background fit than this multiple of the residuals'
# upper quartile are not background (an object touching the edge).
_FIT_CUT_OFF = 3.0
# A pixel also seeds as object when its local texture, of lightness or of chroma, is
# below this share of the smoothest border texture (5th percentile): a plain object on a
# mottled background, a dull natural object on coloured noise.
_SMOOTHER_THAN_BACKGROUND = 0.5
# ... or above this multiple of the roughest border texture (99th percentile): fur, print
# or stripes on a background with less detail.
_ROUGHER_THAN_BACKGROUND = 1.5
_GRABCUT_ITERATIONS = 3
# Pieces of the matte smaller than this share of the largest piece are noise, not parts.
_MIN_PART_SHARE = 0.15
# Enclosed background regions smaller than this share of the object are filled (glints,
# labels coloured like the background); larger ones are real openings (a torus, a handle).
_MAX_FILLED_HOLE_SHARE = 0.01
# Gaussian sigma, in output pixels, of the soft edge given to the binary matte.
_FEATHER_SIGMA = 0.8
# Fewer object pixels than this share of the image counts as "nothing found".
_MIN_OBJECT_SHARE = 1e-3


def remove_background(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    method: str = "auto",
    models_dir: Path | None = None,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rgba, mask)``: the image with the object's opacity as alpha, float32
    ``[H, W, 4]`` in 0..1, and that opacity ``[H, W]`` in 0..1 (1 = object).

    ``image`` is ``[H, W, 3]`` or ``[H, W, 4]``, uint8 0..255 or float 0..1. ``mask`` is an
    optional ``[H, W]`` opacity (uint8, float 0..1 or bool) for an image whose alpha is
    absent or fully opaque. ``method`` is one of ``METHODS``; ``models_dir`` is the folder
    holding ``rembg/`` (learned matte weights, see ``matting_models``); ``device`` is the
    torch device the transformers-based models run on.

    The RGB channels are returned unchanged: consumers composite by the alpha. Learned and
    classical methods matte the RGB channels and ignore an alpha channel; to reuse a loaded
    model across calls, run ``load_matting_model(...).predict(rgb)`` and pass its result as
    ``mask`` with ``method="alpha"``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown background removal method {method!r}; use one of {', '.join(METHODS)}")
    pixels = _image_to_float(image)
    rgb = pixels[..., :3]
    given = _given_opacity(pixels, mask)
    if method == "auto":
        method = _auto_method(given, models_dir)
    if method == "alpha":
        if given is None:
            has = "a fully opaque alpha channel" if pixels.shape[-1] == 4 else "no alpha channel"
            raise ValueError(
                f"method 'alpha' needs a cut-out alpha channel or a mask; this image has {has} "
                "and no mask was given. Pass mask=..., or use method 'classical' (no weights "
                f"needed) or one of {', '.join(MODEL_METHODS)} (weights on disk)"
            )
        opacity = given
    else:
        if mask is not None:
            raise ValueError(
                f"a mask was given, but method {method!r} computes its own and would ignore "
                "it; use method 'alpha' (or 'auto') to keep the mask"
            )
        if method == "classical":
            opacity = classical_matte(rgb)
        else:
            opacity = load_matting_model(method, models_dir, device=device).predict(rgb)
        _check_found(opacity, method)
    rgba = np.concatenate([rgb, opacity[..., None]], axis=-1).astype(np.float32)
    return rgba, opacity.astype(np.float32)


def classical_matte(rgb: np.ndarray) -> np.ndarray:
    """Opacity ``[H, W]`` float32 in 0..1 of the object in ``rgb`` (``[H, W, 3]``, uint8 or
    float 0..1), from the pixels alone, deterministic.

    Handles an object that differs in colour from a background that is plain, a smooth
    gradient or vignette, or mildly textured (noise, stripes, paper, fabric), the usual
    product shot or generated image. The object may touch the image edge, and may have
    several parts and real openings.

    Does not handle busy real-world backgrounds (rooms, streets, foliage), an object of
    the background's own colour, or shadows and reflections on the background (they
    differ from it, so they join the object); use a learned method or give a mask there.

    How: the background is learnt from a strip along the image border, as a smooth colour
    field (a robust quadratic fit in Lab, which follows gradients and vignettes, with the
    border's pixels that do not fit, such as an object touching the edge, left out), the
    spread of the border's colours around it and the border's local texture. Pixels far
    from that field, or whose lightness or chroma texture is much smoother or rougher than
    the border's, seed the object, the fitting border seeds the background, and OpenCV's
    GrabCut settles the rest with colour models of both and an edge-aware graph cut. The
    matte then keeps the main pieces, fills small enclosed gaps and gets a slightly soft
    edge. Images are matted at most ``_CLASSICAL_WORK_SIZE`` pixels wide and the matte is
    scaled back.
    """
    import cv2

    pixels = _image_to_float(rgb)
    if pixels.shape[-1] != 3:
        raise ValueError("classical_matte takes an RGB image [H, W, 3]; drop the alpha channel")
    height, width = pixels.shape[:2]
    scale = min(1.0, _CLASSICAL_WORK_SIZE / max(height, width))
    work = pixels
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    seeds = _grabcut_seeds(work)
    if not (seeds == cv2.GC_PR_FGD).any():
        return np.zeros((height, width), dtype=np.float32)
    image_u8 = np.rint(np.clip(work, 0, 1) * 255).astype(np.uint8)
    background_model = np.zeros((1, 65), np.float64)
    object_model = np.zeros((1, 65), np.float64)
    # GrabCut starts its colour models with k-means++, which draws from OpenCV's RNG
    # (per thread); seeding it makes the matte repeatable.
    cv2.setRNGSeed(0)
    cv2.grabCut(image_u8, seeds, None, background_model, object_model,
                _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    binary = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    binary = _fill_small_holes(_keep_main_parts(binary))
    opacity = binary.astype(np.float32)
    if scale < 1.0:
        opacity = cv2.resize(opacity, (width, height), interpolation=cv2.INTER_LINEAR)
    opacity = cv2.GaussianBlur(opacity, (0, 0), _FEATHER_SIGMA)
    return np.clip(opacity, 0.0, 1.0)


def _grabcut_seeds(rgb: np.ndarray) -> np.ndarray:
    """GrabCut's initial labels: sure background on the fitting border, probable object
    where the colour or the texture stands out from the background's, probable background
    elsewhere.

    Lightness and chroma texture are compared with the border's apart: a background of
    coloured noise varies in hue far more than a real object does, while the object has
    more lightness detail (fur, shading, print), so each alone tells them apart where
    their sum, and the colour, do not.
    """
    import cv2

    height, width = rgb.shape[:2]
    sigma = max(1.0, _TEXTURE_SMOOTHING * min(height, width))
    raw = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    lab = cv2.GaussianBlur(raw, (0, 0), sigma)
    border = _border_strip(height, width)
    field, fits = _background_field(lab, border)
    sure_background = np.zeros_like(border)
    sure_background[border] = fits
    distance = np.linalg.norm(lab - field, axis=-1)
    spread = float(np.percentile(distance[sure_background], 99))
    object_like = distance > max(_MIN_OBJECT_CONTRAST, _BACKGROUND_SPREAD_MARGIN * spread)
    for channels in (raw[..., :1], raw[..., 1:]):
        texture = _local_texture(channels, sigma)
        object_like |= _texture_unlike_background(texture, sure_background, sigma)
    seeds = np.where(object_like, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    seeds[sure_background] = cv2.GC_BGD
    return seeds


def _local_texture(channels: np.ndarray, sigma: float) -> np.ndarray:
    """Root mean square, over a Gaussian window of ``sigma``, of the detail a blur of that
    sigma takes out of ``channels`` (``[H, W, C]``)."""
    import cv2

    channels = np.ascontiguousarray(channels)
    detail = channels - cv2.GaussianBlur(channels, (0, 0), sigma).reshape(channels.shape)
    return np.sqrt(cv2.GaussianBlur((detail**2).sum(-1), (0, 0), sigma))


def _texture_unlike_background(
    texture: np.ndarray, background: np.ndarray, sigma: float
) -> np.ndarray:
    """Pixels much smoother or much rougher than the ``background`` pixels' texture.

    Just outside a detailed object's edge the texture also reads rough (the measure's blur
    reaches across the edge), so the rough pixels are shrunk by ``sigma``, which keeps
    them inside the object and out of narrow gaps such as the one between a tail and a body.
    """
    import cv2

    smooth = texture < _SMOOTHER_THAN_BACKGROUND * float(np.percentile(texture[background], 5))
    rough = texture > _ROUGHER_THAN_BACKGROUND * float(np.percentile(texture[background], 99))
    radius = max(1, round(sigma))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return smooth | cv2.erode(rough.astype(np.uint8), disc).astype(bool)


def _border_strip(height: int, width: int) -> np.ndarray:
    strip = max(2, round(_BORDER_FRACTION * min(height, width)))
    border = np.zeros((height, width), dtype=bool)
    border[:strip] = border[-strip:] = True
    border[:, :strip] = border[:, -strip:] = True
    return border


def _background_field(lab: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic colour field over the image fitted to the border strip, and which border
    pixels fit it.

    The fit starts from the border's median colour and is redone without the pixels that
    fit worst, so an object touching the edge (up to a quarter of the border) stays out of
    it. The cut-off is a multiple of the residuals' upper quartile, so a striped or
    mottled border, whose residuals are all alike, keeps all its pixels.
    """
    height, width = lab.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width]
    y = (rows / max(height - 1, 1) * 2 - 1).ravel()
    x = (cols / max(width - 1, 1) * 2 - 1).ravel()
    design = np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], axis=1)
    border_design = design[border.ravel()]
    border_lab = lab[border].astype(np.float64)
    residual = np.linalg.norm(border_lab - np.median(border_lab, axis=0), axis=1)
    for _ in range(3):
        fits = _fitting(residual)
        coefficients, *_ = np.linalg.lstsq(border_design[fits], border_lab[fits], rcond=None)
        residual = np.linalg.norm(border_design @ coefficients - border_lab, axis=1)
    field = (design @ coefficients).reshape(height, width, 3).astype(np.float32)
    return field, _fitting(residual)


def _fitting(residual: np.ndarray) -> np.ndarray:
    return residual <= max(_FIT_CUT_OFF * float(np.percentile(residual, 75)), _MIN_OBJECT_CONTRAST / 2)


def _keep_main_parts(binary: np.ndarray) -> np.ndarray:
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if count <= 1:
        return binary
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= _MIN_PART_SHARE * areas.max()) + 1
    return np.isin(labels, keep)


def _fill_small_holes(binary: np.ndarray) -> np.ndarray:
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats((~binary).astype(np.uint8), connectivity=4)
    height, width = binary.shape
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right, bottom = left + stats[:, cv2.CC_STAT_WIDTH], top + stats[:, cv2.CC_STAT_HEIGHT]
    enclosed = (left > 0) & (top > 0) & (right < width) & (bottom < height)
    fill = enclosed & (stats[:, cv2.CC_STAT_AREA] <= _MAX_FILLED_HOLE_SHARE * binary.sum())
    fill[0] = True  # label 0 is the object itself
    return fill[labels]


def _auto_method(given: np.ndarray | None, models_dir: Path | None) -> str:
    if given is not None:
        return "alpha"
    available = available_model_methods(models_dir)
    return available[0] if available else "classical"


def _check_found(opacity: np.ndarray, method: str) -> None:
    if (opacity >= 0.5).mean() < _MIN_OBJECT_SHARE:
        others = [name for name in METHODS if name not in ("auto", method)]
        raise ValueError(
            f"background removal ({method}) found no object in the image. Try another "
            f"method ({', '.join(others)}) or pass a mask of the object with method 'alpha'."
        )


def _image_to_float(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        hint = " (a batch? pass one image, e.g. images[0])" if array.ndim == 4 else ""
        raise ValueError(
            f"expected an image of shape [H, W, 3] (RGB) or [H, W, 4] (RGBA); got "
            f"{tuple(array.shape)}{hint}"
        )
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise ValueError(f"the image is too small to matte: shape {tuple(array.shape)}")
    return to_unit_float(array, "image")


def _given_opacity(pixels: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
    """The caller's opacity: the mask, else an alpha channel that is not fully opaque.

    A fully opaque alpha carries no cut-out (many RGB images are saved as RGBA), so it
    counts as absent and a mask may then be given alongside it.
    """
    alpha = pixels[..., 3] if pixels.shape[-1] == 4 else None
    if alpha is not None and not alpha.any():
        raise ValueError(
            "the image is fully transparent (its alpha is zero everywhere), so there is no "
            "object in it; check the image, or drop its alpha channel to matte the RGB"
        )
    has_cutout = alpha is not None and bool((alpha < 1).any())
    if mask is None:
        return alpha if has_cutout else None
    if has_cutout:
        raise ValueError(
            "got an image with a transparent alpha channel and a separate mask; pass the "
            "opacity one way only (drop the mask, or the image's alpha channel)"
        )
    array = np.asarray(mask)
    if array.shape != pixels.shape[:2]:
        raise ValueError(
            f"mask shape {tuple(array.shape)} does not match the image's "
            f"{pixels.shape[:2]}; expected [H, W]"
        )
    opacity = to_unit_float(array, "mask")
    if not opacity.any():
        raise ValueError(
            "the mask is zero everywhere, so it marks no object; pass a mask that is 1 on "
            "the object, or use method 'classical' to compute one"
        )
    return opacity
