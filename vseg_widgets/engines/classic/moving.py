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


def background_affine(grid: np.ndarray, target: np.ndarray, background: np.ndarray) -> np.ndarray | None:
    """The background's motion as a (2, 3) float32 affine map, fitted with RANSAC.

    Args:
        grid: (h, w, 2) float32 pixel coordinates (x, y).
        target: (h, w, 2) float32, where each pixel goes (or comes from) in the other frame.
        background: (n,) int flat indices of pixels known to be background; the map is
            fitted to their displacements (at most SAMPLES of them, a fixed draw: the same
            frames give the same answer).

    Returns:
        The map (target ~ grid @ A[:, :2].T + A[:, 2]), or None when none fits.
    """
    if len(background) > SAMPLES:
        background = np.random.default_rng(0).choice(background, SAMPLES, replace=False)
    affine, _ = cv2.estimateAffine2D(grid.reshape(-1, 2)[background], target.reshape(-1, 2)[background],
                                     method=cv2.RANSAC, ransacReprojThreshold=1.0)
    return None if affine is None else affine.astype(np.float32)


def residual_to(affine: np.ndarray, grid: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(h, w) float32 distance of (h, w, 2) float32 ``target`` from where the (2, 3)
    ``affine`` map takes (h, w, 2) float32 ``grid`` (OpenCV's per-pixel calls: a third of
    numpy's time on a view)."""
    error = target - cv2.transform(np.ascontiguousarray(grid), affine)
    return cv2.magnitude(np.ascontiguousarray(error[..., 0]), np.ascontiguousarray(error[..., 1]))


def residual_motion(grid: np.ndarray, target: np.ndarray, background: np.ndarray) -> np.ndarray | None:
    """How far each pixel's displacement is from the background's affine motion
    (:func:`background_affine` of ``background``, (n,) flat pixel indices): (h, w) float32
    residual length in pixels, or None when no map fits.

    Computed with NumPy, not :func:`residual_to`: the click code chooses between candidate
    cuts with it, and OpenCV's rounding, a few 1e-7 px off, changed a click on the DAVIS dev
    sequences (the clicks' figures stay those they were measured with)."""
    affine = background_affine(grid, target, background)
    if affine is None:
        return None
    predicted = grid @ affine[:, :2].T + affine[:, 2]
    return np.sqrt(((target - predicted) ** 2).sum(-1))


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
    return camera_residual(grid, grid + flow, scale, (h, w))


def camera_residual(grid: np.ndarray, target: np.ndarray, scale: float, full_size: tuple[int, int]) -> np.ndarray:
    """The whole frame's motion unlike the camera, from its flow at a reduced resolution.

    Args:
        grid: (h, w, 2) float32 pixel coordinates (x, y) at the flow's resolution.
        target: (h, w, 2) float32, where each pixel goes (or comes from) in the other frame.
        scale: flow pixels per full-resolution pixel.
        full_size: (H, W) of the frame.

    Returns:
        (H, W) float32 residual motion in full-resolution pixels (zeros for a flat frame).
    """
    h, w = full_size
    # The object being the minority, the whole frame stands for the background.
    residual = residual_motion(grid, target, np.arange(grid.shape[0] * grid.shape[1]))
    if residual is None:  # a flat frame: no motion to speak of
        return np.zeros((h, w), np.float32)
    return cv2.resize(residual / scale, (w, h), interpolation=cv2.INTER_LINEAR)
