"""Masks from click and box prompts on one frame, with OpenCV's GrabCut.

GrabCut fits a foreground and a background colour model (GMMs) and cuts the image with a
graph cut; the prompts seed it. What makes clicks converge is how the seeds are laid:

- **The first click** (no mask yet) gets a disk as probably-object and GrabCut cuts a
  window around it. How big the disk should be depends on the object, so a few sizes
  (FIRST_REACHES) are cut and the cut kept is the one whose click sits most in its middle:
  people, and the standard clicker, click the middle of an object. In a video, the
  object clicked usually moves on its own (:mod:`.moving`): then the sizes are those that
  its moving region suggests, and the cut kept is the one that singles out what moves like
  the click.
- **A later click corrects the previous mask locally.** A click that the mask gets wrong
  (positive outside it, negative inside) sits in an error region about as wide as its
  distance ``d`` to the mask's edge. Only a window of WINDOW x ``d`` around it is cut
  again, from the previous mask; the rest of the mask is kept, and the window's edge is
  fixed to it, so a click fixes what it points at without undoing the rest. In a video,
  moving like the positive clicks counts for the object in that cut, as a cue beside the
  colours (:mod:`.graph_cut`): what colour cannot tell apart, motion often can.
- **A click says more than one pixel**, but only up to the image's edges: the pixels within
  geodesic distance ``d`` of the click (a step costs more across a colour edge, see
  :mod:`.click_geodesic`) are marked probably on its side, a fraction of them certainly,
  so a click on a thin or small part does not claim the background around it.
- **Every click stays a hard seed**, painted into the final full-resolution mask too, so
  later cuts, resizing and upsampling cannot undo earlier clicks. A click's dot stops
  short of the clicks of the other label: two of them close together mark an edge.
- Clicks given all at once with no previous mask (an undo re-sends the remaining ones) are
  replayed one at a time, so the mask is the one the person saw.

GrabCut runs at full resolution for a small window and reduced to a fixed pixel budget for
a large one, so the latency is bounded; a reduced result is upsampled with a gray-guided
filter so its edges follow the full image. Boxes are cut over a window around the box.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from .click_geodesic import geodesic_distance, step_costs
from .graph_cut import recut
from .refine import gray_guided

CROP_PIXELS = 60_000  # GrabCut sees the crop around the object at most this big: ~60 ms a click
ITERATIONS = 2
FIRST_REACHES = (0.1, 0.15, 0.22)  # first click: reaches tried, x the image's short side
FIRST_BUDGET = 40_000  # pixels of each of those cuts at most
MOTION_REACHES = (0.1, 0.15, 0.22, 0.3)  # ... when the clicked pixels move on their own (a video):
# the cut whose inside moves like the click and whose surroundings do not is kept
REACH_PER_DEPTH = 2.0  # ... the two nearest to this x how deep the click sits in what moves like it
MOTION_CONTRAST = 1.5  # the click "moves on its own" when its motion exceeds this x the frame's median
MOTION_ODDS = 9.0  # a later click's cut: moving like the clicks is at most this to one for the object
MOTION_CUE = 1.0  # ... and that log-odds' weight against the colour models'
FIRST_REACH = 0.15  # first click: radius of the probably-object disk, x the image's short side
HARD_FRACTION = 0.35  # part of a click's disk that is certainly on its side
DISK_CAP = 1.0  # a later click's probable disk: at most this x the first click's (a far click
# on a thin part would otherwise mark a wide stretch of background as probably-object)
DOT = 0.008  # smallest seed disk, x the image's long side
EDGE_COST = 0.1  # geodesic distance: image pixels per unit of Lab colour change (0..255 scale)
WINDOW = 3.0  # a correcting click re-cuts this x its distance to the mask's edge around it


def segment_prompt(
    image: np.ndarray,
    points: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    box: np.ndarray | None = None,
    previous: np.ndarray | None = None,
    motion: np.ndarray | None = None,
) -> np.ndarray:
    """The object that the prompts point at.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        points: (N, 2) float (x, y) pixel coordinates, or None; in the order given.
        labels: (N,) int, 1 = on the object, 0 = not on it.
        box: (4,) (x0, y0, x1, y1) around the object, or None.
        previous: (H, W) bool, the object's mask on this frame before these prompts (the
            result of the previous click), or None.
        motion: (H, W) float32, how far each pixel moves unlike the camera
            (:func:`.moving.independent_motion`), or None (a still image): it helps choose
            the first click's cut, and it is a cue of its own in later ones.

    Returns:
        (H, W) bool mask: the connected parts that hold a positive point (or, with a box
        only, the whole cut inside the box); correcting ``previous``, also the parts that
        keep some of it outside the re-cut window.
    """
    h, w = image.shape[:2]
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, float).reshape(-1, 2)
    lbl = np.zeros(0, int) if labels is None else np.asarray(labels, int).reshape(-1)
    prev = None if previous is None or not np.any(previous) else np.asarray(previous, bool)
    if box is not None:
        return _global_cut(image, pts, lbl, box, prev)
    if prev is not None:
        return _local_cut(image, pts, lbl, prev, motion)
    # No mask yet: replay the clicks one by one, so that the mask is the same as when they
    # were given one at a time (an undo re-sends all the remaining clicks at once).
    mask = None
    for k in range(1, len(pts) + 1):
        if mask is None or not mask.any():
            mask = _first_cut(image, pts[:k], lbl[:k], motion)
        else:
            mask = _local_cut(image, pts[:k], lbl[:k], mask, motion)
    return np.zeros((h, w), bool) if mask is None else mask


def _global_cut(image, pts, lbl, box, prev, reach: float = FIRST_REACH, budget: int = CROP_PIXELS) -> np.ndarray:
    """GrabCut over a window around everything prompted: boxes, and the first click(s).

    ``pts`` (N, 2) float and ``lbl`` (N,) int are the clicks, ``box`` (4,) or None,
    ``prev`` (H, W) bool or None; returns the (H, W) bool mask.
    """
    h, w = image.shape[:2]
    positive = pts[lbl == 1]
    if prev is None and box is None and len(positive) == 0:
        return np.zeros((h, w), bool)

    # Cut only a window around what may be the object: faster, and far-away look-alikes
    # cannot join; outside it everything is background. Its resolution is chosen so that it
    # holds at most CROP_PIXELS: a small object is cut at full resolution (its details
    # survive), a large one at a reduced one (the latency stays bounded).
    reach_first = reach * min(h, w)
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
    scale = min(1.0, np.sqrt(budget / ((c1 - c0) * (r1 - r0))))
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
    _seed_clicks(seed, small, to_small(pts), lbl, prev_small, reach_first * scale, max(2, round(DOT * max(h, w) * scale)), scale)

    out = np.zeros((h, w), bool)
    if not np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        return out
    _grabcut(small, seed)
    result = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if box is None or len(positive):
        result = keep_components(result, to_small(positive))
    out[r0:r1, c0:c1] = _upsample(result, crop, scale)
    return out


def _first_cut(image: np.ndarray, pts: np.ndarray, lbl: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
    """The mask from clicks with no mask before them: (N, 2) float ``pts``, (N,) int ``lbl``.

    How far the first click reaches decides what GrabCut takes: too little and it finds
    nothing, too much and it takes the background around a small object. A few reaches are
    tried, side by side, and one cut is kept:

    - in a video whose clicked pixels move on their own (``motion``, see :mod:`.moving`),
      the two reaches of MOTION_REACHES nearest to what the moving region suggests, and the
      cut kept is the one whose inside moves like the click and whose surroundings do not;
    - otherwise FIRST_REACHES, and the cut kept is the one whose positive clicks sit most
      in its middle (their distance to its edge over its largest such distance): people,
      and the standard clicker, click the middle of an object.

    Returns the (H, W) bool mask.
    """
    h, w = image.shape[:2]
    positive = np.clip(np.round(pts[lbl == 1]).astype(int), 0, [w - 1, h - 1])
    moves_like_click = _moves_like(motion, positive, _dot(h, w))
    reaches = FIRST_REACHES if moves_like_click is None else _motion_reaches(moves_like_click, positive)
    # The cuts are independent and OpenCV releases the GIL: run them side by side.
    with ThreadPoolExecutor(len(reaches)) as pool:
        masks = list(pool.map(lambda reach: _global_cut(image, pts, lbl, None, None, reach, FIRST_BUDGET), reaches))
    best, best_score = None, -np.inf
    for mask in masks:
        if not mask[positive[:, 1], positive[:, 0]].all():
            continue
        inside = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
        depth = inside[positive[:, 1], positive[:, 0]].min()
        if depth <= 2 * _dot(h, w):
            continue  # the cut barely reaches past the clicks' own seeds: it found nothing
        score = depth / inside.max() if moves_like_click is None else _motion_contrast(mask, moves_like_click)
        if score > best_score:
            best, best_score = mask, score
    if best is None:
        # No reach gave a cut through the clicks at the reduced budget: the usual reach at
        # the full one.
        best = _global_cut(image, pts, lbl, None, None)
    return best


def _motion_reaches(moves_like_click: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """The two reaches of MOTION_REACHES nearest (in ratio) to REACH_PER_DEPTH x how deep the
    (N, 2) int ``positive`` clicks sit in the region that moves like them, (H, W) float32
    ``moves_like_click`` > 0.5. The flow is too blurred to give the object's edge, but it
    does give its size."""
    moving = np.pad((moves_like_click > 0.5).astype(np.uint8), 1)
    depth = cv2.distanceTransform(moving, cv2.DIST_L2, 3)[1:-1, 1:-1][positive[:, 1], positive[:, 0]].min()
    wanted = max(REACH_PER_DEPTH * depth / min(moves_like_click.shape), 1e-3)
    nearest = sorted(MOTION_REACHES, key=lambda reach: abs(np.log(reach / wanted)))
    return nearest[0], nearest[1]


def _moves_like(motion: np.ndarray | None, positive: np.ndarray, dot: int) -> np.ndarray | None:
    """(H, W) float32 in [0, 1]: how far each pixel moves like the positive clicks, or None.

    ``motion`` (H, W) float32 residual motion (px) or None, ``positive`` (N, 2) int (x, y)
    clicks. 1 = as much as the clicks, 0 = as little as the frame's typical (background)
    pixel. None when the clicked pixels do not move apart from the background: then motion
    says nothing about them.
    """
    if motion is None or len(positive) == 0:
        return None
    dots = np.zeros(motion.shape, np.uint8)
    for x, y in positive:
        cv2.circle(dots, (int(x), int(y)), dot, 1, -1)
    clicked = float(np.median(motion[dots > 0]))
    background = float(np.median(motion[::4, ::4]))
    if clicked < MOTION_CONTRAST * background + 0.5:
        return None
    return np.clip((motion - background) / (clicked - background), 0.0, 1.0)


def _motion_contrast(mask: np.ndarray, moves_like_click: np.ndarray) -> float:
    """How well (H, W) bool ``mask`` singles out what moves like the click: the mean of
    (H, W) float32 ``moves_like_click`` inside it less its mean in a ring around it (the
    mask's box grown by half its size, less the mask)."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    dy, dx = (y1 - y0) // 2, (x1 - x0) // 2
    window = (slice(max(0, y0 - dy), y1 + dy), slice(max(0, x0 - dx), x1 + dx))
    around = moves_like_click[window][~mask[window]]
    return float(moves_like_click[mask].mean() - (around.mean() if around.size else 0.0))


def _local_cut(image: np.ndarray, pts: np.ndarray, lbl: np.ndarray, prev: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
    """Correct ``prev`` (H, W) bool around the clicks that it gets wrong; returns (H, W) bool.

    ``pts`` (N, 2) float and ``lbl`` (N,) int are all the clicks. A click that ``prev``
    gets wrong (a positive one outside it, a negative one inside) sits in an error region
    about as wide as its distance ``d`` to the mask's edge; only a window of WINDOW x ``d``
    around it is cut again, the rest of ``prev`` is kept, so that a click fixes what it
    points at without undoing the rest of the mask. With ``motion`` ((H, W) float32, see
    :mod:`.moving`), moving like the positive clicks counts for the object in that cut.
    """
    h, w = prev.shape
    xy = np.clip(np.round(pts).astype(int), 0, [w - 1, h - 1]).reshape(-1, 2)
    wrong = prev[xy[:, 1], xy[:, 0]] != (lbl == 1)
    if not wrong.any():
        return _enforce_clicks(prev.copy(), xy, lbl, _dot(h, w))
    to_fg = cv2.distanceTransform((~prev).astype(np.uint8), cv2.DIST_L2, 3)
    to_bg = cv2.distanceTransform(np.pad(prev.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    d = np.where(lbl == 1, to_fg[xy[:, 1], xy[:, 0]], to_bg[xy[:, 1], xy[:, 0]])[wrong]
    reach = WINDOW * d + 0.03 * max(h, w)
    c0, r0 = (np.maximum(0, xy[wrong] - reach[:, None]).min(0)).astype(int)
    c1, r1 = (np.minimum([w, h], xy[wrong] + reach[:, None] + 1).max(0)).astype(int)

    scale = min(1.0, np.sqrt(CROP_PIXELS / ((c1 - c0) * (r1 - r0))))
    sw, sh = max(1, round((c1 - c0) * scale)), max(1, round((r1 - r0) * scale))
    crop = np.ascontiguousarray(image[r0:r1, c0:c1])
    small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else crop
    prev_small = cv2.resize(prev[r0:r1, c0:c1].astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0.5
    seed = np.where(prev_small, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    # Where the window's edge is inside the image, it joins the kept part of ``prev``: fix
    # it there, so that the cut continues the mask outside instead of ending in a step.
    fixed = np.where(prev_small, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
    if r0 > 0:
        seed[0] = fixed[0]
    if r1 < h:
        seed[-1] = fixed[-1]
    if c0 > 0:
        seed[:, 0] = fixed[:, 0]
    if c1 < w:
        seed[:, -1] = fixed[:, -1]
    reach_first = FIRST_REACH * min(h, w) * scale
    _seed_clicks(seed, small, (pts - [c0, r0]) * scale, lbl, prev_small, reach_first, max(2, round(_dot(h, w) * scale)), scale)
    moves_like_click = _moves_like(motion, xy[lbl == 1], _dot(h, w))
    cue = None
    if moves_like_click is not None:
        like = cv2.resize(moves_like_click[r0:r1, c0:c1], (sw, sh), interpolation=cv2.INTER_AREA)
        # At most MOTION_ODDS to one either way: parts of an object stand still (a foot on
        # the ground) and parts of the background move (water, smoke).
        prob = (1 + (MOTION_ODDS - 1) * like) / (1 + MOTION_ODDS)
        cue = MOTION_CUE * np.log(prob / (1 - prob))
    _grabcut(small, seed, cue)
    out = prev.copy()
    out[r0:r1, c0:c1] = _upsample(np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8), crop, scale)
    out = _enforce_clicks(out, xy, lbl, _dot(h, w))
    # New parts that hold no positive click and do not reach the kept mask are strays.
    inner = np.zeros((h, w), bool)
    inner[r0 + 1 : r1 - 1, c0 + 1 : c1 - 1] = True
    _, parts = cv2.connectedComponents(out.astype(np.uint8), connectivity=8)
    keep = np.union1d(parts[xy[lbl == 1, 1], xy[lbl == 1, 0]], parts[out & prev & ~inner])
    return np.isin(parts, keep[keep > 0])


def _dot(h: int, w: int) -> int:
    """Radius of a click's certain seed in full-resolution pixels."""
    return max(2, round(DOT * max(h, w)))


def _enforce_clicks(mask: np.ndarray, xy: np.ndarray, lbl: np.ndarray, dot: int) -> np.ndarray:
    """Paint each click's dot (:func:`_dot_radii`) into (H, W) bool ``mask`` on its side.

    ``xy`` (N, 2) int full-resolution pixels. Resizing and the guided upsampling can shift
    an edge by a pixel or two; a click must stay on its side whatever happens.
    """
    paint = mask.astype(np.uint8)
    for (x, y), label, radius in zip(xy, lbl, _dot_radii(xy, lbl, dot)):
        cv2.circle(paint, (int(x), int(y)), radius, int(label == 1), -1)
    return paint > 0


def _dot_radii(xy: np.ndarray, lbl: np.ndarray, dot: int) -> np.ndarray:
    """(N,) int radius of each click's certain dot: ``dot``, but under half the way to the
    nearest click of the other label. Two such clicks close together say that the edge runs
    between them; full dots would each cover the other side of it, and every click would
    undo the last one. ``xy`` (N, 2) int pixels, ``lbl`` (N,) int."""
    radii = np.full(len(xy), dot)
    for i in range(len(xy)):
        other = xy[lbl != lbl[i]]
        if len(other):
            gap = float(np.hypot(*(other - xy[i]).T).min())
            radii[i] = int(np.clip(gap / 2 - 1, 1, dot))
    return radii


def _grabcut(small: np.ndarray, seed: np.ndarray, cue: np.ndarray | None = None) -> None:
    """Run GrabCut on (h, w, 3) uint8 RGB ``small`` from the (h, w) uint8 labels ``seed``,
    in place; does nothing when every pixel is on one side already. With ``cue`` ((h, w)
    float32 log-odds for the object), its last iteration is made with the cue added
    (:func:`.graph_cut.recut`)."""
    has_fg = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).any()
    has_bg = np.isin(seed, (cv2.GC_BGD, cv2.GC_PR_BGD)).any()
    if not (has_fg and has_bg):
        return
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    # GrabCut seeds its colour GMMs with k-means from OpenCV's global RNG: fix it, so the
    # same clicks give the same mask.
    cv2.setRNGSeed(0)
    if cue is None:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seed, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    else:
        # GrabCut's last iteration is made by recut instead, with the cue.
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seed, None, bgd, fgd, ITERATIONS - 1, cv2.GC_INIT_WITH_MASK)
        recut(small, seed, bgd, fgd, cue)


def _upsample(result: np.ndarray, crop: np.ndarray, scale: float) -> np.ndarray:
    """(h, w) uint8 cut at ``scale`` -> (H, W) bool at the resolution of (H, W, 3) ``crop``.

    A reduced cut is upsampled with a gray-guided filter, so its edges follow the full image.
    """
    if scale >= 1:
        return result > 0
    soft = cv2.resize(result.astype(np.float32), crop.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    return gray_guided(gray, soft, radius=max(2, round(1 / scale)), eps=1e-3) > 0.5


def _seed_clicks(
    seed: np.ndarray, small: np.ndarray, pts: np.ndarray, lbl: np.ndarray, prev: np.ndarray | None, reach_first: float, dot: int, scale: float
) -> None:
    """Lay the click seeds into ``seed`` (h, w) uint8 GrabCut labels, in place.

    ``small`` (h, w, 3) uint8 RGB is the image that is cut, ``pts`` (N, 2) and ``prev``
    (h, w) bool are in its pixels; ``reach_first`` is the first click's reach and ``dot`` the
    smallest seed radius, in the same pixels; ``scale`` is these pixels per image pixel.

    A click's probable and certain regions are geodesic balls around it (see
    :mod:`.click_geodesic`): they stop at colour edges, so a click on a thin or small part
    does not claim the background around it.
    """
    sh, sw = seed.shape
    if prev is not None:
        # Distance of every pixel to the mask (outside) and to the background (inside).
        to_fg = cv2.distanceTransform((~prev).astype(np.uint8), cv2.DIST_L2, 3)
        to_bg = cv2.distanceTransform(np.pad(prev.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    reach_first = max(dot, round(reach_first))
    xy = np.clip(np.round(pts).astype(int), 0, [sw - 1, sh - 1]).reshape(-1, 2)
    probable, hard = [], []  # (click index, radius)
    for i, ((xi, yi), label) in enumerate(zip(xy, lbl)):
        if prev is None:
            # No mask to measure against: a generous reach is probably the object
            # (positive), a smaller one probably not (negative).
            radius, core = (reach_first if label == 1 else reach_first // 2), dot
        else:
            radius = to_fg[yi, xi] if label == 1 else to_bg[yi, xi]
            core = min(max(dot, HARD_FRACTION * radius), reach_first)
            radius = min(radius, DISK_CAP * reach_first)
        if radius > dot:
            probable.append((i, radius))
        hard.append((i, core))
    costs = None
    balls = {}
    for i, radius in probable:
        side = cv2.GC_PR_FGD if lbl[i] == 1 else cv2.GC_PR_BGD
        costs = costs or step_costs(small, (EDGE_COST if prev is not None else 0.0) * scale)
        balls[i] = _geodesic_ball(costs, xy[i], dot, radius)
        seed[balls[i][0]][balls[i][1] <= radius] = side
    # Hard seeds last, so that no probable region overwrites a click.
    dots = _dot_radii(xy, lbl, dot)
    for i, core in hard:
        cv2.circle(seed, tuple(int(v) for v in xy[i]), int(dots[i]), cv2.GC_FGD if lbl[i] == 1 else cv2.GC_BGD, -1)
        if i in balls and core > dot:
            seed[balls[i][0]][balls[i][1] <= core] = cv2.GC_FGD if lbl[i] == 1 else cv2.GC_BGD


def _geodesic_ball(costs: tuple[np.ndarray, np.ndarray], xy: np.ndarray, dot: int, radius: float) -> tuple[tuple[slice, slice], np.ndarray]:
    """Geodesic distance from the dot of radius ``dot`` at ``xy`` within ``radius``.

    Returns the window (a pair of slices) that holds every pixel within ``radius`` and the
    (h, w) float32 geodesic distance over it; a step costs at least a pixel, so nothing
    outside the window is nearer than ``radius``.
    """
    horizontal, vertical = costs
    x, y = int(xy[0]), int(xy[1])
    r = int(np.ceil(radius)) + dot
    rows = slice(max(0, y - r), min(horizontal.shape[0], y + r + 1))
    cols = slice(max(0, x - r), min(horizontal.shape[1], x + r + 1))
    seeds = np.zeros((rows.stop - rows.start, cols.stop - cols.start), np.uint8)
    cv2.circle(seeds, (x - cols.start, y - rows.start), dot, 1, -1)
    return (rows, cols), geodesic_distance(seeds > 0, horizontal[rows, cols], vertical[rows, cols])


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
