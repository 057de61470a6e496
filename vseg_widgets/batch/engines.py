"""The engine of a batch: named on the client, built once per worker.

The client turns ``engine=`` into an :class:`EngineSpec` (small: a name, or the cloudpickle of
a factory or an instance, with a key that identifies it). Each worker keeps the engines it
built in :data:`_CACHE`, keyed by that key, so a worker builds an engine once for all the
videos it is given (the learned engine loads its ONNX model then), not once per video or
per frame. Sessions, one per video, are opened from that engine.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

from ..engines import ENGINES
from ..errors import BatchJobError

NAMES = (*ENGINES, "sam2")
MAX_CACHED = 4  # engines kept per worker (a worker serving several batches at once)


@dataclass(frozen=True)
class EngineSpec:
    """How a worker builds the engine: ``kind`` "name" (``payload`` the name), "factory" or
    "instance" (``payload`` the cloudpickle bytes). ``key`` identifies it in workers' caches;
    ``name`` is what the tables and output folders call it."""

    kind: str
    payload: object
    key: str
    name: str


def engine_spec(engine) -> EngineSpec:
    """The spec of ``engine=``: a name ("classic", "learned", "sam2"), a function or class
    building an Engine when called with no arguments (``functools.partial(LearnedEngine,
    cache_bytes=...)``), or an Engine instance (pickled once, sent with each video)."""
    if isinstance(engine, EngineSpec):
        return engine
    if isinstance(engine, str):
        if engine not in NAMES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {sorted(NAMES)} or pass an Engine instance or a function that builds one.")
        return EngineSpec("name", engine, f"name:{engine}", engine)
    is_instance = callable(getattr(engine, "init_session", None)) and not isinstance(engine, type)
    if not is_instance and not callable(engine):
        raise BatchJobError(
            f"engine must be a name {sorted(NAMES)}, an Engine instance or a function that builds one, "
            f"got {type(engine).__name__}."
        )
    import cloudpickle  # a dependency of distributed; pickles lambdas, closures and local classes

    try:
        payload = cloudpickle.dumps(engine)
    except Exception as exc:
        raise BatchJobError(
            f"cannot send the engine {_engine_name(engine)!r} to the workers: pickling it failed ({exc!r}). "
            "Pass a function that builds it on each worker instead, e.g. "
            "engine=functools.partial(MyEngine, weights='model.pt')."
        ) from None
    kind = "instance" if is_instance else "factory"
    return EngineSpec(kind, payload, f"{kind}:{hashlib.sha256(payload).hexdigest()}", _engine_name(engine))


def _engine_name(engine) -> str:
    target = engine
    while isinstance(target, functools.partial):
        target = target.func
    name = getattr(target, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(target, type) or callable(target) and hasattr(target, "__qualname__"):
        return target.__qualname__
    return type(target).__name__


# -- on the worker ------------------------------------------------------------------------------
_CACHE: OrderedDict[str, object] = OrderedDict()
_BUILDS: Counter = Counter()  # key -> engines built in this process (read by tests and benchmarks)
_LOCK = threading.Lock()


def engine_for(spec: EngineSpec):
    """The engine of ``spec`` in this process, built on first use (thread-safe)."""
    with _LOCK:
        engine = _CACHE.get(spec.key)
        if engine is not None:
            _CACHE.move_to_end(spec.key)
            return engine
        engine = _build(spec)
        _match_threads_to_worker()
        _CACHE[spec.key] = engine
        _BUILDS[spec.key] += 1
        while len(_CACHE) > MAX_CACHED:
            _CACHE.popitem(last=False)
        return engine


def builds() -> dict[str, int]:
    """{engine key: engines built in this process}; ``client.run(builds)`` asks every worker."""
    with _LOCK:
        return dict(_BUILDS)


def _build(spec: EngineSpec):
    from ..engines import get_engine

    if spec.kind == "name":
        return get_engine(spec.payload)
    import cloudpickle

    obj = cloudpickle.loads(spec.payload)
    engine = obj if spec.kind == "instance" else obj()
    return get_engine(engine)  # checks it is an engine (has init_session)


def _match_threads_to_worker() -> None:
    """Let OpenCV use as many threads as the worker has (Dask already sets OMP_NUM_THREADS and
    friends for its workers): two single-threaded workers on two cores then do not each
    start a pool of two. Outside a worker (no Dask, or a client-side thread) nothing changes."""
    try:
        from distributed import get_worker

        nthreads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return
    import cv2

    cv2.setNumThreads(max(1, int(nthreads)))
