"""Paint 2.1's view selection: the released candidates, the greedy rule, and real meshes."""

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.render.cameras import camera_preset
from hy3d_core.render.normalization import normalize_for_render
from hy3d_core.render.torch_rasterizer import TorchRasterizer
from hy3d_core.render.view_selection import (
    greedy_view_order,
    released_candidate_cameras,
    select_bake_views,
    visible_faces,
)


def normalised(mesh: trimesh.Trimesh):
    vertices, _ = normalize_for_render(torch.tensor(mesh.vertices, dtype=torch.float32))
    return vertices, torch.tensor(mesh.faces, dtype=torch.int64)


def test_released_candidates_in_the_released_order():
    cameras = released_candidate_cameras()
    assert len(cameras) == 30
    assert cameras.azimuths[:6] == (0, 90, 180, 270, 0, 180)
    assert cameras.elevations[:6] == (0, 0, 0, 0, 90, -90)
    assert cameras.weights[:6] == (1, 0.1, 0.5, 0.1, 0.05, 0.05)
    assert cameras.azimuths[6:10] == (0, 0, 30, 30)
    assert cameras.elevations[6:10] == (20, -20, 20, -20)
    assert cameras.azimuths[-2:] == (330, 330)
    assert set(cameras.weights[6:]) == {0.01}
    # the first six are Paint 2.0's preset, pose for pose
    torch.testing.assert_close(cameras.world_to_camera[:6], camera_preset().world_to_camera)
    # every candidate has a class index the Paint UNet knows
    assert len(cameras.paint_camera_indices()) == 30


def test_greedy_rule_keeps_six_then_adds_the_largest_new_area():
    areas = torch.tensor([40.0, 20.0, 10.0, 10.0, 10.0, 5.0, 4.0, 0.5, 0.5])
    seen = torch.zeros(10, 9, dtype=torch.bool)
    seen[0, 0] = seen[1, 1] = True             # the first six see faces 0 and 1
    seen[6, [2, 5]] = True                     # 15 % new
    seen[7, [3, 4]] = True                     # 20 % new: taken first
    seen[8, [2, 6]] = True                     # 14 % new, then 4 % once 6 is kept
    seen[9, [3, 4]] = True                     # same as 7 but later: never preferred
    assert greedy_view_order(seen, areas, 6) == [0, 1, 2, 3, 4, 5]
    assert greedy_view_order(seen, areas, 7) == [0, 1, 2, 3, 4, 5, 7]
    assert greedy_view_order(seen, areas, 9) == [0, 1, 2, 3, 4, 5, 7, 6, 8]
    # stop once the best adds no more than 1 %: view 8 adds 4 %, then only faces 7, 8 are left
    seen[9] = False
    seen[9, 7] = True                          # 0.5 % new: below the release's 1 % bar
    assert greedy_view_order(seen, areas, 10) == [0, 1, 2, 3, 4, 5, 7, 6, 8]


def test_six_views_are_the_first_six_candidates():
    vertices, faces = normalised(trimesh.creation.annulus(0.35, 0.5, 1.0))
    chosen = select_bake_views(vertices, faces, 6, resolution=64, rasterizer=TorchRasterizer())
    assert chosen.azimuths == (0, 90, 180, 270, 0, 180)
    assert chosen.weights == (1, 0.1, 0.5, 0.1, 0.05, 0.05)


def test_a_convex_mesh_needs_no_more_than_the_six_axis_views():
    vertices, faces = normalised(trimesh.creation.icosphere(subdivisions=3))
    chosen = select_bake_views(vertices, faces, 9, resolution=128, rasterizer=TorchRasterizer())
    assert len(chosen) == 6


def test_a_tube_gains_tilted_views_that_each_add_the_most_new_area():
    # A thick tube whose axis is the front view's: the six axis views see its inner wall
    # edge-on or not at all (40 % of the area), the +-20 degree views see into it.
    vertices, faces = normalised(trimesh.creation.annulus(0.35, 0.5, 1.0, sections=48))
    rasterizer = TorchRasterizer()
    chosen = select_bake_views(vertices, faces, 9, resolution=128, rasterizer=rasterizer)
    assert len(chosen) == 9
    assert chosen.azimuths[:6] == (0, 90, 180, 270, 0, 180)
    assert set(chosen.elevations[6:]) <= {20.0, -20.0}
    assert set(chosen.weights[6:]) == {0.01}
    again = select_bake_views(vertices, faces, 9, resolution=128, rasterizer=rasterizer)
    assert (again.azimuths, again.elevations) == (chosen.azimuths, chosen.elevations)
    torch.testing.assert_close(again.world_to_camera, chosen.world_to_camera)

    # each added view is the candidate adding the most not-yet-seen area, by over 1 %
    candidates = released_candidate_cameras()
    seen = visible_faces(vertices, faces, candidates, 128, rasterizer).numpy()
    corners = vertices[faces].double()
    areas = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    ratios = (areas.norm(dim=1) / areas.norm(dim=1).sum()).numpy()
    poses = list(zip(candidates.azimuths, candidates.elevations))
    kept = [poses.index(pose) for pose in zip(chosen.azimuths, chosen.elevations)]
    covered = seen[kept[:6]].any(axis=0)
    for index in kept[6:]:
        gains = [ratios[row & ~covered].sum() for row in seen]
        assert gains[index] > 0.01
        assert gains[index] == pytest.approx(max(g for i, g in enumerate(gains) if i not in kept))
        covered |= seen[index]
    # the chosen views' matrices are the candidates' own
    torch.testing.assert_close(chosen.world_to_camera, candidates.world_to_camera[kept])


def test_bad_view_counts_are_refused_with_the_allowed_range():
    vertices, faces = normalised(trimesh.creation.icosphere(subdivisions=1))
    with pytest.raises(ValueError, match="between 6 .* 30"):
        select_bake_views(vertices, faces, 5, resolution=32)
    with pytest.raises(ValueError, match="between 6 .* 30"):
        select_bake_views(vertices, faces, 31, resolution=32)
    flat = torch.zeros_like(vertices)
    with pytest.raises(ValueError, match="no surface area"):
        select_bake_views(flat, faces, 6, resolution=32)


def test_visible_faces_of_a_cube_seen_from_the_front():
    cube = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    vertices, faces = normalised(cube)
    seen = visible_faces(vertices, faces, camera_preset(), 64, TorchRasterizer())
    # each axis view sees exactly the two triangles of one cube side
    assert seen.sum(dim=1).tolist() == [2] * 6
    assert not np.any(seen.numpy().sum(axis=0) != 1)
