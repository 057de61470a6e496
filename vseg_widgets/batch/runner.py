"""Running one task per video on a Dask cluster: submit, stream the results in as videos
finish, keep going past failures, show progress.

Every task function returns a *record* (a dict with at least ``name`` and ``status``, "done"
or "failed"): a task catches its own exceptions, so a failing video is a record with its
error, not a lost batch. A worker that dies under a task (killed, out of memory) surfaces as
the future's exception and becomes a failed record here.
"""

from __future__ import annotations

import socket
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass
from typing import Callable

from .cluster import connect, dashboard_link


@dataclass(frozen=True)
class Task:
    """One video's work: ``function(*args)`` on a worker, returning a record."""

    name: str
    function: Callable
    args: tuple


def run_tasks(tasks: list[Task], client, on_record: Callable[[dict], None], *, desc: str, done: int = 0, progress: bool = True) -> bool:
    """Run ``tasks`` on the cluster of ``client`` (see :func:`~.cluster.connect`), calling
    ``on_record(record)`` on this side as each finishes, in the order they finish.

    Args:
        done: videos already finished (resumed from ``out``), counted in the progress bar.

    Returns:
        True when every task ran; False when interrupted (Ctrl-C): the tasks still
        queued are cancelled, the records already handed to ``on_record`` stay.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks) + done, initial=done, desc=desc, unit="video", disable=not progress)
    failed = 0
    try:
        if not tasks:
            return True
        with connect(client, tasks=len(tasks)) as dask_client:
            link = dashboard_link(dask_client)
            if link and progress:
                print(f"Dask dashboard: {link}")
            from distributed import as_completed

            run = uuid.uuid4().hex[:8]
            futures = {
                dask_client.submit(task.function, *task.args, key=f"vseg-{desc}-{task.name}-{run}", pure=False, retries=0): task
                for task in tasks
            }
            try:
                for future in as_completed(futures):
                    task = futures[future]
                    record = _record_of(future, task)
                    future.release()
                    failed += record["status"] == "failed"
                    on_record(record)
                    bar.update()
                    if failed:
                        bar.set_postfix(failed=failed)
            except KeyboardInterrupt:
                dask_client.cancel(list(futures))
                warnings.warn(
                    f"{desc} interrupted: {bar.n} of {bar.total} videos finished; run it again with the "
                    "same out to compute the others.",
                    stacklevel=3,
                )
                return False
            except BaseException:
                dask_client.cancel(list(futures))
                raise
    finally:
        bar.close()
    return True


def _record_of(future, task: Task) -> dict:
    """The task's record, or a failed record when the task never returned (its worker died)."""
    if future.status == "error":
        exc = future.exception()
        return failed_record(task.name, exc, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    if future.status == "cancelled":
        return failed_record(task.name, RuntimeError("the task was cancelled (the worker or scheduler went away)"), "")
    return future.result()


def failed_record(name: str, exc: BaseException, tb: str, **extra) -> dict:
    """The record of a video that failed with ``exc``."""
    return {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": tb, **extra}


def on_worker(name: str, work: Callable[[], dict]) -> dict:
    """Run ``work()`` inside a task: its record plus where and how long it ran, or the failed
    record of its exception (the batch goes on)."""
    start = time.perf_counter()
    where = _worker_address()
    try:
        record = {"name": name, "status": "done", "error": None, "traceback": None, **work()}
    except Exception as exc:
        record = failed_record(name, exc, traceback.format_exc())
    record["seconds"] = time.perf_counter() - start
    record["worker"] = where
    return record


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return socket.gethostname()
