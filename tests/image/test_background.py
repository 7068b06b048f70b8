"""Background removal: the classical matte's accuracy on rendered scenes with known masks,
the alpha/mask pass-through, the choice made by "auto", learned mattes loaded only from
disk, and the errors a user can cause.

The measured scenes here are generated: shaded solids ray-cast in numpy and skimage's
horse silhouette filled with a photograph, over plain, gradient, noise, striped and
photographed-texture backgrounds. ``test_background_photos.py`` puts real photographs
cut out by hand (the Debian package tuxpaint-stamps-default) over the same backgrounds.
``bench/bench_background.py`` runs both, larger and more of them.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import types

import numpy as np
import pytest

from hy3d_core.image.background import classical_matte, remove_background
from hy3d_core.image.matting_models import MissingWeightsError, available_model_methods

BACKGROUND_KINDS = ("plain", "gradient", "noise", "stripes", "photo_texture")
OBJECT_KINDS = ("sphere", "box", "torus", "horse")
# Each output pixel averages this many rays per side, so scene edges are anti-aliased.
_SUPERSAMPLE = 2


def make_scene(object_kind: str, background_kind: str, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb float32 [size, size, 3] in 0..1, true mask bool [size, size])``: one object
    drawn over one background, both drawn at random from ``seed``.

    The true mask is where the object covers at least half of a pixel.
    """
    rng = np.random.default_rng([seed, OBJECT_KINDS.index(object_kind), BACKGROUND_KINDS.index(background_kind)])
    if object_kind == "horse":
        coverage, colour = _photo_horse(size, rng)
    else:
        coverage, colour = _shaded_solid(object_kind, size, rng)
    background = make_background(background_kind, size, rng)
    rgb = coverage[..., None] * colour + (1 - coverage[..., None]) * background
    return rgb.astype(np.float32), coverage >= 0.5


def intersection_over_union(found: np.ndarray, truth: np.ndarray) -> float:
    return float((found & truth).sum() / max((found | truth).sum(), 1))


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    w, x, y, z = (quaternion := rng.normal(size=4)) / np.linalg.norm(quaternion)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _hit_sphere(origin, direction, radius):
    """Which rays hit a sphere at the origin, and the surface normal where they do."""
    b = (origin * direction).sum(-1)
    disc = b * b - ((origin * origin).sum(-1) - radius**2)
    hit = disc > 0
    t = -b - np.sqrt(np.where(hit, disc, 0))
    return hit, (origin + t[..., None] * direction) / radius


def _hit_box(origin, direction, half_extents):
    safe = np.where(np.abs(direction) < 1e-9, 1e-9, direction)
    t0, t1 = (-half_extents - origin) / safe, (half_extents - origin) / safe
    near, far = np.minimum(t0, t1), np.maximum(t0, t1)
    hit = near.max(-1) < far.min(-1)
    entry_axis = near.argmax(-1)[..., None]
    normal = np.zeros_like(origin)
    np.put_along_axis(normal, entry_axis, 1.0, axis=-1)
    return hit, normal * -np.sign(np.take_along_axis(direction, entry_axis, axis=-1))


def _hit_torus(origin, direction, major, minor):
    """Sphere tracing of the torus' distance field, started on its bounding sphere."""
    b = (origin * direction).sum(-1)
    c = (origin * origin).sum(-1) - (major + minor) ** 2
    t = np.maximum(-b - np.sqrt(np.maximum(b * b - c, 0)), 0)
    for _ in range(40):
        point = origin + t[..., None] * direction
        ring = np.hypot(point[..., 0], point[..., 1]) - major
        distance = np.hypot(ring, point[..., 2]) - minor
        t += distance
    point = origin + t[..., None] * direction
    radial = point[..., :2] / np.maximum(np.linalg.norm(point[..., :2], axis=-1, keepdims=True), 1e-9)
    normal = point - np.concatenate([radial * major, np.zeros_like(point[..., :1])], axis=-1)
    return np.abs(distance) < 1e-3, normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)


