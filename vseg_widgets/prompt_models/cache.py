"""Frame embeddings of an image prompt model: cached per frame, bounded in bytes, and
computed in the background when asked for ahead of a click.

The player asks for the shown frame's embedding while it rests on a frame
(:meth:`EmbeddingCache.prefetch`), so that a click there costs only the decoder. A prompt
on a frame whose embedding is not ready computes it (:meth:`EmbeddingCache.get`), or waits
for the background computation already under way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

DEFAULT_MAX_BYTES = 128 * 2**20  # 32 frames of the shipped model's 4 MiB embeddings


def _nbytes(embedding: Any) -> int:
    return int(getattr(embedding, "nbytes", 0))


class EmbeddingCache:
    """Embeddings of one video's frames, least recently used first out.

    Args:
        embed: frame index -> embedding (the model's ``embed`` of that frame's image).
        max_bytes: bound on the embeddings held (their ``nbytes``); the most recent one is
            always kept, even if it alone is larger.
    """

    def __init__(self, embed: Callable[[int], Any], max_bytes: int = DEFAULT_MAX_BYTES):
        self._embed = embed
        self.max_bytes = int(max_bytes)
        self._done: OrderedDict[int, Any] = OrderedDict()
        self._errors: dict[int, BaseException] = {}
        self._wanted: list[int] = []  # asked for in the background, newest last
        self._running: set[int] = set()
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self.computed = 0  # embeddings computed so far (for tests and benchmarks)

    @property
    def nbytes(self) -> int:
        """Bytes of the embeddings held now."""
        with self._cond:
            return sum(_nbytes(e) for e in self._done.values())

    def ready(self, frame: int) -> bool:
        """True when ``frame``'s embedding is cached (a prompt there costs only the decoder)."""
        with self._cond:
            return frame in self._done

    def pending(self, frame: int) -> bool:
        """True while ``frame``'s embedding is asked for or being computed."""
        with self._cond:
            return frame in self._running or frame in self._wanted

    def prefetch(self, frame: int) -> None:
        """Compute ``frame``'s embedding in the background unless it is cached or under way.

        The newest request goes first: the frame a person now looks at matters more than
        the one they scrubbed past. Requests beyond the few newest are dropped.
        """
        with self._cond:
            if frame in self._done or frame in self._running:
                return
            if frame in self._wanted:
                self._wanted.remove(frame)
            self._wanted.append(frame)
            del self._wanted[:-4]
            if self._worker is None:
                # Not a daemon: onnxruntime aborts the process if the interpreter exits under
                # a running inference, so exiting waits for the one under way (about a second).
                self._worker = threading.Thread(target=self._work, name="vseg-embed")
                self._worker.start()
            self._cond.notify_all()

    def get(self, frame: int) -> Any:
        """``frame``'s embedding: cached, awaited if under way, else computed here."""
        with self._cond:
            while True:
                if frame in self._done:
                    self._done.move_to_end(frame)
                    return self._done[frame]
                if frame in self._errors:
                    raise self._errors.pop(frame)
                if frame not in self._running:
                    break
                self._cond.wait()
            if frame in self._wanted:
                self._wanted.remove(frame)
            self._running.add(frame)
        return self._compute(frame, reraise=True)

    def clear(self) -> None:
        """Drop every embedding (requests under way still finish and are kept)."""
        with self._cond:
            self._done.clear()
            self._wanted.clear()
            self._errors.clear()

    # -- internals -------------------------------------------------------------------------
    def _compute(self, frame: int, reraise: bool) -> Any:
        try:
            embedding = self._embed(frame)
        except BaseException as exc:
            with self._cond:
                self._running.discard(frame)
                if not reraise:
                    self._errors[frame] = exc  # raised by the get() that wants it
                self._cond.notify_all()
            if reraise:
                raise
            return None
        with self._cond:
            self._running.discard(frame)
            self._done[frame] = embedding
            self._done.move_to_end(frame)
            self.computed += 1
            total = sum(_nbytes(e) for e in self._done.values())
            while total > self.max_bytes and len(self._done) > 1:
                _, dropped = self._done.popitem(last=False)
                total -= _nbytes(dropped)
            self._cond.notify_all()
        return embedding

    def _work(self) -> None:
        """The background worker: computes asked-for frames, newest first; ends when idle."""
        while True:
            with self._cond:
                if not self._wanted:
                    self._worker = None
                    return
                frame = self._wanted.pop()
                self._running.add(frame)
            self._compute(frame, reraise=False)


_AHEAD_POOL: ThreadPoolExecutor | None = None
_AHEAD_LOCK = threading.Lock()


def _ahead_pool() -> ThreadPoolExecutor:
    """One background thread for every session's look-ahead embeddings: they share the
    CPU anyway, and an idle pool per session would hold a thread each."""
    global _AHEAD_POOL
    with _AHEAD_LOCK:
        if _AHEAD_POOL is None:
            _AHEAD_POOL = ThreadPoolExecutor(1, thread_name_prefix="vseg-ahead")
        return _AHEAD_POOL


class LookAhead:
    """Embeddings of the frames a propagation pass will re-anchor on, computed in the
    background two at a time (one encoder pass for both where the model can:
    :meth:`~.onnx_sam.OnnxSam.embed_pair`), before the pass gets there.

    Args:
        embed_pair: (first frame, second frame or None) -> (their two embeddings; the
            second None when there is no second frame).

    Each embedding is taken once (:meth:`take`); :meth:`clear` drops the rest, so at most
    the few asked for ahead are held.
    """

    def __init__(self, embed_pair: Callable[[int, int], tuple[Any, Any]]):
        self._embed_pair = embed_pair
        self._asked: dict[int, tuple[Future, int]] = {}  # frame -> (its pair's job, its place in the pair)

    def ask(self, first: int, second: int | None = None) -> None:
        """Start embedding ``first`` and ``second`` (if any) in the background."""
        job = _ahead_pool().submit(self._embed_pair, first, second)
        self._asked[first] = (job, 0)
        if second is not None:
            self._asked[second] = (job, 1)

    def asked(self) -> list[int]:
        """The frames asked for and not yet taken, in the order asked."""
        return list(self._asked)

    def take(self, frame: int) -> Any | None:
        """``frame``'s embedding, awaited if under way (raising what the model raised);
        None if it was not asked for."""
        entry = self._asked.pop(frame, None)
        if entry is None:
            return None
        job, place = entry
        return job.result()[place]

    def forget(self, frame: int) -> None:
        """Drop ``frame``'s embedding, asked for but not needed (its pair's job goes on)."""
        self._asked.pop(frame, None)

    def clear(self) -> None:
        """Forget every frame asked for; jobs not started yet are cancelled."""
        for job, _ in self._asked.values():
            job.cancel()
        self._asked.clear()
