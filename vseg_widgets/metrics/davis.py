"""DAVIS region similarity J, boundary accuracy F and the sequence statistics.

These follow the definitions of the official DAVIS evaluation
(davisvideochallenge/davis2017-evaluation, ``davis2017/metrics.py`` and ``utils.py``)
number for number; ``tests/test_metrics.py`` checks them against test vectors computed
with that code to 1e-9. Where the official code has an accident, we keep the definition
and drop the accident:

- decay's quartile-bin edges are cast to uint8 upstream, which wraps for sequences of
  more than 256 frames; we keep them as int64 (identical results up to 256 frames);
- the boundary map is computed on a window around the two masks instead of the whole
  frame (exact, see :func:`boundary_map`), which makes F several times faster.

Every function takes (H, W) masks: bool arrays, or int/float arrays holding only 0 and 1.
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

from ._checks import check_pair

BOUND_TH = 0.008  # DAVIS boundary tolerance: a fraction of the image diagonal


def jaccard(pred, gt, void=None) -> float:
    """Region similarity J: |pred & gt| / |pred | gt|, ignoring ``void`` pixels.

    Args:
        pred: (H, W) bool predicted mask.
        gt: (H, W) bool ground-truth mask.
        void: optional (H, W) bool mask of pixels excluded from both counts (DAVIS label 255).

    Returns:
        float in [0, 1]; 1.0 when the union is empty (both masks empty), as in DAVIS.
    """
    pred, gt, void = check_pair(pred, gt, void)
    inter, union = pred & gt, pred | gt
    if void is not None:
        inter &= ~void
        union &= ~void
    n_union = np.count_nonzero(union)
    return 1.0 if n_union == 0 else np.count_nonzero(inter) / n_union


def f_boundary(pred, gt, void=None, bound_th: float = BOUND_TH) -> float:
    """Boundary accuracy F: the F-measure of boundary precision and recall, as DAVIS defines it.

    Each mask's boundary is :func:`boundary_map`; a predicted boundary pixel counts as
    correct when a ground-truth boundary pixel lies within a disk of radius
    ``ceil(bound_th * image diagonal)`` pixels (8 px at 854x480), and the other way round.

    Args:
        pred, gt: (H, W) bool masks.
        void: optional (H, W) bool mask; void pixels are removed from both masks first.
        bound_th: tolerance as a fraction of the diagonal (< 1), or a whole number of pixels (>= 1).

    Returns:
        float in [0, 1]. With empty boundaries (an empty or all-foreground mask has none):
        1.0 when both are empty, 0.0 when only one is.
    """
    pred, gt, void = check_pair(pred, gt, void)
    if void is not None:
        pred, gt = pred & ~void, gt & ~void
    radius = tolerance_px(gt.shape, bound_th)
    window = _union_window(_boundary_window(pred), _boundary_window(gt))
    if window is None:  # both masks empty: no boundary on either side
        return 1.0
    pred_b, gt_b = boundary_map(pred[window]), boundary_map(gt[window])
    n_pred, n_gt = np.count_nonzero(pred_b), np.count_nonzero(gt_b)
    if n_pred == 0 or n_gt == 0:
        # DAVIS: precision 1 / recall 0 (or the reverse) -> F = 0; both empty -> F = 1
        return 1.0 if n_pred == n_gt else 0.0
    kernel = disk(radius)
    # cv2's default border for dilation adds nothing, so dilating inside the window is
    # exact: every boundary pixel of either mask lies in it.
    pred_dil = cv2.dilate(pred_b.view(np.uint8), kernel).view(bool)
    gt_dil = cv2.dilate(gt_b.view(np.uint8), kernel).view(bool)
    precision = np.count_nonzero(pred_b & gt_dil) / float(n_pred)
    recall = np.count_nonzero(gt_b & pred_dil) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def tolerance_px(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Boundary tolerance in pixels: ``ceil(bound_th * hypot(H, W))``, or ``bound_th`` if >= 1."""
    if bound_th >= 1:
        if bound_th != int(bound_th):
            raise ValueError(f"bound_th >= 1 is a number of pixels and must be whole, got {bound_th}.")
        return int(bound_th)
    if not bound_th > 0:
        raise ValueError(f"bound_th must be a positive fraction of the diagonal or a pixel count, got {bound_th}.")
    return int(math.ceil(bound_th * float(np.linalg.norm(shape))))


