"""Keeping the work: object labels, brush edits (edit_mask), exact undo, corrections that stick."""

from __future__ import annotations

import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets import metrics
from vseg_widgets.errors import LabelError, VsegError


@pytest.fixture(scope="module")
def small_video():
    """(video, gt): 16 synthetic frames of 160x120; object 2 is hidden on frames 3-5."""
    return vw.datasets.synthetic(num_frames=16, height=120, width=160)


@pytest.fixture()
def two_objects(small_video):
    """A classic-engine Segmenter on the small synthetic video, both objects given on frame 0."""
    video, gt = small_video
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    return seg


# -- labels ----------------------------------------------------------------------------------
def test_labels_set_clear_copy_and_event(two_objects):
    seg = two_objects
    events = []
    seg.observe(lambda event, **payload: events.append((event, payload)))
    seg.set_label(1, "  person ")
    seg.set_label(2, "bike")
    assert seg.labels == {1: "person", 2: "bike"}
    assert events == [("labels", {"labels": {1: "person"}}), ("labels", {"labels": {1: "person", 2: "bike"}})]
    copy = seg.labels
    copy[1] = "changed"
    assert seg.labels[1] == "person"  # a copy
    seg.set_label(1, "person")  # unchanged: no event
    assert len(events) == 2
    seg.set_label(2, None)
    assert seg.labels == {1: "person"} and events[-1] == ("labels", {"labels": {1: "person"}})
    seg.set_label(1, "")  # an empty label clears too
    assert seg.labels == {}


def test_labels_errors(two_objects):
    seg = two_objects
    for bad in (3, 0, -1, True, "1", 1.0, None):
        with pytest.raises(LabelError, match="known objects: \\[1, 2\\]"):
            seg.set_label(bad, "x")
    for bad in (5, b"person", ["a"], 1.5):
        with pytest.raises(LabelError, match="must be a string"):
            seg.set_label(1, bad)
    with pytest.raises(LabelError, match="at most 100"):
        seg.set_label(1, "x" * 101)
    with pytest.raises(LabelError, match="control characters"):
        seg.set_label(1, "two\nlines")
    assert issubclass(LabelError, VsegError) and issubclass(LabelError, ValueError)
    assert seg.labels == {}  # nothing changed


def test_labels_follow_remove_object_and_reset(two_objects):
    seg = two_objects
    seg.set_label(1, "person")
    seg.set_label(2, "bike")
    seg.remove_object(2)
    assert seg.labels == {1: "person"}
    seg.add_mask(0, 2, np.ones((seg.video.height, seg.video.width), bool))
    assert seg.labels == {1: "person"}  # a new object 2 does not inherit the old label
    seg.reset()
    assert seg.labels == {}


def test_label_column_in_tables(two_objects, small_video):
    _, gt = small_video
    seg = two_objects
    seg.propagate("forward", progress=False)
    seg.set_label(1, "person")
    df = seg.to_dataframe()
    assert list(df.columns[:4]) == ["frame", "time_s", "obj_id", "label"]
    assert (df[df.obj_id == 1]["label"] == "person").all()
    assert df[df.obj_id == 2]["label"].isna().all()
    seg.set_ground_truth(gt)
    result = metrics.evaluate(seg)
    for table in (result.frames, result.objects):
        assert list(table.columns[table.columns.get_loc("obj_id") : table.columns.get_loc("obj_id") + 2]) == ["obj_id", "label"]
        assert (table[table.obj_id == 1]["label"] == "person").all() and table[table.obj_id == 2]["label"].isna().all()
    merged = df.merge(result.frames, on=["frame", "time_s", "obj_id", "label"])
    assert len(merged) == len(result.frames)
    plain = metrics.evaluate(seg.masks, gt)  # a bare MaskStore knows no labels
    assert "label" not in plain.frames.columns and "label" not in plain.objects.columns
    given = metrics.evaluate(seg.masks, gt, labels={2: "bike"})
    assert given.objects.set_index("obj_id")["label"].to_dict() == {1: None, 2: "bike"}
    table = metrics.consistency(seg)
    assert (table[table.obj_id == 1]["label"] == "person").all()


