"""The PyTorch rasterizer against closed forms and an independent brute-force reference."""

import numpy as np
import pytest
import torch

from hy3d_core.render.rasterizer import interpolate
from hy3d_core.render.torch_rasterizer import TorchRasterizer


def pixel_centres(size: int) -> np.ndarray:
    return (np.arange(size) + 0.5) / size * 2 - 1


def flat(points, depth=0.0) -> torch.Tensor:
    """NDC points ``[N, 2]`` to clip space with ``w = 1`` at one depth."""
    points = torch.tensor(points, dtype=torch.float32)
    depth = torch.full((points.shape[0], 1), float(depth))
    return torch.cat([points, depth, torch.ones_like(depth)], dim=1)


def brute_force(clip: np.ndarray, faces: np.ndarray, height: int, width: int):
    """Nearest face per pixel by testing every triangle at every pixel centre in float64
    (homogeneous edge functions, so any ``w`` works), and which pixels lie within 0.05 px
    of some edge or have two depths within 0.01 (the rasterizer, like nvdiffrast, depth
    tests on planes through vertices snapped to 1/16 pixel): those are left out."""
    fx, fy = np.meshgrid(pixel_centres(width), pixel_centres(height))
    best_depth = np.full((height, width), np.inf)
    second = np.full((height, width), np.inf)
    best_face = np.full((height, width), -1)
    ambiguous = np.zeros((height, width), dtype=bool)
    for index, triangle in enumerate(clip[faces].astype(np.float64)):
        x, y, z, w = (triangle[:, k][:, None, None] for k in range(4))

        def edge_values(gx, gy):
            px, py = x - gx * w, y - gy * w
            return np.stack([px[(i + 1) % 3] * py[(i + 2) % 3] - py[(i + 1) % 3] * px[(i + 2) % 3]
                             for i in range(3)])

        a = edge_values(fx, fy)
        det = (w * a).sum(axis=0)
        sign = np.sign(det)
        per_pixel_x = (edge_values(fx + 2.0 / width, fy) - a) * sign
        per_pixel_y = (edge_values(fx, fy + 2.0 / height) - a) * sign
        distance = a * sign / np.maximum(np.hypot(per_pixel_x, per_pixel_y), 1e-30)
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = (z * a).sum(axis=0) / det
            depth_x = (z * edge_values(fx + 2.0 / width, fy)).sum(axis=0) / det - depth
            depth_y = (z * edge_values(fx, fy + 2.0 / height)).sum(axis=0) / det - depth
        in_depth = np.abs(depth) <= 1.0
        inside = (distance > 0).all(axis=0) & in_depth & (det != 0)
        near_edge = (np.abs(distance) < 0.05).any(axis=0) & (distance > -0.05).all(axis=0)
        near_clip = np.abs(1 - np.abs(depth)) < 0.05 * np.hypot(depth_x, depth_y)
        ambiguous |= (near_edge & in_depth) | (near_clip & (distance > -0.05).all(axis=0))
        nearer = inside & (depth < best_depth)
        second = np.where(nearer, best_depth, np.where(inside, np.minimum(second, depth), second))
        best_depth = np.where(nearer, depth, best_depth)
        best_face = np.where(nearer, index, best_face)
    with np.errstate(invalid="ignore"):
        ambiguous |= np.isfinite(second) & (second - best_depth < 1e-2)
    return best_face, ambiguous


def random_mesh(generator: torch.Generator, faces: int = 40, vertices: int = 60):
    extent = torch.tensor([1.2, 1.2, 0.9])
    ndc = (torch.rand(vertices, 3, generator=generator) * 2 - 1) * extent
    w = torch.rand(vertices, 1, generator=generator) + 0.5
    clip = torch.cat([ndc * w, w], dim=1)
    triangles = torch.stack(
        [torch.randperm(vertices, generator=generator)[:3] for _ in range(faces)]
    )
    return clip, triangles


def test_split_quad_is_covered_once_without_gaps():
    quad = flat([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    rasterizer = TorchRasterizer()
    lower = rasterizer.rasterize(quad, faces[:1], (16, 16)).mask
    upper = rasterizer.rasterize(quad, faces[1:], (16, 16)).mask
    expected = torch.zeros(16, 16, dtype=torch.bool)
    expected[4:12, 4:12] = True  # centres strictly inside (-0.5, 0.5)
    assert not (lower & upper).any()
    assert torch.equal(lower | upper, expected)
    both = rasterizer.rasterize(quad, faces, (16, 16)).face_index
    diagonal = torch.arange(4, 12)
    # Pixel centres on the shared diagonal belong to the triangle on their +x side.
    assert (both[diagonal, diagonal] == 0).all()
    assert torch.equal(both >= 0, expected)


def test_fill_rule_for_edges_through_pixel_centres():
    centre = pixel_centres(16)
    left, right, bottom, top = centre[3], centre[9], centre[2], centre[11]
    far_right = centre[13]
    corners = [[left, bottom], [right, bottom], [right, top], [left, top],
               [far_right, bottom], [far_right, top]]
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [1, 4, 5], [1, 5, 2]])
    face_index = TorchRasterizer().rasterize(flat(corners), faces, (16, 16)).face_index
    # Left and bottom edges are inclusive, right and top exclusive (rows grow with NDC
    # y); the shared column 9 goes to the right-hand rectangle.
    expected = torch.zeros(16, 16, dtype=torch.bool)
    expected[2:11, 3:13] = True
    assert torch.equal(face_index >= 0, expected)
    assert ((face_index[2:11, 3:9] == 0) | (face_index[2:11, 3:9] == 1)).all()
    assert ((face_index[2:11, 9:13] == 2) | (face_index[2:11, 9:13] == 3)).all()


