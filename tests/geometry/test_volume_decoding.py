"""Volume decoding strategies on analytic occupancy fields, and against the release."""

import math
from functools import partial

import numpy as np
import pytest
import torch

from hy3d_core.geometry.volume_decoding import (
    CountingField,
    decode_dense,
    decode_flashvdm,
    decode_hierarchical,
    flashvdm_resolutions,
    flashvdm_top_k,
    grid_points,
    hierarchical_resolutions,
)
from hy3d_core.sampling.progress import Cancelled, Progress
from oracle import import_oracle

CPU = dict(device="cpu", dtype=torch.float32)
SHARPNESS = 50.0  # logits per unit of distance: a band of about one cell at R=128


def sphere(points, radius=0.5, center=(0.0, 0.0, 0.0)):
    return (radius - (points - points.new_tensor(center)).norm(dim=-1)) * SHARPNESS


def torus(points):
    ring = torch.stack([points[..., :2].norm(dim=-1) - 0.6, points[..., 2]], dim=-1)
    return (0.15 - ring.norm(dim=-1)) * SHARPNESS


def sphere_and_torus(points):
    """Batch element 0 is an off-centre sphere, element 1 a torus."""
    return torch.stack([sphere(points[0], 0.45, (0.2, 0.0, 0.1)), torus(points[1])])


def field_of(shape):
    return lambda points, top_k: shape(points)


