"""Scores of a mask store against ground truth (DAVIS J and F), and the player's timeline.

Column names are shared by every table of :mod:`vseg_widgets.metrics` and by
:meth:`vseg_widgets.Segmenter.to_dataframe`, so tables merge on ``(frame, obj_id)``
without renaming (see the package docstring for the full list).
"""

from __future__ import annotations

import numpy as np

from ..masks import MaskStore
from . import _rle
from ._checks import check_stores


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
