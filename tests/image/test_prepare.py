"""Image recentring against the release's ImageProcessorV2 / MVImageProcessorV2."""

import numpy as np
import pytest
import torch
from PIL import Image

from hy3d_core.image.prepare import prepare_image, prepare_views, stack_views
from oracle import import_oracle


def _object_rgba(height: int = 150, width: int = 110, centre=(40, 70), radii=(25, 18)) -> np.ndarray:
    """An off-centre coloured ellipse with a soft (partly transparent) edge."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    distance = np.sqrt(((rows - centre[0]) / radii[0]) ** 2 + ((cols - centre[1]) / radii[1]) ** 2)
    alpha = np.clip((1.15 - distance) / 0.3, 0, 1)
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., 0] = (rows * 255 / height).astype(np.uint8)
    rgba[..., 1] = (cols * 255 / width).astype(np.uint8)
    rgba[..., 2] = 90
    rgba[..., 3] = np.rint(alpha * 255).astype(np.uint8)
    return rgba


def _oracle_processors():
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.preprocessors import ImageProcessorV2, MVImageProcessorV2

    return ImageProcessorV2, MVImageProcessorV2


@pytest.mark.oracle
@pytest.mark.parametrize("size,border_ratio", [(512, 0.15), (96, 0.3)])
def test_rgba_image_matches_release(size, border_ratio):
    ImageProcessorV2, _ = _oracle_processors()
    rgba = _object_rgba()
    expected = ImageProcessorV2(size=size)(Image.fromarray(rgba, "RGBA"), border_ratio=border_ratio)
    got = prepare_image(rgba[..., :3], rgba[..., 3], size=size, border_ratio=border_ratio)
    assert got.tensor.shape == (1, 3, size, size)
    assert torch.equal(got.tensor, expected["image"])
    expected_mask = np.rint((expected["mask"][0, 0].numpy() + 1) / 2 * 255)
    assert np.array_equal(np.rint(got.mask * 255), expected_mask)
    tensor_as_uint8 = np.rint((got.tensor[0].permute(1, 2, 0).numpy() + 1) / 2 * 255)
    assert np.array_equal(np.rint(got.rgb * 255), tensor_as_uint8)
    # the object really moved: its centre of mass is now near the canvas centre
    rows, cols = np.nonzero(got.mask > 0.5)
    assert abs(rows.mean() - size / 2) < size * 0.05 and abs(cols.mean() - size / 2) < size * 0.05


@pytest.mark.oracle
def test_image_without_alpha_uses_the_whole_image_as_released():
    ImageProcessorV2, _ = _oracle_processors()
    rgb = _object_rgba(80, 120)[..., :3]
    expected = ImageProcessorV2(size=64)(Image.fromarray(rgb, "RGB"))
    got = prepare_image(rgb, size=64)
    assert torch.equal(got.tensor, expected["image"])


@pytest.mark.oracle
def test_views_match_release_order_and_pixels():
    _, MVImageProcessorV2 = _oracle_processors()
    back, front = _object_rgba(centre=(90, 40)), _object_rgba()
    expected = MVImageProcessorV2(size=64)(
        {"back": Image.fromarray(back, "RGBA"), "front": Image.fromarray(front, "RGBA")}
    )
    got = prepare_views({"back": back, "front": front}, size=64)
    assert got.view_indices == tuple(expected["view_idxs"]) == (0, 2)
    assert got.view_names == ("front", "back")
    assert got.tensor.shape == (1, 2, 3, 64, 64)
    assert torch.equal(got.tensor, expected["image"])


def test_uint8_float_and_torch_inputs_agree():
    rgba = _object_rgba()
    reference = prepare_image(rgba[..., :3], rgba[..., 3], size=64)
    as_float = rgba.astype(np.float32) / 255
    variants = [
        prepare_image(rgba, size=64),
        prepare_image(as_float[..., :3], as_float[..., 3], size=64),
        prepare_image(torch.from_numpy(as_float[..., :3]), torch.from_numpy(as_float[..., 3]), size=64),
        prepare_image(torch.from_numpy(as_float).half(), size=64),
    ]
    for variant in variants:
        assert torch.equal(variant.tensor, reference.tensor)
        assert np.array_equal(variant.mask, reference.mask)


def test_boolean_mask_means_fully_opaque_object():
    rgba = _object_rgba()
    inside = rgba[..., 3] > 0
    got = prepare_image(rgba[..., :3], inside, size=64)
    expected = prepare_image(rgba[..., :3], inside.astype(np.uint8) * 255, size=64)
    assert torch.equal(got.tensor, expected.tensor)
    assert got.mask.max() == 1.0


def test_stacking_prepared_views_orders_them_by_index():
    front, right = prepare_image(_object_rgba(), size=32), prepare_image(_object_rgba(centre=(100, 40)), size=32)
    views = stack_views({"right": right, "front": front})
    assert views.view_indices == (0, 3)
    assert torch.equal(views.tensor[0, 1:], right.tensor)


def _transparent() -> np.ndarray:
    rgba = _object_rgba()
    rgba[..., 3] = 0
    return rgba


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        ((_transparent(),), {}, "fully transparent"),
        ((_object_rgba()[..., :3], np.zeros((150, 110), np.uint8)), {}, "fully transparent"),
        ((np.zeros((0, 10, 3), np.uint8),), {}, "empty"),
        ((np.zeros((10, 10, 2), np.uint8),), {}, r"\[H, W, 3\]"),
        ((np.zeros((1, 10, 10, 3), np.float32),), {}, "a batch"),
        ((np.full((10, 10, 3), 200.0),), {}, "must be in 0..1"),
        ((np.zeros((10, 10, 3), np.int32),), {}, "uint8"),
        ((_object_rgba(), _object_rgba()[..., 3]), {}, "RGBA image and a separate alpha"),
        ((_object_rgba()[..., :3], np.ones((10, 10))), {}, "does not match"),
        ((_object_rgba(),), {"border_ratio": 1.0}, "border_ratio"),
        ((_object_rgba(),), {"size": 0}, "size"),
    ],
)
def test_bad_inputs_are_refused_clearly(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prepare_image(*args, **kwargs)


def test_single_pixel_line_is_refused():
    mask = np.zeros((40, 40), np.uint8)
    mask[5:30, 12] = 255
    with pytest.raises(ValueError, match="single row or column"):
        prepare_image(np.zeros((40, 40, 3), np.uint8), mask)


def test_bad_view_names_are_refused_and_errors_name_the_view():
    with pytest.raises(ValueError, match="unknown view names.*'top'"):
        prepare_views({"top": _object_rgba()})
    with pytest.raises(ValueError, match="back view: the image is fully transparent"):
        prepare_views({"front": _object_rgba(), "back": _transparent()})
    with pytest.raises(ValueError, match="no views"):
        prepare_views({})
