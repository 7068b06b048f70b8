"""One training loop for every job: AdamW, linear warm-up, gradient clipping, a loss log,
resumable checkpoints, progress/cancel, and data parallelism through torch.distributed.

A job hands over an *objective*: an ``nn.Module`` whose ``forward(batch, generator)``
returns a dict of scalar losses with a ``"total"`` entry. Running the loss inside
``forward`` is what lets DistributedDataParallel synchronise the gradients of whatever
networks the objective holds (VAE, DiT, conditioner) without a hand-written all-reduce.

Reproducibility: the random draws of step ``s`` on rank ``r`` come from a generator
seeded with ``(seed, r, s)`` and the batch order from ``DistributedSampler``'s per-epoch
permutation, so a run resumed from any checkpoint takes exactly the steps an
uninterrupted run takes.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler, default_collate

from ..io.atomic_files import write_failure
from ..io.checkpoint_files import CheckpointError
from ..sampling.progress import Cancelled, Progress

CHECKPOINT_NAME = "checkpoint.pt"
LOSS_LOG_NAME = "loss_log.csv"
CHECKPOINT_VERSION = 1
# Settings that may change when a run is resumed: they do not change what a step computes
# (``steps`` does when the learning rate decays; see ``_resume_state``).
_RESUMABLE_CHANGES = frozenset({"steps", "save_every"})


@dataclass(frozen=True)
class TrainingSettings:
    """Optimisation settings; ``batch_size`` is per process (as with torchrun)."""

    steps: int
    batch_size: int
    lr: float
    warmup_steps: int = 0
    final_lr_fraction: float = 1.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    save_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must not be negative, got {self.warmup_steps}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.final_lr_fraction <= 1.0:
            raise ValueError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}")
        if self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be positive, got {self.max_grad_norm}")

    def learning_rate(self, step: int) -> float:
        """Rate for the step that follows ``step`` finished steps: linear warm-up, then flat,
        or, with ``final_lr_fraction`` below 1, a cosine decay that reaches
        ``lr * final_lr_fraction`` at the last step (small models gain most of their final
        accuracy in that slow end)."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.final_lr_fraction == 1.0:
            return self.lr
        span = max(1, self.steps - 1 - self.warmup_steps)
        done = min(1.0, (step - self.warmup_steps) / span)
        cosine = 0.5 * (1 + math.cos(math.pi * done))
        return self.lr * (self.final_lr_fraction + (1 - self.final_lr_fraction) * cosine)


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place in data-parallel training (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls) -> "ProcessGroup":
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def writes_files(self) -> bool:
        return self.rank == 0


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The CPU generator for one step on one rank; independent across ranks and steps."""
    state = np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0]
    return torch.Generator("cpu").manual_seed(int(state))


class _BatchStream:
    """Batches as a function of the step number: the sampler's epochs laid end to end,
    so batches may straddle epochs and any dataset size works with any batch size."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, group: ProcessGroup):
        if len(dataset) == 0:
            raise ValueError("the training dataset is empty")
        self.dataset = dataset
        self.batch_size = batch_size
        self.sampler = DistributedSampler(dataset, num_replicas=group.world_size, rank=group.rank,
                                          shuffle=True, seed=seed, drop_last=False)
        self._epoch: int | None = None
        self._order: list[int] = []

    def _indices_of_epoch(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            self.sampler.set_epoch(epoch)
            self._order = list(self.sampler)
            self._epoch = epoch
        return self._order

    def batch(self, step: int) -> Any:
        per_epoch = len(self.sampler)
        items = []
        for position in range(step * self.batch_size, (step + 1) * self.batch_size):
            epoch, offset = divmod(position, per_epoch)
            items.append(self.dataset[self._indices_of_epoch(epoch)[offset]])
        return default_collate(items)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(value, device) for value in batch)
    return batch


def _save_atomically(payload: Mapping[str, Any], path: Path) -> None:
    """torch.save to a temporary sibling, then rename: a crash never leaves half a checkpoint,
    and a full disk or a read-only folder is one :class:`OutputWriteError` line."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        # Through a Python file, a failed write surfaces as the OSError it is (torch.save
        # given a path reports it as an opaque RuntimeError).
        with open(temporary, "xb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise write_failure(path, error) from error
    finally:
        temporary.unlink(missing_ok=True)


class _LossLog:
    """``loss_log.csv``: one row per step with every loss term, the rate and the seconds
    of training so far (including earlier sessions of a resumed run)."""

    def __init__(self, path: Path):
        self.path = path
        self.columns: list[str] | None = None

    def truncate_after(self, step: int) -> None:
        """Drop rows a crashed or cancelled session logged after its last checkpoint."""
        if not self.path.exists():
            return
        with open(self.path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return
        self.columns = rows[0]
        kept = [rows[0]] + [row for row in rows[1:] if int(row[0]) <= step]
        with open(self.path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(kept)

    def append(self, step: int, losses: Mapping[str, float], lr: float, seconds: float) -> None:
        columns = ["step", *losses, "lr", "seconds"]
        if self.columns is None:
            self.columns = columns
            with open(self.path, "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerow(columns)
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(
                [step, *(f"{value:.6g}" for value in losses.values()), f"{lr:.6g}", f"{seconds:.3f}"])


_CHECKPOINT_KEYS = ("version", "model", "optimizer", "step", "seconds", "torch_rng", "arguments")


def _load_checkpoint(path: Path) -> dict[str, Any]:
    """The saved state, read with ``weights_only=True``: tensors and plain containers only,
    so a planted or tampered ``checkpoint.pt`` can never run code on resume."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise CheckpointError(
            f"cannot resume: {path} is not a training checkpoint this pack can read safely "
            f"({_load_failure_reason(error)}); it may be damaged or hold objects other than "
            "tensors and plain values. Start a new run in another folder."
        ) from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"cannot resume: {path} is not a training checkpoint of this "
                              "version; start a new run in another folder")
    bad = [key for key in _CHECKPOINT_KEYS if key not in state]
    bad += [key for key, kind in (("torch_rng", torch.Tensor), ("arguments", dict))
            if key in state and not isinstance(state[key], kind)]
    if bad:
        raise CheckpointError(f"cannot resume: {path} is incomplete (missing or malformed: "
                              f"{', '.join(bad)}); start a new run in another folder")
    return state