def test_nearer_triangle_wins_whatever_the_order():
    square = [[-0.9, -0.9], [0.9, -0.9], [0.0, 0.9]]
    clip = torch.cat([flat(square, depth=0.5), flat(square, depth=-0.2)])
    rasterizer = TorchRasterizer()
    for faces, near_face in ((torch.tensor([[0, 1, 2], [3, 4, 5]]), 1),
                             (torch.tensor([[3, 4, 5], [0, 1, 2]]), 0)):
        rast = rasterizer.rasterize(clip, faces, (32, 32))
        assert (rast.face_index[rast.mask] == near_face).all()
        assert torch.allclose(rast.depth[rast.mask], torch.tensor(-0.2))
    same_depth = torch.cat([flat(square), flat(square)])
    rast = rasterizer.rasterize(same_depth, torch.tensor([[0, 1, 2], [3, 4, 5]]), (32, 32))
    assert (rast.face_index[rast.mask] == 1).all()  # equal depth: the later face


def test_barycentrics_reproduce_linear_attributes():
    generator = torch.Generator().manual_seed(1)
    clip, faces = random_mesh(generator)
    rast = TorchRasterizer().rasterize(clip, faces, (40, 48))
    covered = rast.mask
    assert covered.sum() > 500
    bary = rast.barycentrics[covered]
    assert torch.allclose(bary.sum(dim=1), torch.ones(()), atol=1e-6)
    assert (bary[:, :2] >= 0).all() and (bary[:, :2] <= 1).all()
    # Clip-space x, y, w are linear over a triangle: perspective-correct interpolation
    # must give back the pixel centre after the divide.
    values = interpolate(clip[:, [0, 1, 3]], rast, faces)[covered]
    fy, fx = torch.meshgrid(
        torch.tensor(pixel_centres(40), dtype=torch.float32),
        torch.tensor(pixel_centres(48), dtype=torch.float32),
        indexing="ij",
    )
    assert torch.allclose(values[:, 0] / values[:, 2], fx[covered], atol=1e-4)
    assert torch.allclose(values[:, 1] / values[:, 2], fy[covered], atol=1e-4)
    ortho = clip / clip[:, 3:]
    rast = TorchRasterizer().rasterize(ortho, faces, (40, 48))
    values = interpolate(ortho[:, :3], rast, faces)[rast.mask]
    assert torch.allclose(values[:, 0], fx[rast.mask], atol=1e-6)
    assert torch.allclose(values[:, 2], rast.depth[rast.mask], atol=1e-5)


def test_matches_brute_force_on_random_triangles():
    generator = torch.Generator().manual_seed(2)
    clip, faces = random_mesh(generator)
    rast = TorchRasterizer().rasterize(clip, faces, (40, 48))
    expected, ambiguous = brute_force(clip.numpy(), faces.numpy(), 40, 48)
    clear = torch.from_numpy(~ambiguous)
    assert clear.float().mean() > 0.8
    assert torch.equal(rast.face_index[clear], torch.from_numpy(expected)[clear])


def test_clipping_at_near_and_far_planes_and_far_off_screen():
    # Camera-space points through an OpenGL perspective matrix: one corner behind the
    # camera, one beyond the far plane, one 40x outside the screen.
    near, far, focal = 0.1, 10.0, 1.0
    projection = torch.tensor([
        [focal, 0, 0, 0], [0, focal, 0, 0],
        [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)], [0, 0, -1, 0],
    ])
    camera = torch.tensor([
        [-1.0, -0.6, -2.0], [1.0, -0.5, -2.5], [0.1, 0.8, 1.0],        # crosses w = 0
        [-2.0, 0.4, -3.0], [2.0, 0.5, -3.0], [0.0, -0.3, -30.0],       # beyond far
        [-0.5, -0.9, -1.0], [40.0, -0.2, -1.0], [-0.4, 0.9, -1.5],     # far off screen
    ])
    clip = torch.cat([camera, torch.ones(9, 1)], dim=1) @ projection.T
    faces = torch.arange(9).view(3, 3)
    for triangle in ([0], [1], [2], [0, 1, 2]):
        rast = TorchRasterizer().rasterize(clip, faces[triangle], (48, 48))
        expected, ambiguous = brute_force(clip.numpy(), faces[triangle].numpy(), 48, 48)
        clear = torch.from_numpy(~ambiguous)
        assert rast.mask.sum() > 20
        assert torch.equal(rast.face_index[clear], torch.from_numpy(expected)[clear])


