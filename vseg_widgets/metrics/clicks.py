"""The simulated user of interactive segmentation benchmarks: where the next click goes, and
how many clicks an object takes (NoC, "number of clicks" to reach an IoU).

The clicker is the standard one of the click benchmarks (DIOS, RITM, SAM's evaluation): each
click goes at the point farthest from the boundary of the larger error region, positive on a
missed part of the object, negative on a wrongly taken part of the background.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pandas as pd

from .davis import jaccard

MAX_CLICKS = 20  # the benchmarks' cap; an object that never reaches the IoU counts this many


def next_click(pred: np.ndarray, gt: np.ndarray) -> tuple[tuple[float, float], int] | None:
    """The standard clicker's next click on one frame.

    pred, gt: (H, W) bool, the current mask and the true one.
    Returns ((x, y) in pixels, label: 1 positive, 0 negative), or None when they are equal.
    """
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    d_fn, p_fn = _farthest(gt & ~pred)
    d_fp, p_fp = _farthest(~gt & pred)
    if max(d_fn, d_fp) == 0:
        return None
    positive = d_fn > d_fp
    y, x = p_fn if positive else p_fp
    return (float(x), float(y)), int(positive)


def _farthest(region: np.ndarray) -> tuple[float, tuple[int, int]]:
    # Padded with background so that the image border counts as the region's boundary.
    padded = np.pad(region.astype(np.uint8), 1)
    dt = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    return float(dt.max()), np.unravel_index(dt.argmax(), dt.shape)


def noc(ious, threshold: float, max_clicks: int = MAX_CLICKS) -> int:
    """Clicks until the IoU first reaches ``threshold`` (e.g. 0.85 for NoC@85); ``max_clicks``
    when it never does. ious: the IoU after click 1, 2, ..."""
    return next((k + 1 for k, iou in enumerate(ious) if iou >= threshold), max_clicks)


def click_curve(seg, frame: int, obj_id: int, gt: np.ndarray, max_clicks: int = MAX_CLICKS) -> pd.DataFrame:
    """Let the standard clicker prompt ``obj_id`` on ``frame`` of a Segmenter, click by click.

    seg: a :class:`~vseg_widgets.Segmenter` on which ``obj_id`` has no prompt on ``frame`` yet
    (its points accumulate there, as a user's clicks do). gt: (H, W) bool, the true mask.
    Returns one row per click: click (1, 2, ...), x, y, label, iou (J after that click) and
    ms (the Segmenter's wall time for the click). Stops early when the mask equals ``gt``.
    """
    gt = np.asarray(gt, bool)
    pred = seg.masks.get(frame, obj_id)
    if pred is None:
        pred = np.zeros_like(gt)
    rows = []
    for k in range(1, max_clicks + 1):
        click = next_click(pred, gt)
        if click is None:
            break
        (x, y), label = click
        start = time.perf_counter()
        pred = seg.add_points(frame, obj_id, [(x, y)], [label]).get(obj_id, np.zeros_like(gt))
        rows.append({"click": k, "x": x, "y": y, "label": label, "iou": jaccard(pred, gt), "ms": 1000 * (time.perf_counter() - start)})
    return pd.DataFrame(rows, columns=["click", "x", "y", "label", "iou", "ms"])
