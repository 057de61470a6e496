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

The other side, "moves unlike the background, so more likely the object", brings back
parts of the object that the warp and the colours missed (a dog's flank the colour of the
ground, a man pushing a soapbox). It also fires wherever the background does not move as
one (water, smoke, a wake), so it is used only in small measure, only where the colours do
not rule the object out, and only on frames where almost none of the background around
the object moves like it (:func:`motion_logit`'s ``positive`` arguments).
"""

from __future__ import annotations

import numpy as np

from .moving import background_affine, residual_to

MIN_SEPARATION = 2.0  # the object's typical residual must exceed the background's this many times


def motion_logit(coords: np.ndarray, grid: np.ndarray, trust: np.ndarray, inside: np.ndarray, ring: np.ndarray,
                 clip: float = 4.0, positive: float = 0.0, allow: np.ndarray | None = None,
                 max_false: float = 0.05, min_quality: float = 0.5,
                 window: tuple[slice, slice] | None = None) -> np.ndarray | None:
    """Log-odds against the object for pixels that move like its background (and, with
    ``positive``, for it where they move unlike it), or None.

    Args:
        coords: (h, w, 2) float32, for each current pixel its (x, y) in the previous frame.
        grid: (h, w, 2) float32 pixel coordinates (x, y) of the current frame.
        trust: (h, w) float32 in [0, 1], how far the flow is believed.
        inside: (h, w) bool, where the object is expected (its warped mask).
        ring: (h, w) bool, background around it.
        clip: the log-odds are clipped to +-this.
        positive: weight of the "moves unlike the background" side (0: not used).
        allow: (h, w) float32 in [0, 1] (the window's shape with ``window``) or None, where
            that side may speak (the caller's colour evidence).
        max_false: that side is silent on a frame where this fraction of the ``ring``'s
            reliable pixels, or more, would be pushed in (the background does not move as
            one), and fades in below it.
        min_quality: ... and where it sorts the known pixels (fraction of the object pushed
            in, less that of the ring) worse than this.
        window: (rows, cols) of the arrays where the log-odds are wanted, or None for all:
            the background's motion and the statistics still come from the whole ``ring``
            and ``inside``, so the values in the window are the same either way (the
            residual motion is computed everywhere: it costs less than the log-odds).

    Returns:
        (h, w) float32 log-odds (the window's shape with ``window``), weighted by
        ``trust``: <= 0 unless ``positive``; None when the object does not move differently
        from its background, or either side has too few reliable pixels.
    """
    reliable = trust > 0.5
    bg_pts = np.flatnonzero((ring & reliable).ravel())
    obj_pts = np.flatnonzero((inside & reliable).ravel())
    if len(bg_pts) < 50 or len(obj_pts) < 50:
        return None
    affine = background_affine(grid, coords, bg_pts)
    if affine is None:
        return None
    residual = residual_to(affine, grid, coords).ravel()
    bg_residual, obj_residual = residual[bg_pts], residual[obj_pts]
    # Robust spreads: the background's residuals are its noise, the object's its motion.
    bg_scale = float(np.median(bg_residual)) + 0.5
    obj_level = float(np.median(obj_residual))
    if obj_level < MIN_SEPARATION * bg_scale:
        return None
    # Background residuals: half-normal of scale bg_scale; the object's: normal around its
    # level, as wide as the level itself (limbs move more than the torso).
    obj_scale = max(obj_level, bg_scale)

    def log_ratio(residual: np.ndarray) -> np.ndarray:
        log_bg = -0.5 * (residual / bg_scale) ** 2 - np.log(bg_scale)
        log_obj = -0.5 * ((residual - obj_level) / obj_scale) ** 2 - np.log(obj_scale)
        return np.clip(log_obj - log_bg, -clip, clip)

    window = window or (slice(None), slice(None))
    ratio = log_ratio(residual.reshape(trust.shape)[window])
    cue = np.minimum(ratio, 0.0)
    # Weighted by how well it sorts the pixels whose side is known: it fails on parts of
    # the object that move with the background (a foot on the ground, a slow swan).
    obj, bg = log_ratio(obj_residual), log_ratio(bg_residual)
    cue *= max(0.0, float((bg < -1).mean() - (obj < -1).mean()))
    if positive > 0:
        # "Moves otherwise" also fires where the background does not move as one (water,
        # smoke, a swan's wake) and bleeds across the object's edges with the flow's
        # smoothing; used at full weight it lost more than it won. So it is weighted by
        # how cleanly it sorts the known pixels, and dropped where the ring moves unevenly.
        false = float((bg > 1).mean())
        quality = float((obj > 1).mean()) - false
        if quality > min_quality and false < max_false:
            pos = np.maximum(ratio, 0.0) * positive * (quality - min_quality) / (1 - min_quality) * (1 - false / max_false)
            cue += pos if allow is None else pos * allow
    return (cue * trust[window]).astype(np.float32)