def _load_failure_reason(error: Exception) -> str:
    """The first sentence of what torch.load says is wrong, without its advice to load the
    file unsafely (``weights_only=False``), which is never what a resume should do."""
    text = str(error)
    unpickler = "WeightsUnpickler error: "
    if unpickler in text:
        text = text.split(unpickler, 1)[1]
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first_line.split(". ", 1)[0].rstrip(".")


def _resume_state(path: Path, arguments: Mapping[str, Any]) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"cannot resume: {path} does not exist; start the run without "
                                "resume, or point at the folder of the run to continue")
    state = _load_checkpoint(path)
    saved = state["arguments"]
    # A decaying learning rate is spread over ``steps``: changing it changes every step.
    resumable = _RESUMABLE_CHANGES
    if saved.get("final_lr_fraction", 1.0) < 1.0:
        resumable = resumable - {"steps"}
    differences = {key: (saved.get(key), arguments.get(key))
                   for key in sorted(set(saved) | set(arguments))
                   if key not in resumable and saved.get(key) != arguments.get(key)}
    if differences:
        listing = ", ".join(f"{key}: saved {old!r}, now {new!r}"
                            for key, (old, new) in differences.items())
        allowed = " and ".join(sorted(resumable))
        raise ValueError(f"cannot resume {path} with different settings ({listing}); use the "
                         f"original settings (only {allowed} may change) or a new folder")
    return state


def run_training(
    objective: nn.Module,
    dataset: Dataset,
    run_dir: str | os.PathLike,
    settings: TrainingSettings,
    *,
    arguments: Mapping[str, Any],
    device: str | torch.device = "cpu",
    resume: bool = False,
    progress: Progress | None = None,
    find_unused_parameters: bool = False,
) -> int:
    """Train ``objective``'s parameters that require grad, in place; returns the last step.

    ``arguments`` are the job's own settings (plain values); they are saved in the
    checkpoint together with ``settings``, and a resume with different values is refused.
    Writes ``run_dir/checkpoint.pt`` every ``save_every`` steps, at the end and when
    ``progress`` asks to cancel (then :class:`Cancelled` is raised after saving). Under an
    initialised process group the objective is wrapped in DistributedDataParallel, each
    rank sees its share of the data, and only rank 0 writes files. ``find_unused_parameters``
    tells DistributedDataParallel that some trainable parameters may get no gradient in a
    step (it then looks for them every step).
    """
    device = torch.device(device)
    progress = progress if progress is not None else Progress()
    group = ProcessGroup.current()
    run_dir = Path(run_dir)
    checkpoint_path = run_dir / CHECKPOINT_NAME
    all_arguments = {**dict(arguments), **dataclasses.asdict(settings),
                     "world_size": group.world_size}
    if not resume and checkpoint_path.exists():
        raise FileExistsError(f"{run_dir} already holds a training run ({CHECKPOINT_NAME}); "
                              "resume it, or choose another output folder")

    objective.to(device)
    parameters = [parameter for parameter in objective.parameters() if parameter.requires_grad]
    if not parameters:
        raise ValueError("nothing to train: every parameter of the objective is frozen")
    optimizer = torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    step, seconds_before = 0, 0.0
    log = _LossLog(run_dir / LOSS_LOG_NAME)
    if resume:
        state = _resume_state(checkpoint_path, all_arguments)
        objective.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        step, seconds_before = state["step"], state["seconds"]
        if group.writes_files:
            log.truncate_after(step)
    if group.writes_files:
        run_dir.mkdir(parents=True, exist_ok=True)

    model = objective
    if group.distributed:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
            if device.type == "cuda" else None
        model = DistributedDataParallel(objective, device_ids=device_ids,
                                        find_unused_parameters=find_unused_parameters)
    batches = _BatchStream(dataset, settings.batch_size, settings.seed, group)
    started = time.monotonic()

    def save() -> None:
        if not group.writes_files:
            return
        _save_atomically({
            "version": CHECKPOINT_VERSION,
            "model": objective.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "seconds": seconds_before + time.monotonic() - started,
            "torch_rng": torch.get_rng_state(),
            "arguments": all_arguments,
        }, checkpoint_path)

    model.train()
    progress.raise_if_cancelled()
    while step < settings.steps:
        lr = settings.learning_rate(step)
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        batch = _to_device(batches.batch(step), device)
        losses = model(batch, step_generator(settings.seed, group.rank, step))
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
        optimizer.step()
        step += 1
        if group.writes_files:
            log.append(step, {name: value.item() for name, value in losses.items()}, lr,
                       seconds_before + time.monotonic() - started)
        if step % settings.save_every == 0 or step == settings.steps:
            save()
        try:
            progress.step(step, settings.steps)
        except Cancelled:
            save()
            raise
    objective.eval()
    return step
