"""Local colour models around the object's contour (dense Video SnapCut, Bai et al. 2009).

A global colour model cannot tell a grey car from the grey road beside it, but within a
small window on the contour the object and its background usually differ. Video SnapCut
places overlapping windows along the contour, each with its own foreground/background
colour model fitted on the previous frame and moved by the flow. Here every pixel is the
centre of such a window: each window's model is one Gaussian per side in Lab, whose
moments (weight, mean, covariance) are box-filtered sums over the previous frame, so all
windows cost a few box filters. The current pixel is scored with the window it came from
(the flow's source position), which is the "moved by the flow" of SnapCut.
"""

from __future__ import annotations

import cv2
import numpy as np

# Regularises each window's covariance (Lab units squared): colours a few units apart are
# not told apart, so a window with one flat colour does not claim perfect confidence.
COV_EPS = 9.0
# Evidence below this fraction of the window on either side: the window has no model there.
MIN_SIDE = 0.08


def lab_float(image_rgb_float: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32 RGB in [0, 1] -> (h, w, 3) float32 Lab (L 0..100, a, b about -100..100)."""
    return cv2.cvtColor(image_rgb_float, cv2.COLOR_RGB2Lab)


class LocalColour:
    """Per-window Gaussian colour models of object and background, from one frame.

    Args:
        lab: (h, w, 3) float32 Lab image of the frame the models are fitted on.
        soft: (h, w) float32 in [0, 1], the object's (soft) mask on that frame.
        radius: window radius, px.
    """

    def __init__(self, lab: np.ndarray, soft: np.ndarray, radius: int):
        self.radius = radius
        k = (2 * radius + 1, 2 * radius + 1)
        l0, l1, l2 = lab[..., 0], lab[..., 1], lab[..., 2]
        # Raw moments of colour, weighted by the mask: 1, c_i, c_i c_j (10 channels).
        raw = cv2.merge([np.ones_like(l0), l0, l1, l2, l0 * l0, l0 * l1, l0 * l2, l1 * l1, l1 * l2, l2 * l2])
        # Window sums, not yet divided by the window's area: only the windows that score a
        # pixel are (:meth:`logit`), a few of them.
        self._fg = cv2.boxFilter(raw * soft[..., None], -1, k, normalize=False, borderType=cv2.BORDER_REFLECT)
        self._total = cv2.boxFilter(raw, -1, k, normalize=False, borderType=cv2.BORDER_REFLECT)
        self._area = float(k[0] * k[1])

    def logit(self, lab: np.ndarray, src_x: np.ndarray, src_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-likelihood ratio object : background of pixels, and the window's say.

        Args:
            lab: (n, 3) float32 Lab colours of the current-frame pixels to score.
            src_x, src_y: (n,) int32, the window (pixel of the fitted frame) that scores each.

        Returns:
            logit: (n,) float32 log N(c; fg) - log N(c; bg) of the window's two Gaussians.
            weight: (n,) float32 in [0, 1]; 0 where a side has too little evidence in the window.
        """
        # Gathered by flat index, and laid out (10, n): the arithmetic below then runs on
        # contiguous rows (twice as fast as on the columns of (n, 10), same values).
        at = src_y * self._fg.shape[1] + src_x
        fg = np.ascontiguousarray(self._fg.reshape(-1, 10).take(at, axis=0).T)
        f = fg / self._area  # (10, n) moments per window, divided by the window's area
        b = (np.ascontiguousarray(self._total.reshape(-1, 10).take(at, axis=0).T) - fg) / self._area
        lab = np.ascontiguousarray(lab.T)
        lf, nf = _log_gauss(lab, f)
        lb, nb = _log_gauss(lab, b)
        weight = np.clip(np.minimum(nf, nb) / MIN_SIDE - 1.0, 0.0, 1.0)
        return (lf - lb).astype(np.float32), weight.astype(np.float32)


def _log_gauss(c: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log density of (3, n) colours under Gaussians given by (10, n) raw moments; and n0."""
    n = np.maximum(m[0], 1e-6)
    mu = m[1:4] / n
    s00 = m[4] / n - mu[0] ** 2 + COV_EPS
    s01 = m[5] / n - mu[0] * mu[1]
    s02 = m[6] / n - mu[0] * mu[2]
    s11 = m[7] / n - mu[1] ** 2 + COV_EPS
    s12 = m[8] / n - mu[1] * mu[2]
    s22 = m[9] / n - mu[2] ** 2 + COV_EPS
    # Inverse of the symmetric 3x3 covariance by cofactors (vectorised over pixels).
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    det = np.maximum(s00 * c00 + s01 * c01 + s02 * c02, 1e-3)
    d = c - mu
    maha = (d[0] ** 2 * c00 + d[1] ** 2 * c11 + d[2] ** 2 * c22
            + 2 * (d[0] * d[1] * c01 + d[0] * d[2] * c02 + d[1] * d[2] * c12)) / det
    return -0.5 * (maha + np.log(det)), m[0]
