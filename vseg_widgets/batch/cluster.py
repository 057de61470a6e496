"""The Dask client of a batch: the one given, one connected to a scheduler address, or a
LocalCluster sized to this machine. Dask is imported here, when a batch runs, not with
``import vseg_widgets``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from contextlib import contextmanager
from typing import Iterator

from ..errors import ClusterConnectError


def cores() -> int:
    """The CPU cores this process may use (its affinity, where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def local_cluster_kwargs(tasks: int) -> dict:
    """Arguments of the LocalCluster that ``client=None`` starts for ``tasks`` videos: one
    single-threaded worker process per core (no more workers than videos).

    Single-threaded processes because a video is one sequential propagation (frame t needs
    frame t-1) and the engines hold the GIL in places: the parallelism is across videos. The
    scheduler's web server takes a free port (8787, Dask's default, may be another
    cluster's); it draws the dashboard when bokeh is installed.
    """
    return {
        "n_workers": max(1, min(cores(), tasks)),
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
        "silence_logs": logging.ERROR,
    }


def local_cluster(n_workers: int | None = None, **kwargs):
    """A LocalCluster as ``client=None`` starts it, to share between several batch calls:
    ``n_workers`` single-threaded worker processes (default: one per core).

    Two settings differ from Dask's defaults, both for the engines' numpy and OpenCV work:
    the workers keep glibc's adaptive memory thresholds (Dask sets MALLOC_TRIM_THRESHOLD_,
    which makes every large array a fresh mmap: propagation ran about 1.4x slower so on a
    2-core machine), and the environment of *this* process is left as it was (Dask's
    nanny sets OMP_NUM_THREADS=1 and friends here too while it starts the workers).
    Other keyword arguments go to ``distributed.LocalCluster``. Close it with
    ``cluster.close()`` or use it in a ``with`` block.
    """
    import dask
    from distributed import LocalCluster

    options = local_cluster_kwargs(n_workers or cores())
    options.update(kwargs)
    before = dict(os.environ)
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # an earlier default cluster may have set it here
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            return LocalCluster(**options)
    finally:
        os.environ.clear()
        os.environ.update(before)


@contextmanager
def connect(client=None, tasks: int = 1) -> Iterator:
    """A ``distributed.Client`` for the duration of a batch.

    Args:
        client: a ``distributed.Client`` (used as is, left open), a cluster object such as a
            ``LocalCluster`` or a dask-jobqueue / dask-kubernetes cluster (a client is opened
            on it and closed after), a scheduler address such as ``"tcp://10.0.0.5:8786"``
            (connected to, closed after), or None: a LocalCluster of
            :func:`local_cluster_kwargs` started for the batch and shut down after it.
        tasks: how many videos will run (sizes the LocalCluster).

    Raises:
        ClusterConnectError: no scheduler answers at the address.
        TypeError: ``client`` is none of the above.
    """
    from distributed import Client

    if isinstance(client, Client):
        yield client
        return
    if client is None:
        with local_cluster(max(1, min(cores(), tasks))) as cluster, Client(cluster) as own:
            yield own
        return
    if isinstance(client, str):
        try:
            own = Client(client)
        except (OSError, TimeoutError) as exc:
            raise ClusterConnectError(
                f"no Dask scheduler answered at {client!r} ({exc}). Start one there (`dask scheduler`, "
                "then `dask worker <address>` on each machine), check the address and port (8786 by "
                "default), or pass client=None to run on a LocalCluster on this machine."
            ) from None
        with own:
            yield own
        return
    if hasattr(client, "scheduler_address"):  # a Cluster object
        with Client(client) as own:
            yield own
        return
    raise TypeError(
        f"client must be a distributed.Client, a Dask cluster, a scheduler address such as "
        f"'tcp://host:8786', or None for a LocalCluster; got {type(client).__name__}."
    )


def dashboard_link(client) -> str | None:
    """The Dask dashboard's address, or None when the scheduler serves none (its web server
    runs without bokeh too, but then has no dashboard pages)."""
    try:
        serves = "dashboard" in client.scheduler_info().get("services", {})
        draws = serves and client.run_on_scheduler(_has_bokeh)
    except Exception:  # a question that fails must not stop the batch
        return None
    return client.dashboard_link if draws else None


def _has_bokeh() -> bool:
    return importlib.util.find_spec("bokeh") is not None