def test_clipped_grid_stays_watertight():
    # A floor grid from behind the camera to 8 units ahead and 3 units to each side:
    # its near triangles are cut by the near plane and the guard band. Every pixel must
    # be drawn by at most one triangle, and every pixel clearly on the visible floor by
    # exactly one.
    near, far, size = 0.1, 10.0, 48
    projection = torch.tensor([
        [1.0, 0, 0, 0], [0, 1.0, 0, 0],
        [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)], [0, 0, -1, 0],
    ])
    xs, zs = torch.linspace(-3, 3, 7), torch.tensor([0.05, -0.3, -0.8, -1.5, -3.0, -5.0, -8.0])
    grid = torch.stack(torch.meshgrid(xs, zs, indexing="ij"), dim=-1).reshape(-1, 2)
    camera = torch.stack([grid[:, 0], torch.full_like(grid[:, 0], -0.5), grid[:, 1]], dim=1)
    clip = torch.cat([camera, torch.ones(len(camera), 1)], dim=1) @ projection.T
    index = torch.arange(49).view(7, 7)
    quads = torch.stack([index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]], -1)
    quads = quads.reshape(-1, 4)
    faces = torch.cat([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    rasterizer = TorchRasterizer()
    count = sum(rasterizer.rasterize(clip, faces[i:i + 1], (size, size)).mask.int()
                for i in range(len(faces)))
    assert count.max() == 1

    def on_floor(fx, fy):
        distance = 0.5 / np.maximum(-fy, 1e-9)  # the ray reaches y = -0.5 at depth -z
        return (fy < 0) & (np.abs(fx * distance) <= 3) & (distance >= near) & (distance <= 8)

    fx, fy = np.meshgrid(pixel_centres(size), pixel_centres(size))
    step = 0.1 * 2 / size
    samples = [on_floor(fx + dx, fy + dy)
               for dx, dy in ((0, 0), (step, 0), (-step, 0), (0, step), (0, -step))]
    clearly_on = torch.from_numpy(np.logical_and.reduce(samples))
    clearly_off = torch.from_numpy(~np.logical_or.reduce(samples))
    assert clearly_on.sum() > 500 and clearly_off.sum() > 500
    assert (count[clearly_on] == 1).all()
    assert (count[clearly_off] == 0).all()


def test_chunked_path_equals_unchunked_path():
    generator = torch.Generator().manual_seed(3)
    clip, faces = random_mesh(generator, faces=200, vertices=150)
    clip = torch.stack([clip, clip * torch.tensor([1.0, -1.0, 1.0, 1.0])])
    whole = TorchRasterizer(max_candidates=1 << 30).rasterize(clip, faces, (50, 60))
    pieces = TorchRasterizer(max_candidates=100, max_triangles=13).rasterize(clip, faces, (50, 60))
    assert whole.face_index.shape == (2, 50, 60)
    assert torch.equal(whole.face_index, pieces.face_index)
    assert torch.equal(whole.barycentrics, pieces.barycentrics)
    assert torch.equal(whole.depth, pieces.depth)


def test_empty_pixels_are_zero_and_unbatched_input_stays_unbatched():
    off_screen = flat([[-2, -2], [-1.5, -2], [-2, -1.5]])
    rast = TorchRasterizer().rasterize(off_screen, torch.tensor([[0, 1, 2]]), (8, 8))
    assert rast.face_index.shape == (8, 8) and (rast.face_index == -1).all()
    assert (rast.barycentrics == 0).all() and (rast.depth == 0).all()


@pytest.mark.parametrize("resolution", [(1, 1), (3, 7)])
def test_tiny_and_odd_resolutions(resolution):
    quad = flat([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    rast = TorchRasterizer().rasterize(quad, torch.tensor([[0, 1, 2], [0, 2, 3]]), resolution)
    assert rast.mask.all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_result():
    clip, faces = random_mesh(torch.Generator().manual_seed(4), faces=300, vertices=200)
    on_cpu = TorchRasterizer().rasterize(clip, faces, (96, 128))
    on_cuda = TorchRasterizer().rasterize(clip.cuda(), faces.cuda(), (96, 128))
    same = on_cuda.face_index.cpu() == on_cpu.face_index
    assert same.float().mean() > 0.999
    both = same & on_cpu.mask
    assert torch.allclose(on_cuda.barycentrics.cpu()[both], on_cpu.barycentrics[both], atol=1e-5)