def _shaded_solid(kind: str, size: int, rng: np.random.Generator):
    """Coverage and colour of a randomly posed solid, ray-cast orthographically and shaded
    with Lambert diffuse, ambient and a Blinn-Phong highlight."""
    n = size * _SUPERSAMPLE
    scale = rng.uniform(0.55, 0.75)
    offset = rng.uniform(-0.12, 0.12, size=2)
    coords = (np.arange(n) + 0.5) / n * 2 - 1
    v, u = np.meshgrid(-coords, coords, indexing="ij")
    origin = np.stack([u - offset[0], v - offset[1], np.full_like(u, 3.0)], -1) / scale
    direction = np.broadcast_to(np.array([0.0, 0.0, -1.0]), origin.shape)
    rotation = _random_rotation(rng)
    local_origin, local_direction = origin @ rotation, direction @ rotation
    if kind == "sphere":
        hit, local_normal = _hit_sphere(local_origin, local_direction, 0.9)
    elif kind == "box":
        hit, local_normal = _hit_box(local_origin, local_direction, rng.uniform(0.35, 0.6, size=3))
    else:
        hit, local_normal = _hit_torus(local_origin, local_direction, 0.62, rng.uniform(0.18, 0.3))
    normal = local_normal @ rotation.T
    albedo = rng.uniform(0.05, 0.95, size=3)
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(0.2, 0.7), 0.8])
    light /= np.linalg.norm(light)
    halfway = (light + np.array([0.0, 0.0, 1.0])) / np.linalg.norm(light + np.array([0.0, 0.0, 1.0]))
    diffuse = np.clip(normal @ light, 0, None)[..., None]
    highlight = np.clip(normal @ halfway, 0, None)[..., None] ** 40
    colour = np.clip(albedo * (0.25 + 0.75 * diffuse) + 0.35 * highlight, 0, 1)
    return _downsample(hit.astype(np.float64), colour, size)


def _photo_horse(size: int, rng: np.random.Generator):
    """skimage's horse silhouette filled with a photograph: a flat object with thin legs
    and many colours."""
    import cv2
    from skimage import data

    n = size * _SUPERSAMPLE
    silhouette = (~data.horse()).astype(np.float64)
    photo = (data.chelsea, data.coffee, data.astronaut)[rng.integers(3)]().astype(np.float64) / 255
    width = int(n * rng.uniform(0.6, 0.8))
    height = int(width * silhouette.shape[0] / silhouette.shape[1])
    top = (n - height) // 2 + int(rng.integers(-n // 16, n // 16 + 1))
    left = (n - width) // 2 + int(rng.integers(-n // 16, n // 16 + 1))
    coverage, colour = np.zeros((n, n)), np.zeros((n, n, 3))
    coverage[top:top + height, left:left + width] = cv2.resize(silhouette, (width, height)) > 0.5
    colour[top:top + height, left:left + width] = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    return _downsample(coverage, colour, size)


def _downsample(coverage, colour, size):
    k = _SUPERSAMPLE
    blocks = coverage.reshape(size, k, size, k)
    weighted = (colour * coverage[..., None]).reshape(size, k, size, k, 3).sum((1, 3))
    return blocks.mean((1, 3)), weighted / np.maximum(blocks.sum((1, 3)), 1e-9)[..., None]


