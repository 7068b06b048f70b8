"""Farthest point sampling: coverage, determinism, distinct picks, backend agreement."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from hy3d_core.geometry.farthest_point_sampling import farthest_point_sample

BACKENDS = ["torch"] + (["fpsample"] if importlib.util.find_spec("fpsample") else [])


def _min_pairwise_distance(points: torch.Tensor) -> float:
    distances = torch.cdist(points, points)
    distances.fill_diagonal_(float("inf"))
    return distances.min().item()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("start_index", [0, None])
def test_picks_are_spread_out(backend: str, start_index: int | None) -> None:
    cloud = torch.rand(3000, 3)
    picks = farthest_point_sample(cloud, 64, start_index=start_index, backend=backend,
                                  generator=torch.Generator().manual_seed(0))
    random_subset = torch.randperm(3000)[:64]
    assert _min_pairwise_distance(cloud[picks]) > 3 * _min_pairwise_distance(cloud[random_subset])


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_start_is_honoured_and_order_is_greedy(backend: str) -> None:
    cloud = torch.rand(500, 3)
    picks = farthest_point_sample(cloud, 10, start_index=17, backend=backend)
    assert picks[0] == 17
    second = torch.cdist(cloud[17:18], cloud)[0].argmax()
    assert picks[1] == second


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_start_is_reproducible_for_a_seed(backend: str) -> None:
    cloud = torch.rand(2, 800, 3)
    runs = [farthest_point_sample(cloud, 32, start_index=None, backend=backend,
                                  generator=torch.Generator().manual_seed(seed))
            for seed in (1, 1, 2)]
    assert runs[0].shape == (2, 32) and runs[0].dtype == torch.long
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_k_equal_to_n_gives_every_point_once_even_with_duplicates(backend: str) -> None:
    cloud = torch.rand(40, 3)
    cloud = torch.cat((cloud, cloud[:10]))
    for start_index in (0, None):
        picks = farthest_point_sample(cloud, 50, start_index=start_index, backend=backend)
        assert sorted(picks.tolist()) == list(range(50))


@pytest.mark.skipif("fpsample" not in BACKENDS, reason="fpsample is not installed")
def test_backends_agree_for_a_fixed_start() -> None:
    clouds = torch.rand(2, 2000, 3)
    torch_picks = farthest_point_sample(clouds, 100, start_index=5, backend="torch")
    fpsample_picks = farthest_point_sample(clouds, 100, start_index=5, backend="fpsample")
    assert torch.equal(torch_picks, fpsample_picks)


def test_bad_requests_raise_value_errors() -> None:
    cloud = torch.rand(10, 3)
    with pytest.raises(ValueError, match="k=11"):
        farthest_point_sample(cloud, 11)
    with pytest.raises(ValueError, match="start_index=10"):
        farthest_point_sample(cloud, 3, start_index=10)
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        farthest_point_sample(torch.rand(10), 3)
    with pytest.raises(ValueError, match="backend"):
        farthest_point_sample(cloud, 3, backend="cuda")
