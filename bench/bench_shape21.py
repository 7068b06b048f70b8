"""Hunyuan3D 2.1 shape DiT benchmark: one full-size call as the sampler makes it.

Prints a table; nothing is asserted. The network is the released "v2-1" preset (3.05 B
parameters) with random weights built directly (no file is read), called the way a
classifier-free-guidance step calls it: batch 2 (condition and zeros), 4096 latent
tokens, 1370 x 1024 DINOv2 context. Each dtype runs in its own process so that its
peak resident memory (``getrusage`` maxrss, which counts torch's allocations unlike
tracemalloc) is its own; the first call is timed too, as the sampler's first step pays
it. CPU rows take float32 and bfloat16; GPU float16 (and bfloat16) rows run when CUDA
is available.

Usage: ``python bench/bench_shape21.py [--runs N] [--dtypes float32 bfloat16]``.
``--quick`` runs the same code on a small network to check the script in seconds; its
numbers mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from hy3d_core.models.dit_v2_1 import HunyuanDiTPlain  # noqa: E402
from hy3d_core.models.dit_v2_1_config import DIT_V2_1_PRESETS, DiTPlainConfig  # noqa: E402
from random_weights import fill_random_  # noqa: E402

BATCH = 2
CONTEXT_TOKENS = 1370


def bench_config(quick: bool) -> DiTPlainConfig:
    config = DIT_V2_1_PRESETS["v2-1"]
    if quick:
        config = dataclasses.replace(config, hidden_size=256, num_heads=2, depth=5,
                                     num_moe_layers=2, context_dim=128, input_size=512)
    return config


def random_model(config: DiTPlainConfig, dtype: torch.dtype, device: str) -> HunyuanDiTPlain:
    """Weights drawn in place in the target dtype (``random_weights.py``), so no float32
    copy of a half-precision model is ever held."""
    with torch.device("meta"):
        model = HunyuanDiTPlain(config).to(dtype)
    return fill_random_(model, 0, device)


def run_one(dtype_name: str, device: str, runs: int, quick: bool) -> dict:
    dtype = getattr(torch, dtype_name)
    config = bench_config(quick)
    start = time.perf_counter()
    model = random_model(config, dtype, device)
    build_seconds = time.perf_counter() - start
    generator = torch.Generator("cpu").manual_seed(1)
    latents = torch.randn(1, config.input_size, config.in_channels, generator=generator)
    latents = latents.expand(BATCH, -1, -1).to(device)
    context = torch.randn(1, CONTEXT_TOKENS, config.context_dim, generator=generator)
    context = torch.cat([context, torch.zeros_like(context)]).to(device)
    t = torch.full((BATCH,), 0.5, device=device)
    rss_with_weights = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = []
    with torch.inference_mode():
        for _ in range(runs):
            begin = time.perf_counter()
            out = model(latents, t, context)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - begin)
    result = {
        "dtype": dtype_name, "device": device, "seconds": seconds,
        "median_s": statistics.median(seconds), "build_s": build_seconds,
        "rss_with_weights_mb": rss_with_weights,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "finite": bool(torch.isfinite(out).all()),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if device == "cuda":
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.system()} {platform.machine()} ({cpu}), {os.cpu_count()} CPU threads, "
            f"{gpu}, torch {torch.__version__}, load average {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="timed calls per dtype (median reported)")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], help="CPU dtypes")
    parser.add_argument("--quick", action="store_true", help="small network: checks the script only")
    parser.add_argument("--run-one", nargs=2, metavar=("DTYPE", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        print(json.dumps(run_one(*args.run_one, args.runs, args.quick)))
        return

    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}")
    print(f"# 2.1 DiT call{' (QUICK: small network, numbers mean nothing)' if args.quick else ''}: "
          f"batch {BATCH}, {bench_config(args.quick).input_size} latents, context "
          f"{CONTEXT_TOKENS} x {bench_config(args.quick).context_dim}, {args.runs} timed call(s) each")
    jobs = [(dtype, "cpu") for dtype in args.dtypes]
    jobs += [(dtype, "cuda") for dtype in ("float16", "bfloat16")] if torch.cuda.is_available() else []
    print("| device | dtype | calls (s) | median | weights built | RSS with weights | peak RSS | peak CUDA |")
    print("|---|---|---|---|---|---|---|---|")
    for dtype, device in jobs:
        command = [sys.executable, __file__, "--run-one", dtype, device, "--runs", str(args.runs)]
        output = subprocess.run(command + (["--quick"] if args.quick else []),
                                check=True, capture_output=True, text=True).stdout
        r = json.loads(output.strip().splitlines()[-1])
        calls = ", ".join(f"{s:.1f}" for s in r["seconds"])
        cuda = f"{r['peak_cuda_mb']:.0f} MB" if "peak_cuda_mb" in r else "-"
        print(f"| {device} | {dtype} | {calls} | {r['median_s']:.1f} s | {r['build_s']:.0f} s | "
              f"{r['rss_with_weights_mb']:.0f} MB | {r['peak_rss_mb']:.0f} MB | {cuda} |"
              + ("" if r["finite"] else " (non-finite output!)"))
    if not torch.cuda.is_available():
        print("| cuda | float16 | not measured: no GPU | | | | | |")


if __name__ == "__main__":
    main()
