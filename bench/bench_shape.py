"""Shape-stage benchmarks: ours next to hy3dgen 2.0.2, same machine, same random weights.

Prints tables; nothing is asserted. Rows:
1. one full-size v2-0 DiT call, batch 2, float32 (``--skip-dit`` to leave out: ~9 GB RAM);
2. dense decoding throughput of the full-size geometry decoder (points per second);
3. dense / hierarchical / FlashVDM on an analytic field with a real surface at
   ``--resolution`` (default 384): field evaluations, time, peak memory growth during
   decoding, Chamfer distance of the mesh to the dense one. Each runs in its own process
   so its peak is its own.

Rows 1 and 2 compare with the reference through ``interleaved.py``: one untimed call of
each side, then ``--rounds`` rounds in alternating order (A B, B A, ...), both sides in
this process on the same inputs; each side's median and spread and the ratio of the
medians are printed with the machine and the load average.

Usage: ``python bench/bench_shape.py [--skip-dit] [--rounds 3] [--device cuda --dtype float16]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from interleaved import comparison_rows, interleave, machine_header, print_table, timed  # noqa: E402

from hy3d_core.geometry.volume_decoding import (  # noqa: E402
    CountingField,
    decode_dense,
    decode_flashvdm,
    decode_hierarchical,
)
from hy3d_core.models.dit import HunyuanDiT  # noqa: E402
from hy3d_core.models.dit_config import DIT_PRESETS  # noqa: E402
from hy3d_core.models.shape_vae import ShapeVAE  # noqa: E402
from hy3d_core.models.shape_vae_config import VAE_PRESETS  # noqa: E402


def _reference():
    from oracle import _install_torchvision_stand_in

    _install_torchvision_stand_in()
    import hy3dgen.shapegen.models as models

    return models


def _compare(label: str, reference, ours, rounds: int):
    """Interleaved rows for one comparison: hy3dgen, then ours with the speed ratio."""
    with torch.no_grad():
        samples = interleave({"hy3dgen": timed(reference), "ours": timed(ours)}, rounds,
                             warmup=True)
    return comparison_rows(label, samples, "hy3dgen")


def bench_dit(device, dtype, rounds: int) -> list[tuple[str, str, str, str]]:
    models = _reference()
    config = DIT_PRESETS["v2-0"]
    params = dict(
        in_channels=config.in_channels, context_in_dim=config.context_in_dim,
        hidden_size=config.hidden_size, mlp_ratio=config.mlp_ratio, num_heads=config.num_heads,
        depth=config.depth, depth_single_blocks=config.depth_single_blocks,
        axes_dim=list(config.axes_dim), theta=config.theta, qkv_bias=config.qkv_bias,
        guidance_embed=False,
    )
    reference = models.Hunyuan3DDiT(**params).to(device, dtype).eval()
    ours = HunyuanDiT(config).to(device, dtype).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3072, 64, device=device, dtype=dtype)
    t = torch.tensor([0.3, 0.3], device=device, dtype=dtype)
    context = torch.randn(2, 1370, 1536, device=device, dtype=dtype)
    rows = _compare("DiT call, v2-0, batch 2", lambda: reference(x, t, {"main": context}),
                    lambda: ours(x, t, context), rounds)
    del reference, ours
    return rows


def bench_geo_decoder(device, dtype, resolution: int, rounds: int) -> list[tuple[str, str, str, str]]:
    models = _reference()
    preset = VAE_PRESETS["v2-0"]
    reference = models.ShapeVAE(
        num_latents=preset.num_latents, embed_dim=preset.embed_dim, width=preset.width,
        heads=preset.heads, num_decoder_layers=preset.num_decoder_layers,
        num_freqs=preset.num_freqs, include_pi=preset.include_pi, qkv_bias=preset.qkv_bias,
        qk_norm=preset.qk_norm, scale_factor=preset.scale_factor,
    ).to(device, dtype).eval()
    ours = ShapeVAE(preset).to(device, dtype).eval()
    ours.load_state_dict(reference.state_dict())
    latents = torch.randn(1, preset.num_latents, preset.embed_dim, device=device, dtype=dtype)
    points = (resolution + 1) ** 3
    with torch.no_grad():
        decoded = reference(latents)
        ours_decoded = ours.decode(latents)

        def release():
            reference.volume_decoder(
                decoded, reference.geo_decoder, bounds=1.01, num_chunks=8000,
                octree_resolution=resolution, enable_pbar=False,
            )

        def ours_dense():
            keys_values = ours.project_latents(ours_decoded)
            decode_dense(lambda points, top_k: ours.query(points, keys_values),
                         batch_size=1, resolution=resolution, num_chunks=8000,
                         device=device, dtype=dtype)

    # Both from the same transformer output: the row measures the point queries alone.
    return _compare(f"dense decode, {points:,} points (time)", release, ours_dense, rounds)


def analytic_field(points: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """A torus plus a sphere, as occupancy logits (positive inside): a real surface with
    thin and round parts, standing in for a decoder."""
    x, y, z = points.unbind(-1)
    ring = torch.sqrt(x**2 + y**2) - 0.55
    torus = 0.2 - torch.sqrt(ring**2 + z**2)
    sphere = 0.35 - torch.sqrt((x - 0.1) ** 2 + y**2 + (z - 0.35) ** 2)
    return 40.0 * torch.maximum(torus, sphere)


def _memory_kb(field: str) -> int:
    """From /proc: unlike ru_maxrss, VmHWM is not inherited across fork+exec from the
    parent (which may have held a 9 GB DiT)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run_method(method: str, resolution: int) -> dict:
    """One decoding strategy on the analytic field, in this process."""
    from hy3d_core.geometry.surface import extract_surface

    field = CountingField(analytic_field)
    common = dict(batch_size=1, resolution=resolution, num_chunks=8000, device="cpu",
                  dtype=torch.float32)
    decode = {
        "dense": lambda: decode_dense(field, **common),
        "hierarchical": lambda: decode_hierarchical(field, **common),
        "flashvdm": lambda: decode_flashvdm(field, top_k=1024, **common),
    }[method]
    rss_before = _memory_kb("VmRSS")
    start = time.perf_counter()
    grid = decode()
    seconds = time.perf_counter() - start
    rss_growth = _memory_kb("VmHWM") - rss_before
    mesh = extract_surface(grid[0], release_mapping=False)
    samples = mesh.vertices[np.random.default_rng(0).choice(len(mesh.vertices), 20000)]
    np.save(f"/tmp/bench_shape_{method}.npy", samples)
    return {
        "evaluations": field.points_evaluated,
        "seconds": seconds,
        "peak_growth_mb": rss_growth / 1024,
        "grid_mb": grid.numel() * 4 / 2**20,
        "faces": len(mesh.faces),
    }


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    return float(cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean()) / 2


