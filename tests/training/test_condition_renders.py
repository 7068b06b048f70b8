"""Conditioning renders: upright front view, silhouette alpha, shading that varies."""

import numpy as np
import pytest

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.image.prepare import prepare_image
from hy3d_core.training.condition_renders import render_condition_image, render_condition_images
from hy3d_core.training.procedural_shapes import random_shape


def _box(width, height, depth, center=(0.0, 0.0, 0.0)):
    shape = random_shape("box", np.random.default_rng(0))
    corners = shape.mesh.vertices / np.asarray(shape.params["size"])
    return Mesh(vertices=corners * (width, height, depth) + center, faces=shape.mesh.faces)


def _extent(alpha):
    rows, columns = np.nonzero(alpha)
    return rows.max() - rows.min() + 1, columns.max() - columns.min() + 1


def test_the_front_view_is_upright():
    image = render_condition_image(_box(0.5, 1.5, 0.8), azimuth=0, elevation=0, size=128)
    assert image.shape == (128, 128, 4) and image.dtype == np.uint8
    height, width = _extent(image[..., 3] > 0)
    assert height > 2 * width
    # Two boxes, the small one above (+y) and to the right (+x): top right of the picture.
    pair = Mesh(vertices=np.concatenate([_box(1, 1, 1).vertices,
                                         _box(0.3, 0.3, 0.3, (0.8, 0.8, 0)).vertices]),
                faces=np.concatenate([_box(1, 1, 1).faces, _box(1, 1, 1).faces + 8]))
    alpha = render_condition_image(pair, azimuth=0, elevation=0, size=128)[..., 3] > 0
    rows, columns = np.nonzero(alpha)
    assert alpha[rows.min(), columns.max()]
    # The recentred image the conditioner gets keeps the proportions.
    prepared = prepare_image(image, size=64)
    mask_height, mask_width = _extent(prepared.mask > 0.5)
    assert mask_height > 2 * mask_width


def test_alpha_is_the_silhouette_and_shading_shows_faces():
    image = render_condition_image(_box(1, 1, 1), azimuth=30, elevation=20, size=96)
    alpha = image[..., 3]
    assert set(np.unique(alpha)) == {0, 255}
    assert (image[alpha == 0, :3] == 255).all()
    inside = image[alpha == 255, 0]
    assert len(np.unique(inside)) == 3, "three visible faces, three brightnesses"
    assert inside.max() <= round(0.8 * 255)


def test_elevation_looks_from_above():
    cylinder = random_shape("cylinder", np.random.default_rng(2))
    side, above = render_condition_images(cylinder.mesh, [(0, 0), (0, 30)], size=64)
    assert side[..., 3].sum() < above[..., 3].sum(), "the top cap shows from above"


def test_bad_options_are_explained():
    mesh = _box(1, 1, 1)
    with pytest.raises(ValueError, match="size"):
        render_condition_image(mesh, azimuth=0, elevation=0, size=0)
    with pytest.raises(ValueError, match="colour"):
        render_condition_image(mesh, azimuth=0, elevation=0, size=8, colour=(2, 0, 0))
    with pytest.raises(ValueError, match="without faces"):
        render_condition_image(Mesh(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3), int)),
                               azimuth=0, elevation=0)
