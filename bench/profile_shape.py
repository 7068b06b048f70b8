"""Where a shape-stage call spends its time beyond the matrix multiplications.

``torch.profiler`` over one full-width v2-0 DiT call (batch 2, 3072 latents, 1370
context tokens, as a guidance step makes it; ``--double``/``--single`` pick how many of
the 16 + 32 blocks to keep, since every block of a kind does the same work) and over
chunks of the full-size geometry decoder (8000 points, FlashVDM's top-k selection, keys
and values projected once as decoding does). Prints the operators by their own CPU time;
the per-operator times say what to take (attention layout, copies, casts, norms) and the
totals are not a benchmark (use ``bench_shape.py`` for those).

    python bench/profile_shape.py [--dtype bfloat16] [--double 2 --single 4] [--rows 25]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hy3d_core.models.dit import HunyuanDiT  # noqa: E402
from hy3d_core.models.dit_config import DIT_PRESETS  # noqa: E402
from hy3d_core.models.shape_vae import ShapeVAE  # noqa: E402
from hy3d_core.models.shape_vae_config import VAE_PRESETS  # noqa: E402


def _print_profile(title: str, call, rows: int) -> None:
    with torch.no_grad():
        call()  # warm-up: oneDNN builds its kernels on the first call
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            call()
    print(f"\n## {title}")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def profile_dit(dtype: torch.dtype, double: int, single: int, rows: int) -> None:
    config = dataclasses.replace(DIT_PRESETS["v2-0"], depth=double, depth_single_blocks=single)
    model = HunyuanDiT(config).to(dtype).eval()
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(2, 3072, config.in_channels, generator=generator)
    context = torch.randn(2, 1370, config.context_in_dim, generator=generator)
    t = torch.full((2,), 0.3)
    _print_profile(
        f"DiT v2-0, {double} double + {single} single blocks, batch 2, {dtype}",
        lambda: model(latents, t, context), rows,
    )


def profile_geometry_decoder(dtype: torch.dtype, rows: int, chunks: int = 4) -> None:
    vae = ShapeVAE(VAE_PRESETS["v2-0"]).to(dtype).eval()
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, vae.config.num_latents, vae.config.width, generator=generator)
    with torch.no_grad():
        keys_values = vae.project_latents(latents.to(dtype))
    blocks = [torch.rand(1, 8000, 3, generator=generator) * 0.2 + 0.1 * i for i in range(chunks)]

    def decode() -> None:
        for points in blocks:
            vae.query(points.to(dtype), keys_values, 1024, selection_stride=50)

    _print_profile(f"geometry decoder, {chunks} chunks of 8000 points, top-k 1024, {dtype}",
                   decode, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16"])
    parser.add_argument("--double", type=int, default=2, help="double-stream blocks kept")
    parser.add_argument("--single", type=int, default=4, help="single-stream blocks kept")
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--parts", nargs="+", default=["dit", "decoder"],
                        choices=["dit", "decoder"])
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    if "dit" in args.parts:
        profile_dit(dtype, args.double, args.single, args.rows)
    if "decoder" in args.parts:
        profile_geometry_decoder(dtype, args.rows)


if __name__ == "__main__":
    main()
