"""Simple solids with known insides: the demo model's training set.

A model trained for minutes on a 2-core CPU can only learn a small, regular world, so
every shape stands upright in one canonical frame (``+y`` up, the Hunyuan3D shape frame,
no random rotation) and only its proportions vary. Each shape carries an exact inside
test, so occupancy labels need no mesh inside test and have no voxel error.

Tessellation is chosen for the sharp-edge sampler (``surface_sampling``, release
threshold 0.985, about 10 degrees): curved parts use 64 sections, so neighbouring faces
differ by under 6 degrees and are never taken as creases, while box edges, cylinder and
cone rims and the cone's apex are true creases. Solids of revolution get a profile point
half way up their sides, so every side edge has a non-sharp end and not even the
release's own rule (``creases_only=False``) marks the sides.

Composites are real boolean unions (``manifold3d`` through trimesh), so their meshes are
watertight and have creases where the parts meet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..geometry.face_geometry import wind_outward
from ..geometry.mesh import Mesh

SHAPE_FAMILIES = ("box", "cylinder", "cone", "torus", "sphere", "composite")
COMPOSITE_KINDS = ("tower", "rocket", "table")
SECTIONS = 64
SPHERE_STACKS = 32
TORUS_TUBE_SECTIONS = 32
# How far a part reaches into the one it stands on, so the union has no coplanar faces.
_OVERLAP = 0.03


@dataclass(frozen=True, eq=False)
class ProceduralShape:
    """One solid: ``params`` (JSON-serialisable) fully determine ``mesh`` and ``contains``.

    Primitive params hold ``center`` and the family's sizes; a composite's hold ``kind``
    and ``parts``, a list of ``{"family": ..., **params}`` primitives.
    """

    family: str
    params: dict[str, Any]
    mesh: Mesh

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Exact inside test for ``[N, 3]`` points in the shape's frame (boundary counts)."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"points must have shape [N, 3], got {list(points.shape)}.")
        return _inside(self.family, self.params, points)


def _box_inside(params: dict, points: np.ndarray) -> np.ndarray:
    offset = np.abs(points - params["center"])
    return np.all(offset <= np.asarray(params["size"]) / 2.0, axis=1)


def _axial(params: dict, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the vertical axis through ``center``, and height above the centre."""
    local = points - params["center"]
    return np.hypot(local[:, 0], local[:, 2]), local[:, 1]


def _cylinder_inside(params: dict, points: np.ndarray) -> np.ndarray:
    radial, height = _axial(params, points)
    return (radial <= params["radius"]) & (np.abs(height) <= params["height"] / 2.0)


def _cone_inside(params: dict, points: np.ndarray) -> np.ndarray:
    radial, height = _axial(params, points)
    half = params["height"] / 2.0
    allowed = params["radius"] * (half - height) / params["height"]
    return (np.abs(height) <= half) & (radial <= allowed)


def _torus_inside(params: dict, points: np.ndarray) -> np.ndarray:
    radial, height = _axial(params, points)
    return (radial - params["major_radius"]) ** 2 + height**2 <= params["minor_radius"] ** 2


def _sphere_inside(params: dict, points: np.ndarray) -> np.ndarray:
    scaled = (points - params["center"]) / np.asarray(params["radii"])
    return np.einsum("nd,nd->n", scaled, scaled) <= 1.0


def _composite_inside(params: dict, points: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(points), dtype=bool)
    for part in params["parts"]:
        inside |= _inside(part["family"], part, points)
    return inside


_INSIDE_TESTS: dict[str, Callable[[dict, np.ndarray], np.ndarray]] = {
    "box": _box_inside,
    "cylinder": _cylinder_inside,
    "cone": _cone_inside,
    "torus": _torus_inside,
    "sphere": _sphere_inside,
    "composite": _composite_inside,
}


def _inside(family: str, params: dict, points: np.ndarray) -> np.ndarray:
    return _INSIDE_TESTS[family](params, points)