def disk(radius: int) -> np.ndarray:
    """(2r+1, 2r+1) uint8 disk: 1 where x^2 + y^2 <= r^2, the same element as
    ``skimage.morphology.disk(r)`` (which the official F uses), without needing scikit-image."""
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) bool one-pixel-wide boundary, DAVIS/BSDS ``seg2bmap`` convention.

    A pixel is on the boundary when it differs from its right, lower or lower-right
    neighbour (so the boundary sits half a pixel towards the origin). On the last row only
    the right neighbour counts, on the last column only the lower one, and the
    bottom-right corner is never a boundary pixel. Hence an all-foreground mask has no
    boundary, like an empty one.

    The official function can also rescale the map to another size; F never uses that
    (and its rescaling divides the width by the height), so it is left out.
    """
    m = np.asarray(mask, dtype=bool)
    b = np.zeros_like(m)
    core = m[:-1, :-1]
    b[:-1, :-1] = (core != m[:-1, 1:]) | (core != m[1:, :-1]) | (core != m[1:, 1:])
    b[-1, :-1] = m[-1, :-1] != m[-1, 1:]
    b[:-1, -1] = m[:-1, -1] != m[1:, -1]
    b[-1, -1] = False
    return b


def _boundary_window(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(r0, r1, c0, c1), half-open, holding every boundary pixel of ``mask`` and one more
    row and column past them, so :func:`boundary_map` of the window equals the full map
    there (and the full map is zero outside). None for an empty mask.

    Why it is exact: boundary pixels lie in rows y0-1..y1 and columns x0-1..x1 of the
    mask's bounding box. The window's last row (col) is either the image's last row (col),
    where the same rule applies, or a row (col) of background with background below (to
    the right), whose boundary value is 0 under either rule.
    """
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    (ys,), (xs,) = np.nonzero(rows), np.nonzero(cols)
    h, w = mask.shape
    return max(ys[0] - 1, 0), min(ys[-1] + 2, h), max(xs[0] - 1, 0), min(xs[-1] + 2, w)


def _union_window(a, b) -> tuple[slice, slice] | None:
    boxes = [x for x in (a, b) if x is not None]
    if not boxes:
        return None
    r0, r1 = min(x[0] for x in boxes), max(x[1] for x in boxes)
    c0, c1 = min(x[2] for x in boxes), max(x[3] for x in boxes)
    return slice(r0, r1), slice(c0, c1)


def statistics(values) -> dict[str, float]:
    """DAVIS sequence statistics of per-frame scores (J or F) -> {"mean", "recall", "decay"}.

    - mean: the mean score;
    - recall: the share of frames scoring above 0.5;
    - decay: the mean of the first quarter of frames minus the mean of the last quarter.
      Quarters are the official ones: edges ``round(linspace(1, N, 5)) - 1``, each bin
      running from its edge to the next one inclusive (neighbouring bins share a frame).

    NaN scores (undefined frames) are left out of all three. Empty input, or all NaN,
    gives NaN for all three. Unlike the official code, bins are right for N > 256.

    Args:
        values: (N,) float scores of consecutive frames (the frames the evaluation counts,
            e.g. 1..T-2 in DAVIS).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    valid = x[~np.isnan(x)]
    if valid.size == 0:
        return {"mean": math.nan, "recall": math.nan, "decay": math.nan}
    edges = (np.round(np.linspace(1, len(x), 5) + 1e-10) - 1).astype(np.int64)  # int64: no wrap past 256
    bins = [x[edges[i] : edges[i + 1] + 1] for i in range(4)]
    with warnings.catch_warnings():  # an all-NaN bin gives NaN decay, by design
        warnings.simplefilter("ignore", RuntimeWarning)
        decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return {"mean": float(valid.mean()), "recall": float(np.mean(valid > 0.5)), "decay": decay}
