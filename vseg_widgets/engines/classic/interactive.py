"""Masks from click and box prompts on one frame, with OpenCV's GrabCut.

GrabCut fits a foreground and a background colour model (GMMs) and cuts the image with a
graph cut; the prompts seed it. What makes clicks converge is how the seeds are laid:

- **Each refinement starts from the previous mask** of this (frame, object): a new click
  corrects it locally instead of re-cutting the whole image from scratch, so masks do not
  jump around between clicks.
- **A click says more than one pixel.** People (and the standard clicker) click near the
  middle of the largest wrong region. A positive click outside the current mask, at
  distance ``d`` from it, so marks the disk of radius ``d`` as probably-object and a
  fraction of it as certainly-object; a negative click inside the mask likewise, with its
  distance to the mask's edge. The first click has no mask to measure against; it gets a
  disk proportional to the image size as probably-object.
- **Every click stays a hard seed**, so later cuts cannot undo earlier clicks.

GrabCut runs on a crop around the object (the rest is background), at full resolution for
a small object and reduced to a fixed pixel budget for a large one, so the latency is
bounded; a reduced result is upsampled with a gray-guided filter so its edges follow the
full image.
"""

from __future__ import annotations

import cv2
import numpy as np

from .refine import gray_guided

CROP_PIXELS = 60_000  # GrabCut sees the crop around the object at most this big: ~60 ms a click
ITERATIONS = 2
FIRST_REACH = 0.15  # first click: radius of the probably-object disk, x the image's short side
HARD_FRACTION = 0.35  # part of a click's disk that is certainly on its side
DISK_CAP = 1.0  # a later click's probable disk: at most this x the first click's (a far click
# on a thin part would otherwise mark a wide stretch of background as probably-object)
DOT = 0.008  # smallest seed disk, x the image's long side


