"""The Segmenter: prompts, propagation in each direction, corrections, undo, cancel, tables, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import vseg_widgets as vw
from vseg_widgets.errors import EngineError, FrameIndexError, MaskShapeError, PromptError, UnknownObjectError


class ShiftEngine:
    """A toy engine: each object's mask moves one pixel right per frame from its prompt.

    Enough to check the Segmenter's bookkeeping exactly, independent of the classic engine.
    """

    name = "shift"

    def __init__(self, fail_at=None, interrupt_at=None):
        self.fail_at, self.interrupt_at = fail_at, interrupt_at

    def init_session(self, video):
        engine = self

        class Session:
            def __init__(self):
                self.cond = {}

            def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
                if mask is None:
                    mask = np.zeros((video.height, video.width), bool)
                    if box is not None:
                        x0, y0, x1, y1 = np.asarray(box, int)
                        mask[y0:y1, x0:x1] = True
                    for (x, y), label in zip(points if points is not None else [], labels if labels is not None else []):
                        mask[int(y), int(x)] = bool(label)
                self.cond[(frame, obj_id)] = mask
                return {obj_id: mask}

            def propagate(self, start_frame, reverse=False):
                step = -1 if reverse else 1
                state = {}
                for t in range(start_frame, -1 if reverse else len(video), step):
                    if t == engine.fail_at:
                        raise RuntimeError("boom")
                    if t == engine.interrupt_at:
                        raise KeyboardInterrupt
                    state = {o: np.roll(m, step, axis=1) for o, m in state.items()}
                    state.update({o: m for (f, o), m in self.cond.items() if f == t})
                    yield t, dict(state)

            def remove_object(self, obj_id):
                self.cond = {k: v for k, v in self.cond.items() if k[1] != obj_id}

            def reset(self):
                self.cond.clear()

        return Session()


@pytest.fixture
def video():
    return vw.open_video(np.zeros((10, 20, 30, 3), np.uint8))


def square(x, y, size=4, shape=(20, 30)):
    m = np.zeros(shape, bool)
    m[y : y + size, x : x + size] = True
    return m


def test_forward_backward_both_cover_the_right_frames(video):
    for direction, expected in [("forward", range(4, 10)), ("backward", range(0, 5)), ("both", range(10))]:
        seg = vw.Segmenter(video, engine=ShiftEngine())
        seg.add_mask(4, 1, square(10, 5))
        report = seg.propagate(direction, progress=False)
        assert seg.masks.frames(1) == list(expected), direction
        assert not report.cancelled
    # Forward moves right, backward moves left, one pixel per frame from the prompt.
    np.testing.assert_array_equal(seg.masks.get(7, 1), square(13, 5))
    np.testing.assert_array_equal(seg.masks.get(1, 1), square(7, 5))


def test_correction_keeps_prompted_frames_exactly(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square(2, 2))
    seg.propagate("forward", progress=False)
    fix = square(20, 10)
    seg.add_mask(6, 1, fix)
    seg.propagate("forward", start_frame=6, progress=False)
    np.testing.assert_array_equal(seg.masks.get(0, 1), square(2, 2))
    np.testing.assert_array_equal(seg.masks.get(6, 1), fix)
    np.testing.assert_array_equal(seg.masks.get(8, 1), square(22, 10))
    np.testing.assert_array_equal(seg.masks.get(5, 1), square(7, 2))  # before the fix: untouched
    # Re-propagating everything keeps both prompted frames as prompted.
    seg.propagate("both", progress=False)
    np.testing.assert_array_equal(seg.masks.get(6, 1), fix)
    df = seg.to_dataframe()
    assert df.loc[df.source == "prompt", "frame"].tolist() == [0, 6]


def test_several_objects_prompted_on_different_frames(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square(0, 0))
    seg.add_box(5, 2, (10, 10, 14, 14))
    seg.propagate("both", progress=False)
    assert seg.obj_ids == [1, 2] and seg.prompted_frames == {1: [0], 2: [5]}
    assert seg.masks.frames(1) == list(range(10))
    assert seg.masks.frames(2) == list(range(10))  # backward reached object 2's frames 0..4
    np.testing.assert_array_equal(seg.masks.get(3, 2), square(8, 10))


def test_points_accumulate_and_undo(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_points(2, 1, [(3, 4)])
    seg.add_points(2, 1, [(5, 6), (7, 8)], labels=[1, 0])
    mask = seg.masks.get(2, 1)
    assert mask[4, 3] and mask[6, 5] and not mask[8, 7] and mask.sum() == 2
    undone = seg.undo()
    assert undone.kind == "points" and len(seg.prompts) == 1
    assert seg.masks.get(2, 1).sum() == 1
    seg.undo()
    assert seg.masks.get(2, 1) is None and seg.prompts == [] and seg.undo() is None


def test_remove_object_and_reset(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square(0, 0))
    seg.add_mask(0, 2, square(10, 10))
    seg.propagate("forward", progress=False)
    seg.remove_object(1)
    assert seg.obj_ids == [2] and all(p.obj_id == 2 for p in seg.prompts)
    with pytest.raises(UnknownObjectError, match="no object 1; known objects: \\[2\\]"):
        seg.remove_object(1)
    seg.reset()
    assert seg.obj_ids == [] and seg.masks.frames() == []


def test_engine_error_keeps_frames_and_segmenter_usable(video):
    engine = ShiftEngine(fail_at=6)
    seg = vw.Segmenter(video, engine=engine)
    seg.add_mask(2, 1, square(0, 0))
    with pytest.raises(EngineError, match="at frame 6.*kept"):
        seg.propagate("forward", progress=False)
    assert seg.masks.frames(1) == [2, 3, 4, 5]
    assert not seg.busy
    engine.fail_at = None
    seg.propagate("forward", progress=False)
    assert seg.masks.frames(1) == list(range(2, 10))


def test_keyboard_interrupt_cancels_keeping_frames(video):
    seg = vw.Segmenter(video, engine=ShiftEngine(interrupt_at=5))
    seg.add_mask(1, 1, square(0, 0))
    report = seg.propagate("forward", progress=False)
    assert report.cancelled and report.frames == 4
    assert seg.masks.frames(1) == [1, 2, 3, 4]


def test_cancel_call_from_a_listener(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square(0, 0))
    seg.observe(lambda event, **p: seg.cancel() if event == "progress" and p.get("done") == 3 else None)
    report = seg.propagate("forward", progress=False)
    assert report.cancelled and seg.masks.frames(1) == [0, 1, 2]


def test_listeners_hear_prompts_masks_and_progress(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    events = []
    seg.observe(lambda event, **payload: events.append((event, payload)))
    seg.add_mask(8, 1, square(0, 0))
    seg.propagate("forward", progress=False)
    names = [e for e, _ in events]
    assert names[0] == "prompts" and names.count("masks") == 2
    assert events[-1] == ("progress", {"done": 2, "total": 2, "finished": True, "cancelled": False})


def test_dataframe_on_synthetic_video(synthetic_video):
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    seg.propagate("forward", progress=False)
    df = seg.to_dataframe()
    assert list(df.columns) == [
        "frame", "time_s", "obj_id", "label", "area_px", "area_frac", "bbox", "centroid", "iou_prev", "source", "confidence",
        "engine_ms",
    ]  # fmt: skip
    assert len(df) == 2 * len(video)
    first = df[(df.frame == 0) & (df.obj_id == 1)].iloc[0]
    truth = gt.get(0, 1)
    ys, xs = np.nonzero(truth)
    assert first.area_px == truth.sum() and first.area_frac == pytest.approx(truth.mean())
    assert first.bbox == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert first.centroid == pytest.approx((xs.mean(), ys.mean()))
    assert first.source == "prompt" and np.isnan(first.iou_prev)
    row = df[(df.frame == 5) & (df.obj_id == 2)].iloc[0]  # object 2 still in view
    a, b = seg.masks.get(5, 2), seg.masks.get(4, 2)
    assert a.any() and row.iou_prev == pytest.approx((a & b).sum() / (a | b).sum())
    assert row.time_s == pytest.approx(5 / video.fps) and row.source == "propagated"
    out_of_view = df[(df.obj_id == 2) & (df.area_px == 0)]  # object 2 has left the frame
    assert (out_of_view.iou_prev.iloc[1:] == 1.0).all() and out_of_view.bbox.isna().all()
    assert (df.engine_ms > 0).all()
    assert pd.api.types.is_integer_dtype(df.frame) and pd.api.types.is_integer_dtype(df.obj_id)


def test_classic_engine_propagates_every_frame_both_ways(synthetic_video):
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    mid = len(video) // 2
    seg.add_mask(mid, 1, gt.get(mid, 1))
    seg.propagate("both", progress=False)
    assert seg.masks.frames(1) == list(range(len(video)))
    for f in (mid - 3, mid + 3):  # near the prompt the tracked mask overlaps the truth well
        a, b = seg.masks.get(f, 1), gt.get(f, 1)
        assert (a & b).sum() / (a | b).sum() > 0.8


def test_classic_click_prompt_finds_the_object(synthetic_video):
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    ys, xs = np.nonzero(gt.get(0, 1))
    masks = seg.add_points(0, 1, [(xs.mean(), ys.mean())])
    a, b = masks[1], gt.get(0, 1)
    assert (a & b).sum() / (a | b).sum() > 0.8


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda s: s.add_points(0, 1, [(30, 5)]), PromptError, "outside the 30x20 frame"),
        (lambda s: s.add_points(0, 1, [(3, 5), (4, 4)], labels=[1]), PromptError, "one label per point"),
        (lambda s: s.add_points(0, 1, [(3, 5)], labels=[2]), PromptError, "1 (positive) or 0"),
        (lambda s: s.add_points(0, 1, []), PromptError, "non-empty list"),
        (lambda s: s.add_points(10, 1, [(3, 5)]), FrameIndexError, "outside this video of 10 frames"),
        (lambda s: s.add_points(0, 0, [(3, 5)]), ValueError, "positive ints"),
        (lambda s: s.add_box(0, 1, (5, 5, 2, 8)), PromptError, "x0 < x1"),
        (lambda s: s.add_box(0, 1, (5, 5, 40, 8)), PromptError, "outside"),
        (lambda s: s.add_mask(0, 1, np.zeros((30, 20), bool)), MaskShapeError, "(20, 30)"),
        (lambda s: s.propagate(progress=False), PromptError, "add a prompt first"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(video, call, error, words):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    with pytest.raises(error) as info:
        call(seg)
    assert words in str(info.value)
    assert seg.prompts == [] and seg.masks.frames() == []


def test_bad_direction_and_engine(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square(0, 0))
    with pytest.raises(ValueError, match="'forward', 'backward' or 'both'"):
        seg.propagate("sideways")
    with pytest.raises(ValueError, match="unknown engine 'nope'"):
        vw.Segmenter(video, engine="nope")
    with pytest.raises(TypeError, match="init_session"):
        vw.Segmenter(video, engine=object())
