"""``vw.batch.propagate``: prompts to masks for many videos, one video per worker task."""

from __future__ import annotations

import warnings

import pandas as pd

from ..errors import BatchJobError
from ..session import TABLE_COLUMNS
from .engines import EngineSpec, engine_for, engine_spec
from .jobs import Job, as_jobs
from .output import ResultFolder, table_from_json, table_to_json
from .runner import Task, on_worker, run_tasks

MASK_FORMATS = ("png", "coco")
INT_COLUMNS = ("frame", "obj_id", "area_px")  # nullable (Int64): a failed video's row has none


def propagate(jobs, engine="learned", client=None, out=None, *, mask_format: str = "png", progress: bool = True) -> pd.DataFrame:
    """Propagate the prompts of many videos on a Dask cluster; write each video's masks to ``out``.

    Each video is one task: a worker opens the video from its path, makes a
    :class:`~vseg_widgets.Segmenter` with the engine (built once per worker and reused for
    every video it gets), takes the job's prompts (a saved session, or a function that adds
    them), propagates over the whole video (the job's ``direction``), and sends back the
    masks (COCO RLE) and the ``seg.to_dataframe()`` table. This side writes them to
    ``out/<video>/`` as each video finishes.

    Args:
        jobs: a list of :class:`Job` (or of ``(video, prompts)`` pairs, or a
            ``{name: (video, prompts)}`` dict). Video paths and session files must be
            readable by the workers at the same paths (a shared file system on a cluster).
        engine: "learned" (default), "classic", "sam2", a function (or class) that builds an
            Engine on each worker when called with no arguments (best for engines that load
            weights: ``functools.partial(LearnedEngine, cache_bytes=...)``), or an Engine
            instance (pickled, sent with each video).
        client: a ``distributed.Client``, a Dask cluster object, a scheduler address
            (``"tcp://host:8786"``), or None for a LocalCluster of one single-threaded worker
            process per core, started for this call and shut down after it.
        out: the folder for the masks (created if missing), or None to keep only the table.
            Each video gets ``out/<name>/masks/00000.png ...`` (mask_format="png": DAVIS-style
            indexed PNGs, one object id per pixel) or ``out/<name>/masks.json``
            (mask_format="coco": COCO RLE, overlaps kept; ``MaskStore.from_coco_json`` reads
            it), and ``out/<name>/result.json`` with its table, written atomically. A rerun
            with the same ``out`` skips the videos finished there and reads their tables back.
        mask_format: "png" or "coco".
        progress: a progress bar over videos (and the Dask dashboard's link, when it has one).

    Returns:
        A DataFrame, one row per (video, frame, object) with a mask: ``video``, the columns of
        ``Segmenter.to_dataframe()`` (frame, time_s, obj_id, label, area_px, area_frac,
        bbox, centroid, iou_prev, source, confidence, engine_ms), and ``error`` (None). A video that
        failed has one row with its ``error`` ("ExceptionType: message") and no frame
        (``frame``, ``obj_id``, ``area_px`` are nullable Int64 for that reason); the other
        videos go on, and a warning names the failures. Rows follow the order of ``jobs``.

    Raises:
        BatchJobError: malformed jobs (two with one name, prompts neither a session file nor
            a function, ...) or an engine that cannot be pickled.
        BatchOutputError: ``out`` holds results made with another engine or mask format.
        ClusterConnectError: no scheduler at the address given as ``client``.
    """
    jobs = as_jobs(jobs)
    if mask_format not in MASK_FORMATS:
        raise BatchJobError(f"mask_format must be one of {MASK_FORMATS}, got {mask_format!r}.")
    spec = engine_spec(engine)
    folder = ResultFolder(out, "propagate", {"engine": spec.name, "mask_format": mask_format}) if out is not None else None
    tables: dict[str, pd.DataFrame] = {}
    errors: dict[str, str] = {}
    tasks = []
    for job in jobs:
        record = folder.finished(job.name) if folder is not None else None
        if record is not None:
            tables[job.name] = table_from_json(record["table"])
        else:
            tasks.append(Task(job.name, _propagate_video, (job, spec)))

    def keep(record: dict) -> None:
        name = record["name"]
        if record["status"] != "done":
            errors[name] = record["error"]
            return
        table = record.pop("table")
        masks = record.pop("masks")
        if folder is not None:
            folder.write(name, {**_summary(record), "table": table_to_json(table)}, masks=masks, mask_format=mask_format)
        tables[name] = table

    run_tasks(tasks, client, keep, desc="propagate", done=len(tables), progress=progress)
    if errors:
        first = next(iter(errors.items()))
        warnings.warn(f"{len(errors)} of {len(jobs)} videos failed (first: {first[0]}: {first[1]}); see the error column.", stacklevel=2)
    return _assemble(jobs, tables, errors)


def _propagate_video(job: Job, spec: EngineSpec) -> dict:
    """On a worker: the masks and table of one job (a record, see :mod:`.runner`)."""

    def work():
        from ..session import Segmenter

        engine = engine_for(spec)
        if isinstance(job.prompts, str):  # a saved session: its prompts, masks and labels
            video = None if job.video is None else _open(job)
            seg = Segmenter.load(job.prompts, video=video, engine=engine)
        else:
            seg = Segmenter(_open(job), engine=engine)
            job.prompts(seg)
        if not seg.prompts:
            raise BatchJobError(f"{job.name}: no prompts to propagate (the session or the prompts function added none).")
        seg.propagate(job.direction, progress=False)
        return {"table": seg.to_dataframe(), "masks": seg.masks, "frames": len(seg.video)}

    return on_worker(job.name, work)


def _open(job: Job):
    from ..video import open_video

    return open_video(job.video, fps=job.fps)


def _summary(record: dict) -> dict:
    return {k: record.get(k) for k in ("name", "frames", "seconds", "worker")}


def _assemble(jobs: list[Job], tables: dict[str, pd.DataFrame], errors: dict[str, str]) -> pd.DataFrame:
    parts = []
    for job in jobs:
        if job.name in tables:
            part = tables[job.name].copy()
            part.insert(0, "video", job.name)
            part["error"] = None
        elif job.name in errors:
            part = pd.DataFrame({"video": [job.name], "error": [errors[job.name]]})
        else:  # interrupted before it ran
            continue
        parts.append(part)
    columns = ["video", *TABLE_COLUMNS, "error"]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    table = table.reindex(columns=columns)
    for column in INT_COLUMNS:
        table[column] = table[column].astype("Int64")
    for column in ("label", "error"):  # None where there is none, as in to_dataframe's docstring
        table[column] = table[column].astype(object).where(table[column].notna(), None)
    return table
