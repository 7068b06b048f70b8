"""Joining torchrun's process group, and stopping a run cleanly on Ctrl-C.

Under ``torchrun --nproc_per_node N`` every process reads its rank from the environment
(``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``); a single process runs as rank 0 of 1 without
any process group.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.distributed as dist


def is_main_process() -> bool:
    """Rank 0 (or no torchrun at all): the process that writes files and reports."""
    return int(os.environ.get("RANK", "0")) == 0


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """Ctrl-C asks the trainer to stop after the current step (it saves first); a second
    Ctrl-C stops at once."""
    requested = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(requested)
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def process_group(device_name: str) -> Iterator[str]:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1; yields the device to use
    (this process's own GPU under CUDA)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        yield device_name
        return
    use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device_name = f"cuda:{local_rank}"
    elif device_name == "auto":
        device_name = "cpu"
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        yield device_name
    finally:
        dist.destroy_process_group()
