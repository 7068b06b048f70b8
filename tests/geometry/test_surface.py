"""Marching cubes on logit grids: release parity, coordinate frames, NaN grids, errors.

Also the checks of the Mesh type that extract_surface returns.
"""

import numpy as np
import pytest
import torch
import trimesh
from scipy import ndimage

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.surface import extract_surface
from oracle import import_oracle

R = 64
B = 1.01


def _coordinates(resolution=R, bound=B):
    axis = np.linspace(-bound, bound, resolution + 1)
    return np.meshgrid(axis, axis, axis, indexing="ij")


def sphere_logits(resolution=R, radius=0.6):
    x, y, z = _coordinates(resolution)
    return ((radius - np.sqrt(x**2 + y**2 + z**2)) * 10.0).astype(np.float32)


def torus_logits(resolution=R):
    x, y, z = _coordinates(resolution)
    ring = np.sqrt(x**2 + y**2) - 0.55
    return ((0.25 - np.sqrt(ring**2 + z**2)) * 10.0).astype(np.float32)


def hierarchical_holes(grid):
    """NaN away from the surface, the way the hierarchical decoder leaves its grid:
    a coarse pass marks cells near the surface (sign change or |logit| < 0.95), the
    band is dilated and carried to the fine grid; the rest is never decoded."""
    cube = np.ones((3, 3, 3), dtype=bool)
    coarse = grid[::2, ::2, ::2]
    inside = coarse > 0
    near = ndimage.binary_dilation(inside, cube) & ~ndimage.binary_erosion(inside, cube)
    near |= np.abs(coarse) < 0.95
    fine = np.zeros(grid.shape, dtype=bool)
    fine[::2, ::2, ::2] = near
    fine = ndimage.binary_dilation(fine, cube, iterations=2)
    holed = grid.copy()
    holed[~fine] = np.nan
    return holed


def _release_meshes(grid_batch):
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.autoencoders import MCSurfaceExtractor
    from hy3dgen.shapegen.pipelines import export_to_trimesh

    outputs = MCSurfaceExtractor()(
        torch.from_numpy(grid_batch), mc_level=0.0, bounds=B, octree_resolution=R
    )
    return export_to_trimesh(outputs)


@pytest.mark.oracle
@pytest.mark.parametrize("field", [sphere_logits, torus_logits], ids=["sphere", "torus"])
def test_matches_release_extractor_and_winding(field):
    grid = field()
    (expected,) = _release_meshes(grid[None])
    mesh = extract_surface(grid)
    assert mesh.vertices.shape == expected.vertices.shape
    assert mesh.faces.shape == expected.faces.shape
    np.testing.assert_allclose(mesh.vertices, expected.vertices, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, expected.faces)


@pytest.mark.oracle
def test_nan_holed_grid_matches_release_after_its_trimesh_step():
    grid = hierarchical_holes(sphere_logits())
    (expected,) = _release_meshes(grid[None])
    mesh = extract_surface(grid)
    assert mesh.vertices.shape == expected.vertices.shape
    np.testing.assert_allclose(mesh.vertices, expected.vertices, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, expected.faces)


def test_nan_holed_grid_gives_the_dense_closed_surface():
    dense_grid = sphere_logits()
    holed_grid = hierarchical_holes(dense_grid)
    assert np.isnan(holed_grid).mean() > 0.5
    dense = extract_surface(dense_grid)
    holed = extract_surface(holed_grid)
    surface = holed.to_trimesh()
    assert surface.is_watertight
    assert surface.volume > 0
    assert np.isfinite(holed.vertices).all()
    np.testing.assert_array_equal(holed.vertices, dense.vertices)
    np.testing.assert_array_equal(holed.faces, dense.faces)


def test_faces_wind_outward():
    surface = extract_surface(sphere_logits()).to_trimesh()
    assert surface.is_watertight
    expected_volume = 4 / 3 * np.pi * 0.6**3 * (R / (R + 1)) ** 3
    assert surface.volume == pytest.approx(expected_volume, rel=0.02)


def box_beyond_the_grid_logits(resolution=R):
    """A 2.4 x 1 x 1 box: longer than the grid (2.02), so the grid cuts both its ends."""
    x, y, z = _coordinates(resolution)
    return (np.minimum(np.minimum(1.2 - np.abs(x), 0.5 - np.abs(y)), 0.5 - np.abs(z)) * 10.0).astype(np.float32)


