"""Mesh clean-up: floaters, degenerate faces, decimation, and the combined pass."""

import numpy as np
import pytest
import trimesh

from hy3d_core.geometry import cleanup
from hy3d_core.geometry.cleanup import (
    clean_mesh,
    reduce_faces,
    remove_degenerate_faces,
    remove_floaters,
    topology_signature,
)
from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.surface import extract_surface
from oracle import import_oracle

RADIUS = 0.6


def marching_cubes_sphere(resolution=64):
    axis = np.linspace(-1.01, 1.01, resolution + 1)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    grid = (RADIUS - np.sqrt(x**2 + y**2 + z**2)) * 10.0
    return extract_surface(grid, release_mapping=False)


def join(*meshes):
    vertices, faces, offset = [], [], 0
    for mesh in meshes:
        vertices.append(mesh.vertices)
        faces.append(mesh.faces + offset)
        offset += len(mesh.vertices)
    return Mesh(vertices=np.concatenate(vertices), faces=np.concatenate(faces))


def box(size, centre):
    cube = trimesh.creation.box(extents=(size,) * 3)
    return Mesh(vertices=cube.vertices + centre, faces=cube.faces)


def test_floating_cube_is_removed():
    sphere = marching_cubes_sphere()
    cleaned = remove_floaters(join(sphere, box(0.02, (0.9, 0, 0))))
    np.testing.assert_array_equal(cleaned.vertices, sphere.vertices)
    np.testing.assert_array_equal(cleaned.faces, sphere.faces)


def test_floaters_are_measured_against_the_largest_piece():
    # each cube is 12 / 1280 of the sphere (kept) but under 0.5 % of all faces
    icosphere = trimesh.creation.icosphere(3)
    sphere = Mesh(icosphere.vertices, icosphere.faces)
    cubes = [box(0.01, (2 + 0.1 * k, 0, 0)) for k in range(150)]
    mesh = join(sphere, *cubes)
    assert 12 / len(mesh.faces) < 0.005
    assert len(remove_floaters(mesh).faces) == len(mesh.faces)
    assert len(remove_floaters(mesh, min_fraction=0.01).faces) == len(sphere.faces)


@pytest.mark.oracle
@pytest.mark.parametrize("subdivisions, cubes", [(3, 150), (4, 3)])
def test_floaters_match_release_meshlab_filter(subdivisions, cubes):
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.postprocessors import FloaterRemover

    sphere = trimesh.creation.icosphere(subdivisions)
    mesh = join(Mesh(sphere.vertices, sphere.faces),
                *[box(0.01, (2 + 0.1 * k, 0, 0)) for k in range(cubes)])
    expected = FloaterRemover()(trimesh.Trimesh(mesh.vertices, mesh.faces, process=False))
    assert len(remove_floaters(mesh).faces) == len(expected.faces)


def test_uv_seams_do_not_split_a_piece():
    sphere = marching_cubes_sphere(32)
    faces = sphere.faces.copy()
    east = sphere.vertices[faces].mean(axis=1)[:, 0] > 0
    copies = np.arange(len(sphere.vertices)) + len(sphere.vertices)
    faces[east] = copies[faces[east]]  # the east half uses its own vertex copies
    split = Mesh(
        vertices=np.concatenate([sphere.vertices, sphere.vertices]),
        faces=faces,
        uvs=np.concatenate([np.zeros((len(sphere.vertices), 2)),
                            np.ones((len(sphere.vertices), 2))]),
    )
    kept = remove_floaters(split, min_fraction=0.9)
    assert len(kept.faces) == len(split.faces)
    assert kept.uvs is not None and len(kept.uvs) == len(kept.vertices)


def test_degenerate_faces_are_removed_and_surface_stays_closed():
    sphere = marching_cubes_sphere(32)
    count = len(sphere.vertices)
    a, b = sphere.faces[0, 0], sphere.faces[0, 1]
    vertices = np.concatenate([
        sphere.vertices,
        sphere.vertices[a][None],                           # an exact copy of vertex a
        [[2.0, 0.0, 0.0], [2.5, 0.0, 0.0], [3.0, 0.0, 0.0]],  # three collinear points
    ])
    extra = [[a, a, b], [a, count, b], [count + 1, count + 2, count + 3]]
    dirty = Mesh(vertices=vertices, faces=np.concatenate([sphere.faces, extra]))
    cleaned = remove_degenerate_faces(dirty)
    np.testing.assert_array_equal(cleaned.vertices, sphere.vertices)
    np.testing.assert_array_equal(cleaned.faces, sphere.faces)
    assert cleaned.to_trimesh().is_watertight