def make_background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``[size, size, 3]`` background of ``kind`` (one of ``BACKGROUND_KINDS``) in 0..1,
    drawn from ``rng``; ``photo_cutouts`` puts real photographs over the same ones."""
    import cv2

    # Half the backgrounds are neutral (white to near black), as in product shots and
    # generated images, half any colour.
    base = rng.uniform(0.0, 1.0, size=3) if rng.random() < 0.5 else np.full(3, rng.uniform(0.1, 1.0))
    rows, cols = np.mgrid[0:size, 0:size] / (size - 1)
    if kind == "plain":
        image = np.broadcast_to(base, (size, size, 3))
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.clip((np.cos(angle) * (cols - 0.5) + np.sin(angle) * (rows - 0.5)) / np.sqrt(0.5) + 0.5, 0, 1)
        image = base + ramp[..., None] * (rng.uniform(0.0, 1.0, size=3) - base)
    elif kind == "noise":
        blobs = cv2.GaussianBlur(rng.normal(size=(size, size, 3)), (0, 0), size / 40)
        image = base + 0.08 * blobs / blobs.std()
    elif kind == "stripes":
        other = np.clip(base + rng.choice([-1, 1], size=3) * rng.uniform(0.1, 0.25, size=3), 0, 1)
        angle = rng.uniform(0, np.pi)
        phase = (np.cos(angle) * cols + np.sin(angle) * rows) * rng.uniform(8, 16)
        band = np.clip(np.abs(phase % 1 - 0.5) * 8 - 1, 0, 1)
        image = base + band[..., None] * (other - base)
    else:
        from skimage import data

        texture = (data.brick, data.grass, data.gravel)[rng.integers(3)]().astype(np.float64) / 255
        texture = cv2.resize(texture, (size, size), interpolation=cv2.INTER_AREA)
        image = base + 0.5 * (texture - texture.mean())[..., None]
    return np.clip(image + rng.normal(scale=0.01, size=(size, size, 3)), 0, 1)


# Measured on these scenes (128 px, seeds 0 and 1, every object kind), IoU mean / min:
# plain 0.981 / 0.951, gradient 0.980 / 0.942, noise 0.983 / 0.929, stripes 0.975 / 0.923,
# photo_texture 0.982 / 0.961. The floors leave about 0.03 on the mean and 0.05 on the min.
_IOU_FLOORS = {
    "plain": (0.95, 0.90),
    "gradient": (0.95, 0.89),
    "noise": (0.95, 0.88),
    "stripes": (0.95, 0.87),
    "photo_texture": (0.95, 0.91),
}


@pytest.mark.parametrize("background_kind", BACKGROUND_KINDS)
def test_classical_matte_matches_known_masks(background_kind):
    scores = []
    for object_kind in OBJECT_KINDS:
        for seed in (0, 1):
            rgb, truth = make_scene(object_kind, background_kind, 128, seed)
            rgba, mask = remove_background(rgb, method="classical")
            assert rgba.shape == (128, 128, 4) and mask.shape == (128, 128)
            assert np.array_equal(rgba[..., 3], mask) and np.array_equal(rgba[..., :3], rgb)
            scores.append(intersection_over_union(mask >= 0.5, truth))
    mean_floor, min_floor = _IOU_FLOORS[background_kind]
    assert np.mean(scores) >= mean_floor, scores
    assert np.min(scores) >= min_floor, scores


def test_classical_matte_is_deterministic_and_soft_edged():
    rgb, _ = make_scene("horse", "noise", 96, 3)
    eight_bit = np.rint(rgb * 255).astype(np.uint8)
    first = classical_matte(eight_bit)
    assert np.array_equal(first, classical_matte(eight_bit.copy()))
    assert np.array_equal(first, classical_matte(eight_bit / np.float32(255)))
    assert ((first > 0.05) & (first < 0.95)).any(), "the edge should be feathered"
    assert first.min() >= 0 and first.max() <= 1


def _disc_scene(size: int = 96, *, hole_radius: float = 0.0, glint_radius: float = 0.0, centre=(0.5, 0.5)):
    """An orange disc of radius 0.3 (in image widths) on light grey, with an optional
    opening showing the background, or a small background-coloured spot, at its middle."""
    rows, cols = (np.mgrid[0:size, 0:size] + 0.5) / size
    radius = np.hypot(rows - centre[0], cols - centre[1])
    rgb = np.full((size, size, 3), 0.85, np.float32)
    disc = (radius < 0.3) & (radius >= hole_radius)
    rgb[disc] = (0.9, 0.45, 0.1)
    rgb[radius < glint_radius] = 0.85
    return rgb, disc | (radius < glint_radius)


def test_classical_matte_keeps_openings_and_fills_glints():
    ring, ring_truth = _disc_scene(hole_radius=0.12)
    ring_matte = classical_matte(ring)
    assert ring_matte[48, 48] < 0.5, "a ring's opening shows the background"
    assert intersection_over_union(ring_matte >= 0.5, ring_truth) > 0.95
    spotted, spotted_truth = _disc_scene(glint_radius=0.025)
    spotted_matte = classical_matte(spotted)
    assert spotted_matte[48, 48] > 0.5, "a small background-coloured spot is part of the object"
    assert intersection_over_union(spotted_matte >= 0.5, spotted_truth) > 0.95


def test_classical_matte_finds_an_object_cut_by_the_image_edge():
    rgb, truth = _disc_scene(centre=(0.85, 0.5))
    assert truth[-1].any()
    assert intersection_over_union(classical_matte(rgb) >= 0.5, truth) > 0.95


def test_classical_matte_downscales_large_images_and_returns_full_size():
    rgb, truth = _disc_scene(size=96)
    large = np.repeat(np.repeat(rgb, 7, axis=0), 8, axis=1)
    large_truth = np.repeat(np.repeat(truth, 7, axis=0), 8, axis=1)
    matte = classical_matte(large)
    assert matte.shape == large_truth.shape
    assert intersection_over_union(matte >= 0.5, large_truth) > 0.95


def test_alpha_method_keeps_an_rgba_images_alpha():
    rgb, truth = _disc_scene()
    rgba_u8 = np.concatenate([np.rint(rgb * 255), truth[..., None] * 200.0], -1).astype(np.uint8)
    rgba, mask = remove_background(rgba_u8, method="alpha")
    assert rgba.dtype == np.float32 and mask.dtype == np.float32
    assert np.array_equal(mask, rgba_u8[..., 3] / np.float32(255))
    assert np.array_equal(rgba[..., :3], rgba_u8[..., :3] / np.float32(255))


def test_alpha_method_keeps_a_given_mask_and_accepts_an_opaque_alpha_channel():
    rgb, truth = _disc_scene()
    rgba, mask = remove_background(rgb, truth, method="alpha")
    assert np.array_equal(mask, truth.astype(np.float32))
    opaque = np.concatenate([rgb, np.ones_like(rgb[..., :1])], -1)
    _, mask_for_opaque = remove_background(opaque, truth.astype(np.float32) * 0.5, method="alpha")
    assert np.array_equal(mask_for_opaque, truth * np.float32(0.5))


def test_alpha_method_without_alpha_or_mask_names_the_other_methods():
    rgb, _ = _disc_scene()
    with pytest.raises(ValueError, match="has no alpha channel and no mask.*classical.*rmbg"):
        remove_background(rgb, method="alpha")
    opaque = np.concatenate([rgb, np.ones_like(rgb[..., :1])], -1)
    with pytest.raises(ValueError, match="fully opaque alpha channel and no mask"):
        remove_background(opaque, method="alpha")


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """An empty models folder, with rembg's own cache folder pointed at an empty place."""
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "u2net_home"))
    models = tmp_path / "models"
    models.mkdir()
    return models


