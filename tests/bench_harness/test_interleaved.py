"""The benchmark harness's run order and statistics (bench/interleaved.py)."""

import sys

import pytest

from bench.interleaved import (
    alternating_order,
    comparison_rows,
    cpu_description,
    in_subprocess,
    interleave,
    ratio_of_medians,
    spread,
)


def test_two_sides_alternate_so_each_runs_first_as_often_as_last():
    assert alternating_order(["A", "B"], 4) == ["A", "B", "B", "A", "A", "B", "B", "A"]


def test_three_sides_mirror_each_round():
    assert alternating_order(["ref", "f32", "bf16"], 2) == ["ref", "f32", "bf16", "bf16", "f32", "ref"]


@pytest.mark.parametrize("names, rounds", [(["A", "A"], 2), ([], 2), (["A", "B"], 0)])
def test_bad_orders_are_refused(names, rounds):
    with pytest.raises(ValueError):
        alternating_order(names, rounds)


def test_interleave_calls_sides_in_order_after_one_warmup_each():
    calls = []

    def side(name):
        def measure():
            calls.append(name)
            return {"seconds": float(len(calls))}
        return measure

    samples = interleave({"A": side("A"), "B": side("B")}, 3, warmup=True)
    assert calls == ["A", "B", "A", "B", "B", "A", "A", "B"]
    # Warm-ups are not samples: A ran 3rd, 6th and 7th.
    assert [s["seconds"] for s in samples["A"]] == [3.0, 6.0, 7.0]
    assert [s["seconds"] for s in samples["B"]] == [4.0, 5.0, 8.0]


def test_spread_is_median_and_range_and_ratio_is_of_medians():
    summary = spread([3.0, 1.0, 10.0, 2.0])
    assert (summary.median, summary.low, summary.high, summary.count) == (2.5, 1.0, 10.0, 4)
    assert ratio_of_medians(spread([8.0, 9.0, 100.0]), spread([3.0, 2.0, 4.0])) == 3.0


def test_rows_put_the_reference_first_with_the_speed_ratio_of_each_other_side():
    samples = {
        "ours": [{"seconds": 1.0}, {"seconds": 3.0}],
        "hy3dgen": [{"seconds": 4.0}, {"seconds": 4.0}],
    }
    rows = comparison_rows("DiT call", samples, "hy3dgen")
    assert [row[1] for row in rows] == ["hy3dgen", "ours"]
    assert rows[0][3] == "" and rows[1][3] == "2.00x"
    assert rows[1][2] == "2.00 s (1.00-3.00, 2 runs)"


def test_a_subprocess_side_reports_the_json_on_its_last_line():
    measure = in_subprocess([sys.executable, "-c", "print('progress'); print('{\"seconds\": 1.5}')"])
    assert measure() == {"seconds": 1.5}


def test_cpu_description_reads_model_and_amx_flag():
    info = "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n"
    described = cpu_description(info)
    assert described["model"] == "Test CPU" and described["amx_bf16"] is True
    assert cpu_description("model name : X\nflags : fpu avx2\n")["amx_bf16"] is False
