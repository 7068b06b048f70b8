"""Child processes that never outlive the job that started them.

The xatlas children (``xatlas_worker.py``) run native code that may crash, hang or
grow without end. Waiting on them here is bounded in time, asks the job's ``Progress``
several times a second whether to stop (ComfyUI's Cancel reaches it), and kills every
child that is still running when the wait ends for any reason: a time-out, a cancel, an
error, Ctrl-C (``KeyboardInterrupt``) or ``SystemExit``. A parent killed outright
(SIGTERM, SIGKILL) runs no Python at all; for that the children ask Linux themselves to
be killed with their parent (``PR_SET_PDEATHSIG``, set in the worker).

Children write their error text to a file, not a pipe: a pipe that fills while nobody
reads it would stall a child, and reading pipes while polling is needless machinery.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from ..sampling.progress import Progress

POLL_SECONDS = 0.2


class ChildTimedOut(Exception):
    """The children were still running at their deadline (they have been killed)."""


@dataclass(frozen=True)
class ChildExit:
    """How one child ended: its exit status (negative: the signal that killed it) and
    the last line it wrote to stderr, if any."""

    returncode: int
    message: str


def run_children(commands: list[list[str]], *, deadline: float, progress: Progress | None = None,
                 on_poll: Callable[[], None] | None = None) -> list[ChildExit]:
    """Run ``commands`` side by side until all have ended, and say how each ended.

    ``deadline`` is a ``time.monotonic()`` moment; ``on_poll`` is called between polls
    (to report progress; it may raise to stop). Whatever ends the wait early, no child
    is left running.
    """
    processes: list[subprocess.Popen] = []
    error_files = [tempfile.TemporaryFile() for _ in commands]
    try:
        for command, errors in zip(commands, error_files):
            processes.append(subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=errors))
        for process in processes:
            while not _ended(process):
                if time.monotonic() > deadline:
                    raise ChildTimedOut
                if progress is not None:
                    progress.raise_if_cancelled()
                if on_poll is not None:
                    on_poll()
        exits = []
        for process, errors in zip(processes, error_files):
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            exits.append(ChildExit(process.returncode, lines[-1] if lines else ""))
        return exits
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait()
        for errors in error_files:
            errors.close()


def _ended(process: subprocess.Popen) -> bool:
    try:
        process.wait(timeout=POLL_SECONDS)
    except subprocess.TimeoutExpired:
        return False
    return True