def test_auto_prefers_alpha_then_mask_then_classical(no_models):
    rgb, truth = _disc_scene()
    partial = np.concatenate([rgb, truth[..., None] * np.float32(0.75)], -1)
    assert np.array_equal(remove_background(partial, models_dir=no_models)[1], partial[..., 3])
    assert np.array_equal(remove_background(rgb, truth, models_dir=no_models)[1], truth.astype(np.float32))
    opaque = np.concatenate([rgb, np.ones_like(rgb[..., :1])], -1)
    assert available_model_methods(no_models) == []
    _, auto_mask = remove_background(opaque, models_dir=no_models)
    assert np.array_equal(auto_mask, classical_matte(rgb))


def test_fully_transparent_image_is_an_error_for_every_method():
    rgba = np.zeros((32, 32, 4), np.uint8)
    for method in ("auto", "alpha", "classical"):
        with pytest.raises(ValueError, match="fully transparent"):
            remove_background(rgba, method=method)


def test_empty_mask_and_nothing_found_are_errors():
    rgb, _ = _disc_scene()
    with pytest.raises(ValueError, match="zero everywhere"):
        remove_background(rgb, np.zeros(rgb.shape[:2]), method="alpha")
    plain = np.full((64, 64, 3), 0.4, np.float32)
    with pytest.raises(ValueError, match="found no object.*pass a mask"):
        remove_background(plain, method="classical")


