"""Time and peak memory of the Hunyuan3D-Paint 2.1 PBR UNet at the release's size.

Rows, each measured in a fresh process so its peak memory is its own:

- CPU, float32 and bfloat16: one call of the main UNet in the release's layout, 3 guidance
  branches x 2 materials x ``--views`` views at ``--latent`` x ``--latent`` latents (6 views
  and 64 for 512-pixel views), random weights on the Stable Diffusion 2.1 UNet config the
  release trains from. The reference UNet's states and the DINO tokens are random tensors
  of the right shapes: the reference UNet runs once per generation, not per step, and is
  not built, which keeps its 3.5 GB (float32) out of the peak.
- GPU, float16: 15 steps of the denoising loop (the UNet call and UniPC), when CUDA is
  available; otherwise the row says "not measured: no GPU".

A CPU row that would not fit in the memory the machine has free is skipped with a note
rather than pushing other work out of memory.

    python bench/bench_paint_pbr.py [--views 6] [--latent 64] [--dtypes float32,bfloat16] [--runs 1]
    python bench/bench_paint_pbr.py --tiny     # seconds: the fixture-sized UNet, to check the script
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hy3d_core.models.paint_pbr_unet import (  # noqa: E402
    DINO_TOKENS_PER_FEATURE,
    MATERIALS,
    PaintPbrUNet,
    PbrConditions,
)
from hy3d_core.models.pose_rope import position_voxel_levels  # noqa: E402

SD21_UNET_CONFIG = {
    "block_out_channels": [320, 640, 1280, 1280],
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "attention_head_dim": [5, 10, 20, 20],
    "layers_per_block": 2,
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "in_channels": 4,
    "out_channels": 4,
    "sample_size": 96,
}
TINY_UNET_CONFIG = {
    "block_out_channels": [32, 32],
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "attention_head_dim": [2, 1],
    "layers_per_block": 1,
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "in_channels": 4,
    "out_channels": 4,
    "sample_size": 8,
}
DINOV2_GIANT_TOKENS, DINOV2_GIANT_WIDTH = 257, 1536
BRANCHES = 3
LOOP_STEPS = 15
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def build_unet(config: dict, device: str, dtype: torch.dtype) -> PaintPbrUNet:
    """The PBR UNet with random weights in the main UNet only; ``unet_dual`` stays on the meta device."""
    with torch.device("meta"):
        model = PaintPbrUNet(dict(config), dino_width=DINOV2_GIANT_WIDTH)
    model.unet.to_empty(device=device)
    generator = torch.Generator(device).manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.unet.named_parameters():
            if parameter.ndim > 1:
                parameter.normal_(0.0, 1.0 / math.sqrt(parameter[0].numel()), generator=generator)
            elif "norm" in name and name.endswith("weight"):
                parameter.fill_(1.0)
            else:
                parameter.normal_(0.0, 0.02, generator=generator)
    model.unet.to(dtype)
    return model.eval().requires_grad_(False)


def random_conditions(model: PaintPbrUNet, views: int, latent: int, device: str, dtype: torch.dtype) -> PbrConditions:
    """Conditions of the release's shapes: reference states shaped by a meta-device pass of ``unet_dual``."""
    generator = torch.Generator(device).manual_seed(1)

    def noise(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=device).to(dtype)

    shapes = model.encode_reference(torch.empty(BRANCHES, 1, 4, latent, latent, device="meta"))
    pixels = 8 * latent
    position_maps = torch.rand(1, views, 3, pixels, pixels, generator=generator, device=device)
    return PbrConditions(
        reference_states={name: noise(*state.shape) for name, state in shapes.items()},
        dino_tokens=noise(BRANCHES, DINOV2_GIANT_TOKENS * DINO_TOKENS_PER_FEATURE, 1024),
        voxel_levels=position_voxel_levels(position_maps, latent),
        normal_latents=noise(BRANCHES, views, 4, latent, latent),
        position_latents=noise(BRANCHES, views, 4, latent, latent),
        reference_scale=torch.tensor([0.0, 1.0, 1.0], device=device, dtype=dtype),
    )


def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _available_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("inf")


def needed_gb(config: dict, views: int, latent: int, dtype: torch.dtype) -> float:
    """A rough upper bound: the main UNet's weights plus the widest feed-forward of the top level.

    The GEGLU of the top-level blocks holds ``rows x tokens x 8 x channels`` values at
    once; the saved skip connections and attention are small next to it.
    """
    with torch.device("meta"):
        model = PaintPbrUNet(dict(config), dino_width=DINOV2_GIANT_WIDTH)
    itemsize = torch.empty((), dtype=dtype).element_size()
    weights = sum(parameter.numel() for parameter in model.unet.parameters()) * itemsize
    rows = BRANCHES * len(MATERIALS) * views
    feed_forward = rows * latent * latent * 8 * config["block_out_channels"][0] * itemsize
    return (weights + 3 * feed_forward) / 2**30


