"""Image files: EXIF orientation applied, high bit depth scaled (not clipped to white),
and one-line errors for missing or damaged files."""

import numpy as np
import pytest
from PIL import Image

from hy3d_core.image.loading import load_image_rgba
from hy3d_core.image.files import high_depth_to_uint8, read_image_rgba

ROTATE_90_CLOCKWISE = 6  # EXIF orientation: display after turning the stored pixels right


def _upright_photo() -> np.ndarray:
    """A tall picture, red in its top half and blue below, a black square near the top."""
    pixels = np.zeros((60, 40, 3), np.uint8)
    pixels[:30] = (255, 0, 0)
    pixels[30:] = (0, 0, 255)
    pixels[8:20, 12:24] = 0
    return pixels


def _save_as_phone_jpeg(upright: np.ndarray, path) -> None:
    """Store the pixels turned left with orientation 6, as a phone held upright does."""
    stored = Image.fromarray(np.rot90(upright, k=1).copy())
    exif = Image.Exif()
    exif[0x0112] = ROTATE_90_CLOCKWISE
    stored.save(path, quality=100, subsampling=0, exif=exif)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    upright = _upright_photo()
    path = tmp_path / "phone.jpg"
    _save_as_phone_jpeg(upright, path)
    with Image.open(path) as raw:
        assert raw.size == (60, 40), "the file stores the picture on its side"
    rgba = read_image_rgba(path)
    assert rgba.shape == (60, 40, 4) and rgba.dtype == np.uint8
    assert (rgba[..., 3] == 255).all()
    assert np.abs(rgba[..., :3].astype(int) - upright).max() <= 8


def test_the_command_line_prepares_a_phone_photo_upright(tmp_path):
    upright = np.full((60, 40, 3), 255, np.uint8)  # an L-shaped object on white
    upright[6:26, 6:34] = (200, 30, 30)
    upright[26:54, 6:16] = (30, 30, 200)
    Image.fromarray(upright).save(tmp_path / "upright.png")
    _save_as_phone_jpeg(upright, tmp_path / "phone.jpg")
    expected = load_image_rgba(tmp_path / "upright.png", background="classical")
    got = load_image_rgba(tmp_path / "phone.jpg", background="classical")
    sideways = np.rot90(expected.rgb, k=1)
    assert np.abs(got.rgb - expected.rgb).mean() < 0.02
    assert np.abs(got.rgb - sideways).mean() > 0.05


def test_sixteen_bit_greyscale_png_keeps_its_ramp(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (8, 1))
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    with Image.open(path) as opened:
        assert opened.mode.startswith("I")
    rgba = read_image_rgba(path)
    assert rgba.shape == (8, 256, 4)
    grey = rgba[0, :, 0].astype(int)
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 1] == rgba[..., 2]).all()
    assert (rgba[..., 3] == 255).all()
    np.testing.assert_array_equal(grey, np.arange(256))


def test_thirty_two_bit_and_float_modes_map_by_their_range(tmp_path):
    integers = np.array([[0, 2**30, 2**31 - 1]], np.int32)
    Image.fromarray(integers).save(tmp_path / "int32.tif")
    assert read_image_rgba(tmp_path / "int32.tif")[0, :, 0].tolist() == [0, 128, 255]
    unit = np.array([[0.0, 0.5, 1.0]], np.float32)
    Image.fromarray(unit).save(tmp_path / "unit.tif")
    assert read_image_rgba(tmp_path / "unit.tif")[0, :, 0].tolist() == [0, 128, 255]
    depth = np.array([[2.0, 6.0, 10.0]], np.float32)
    assert high_depth_to_uint8(depth).tolist() == [[0, 128, 255]]
    with pytest.raises(ValueError, match="NaN or infinite"):
        high_depth_to_uint8(np.array([[0.0, np.nan]], np.float32))


def test_eight_bit_files_are_read_unchanged(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_image_rgba(tmp_path / "rgba.png"), pixels)


def test_missing_and_damaged_files_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_image_rgba(tmp_path / "missing.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="not an image file"):
        read_image_rgba(tmp_path / "notes.png")
    Image.fromarray(_upright_photo()).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="could not be decoded") as caught:
        read_image_rgba(tmp_path / "cut.png")
    assert "\n" not in str(caught.value)
