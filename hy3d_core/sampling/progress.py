"""Progress reporting and cancellation for long loops.

Sampling and volume decoding run for seconds to minutes. The CLI draws a bar, ComfyUI
drives its ProgressBar and honours its interrupt button, tests count steps: all of them
plug in through this one object, so the loops never read globals or import a front end.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable


class Cancelled(Exception):
    """The caller asked to stop; raised between units of work, never in the middle of one."""


@dataclass
class Progress:
    """What a long loop reports to and asks permission from.

    ``callback(done, total)`` is told after each unit of work; ``should_cancel()`` is asked
    at the same moments, so a stop request takes effect before the next unit starts.
    """

    callback: Callable[[int, int], None] | None = None
    should_cancel: Callable[[], bool] | None = None

    def step(self, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` units are finished, then honour a stop request."""
        if self.callback is not None:
            self.callback(done, total)
        self.raise_if_cancelled()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` when the caller asked to stop."""
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled("stopped because the caller asked to cancel")


class StderrBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second (the
    command line's and the tools' ``Progress`` callback)."""

    def __init__(self, label: str):
        self.label = label
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.drawn < 0.1:
            return
        self.drawn = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(
            f"\r{self.label:<22} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
            f"{now - self.started:6.1f}s"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
