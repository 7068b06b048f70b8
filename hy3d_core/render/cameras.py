"""The orbit cameras Paint 2.0 renders and bakes with, and the UNet's camera index.

The multiview model was trained on images from exactly these cameras, so the geometry
maps it is conditioned on must come from the same poses, projection and image layout:

- position for ``(elevation, azimuth)`` in degrees: elevation negated, 90 added to the
  azimuth, then ``distance * (cos e cos a, cos e sin a, sin e)``; looking at the origin
  with world up ``+z`` (in the renderer's frame, see ``normalization.py``);
- camera axes OpenGL style (x right, y up, looking down -z), so the projection matrices
  are the OpenGL ones and NDC depth grows away from the camera;
- orthographic: distance 1.45, frustum +-0.6 (ortho scale 1.2), near 0.1, far 100.

Matrices are computed in float64 and stored as float32, as the release does. At
elevation +-90 the view direction is parallel to world up; the release relies on
``cos(radians(90))`` being about 6e-17 rather than 0, which makes the in-image rotation
follow the azimuth. The same float64 arithmetic here gives the same rotation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

RELEASED_DISTANCE = 1.45
RELEASED_ORTHO_SCALE = 1.2
RELEASED_ORTHO_NEAR = 0.1
RELEASED_FAR = 100.0
RELEASED_PERSPECTIVE_FOV = 49.13
RELEASED_PERSPECTIVE_NEAR = 0.01
CAMERA_KINDS = ("orthographic", "perspective")

_INDEX_DIVISOR = {-20: 1, 0: 1, 20: 1, -90: 3, 90: 3}
_INDEX_OFFSET = {-20: 0, 0: 12, 20: 24, -90: 36, 90: 40}

PRESETS = {
    "hunyuan3d-6view": {
        "azimuths": (0.0, 90.0, 180.0, 270.0, 0.0, 180.0),
        "elevations": (0.0, 0.0, 0.0, 0.0, 90.0, -90.0),
        "weights": (1.0, 0.1, 0.5, 0.1, 0.05, 0.05),
    },
}


def orbit_position(elevation: float, azimuth: float, distance: float) -> np.ndarray:
    """Camera centre (float64 ``[3]``) for an orbit pose, with the release's angles."""
    e = math.radians(-elevation)
    a = math.radians(azimuth + 90.0)
    return np.array(
        [
            distance * math.cos(e) * math.cos(a),
            distance * math.cos(e) * math.sin(a),
            distance * math.sin(e),
        ]
    )