def test_a_shape_the_grid_cuts_is_open_as_in_the_release_or_capped():
    grid = box_beyond_the_grid_logits()
    opened = extract_surface(grid, release_mapping=False)
    assert not opened.to_trimesh().is_watertight
    closed = extract_surface(grid, release_mapping=False, close_at_bounds=True)
    surface = closed.to_trimesh()
    assert surface.is_watertight and surface.is_winding_consistent
    assert surface.volume == pytest.approx(2 * B * 1.0 * 1.0, rel=0.01)
    np.testing.assert_allclose(closed.vertices.min(axis=0), [-B, -0.5, -0.5], atol=1e-6)
    np.testing.assert_allclose(closed.vertices.max(axis=0), [B, 0.5, 0.5], atol=1e-6)
    caps = np.abs(np.abs(closed.vertices[closed.faces][..., 0]) - B) < 1e-6
    assert caps.all(axis=1).sum() > 0  # whole faces lie on the grid's faces


def test_capping_changes_nothing_inside_the_grid():
    grid = sphere_logits()
    for release_mapping in (True, False):
        opened = extract_surface(grid, release_mapping=release_mapping)
        closed = extract_surface(grid, release_mapping=release_mapping, close_at_bounds=True)
        np.testing.assert_allclose(
            np.sort(closed.vertices, axis=0), np.sort(opened.vertices, axis=0), atol=1e-6
        )
        assert len(closed.faces) == len(opened.faces)
    holed = hierarchical_holes(box_beyond_the_grid_logits())
    assert extract_surface(holed, close_at_bounds=True).to_trimesh().is_watertight


@pytest.mark.parametrize("release_mapping", [True, False])
def test_caps_close_a_grid_whose_undecoded_interior_reaches_the_edge(release_mapping):
    """Hierarchical and FlashVDM decoding leave NaN wherever the surface is far, also on
    the grid's faces inside a shape the grid cuts: the caps must still be built there."""
    grid = box_beyond_the_grid_logits()
    holed = grid.copy()
    holed[np.abs(grid) > 1.0] = np.nan  # only a band around the surface is decoded
    faces_of_grid = [holed[0], holed[-1]]
    assert all(np.isnan(face).any() for face in faces_of_grid)
    closed = extract_surface(holed, release_mapping=release_mapping, close_at_bounds=True)
    dense = extract_surface(grid, release_mapping=release_mapping, close_at_bounds=True)
    surface = closed.to_trimesh()
    assert surface.is_watertight and surface.is_winding_consistent
    assert surface.volume == pytest.approx(dense.to_trimesh().volume, rel=1e-6)
    np.testing.assert_allclose(np.sort(closed.vertices, axis=0), np.sort(dense.vertices, axis=0),
                               atol=1e-6)


def test_undecoded_space_outside_a_capped_shape_stays_empty():
    grid = sphere_logits()
    holed = grid.copy()
    holed[np.abs(grid) > 1.0] = np.nan  # the sphere's core and the space around it
    closed = extract_surface(holed, close_at_bounds=True)
    assert len(closed.faces) == len(extract_surface(grid).faces)
    assert closed.to_trimesh().is_watertight


def test_exact_mapping_differs_by_the_release_shrink():
    grid = sphere_logits()
    release = extract_surface(grid)
    exact = extract_surface(grid, release_mapping=False)
    np.testing.assert_array_equal(release.faces, exact.faces)
    np.testing.assert_allclose(
        exact.vertices + B, (release.vertices + B) * (R + 1) / R, rtol=0, atol=2e-6
    )
    radii = np.linalg.norm(exact.vertices, axis=1)
    assert radii.mean() == pytest.approx(0.6, abs=2e-3)


def test_batched_tensor_gives_one_mesh_per_item():
    grids = torch.from_numpy(np.stack([sphere_logits(), torus_logits()])).to(torch.bfloat16)
    meshes = extract_surface(grids)
    assert isinstance(meshes, list) and len(meshes) == 2
    single = extract_surface(grids[1].float().numpy())
    np.testing.assert_array_equal(meshes[1].vertices, single.vertices)
    assert meshes[1].to_trimesh().euler_number == 0  # a torus: one hole


