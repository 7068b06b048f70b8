"""The whole Hunyuan3D 2.0 shape job, stage by stage: ours (float32, bfloat16) next to
hy3dgen 2.0.2's own pipeline (float32), each side in its own process, interleaved.

Settings are the release's: 50 steps, guidance 5, octree resolution 384, FlashVDM
decoding (8000-point chunks, box 1.01, level 0), marching cubes, the image prepared by
the model's image processor (512 px, border 0.15) and seen by DINOv2 at 518 px (1370
tokens); ``--setting turbo`` is the guidance-distilled layout (``guidance_embed``, batch 1
per step, no classifier-free guidance) at 5 steps. Weights are random and full size, in
the released folder layout: ``config.yaml`` naming hy3dgen's classes plus
``model.fp16.safetensors`` (DiT v2-0 1.11 B, DINOv2-giant 1.1 B, VAE), written once by
our checkpoint writer into ``--work-dir`` and reused after (about 5 GB a setting).

What a side does (stage names as in the table):
  image        the RGBA input recentred on white by the model's image processor;
  conditioner  DINOv2 on it (hy3dgen: ``encode_cond``, which adds the empty condition);
  dit step     one DiT call of the sampler (batch 2 with guidance, 1 for turbo): the
               median of ``--timed-steps`` real sampler steps but the first, each timed
               by a hook (the first call, which also builds oneDNN's kernels, apart);
  vae          the VAE transformer on the sampled latents (ours also projects the
               geometry decoder's keys/values once here; hy3dgen does it per chunk);
  decode       FlashVDM volume decoding with the full-size geometry decoder;
  mc           marching cubes on the decoded grid, to a mesh.
The job total is composed: image + conditioner + first step + (steps - 1) x median
step + steps x the sampler's own time per step + vae + decode + mc. Memory: the
resident size after loading, the loader's peak, and the job's peak after loading. A 50-step float32 run is about an hour on a
2-core CPU, so by default the sampler runs only ``--timed-steps`` steps; ``--full-job``
runs all steps and every decoder chunk for whoever has the time, and the table then
says "measured" instead of "composed".

Decoding a real object with random weights. The work of FlashVDM depends on the surface:
it refines only near it, and random weights give a random field (surface everywhere or
nowhere), which would time the wrong work. Encoding a real mesh needs trained encoder
weights, which random ones are not. So on both sides the decoder's *decisions* come
from an analytic field with a real surface (the torus plus sphere of ``bench_shape.py``,
as occupancy logits): each side's own FlashVDM code walks its levels, picks its blocks
and the points near that surface, and at each call the full-size geometry decoder runs
on exactly those points (its output is discarded; the analytic values are returned).
The decoder's work per point does not depend on the field's values, so this is the
work of decoding a real object of that size, and both sides visit the same surface
(the points and calls each side made are printed, so the equality can be checked).
With ``--decode-every N`` (default 10) the decoder runs on every N-th call only, and the
decode time is the traversal's own time plus the sampled calls' time per point times
all points; ``--decode-every 1`` (and ``--full-job``) runs every call.

hy3dgen's FlashVDM, as checked in hy3dgen/shapegen/pipelines.py: ``enable_flashvdm()``
installs ``FlashVDMVolumeDecoding`` (adaptive key/value selection, top-k mode "mean",
1024 of 3072 latents, levels 95/190/380 for octree 384) and the plain marching cubes
("mc"); on the released model it also swaps in the lighter turbo VAE
(``hunyuan3d-vae-v2-0-turbo``) unless called with ``replace_vae=False``. Here the
pipeline is built from the folder, so the VAE is the folder's: ``--vae v2-0`` (the
default; the decoder the brief compares) or ``--vae v2-0-turbo`` (what the demo app
decodes with). Both sides use the same VAE. The release's pipeline is driven through
its own ``__call__`` for image, conditioner and sampling, and through its
``volume_decoder`` and ``surface_extractor`` with the arguments ``latents2mesh`` passes.

hy3dgen 2.0.2 loads the conditioner with a plain ``load_state_dict``, which under
transformers 5 does not accept the released (transformers 4) DINOv2 names; its side
renames them as transformers' ``from_pretrained`` would and otherwise builds the
pipeline exactly as ``from_single_file`` does.

    python bench/bench_shape_job.py --work-dir /var/tmp/hy3d-bench [--setting release|turbo]
        [--rounds 2] [--timed-steps 2] [--decode-every 10] [--sides ...] [--full-job]
    python bench/bench_shape_job.py --work-dir /tmp/q --quick   # small networks, seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_shape import analytic_field  # noqa: E402
from interleaved import (  # noqa: E402
    in_subprocess,
    interleave,
    load_average,
    machine_header,
    spread,
)
from random_weights import fill_random_  # noqa: E402

SIDES = ("hy3dgen", "ours-float32", "ours-bfloat16")
REFERENCE = "hy3dgen"
BOUNDS = 1.01
NUM_CHUNKS = 8000
MC_LEVEL = 0.0
STAGES = ("image", "conditioner", "dit step", "vae", "decode", "mc")
DECODE_KEYS = ("vae", "decode", "mc", "decode_points", "decode_calls", "decoded_points", "faces")


@dataclass(frozen=True)
class JobSetting:
    """A released way to run the job: which DiT layout, how many steps, what guidance
    (the turbo and fast DiTs embed the guidance instead of a second batch row)."""

    dit_preset: str
    steps: int
    guidance: float


SETTINGS = {
    "release": JobSetting("v2-0", steps=50, guidance=5.0),
    "turbo": JobSetting("v2-0-fast", steps=5, guidance=5.0),
}


# ----- the model folder --------------------------------------------------------------


def _configs(setting: JobSetting, vae_preset: str, quick: bool):
    from hy3d_core.models.conditioner_config import CONDITIONER_PRESETS
    from hy3d_core.models.dit_config import DIT_PRESETS
    from hy3d_core.models.shape_vae_config import VAE_PRESETS

    dit, vae = DIT_PRESETS[setting.dit_preset], VAE_PRESETS[vae_preset]
    conditioner = CONDITIONER_PRESETS["dinov2-giant"]
    if quick:
        dit = dataclasses.replace(dit, context_in_dim=64, hidden_size=64, num_heads=4, depth=1,
                                  depth_single_blocks=1, axes_dim=(16,))
        vae = dataclasses.replace(vae, width=64, heads=4, num_decoder_layers=1)
        conditioner = dataclasses.replace(conditioner, dinov2=dataclasses.replace(
            conditioner.dinov2, hidden_size=64, num_hidden_layers=1, num_attention_heads=2))
    return dit, vae, conditioner


def model_folder(work_dir: Path, setting_name: str, vae_preset: str, quick: bool) -> Path:
    """The random model for a setting, written once (released layout, float16; the
    writer holds the serialised file in memory, so writing peaks near 10 GB)."""
    from hy3d_core.io.shape_checkpoint_writer import write_shape_model
    from hy3d_core.models.conditioner import ImageConditioner
    from hy3d_core.models.dit import HunyuanDiT
    from hy3d_core.models.shape_vae import ShapeVAE

    setting = SETTINGS[setting_name]
    name = f"{'quick-' if quick else ''}{setting.dit_preset}-vae-{vae_preset}"
    folder = work_dir / name
    if (folder / "config.yaml").exists() and (folder / "model.fp16.safetensors").exists():
        return folder
    dit_config, vae_config, conditioner_config = _configs(setting, vae_preset, quick)
    print(f"writing random full-size weights to {folder} (once)", file=sys.stderr, flush=True)
    # Built in float16, the file's dtype: a float32 copy of 2.4 B parameters next to the
    # serialised file would need over 20 GB.
    with torch.device("meta"):
        dit, vae = HunyuanDiT(dit_config).half(), ShapeVAE(vae_config).half()
        conditioner = ImageConditioner(conditioner_config).half()
    write_shape_model(folder, dit=fill_random_(dit, 1), vae=fill_random_(vae, 2),
                      conditioner=fill_random_(conditioner, 3))
    return folder


# ----- the surface the decoders refine around ----------------------------------------


class SurfaceDrivenDecoding:
    """Counts a volume decoder's calls; runs the real decoder on every ``every``-th call
    (timed) and answers every call with the analytic field (see the module docstring)."""

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError(f"--decode-every must be at least 1, got {every}")
        self.every = every
        self.calls = self.points = self.real_calls = self.real_points = 0
        self.real_seconds = self.analytic_seconds = 0.0

    def __call__(self, points: torch.Tensor, run_decoder: Callable[[], object]) -> torch.Tensor:
        count = points.shape[0] * points.shape[1]
        if self.calls % self.every == 0:
            start = time.perf_counter()
            run_decoder()
            self.real_seconds += time.perf_counter() - start
            self.real_calls += 1
            self.real_points += count
        self.calls += 1
        self.points += count
        start = time.perf_counter()
        logits = analytic_field(points.float(), None)
        self.analytic_seconds += time.perf_counter() - start
        return logits

    def decode_seconds(self, wall: float) -> float:
        """The traversal's own time plus the decoder's time per point over all points."""
        traversal = wall - self.real_seconds - self.analytic_seconds
        return traversal + self.real_seconds * self.points / max(self.real_points, 1)

    def summary(self) -> dict[str, Any]:
        return {"decode_calls": self.calls, "decode_points": self.points,
                "decoded_calls": self.real_calls, "decoded_points": self.real_points}


class _DrivenReferenceDecoder:
    """Stands in for hy3dgen's ``geo_decoder`` inside its FlashVDM volume decoder."""

    def __init__(self, decoder: torch.nn.Module, driven: SurfaceDrivenDecoding) -> None:
        self.decoder, self.driven = decoder, driven

    def set_cross_attention_processor(self, processor) -> None:
        self.decoder.set_cross_attention_processor(processor)

    def __call__(self, queries: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        logits = self.driven(queries, lambda: self.decoder(queries=queries, latents=latents))
        return logits[..., None].to(latents.dtype)


# ----- one side, in its own process --------------------------------------------------


def _input_image() -> np.ndarray:
    """A 512-pixel RGBA object (a shaded disc with a bar) on a transparent background."""
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float32)
    inside = ((xx - 256) ** 2 + (yy - 240) ** 2 < 150**2) | ((abs(xx - 256) < 40) & (yy > 300) & (yy < 470))
    rgba = np.zeros((512, 512, 4), np.uint8)
    rgba[..., 0] = (80 + xx / 4).astype(np.uint8)
    rgba[..., 1] = (60 + yy / 3).astype(np.uint8)
    rgba[..., 2] = 150
    rgba[..., 3] = np.where(inside, 255, 0)
    return rgba


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _CallTimes:
    """Wall time of each forward call of a module (forward hooks)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.seconds: list[float] = []
        self._start = 0.0
        module.register_forward_pre_hook(self._before)
        module.register_forward_hook(self._after)

    def _before(self, *_: object) -> None:
        self._start = time.perf_counter()

    def _after(self, *_: object) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def _timed(record: dict[str, Any], stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = function(*args, **kwargs)
        record[stage] = time.perf_counter() - start
        return result

    return run


def _after_load(record: dict[str, Any]) -> None:
    """Note the memory after loading, then restart the peak count (Linux's clear_refs),
    so that ``peak_rss_mb`` is the job's peak, not the loader's."""
    record["rss_after_load_mb"] = _memory_mb("VmRSS")
    record["load_peak_mb"] = _memory_mb("VmHWM")
    Path("/proc/self/clear_refs").write_text("5")


def _sampling_record(record: dict[str, Any], calls: _CallTimes, loop_seconds: float) -> None:
    """The first DiT call (it also builds oneDNN's kernels) apart from the steady ones."""
    record["dit_first"] = calls.seconds[0]
    record["dit_calls"] = calls.seconds[1:] or calls.seconds
    record["dit step"] = statistics.median(record["dit_calls"])
    record["sampler_per_step"] = max(loop_seconds - sum(calls.seconds), 0.0) / len(calls.seconds)


def run_ours(folder: Path, dtype: torch.dtype, setting: JobSetting, steps: int, every: int,
             resolution: int, decode: bool) -> dict[str, Any]:
    from hy3d_core.geometry.volume_decoding import decode_flashvdm, flashvdm_top_k
    from hy3d_core.image.prepare import prepare_image
    from hy3d_core.io.shape_checkpoints import load_shape_model
    from hy3d_core.pipelines.shape import (
        SamplingSettings,
        SurfaceSettings,
        encode_images,
        grid_to_meshes,
        latent_field,
        sample_latents,
    )

    record: dict[str, Any] = {}
    model = _timed(record, "load", load_shape_model)(folder, dtype=dtype)
    _after_load(record)
    configs = model.configs
    prepared = _timed(record, "image", prepare_image)(
        _input_image(), size=configs.image_size, border_ratio=configs.border_ratio)
    context = _timed(record, "conditioner", encode_images)(model.conditioner, prepared.tensor)
    calls = _CallTimes(model.dit)
    settings = SamplingSettings(steps=steps, guidance=setting.guidance, seed=0)
    start = time.perf_counter()
    latents = sample_latents(model.dit, context, configs.num_latents, settings)
    _sampling_record(record, calls, time.perf_counter() - start)
    if not decode:
        return record
    field = _timed(record, "vae", latent_field)(model.vae, latents)
    driven = SurfaceDrivenDecoding(every)
    top_k = flashvdm_top_k(configs.num_latents)
    start = time.perf_counter()
    grid = decode_flashvdm(
        lambda points, k: driven(points, lambda: field(points, k)),
        batch_size=1, resolution=resolution, top_k=top_k, bounds=BOUNDS, num_chunks=NUM_CHUNKS,
        surface_level=MC_LEVEL, device="cpu", dtype=next(model.vae.parameters()).dtype,
    )
    record["decode"] = driven.decode_seconds(time.perf_counter() - start)
    record.update(driven.summary())
    surface = SurfaceSettings(mc_level=MC_LEVEL, postprocess=False)
    meshes = _timed(record, "mc", grid_to_meshes)(grid, surface, BOUNDS)
    record["faces"] = len(meshes[0].faces)
    return record


def _reference_pipeline(folder: Path, dtype: torch.dtype):
    """hy3dgen's pipeline built as its ``from_single_file`` builds it (see the module
    docstring for the DINOv2 names), with FlashVDM enabled on the folder's VAE."""
    import yaml
    from safetensors.torch import load_file

    from hy3d_core.io.dinov2_layout import to_split_layout, uses_split_layout
    from oracle import import_oracle

    pipelines = import_oracle("hy3dgen.shapegen.pipelines")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in load_file(str(folder / "model.fp16.safetensors")).items():
        part, _, rest = key.partition(".")
        parts.setdefault(part, {})[rest] = value
    model = pipelines.instantiate_from_config(config["model"])
    model.load_state_dict(parts["model"])
    vae = pipelines.instantiate_from_config(config["vae"])
    vae.load_state_dict(parts["vae"])
    conditioner = pipelines.instantiate_from_config(config["conditioner"])
    state = parts["conditioner"]
    if uses_split_layout(conditioner.state_dict()):
        state = {key: load() for key, load in
                 to_split_layout((key, (lambda value=value: value)) for key, value in state.items())}
    conditioner.load_state_dict(state)
    pipeline = pipelines.Hunyuan3DDiTFlowMatchingPipeline(
        vae=vae, model=model, conditioner=conditioner,
        scheduler=pipelines.instantiate_from_config(config["scheduler"]),
        image_processor=pipelines.instantiate_from_config(config["image_processor"]),
        device="cpu", dtype=dtype,
        from_pretrained_kwargs={"model_path": str(folder), "use_safetensors": True},
    )
    pipeline.enable_flashvdm(replace_vae=False, mc_algo="mc")
    decoder = type(pipeline.vae.volume_decoder).__name__
    if decoder != "FlashVDMVolumeDecoding":
        raise RuntimeError(f"hy3dgen's enable_flashvdm installed {decoder}, not FlashVDM")
    return pipeline


def run_reference(folder: Path, setting: JobSetting, steps: int, every: int,
                  resolution: int, decode: bool) -> dict[str, Any]:
    from PIL import Image

    record: dict[str, Any] = {}
    pipeline = _timed(record, "load", _reference_pipeline)(folder, torch.float32)
    _after_load(record)
    pipeline.prepare_image = _timed(record, "image", pipeline.prepare_image)
    pipeline.encode_cond = _timed(record, "conditioner", pipeline.encode_cond)
    calls = _CallTimes(pipeline.model)
    start = time.perf_counter()
    latents = pipeline(
        image=Image.fromarray(_input_image(), "RGBA"), num_inference_steps=steps,
        guidance_scale=setting.guidance, generator=torch.Generator().manual_seed(0),
        output_type="latent", enable_pbar=False,
    )
    loop = time.perf_counter() - start - record["image"] - record["conditioner"]
    _sampling_record(record, calls, loop)
    if not decode:
        return record
    # What _export and latents2mesh do, stage by stage, with the arguments they pass.
    export = dict(bounds=BOUNDS, mc_level=MC_LEVEL, num_chunks=NUM_CHUNKS,
                  octree_resolution=resolution, mc_algo="mc", enable_pbar=False)
    vae = pipeline.vae
    from hy3dgen.shapegen.pipelines import export_to_trimesh

    with torch.inference_mode():
        decoded = _timed(record, "vae", vae)(latents / vae.scale_factor)
        driven = SurfaceDrivenDecoding(every)
        start = time.perf_counter()
        grid = vae.volume_decoder(decoded, _DrivenReferenceDecoder(vae.geo_decoder, driven),
                                  **export)
        record["decode"] = driven.decode_seconds(time.perf_counter() - start)
        record.update(driven.summary())
        start = time.perf_counter()
        meshes = export_to_trimesh(vae.surface_extractor(grid, **export))
        record["mc"] = time.perf_counter() - start
    record["faces"] = len(meshes[0].faces)
    return record


def run_side(side: str, folder: Path, setting: JobSetting, steps: int, every: int,
             resolution: int, threads: int | None, decode: bool) -> dict[str, Any]:
    if threads:
        torch.set_num_threads(threads)
    if side == REFERENCE:
        record = run_reference(folder, setting, steps, every, resolution, decode)
    else:
        dtype = getattr(torch, side.removeprefix("ours-"))
        record = run_ours(folder, dtype, setting, steps, every, resolution, decode)
    record["peak_rss_mb"] = _memory_mb("VmHWM")
    return record


# ----- the table ---------------------------------------------------------------------


def job_seconds(record: dict[str, Any], steps: int) -> float:
    sampling = (record["dit_first"] + (steps - 1) * record["dit step"]
                + steps * record["sampler_per_step"])
    return (record["image"] + record["conditioner"] + sampling + record["vae"]
            + record["decode"] + record["mc"])


def print_tables(samples: dict[str, list[dict[str, Any]]], setting: JobSetting,
                 composed: bool) -> None:
    names = [REFERENCE, *(side for side in samples if side != REFERENCE)]
    names = [name for name in names if name in samples]
    for records in samples.values():
        for record in records:
            record["job"] = job_seconds(record, setting.steps)
    rows = [*STAGES[:2], "dit_first", *STAGES[2:], "job"]
    print(f"\n{'composed' if composed else 'measured'} job: {setting.steps} steps, guidance "
          f"{setting.guidance}; per stage: median (min-max) over runs, seconds")
    print("| stage | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for stage in rows:
        cells = []
        for name in names:
            values = ([t for r in samples[name] for t in r["dit_calls"]] if stage == "dit step"
                      else [r[stage] for r in samples[name]])
            cell = spread(values).describe("s")
            if name != REFERENCE and REFERENCE in samples:
                reference = [r[stage] for r in samples[REFERENCE]] if stage != "dit step" else \
                    [t for r in samples[REFERENCE] for t in r["dit_calls"]]
                cell += f", {statistics.median(reference) / statistics.median(values):.2f}x"
            cells.append(cell)
        label = {"dit step": f"dit step ({setting.steps - 1} x)",
                 "dit_first": "first dit step"}.get(stage, stage)
        print(f"| {label} | " + " | ".join(cells) + " |")
    for key in ("load", "rss_after_load_mb", "load_peak_mb", "peak_rss_mb", "decode_points",
                "decode_calls",
                "decoded_points", "faces"):
        cells = [f"{statistics.median(r[key] for r in samples[name]):,.0f}" for name in names]
        print(f"| {key} | " + " | ".join(cells) + " |")
    print(f"# load average at end {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True,
                        help="cache for the random model folders (about 5 GB each)")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="release")
    parser.add_argument("--vae", choices=["v2-0", "v2-0-turbo"], default="v2-0")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timed-steps", type=int, default=2,
                        help="sampler steps actually run per side (the job is composed)")
    parser.add_argument("--decode-every", type=int, default=10,
                        help="run the geometry decoder on every N-th FlashVDM call")
    parser.add_argument("--octree-resolution", type=int, default=384)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--full-job", action="store_true",
                        help="run every step and every decoder call (about an hour in float32)")
    parser.add_argument("--quick", action="store_true",
                        help="small networks, to check the script in seconds")
    parser.add_argument("--json", type=Path, help="also write every side's records here")
    parser.add_argument("--decode-from", type=Path,
                        help="a --json file of a release run: take vae, decode and mc from it "
                             "and run only image, conditioner and sampling (the turbo setting "
                             "decodes with the same VAE, so its decode is the same work)")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    setting = SETTINGS[args.setting]
    steps = setting.steps if args.full_job else min(args.timed_steps, setting.steps)
    every = 1 if args.full_job else args.decode_every
    if args.side:
        record = run_side(args.side, args.folder, setting, steps, every,
                          args.octree_resolution, args.threads, args.decode_from is None)
        print(json.dumps(record))
        return
    args.work_dir.mkdir(parents=True, exist_ok=True)
    folder = model_folder(args.work_dir, args.setting, args.vae, args.quick)
    print(machine_header())
    print(f"# {folder.name}: setting {args.setting}, octree {args.octree_resolution}, "
          f"{steps} sampler steps run per side, decoder on every {every}. call, "
          f"{args.rounds} round(s), sides in alternating order")
    command = [sys.executable, __file__, "--work-dir", str(args.work_dir), "--setting",
               args.setting, "--timed-steps", str(steps), "--decode-every", str(every),
               "--octree-resolution", str(args.octree_resolution), "--folder", str(folder)]
    if args.full_job:
        command.append("--full-job")
    if args.threads:
        command += ["--threads", str(args.threads)]
    if args.decode_from:
        command += ["--decode-from", str(args.decode_from)]
        print(f"# vae, decode and mc taken from {args.decode_from}, not run here")
    sides = {side: in_subprocess([*command, "--side", side]) for side in args.sides}

    def report(side: str, record: dict[str, Any]) -> None:
        print(f"# {side}: step {record['dit step']:.2f} s, "
              f"peak {record['peak_rss_mb']:,.0f} MB", flush=True)

    samples = interleave(sides, args.rounds, on_sample=report)
    if args.json:
        args.json.write_text(json.dumps({"setting": args.setting, "samples": samples}))
    if args.decode_from:
        decoded = json.loads(args.decode_from.read_text())["samples"]
        for side, records in samples.items():
            for index, record in enumerate(records):
                source = decoded[side][index % len(decoded[side])]
                record.update({key: source[key] for key in DECODE_KEYS})
    print_tables(samples, setting, composed=not args.full_job)


if __name__ == "__main__":
    main()