def look_at(position: np.ndarray, target: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """World-to-camera ``[4, 4]`` (float64) for a camera at ``position`` with up ``+z``."""
    forward = np.asarray(target, dtype=np.float64) - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    if np.linalg.norm(right) == 0.0:
        raise ValueError(
            f"A camera at {position.tolist()} looks exactly along world up, so its image "
            "rotation is undefined; move it off the axis (orbit angles never land on it)."
        )
    right = right / np.linalg.norm(right)
    up = np.cross(right, forward)
    up = up / np.linalg.norm(up)
    rotation = np.stack([right, up, -forward])  # rows: camera axes in world space
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ position
    return world_to_camera


def orthographic_projection(scale: float, near: float, far: float) -> np.ndarray:
    """OpenGL orthographic projection of the square ``[-scale/2, scale/2]^2`` frustum."""
    projection = np.eye(4)
    projection[0, 0] = 2.0 / scale
    projection[1, 1] = 2.0 / scale
    projection[2, 2] = -2.0 / (far - near)
    projection[2, 3] = -(far + near) / (far - near)
    return projection


def perspective_projection(fov_y: float, aspect: float, near: float, far: float) -> np.ndarray:
    """OpenGL perspective projection; ``fov_y`` in degrees, ``aspect`` = width / height."""
    focal = 1.0 / math.tan(math.radians(fov_y) / 2.0)
    return np.array(
        [
            [focal / aspect, 0.0, 0.0, 0.0],
            [0.0, focal, 0.0, 0.0],
            [0.0, 0.0, -(far + near) / (far - near), -2.0 * far * near / (far - near)],
            [0.0, 0.0, -1.0, 0.0],
        ]
    )


def paint_camera_index(azimuth: float, elevation: float) -> int:
    """The class index the Paint UNet was trained with for a generated view.

    ``((azimuth // 30 + 9) % 12) // d[elev] + o[elev]``; the UNet itself adds 5 (the
    reference image uses index 0), so this is the value the pipeline passes in.
    """
    key = int(elevation) if float(elevation).is_integer() else None
    if key not in _INDEX_DIVISOR:
        raise ValueError(
            f"The Paint model knows elevations {sorted(_INDEX_DIVISOR)} only, got "
            f"{elevation}; pick one of those for views fed to the multiview model."
        )
    sector = int((azimuth // 30 + 9) % 12)
    return sector // _INDEX_DIVISOR[key] + _INDEX_OFFSET[key]


@dataclass(frozen=True, eq=False)
class CameraSet:
    """Views to render and bake: poses, per-view bake weights and the matrices.

    ``world_to_camera`` is ``[N, 4, 4]`` and ``projection`` ``[4, 4]``, float32.
    """

    azimuths: tuple[float, ...]
    elevations: tuple[float, ...]
    weights: tuple[float, ...]
    kind: str
    distance: float
    world_to_camera: torch.Tensor
    projection: torch.Tensor

    def __len__(self) -> int:
        return len(self.azimuths)

    @property
    def view_projection(self) -> torch.Tensor:
        """``projection @ world_to_camera`` per view, ``[N, 4, 4]``."""
        return self.projection @ self.world_to_camera

    @property
    def positions(self) -> torch.Tensor:
        """Camera centres in world space, ``[N, 3]``."""
        rotation = self.world_to_camera[:, :3, :3]
        translation = self.world_to_camera[:, :3, 3:]
        return -(rotation.transpose(1, 2) @ translation)[..., 0]

    def to_clip(self, vertices: torch.Tensor) -> torch.Tensor:
        """World-space ``[V, 3]`` to clip space for every view, ``[N, V, 4]``."""
        homogeneous = torch.cat([vertices, torch.ones_like(vertices[:, :1])], dim=1)
        return homogeneous @ self.view_projection.to(vertices).transpose(1, 2)

    def to_camera(self, vertices: torch.Tensor) -> torch.Tensor:
        """World-space ``[V, 3]`` to camera space for every view, ``[N, V, 3]``."""
        world_to_camera = self.world_to_camera.to(vertices)
        rotation, translation = world_to_camera[:, :3, :3], world_to_camera[:, None, :3, 3]
        return vertices @ rotation.transpose(1, 2) + translation

    def paint_camera_indices(self) -> list[int]:
        return [paint_camera_index(a, e) for a, e in zip(self.azimuths, self.elevations)]


def orbit_cameras(
    azimuths: Sequence[float],
    elevations: Sequence[float],
    weights: Sequence[float] | None = None,
    kind: str = "orthographic",
    distance: float = RELEASED_DISTANCE,
    ortho_scale: float = RELEASED_ORTHO_SCALE,
    fov_y: float = RELEASED_PERSPECTIVE_FOV,
    aspect: float = 1.0,
    near: float | None = None,
    far: float = RELEASED_FAR,
) -> CameraSet:
    """Cameras on the release's orbit; ``near`` defaults to the release's value per kind
    (0.1 orthographic, 0.01 perspective)."""
    azimuths = tuple(float(a) for a in azimuths)
    elevations = tuple(float(e) for e in elevations)
    weights = tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(azimuths)
    if not azimuths:
        raise ValueError("At least one camera is needed (azimuths is empty).")
    if not len(azimuths) == len(elevations) == len(weights):
        raise ValueError(
            f"azimuths ({len(azimuths)}), elevations ({len(elevations)}) and weights "
            f"({len(weights)}) must have one entry per view."
        )
    if kind not in CAMERA_KINDS:
        raise ValueError(f"Unknown camera kind {kind!r}; choose one of {CAMERA_KINDS}.")
    if distance <= 0:
        raise ValueError(f"Camera distance must be positive, got {distance}.")
    if kind == "orthographic":
        near = RELEASED_ORTHO_NEAR if near is None else near
        projection = orthographic_projection(ortho_scale, near, far)
    else:
        near = RELEASED_PERSPECTIVE_NEAR if near is None else near
        if not 0.0 < fov_y < 180.0:
            raise ValueError(f"fov_y must be between 0 and 180 degrees, got {fov_y}.")
        projection = perspective_projection(fov_y, aspect, near, far)
    if not 0.0 < near < far:
        raise ValueError(f"Need 0 < near < far, got near={near}, far={far}.")
    world_to_camera = np.stack(
        [look_at(orbit_position(e, a, distance)) for a, e in zip(azimuths, elevations)]
    )
    return CameraSet(
        azimuths=azimuths,
        elevations=elevations,
        weights=weights,
        kind=kind,
        distance=float(distance),
        world_to_camera=torch.from_numpy(world_to_camera.astype(np.float32)),
        projection=torch.from_numpy(projection.astype(np.float32)),
    )


def camera_preset(name: str = "hunyuan3d-6view", **options) -> CameraSet:
    """A named view set (``PRESETS``); ``options`` go to ``orbit_cameras``."""
    if name not in PRESETS:
        raise ValueError(f"Unknown camera preset {name!r}; choose one of {sorted(PRESETS)}.")
    return orbit_cameras(**PRESETS[name], **options)
