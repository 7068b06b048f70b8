"""The whole-job bench's decode estimate (bench/bench_shape_job.py): which calls run the
real decoder, what every call answers, and how the sampled time is scaled."""

import pytest
import torch

from bench.bench_shape import analytic_field
from bench.bench_shape_job import SurfaceDrivenDecoding


def test_every_nth_call_runs_the_decoder_and_every_call_gets_the_surface():
    driven = SurfaceDrivenDecoding(every=2)
    ran = []
    for call in range(4):
        points = torch.rand(1, 10 * (call + 1), 3) * 2 - 1
        logits = driven(points, lambda call=call: ran.append(call))
        torch.testing.assert_close(logits, analytic_field(points, None))
    assert ran == [0, 2]
    assert driven.summary() == {"decode_calls": 4, "decode_points": 100,
                                "decoded_calls": 2, "decoded_points": 40}


def test_decode_time_is_traversal_plus_sampled_rate_times_all_points():
    driven = SurfaceDrivenDecoding(every=3)
    for _ in range(6):
        driven(torch.zeros(1, 10, 3), lambda: None)
    driven.real_seconds, driven.analytic_seconds = 2.0, 0.5
    # 6 calls of 10 points, 2 of them decoded: 2 s for 20 points -> 6 s for 60; the
    # wall time's remainder (10 - 2 - 0.5) is the traversal's own.
    assert driven.decode_seconds(wall=10.0) == pytest.approx(7.5 + 6.0)


def test_decoding_every_zeroth_call_is_refused():
    with pytest.raises(ValueError, match="decode-every"):
        SurfaceDrivenDecoding(every=0)