def cube_corners(grid):
    """The 8 corner values of every cube of ``[B, n, n, n]``: ``[8, B, n-1, n-1, n-1]``."""
    n = grid.shape[-1] - 1
    return torch.stack([grid[:, i:n + i, j:n + j, k:n + k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def assert_refined_grid_is_exact_near_the_surface(grid, dense):
    """Defined cells equal dense decoding; every cube the surface crosses is fully defined."""
    defined = ~torch.isnan(grid)
    assert torch.equal(grid[defined], dense[defined])
    corners = cube_corners(dense)
    crossed = (corners > 0).any(0) & (corners <= 0).any(0)
    assert crossed.sum() > 0
    assert not torch.isnan(cube_corners(grid))[:, crossed].any()


def test_grid_points_are_the_ij_linspace_grid():
    points = grid_points(4, bounds=1.01)
    axis = np.linspace(-1.01, 1.01, 5, dtype=np.float32)
    assert points.shape == (5, 5, 5, 3) and points.dtype == torch.float32
    assert points[1, 2, 3].tolist() == [axis[1], axis[2], axis[3]]
    assert points[0, 0, 0].tolist() == pytest.approx([-1.01] * 3)
    assert points[-1, -1, -1].tolist() == pytest.approx([1.01] * 3)


def test_resolution_levels_are_the_releases():
    assert hierarchical_resolutions(384) == [96, 192, 384]
    assert hierarchical_resolutions(512) == [64, 128, 256, 512]
    assert hierarchical_resolutions(254) == [63, 127, 254]
    assert hierarchical_resolutions(50) == [50]
    assert flashvdm_resolutions(384) == [95, 190, 380]
    assert flashvdm_resolutions(256) == [63, 126, 252]
    assert flashvdm_resolutions(512) == [63, 126, 252, 504]
    assert flashvdm_resolutions(50) == [47]
    assert [flashvdm_top_k(n) for n in (3072, 512, 4096)] == [1024, 256, 1365]


def test_dense_decoding_is_the_closed_form_on_the_grid():
    """Batch 2 of different shapes, a chunk size that does not divide the grid."""
    grid = decode_dense(field_of(sphere_and_torus), batch_size=2, resolution=40, num_chunks=1000, **CPU)
    points = grid_points(40).reshape(1, -1, 3).expand(2, -1, -1)
    expected = sphere_and_torus(points).reshape(2, 41, 41, 41)
    assert grid.shape == (2, 41, 41, 41) and grid.dtype == torch.float32
    torch.testing.assert_close(grid, expected, atol=1e-5, rtol=0)


def test_points_reach_the_field_in_the_requested_dtype():
    seen = []

    def field(points, top_k):
        seen.append((points.dtype, top_k))
        return sphere(points.float())

    grid = decode_dense(field, batch_size=1, resolution=8, device="cpu", dtype=torch.float16)
    assert set(seen) == {(torch.float16, None)}
    assert grid.dtype == torch.float32


@pytest.mark.oracle
def test_dense_decoding_equals_the_releases_vanilla_decoder():
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.autoencoders.volume_decoders import VanillaVolumeDecoder

    latents = torch.zeros(2, 4, 8)
    expected = VanillaVolumeDecoder()(
        latents, lambda queries, latents: sphere_and_torus(queries)[..., None],
        bounds=1.01, num_chunks=777, octree_resolution=32, enable_pbar=False,
    )
    grid = decode_dense(field_of(sphere_and_torus), batch_size=2, resolution=32, num_chunks=777, **CPU)
    assert torch.equal(grid, expected)


@pytest.mark.parametrize("shape", [sphere, torus], ids=["sphere", "torus"])
def test_hierarchical_is_dense_near_the_surface_at_a_fraction_of_the_cost(shape):
    counted = CountingField(field_of(shape))
    grid = decode_hierarchical(counted, batch_size=1, resolution=128, **CPU)
    dense = decode_dense(field_of(shape), batch_size=1, resolution=128, num_chunks=2**16, **CPU)
    assert grid.shape == dense.shape
    assert_refined_grid_is_exact_near_the_surface(grid, dense)
    assert torch.isnan(grid).float().mean() > 0.5
    assert counted.points_evaluated < 129**3 / 4


def test_hierarchical_three_levels_with_a_batch():
    grid = decode_hierarchical(field_of(sphere_and_torus), batch_size=2, resolution=100,
                               min_resolution=25, **CPU)
    dense = decode_dense(field_of(sphere_and_torus), batch_size=2, resolution=100, num_chunks=2**16, **CPU)
    assert hierarchical_resolutions(100, 25) == [25, 50, 100]
    assert_refined_grid_is_exact_near_the_surface(grid, dense)


@pytest.mark.oracle
def test_hierarchical_evaluates_the_cells_the_release_selects():
    """The release's hierarchical decoder queries every refined cell at (-1, -1, -1) (it
    truncates the grid step to an integer), so only its choice of cells is comparable.
    A gentle slope makes the |logit| < 0.95 band several cells wide, so it counts."""
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.autoencoders.volume_decoders import HierarchicalVolumeDecoding

    def gentle_sphere(points):
        return sphere(points) / 10

    expected = HierarchicalVolumeDecoding()(
        torch.zeros(1, 4, 8), lambda queries, latents: gentle_sphere(queries)[..., None],
        octree_resolution=128, num_chunks=8000, mc_level=0.0,
    )
    grid = decode_hierarchical(field_of(gentle_sphere), batch_size=1, resolution=128, **CPU)
    assert torch.equal(torch.isnan(grid), torch.isnan(expected))


def test_flashvdm_is_dense_near_the_surface_and_passes_top_k():
    calls = []

    def field(points, top_k):
        calls.append((points.shape[1], top_k))
        return sphere_and_torus(points)

    grid = decode_flashvdm(field, batch_size=2, resolution=128, top_k=7, **CPU)
    assert grid.shape == (2, 127, 127, 127)  # FlashVDM's own levels: 63, 126
    dense = decode_dense(field_of(sphere_and_torus), batch_size=2, resolution=126, num_chunks=2**16, **CPU)
    assert_refined_grid_is_exact_near_the_surface(grid, dense)
    assert {top_k for _, top_k in calls} == {7}
    assert max(count for count, _ in calls) <= 8000
    assert sum(count for count, _ in calls) < 127**3 / 4


def test_flashvdm_splits_large_blocks_without_changing_the_grid():
    small, large = CountingField(field_of(sphere)), CountingField(field_of(sphere))
    split = decode_flashvdm(small, batch_size=1, resolution=128, top_k=3, num_chunks=1000, **CPU)
    whole = decode_flashvdm(large, batch_size=1, resolution=128, top_k=3, num_chunks=10**9, **CPU)
    assert torch.equal(torch.isnan(split), torch.isnan(whole))
    assert torch.equal(split.nan_to_num(), whole.nan_to_num())
    assert small.points_evaluated == large.points_evaluated
    assert small.calls > large.calls
    assert small.points_evaluated <= small.calls * 1000


@pytest.mark.oracle
def test_flashvdm_blocks_are_the_releases():
    """Same levels, same cells decoded, and each field call is one of the release's blocks."""
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models.autoencoders.volume_decoders import FlashVDMVolumeDecoding

    class BlockRecordingDecoder:
        """Stands in for the geometry decoder; splits each call into the release's blocks."""

        def __init__(self):
            self.blocks = []

        def set_cross_attention_processor(self, processor):
            self.processor = processor

        def __call__(self, queries, latents):
            selection = self.processor.topk
            if selection is True:  # the coarsest level: one block per batch row
                self.blocks += list(queries.unbind(0))
            else:  # refined levels: consecutive cells of the given sizes
                self.blocks += list(queries[0].split(selection[1]))
            self.processor.topk = False
            return sphere(queries)[..., None]

    decoder = BlockRecordingDecoder()
    expected = FlashVDMVolumeDecoding()(torch.zeros(1, 4, 8), decoder, octree_resolution=128,
                                        num_chunks=10**9, enable_pbar=False)
    calls = []

    def field(points, top_k):
        calls.append(points[0])
        return sphere(points)

    grid = decode_flashvdm(field, batch_size=1, resolution=128, top_k=5, num_chunks=10**9, **CPU)
    assert grid.shape == expected.shape
    assert torch.equal(torch.isnan(grid), torch.isnan(expected))
    defined = ~torch.isnan(grid)
    torch.testing.assert_close(grid[defined], expected[defined], atol=1e-4, rtol=0)
    assert len(calls) == len(decoder.blocks)
    for ours, theirs in zip(calls, decoder.blocks):
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("decode, extra", [(decode_dense, {}), (decode_hierarchical, {}),
                                           (decode_flashvdm, {"top_k": 2})],
                         ids=["dense", "hierarchical", "flashvdm"])
def test_progress_per_field_call_and_cancel_before_the_next(decode, extra):
    counted = CountingField(field_of(sphere))
    reports = []
    decode(counted, batch_size=1, resolution=64, num_chunks=3000, **CPU, **extra,
           progress=Progress(callback=lambda done, total: reports.append((done, total))))
    assert len(reports) == counted.calls
    assert all(1 <= done <= total for done, total in reports)
    assert reports[-1][0] == reports[-1][1]
    if decode is decode_dense:
        assert reports == [(i, math.ceil(65**3 / 3000)) for i in range(1, counted.calls + 1)]

    stopped = CountingField(field_of(sphere))
    with pytest.raises(Cancelled):
        decode(stopped, batch_size=1, resolution=64, num_chunks=3000, **CPU, **extra,
               progress=Progress(should_cancel=lambda: stopped.calls >= 4))
    assert stopped.calls == 4


def test_a_field_returning_the_wrong_shape_is_reported():
    with pytest.raises(ValueError, match=r"\[batch, points\]"):
        decode_dense(lambda points, top_k: sphere(points)[..., None], batch_size=1, resolution=8, **CPU)
    with pytest.raises(ValueError, match="resolution"):
        decode_dense(field_of(sphere), batch_size=1, resolution=0, **CPU)
    with pytest.raises(ValueError, match="top_k"):
        decode_flashvdm(field_of(sphere), batch_size=1, resolution=64, top_k=0, **CPU)


def _peak_cpu_bytes(fn):
    """Peak of torch's CPU allocations during ``fn()``, from the profiler's memory events."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    assert events, "the profiler recorded no memory events"
    current = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak, result


@pytest.mark.parametrize("decode, extra, masks", [(decode_dense, {}, 0.0), (decode_hierarchical, {}, 0.5),
                                                  (decode_flashvdm, {"top_k": 2}, 0.5)],
                         ids=["dense", "hierarchical", "flashvdm"])
def test_decoding_memory_is_the_grid_plus_one_chunk(decode, extra, masks):
    """At R=256 the points alone would take 3 x the grid; only one chunk of them may exist.
    Refined levels may also hold the coarser grid (1/8) and boolean masks (1/4 each)."""
    num_chunks = 2**17
    peak, grid = _peak_cpu_bytes(lambda: decode(
        field_of(sphere), batch_size=1, resolution=256, num_chunks=num_chunks, **CPU, **extra))
    grid_bytes = grid.numel() * grid.element_size()
    assert grid_bytes <= peak <= (1 + masks) * grid_bytes + 128 * num_chunks


@pytest.mark.parametrize("decode", [decode_dense, decode_hierarchical, partial(decode_flashvdm, top_k=4)])
@pytest.mark.parametrize("model_dtype, points_dtype", [
    (torch.float16, torch.float16), (torch.bfloat16, torch.float32), (torch.float32, torch.float32),
])
def test_volume_decoders_hand_a_bfloat16_field_float32_coordinates(decode, model_dtype, points_dtype):
    """A bfloat16 decoder gets the grid's float32 coordinates (bfloat16 would move a point
    beyond |x| = 0.5 by up to 0.003); float16 keeps the release's rounded ones."""
    seen = set()

    def sphere(points: torch.Tensor, top_k=None) -> torch.Tensor:
        seen.add(points.dtype)
        return (0.5 - points.float().norm(dim=-1)).to(model_dtype)

    decode(sphere, batch_size=1, resolution=32, device="cpu", dtype=model_dtype)
    assert seen == {points_dtype}
