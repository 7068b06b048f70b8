"""Normal and position maps: geometry sanity, the six released views, and the reference."""

import sys
import types

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.render.cameras import camera_preset
from hy3d_core.render.geometry_maps import render_geometry_maps, smooth_vertex_normals
from hy3d_core.render.normalization import normalize_for_render
from hy3d_core.render.rasterizer import interpolate
from hy3d_core.render.torch_rasterizer import TorchRasterizer
from oracle import import_oracle


def mesh_tensors(mesh: trimesh.Trimesh):
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32)
    return vertices, torch.tensor(mesh.faces, dtype=torch.int64)


def eroded(mask: torch.Tensor) -> torch.Tensor:
    """Pixels whose 3x3 neighbourhood is covered too (away from the silhouette)."""
    pooled = -torch.nn.functional.max_pool2d(-mask[:, None].float(), 3, stride=1, padding=1)
    return pooled[:, 0] > 0.5


# The release's axis change (x, y negated, then y and z swapped) is a reflection, and it
# keeps the faces' vertex order, so the cross products of an outward-wound mesh point
# inward in the renderer frame. The maps reproduce that (the reference comparison at
# the end checks it), so here the expected normals are the inward ones.


def test_sphere_normals_point_along_the_position_direction():
    vertices, faces = mesh_tensors(trimesh.creation.icosphere(subdivisions=4))
    normalised, _ = normalize_for_render(vertices)
    maps = render_geometry_maps(normalised, faces, camera_preset(), 64, TorchRasterizer())
    inner = eroded(maps.mask)
    assert inner.sum() > 6 * 1500
    normal = maps.normal[inner] * 2 - 1
    point = (0.5 - maps.position[inner]) * 1.15
    cosine = torch.nn.functional.cosine_similarity(-normal, point, dim=1)
    assert cosine.min() > 0.995
    assert ((normal.norm(dim=1) - 1).abs() < 0.01).all()
    assert (maps.normal[~maps.mask] == 1).all() and (maps.position[~maps.mask] == 1).all()
    # The visible half of the sphere (radius 0.575) is 1.45 - r..1.45 in front of every
    # camera; silhouette pixels of the polyhedron may hit just behind its equator.
    depth = maps.depth[maps.mask]
    assert depth.min() > 1.45 - 0.576 and depth.max() < 1.45 + 0.02
    front = inner[0]
    front_points = (0.5 - maps.position[0][front]) * 1.15
    assert torch.allclose(maps.depth[0][front], 1.45 - front_points[:, 1], atol=1e-5)


def test_cube_shows_the_expected_face_in_each_released_view():
    cube = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    cube.unmerge_vertices()  # flat faces: every vertex normal is its face's normal
    vertices, faces = mesh_tensors(cube)
    normalised, _ = normalize_for_render(vertices)
    maps = render_geometry_maps(normalised, faces, camera_preset(), 32, TorchRasterizer())
    # Renderer frame: camera positions for (elev, azim) of the preset are +y, -x, -y, +x,
    # -z (elev 90) and +z (elev -90); each sees the face lying towards it.
    facing = torch.tensor([[0, 1, 0], [-1, 0, 0], [0, -1, 0], [1, 0, 0], [0, 0, -1], [0, 0, 1]])
    half = 1.15 / (2 * 3 ** 0.5)  # a cube's corner sits 0.575 from its centre
    centre = maps.normal[:, 15:17, 15:17].reshape(6, 4, 3)
    inward_colour = ((1 - facing) / 2)[:, None].float().expand(-1, 4, -1)
    assert torch.allclose(centre, inward_colour, atol=1e-6)
    position = maps.position[:, 15:17, 15:17].reshape(6, 4, 3)
    along = (position * facing[:, None]).sum(-1)
    expected = (0.5 * facing.sum(-1) - half / 1.15)[:, None].float().expand(-1, 4)
    assert torch.allclose(along, expected, atol=1e-5)