def test_tiny_but_real_faces_are_kept():
    axis = np.linspace(-1.01, 1.01, 65)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    off_grid = (0.6137 - np.sqrt((x - 0.013) ** 2 + (y - 0.007) ** 2 + (z - 0.021) ** 2))
    mesh = extract_surface(off_grid * 10.0)
    corners = mesh.vertices.astype(np.float64)[mesh.faces]
    areas = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0],
                                    corners[:, 2] - corners[:, 0]), axis=1) / 2
    assert areas.min() < 1e-9  # marching cubes slivers
    cleaned = remove_degenerate_faces(mesh)
    assert len(cleaned.faces) == len(mesh.faces)
    assert cleaned.to_trimesh().is_watertight


def test_reduce_faces_hits_target_keeps_shape_and_winding():
    sphere = marching_cubes_sphere(100)
    assert len(sphere.faces) > 30000
    sphere = Mesh(sphere.vertices, sphere.faces,
                  vertex_normals=sphere.to_trimesh().vertex_normals)
    reduced = reduce_faces(sphere, 3000)
    assert abs(len(reduced.faces) - 3000) <= 0.03 * 3000
    surface = reduced.to_trimesh()
    assert surface.is_watertight
    assert surface.volume == pytest.approx(sphere.to_trimesh().volume, rel=0.01)
    assert np.isfinite(reduced.vertices).all()
    points, _ = trimesh.sample.sample_surface(surface, 20000, seed=0)
    distance = np.abs(np.linalg.norm(points, axis=1) - RADIUS)
    assert distance.max() < 0.01 * RADIUS and distance.mean() < 0.002 * RADIUS
    assert reduced.vertex_normals is None


def test_reduce_faces_welds_a_mesh_that_repeats_vertices_per_face():
    """As an STL file comes: every face with its own three vertices."""
    sphere = marching_cubes_sphere(64)
    corners = sphere.vertices[sphere.faces].reshape(-1, 3)
    unwelded = Mesh(corners, np.arange(len(corners)).reshape(-1, 3))
    reduced = reduce_faces(unwelded, 2000)
    assert len(reduced.faces) <= 2000 * 1.02
    assert topology_signature(reduced) == (1, 2, 0)
    assert reduced.to_trimesh().is_watertight


def test_reduce_faces_under_budget_returns_a_copy():
    sphere = marching_cubes_sphere(32)
    same = reduce_faces(sphere, len(sphere.faces))
    assert same is not sphere and same.vertices is not sphere.vertices
    np.testing.assert_array_equal(same.faces, sphere.faces)


def test_reduce_faces_refuses_uvs_and_bad_targets():
    sphere = marching_cubes_sphere(32)
    with_uvs = Mesh(sphere.vertices, sphere.faces, uvs=np.zeros((len(sphere.vertices), 2)))
    with pytest.raises(ValueError, match="before UV unwrapping"):
        reduce_faces(with_uvs, 100)
    with pytest.raises(ValueError, match="at least 4"):
        reduce_faces(sphere, 2)


@pytest.mark.parametrize("operation", [remove_floaters, remove_degenerate_faces,
                                       lambda mesh: reduce_faces(mesh, 10), clean_mesh])
def test_mesh_without_faces_is_an_error(operation):
    with pytest.raises(ValueError, match="needs a mesh with faces"):
        operation(Mesh(vertices=np.zeros((4, 3)), faces=np.zeros((0, 3), np.int64)))


def test_clean_mesh_runs_every_step():
    sphere = marching_cubes_sphere()
    a, b = sphere.faces[0, :2]
    dirty = join(sphere, box(0.02, (0.9, 0, 0)))
    dirty = Mesh(dirty.vertices, np.concatenate([dirty.faces, [[a, a, b]]]))
    cleaned = clean_mesh(dirty, max_faces=4000)
    assert abs(len(cleaned.faces) - 4000) <= 120
    assert np.linalg.norm(cleaned.vertices, axis=1).max() < 0.7  # the cube is gone
    surface = cleaned.to_trimesh()
    assert surface.is_watertight and surface.volume > 0

    untouched = clean_mesh(dirty, remove_floaters=False, remove_degenerate=False,
                           max_faces=None)
    assert untouched is not dirty
    np.testing.assert_array_equal(untouched.faces, dirty.faces)


