"""Keeping the work: object labels, brush edits (edit_mask), exact undo, corrections that stick."""

from __future__ import annotations

import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets import metrics
from vseg_widgets.errors import LabelError, VsegError


@pytest.fixture()
def two_objects(synthetic_video):
    """A classic-engine Segmenter on the synthetic video, both objects given on frame 0."""
    video, gt = synthetic_video
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


def test_label_column_in_tables(two_objects, synthetic_video):
    _, gt = synthetic_video
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
