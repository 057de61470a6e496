"""``vw.batch.evaluate_davis``: the DAVIS semi-supervised protocol over many sequences, one
sequence per worker task."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BatchJobError
from ..metrics.scores import STAT_COLUMNS, Evaluation
from .engines import EngineSpec, engine_for, engine_spec
from .jobs import check_name
from .output import ResultFolder, table_from_json, table_to_json
from .runner import Task, on_worker, run_tasks

VIDEO_COLUMNS = ["sequence", "status", "error", "frames", "objects", "J_mean", "F_mean", "JF_mean", "seconds", "worker", "engine", "traceback"]


@dataclass
class BatchEvaluation(Evaluation):
    """An :class:`~vseg_widgets.metrics.Evaluation` of many sequences.

    Attributes:
        frames: as :func:`vseg_widgets.metrics.evaluate`'s, for every sequence, with the
            ``sequence`` column first; sequences in the order asked, then frame, obj_id.
        objects: one row per (sequence, object) with the DAVIS statistics, plus ``error``
            (None). A sequence that failed has one row with its ``error`` and no statistics;
            ``obj_id`` is a nullable Int64 for that reason.
        summary: the statistics averaged over every object of the sequences that ran (as
            DAVIS averages over object sequences), plus ``objects``, ``frames`` (evaluated),
            ``sequences`` (that ran) and ``failed`` counts.
        videos: one row per sequence: ``sequence``, ``status`` ("done", "resumed" from
            ``out``, "failed"), ``error``, ``frames`` (of the video), ``objects``,
            ``J_mean``, ``F_mean``, ``JF_mean`` (over its objects), ``seconds`` (on its
            worker, opening the video to the last score), ``worker``, ``engine``,
            ``traceback`` (of a failure, for debugging).
    """

    videos: pd.DataFrame = None

    def __repr__(self) -> str:
        s = self.summary
        failed = f", {int(s['failed'])} failed" if s["failed"] else ""
        return (
            f"<Evaluation of {int(s['sequences'])} sequences{failed}, {int(s['objects'])} objects on "
            f"{int(s['frames'])} frames: J&F {s['JF_mean']:.3f}, J {s['J_mean']:.3f}, F {s['F_mean']:.3f}>"
        )


def evaluate_davis(
    root,
    sequences=None,
    engine="learned",
    client=None,
    out=None,
    *,
    resolution: str = "480p",
    max_frames: int | None = None,
    progress: bool = True,
) -> BatchEvaluation:
    """Evaluate an engine on a DAVIS-layout folder, one sequence per Dask task.

    The protocol is DAVIS semi-supervised: each object's ground-truth mask on the first
    frame is given (``seg.add_mask``), the engine propagates forward, and
    :func:`vseg_widgets.metrics.evaluate` scores J and F on frames 1..T-2 against the
    ground truth (void pixels excluded). The numbers are those of the same steps run one
    sequence after the other in one process with the workers' math-library threads, bit for
    bit (tests and ``benchmarks/bench_batch.py`` check it). Dask starts its workers with
    OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1; a serial run whose numpy uses more BLAS threads
    sums some products in another order, which moves a few pixels late in long sequences
    (J differing by 3e-5 on 2 of the 10 DAVIS dev sequences).

    Args:
        root: the DAVIS folder (``JPEGImages/<resolution>/<sequence>`` and
            ``Annotations/<resolution>/<sequence>``), at a path the workers can read.
        sequences: sequence names, or None for every sequence under ``root`` (listed here,
            so then ``root`` must be readable on this side too).
        engine: "learned" (default), "classic", "sam2", a function building an Engine, or an
            Engine instance (see :func:`vseg_widgets.batch.propagate`). Built once per worker.
        client: a ``distributed.Client``, a Dask cluster, a scheduler address, or None for a
            LocalCluster of one single-threaded worker process per core, for this call only.
        out: a folder for each sequence's result (``out/<sequence>/result.json``, written
            atomically as it finishes); a rerun with the same ``out`` skips the sequences
            finished there (failed ones run again). None: nothing is written.
        resolution: the DAVIS resolution folder.
        max_frames: evaluate only the first ``max_frames`` frames of each sequence, as if it
            ended there (a quick look; DAVIS figures need None).
        progress: a progress bar over sequences (and the Dask dashboard's link).

    Returns:
        :class:`BatchEvaluation` (an Evaluation with a ``videos`` table). A failing sequence
        (unreadable frames, missing annotations, an engine error) is reported in
        ``objects`` and ``videos`` with its error and a warning; the others go on.

    Raises:
        BatchJobError: no sequences found under ``root``, a bad name or ``max_frames``.
        BatchOutputError: ``out`` holds results made with another engine or settings.
        ClusterConnectError: no scheduler at the address given as ``client``.
    """
    from ..datasets import davis_sequences

    root = str(Path(root).expanduser())
    if sequences is None:
        sequences = davis_sequences(root, resolution)
        if not sequences:
            raise BatchJobError(
                f"no DAVIS sequences under {root} (expected JPEGImages/{resolution}/<sequence>/ folders). "
                "Check root, or pass sequences=[...] when the data is readable only by the workers."
            )
    elif isinstance(sequences, str):
        sequences = [sequences]
    sequences = [check_name(s) for s in sequences]
    if len(set(sequences)) != len(sequences):
        raise BatchJobError(f"sequences are named more than once: {sorted({s for s in sequences if sequences.count(s) > 1})}.")
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 3):
        raise BatchJobError(f"max_frames must be an int >= 3 (DAVIS leaves out the first and last frame), or None; got {max_frames!r}.")
    spec = engine_spec(engine)
    settings = {"engine": spec.name, "resolution": resolution, "max_frames": max_frames}
    folder = ResultFolder(out, "evaluate_davis", settings) if out is not None else None

    records: dict[str, dict] = {}
    tasks = []
    for name in sequences:
        record = folder.finished(name) if folder is not None else None
        if record is not None:
            records[name] = {**record, "status": "resumed", "frames_table": table_from_json(record["frames_table"]), "objects_table": table_from_json(record["objects_table"])}
        else:
            tasks.append(Task(name, _evaluate_sequence, (root, name, spec, resolution, max_frames)))

    def keep(record: dict) -> None:
        name = record["name"]
        if record["status"] == "done" and folder is not None:
            doc = {k: v for k, v in record.items() if k not in ("frames_table", "objects_table", "status", "traceback", "error")}
            doc["frames_table"] = table_to_json(record["frames_table"])
            doc["objects_table"] = table_to_json(record["objects_table"])
            folder.write(name, doc)
        records[name] = record

    run_tasks(tasks, client, keep, desc="evaluate_davis", done=len(records), progress=progress)
    failed = {n: r["error"] for n, r in records.items() if r["status"] == "failed"}
    if failed:
        first = next(iter(failed.items()))
        warnings.warn(
            f"{len(failed)} of {len(sequences)} sequences failed (first: {first[0]}: {first[1]}); see .videos and .objects.",
            stacklevel=2,
        )
    return _assemble([s for s in sequences if s in records], records, spec.name)


def _evaluate_sequence(root: str, name: str, spec: EngineSpec, resolution: str, max_frames: int | None) -> dict:
    """On a worker: the DAVIS tables of one sequence (a record, see :mod:`.runner`)."""

    def work():
        from ..datasets import load_davis
        from ..metrics import evaluate
        from ..session import Segmenter

        engine = engine_for(spec)
        video, gt = load_davis(root, name, resolution)
        if max_frames is not None and max_frames < len(video):
            video, gt = first_frames(video, max_frames), _first_masks(gt, max_frames)
        seg = Segmenter(video, engine=engine)
        first = [obj for obj in gt.objects(0) if gt.area(0, obj) > 0]
        if not first:
            raise BatchJobError(f"{name}: the ground truth of frame 0 has no object, so there is nothing to propagate.")
        for obj in first:
            seg.add_mask(0, obj, gt.get(0, obj))
        seg.propagate("forward", progress=False)
        ev = evaluate(seg.masks, gt, fps=video.fps, sequence=name)
        return {"frames_table": ev.frames, "objects_table": ev.objects, "frames": len(video)}

    return on_worker(name, work)


def first_frames(video, n: int):
    """The first ``n`` frames of ``video`` as a Video (decoded from it on demand)."""
    from ..video import Video

    class FirstFrames(Video):
        def __init__(self):
            super().__init__(cache_bytes=0)  # the source caches
            self._length, self.height, self.width, self.fps = n, video.height, video.width, video.fps

        def __getitem__(self, index):
            if isinstance(index, slice):
                return np.stack([video[i] for i in range(*index.indices(n))])
            return video[self.check_index(index)]

    return FirstFrames()


def _first_masks(gt, n: int):
    from ..masks import MaskStore

    out = MaskStore(n, gt.height, gt.width)
    for frame in range(n):
        for obj in gt.objects(frame):
            out.set_rle(frame, obj, gt.rle(frame, obj))
        void = gt.void(frame)
        if void is not None:
            out.set_void(frame, void)
    return out


def _assemble(names: list[str], records: dict[str, dict], engine: str) -> BatchEvaluation:
    frames, objects, videos = [], [], []
    for name in names:
        r = records[name]
        row = {c: r.get(c) for c in VIDEO_COLUMNS}
        row.update(sequence=name, engine=engine)
        if r["status"] == "failed":
            objects.append(pd.DataFrame({"sequence": [name], "error": [r["error"]]}))
            row.update(frames=r.get("frames"), objects=0, J_mean=math.nan, F_mean=math.nan, JF_mean=math.nan)
        else:
            frames.append(r["frames_table"])
            obj = r["objects_table"].copy()
            obj["error"] = None
            objects.append(obj)
            row.update(objects=len(obj), J_mean=obj["J_mean"].mean(), F_mean=obj["F_mean"].mean(), JF_mean=obj["JF_mean"].mean())
        videos.append(row)
    frame_table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["sequence", "frame", "time_s", "obj_id", "J", "F", "JF", "J_drop", "gt_area_px"])
    object_columns = ["sequence", "obj_id", "frames", *STAT_COLUMNS, "error"]
    object_table = pd.concat(objects, ignore_index=True) if objects else pd.DataFrame(columns=object_columns)
    object_table = object_table.reindex(columns=object_columns)
    object_table["obj_id"] = object_table["obj_id"].astype("Int64")
    object_table["frames"] = object_table["frames"].astype("Int64")
    object_table["error"] = object_table["error"].astype(object).where(object_table["error"].notna(), None)
    video_table = pd.DataFrame(videos, columns=VIDEO_COLUMNS)
    video_table["error"] = video_table["error"].astype(object).where(video_table["error"].notna(), None)
    scored = object_table[object_table["error"].isna()]
    summary = scored[STAT_COLUMNS].astype(float).mean()
    summary["JF_mean"] = (summary["J_mean"] + summary["F_mean"]) / 2
    summary["objects"] = len(scored)
    summary["frames"] = int(frame_table["frame"].groupby(frame_table["sequence"]).nunique().sum()) if len(frame_table) else 0
    summary["sequences"] = int((video_table["status"] != "failed").sum())
    summary["failed"] = int((video_table["status"] == "failed").sum())
    return BatchEvaluation(frame_table, object_table, summary, video_table)