def test_bounds_box_equals_half_size():
    grid = sphere_logits()
    by_half = extract_surface(grid, bounds=1.0)
    by_box = extract_surface(grid, bounds=(-1, -1, -1, 1, 1, 1))
    np.testing.assert_array_equal(by_half.vertices, by_box.vertices)


def test_level_moves_the_surface():
    near = extract_surface(sphere_logits(), level=2.0, release_mapping=False)
    radii = np.linalg.norm(near.vertices, axis=1)
    assert radii.mean() == pytest.approx(0.4, abs=3e-3)


@pytest.mark.parametrize(
    "grid, words",
    [
        (np.ones((9, 9, 9), np.float32), "all values lie inside"),
        (-np.ones((9, 9, 9), np.float32), "all values lie outside"),
        (np.full((9, 9, 9), np.nan, np.float32), "NaN"),
    ],
    ids=["inside", "outside", "nan"],
)
def test_grid_without_surface_says_so(grid, words):
    with pytest.raises(ValueError, match="no surface at level 0.0") as error:
        extract_surface(grid)
    assert words in str(error.value)
    assert "level" in str(error.value) and "model" in str(error.value)


def test_surface_only_next_to_undecoded_points_is_an_error():
    grid = np.full((9, 9, 9), np.nan, np.float32)
    grid[:3] = 1.0
    grid[6:] = -1.0  # both signs decoded, but never next to each other
    with pytest.raises(ValueError, match="only crossed next to undecoded"):
        extract_surface(grid)


def test_batch_error_names_the_item():
    grids = np.stack([sphere_logits(16), np.ones((17, 17, 17), np.float32)])
    with pytest.raises(ValueError, match="Batch item 1"):
        extract_surface(grids)


@pytest.mark.parametrize("shape", [(17, 17), (1, 1, 17, 17, 17)])
def test_wrong_grid_rank_is_rejected(shape):
    with pytest.raises(ValueError, match=r"\[R\+1, R\+1, R\+1\]"):
        extract_surface(np.zeros(shape, np.float32))


def test_mesh_checks_its_arrays():
    vertices = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"shape \[N, 3\]"):
        Mesh(vertices=np.zeros((3, 2)), faces=[[0, 1, 2]])
    with pytest.raises(ValueError, match="NaN"):
        Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, np.nan, 0]], faces=[[0, 1, 2]])
    with pytest.raises(ValueError, match="3 vertices"):
        Mesh(vertices=vertices, faces=[[0, 1, 3]])
    with pytest.raises(ValueError, match="integer"):
        Mesh(vertices=vertices, faces=[[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="one row per vertex"):
        Mesh(vertices=vertices, faces=[[0, 1, 2]], uvs=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="needs UVs"):
        Mesh(vertices=vertices, faces=[[0, 1, 2]], texture=np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="0..1"):
        Mesh(vertices=vertices, faces=[[0, 1, 2]], uvs=np.zeros((3, 2)),
             texture=np.full((4, 4, 3), 2.0))
    mesh = Mesh(vertices=vertices, faces=np.zeros((0, 3)))
    assert mesh.is_empty and mesh.faces.dtype == np.int64


def test_mesh_trimesh_round_trip_keeps_uvs_texture_and_normals():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    mesh = Mesh(
        vertices=sphere.vertices,
        faces=sphere.faces,
        uvs=sphere.vertices[:, :2] * 0.5 + 0.5,
        vertex_normals=sphere.vertex_normals,
        texture=np.random.default_rng(0).random((8, 16, 3)),
    )
    back = Mesh.from_trimesh(mesh.to_trimesh())
    np.testing.assert_array_equal(back.vertices, mesh.vertices)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_allclose(back.uvs, mesh.uvs, atol=1e-7)
    np.testing.assert_allclose(back.vertex_normals, mesh.vertex_normals, atol=1e-6)
    np.testing.assert_allclose(back.texture, mesh.texture, atol=0.5 / 255 + 1e-6)
    plain = Mesh.from_trimesh(trimesh.Trimesh(sphere.vertices, sphere.faces, process=False))
    assert plain.vertex_normals is None and plain.uvs is None
