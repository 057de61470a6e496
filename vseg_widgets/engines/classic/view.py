"""Per-object working regions: a crop around the object, at a resolution chosen for it.

Tracking every object on the whole frame at one reduced resolution starves small objects:
a car of 2,400 px at 854x480 keeps 600 px at 427x240, its boundary is a few pixels that
the flow, the colour models and the edge filter all blur, and a mask off by 2 work pixels
is off by 4 full-resolution ones. Each object is therefore tracked in a *view*: the box
where it is expected (its last box, enlarged by a margin for its motion), cropped from the
full frame and scaled down only as far as needed to fit a pixel budget. A small object is
tracked at full resolution; a large one is downscaled as before, so no view costs more
than the old whole frame did.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class View:
    """A rectangle of the full frame and the scale it is worked at.

    Attributes:
        x0, y0, x1, y1: the crop in full-resolution pixels (x1, y1 exclusive).
        scale: work pixels per full-resolution pixel, in (0, 1].
    """

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) of the view at its working scale."""
        return (max(1, round((self.y1 - self.y0) * self.scale)), max(1, round((self.x1 - self.x0) * self.scale)))

    def crop(self, image: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
        """(H, W[, c]) full-resolution array -> (h, w[, c]) view of it, same dtype."""
        h, w = self.size
        part = image[self.y0 : self.y1, self.x0 : self.x1]
        if part.shape[:2] == (h, w):
            return np.ascontiguousarray(part)
        return cv2.resize(part, (w, h), interpolation=interpolation)

    def paste(self, values: np.ndarray, full_size: tuple[int, int]) -> np.ndarray:
        """(h, w) float32 view values -> (H, W) float32 full frame, zero outside the view."""
        out = np.zeros(full_size, np.float32)
        size = (self.x1 - self.x0, self.y1 - self.y0)
        part = values if values.shape[::-1] == size else cv2.resize(values, size, interpolation=cv2.INTER_LINEAR)
        out[self.y0 : self.y1, self.x0 : self.x1] = part
        return out


def whole(full_size: tuple[int, int], budget: int) -> View:
    """The whole frame, scaled to fit ``budget`` pixels (the search view for lost objects)."""
    h, w = full_size
    return View(0, 0, w, h, min(1.0, float(np.sqrt(budget / (h * w)))))


def around(mask: np.ndarray, full_size: tuple[int, int], budget: int, margin: float, min_margin: int) -> View:
    """The view for an object last seen as (H, W) bool ``mask``.

    The box of the mask is enlarged by ``margin`` x its longer side (at least ``min_margin``
    px) on every side, for the motion until the next frame and for background around the
    object (the colour models need both sides); clipped to the frame; then scaled so its
    area fits ``budget`` pixels, never above full resolution.
    """
    H, W = full_size
    ys, xs = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    if len(ys) == 0:
        return whole(full_size, budget)
    bh, bw = ys[-1] + 1 - ys[0], xs[-1] + 1 - xs[0]
    pad = max(min_margin, int(margin * max(bh, bw)))
    x0, x1 = max(0, xs[0] - pad), min(W, xs[-1] + 1 + pad)
    y0, y1 = max(0, ys[0] - pad), min(H, ys[-1] + 1 + pad)
    scale = min(1.0, float(np.sqrt(budget / ((x1 - x0) * (y1 - y0)))))
    return View(int(x0), int(y0), int(x1), int(y1), scale)