def rough_closed_surface(smoothing):
    """An undertrained model's kind of surface: a noise field's zero set, closed by a
    border of empty space, with hundreds of small handles."""
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(np.random.default_rng(0).standard_normal((41, 41, 41)), smoothing)
    return remove_floaters(extract_surface(np.pad(noise, 2, constant_values=-1.0), level=0.0))


def test_topology_signature_counts_pieces_euler_and_non_manifold_edges():
    sphere = marching_cubes_sphere(32)
    assert topology_signature(sphere) == (1, 2, 0)
    torus = trimesh.creation.torus(major_radius=0.5, minor_radius=0.2)
    assert topology_signature(Mesh(torus.vertices, torus.faces)) == (1, 0, 0)
    assert topology_signature(join(sphere, box(0.1, (2, 0, 0)))) == (2, 4, 0)
    split = Mesh(np.concatenate([sphere.vertices, sphere.vertices]),
                 np.where(np.arange(len(sphere.faces))[:, None] % 2 == 0,
                          sphere.faces, sphere.faces + len(sphere.vertices)))
    assert topology_signature(split) == (1, 2, 0)  # copies at one position are one vertex
    fin = Mesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1.0]]),
               np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]]))
    assert topology_signature(fin)[2] == 1


def test_smooth_surface_takes_the_fast_decimation(monkeypatch):
    def fail(*_):
        raise AssertionError("the topology-preserving fallback ran on a smooth sphere")

    monkeypatch.setattr(cleanup, "_topology_preserving_decimation", fail)
    reduced = reduce_faces(marching_cubes_sphere(64), 2000)
    assert topology_signature(reduced) == (1, 2, 0)


def test_rough_surface_keeps_its_topology_and_reaches_the_budget():
    """fast_simplification pinches such a surface into non-manifold edges and extra
    handles; the result must not be torn, and must still meet the budget."""
    rough = rough_closed_surface(1.5)
    assert len(rough.faces) > 50000
    fast = cleanup._fast_quadric_decimation(rough, 3000)
    assert topology_signature(fast) != topology_signature(rough)
    reduced = reduce_faces(rough, 3000)
    assert topology_signature(reduced) == topology_signature(rough)
    assert len(reduced.faces) <= 3000 * 1.02


def test_budget_below_what_the_topology_needs_warns_and_keeps_the_surface_whole():
    rough = rough_closed_surface(1.0)
    with pytest.warns(UserWarning, match="fewer would tear or pinch"):
        reduced = reduce_faces(rough, 1000)
    assert topology_signature(reduced) == topology_signature(rough)
    assert 1000 < len(reduced.faces) < len(rough.faces) / 10


def test_open_surface_keeps_its_boundary():
    """A shape cut by the grid's edge is open; its boundary loops stay where they are."""
    sphere = marching_cubes_sphere(100)
    cut = Mesh(sphere.vertices, sphere.faces[sphere.vertices[sphere.faces].min(axis=(1, 2)) > -0.45])
    cut = remove_floaters(cut)
    reduced = reduce_faces(cut, 2000)
    assert topology_signature(reduced) == topology_signature(cut)
    assert len(reduced.faces) <= 2000 * 1.02


def test_floater_and_degenerate_removal_keep_both_texture_maps():
    sphere = marching_cubes_sphere()
    mesh = join(sphere, box(0.02, (0.9, 0, 0)))
    rng = np.random.default_rng(0)
    texture = rng.random((8, 8, 3))
    metallic_roughness = rng.random((8, 8, 2))
    textured = Mesh(mesh.vertices, mesh.faces, uvs=rng.random((len(mesh.vertices), 2)),
                    texture=texture, metallic_roughness=metallic_roughness)
    for cleaned in (remove_floaters(textured), remove_degenerate_faces(textured)):
        np.testing.assert_array_equal(cleaned.texture, textured.texture)
        np.testing.assert_array_equal(cleaned.metallic_roughness, textured.metallic_roughness)
    assert len(remove_floaters(textured).faces) == len(sphere.faces)
