"""Interleaved "ours vs reference" measurements: the one way the benchmarks compare sides.

One sequential run per side is not a ratio on a machine whose speed drifts (other jobs,
turbo clocks, a cold page cache): the same DiT call measured 1.94x, 0.92x and 1.00x
depending on when each side ran. So every comparison here runs the sides in rounds
whose order alternates (A B, B A, A B, ...: each side runs first as often as last, and
drift over time hits both alike), optionally after an untimed warm-up of each, and
reports per side the median and the spread (min-max) of its samples, and the ratio of
the medians. The header says when and where: date, CPU model, core count, whether the
CPU has AMX-BF16 (bfloat16 matrix units change the float32/bfloat16 ratio), torch
version and the load average at start; the footer the load average at the end.

A measurement is a callable returning a dict of numbers (``{"seconds": ...}`` and
whatever else it measures, e.g. peak memory); :func:`timed` makes one from a plain
function in this process, :func:`in_subprocess` from a command that prints such a dict
as JSON on its last line (for sides that must own their peak memory or their imports).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Measurement = Callable[[], dict[str, Any]]


def alternating_order(names: Sequence[str], rounds: int) -> list[str]:
    """Run order over ``rounds`` rounds: forward in even rounds, reversed in odd ones
    (two sides: A B B A A B ...; three: A B C C B A ...)."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"side names must be distinct and not empty, got {list(names)}")
    order: list[str] = []
    for index in range(rounds):
        order += list(names) if index % 2 == 0 else list(reversed(names))
    return order


def interleave(
    sides: Mapping[str, Measurement],
    rounds: int,
    *,
    warmup: bool = False,
    on_sample: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Each side's measurements, taken in :func:`alternating_order`. With ``warmup``
    each side runs once first, untimed (in the same alternation's first order)."""
    if warmup:
        for name in sides:
            sides[name]()
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for name in alternating_order(list(sides), rounds):
        sample = sides[name]()
        samples[name].append(sample)
        if on_sample is not None:
            on_sample(name, sample)
    return samples


@dataclass(frozen=True)
class Spread:
    """Median and range of one side's samples of one quantity."""

    median: float
    low: float
    high: float
    count: int

    def describe(self, unit: str = "s", digits: int = 2) -> str:
        if self.count == 1:
            return f"{self.median:.{digits}f} {unit} (1 run)"
        return (f"{self.median:.{digits}f} {unit} ({self.low:.{digits}f}-{self.high:.{digits}f}, "
                f"{self.count} runs)")


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no samples to summarise")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def spreads(samples: Mapping[str, Sequence[Mapping[str, Any]]], key: str) -> dict[str, Spread]:
    return {name: spread([float(sample[key]) for sample in runs]) for name, runs in samples.items()}


def ratio_of_medians(reference: Spread, ours: Spread) -> float:
    """How many times faster ``ours`` is (reference median / ours median, for times)."""
    return reference.median / ours.median


def timed(function: Callable[[], object]) -> Measurement:
    """A measurement of ``function``'s wall time in this process."""

    def measure() -> dict[str, Any]:
        start = time.perf_counter()
        function()
        return {"seconds": time.perf_counter() - start}

    return measure


def in_subprocess(command: Sequence[str], *, cwd: str | Path | None = None,
                  env: Mapping[str, str] | None = None) -> Measurement:
    """A measurement that runs ``command`` and reads the JSON dict on its last stdout line
    (stderr passes through, so progress stays visible)."""

    def measure() -> dict[str, Any]:
        result = subprocess.run(
            list(command), check=True, stdout=subprocess.PIPE, text=True, cwd=cwd,
            env=None if env is None else {**os.environ, **env},
        )
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if not lines:
            raise RuntimeError(f"{' '.join(command)} printed nothing")
        return json.loads(lines[-1])

    return measure


def cpu_description(cpuinfo: str | None = None) -> dict[str, Any]:
    """CPU model, logical core count and whether AMX-BF16 is present (Linux's
    /proc/cpuinfo; elsewhere the platform's processor string and unknown AMX)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    model, flags = platform.processor() or platform.machine(), None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags" and flags is None:
            flags = value.split()
    return {"model": model, "cores": os.cpu_count(),
            "amx_bf16": None if flags is None else "amx_bf16" in flags}


def load_average() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def machine_header() -> str:
    """One line: date (UTC), CPU, cores, AMX-BF16, torch version, load average now."""
    import torch

    cpu = cpu_description()
    amx = {True: "AMX-BF16", False: "no AMX-BF16", None: "AMX unknown"}[cpu["amx_bf16"]]
    return (f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu['model']}, "
            f"{cpu['cores']} cores, {amx}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; load average at start {load_average()}")


def comparison_rows(
    label: str,
    samples: Mapping[str, Sequence[Mapping[str, Any]]],
    reference: str,
    *,
    key: str = "seconds",
    unit: str = "s",
) -> list[tuple[str, str, str, str]]:
    """Table rows ``(row, side, median (min-max, n), reference/side)`` for every side,
    the reference first; a ratio above 1 means the side is faster."""
    summary = spreads(samples, key)
    rows = []
    for name in [reference, *(name for name in summary if name != reference)]:
        ratio = "" if name == reference else f"{ratio_of_medians(summary[reference], summary[name]):.2f}x"
        rows.append((label, name, summary[name].describe(unit), ratio))
    return rows


def print_table(rows: Sequence[tuple[str, ...]],
                header: tuple[str, ...] = ("row", "side", "median (min-max, runs)",
                                           "reference / side")) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"# load average at end {load_average()}")
