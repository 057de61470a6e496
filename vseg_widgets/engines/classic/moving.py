"""Which pixels move on their own: optical flow to the next frame, less the camera's motion.

A click on a frame of a video comes with more than colours: the object that someone clicks
is, most of the time, one that moves, and it moves differently from the background (on
the first frame of the DAVIS dev sequences, this residual motion alone ranks object pixels
above background pixels with an AUC of 0.74 to 1.0, median 0.97). The background's motion,
the camera's, is fitted as one affine map over the whole frame with RANSAC, the object
being the minority; what is left of a pixel's flow after that map is its own motion.

The flow is coarse (DIS smooths across edges), so this is not a mask: the click code uses
it to choose between candidate cuts (:mod:`.interactive`), and GrabCut draws the edges.
"""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 427  # long side of the resolution the flow is computed at (854x480 -> 427x240)
SAMPLES = 3000  # flow vectors given to RANSAC: the fit needs a few hundred


def independent_motion(image: np.ndarray, neighbour: np.ndarray) -> np.ndarray:
    """How far each pixel of ``image`` moves unlike the camera, on its way to ``neighbour``.

    Args:
        image, neighbour: (H, W, 3) uint8 RGB frames of one shot, next to each other.

    Returns:
        (H, W) float32 residual motion in full-resolution pixels (>= 0): the length of the
        pixel's flow minus the frame's dominant affine motion.
    """
    h, w = image.shape[:2]
    scale = min(1.0, SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    gray = [cv2.cvtColor(cv2.resize(f, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY) for f in (image, neighbour)]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(gray[0], gray[1], None)
    grid = np.stack(np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32)), -1)
    moved = grid + flow
    # A fixed seed: the same frames give the same map, so the same clicks the same mask.
    sample = np.random.default_rng(0).choice(grid.shape[0] * grid.shape[1], min(SAMPLES, grid.shape[0] * grid.shape[1]), replace=False)
    affine, _ = cv2.estimateAffine2D(grid.reshape(-1, 2)[sample], moved.reshape(-1, 2)[sample], method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if affine is None:  # a flat frame: no motion to speak of
        return np.zeros((h, w), np.float32)
    camera = grid @ affine[:, :2].T.astype(np.float32) + affine[:, 2].astype(np.float32)
    residual = np.sqrt(((moved - camera) ** 2).sum(-1)) / scale
    return cv2.resize(residual, (w, h), interpolation=cv2.INTER_LINEAR)