@pytest.mark.parametrize(
    "image_shape,mask_shape,message",
    [
        ((32, 32), None, r"\[H, W, 3\]"),
        ((2, 32, 32, 3), None, "a batch"),
        ((32, 32, 2), None, r"\[H, W, 4\]"),
        ((32, 32, 3), (32, 31), "does not match"),
        ((32, 32, 3), (32, 32, 1), "does not match"),
    ],
)
def test_wrong_shapes_are_errors(image_shape, mask_shape, message):
    mask = None if mask_shape is None else np.ones(mask_shape, np.float32)
    with pytest.raises(ValueError, match=message):
        remove_background(np.zeros(image_shape, np.float32), mask, method="alpha")


def test_bad_values_and_conflicting_inputs_are_errors():
    rgb, truth = _disc_scene()
    with pytest.raises(ValueError, match="0..1"):
        remove_background(rgb * 255, truth, method="alpha")
    with pytest.raises(ValueError, match="uint8"):
        remove_background(rgb.astype(np.int64), truth, method="alpha")
    with pytest.raises(ValueError, match="unknown background removal method 'magic'"):
        remove_background(rgb, method="magic")
    with pytest.raises(ValueError, match="would ignore it"):
        remove_background(rgb, truth, method="classical")
    partial = np.concatenate([rgb, truth[..., None].astype(np.float32)], -1)
    with pytest.raises(ValueError, match="one way only"):
        remove_background(partial, truth, method="alpha")


@pytest.mark.parametrize("method,names", [
    ("rmbg", ("RMBG-2.0", "briaai/RMBG-2.0")),
    ("birefnet", ("BiRefNet", "ZhengPeng7/BiRefNet")),
])
def test_missing_transformers_matte_names_folder_and_repository(no_models, method, names):
    rgb, _ = _disc_scene()
    with pytest.raises(MissingWeightsError, match="no models_dir"):
        remove_background(rgb, method=method)
    with pytest.raises(MissingWeightsError) as error:
        remove_background(rgb, method=method, models_dir=no_models)
    assert str(no_models / "rembg" / names[0]) in str(error.value)
    assert names[1] in str(error.value)


def test_missing_rembg_model_names_the_file_and_where_to_put_it(no_models, tmp_path):
    rgb, _ = _disc_scene()
    with pytest.raises(MissingWeightsError) as error:
        remove_background(rgb, method="rembg", models_dir=no_models)
    message = str(error.value)
    assert "u2net.onnx" in message and "will not download" in message
    assert str(no_models / "rembg" / "u2net.onnx") in message
    assert str(tmp_path / "u2net_home" / "u2net.onnx") in message


@pytest.mark.skipif(
    importlib.util.find_spec("rembg") is not None and importlib.util.find_spec("onnxruntime") is not None,
    reason="rembg and onnxruntime are installed here",
)
def test_rembg_model_file_without_the_package_says_what_to_install(no_models):
    (no_models / "rembg").mkdir()
    (no_models / "rembg" / "u2net.onnx").write_bytes(b"not read")
    assert available_model_methods(no_models) == []
    rgb, _ = _disc_scene()
    with pytest.raises(ImportError, match="pip install rembg"):
        remove_background(rgb, method="rembg", models_dir=no_models)


@pytest.fixture
def stand_in_rembg(monkeypatch):
    """``rembg`` and ``onnxruntime`` modules standing in for the real packages (not
    installed here): the session records how it was asked for and mattes by brightness."""
    from PIL import Image

    calls = []

    class Session:
        def predict(self, image):
            grey = np.asarray(image.convert("L"))
            return [Image.fromarray(np.where(grey < 180, 255, 0).astype(np.uint8), "L")]

    def new_session(model_name, **kwargs):
        calls.append((model_name, kwargs))
        return Session()

    for name in ("rembg", "onnxruntime"):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, module)
    sys.modules["rembg"].new_session = new_session
    return calls