def test_front_view_is_upright_and_not_mirrored():
    # A box taller than wide, in the mesh file's y-up frame, seen from the front view.
    vertices, faces = mesh_tensors(trimesh.creation.box(extents=(1.0, 2.0, 1.0)))
    normalised, _ = normalize_for_render(vertices)
    maps = render_geometry_maps(normalised, faces, camera_preset(), 32, TorchRasterizer())
    front = maps.position[0]
    rows = maps.mask[0].any(dim=1).nonzero().squeeze(1)
    cols = maps.mask[0].any(dim=0).nonzero().squeeze(1)
    assert len(rows) > len(cols)  # taller than wide: not rotated
    # Position blue = 0.5 + y_file / 1.15 grows towards row 0 (the top of the image);
    # red = 0.5 + x_file / 1.15 grows with the column (the viewer's right).
    assert front[rows[0], 16, 2] > front[rows[-1], 16, 2]
    assert front[16, cols[-1], 0] > front[16, cols[0], 0]


def test_smooth_vertex_normals_average_unit_face_normals():
    vertices, faces = mesh_tensors(trimesh.creation.box(extents=(1.0, 2.0, 3.0)))
    normals = smooth_vertex_normals(vertices, faces)
    mesh = trimesh.Trimesh(vertices.numpy(), faces.numpy(), process=False)
    expected = trimesh.geometry.mean_vertex_normals(len(vertices), faces.numpy(), mesh.face_normals)
    assert np.allclose(normals.numpy(), expected, atol=1e-6)


def test_bad_vertices_are_reported():
    faces = torch.tensor([[0, 1, 2]])
    with pytest.raises(ValueError, match="NaN"):
        render_geometry_maps(torch.full((3, 3), float("nan")), faces, camera_preset(), 8)
    with pytest.raises(ValueError, match=r"\[V, 3\]"):
        render_geometry_maps(torch.zeros(3, 4), faces, camera_preset(), 8)
    with pytest.raises(ValueError, match="only 3 vertices"):
        render_geometry_maps(torch.eye(3), torch.tensor([[0, 1, 5]]), camera_preset(), 8)


def stand_in_for_compiled_rasterizer(rasterizer: TorchRasterizer) -> types.ModuleType:
    """The reference renderer imports a compiled ``custom_rasterizer``; this module has
    its two functions on top of our rasterizer, so the reference's own normal, position
    and camera code can run here on identical visibility."""
    module = types.ModuleType("custom_rasterizer")

    def rasterize(pos, tri, resolution):
        rast = rasterizer.rasterize(pos[0], tri, tuple(resolution))
        return (rast.face_index + 1).to(torch.int32), rast.barycentrics

    def interpolate_attributes(attributes, face_ids, barycentrics, faces):
        face_index = face_ids.to(torch.int64) - 1
        rast = type("Rast", (), {"face_index": face_index, "barycentrics": barycentrics})
        return interpolate(attributes[0], rast, faces)[None]

    module.rasterize = rasterize
    module.interpolate = interpolate_attributes
    return module


@pytest.mark.oracle
def test_maps_match_the_reference_renderer(monkeypatch):
    render = import_oracle("hy3dgen.texgen.differentiable_renderer.mesh_render")
    rasterizer = TorchRasterizer()
    stand_in = stand_in_for_compiled_rasterizer(rasterizer)
    monkeypatch.setitem(sys.modules, "custom_rasterizer", stand_in)
    mesh = trimesh.creation.capsule(height=1.0, radius=0.4, count=[12, 12])
    mesh.vertices = mesh.vertices * [1.0, 0.7, 1.3] + [0.2, -0.1, 0.3]
    reference = render.MeshRender(default_resolution=48, device="cpu")
    reference.set_mesh(np.array(mesh.vertices, dtype=np.float32), np.array(mesh.faces))

    vertices, faces = mesh_tensors(mesh)
    normalised, _ = normalize_for_render(vertices)
    cameras = camera_preset()
    maps = render_geometry_maps(normalised, faces, cameras, 48, rasterizer)
    for view, (azimuth, elevation) in enumerate(zip(cameras.azimuths, cameras.elevations)):
        normal = reference.render_normal(elevation, azimuth, use_abs_coor=True)
        position = reference.render_position(elevation, azimuth)
        assert torch.allclose(maps.normal[view], normal, atol=1e-5)
        assert torch.allclose(maps.position[view], position, atol=1e-5)
