"""A per-object colour model learned online: what the object looks like, against its surroundings.

Flow alone drifts and loses fast objects; colour tells the object from the background
where flow fails and lets a lost object be found again. Each object gets a pair of
colour histograms in a quantised CIE Lab space (a joint 16 x 16 x 16 grid): one of its own
pixels, one of the background *around* it (a band outside its mask, where the decisions are
made, plus a little of the whole frame). Their likelihood ratio is a lookup table, so scoring
a frame costs one indexing pass. The model is fitted on the prompted frames (keyframes, kept
as an anchor so the model cannot drift away from what the user showed) and updated from the
confident pixels of tracked frames.
"""

from __future__ import annotations

import cv2
import numpy as np

LEVELS = 16  # bins per Lab channel
BINS = LEVELS**3


def colour_index(image_rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 RGB -> (h, w) int32 bin of each pixel in the joint Lab grid.

    L is split evenly; a and b, which in natural images rarely leave 64..192, are split
    over that range (outliers clip to the end bins) so the grid is not mostly empty.
    """
    lab = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2Lab)
    q = lab.astype(np.int32)
    l_bin = q[..., 0] >> 4
    a_bin = np.clip((q[..., 1] - 64) >> 3, 0, LEVELS - 1)
    b_bin = np.clip((q[..., 2] - 64) >> 3, 0, LEVELS - 1)
    return (l_bin * LEVELS + a_bin) * LEVELS + b_bin


def histogram(index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(BINS,) float64 weighted histogram of (h, w) bins ``index`` with (h, w) ``weight``."""
    return np.bincount(index.ravel(), weights=weight.ravel(), minlength=BINS)


def _smooth(hist: np.ndarray) -> np.ndarray:
    """Blur a histogram over neighbouring bins (a [1, 2, 1] kernel per axis), so colours
    seen once generalise to slightly different lighting; returns it normalised to sum 1."""
    cube = hist.reshape(LEVELS, LEVELS, LEVELS)
    for axis in range(3):
        cube = 0.5 * cube + 0.25 * (np.roll(cube, 1, axis) + np.roll(cube, -1, axis))
    total = cube.sum()
    return (cube / total).ravel() if total > 0 else np.full(BINS, 1.0 / BINS)


class ColourModel:
    """Foreground/background colour histograms of one object.

    Attributes:
        fg, bg: (BINS,) float64 normalised histograms (keyframe anchor mixed with the
            running estimate).
    """

    def __init__(self, anchor: float = 0.5):
        self.anchor = anchor  # weight of the keyframe histograms in the mix
        self.key_fg = self.key_bg = None
        self.run_fg = self.run_bg = None
        self._lut = None

    @property
    def ready(self) -> bool:
        return self.key_fg is not None

    @staticmethod
    def sample(index: np.ndarray, mask: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
        """Histograms (fg, bg) of one frame: bins ``index`` (h, w) int32, ``mask`` (h, w) bool.

        The background is the band of ``band`` px around the mask (weight 1) plus the rest
        of the frame (weight 0.1): the near background is what the object must be told from.
        """
        m = mask.astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
        near = cv2.dilate(m, kernel) > 0
        bg_w = np.where(mask, 0.0, np.where(near, 1.0, 0.1))
        return histogram(index, mask.astype(np.float64)), histogram(index, bg_w)

    def add_keyframe(self, index: np.ndarray, mask: np.ndarray, band: int) -> None:
        """Fit (or extend) the anchor from a prompted frame's exact mask."""
        fg, bg = self.sample(index, mask, band)
        if fg.sum() < 1:
            return
        fg, bg = _smooth(fg), _smooth(bg)
        if self.key_fg is None:
            self.key_fg, self.key_bg = fg, bg
        else:
            self.key_fg, self.key_bg = 0.5 * (self.key_fg + fg), 0.5 * (self.key_bg + bg)
        self.run_fg, self.run_bg = self.key_fg.copy(), self.key_bg.copy()
        self._lut = None

    def update(self, index: np.ndarray, mask: np.ndarray, band: int, rate: float) -> None:
        """Move the running estimate towards one tracked frame's histograms."""
        if not self.ready or not mask.any():
            return
        fg, bg = self.sample(index, mask, band)
        self.run_fg = (1 - rate) * self.run_fg + rate * _smooth(fg)
        self.run_bg = (1 - rate) * self.run_bg + rate * _smooth(bg)
        self._lut = None

    def lut(self, key_only: bool = False) -> np.ndarray:
        """(BINS,) float32 P(object | colour) with equal priors (a likelihood ratio)."""
        if key_only:
            fg, bg = self.key_fg, self.key_bg
        else:
            if self._lut is not None:
                return self._lut
            a = self.anchor
            fg = a * self.key_fg + (1 - a) * self.run_fg
            bg = a * self.key_bg + (1 - a) * self.run_bg
        eps = 0.05 / BINS
        lut = ((fg + eps) / (fg + bg + 2 * eps)).astype(np.float32)
        if not key_only:
            self._lut = lut
        return lut

    def posterior(self, index: np.ndarray, key_only: bool = False) -> np.ndarray:
        """(h, w) float32 P(object | colour) of every pixel."""
        return self.lut(key_only)[index]

    def similarity(self, index: np.ndarray, region: np.ndarray) -> float:
        """Bhattacharyya coefficient in [0, 1] between a region's colours and the keyframe object."""
        h = _smooth(histogram(index, region.astype(np.float64)))
        return float(np.sqrt(h * self.key_fg).sum())
