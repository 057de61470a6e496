"""Many videos on a Dask cluster: batch propagation and DAVIS evaluation.

    import vseg_widgets as vw
    ev = vw.batch.evaluate_davis("DAVIS/", engine="classic")           # a LocalCluster, one worker per core
    ev = vw.batch.evaluate_davis("DAVIS/", client="tcp://10.0.0.5:8786")  # a running Dask cluster
    table = vw.batch.propagate([vw.batch.Job("a.mp4", "a.vseg"), ...], out="masks/")

The same call runs on a ``LocalCluster`` on this machine (``client=None``) or on a real
cluster (a scheduler address, a ``distributed.Client``, or a cluster object). One video is
one task; videos travel as paths (the workers open them), results come back to this side
as they finish and are written to ``out`` atomically, so a rerun skips what is done.

- :mod:`.jobs`: :class:`Job`, a video plus its prompts (a saved session, or a function);
- :mod:`.engines`: the engine spec, and the per-worker cache that builds an engine once;
- :mod:`.cluster`: the client (given, by address, or a LocalCluster sized to the machine);
- :mod:`.runner`: submitting tasks, streaming results in, failures, progress;
- :mod:`.output`: the per-video result folders in ``out``;
- :mod:`.propagate`, :mod:`.evaluate_davis`: the two batch functions.

Dask (``distributed``) is imported when a batch runs, not with this package.
"""

from __future__ import annotations

from .cluster import local_cluster
from .evaluate_davis import BatchEvaluation, evaluate_davis
from .jobs import Job
from .propagate import propagate

__all__ = ["BatchEvaluation", "Job", "evaluate_davis", "local_cluster", "propagate"]
