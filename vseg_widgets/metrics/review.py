"""Which frames to check first: the engine's confidence and the consistency signals, ranked.

After a propagation over hundreds of frames a person cannot look at every one. The
engine's confidence (``Segmenter.to_dataframe()["confidence"]``) is the strongest single
sign of a wrong mask; the consistency signals, which need no engine support, add what
it misses: a mask that changed suddenly (``iou_prev``) or an object that vanished for a
frame or two and came back (``flicker``). :func:`review_order` folds them into one number
per (frame, object), ``sureness`` in [0, 1], and sorts the frames by it, least sure first.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..masks import MaskStore
from .temporal import consistency

#: Weight of the frame-to-frame IoU beside the engine's confidence (an exponent in the
#: product): it is the weaker sign (it also drops when an object merely moves fast), so it
#: only tips the balance between frames the confidence finds alike.
IOU_WEIGHT = 0.25
#: A frame inside a flicker event counts this much less sure.
FLICKER_FACTOR = 0.5


def review_order(seg, per: Literal["frame", "object"] = "frame", top: int | None = None) -> pd.DataFrame:
    """The frames of a Segmenter ranked for a person to check, least sure first.

    Each (frame, object) with a mask gets

        sureness = confidence x iou_prev ** IOU_WEIGHT x (FLICKER_FACTOR if flicker else 1)

    where ``confidence`` is the engine's (taken as 1 where it gave none, so that an engine
    without confidence is ranked on consistency alone, with ``iou_prev`` at full weight)
    and ``iou_prev`` is the IoU with the object's mask on the previous frame (1 where
    there is none). Ties go to the earlier frame.

    Args:
        seg: a :class:`~vseg_widgets.Segmenter` with masks.
        per: "frame" (one row per frame, for its least sure object: the frames to look
            at) or "object" (one row per (frame, object)).
        top: keep only the first ``top`` rows (None: all).

    Returns:
        DataFrame sorted by ``sureness`` (ascending), with columns ``rank`` (1 = check
        first), ``frame``, ``time_s``, ``obj_id``, ``label``, ``sureness``,
        ``confidence`` (the engine's, NaN where none), ``iou_prev``, ``flicker``,
        ``area_change`` (as in :func:`consistency`) and ``reason``: what lowers the
        sureness most ("confidence", "sudden change", "flicker"; "" when nothing does).

    Raises:
        TypeError: ``seg`` is not a Segmenter.
        ValueError: ``per`` is neither "frame" nor "object"; ``top`` is not a positive whole number.
    """
    if not isinstance(getattr(seg, "masks", None), MaskStore) or not callable(getattr(seg, "confidence", None)):
        raise TypeError(f"review_order needs a vseg_widgets Segmenter, got {type(seg).__name__}.")
    if per not in ("frame", "object"):
        raise ValueError(f"per must be 'frame' or 'object', got {per!r}.")
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1):
        raise ValueError(f"top must be a positive whole number of rows (or None for all), got {top!r}.")
    table = consistency(seg)  # ValueError, naming the fix, when there are no masks
    conf = {o: seg.confidence(o) for o in table["obj_id"].unique()}
    table["confidence"] = [conf[o][f] for f, o in zip(table["frame"], table["obj_id"])]
    c = table["confidence"].to_numpy(float)
    known = np.isfinite(c)
    iou = table["iou_prev"].fillna(1.0).to_numpy(float)
    factors = pd.DataFrame({
        "confidence": np.where(known, c, 1.0),
        "sudden change": iou ** np.where(known, IOU_WEIGHT, 1.0),
        "flicker": np.where(table["flicker"], FLICKER_FACTOR, 1.0),
    }, index=table.index)  # fmt: skip
    table["sureness"] = factors.prod(axis=1).clip(0.0, 1.0)
    weakest = factors.idxmin(axis=1)
    table["reason"] = np.where(factors.min(axis=1) < 1.0, weakest, "")
    table = table.sort_values(["sureness", "frame", "obj_id"], kind="stable")
    if per == "frame":
        table = table.drop_duplicates("frame", keep="first")
    columns = ["frame", "time_s", "obj_id", "label", "sureness", "confidence", "iou_prev", "flicker", "area_change", "reason"]
    table = table[[c for c in columns if c in table.columns]].reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table if top is None else table.head(int(top))