def _revolve(radii: np.ndarray, heights: np.ndarray, *,
             closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Surface of revolution about ``+y`` of a profile ``(radius, height)``.

    An open profile must start and end on the axis (radius 0): those points become
    single pole vertices. A closed profile (the torus tube) loops back to its start.
    """
    angles = np.linspace(0.0, 2.0 * math.pi, SECTIONS, endpoint=False)
    vertices, rings = [], []
    for radius, height in zip(radii, heights):
        start = sum(len(block) for block in vertices)
        if radius == 0.0:
            vertices.append(np.array([[0.0, height, 0.0]]))
            rings.append(np.full(SECTIONS, start))
        else:
            ring = np.stack([radius * np.cos(angles), np.full(SECTIONS, height),
                             radius * np.sin(angles)], axis=1)
            vertices.append(ring)
            rings.append(start + np.arange(SECTIONS))
    pairs = list(zip(rings[:-1], rings[1:]))
    if closed:
        pairs.append((rings[-1], rings[0]))
    faces = []
    for lower, upper in pairs:
        lower_next, upper_next = np.roll(lower, -1), np.roll(upper, -1)
        if lower[0] != lower[1]:
            faces.append(np.stack([lower, upper, lower_next], axis=1))
        if upper[0] != upper[1]:
            faces.append(np.stack([lower_next, upper, upper_next], axis=1))
    return np.concatenate(vertices), np.concatenate(faces)


def _box_surface(params: dict) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return corners * np.asarray(params["size"]), faces


def _cylinder_surface(params: dict) -> tuple[np.ndarray, np.ndarray]:
    radius, half = params["radius"], params["height"] / 2.0
    return _revolve(np.array([0.0, radius, radius, radius, 0.0]),
                    np.array([-half, -half, 0.0, half, half]), closed=False)


def _cone_surface(params: dict) -> tuple[np.ndarray, np.ndarray]:
    radius, half = params["radius"], params["height"] / 2.0
    return _revolve(np.array([0.0, radius, radius / 2.0, 0.0]),
                    np.array([-half, -half, 0.0, half]), closed=False)


def _torus_surface(params: dict) -> tuple[np.ndarray, np.ndarray]:
    tube = np.linspace(0.0, 2.0 * math.pi, TORUS_TUBE_SECTIONS, endpoint=False)
    return _revolve(params["major_radius"] + params["minor_radius"] * np.cos(tube),
                    params["minor_radius"] * np.sin(tube), closed=True)


def _sphere_surface(params: dict) -> tuple[np.ndarray, np.ndarray]:
    polar = np.linspace(0.0, math.pi, SPHERE_STACKS + 1)
    radii = np.sin(polar)
    radii[[0, -1]] = 0.0
    vertices, faces = _revolve(radii, -np.cos(polar), closed=False)
    return vertices * np.asarray(params["radii"]), faces


_SURFACES = {
    "box": _box_surface,
    "cylinder": _cylinder_surface,
    "cone": _cone_surface,
    "torus": _torus_surface,
    "sphere": _sphere_surface,
}


def _primitive_mesh(family: str, params: dict) -> Mesh:
    vertices, faces = _SURFACES[family](params)
    return Mesh(vertices=vertices + np.asarray(params["center"]),
                faces=wind_outward(vertices, faces))


def _union(parts: list[dict]) -> Mesh:
    import trimesh

    solids = [_primitive_mesh(part["family"], part).to_trimesh() for part in parts]
    try:
        united = trimesh.boolean.union(solids, engine="manifold")
    except (ImportError, ModuleNotFoundError) as error:
        raise ImportError("Composite shapes need a boolean engine: pip install manifold3d"
                          ) from error
    return Mesh(vertices=united.vertices, faces=united.faces)


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(rng.uniform(low, high)), 6)


def _part(family: str, center: tuple[float, float, float], **sizes: Any) -> dict:
    return {"family": family, "center": [float(c) for c in center], **sizes}


def _random_primitive(family: str, rng: np.random.Generator) -> dict:
    if family == "box":
        return _part("box", (0, 0, 0), size=[_uniform(rng, 0.4, 1.6) for _ in range(3)])
    if family == "cylinder":
        return _part("cylinder", (0, 0, 0), radius=_uniform(rng, 0.25, 0.8),
                     height=_uniform(rng, 0.4, 1.8))
    if family == "cone":
        return _part("cone", (0, 0, 0), radius=_uniform(rng, 0.3, 0.8),
                     height=_uniform(rng, 0.6, 1.8))
    if family == "torus":
        major = _uniform(rng, 0.5, 0.8)
        return _part("torus", (0, 0, 0), major_radius=major,
                     minor_radius=round(major * _uniform(rng, 0.2, 0.45), 6))
    return _part("sphere", (0, 0, 0), radii=[_uniform(rng, 0.5, 0.9) for _ in range(3)])


def _tower(rng: np.random.Generator) -> list[dict]:
    """A box with a cylinder standing on its top face."""
    width, height, depth = (_uniform(rng, 0.6, 1.4) for _ in range(3))
    radius = min(width, depth) * _uniform(rng, 0.2, 0.45)
    column = _uniform(rng, 0.3, 0.9)
    return [_part("box", (0, 0, 0), size=[width, height, depth]),
            _part("cylinder", (0, height / 2 + column / 2 - _OVERLAP, 0), radius=radius,
                  height=column)]


def _rocket(rng: np.random.Generator) -> list[dict]:
    """A cone standing on a cylinder."""
    radius, body = _uniform(rng, 0.25, 0.6), _uniform(rng, 0.5, 1.4)
    tip_radius, tip = radius * _uniform(rng, 1.0, 1.4), _uniform(rng, 0.4, 1.0)
    return [_part("cylinder", (0, 0, 0), radius=radius, height=body),
            _part("cone", (0, body / 2 + tip / 2 - _OVERLAP, 0), radius=tip_radius,
                  height=tip)]


def _table(rng: np.random.Generator) -> list[dict]:
    """A flat box top on four box legs at its corners."""
    width, depth = _uniform(rng, 1.0, 1.8), _uniform(rng, 0.7, 1.4)
    thickness, leg_height = _uniform(rng, 0.08, 0.2), _uniform(rng, 0.5, 1.2)
    leg = _uniform(rng, 0.1, 0.18)
    inset_x, inset_z = width / 2 - leg / 2 - 0.05, depth / 2 - leg / 2 - 0.05
    legs = [_part("box", (sx * inset_x, -thickness / 2 - leg_height / 2 + _OVERLAP, sz * inset_z),
                  size=[leg, leg_height, leg]) for sx in (-1, 1) for sz in (-1, 1)]
    return [_part("box", (0, 0, 0), size=[width, thickness, depth])] + legs


_COMPOSITES = {"tower": _tower, "rocket": _rocket, "table": _table}


def random_shape(family: str, rng: np.random.Generator) -> ProceduralShape:
    """A shape of ``family`` with proportions drawn from ``rng`` (which advances)."""
    if family not in SHAPE_FAMILIES:
        raise ValueError(f"Unknown shape family {family!r}; choose one of {SHAPE_FAMILIES}.")
    if family != "composite":
        params = _random_primitive(family, rng)
        params.pop("family")
        return ProceduralShape(family, params, _primitive_mesh(family, params))
    kind = COMPOSITE_KINDS[int(rng.integers(len(COMPOSITE_KINDS)))]
    parts = _COMPOSITES[kind](rng)
    return ProceduralShape(family, {"kind": kind, "parts": parts}, _union(parts))


def shape_set(per_family: int, seed: int) -> list[ProceduralShape]:
    """``per_family`` shapes of every family, in family order; the same seed gives the
    same shapes, and each family's shapes do not depend on the other families'."""
    if isinstance(per_family, bool) or not isinstance(per_family, int) or per_family < 1:
        raise ValueError(f"per_family must be a positive integer, got {per_family!r}.")
    shapes = []
    for index, family in enumerate(SHAPE_FAMILIES):
        rng = np.random.default_rng([seed, index])
        shapes.extend(random_shape(family, rng) for _ in range(per_family))
    return shapes