def run_cpu_call(config: dict, views: int, latent: int, dtype_name: str, runs: int) -> dict:
    dtype = DTYPES[dtype_name]
    model = build_unet(config, "cpu", dtype)
    conditions = random_conditions(model, views, latent, "cpu", dtype)
    generator = torch.Generator().manual_seed(2)
    sample = torch.randn(BRANCHES, len(MATERIALS), views, 4, latent, latent, generator=generator).to(dtype)
    text = model.material_text.to(dtype)[None].expand(BRANCHES, -1, -1, -1)
    before_mb = _memory_kb("VmRSS") / 1024
    seconds = []
    with torch.no_grad():
        for _ in range(runs):
            start = time.perf_counter()
            output = model(sample, torch.tensor(999), text, conditions)
            seconds.append(time.perf_counter() - start)
    if not torch.isfinite(output).all():
        raise RuntimeError("the UNet produced non-finite values")
    return {"seconds": seconds, "before_mb": before_mb, "peak_mb": _memory_kb("VmHWM") / 1024}


def run_gpu_loop(config: dict, views: int, latent: int, device: str = "cuda") -> dict:
    """15 UniPC steps of the three-branch loop in float16, as ``paint_pbr_views`` runs them."""
    from diffusers import UniPCMultistepScheduler

    dtype, on_gpu = torch.float16, device == "cuda"
    model = build_unet(config, device, dtype)
    conditions = random_conditions(model, views, latent, device, dtype)
    scheduler = UniPCMultistepScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type="v_prediction",
        rescale_betas_zero_snr=True, timestep_spacing="trailing",
    )
    scheduler.set_timesteps(LOOP_STEPS, device=device)
    latents = torch.randn(len(MATERIALS) * views, 4, latent, latent, device=device)
    text = model.material_text.to(dtype)[None].expand(BRANCHES, -1, -1, -1)
    if on_gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    with torch.no_grad():
        for timestep in scheduler.timesteps:
            model_input = latents.to(dtype).view(1, len(MATERIALS), views, 4, latent, latent)
            prediction = model(model_input.expand(BRANCHES, -1, -1, -1, -1, -1), timestep, text, conditions)
            unconditional, with_reference, full = prediction.float().flatten(1, 2).unbind(0)
            guided = unconditional + 3.0 * (with_reference - unconditional) + 3.0 * (full - with_reference)
            latents = scheduler.step(guided, timestep, latents, return_dict=False)[0]
    if on_gpu:
        torch.cuda.synchronize()
    if not torch.isfinite(latents).all():
        raise RuntimeError("the loop produced non-finite latents")
    return {
        "seconds": [time.perf_counter() - start],
        "peak_mb": torch.cuda.max_memory_allocated() / 2**20 if on_gpu else float("nan"),
        "device": torch.cuda.get_device_name() if on_gpu else device,
    }


def _in_fresh_process(arguments: list[str]) -> dict:
    result = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=6)
    parser.add_argument("--latent", type=int, default=64, help="latent size: 64 for 512-pixel views, 96 for 768")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--tiny", action="store_true", help="the fixture-sized UNet at 8x8 latents")
    parser.add_argument("--child", choices=["cpu", "gpu"], help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = TINY_UNET_CONFIG if args.tiny else SD21_UNET_CONFIG
    latent = 8 if args.tiny else args.latent
    if args.child == "cpu":
        print(json.dumps(run_cpu_call(config, args.views, latent, args.dtype, args.runs)))
        return
    if args.child == "gpu":
        print(json.dumps(run_gpu_loop(config, args.views, latent)))
        return

    print(f"{datetime.datetime.now().isoformat(timespec='minutes')}  {platform.machine()}, "
          f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}, python {platform.python_version()}")
    print(f"{'config' if not args.tiny else 'tiny config'}: {BRANCHES} branches x {len(MATERIALS)} materials x "
          f"{args.views} views, {latent}x{latent} latents")
    common = ["--views", str(args.views), "--latent", str(latent)] + (["--tiny"] if args.tiny else [])
    print(f"{'row':<34} {'seconds':>18} {'peak MB':>9}  notes")
    for dtype_name in args.dtypes.split(","):
        label = f"CPU {dtype_name}, one UNet call"
        needed, free = needed_gb(config, args.views, latent, DTYPES[dtype_name]), _available_gb()
        if needed > free:
            print(f"{label:<34} {'not measured':>18} {'':>9}  needs about {needed:.1f} GB, {free:.1f} GB free")
            continue
        result = _in_fresh_process(common + ["--child", "cpu", "--dtype", dtype_name, "--runs", str(args.runs)])
        if "error" in result:
            print(f"{label:<34} {'failed':>18} {'':>9}  {result['error']}")
            continue
        seconds = ", ".join(f"{value:.1f}" for value in result["seconds"])
        print(f"{label:<34} {seconds:>18} {result['peak_mb']:>9.0f}  "
              f"process peak; {result['before_mb']:.0f} MB before the call (weights, inputs)")
    label = f"GPU float16, {LOOP_STEPS}-step loop"
    if not torch.cuda.is_available():
        print(f"{label:<34} {'not measured: no GPU':>18}")
        return
    result = _in_fresh_process(common + ["--child", "gpu"])
    if "error" in result:
        print(f"{label:<34} {'failed':>18} {'':>9}  {result['error']}")
    else:
        print(f"{label:<34} {result['seconds'][0]:>18.1f} {result['peak_mb']:>9.0f}  {result['device']}, "
              "max allocated")


if __name__ == "__main__":
    main()