def segment_prompt(
    image: np.ndarray,
    points: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    box: np.ndarray | None = None,
    previous: np.ndarray | None = None,
) -> np.ndarray:
    """The object that the prompts point at.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        points: (N, 2) float (x, y) pixel coordinates, or None; in the order given.
        labels: (N,) int, 1 = on the object, 0 = not on it.
        box: (4,) (x0, y0, x1, y1) around the object, or None.
        previous: (H, W) bool, the object's mask on this frame before these prompts (the
            result of the previous click), or None.

    Returns:
        (H, W) bool mask: the connected parts that hold a positive point (or, with a box
        only, the whole cut inside the box).
    """
    h, w = image.shape[:2]
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, float).reshape(-1, 2)
    lbl = np.zeros(0, int) if labels is None else np.asarray(labels, int).reshape(-1)
    positive = pts[lbl == 1]
    prev = None if previous is None or not np.any(previous) else np.asarray(previous, bool)
    if prev is None and box is None and len(positive) == 0:
        return np.zeros((h, w), bool)

    # Cut only a window around what may be the object: faster, and far-away look-alikes
    # cannot join; outside it everything is background. Its resolution is chosen so that it
    # holds at most CROP_PIXELS: a small object is cut at full resolution (its details
    # survive), a large one at a reduced one (the latency stays bounded).
    reach_first = FIRST_REACH * min(h, w)
    boxes = [(x - reach_first, y - reach_first, x + reach_first, y + reach_first) for x, y in positive]
    if prev is not None:
        ys, xs = np.nonzero(prev)
        boxes.append((xs.min(), ys.min(), xs.max(), ys.max()))
    if box is not None:
        boxes.append(tuple(np.asarray(box, float)))
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    margin = max(0.03 * max(h, w), 0.5 * max(x1 - x0, y1 - y0))
    c0, r0 = int(max(0, x0 - margin)), int(max(0, y0 - margin))
    c1, r1 = int(min(w, x1 + margin + 1)), int(min(h, y1 + margin + 1))
    scale = min(1.0, np.sqrt(CROP_PIXELS / ((c1 - c0) * (r1 - r0))))
    sw, sh = max(1, round((c1 - c0) * scale)), max(1, round((r1 - r0) * scale))
    crop = np.ascontiguousarray(image[r0:r1, c0:c1])
    small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else crop
    to_small = lambda p: (p - np.array([c0, r0])) * scale  # noqa: E731

    seed = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    prev_small = None
    if prev is not None:
        prev_small = cv2.resize(prev[r0:r1, c0:c1].astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    if box is not None:
        bx0, by0, bx1, by1 = to_small(np.asarray(box, float).reshape(2, 2)).ravel().round().astype(int)
        seed[:] = cv2.GC_BGD
        seed[max(by0, 0) : by1 + 1, max(bx0, 0) : bx1 + 1] = cv2.GC_PR_FGD
    if prev_small is not None:
        seed[prev_small] = cv2.GC_PR_FGD
        if box is None:
            seed[~prev_small] = cv2.GC_PR_BGD
    _seed_clicks(seed, to_small(pts), lbl, prev_small, reach_first * scale, max(2, round(DOT * max(h, w) * scale)))

    out = np.zeros((h, w), bool)
    if not np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        return out
    if np.isin(seed, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        # GrabCut seeds its colour GMMs with k-means from OpenCV's global RNG: fix it, so the
        # same clicks give the same mask.
        cv2.setRNGSeed(0)
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seed, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    result = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if box is None or len(positive):
        result = keep_components(result, to_small(positive))
    if scale < 1:
        # Back to full resolution, edges following the full-resolution image.
        soft = cv2.resize(result.astype(np.float32), (c1 - c0, r1 - r0), interpolation=cv2.INTER_LINEAR)
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        result = gray_guided(gray, soft, radius=max(2, round(1 / scale)), eps=1e-3) > 0.5
    out[r0:r1, c0:c1] = result > 0
    return out


def _seed_clicks(seed: np.ndarray, pts: np.ndarray, lbl: np.ndarray, prev: np.ndarray | None, reach_first: float, dot: int) -> None:
    """Lay the click seeds into ``seed`` (h, w) uint8 GrabCut labels, in place.

    ``pts`` (N, 2) and ``prev`` (h, w) bool are in the seed's pixels; ``reach_first`` is the
    first click's disk radius and ``dot`` the smallest seed radius, in the same pixels.
    """
    sh, sw = seed.shape
    if prev is not None:
        # Distance of every pixel to the mask (outside) and to the background (inside).
        to_fg = cv2.distanceTransform((~prev).astype(np.uint8), cv2.DIST_L2, 3)
        to_bg = cv2.distanceTransform(np.pad(prev.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    reach_first = max(dot, round(reach_first))
    for (x, y), label in zip(pts, lbl):
        xi, yi = min(max(round(x), 0), sw - 1), min(max(round(y), 0), sh - 1)
        if prev is None:
            # No mask to measure against: a generous disk is probably the object (positive),
            # a smaller one probably not (negative).
            radius = reach_first if label == 1 else reach_first // 2
        else:
            radius = to_fg[yi, xi] if label == 1 else to_bg[yi, xi]
            radius = int(min(radius, DISK_CAP * reach_first))
        if radius > dot:
            cv2.circle(seed, (xi, yi), radius, cv2.GC_PR_FGD if label == 1 else cv2.GC_PR_BGD, -1)
    # Hard seeds last, so that no probable disk overwrites a click.
    for (x, y), label in zip(pts, lbl):
        xi, yi = min(max(round(x), 0), sw - 1), min(max(round(y), 0), sh - 1)
        if prev is None:
            hard = dot
        else:
            hard = max(dot, round(HARD_FRACTION * (to_fg[yi, xi] if label == 1 else to_bg[yi, xi])))
            hard = min(hard, reach_first)
        cv2.circle(seed, (xi, yi), hard, cv2.GC_FGD if label == 1 else cv2.GC_BGD, -1)


def keep_components(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Keep the connected components of a (H, W) uint8 mask that contain one of ``points``.

    With no points, the mask is returned unchanged.
    """
    if len(points) == 0 or not mask.any():
        return mask
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    h, w = mask.shape
    keep = {
        labels[min(max(round(y), 0), h - 1), min(max(round(x), 0), w - 1)] for x, y in points
    } - {0}
    return np.isin(labels, list(keep)).astype(np.uint8)
