"""Scores of a mask store against ground truth (DAVIS J and F), and the player's timeline.

Column names are shared by every table of :mod:`vseg_widgets.metrics` and by
:meth:`vseg_widgets.Segmenter.to_dataframe`, so tables merge on ``(frame, obj_id)``
without renaming (see the package docstring for the full list).
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from ..masks import MaskStore
from ..video import frame_times
from . import _rle
from ._checks import check_not_empty, check_stores
from .davis import BOUND_TH, f_boundary, jaccard, statistics, tolerance_px


def timeline_scores(pred: MaskStore, gt: MaskStore | None = None) -> dict[int, np.ndarray]:
    """Per-frame score of every predicted object, for the player's timeline.

    With ``gt``: the DAVIS J of the object's mask against its ground truth (void pixels
    excluded; an object missing from an annotated ground-truth frame counts as empty).
    Without: the IoU of the object's mask with its own mask on the previous frame
    (frame-to-frame consistency; 1.0 when both are empty), the same number as the
    ``iou_prev`` column of ``Segmenter.to_dataframe()``.

    Args:
        pred: the predicted masks.
        gt: ground-truth masks of the same video, or None.

    Returns:
        ``{obj_id: (T,) float64}`` for every object of ``pred`` (``{}`` for an empty store).
        NaN where the score is undefined: the object has no mask on that frame, or (with
        gt) the frame has no ground truth at all, or (without gt) frame 0 and frames whose
        previous frame has no mask of the object.

    Raises:
        MaskShapeError: when ``gt`` is not of the same number of frames and size.
    """
    if gt is not None:
        check_stores(pred, gt)
    elif not isinstance(pred, MaskStore):
        raise TypeError(f"pred must be a vseg_widgets MaskStore, got {type(pred).__name__}.")
    out: dict[int, np.ndarray] = {}
    empty = _rle.empty(pred.height, pred.width)
    annotated = set(gt.frames()) if gt is not None else set()
    for obj in pred.obj_ids:
        scores = np.full(pred.num_frames, np.nan)
        for frame in pred.frames(obj):
            mask = _rle.get(pred, frame, obj)
            if gt is None:
                prev = _rle.get(pred, frame - 1, obj) if frame > 0 else None
                if prev is not None:
                    scores[frame] = _rle.jaccard(mask, prev)
            elif frame in annotated:
                truth = _rle.get(gt, frame, obj) or empty
                scores[frame] = _rle.jaccard(mask, truth, _rle.void_rle(gt, frame))
        out[obj] = scores
    return out


# -- evaluate: the DAVIS tables ----------------------------------------------------------------
FRAME_COLUMNS = ["frame", "time_s", "obj_id", "J", "F", "JF", "J_drop", "gt_area_px"]
STAT_COLUMNS = ["J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "JF_mean"]


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: three pandas views of one evaluation.

    Attributes:
        frames: one row per evaluated (frame, object), columns

            ==========  =====  ========================================================
            sequence    str    the ``sequence`` label, only when one was given
            frame       int    frame index
            time_s      float  seconds: the video's timestamps, or frame / fps (see :func:`evaluate`)
            obj_id      int    object id
            J           float  region similarity (DAVIS Jaccard), [0, 1]
            F           float  boundary accuracy (DAVIS F-measure), [0, 1]
            JF          float  (J + F) / 2
            J_drop      float  J of the object's previous evaluated frame minus this J
                               (> 0: got worse); NaN on its first evaluated frame
            gt_area_px  int    ground-truth mask area in pixels (the predicted area is
                               ``area_px`` of ``Segmenter.to_dataframe()``)
            ==========  =====  ========================================================

        objects: one row per object: ``(sequence,) obj_id, frames`` (count evaluated) and
            the DAVIS statistics ``J_mean, J_recall, J_decay, F_mean, F_recall, F_decay``
            and ``JF_mean = (J_mean + F_mean) / 2``.
        summary: pandas Series of the same statistics averaged over objects (as DAVIS
            averages over object sequences), plus ``objects`` and ``frames`` counts.
    """

    frames: pd.DataFrame
    objects: pd.DataFrame
    summary: pd.Series

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<Evaluation of {int(s['objects'])} objects on {int(s['frames'])} frames: "
            f"J&F {s['JF_mean']:.3f}, J {s['J_mean']:.3f}, F {s['F_mean']:.3f}>"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>" + self.objects.to_html(index=False)


