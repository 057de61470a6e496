"""A tiny deterministic engine and a worked session, for the save / load / export tests.

The engine is not a segmenter: it makes masks that are cheap, exact and different on every
frame, so that a test of keeping the work runs in milliseconds and any lost or shifted
mask shows. It follows the engine protocol (vseg_widgets.engines.base).
"""

from __future__ import annotations

import numpy as np

import vseg_widgets as vw


class ShiftSession:
    def __init__(self, video):
        self.video = video
        self.cond: dict[int, dict[int, np.ndarray]] = {}

    def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
        h, w = self.video.height, self.video.width
        out = np.zeros((h, w), bool) if mask is None else np.asarray(mask, bool).copy()
        yy, xx = np.mgrid[0:h, 0:w]
        if box is not None:
            x0, y0, x1, y1 = box
            out |= (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
        if points is not None:
            for (x, y), label in zip(points, labels):
                disc = (xx - x) ** 2 + (yy - y) ** 2 <= 36
                out = out | disc if label == 1 else out & ~disc
        self.cond.setdefault(frame, {})[obj_id] = out
        return dict(self.cond[frame])

    def propagate(self, start_frame, reverse=False):
        step = -1 if reverse else 1
        known: dict[int, np.ndarray] = {}
        for t in range(start_frame, -1 if reverse else len(self.video), step):
            known = {o: np.roll(m, step, axis=1) for o, m in known.items()}  # one pixel a frame
            known.update(self.cond.get(t, {}))
            yield t, {o: m.copy() for o, m in known.items()}

    def remove_object(self, obj_id):
        for masks in self.cond.values():
            masks.pop(obj_id, None)

    def reset(self):
        self.cond.clear()


class ShiftEngine:
    name = "shift"

    def init_session(self, video):
        return ShiftSession(video)


def worked_segmenter(video=None):
    """A Segmenter with every kind of prompt, propagated masks, a brush edit after the
    propagation (a pending correction), labels and an empty mask."""
    if video is None:
        video, _ = vw.datasets.synthetic(num_frames=12, height=48, width=64, num_objects=3)
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_points(0, 1, [(20, 20), (24, 22)], [1, 0])
    seg.add_box(0, 2, (30.5, 10.25, 50, 30))
    seg.add_mask(6, 3, np.pad(np.ones((5, 5), bool), ((10, 33), (40, 19))))
    seg.propagate(progress=False)
    seg.add_points(0, 1, [(10.125, 40.5)], [1])  # a second click on the same (frame, object)
    seg.edit_mask(4, 2, add=np.pad(np.ones((3, 3), bool), ((2, 43), (2, 59))))
    seg.edit_mask(8, 1, remove=np.ones((48, 64), bool))  # an empty prompted mask
    seg.set_label(1, "person")
    seg.set_label(3, "ball")
    return seg
