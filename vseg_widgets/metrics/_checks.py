"""Input checks shared by the metrics: binary masks of matching shapes, matching stores.

Every check raises a specific exception that names the problem and the fix, so a wrong
input never turns into a quietly wrong score.
"""

from __future__ import annotations

import numpy as np

from ..errors import MaskShapeError
from ..masks import MaskStore


def as_mask(mask, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Return ``mask`` as an (H, W) bool array, or raise.

    Accepts bool arrays and integer/float arrays holding only 0 and 1. Anything else
    (0/255 PNG values, probabilities, NaN) is refused: thresholding is the caller's choice.
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise MaskShapeError(f"{name} must be a 2-D (H, W) mask, got an array of shape {arr.shape}.")
    if shape is not None and arr.shape != tuple(shape):
        raise MaskShapeError(f"{name} has shape {arr.shape} but the other mask has shape {tuple(shape)}.")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "biuf":
        raise MaskShapeError(f"{name} has dtype {arr.dtype}; pass a bool (H, W) mask.")
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = arr[~np.isin(arr, (0, 1))]
        raise MaskShapeError(
            f"{name} is not binary: it holds {bad.flat[0]!r} (and {bad.size - 1} more values outside "
            "{0, 1}). Pass a bool mask, e.g. `png == 255`, `labels == obj_id` or `prob > 0.5`."
        )
    return arr.astype(bool)


def check_pair(pred, gt, void=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(pred, gt, void) as (H, W) bool arrays of one shape; void may be None."""
    gt = as_mask(gt, "gt")
    pred = as_mask(pred, "pred", gt.shape)
    if void is not None:
        void = as_mask(void, "void", gt.shape)
    return pred, gt, void


def check_stores(pred, gt, what: str = "ground truth") -> None:
    """Both are MaskStores over the same number of frames of the same size."""
    for name, store in (("prediction", pred), (what, gt)):
        if not isinstance(store, MaskStore):
            raise TypeError(f"the {name} must be a vseg_widgets MaskStore, got {type(store).__name__}.")
    if (pred.num_frames, pred.height, pred.width) != (gt.num_frames, gt.height, gt.width):
        raise MaskShapeError(
            f"the prediction is {pred.num_frames} frames of {pred.width}x{pred.height} but the {what} is "
            f"{gt.num_frames} frames of {gt.width}x{gt.height}: they must be masks of the same video."
        )


def check_not_empty(store: MaskStore, name: str) -> None:
    if not store.obj_ids:
        raise ValueError(
            f"the {name} mask store is empty (no object has a mask on any frame); "
            "there is nothing to evaluate."
        )
