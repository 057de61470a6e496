"""Propagation of object masks through a video with dense optical flow.

Each step warps the previous frame's masks onto the current frame along OpenCV's DIS
optical flow (computed from the current frame back to the previous one, so every pixel
of the current frame looks up where it came from), then resolves overlaps so each pixel
belongs to at most one object. Work happens on a downscaled copy of the video; masks are
upscaled at the end. A sharp change of the colour histogram is taken as a scene cut: the
objects are then lost rather than dragged onto the new shot.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...masks import decode, encode


@dataclass(frozen=True)
class TrackerConfig:
    work_side: int = 480  # long side of the working resolution, px
    flow_preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    cut_correlation: float = 0.5  # HSV histogram correlation below this = scene cut


class FlowTracker:
    """Stateless helpers bound to one video's working resolution."""

    def __init__(self, height: int, width: int, config: TrackerConfig):
        self.config = config
        self.full_size = (height, width)
        scale = min(1.0, config.work_side / max(height, width))
        self.work_size = (max(1, round(height * scale)), max(1, round(width * scale)))
        self._flow = cv2.DISOpticalFlow_create(config.flow_preset)
        wh, ww = self.work_size
        self._grid = np.stack(np.meshgrid(np.arange(ww, dtype=np.float32), np.arange(wh, dtype=np.float32)), -1)

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(work-resolution gray uint8 image, normalised HSV histogram) of an RGB frame."""
        small = cv2.resize(image, self.work_size[::-1], interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
        return gray, cv2.normalize(hist, None).ravel()

    def is_cut(self, hist_prev: np.ndarray, hist: np.ndarray) -> bool:
        return cv2.compareHist(hist_prev, hist, cv2.HISTCMP_CORREL) < self.config.cut_correlation

    def warp(self, gray_prev: np.ndarray, gray: np.ndarray, masks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Carry work-resolution float32 masks from the previous frame onto the current one."""
        if not masks:
            return {}
        flow = self._flow.calc(gray, gray_prev, None)
        coords = self._grid + flow
        return {
            obj: cv2.remap(m, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            for obj, m in masks.items()
        }

    def to_work(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) bool full-resolution mask -> work-resolution float32 in [0, 1]."""
        return cv2.resize(mask.astype(np.float32), self.work_size[::-1], interpolation=cv2.INTER_AREA)

    def to_full(self, soft: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Work-resolution soft masks -> full-resolution bool masks, at most one object per pixel."""
        if not soft:
            return {}
        ids = list(soft)
        h, w = self.full_size
        stack = np.stack([cv2.resize(soft[o], (w, h), interpolation=cv2.INTER_LINEAR) for o in ids])
        winner = stack.argmax(0)
        fg = stack.max(0) > 0.5
        return {o: fg & (winner == k) for k, o in enumerate(ids)}


class ClassicSession:
    """Engine session of the classic engine (see :mod:`vseg_widgets.engines.base`)."""

    def __init__(self, video, config: TrackerConfig):
        self.video = video
        self.tracker = FlowTracker(video.height, video.width, config)
        self._conditioning: dict[int, dict[int, np.ndarray]] = {}  # frame -> obj -> (H, W) bool
        self._tracked: dict[int, dict[int, dict]] = {}  # frame -> obj -> RLE of the last output

    # -- prompts ----------------------------------------------------------------------
    def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
        from .interactive import segment_prompt

        if mask is not None and points is None and box is None:
            result = np.asarray(mask, bool)
        else:
            result = segment_prompt(self.video[frame], points, labels, box)
            if mask is not None:  # clicks refine a given mask: add positives' regions only
                result |= np.asarray(mask, bool)
        self._conditioning.setdefault(frame, {})[obj_id] = result
        return self._frame_masks(frame)

    def _frame_masks(self, frame: int) -> dict[int, np.ndarray]:
        """Masks of every object known on ``frame``; prompted objects win over tracked ones."""
        cond = self._conditioning.get(frame, {})
        out = {obj: decode(rle) for obj, rle in self._tracked.get(frame, {}).items() if obj not in cond}
        taken = np.zeros(self.tracker.full_size, bool)
        for mask in cond.values():
            taken |= mask
        out = {obj: m & ~taken for obj, m in out.items()}
        out.update(cond)
        return out

    def remove_object(self, obj_id: int) -> None:
        for per_frame in (*self._conditioning.values(), *self._tracked.values()):
            per_frame.pop(obj_id, None)

    def reset(self) -> None:
        self._conditioning.clear()
        self._tracked.clear()

    # -- propagation ------------------------------------------------------------------
    def propagate(self, start_frame: int, reverse: bool = False):
        step = -1 if reverse else 1
        stop = -1 if reverse else len(self.video)
        state: dict[int, np.ndarray] = {}  # obj -> work-resolution float32 mask
        prev = None
        for t in range(start_frame, stop, step):
            gray, hist = self.tracker.prepare(self.video[t])
            if prev is not None:
                if self.tracker.is_cut(prev[1], hist):
                    state = {obj: np.zeros_like(m) for obj, m in state.items()}
                else:
                    state = self.tracker.warp(prev[0], gray, state)
            if t == start_frame:  # resume from what an earlier run left here
                for obj, rle in self._tracked.get(t, {}).items():
                    state[obj] = self.tracker.to_work(decode(rle))
            cond = self._conditioning.get(t, {})
            for obj, mask in cond.items():
                state[obj] = self.tracker.to_work(mask)
            masks = self.tracker.to_full({o: m for o, m in state.items() if o not in cond})
            if cond:
                taken = np.logical_or.reduce(list(cond.values()))
                masks = {o: m & ~taken for o, m in masks.items()}
                masks.update(cond)
            # Re-binarise the state so that blur does not accumulate over many warps.
            state = {o: self.tracker.to_work(m) for o, m in masks.items()}
            self._tracked[t] = {o: encode(m) for o, m in masks.items()}
            yield t, masks
            prev = (gray, hist)
