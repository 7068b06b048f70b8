"""Procedural training shapes: watertight, the right volume, exact inside tests, sharp
edges where the solid has creases and nowhere else, reproducible from the seed."""

import math

import numpy as np
import pytest

from hy3d_core.geometry.occupancy_iou import occupancy_grid
from hy3d_core.geometry.surface_sampling import sharp_edges, surface_point_cloud
from hy3d_core.training.procedural_shapes import (
    COMPOSITE_KINDS,
    SHAPE_FAMILIES,
    ProceduralShape,
    random_shape,
    shape_set,
)


def _analytic_volume(shape: ProceduralShape) -> float:
    p = shape.params
    if shape.family == "box":
        return float(np.prod(p["size"]))
    if shape.family == "cylinder":
        return math.pi * p["radius"] ** 2 * p["height"]
    if shape.family == "cone":
        return math.pi * p["radius"] ** 2 * p["height"] / 3
    if shape.family == "torus":
        return 2 * math.pi**2 * p["major_radius"] * p["minor_radius"] ** 2
    if shape.family == "sphere":
        return 4 / 3 * math.pi * float(np.prod(p["radii"]))
    # A union has no closed form here: a Monte Carlo estimate of the exact inside test.
    low, high = shape.mesh.vertices.min(0), shape.mesh.vertices.max(0)
    points = np.random.default_rng(0).uniform(low, high, (400_000, 3))
    return float(shape.contains(points).mean() * np.prod(high - low))


@pytest.fixture(scope="module")
def shapes():
    return shape_set(2, seed=3)


def test_every_family_is_a_watertight_solid_of_the_analytic_volume(shapes):
    assert [s.family for s in shapes] == [f for f in SHAPE_FAMILIES for _ in range(2)]
    for shape in shapes:
        mesh = shape.mesh.to_trimesh()
        assert mesh.is_watertight and mesh.is_winding_consistent, shape.family
        assert mesh.volume > 0, f"{shape.family} is wound inward"
        assert mesh.volume == pytest.approx(_analytic_volume(shape), rel=0.03), shape.params


def test_every_composite_kind_is_a_watertight_union():
    kinds = {}
    rng = np.random.default_rng(11)
    while len(kinds) < len(COMPOSITE_KINDS):
        shape = random_shape("composite", rng)
        kinds.setdefault(shape.params["kind"], shape)
    for kind, shape in kinds.items():
        mesh = shape.mesh.to_trimesh()
        assert mesh.is_watertight and len(mesh.split()) == 1, kind
        parts = sum(_analytic_volume(ProceduralShape(part["family"], part, shape.mesh))
                    for part in shape.params["parts"])
        assert mesh.volume < parts, f"{kind}: the parts overlap, so the union is smaller"


def test_contains_agrees_with_the_mesh(shapes):
    for shape in shapes:
        exact = occupancy_grid(shape.contains, resolution=40, bound=1.0)
        from_mesh = occupancy_grid(shape.mesh, resolution=40, bound=1.0)
        assert exact.any()
        assert np.mean(exact == from_mesh) > 0.99, shape.family


def test_contains_checks_its_input(shapes):
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        shapes[0].contains(np.zeros((4, 2)))


def test_box_sharp_samples_lie_on_its_twelve_edges():
    shape = random_shape("box", np.random.default_rng(0))
    half = np.asarray(shape.params["size"]) / 2
    assert len(sharp_edges(shape.mesh)) == 12
    cloud = surface_point_cloud(shape.mesh, num_uniform=200, num_sharp=500, seed=0)[0].numpy()
    sharp = cloud[200:]
    assert (sharp[:, 6] == 1).all()
    on_face_planes = np.isclose(np.abs(sharp[:, :3]), half, atol=1e-5).sum(axis=1)
    assert (on_face_planes >= 2).all()


def test_rims_are_sharp_and_curved_sides_are_not():
    rng = np.random.default_rng(1)
    cylinder = random_shape("cylinder", rng)
    cloud = surface_point_cloud(cylinder.mesh, num_uniform=10, num_sharp=300, seed=0)[0].numpy()
    sharp = cloud[10:, :3]
    assert np.allclose(np.abs(sharp[:, 1]), cylinder.params["height"] / 2, atol=1e-5)
    radial = np.hypot(sharp[:, 0], sharp[:, 2])
    assert np.allclose(radial, cylinder.params["radius"], rtol=2e-3)
    for family in ("sphere", "torus"):
        smooth = random_shape(family, rng).mesh
        assert len(sharp_edges(smooth)) == 0, family
        assert len(sharp_edges(smooth, creases_only=False)) == 0, family
    for family in ("cylinder", "cone"):
        mesh = random_shape(family, rng).mesh
        assert len(sharp_edges(mesh, creases_only=False)) == len(sharp_edges(mesh)), family


def test_the_seed_fixes_the_set():
    first, again, other = shape_set(1, seed=5), shape_set(1, seed=5), shape_set(1, seed=6)
    for a, b in zip(first, again):
        assert a.params == b.params
        assert np.array_equal(a.mesh.vertices, b.mesh.vertices)
    assert [a.params for a in first] != [c.params for c in other]


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="Unknown shape family"):
        random_shape("pyramid", np.random.default_rng(0))
    with pytest.raises(ValueError, match="per_family"):
        shape_set(0, seed=0)