def evaluate(
    pred,
    gt: MaskStore | None = None,
    *,
    first_last: bool = False,
    fps: float | None = None,
    sequence: str | None = None,
    bound_th: float = BOUND_TH,
    labels: Mapping[int, str] | None = None,
) -> Evaluation:
    """DAVIS J and F per (frame, object), with per-object and overall statistics.

    The numbers are those of the official DAVIS semi-supervised evaluation: J and F per
    frame against each ground-truth object (void pixels, label 255, excluded), statistics
    over frames 1..T-2 (the first frame is the given one, the last is left out as in
    DAVIS), and the overall J&F as the mean over objects.

    Args:
        pred: the predicted masks, a MaskStore; or a Segmenter, whose masks, video fps
            and attached ground truth (``seg.set_ground_truth``) are then used.
        gt: ground-truth masks of the same video (frames, height, width).
        first_last: also evaluate the first and last frame (DAVIS leaves them out).
        fps: frames per second, to add a ``time_s`` column (frame / fps); for a Segmenter
            its video's own timestamps are used when not given. Without either the tables
            have no ``time_s`` column.
        sequence: a label (e.g. the DAVIS sequence name) added as a ``sequence`` column,
            for concatenating the tables of several sequences.
        bound_th: F's boundary tolerance (fraction of the image diagonal, or pixels if >= 1).
        labels: {obj_id: label}, to add a ``label`` column (None where an object has
            none) after ``obj_id`` in ``frames`` and ``objects``; taken from the Segmenter
            (``seg.labels``) when one is given. Without it there is no ``label`` column.

    Objects are those of the ground truth. An object with no predicted mask on a frame
    counts as an empty prediction (J = 0 where the truth is not empty), as a missing
    object does in DAVIS. Frames with no ground truth at all are not evaluated. Predicted
    objects that are not in the ground truth are not scored, with a warning.

    Tables merge with ``Segmenter.to_dataframe()`` without renaming: on
    ``["frame", "obj_id"]`` when there is no ``time_s`` column, on
    ``["frame", "time_s", "obj_id"]`` when there is (``time_s`` is the same function of the frame in both),
    plus ``"label"`` when both have it (both tables of a Segmenter do).

    Returns:
        :class:`Evaluation` with ``.frames``, ``.objects`` and ``.summary``.

    Raises:
        MaskShapeError: the two stores differ in frame count or size.
        ValueError: a store is empty, or no frame is left to evaluate.
    """
    if labels is None:
        labels = getattr(pred, "labels", None) if isinstance(getattr(pred, "masks", None), MaskStore) else None
    pred, gt, fps, video = _unpack(pred, gt, fps)
    check_stores(pred, gt)
    check_not_empty(gt, "ground-truth")
    check_not_empty(pred, "predicted")
    extra = sorted(set(pred.obj_ids) - set(gt.obj_ids))
    if extra:
        warnings.warn(
            f"predicted objects {extra} have no ground truth and are not scored "
            f"(ground-truth objects: {gt.obj_ids}).",
            stacklevel=2,
        )
    last = pred.num_frames - 1
    frames = [f for f in gt.frames() if first_last or 0 < f < last]
    if not frames:
        raise ValueError(
            f"no frame to evaluate: the ground truth annotates frames {gt.frames()[:10]} and "
            f"the first and last frame (0 and {last}) are left out; pass first_last=True to keep them."
        )
    radius = tolerance_px((gt.height, gt.width), bound_th)
    rows = []
    for frame in frames:
        void = _decode_t(_rle.void_rle(gt, frame))
        for obj in gt.obj_ids:
            truth = _decode_t(_rle.get(gt, frame, obj))
            mask = _decode_t(_rle.get(pred, frame, obj))
            if truth is None:
                truth = np.zeros((gt.width, gt.height), bool)
            if mask is None:
                mask = np.zeros_like(truth)
            rows.append(
                (
                    frame,
                    obj,
                    jaccard(mask, truth, void),
                    f_boundary(mask, truth, void, radius),
                    int(np.count_nonzero(truth)),
                )
            )
    table = pd.DataFrame(rows, columns=["frame", "obj_id", "J", "F", "gt_area_px"])
    table = table.sort_values(["obj_id", "frame"], kind="stable")
    table["JF"] = (table["J"] + table["F"]) / 2
    table["J_drop"] = -table.groupby("obj_id")["J"].diff()
    table = table.sort_values(["frame", "obj_id"], kind="stable").reset_index(drop=True)
    columns = list(FRAME_COLUMNS)
    times = frame_times(table["frame"], fps, video)
    if times is None:
        columns.remove("time_s")
    else:
        table["time_s"] = times
    table = table[columns]

    objects = []
    for obj, group in table.groupby("obj_id", sort=True):
        row = {"obj_id": int(obj), "frames": len(group)}
        for measure in ("J", "F"):
            for key, value in statistics(group[measure].to_numpy()).items():
                row[f"{measure}_{key}"] = value
        row["JF_mean"] = (row["J_mean"] + row["F_mean"]) / 2
        objects.append(row)
    objects = pd.DataFrame(objects, columns=["obj_id", "frames", *STAT_COLUMNS])
    summary = objects[STAT_COLUMNS].mean()
    summary["JF_mean"] = (summary["J_mean"] + summary["F_mean"]) / 2
    summary["objects"] = len(objects)
    summary["frames"] = len(frames)
    if labels is not None:
        add_label_column(table, labels)
        add_label_column(objects, labels)
    if sequence is not None:
        table.insert(0, "sequence", sequence)
        objects.insert(0, "sequence", sequence)
        summary = pd.concat([pd.Series({"sequence": sequence}, dtype=object), summary.astype(object)])
    return Evaluation(table, objects, summary)


