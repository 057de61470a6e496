"""Where a propagated frame's milliseconds go: named wall-clock accumulators, off by default.

The tracker wraps each stage of a frame in ``with STAGES("flow"):`` and so on; while
:attr:`Stages.enabled` is False (always, outside the profile runs of
``benchmarks/bench_classic.py``) that costs a few hundred nanoseconds a stage. Stages must not nest: each
second is counted once, and what no stage claims is the frame's "other". Stages run in
worker threads too (:mod:`.workers`), where they overlap: a profile that adds up to the
frame's time is taken with ``TrackerConfig(threads=1)``.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager


class Stages:
    """Seconds spent per named stage since the last :meth:`reset`."""

    def __init__(self):
        self.enabled = False
        self.clock = time.perf_counter  # wall clock; time.thread_time to count CPU time only
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.seconds = {}

    @contextmanager
    def __call__(self, name: str):
        if not self.enabled:
            yield
            return
        start = self.clock()
        try:
            yield
        finally:
            elapsed = self.clock() - start
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + elapsed


#: The tracker's stages (one process-wide set: propagations are timed one at a time).
STAGES = Stages()
