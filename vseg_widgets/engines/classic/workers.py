"""Threads that share a frame's work: the flow and the views, the cues, the objects' steps.

Almost everything the tracker does is NumPy and OpenCV calls on arrays of a view's size,
which run on one core each and release the GIL while they run. Measured on a 2-core
machine, one object's propagation kept one core busy; the other did no useful work. So,
with :attr:`.tracker.TrackerConfig.threads` above 1, a frame's work is shared:

- the "flow" worker computes the *next* frame's shared flow (it needs only the two images,
  not this frame's masks, :meth:`.shared.SharedFlow.start`) while this frame's objects are
  tracked; then, once this frame's masks are known, each object's next view: the frame
  prepared for it and its flow (:meth:`.tracker.ClassicSession._ask_ahead`); then it
  decodes the frame after next;
- the "cues" worker computes, while a step gathers the rest of its evidence, the cues that
  need only the frames and the warped mask: the local colour models, the colour posterior
  and the motion cue, the texture features, the guided filter's guide (:func:`soon`);
- the objects' steps, and their classifiers' fits when a pass starts, are spread over the
  calling thread and ``threads - 1`` "step" workers.

The results are those of the sequential run: the workers compute the same functions of the
same inputs, and what depends on all objects (competition for pixels, the search for lost
ones) waits for every step. No task waits for a task queued behind it in its own worker.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

_lock = threading.Lock()
_pools: dict[tuple[int, str, int], ThreadPoolExecutor] = {}


def pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's executor called ``name`` with ``workers`` threads, made on first use
    (and made again in a forked child, whose parent's threads did not come with it)."""
    key = (os.getpid(), name, workers)
    with _lock:
        executor = _pools.get(key)
        if executor is None:
            executor = _pools[key] = ThreadPoolExecutor(workers, thread_name_prefix=f"vseg-{name}")
        return executor


def soon(executor: ThreadPoolExecutor | None, work, *args) -> Future:
    """``work(*args)`` as a future: run by ``executor``, or at once in this thread when it is None."""
    if executor is not None:
        return executor.submit(work, *args)
    done = Future()
    done.set_result(work(*args))
    return done