def bench_coarse_to_fine(resolution: int) -> list[tuple[str, ...]]:
    results = {}
    for method in ("dense", "hierarchical", "flashvdm"):
        output = subprocess.run(
            [sys.executable, __file__, "--run-method", method, "--resolution", str(resolution)],
            check=True, capture_output=True, text=True,
        ).stdout
        results[method] = json.loads(output.strip().splitlines()[-1])
    dense_points = np.load("/tmp/bench_shape_dense.npy")
    rows = []
    for method, result in results.items():
        distance = chamfer(np.load(f"/tmp/bench_shape_{method}.npy"), dense_points)
        rows.append((
            f"{method} R={resolution}",
            f"{result['evaluations']:,} evals",
            f"{result['seconds']:.2f} s, peak +{result['peak_growth_mb']:.0f} MB "
            f"(grid {result['grid_mb']:.0f} MB)",
            f"{results['dense']['evaluations'] / result['evaluations']:.1f}x fewer evals, "
            f"Chamfer {distance:.5f}",
        ))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-dit", action="store_true")
    parser.add_argument("--skip-decoder", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--resolution", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the comparison rows (after one warm-up each)")
    parser.add_argument("--decoder-resolution", type=int, default=39,
                        help="grid for the throughput row: 39 gives 64,000 points (8 chunks)")
    parser.add_argument("--run-method", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_method:
        print(json.dumps(run_method(args.run_method, args.resolution)))
        return
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    print(machine_header() + f"; {args.device} {args.dtype}")
    rows: list[tuple[str, ...]] = []
    if not args.skip_dit:
        rows += bench_dit(device, dtype, args.rounds)
    if not args.skip_decoder:
        rows += bench_geo_decoder(device, dtype, args.decoder_resolution, args.rounds)
    if rows:
        print_table(rows)
    print_table(bench_coarse_to_fine(args.resolution),
                ("row", "evaluations", "ours: time, memory", "against dense"))


if __name__ == "__main__":
    main()