def add_label_column(table: pd.DataFrame, labels: Mapping[int, str]) -> None:
    """Insert a ``label`` column (object dtype, None where unlabelled) right after ``obj_id``, in place."""
    column = pd.Series([labels.get(int(o)) for o in table["obj_id"]], index=table.index, dtype=object)
    table.insert(table.columns.get_loc("obj_id") + 1, "label", column)


def _decode_t(rle: dict | None) -> np.ndarray | None:
    """RLE -> the *transposed* mask, (W, H) bool, without a copy.

    pycocotools decodes column-major; its transpose is C-contiguous for free, while
    making the (H, W) mask contiguous costs as much as the decoding. J and F are both
    unchanged by transposing both masks: J counts pixels, and the DAVIS boundary map,
    disk and diagonal are symmetric in rows and columns (right <-> lower neighbour,
    last column <-> last row).
    """
    return None if rle is None else mask_utils.decode(rle).T.view(bool)


def _unpack(pred, gt, fps):
    """Accept a Segmenter for ``pred``: its masks, video (for time_s) and attached ground truth."""
    masks, video = getattr(pred, "masks", None), None
    if isinstance(masks, MaskStore):
        if gt is None:
            gt = getattr(pred, "ground_truth", None)
        video = pred.video
        pred = masks
    if gt is None:
        raise ValueError(
            "no ground truth: pass gt=<MaskStore>, or attach it with seg.set_ground_truth(gt). "
            "Without ground truth, see vw.metrics.consistency() for temporal measures."
        )
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}.")
    return pred, gt, fps, video
