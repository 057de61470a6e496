"""Engines work at a bounded resolution; masks come back at the video's own.

A 4K frame has 8.3 million pixels, 20 times the 854x480 the engines are tuned at. The
prompt models resize to 1024 pixels anyway and the classic tracker crops each object to a
pixel budget, but per-frame work on the whole frame (colour conversion, motion, the masks
themselves) grows with it, and a user's engine may not bound itself at all. So when a video
has more than :data:`MAX_WORKING_PIXELS`, the engine is given the
video scaled down to fit (decoded and scaled on demand, like any :class:`Video`), prompts
are scaled to it, and every mask it returns is scaled back up to (H, W) before anyone sees
it. A mask prompt still comes back exactly as given.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..video import Video

MAX_WORKING_PIXELS = 1920 * 1080  # 1080p and smaller reach the engine as they are
SCALED_CACHE_BYTES = 128 * 2**20


class ScaledVideo(Video):
    """``video`` resized by ``scale`` on demand (INTER_AREA), with its own frame cache."""

    def __init__(self, video: Video, scale: float, cache_bytes: int = SCALED_CACHE_BYTES):
        super().__init__(cache_bytes=cache_bytes)
        self.source = video
        self.width = max(1, round(video.width * scale))
        self.height = max(1, round(video.height * scale))
        self.fps = video.fps

    def __len__(self) -> int:
        return len(self.source)

    @property
    def timestamps(self) -> np.ndarray:
        return self.source.timestamps

    def _decode(self, index: int) -> np.ndarray:
        return cv2.resize(self.source[index], (self.width, self.height), interpolation=cv2.INTER_AREA)


def init_session(engine, video: Video, max_pixels: int = MAX_WORKING_PIXELS):
    """``engine.init_session(video)``, through :class:`BoundedSession` when the video has
    more than ``max_pixels`` pixels a frame."""
    if video.height * video.width <= max_pixels:
        return engine.init_session(video)
    return BoundedSession(engine, video, max_pixels)


class BoundedSession:
    """An engine session on a scaled-down copy of the video, speaking full resolution.

    Points and boxes are scaled by (w / W, h / H); a mask prompt is resized with
    INTER_AREA; returned masks are resized back with bilinear interpolation of the 0/1
    mask, thresholded at 0.5 (smooth edges rather than the scale's blocks).
    """

    def __init__(self, engine, video: Video, max_pixels: int = MAX_WORKING_PIXELS):
        scale = math.sqrt(max_pixels / (video.height * video.width))
        self.video = video
        self.small = ScaledVideo(video, scale)
        self.inner = engine.init_session(self.small)
        self._sx = self.small.width / video.width
        self._sy = self.small.height / video.height

    def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
        if points is not None:
            points = (np.asarray(points, np.float32) * np.float32([self._sx, self._sy])).astype(np.float32)
        if box is not None:
            box = (np.asarray(box, np.float32) * np.float32([self._sx, self._sy, self._sx, self._sy])).astype(np.float32)
        small_mask = None
        if mask is not None:
            small_mask = cv2.resize(mask.astype(np.float32), (self.small.width, self.small.height), interpolation=cv2.INTER_AREA) >= 0.5
        out = self._up(self.inner.add_prompt(frame, obj_id, points=points, labels=labels, box=box, mask=small_mask))
        if mask is not None:
            out[obj_id] = np.asarray(mask, bool)  # a mask prompt is the object's exact mask
        return out

    def propagate(self, start_frame: int, reverse: bool = False):
        for frame, masks in self.inner.propagate(start_frame, reverse=reverse):
            yield frame, self._up(masks)

    def remove_object(self, obj_id: int) -> None:
        self.inner.remove_object(obj_id)

    def reset(self) -> None:
        self.inner.reset()

    def __getattr__(self, name):  # optional extensions (prepare, ready, ...) of the engine's session
        return getattr(self.inner, name)

    def _up(self, masks):
        if not isinstance(masks, dict):
            return masks  # the Segmenter names what is wrong with it
        size = (self.video.width, self.video.height)
        out = {}
        for obj, m in masks.items():
            m = np.asarray(m)
            if m.shape != (self.small.height, self.small.width):
                out[obj] = m  # not the engine's working size: left for the Segmenter's check
                continue
            out[obj] = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5
        return out
