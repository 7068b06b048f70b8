"""The released orbit cameras: closed forms, the reference implementation, UNet indices."""

import math

import numpy as np
import pytest
import torch

from hy3d_core.render.cameras import (
    camera_preset,
    look_at,
    orbit_cameras,
    paint_camera_index,
)
from oracle import import_oracle

D = 1.45


@pytest.mark.parametrize(
    "elevation, azimuth, position, right, up",
    [
        # elevation negated, azimuth + 90, d * (cos e cos a, cos e sin a, sin e)
        (0, 0, (0, D, 0), (-1, 0, 0), (0, 0, 1)),
        (0, 90, (-D, 0, 0), (0, -1, 0), (0, 0, 1)),
        (0, 180, (0, -D, 0), (1, 0, 0), (0, 0, 1)),
        (0, 270, (D, 0, 0), (0, 1, 0), (0, 0, 1)),
        (90, 0, (0, 0, -D), (-1, 0, 0), (0, 1, 0)),
        (-90, 180, (0, 0, D), (1, 0, 0), (0, 1, 0)),
        (30, 0, (0, D * math.cos(math.radians(30)), -D / 2), (-1, 0, 0),
         (0, 0.5, math.cos(math.radians(30)))),
    ],
)
def test_world_to_camera_closed_form(elevation, azimuth, position, right, up):
    cameras = orbit_cameras([azimuth], [elevation])
    world_to_camera = cameras.world_to_camera[0].double()
    rotation = world_to_camera[:3, :3]
    position = torch.tensor(position, dtype=torch.float64)
    backward = position / D  # the camera looks at the origin along -z
    expected = torch.stack([torch.tensor(right, dtype=torch.float64),
                            torch.tensor(up, dtype=torch.float64), backward])
    assert torch.allclose(rotation, expected, atol=1e-6)
    assert torch.allclose(world_to_camera[:3, 3], -expected @ position, atol=1e-6)
    assert torch.allclose(cameras.positions[0].double(), position, atol=1e-6)


def test_orthographic_projection_and_clip_of_the_origin():
    cameras = orbit_cameras([0], [0])
    near, far = 0.1, 100.0
    expected = torch.tensor([
        [1 / 0.6, 0, 0, 0], [0, 1 / 0.6, 0, 0],
        [0, 0, -2 / (far - near), -(far + near) / (far - near)], [0, 0, 0, 1],
    ])
    assert torch.allclose(cameras.projection, expected)
    # Seen from azimuth 0 (camera on +y), world -x is image right and +z image up; both
    # points lie 1.45 in front of the camera.
    points = torch.tensor([[0.6, 0.0, 0.6], [0.0, 0.0, 0.0]])
    clip = cameras.to_clip(points)[0]
    z = -2 / (far - near) * -D - (far + near) / (far - near)
    assert torch.allclose(clip[0], torch.tensor([-1.0, 1.0, z, 1.0]), atol=1e-6)
    assert torch.allclose(clip[1], torch.tensor([0.0, 0.0, z, 1.0]), atol=1e-6)


def test_perspective_projection():
    cameras = orbit_cameras([0], [0], kind="perspective", fov_y=60.0, aspect=2.0)
    focal = 1 / math.tan(math.radians(30))
    near, far = 0.01, 100.0
    expected = torch.tensor([
        [focal / 2, 0, 0, 0], [0, focal, 0, 0],
        [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)], [0, 0, -1, 0],
    ])
    assert torch.allclose(cameras.projection, expected)
    assert torch.allclose(cameras.to_clip(torch.zeros(1, 3))[0, 0, 3], torch.tensor(D))


def test_preset_and_camera_indices_for_the_six_views():
    cameras = camera_preset("hunyuan3d-6view")
    assert cameras.azimuths == (0, 90, 180, 270, 0, 180)
    assert cameras.elevations == (0, 0, 0, 0, 90, -90)
    assert cameras.weights == (1, 0.1, 0.5, 0.1, 0.05, 0.05)
    assert cameras.kind == "orthographic" and len(cameras) == 6
    # ((azim // 30 + 9) % 12) // d[elev] + o[elev], worked out by hand:
    # (9)//1+12, (12%12=0)//1+12, (15%12=3)//1+12, (18%12=6)//1+12, 9//3+40, 15%12//3+36
    assert cameras.paint_camera_indices() == [21, 12, 15, 18, 43, 37]
    assert paint_camera_index(-30, 20) == 8 // 1 + 24
    with pytest.raises(ValueError, match="elevations"):
        paint_camera_index(0, 45)


def test_custom_views_and_bad_options():
    cameras = orbit_cameras([10, 20], [5, -5], weights=[1, 2])
    assert cameras.world_to_camera.shape == (2, 4, 4)
    with pytest.raises(ValueError, match="one entry per view"):
        orbit_cameras([0, 90], [0])
    with pytest.raises(ValueError, match="Unknown camera kind"):
        orbit_cameras([0], [0], kind="fisheye")
    with pytest.raises(ValueError, match="Unknown camera preset"):
        camera_preset("nine-views")
    with pytest.raises(ValueError, match="exactly along world up"):
        look_at(np.array([0.0, 0.0, D]))


@pytest.mark.oracle
def test_matrices_match_the_reference_implementation():
    reference = import_oracle("hy3dgen.texgen.differentiable_renderer.camera_utils")
    poses = [(0, 0), (0, 90), (0, 180), (0, 270), (90, 0), (-90, 180), (20, 45), (-20, 300)]
    cameras = orbit_cameras([a for _, a in poses], [e for e, _ in poses])
    for index, (elevation, azimuth) in enumerate(poses):
        expected = reference.get_mv_matrix(elevation, azimuth, D)
        assert np.allclose(cameras.world_to_camera[index].numpy(), expected, atol=1e-7)
    ortho = reference.get_orthographic_projection_matrix(-0.6, 0.6, -0.6, 0.6, 0.1, 100)
    assert np.array_equal(cameras.projection.numpy(), ortho)
    perspective = reference.get_perspective_projection_matrix(49.13, 1.0, 0.01, 100.0)
    ours = orbit_cameras([0], [0], kind="perspective").projection.numpy()
    assert np.array_equal(ours, perspective)