# -- brush edits and exact undo ------------------------------------------------------------------
def _blob(shape, x, y, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (xx - x) ** 2 + (yy - y) ** 2 <= r * r


@pytest.fixture()
def propagated_two(two_objects):
    two_objects.propagate("forward", progress=False)
    return two_objects


def _frame_state(seg, frame):
    return {o: (seg.masks.get(frame, o), seg._source.get((frame, o))) for o in seg.masks.obj_ids if (frame, o) in seg.masks}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for o in a:
        np.testing.assert_array_equal(a[o][0], b[o][0], err_msg=f"object {o}")
        assert a[o][1] == b[o][1], f"object {o} source"


def test_edit_mask_adds_then_removes_and_is_a_mask_prompt(propagated_two):
    seg = propagated_two
    h, w = seg.video.height, seg.video.width
    old = seg.masks.get(10, 1)
    add, remove = _blob((h, w), 40, 40, 12), _blob((h, w), 46, 40, 5)
    out = seg.edit_mask(10, 1, add=add, remove=remove)
    np.testing.assert_array_equal(out[1], (old | add) & ~remove)
    np.testing.assert_array_equal(seg.masks.get(10, 1), (old | add) & ~remove)
    assert seg.prompts[-1].kind == "mask" and (seg.prompts[-1].frame, seg.prompts[-1].obj_id) == (10, 1)
    row = seg.to_dataframe().query("frame == 10 and obj_id == 1").iloc[0]
    assert row.source == "prompt"
    seg.edit_mask(10, 1, remove=np.ones((h, w), bool))  # erase it all: an empty prompted mask
    assert not seg.masks.get(10, 1).any() and (10, 1) in seg.masks
    seg.edit_mask(3, 5, add=add)  # a new object, painted from nothing
    np.testing.assert_array_equal(seg.masks.get(3, 5), add)


def test_edit_mask_errors_change_nothing(propagated_two):
    from vseg_widgets.errors import MaskShapeError, StrokeError

    seg = propagated_two
    before = (len(seg.prompts), seg.masks.copy())
    with pytest.raises(StrokeError, match="add= or remove="):
        seg.edit_mask(10, 1)
    with pytest.raises(MaskShapeError, match="shape"):
        seg.edit_mask(10, 1, add=np.ones((5, 5), bool))
    with pytest.raises(MaskShapeError, match="values outside"):
        seg.edit_mask(10, 1, remove=np.full((seg.video.height, seg.video.width), 3))
    with pytest.raises(vw.errors.FrameIndexError):
        seg.edit_mask(len(seg.video), 1, add=np.ones((seg.video.height, seg.video.width), bool))
    assert (len(seg.prompts), seg.masks.copy()) == before


@pytest.mark.parametrize("kind", ["edit", "mask", "points", "box"])
def test_undo_on_a_propagated_frame_restores_its_masks_exactly(propagated_two, small_video, kind):
    """Object 1's prompt also takes pixels from object 2's tracked mask; undo gives both back."""
    _, gt = small_video
    seg = propagated_two
    frame = 1  # both objects in view
    before = _frame_state(seg, frame)
    assert before[1][1] == before[2][1] == "propagated"
    h, w = seg.video.height, seg.video.width
    ys, xs = np.nonzero(gt.get(frame, 2))
    over2 = _blob((h, w), xs.mean(), ys.mean(), 8)  # a patch on object 2
    if kind == "edit":
        seg.edit_mask(frame, 1, add=over2)
    elif kind == "mask":
        seg.add_mask(frame, 1, seg.masks.get(frame, 1) | over2)
    elif kind == "points":
        ys, xs = np.nonzero(gt.get(frame, 1))
        seg.add_points(frame, 1, [(xs.mean(), ys.mean())])
    else:
        ys, xs = np.nonzero(gt.get(frame, 1))
        seg.add_box(frame, 1, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    changed = _frame_state(seg, frame)
    assert changed[1][1] == "prompt"
    if kind in ("edit", "mask"):
        assert not np.array_equal(changed[2][0], before[2][0])  # the prompt took object 2's pixels
    seg.undo()
    _assert_same_state(_frame_state(seg, frame), before)


def test_undo_steps_back_one_prompt_at_a_time(propagated_two):
    seg = propagated_two
    h, w = seg.video.height, seg.video.width
    states = [_frame_state(seg, 8)]
    for x in (30, 60, 90):
        seg.edit_mask(8, 1, add=_blob((h, w), x, 50, 10))
        states.append(_frame_state(seg, 8))
    for state in reversed(states[:-1]):
        seg.undo()
        _assert_same_state(_frame_state(seg, 8), state)


def test_undo_keeps_another_objects_mask_changed_since(propagated_two):
    """A propagation after the prompt rewrote object 2 there: undo leaves object 2 as it is now."""
    seg = propagated_two
    h, w = seg.video.height, seg.video.width
    seg.edit_mask(8, 1, add=_blob((h, w), 100, 60, 10))
    seg.masks.set(8, 2, np.zeros((h, w), bool))  # as a later propagation would
    seg.undo()
    assert not seg.masks.get(8, 2).any()


def test_undo_of_a_first_prompt_forgets_the_mask(small_video):
    video, gt = small_video
    seg = vw.Segmenter(video, engine="classic")
    seg.edit_mask(4, 1, add=gt.get(4, 1))
    seg.undo()
    assert (4, 1) not in seg.masks and seg.obj_ids == [] and seg.pending_corrections == []


# -- corrections that stick ----------------------------------------------------------------------
class CountingEngine:
    """A toy engine: each object's mask moves one pixel right (left going backward) a frame
    from the last known mask; it records every (start, reverse) pass and frame it yields."""

    name = "counting"

    def init_session(self, video):
        engine = self
        engine.passes = []

        class Session:
            def __init__(self):
                self.cond = {}

            def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
                self.cond[(frame, obj_id)] = np.asarray(mask, bool)
                return {o: m for (f, o), m in self.cond.items() if f == frame}

            def propagate(self, start_frame, reverse=False):
                step = -1 if reverse else 1
                engine.passes.append([start_frame, reverse, []])
                state = {}
                for t in range(start_frame, -1 if reverse else len(video), step):
                    state = {o: np.roll(m, step, axis=1) for o, m in state.items()}
                    state.update({o: m for (f, o), m in self.cond.items() if f == t})
                    engine.passes[-1][2].append(t)
                    yield t, dict(state)

            def remove_object(self, obj_id):
                self.cond = {k: v for k, v in self.cond.items() if k[1] != obj_id}

            def reset(self):
                self.cond.clear()

        return Session()


def _square(x, y, size=4, shape=(20, 40)):
    m = np.zeros(shape, bool)
    m[y : y + size, x : x + size] = True
    return m


@pytest.fixture()
def keyframed():
    """30 frames of 40x20; object 1 prompted on frames 0, 10 and 20, object 2 on frame 0."""
    video = vw.open_video(np.zeros((30, 20, 40, 3), np.uint8))
    engine = CountingEngine()
    seg = vw.Segmenter(video, engine=engine)
    for f in (0, 10, 20):
        seg.add_mask(f, 1, _square(2, 2))
    seg.add_mask(0, 2, _square(2, 12))
    seg.propagate("forward", progress=False)
    return seg, engine


def test_correction_propagates_to_the_next_prompt_and_no_further(keyframed):
    seg, engine = keyframed
    assert seg.pending_corrections == []
    before = seg.masks.copy()
    seg.edit_mask(14, 1, add=_square(30, 2))
    assert seg.pending_corrections == [(14, 1)]
    engine.passes.clear()
    report = seg.propagate("both", progress=False, until_prompt=True)
    # forward from 14 up to frame 19, backward from 14 down to frame 11: nothing else ran
    assert [(s, r, fr[0], fr[-1]) for s, r, fr in engine.passes] == [(14, False, 14, 19), (14, True, 14, 11)]
    assert report.frames == 6 + 4 and seg.pending_corrections == []
    fix = seg.masks.get(14, 1)
    for f in range(15, 20):
        np.testing.assert_array_equal(seg.masks.get(f, 1), np.roll(fix, f - 14, axis=1))
    for f in range(11, 14):
        np.testing.assert_array_equal(seg.masks.get(f, 1), np.roll(fix, f - 14, axis=1))
    for f in [*range(0, 11), *range(20, 30)]:  # beyond both neighbouring prompts: bit-identical
        assert seg.masks.rle(f, 1) == before.rle(f, 1), f
    for f in range(30):  # object 2 was not corrected: untouched
        assert seg.masks.rle(f, 2) == before.rle(f, 2), f


def test_correction_forward_only_and_from_a_given_frame(keyframed):
    seg, engine = keyframed
    before = seg.masks.copy()
    seg.edit_mask(5, 1, add=_square(20, 8))
    engine.passes.clear()
    seg.propagate("forward", start_frame=5, until_prompt=True, progress=False)
    assert [(s, r, fr[-1]) for s, r, fr in engine.passes] == [(5, False, 9)]
    for f in [*range(0, 5), *range(10, 30)]:
        assert seg.masks.rle(f, 1) == before.rle(f, 1), f
    assert seg.masks.rle(9, 1) != before.rle(9, 1)
    # the last object's prompt: its window runs to the end of the video
    seg.edit_mask(25, 2, add=_square(10, 10))
    engine.passes.clear()
    seg.propagate("backward", until_prompt=True, progress=False)
    assert [(s, r, fr[-1]) for s, r, fr in engine.passes] == [(25, True, 1)]  # object 2's previous prompt: 0
    assert seg.masks.rle(0, 2) == before.rle(0, 2)


def test_several_corrections_and_both_ways_do_not_overlap(keyframed):
    seg, engine = keyframed
    seg.edit_mask(4, 1, add=_square(20, 8))
    seg.edit_mask(7, 1, add=_square(25, 8))
    engine.passes.clear()
    seg.propagate("both", until_prompt=True, progress=False)
    # forward 4..6 and 7..9; backward from 7 would only redo 5..6 (forward has them): only
    # the backward pass from 4 (down to 1) runs
    assert [(s, r, fr[0], fr[-1]) for s, r, fr in engine.passes] == [(4, False, 4, 6), (7, False, 7, 9), (4, True, 4, 1)]


def test_whole_video_is_still_there_and_the_default(keyframed):
    seg, engine = keyframed
    seg.edit_mask(14, 1, add=_square(30, 2))
    engine.passes.clear()
    seg.propagate("forward", start_frame=14, progress=False)  # the whole video from 14 on
    assert [(s, r, fr[-1]) for s, r, fr in engine.passes] == [(14, False, 29)]
    assert seg.pending_corrections == []
    engine.passes.clear()
    seg.propagate("forward", until_prompt=True, progress=False)  # nothing pending: every prompt's window
    # (frame 0's pass runs to the end: object 2 has no later prompt; object 1 stops at 9)
    assert [(s, fr[-1]) for s, r, fr in engine.passes] == [(0, 29), (10, 13), (14, 19), (20, 29)]


def test_obj_ids_restricts_what_is_written(keyframed):
    seg, engine = keyframed
    before = seg.masks.copy()
    seg.edit_mask(0, 2, add=_square(30, 12))
    seg.propagate("forward", obj_ids=[1], progress=False)  # whole video, object 1 only
    for f in range(1, 30):
        assert seg.masks.rle(f, 2) == before.rle(f, 2)
    with pytest.raises(vw.errors.UnknownObjectError, match="prompted objects: \\[1, 2\\]"):
        seg.propagate(obj_ids=[3], progress=False)
    with pytest.raises(vw.errors.PromptError, match="no object is prompted on frame 3"):
        seg.propagate(start_frame=3, until_prompt=True, progress=False)


def test_classic_correction_leaves_beyond_the_next_keyframe_bit_identical(small_video):
    video, gt = small_video
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    seg.add_mask(8, 1, gt.get(8, 1))
    seg.propagate("forward", progress=False)
    before = seg.masks.copy()
    mask = seg.masks.get(4, 1)
    xs = np.nonzero(mask)[1]
    left = np.zeros_like(mask)
    left[:, : int(xs.mean())] = True
    seg.edit_mask(4, 1, remove=left)  # erase the object's left half
    seg.propagate("both", until_prompt=True, progress=False)
    assert seg.masks.rle(5, 1) != before.rle(5, 1) and seg.masks.rle(3, 1) != before.rle(3, 1)  # carried on
    for f in [0, *range(8, len(video))]:
        assert seg.masks.rle(f, 1) == before.rle(f, 1), f
    for f in range(len(video)):
        assert seg.masks.rle(f, 2) == before.rle(f, 2), f


def test_learned_engine_undo_of_a_click_on_a_propagated_frame_is_exact():
    """The default engine answers clicks with its image prompt model: undo still gives the
    propagated masks back bit for bit (the engine is replayed, the store restored)."""
    video, gt = vw.datasets.synthetic(num_frames=6, height=96, width=128)
    seg = vw.Segmenter(video)  # "learned"
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    seg.propagate("forward", progress=False)
    before = _frame_state(seg, 3)
    ys, xs = np.nonzero(gt.get(3, 1))
    seg.add_points(3, 1, [(xs.mean(), ys.mean())])
    seg.add_points(3, 1, [(xs.min() + 2.0, ys.mean())])
    middle = _frame_state(seg, 3)
    seg.add_points(3, 1, [(xs.max() - 2.0, ys.mean())], labels=[0])
    seg.undo()
    _assert_same_state(_frame_state(seg, 3), middle)
    seg.undo()
    seg.undo()
    _assert_same_state(_frame_state(seg, 3), before)
