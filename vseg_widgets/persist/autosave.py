"""Autosave: write a Segmenter's session file every N seconds while its work changes.

The player runs one (``seg.player.autosave("work.vseg", every_s=60)``); it can be used on
its own too. A save happens on a tick only when a prompt, a mask or a label changed since
the last one, and never blocks the person's work: while a propagation runs (the Segmenter
is busy) the tick is skipped, and the next one saves.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from .atomic import check_output_path

DEFAULT_EVERY_S = 60.0


class Autosaver:
    """Save ``seg`` to ``path`` every ``every_s`` seconds when something changed.

    Args:
        seg: the Segmenter.
        path: the session file (written atomically: see :meth:`Segmenter.save`).
        every_s: seconds between ticks (> 0).
        on_error: called with the message when a save fails (the next tick tries again).
        on_saved: called with the time (``time.time()``) of each completed save.

    Raises:
        OutputPathError: ``path`` cannot be written (checked at once, not on the first tick).
        ValueError: ``every_s`` is not a positive number.

    Attributes:
        saves: how many saves completed; last_saved: time of the last one (None before);
        last_error: message of the last failure (None after a success).
    """

    def __init__(self, seg, path, every_s: float = DEFAULT_EVERY_S, on_error: Callable[[str], None] | None = None,
                 on_saved: Callable[[float], None] | None = None):
        every_s = float(every_s)
        if not every_s > 0:
            raise ValueError(f"autosave interval must be a positive number of seconds, got {every_s}.")
        self.seg, self.path, self.every_s = seg, check_output_path(path, "autosave"), every_s
        self.on_error, self.on_saved = on_error, on_saved
        self.saves, self.last_saved, self.last_error = 0, None, None
        self._dirty = True  # the first tick writes the file
        self._stop = threading.Event()
        self._save_lock = threading.Lock()  # a tick and a final flush never write at once
        seg.observe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="vseg-autosave", daemon=True)
        self._thread.start()

    def _on_event(self, event: str, **payload) -> None:
        if event in ("prompts", "masks", "labels"):
            self._dirty = True

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.save_if_changed()

    def save_if_changed(self, blocking: bool = False) -> bool:
        """Save now if anything changed since the last save; True if it saved. Without
        ``blocking`` it gives up (returns False) while the Segmenter is busy."""
        from . import save_session

        with self._save_lock:
            if not self._dirty:
                return False
            self._dirty = False  # before the snapshot: a change during the save marks it again
            state = self.seg._get_state(blocking=blocking)
            if state is None:  # busy (a propagation holds the Segmenter): next tick
                self._dirty = True
                return False
            try:
                save_session(self.seg, self.path, state=state)
            except Exception as exc:  # noqa: BLE001 - report, keep the thread alive, retry
                self._dirty = True
                self.last_error = f"autosave to {self.path} failed: {exc}"
                if self.on_error is not None:
                    self.on_error(self.last_error)
                return False
            self.saves += 1
            self.last_saved, self.last_error = time.time(), None
        if self.on_saved is not None:
            self.on_saved(self.last_saved)
        return True

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, flush: bool = True) -> None:
        """Stop ticking; with ``flush``, save what changed since the last save first."""
        self._stop.set()
        self._thread.join()
        try:
            self.seg.unobserve(self._on_event)
        except ValueError:
            pass
        if flush:
            self.save_if_changed(blocking=True)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Autosaver {state}: {Path(self.path)} every {self.every_s:g} s, {self.saves} saves>"
