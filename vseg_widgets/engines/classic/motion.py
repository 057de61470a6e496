"""Motion as a cue of its own: does a pixel move like the object, or like the background?

Colour fails where the background shares the object's colours (green trousers on grass),
and the warped mask then carries the mistake from frame to frame. What still tells them
apart is that they move differently: the background around an object moves as one
(camera motion, close to an affine map over a view), the object does not. So, per view,
the background's motion is fitted as an affine map (RANSAC) on the flow of a ring around
the object, and every pixel's *residual*, how far its flow is from that map, is scored
against two 1-D models: the background's residuals (near zero) and the object's. A pixel
that moves like the background is then less likely the object. An object
that moves like its background (a parked car, a still camera on a still swan) gives no
separation, and the cue then says nothing.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_POINTS = 3000  # flow samples given to RANSAC (the fit needs a few hundred)
MIN_SEPARATION = 2.0  # the object's typical residual must exceed the background's this many times


def motion_logit(coords: np.ndarray, grid: np.ndarray, trust: np.ndarray, inside: np.ndarray, ring: np.ndarray,
                 clip: float = 4.0) -> np.ndarray | None:
    """Log-odds (<= 0) against the object for pixels that move like its background, or None.

    Args:
        coords: (h, w, 2) float32, for each current pixel its (x, y) in the previous frame.
        grid: (h, w, 2) float32 pixel coordinates (x, y) of the current frame.
        trust: (h, w) float32 in [0, 1], how far the flow is believed.
        inside: (h, w) bool, where the object is expected (its warped mask).
        ring: (h, w) bool, background around it.
        clip: the log-odds are clipped at -this.

    Returns:
        (h, w) float32 log-odds <= 0, weighted by ``trust``; None when the object does not move
        differently from its background, or either side has too few reliable pixels.
    """
    reliable = trust > 0.5
    bg_pts = np.flatnonzero((ring & reliable).ravel())
    obj_pts = np.flatnonzero((inside & reliable).ravel())
    if len(bg_pts) < 50 or len(obj_pts) < 50:
        return None
    rng = np.random.default_rng(0)
    sample = bg_pts if len(bg_pts) <= MAX_POINTS else rng.choice(bg_pts, MAX_POINTS, replace=False)
    src = grid.reshape(-1, 2)[sample]
    dst = coords.reshape(-1, 2)[sample]
    affine, _ = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if affine is None:
        return None
    predicted = grid @ affine[:, :2].T.astype(np.float32) + affine[:, 2].astype(np.float32)
    residual = np.sqrt(((coords - predicted) ** 2).sum(-1))
    # Robust spreads: the background's residuals are its noise, the object's its motion.
    bg_scale = float(np.median(residual.ravel()[bg_pts])) + 0.5
    obj_level = float(np.median(residual.ravel()[obj_pts]))
    if obj_level < MIN_SEPARATION * bg_scale:
        return None
    # Background residuals: half-normal of scale bg_scale; the object's: normal around its
    # level, as wide as the level itself (limbs move more than the torso).
    obj_scale = max(obj_level, bg_scale)
    log_bg = -0.5 * (residual / bg_scale) ** 2 - np.log(bg_scale)
    log_obj = -0.5 * ((residual - obj_level) / obj_scale) ** 2 - np.log(obj_scale)
    # Only the "moves like the background" side is used. The other side ("moves
    # otherwise") also fires where the background does not move as one (water, smoke) and
    # bleeds across the object's edges with the flow's smoothing: tried, it lost more
    # than it won.
    cue = np.clip(log_obj - log_bg, -clip, 0.0)
    # Weighted by how well it sorts the pixels whose side is known: it fails on parts of
    # the object that move with the background (a foot on the ground, a slow swan).
    obj, bg = cue.ravel()[obj_pts], cue.ravel()[bg_pts]
    cue *= max(0.0, float((bg < -1).mean() - (obj < -1).mean()))
    return (cue * trust).astype(np.float32)