def test_rembg_runs_the_file_on_disk_through_a_session_that_cannot_download(no_models, stand_in_rembg):
    model_file = no_models / "rembg" / "u2net.onnx"
    model_file.parent.mkdir()
    model_file.write_bytes(b"weights")
    assert available_model_methods(no_models) == ["rembg"]
    rgb, truth = _disc_scene()
    _, mask = remove_background(rgb, models_dir=no_models)
    assert stand_in_rembg == [("u2net_custom", {"model_path": str(model_file)})]
    assert np.array_equal(mask, truth.astype(np.float32))


def _write_tiny_birefnet_folder(folder):
    """A transformers remote-code folder laid out like BiRefNet's: a 1x1 convolution on
    the image's red-minus-blue difference, returning a coarse and a fine output as
    BiRefNet does."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "tiny_config.py").write_text(
        "from transformers import PretrainedConfig\n"
        "class TinyMatteConfig(PretrainedConfig):\n"
        "    model_type = 'tiny_matte'\n"
    )
    (folder / "tiny_matte.py").write_text(
        "import torch\n"
        "from transformers import PreTrainedModel\n"
        "from .tiny_config import TinyMatteConfig\n"
        "class TinyMatte(PreTrainedModel):\n"
        "    config_class = TinyMatteConfig\n"
        "    def __init__(self, config):\n"
        "        super().__init__(config)\n"
        "        self.head = torch.nn.Conv2d(3, 1, 1)\n"
        "        self.post_init()\n"
        "    def forward(self, x):\n"
        "        return [torch.zeros_like(self.head(x[:, :, ::4, ::4])), self.head(x)]\n"
    )
    (folder / "config.json").write_text(json.dumps({
        "model_type": "tiny_matte",
        "auto_map": {"AutoConfig": "tiny_config.TinyMatteConfig",
                     "AutoModelForImageSegmentation": "tiny_matte.TinyMatte"},
    }))
    # On ImageNet-normalised input, orange (red 0.9, blue 0.1) gives a large positive
    # logit and light grey a negative one.
    weight = torch.tensor([20.0 * 0.229, 0.0, -20.0 * 0.225]).view(1, 3, 1, 1)
    save_file({"head.weight": weight, "head.bias": torch.tensor([-1.5])}, str(folder / "model.safetensors"))


@pytest.fixture
def isolated_remote_code(tmp_path, monkeypatch):
    """transformers copies remote code into its modules cache, puts that folder on
    sys.path and imports it as ``transformers_modules.*``; keep all three to one test."""
    dynamic_modules = pytest.importorskip("transformers.dynamic_module_utils")
    monkeypatch.setattr(dynamic_modules, "HF_MODULES_CACHE", str(tmp_path / "hf_modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    earlier = [name for name in sys.modules if name.startswith("transformers_modules")]
    for name in earlier:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name in [name for name in sys.modules if name.startswith("transformers_modules")]:
        if name not in earlier:
            del sys.modules[name]


def test_birefnet_loads_a_local_remote_code_folder_and_auto_prefers_it(no_models, isolated_remote_code):
    _write_tiny_birefnet_folder(no_models / "rembg" / "BiRefNet")
    assert available_model_methods(no_models) == ["birefnet"]
    rgb, truth = _disc_scene()
    rgba, mask = remove_background(rgb, models_dir=no_models)
    assert mask.shape == truth.shape and 0 <= mask.min() and mask.max() <= 1
    assert intersection_over_union(mask >= 0.5, truth) > 0.9
    assert np.array_equal(rgba[..., 3], mask)


def test_a_broken_model_folder_names_the_folder_and_repository(no_models, isolated_remote_code):
    folder = no_models / "rembg" / "RMBG-2.0"
    _write_tiny_birefnet_folder(folder)
    (folder / "tiny_matte.py").unlink()
    rgb, _ = _disc_scene()
    with pytest.raises(RuntimeError) as error:
        remove_background(rgb, method="rmbg", models_dir=no_models)
    assert str(folder) in str(error.value) and "briaai/RMBG-2.0" in str(error.value)
