"""Brush strokes -> masks: the player's brush and eraser, rasterised at full frame resolution.

A stroke is what the pointer drew: a polyline of points in frame pixels and a radius. It
covers exactly the pixels whose centre lies within ``radius`` of the polyline (a round
brush dragged along it), at the video's own resolution, whatever the size the player is
shown at.

Coordinates are the player's: pixel (col i, row j) covers [i, i + 1) x [j, j + 1), so its
centre is (i + 0.5, j + 0.5).

Why not ``cv2.circle`` / ``cv2.line``: they take integer centres (or fixed-point ones whose
discs come out a pixel off-centre), so a stroke would snap to the pixel grid; the distance
to each segment, computed in the segment's bounding box only, is exact and as fast for
brush-sized strokes (a few ms for hundreds of points).
"""

from __future__ import annotations

import numpy as np


def rasterize_stroke(points, radius: float, shape: tuple[int, int]) -> np.ndarray:
    """Pixels a round brush of ``radius`` covers along ``points``.

    Args:
        points: (N, 2) float (x, y) in frame pixels, N >= 1, in drawing order (one point
            is a dab).
        radius: brush radius in pixels (> 0).
        shape: (H, W) of the frame.

    Returns:
        (H, W) bool: True where the pixel centre is within ``radius`` of the polyline.
    """
    h, w = shape
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    out = np.zeros((h, w), bool)
    segments = zip(pts, pts[1:]) if len(pts) > 1 else [(pts[0], pts[0])]
    r2 = float(radius) ** 2
    for a, b in segments:
        x0 = max(0, int(np.floor(min(a[0], b[0]) - radius)))
        x1 = min(w, int(np.ceil(max(a[0], b[0]) + radius)) + 1)
        y0 = max(0, int(np.floor(min(a[1], b[1]) - radius)))
        y1 = min(h, int(np.ceil(max(a[1], b[1]) + radius)) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        cx = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5 - a[0]
        cy = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5 - a[1]
        d = b - a
        length2 = float(d @ d)
        # nearest point of the segment: a + t (b - a), t clamped to [0, 1]
        t = np.clip((cx * d[0] + cy * d[1]) / length2, 0.0, 1.0) if length2 > 0 else 0.0
        out[y0:y1, x0:x1] |= (cx - t * d[0]) ** 2 + (cy - t * d[1]) ** 2 <= r2
    return out
