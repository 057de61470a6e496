"""vw.plots: each figure runs on the synthetic video and draws what it claims."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import vseg_widgets as vw
from vseg_widgets.palette import object_color, object_rgb

plots = vw.plots
metrics = vw.metrics


@pytest.fixture(scope="module")
def seg(synthetic_video):
    """A Segmenter propagated from the true frame-0 masks, with a second prompt on frame 20."""
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    seg.add_mask(20, 1, gt.get(20, 1))
    seg.propagate(progress=False)
    return seg


@pytest.fixture(scope="module")
def flickering(synthetic_video):
    """Ground truth with object 1 removed on frames 10-11 (a flicker) and shifted on every 4th frame."""
    _, gt = synthetic_video
    pred = gt.copy()
    for frame in range(0, gt.num_frames, 4):
        pred.set(frame, 1, np.roll(gt.get(frame, 1), 8, axis=1))
    for frame in (10, 11):
        pred.set(frame, 1, np.zeros((gt.height, gt.width), bool))
    return pred


def _object_lines(ax):
    return [line for line in ax.get_lines() if line.get_label().startswith("object ")]


def test_score_over_time_one_line_per_object_with_prompts(seg, synthetic_video):
    _, gt = synthetic_video
    result = metrics.evaluate(seg.masks, gt, first_last=True)
    fig = plots.score_over_time(result, "J", prompted=seg.prompted_frames)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = _object_lines(ax)
    assert [line.get_label() for line in lines] == ["object 1", "object 2"]
    for obj, line in zip((1, 2), lines):
        assert to_hex(line.get_color()) == object_color(obj)
        expected = result.frames[result.frames.obj_id == obj].sort_values("frame")
        np.testing.assert_array_equal(line.get_xdata(), expected["frame"])
        np.testing.assert_array_equal(line.get_ydata(), expected["J"])
    marks = {to_hex(c.get_facecolor()[0]): sorted(c.get_offsets()[:, 0].tolist()) for c in ax.collections if c.get_gid() == "prompted"}
    assert marks == {object_color(1): [0, 20], object_color(2): [0]}
    assert ax.get_ylabel() == "J"


def test_score_over_time_any_column_gaps_and_given_axes(seg):
    import matplotlib.pyplot as plt

    table = seg.to_dataframe()
    table = table[~((table.obj_id == 1) & (table.frame == 5))]  # a missing frame
    fig, ax = plt.subplots()
    try:
        out = plots.score_over_time(table, "area_px", x="time_s", ax=ax)
        assert out is fig
        line1 = _object_lines(ax)[0]
        x, y = np.asarray(line1.get_xdata(), float), np.asarray(line1.get_ydata(), float)
        assert np.isnan(y[5]) and np.isnan(x[5])  # a gap, not a bridge
        assert x[4] == pytest.approx(4 / seg.video.fps)
        assert ax.get_xlabel() == "time (s)"
        assert not [c for c in ax.collections if c.get_gid() == "prompted"]
    finally:
        plt.close(fig)


def test_score_distribution_boxes_and_points(seg, synthetic_video):
    _, gt = synthetic_video
    table = metrics.evaluate(seg.masks, gt).frames
    fig = plots.score_distribution(table, "F", by="obj_id")
    ax = fig.axes[0]
    boxes = ax.patches
    assert len(boxes) == 2
    assert [to_hex(b.get_facecolor(), keep_alpha=False) for b in boxes] == [object_color(1), object_color(2)]
    points = [c for c in ax.collections if c.get_gid() == "values"]
    assert [len(c.get_offsets()) for c in points] == [(table.obj_id == 1).sum(), (table.obj_id == 2).sum()]
    np.testing.assert_allclose(sorted(points[0].get_offsets()[:, 1]), sorted(table[table.obj_id == 1]["F"]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["object 1", "object 2"]


def test_score_distribution_across_sequences_counts_nan():
    table = pd.DataFrame({"sequence": ["a", "a", "b", "b", "b"], "J": [0.5, np.nan, 0.7, 0.8, 0.9]})
    ax = plots.score_distribution(table, "J", by="sequence").axes[0]
    assert len(ax.patches) == 2
    assert [len(c.get_offsets()) for c in ax.collections if c.get_gid() == "values"] == [1, 3]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a\n(1 NaN)", "b"]


def test_area_and_consistency_marks_flicker_events(flickering, synthetic_video):
    video, _ = synthetic_video
    table = metrics.consistency(flickering, video)
    events = metrics.flicker_events(flickering)
    assert [10, 11] in events[events.obj_id == 1][["start", "end"]].values.tolist()
    fig = plots.area_and_consistency(table, events)
    ax, twin = fig.axes[0], fig.axes[-1]
    assert len(_object_lines(ax)) == 2 and len(_object_lines(twin)) == 2
    area1 = _object_lines(ax)[0]
    np.testing.assert_array_equal(area1.get_ydata(), table[table.obj_id == 1].sort_values("frame")["area_px"])
    assert [line.get_linestyle() for line in _object_lines(twin)] == ["--", "--"]
    spans = [p for p in ax.patches if p.get_gid() == "flicker"]
    assert len(spans) == len(events)
    xs = sorted((round(p.get_x() + 0.5), round(p.get_x() + p.get_width() - 0.5)) for p in spans)
    assert xs == sorted(map(tuple, events[["start", "end"]].values.tolist()))
    # without events, the table's flicker column gives the same spans
    again = plots.area_and_consistency(table).axes[0]
    assert len([p for p in again.patches if p.get_gid() == "flicker"]) == len(events)


def test_compare_bars_with_per_sequence_points(synthetic_video, flickering):
    _, gt = synthetic_video
    rows = []
    for engine, pred in (("truth", gt), ("flicker", flickering)):
        for seq, (a, b) in {"first": (0, 24), "second": (24, 48)}.items():
            part = vw.MaskStore(gt.num_frames, gt.height, gt.width)
            truth = vw.MaskStore(gt.num_frames, gt.height, gt.width)
            for f in range(a, b):
                part.update(f, pred[f])
                truth.update(f, gt[f])
            objects = metrics.evaluate(part, truth, first_last=True, sequence=seq).objects
            rows.append(objects.assign(engine=engine))
    table = pd.concat(rows, ignore_index=True)
    fig = plots.compare(table, "JF_mean", by="engine", points="sequence")
    ax = fig.axes[0]
    bars = ax.containers[0]
    assert len(bars) == 2
    expected = table.groupby("engine", sort=False)["JF_mean"].mean()
    np.testing.assert_allclose([b.get_height() for b in bars], expected[["truth", "flicker"]])
    assert bars[0].get_height() == 1.0 and bars[1].get_height() < 1.0
    points = [c for c in ax.collections if c.get_gid() == "points"]
    assert len(points[0].get_offsets()) == len(table)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["truth", "flicker"]


def test_worst_frames_strip(flickering, synthetic_video):
    video, gt = synthetic_video
    table = metrics.evaluate(flickering, gt).frames
    fig = plots.worst_frames(video, flickering, table, "J", n=4, gt=gt, height=60)
    ax = fig.axes[0]
    worst = table.groupby("frame")["J"].min().sort_values(kind="stable").index[:4].tolist()
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "thumb-label"]
    assert [int(label.split("\n")[0].split()[1]) for label in labels] == worst
    assert {10, 11} <= set(worst)  # the vanished frames score J = 0
    strip = ax.images[0].get_array()
    thumb_w = round(video.width * 60 / video.height)
    assert strip.shape == (60, 4 * thumb_w + 3 * 4, 3)


def test_overlay_blends_object_colours_and_outlines_gt(synthetic_video):
    import cv2

    video, gt = synthetic_video
    frame, masks = video[3], gt[3]
    plain = plots._overlay(frame, masks, None)
    ys, xs = np.nonzero(masks[1])
    y, x = ys[len(ys) // 2], xs[len(xs) // 2]  # well inside object 1
    expected = np.round(0.5 * frame[y, x].astype(np.float32) + 0.5 * np.asarray(object_rgb(1), np.float32))
    np.testing.assert_array_equal(plain[y, x], expected.astype(np.uint8))
    outside = ~(masks[1] | masks[2])
    np.testing.assert_array_equal(plain[outside], frame[outside])  # background untouched
    # the ground truth adds white outlines, and only along its masks' borders
    outlined = plots._overlay(frame, masks, masks)
    changed = (outlined != plain).any(axis=2)
    kernel = np.ones((3, 3), np.uint8)
    ring = np.zeros_like(changed)
    for mask in masks.values():
        m = mask.astype(np.uint8)
        # the frame's edge counts as outside, so a mask touching it is outlined there too
        inner = cv2.erode(m, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        ring |= cv2.dilate(m, kernel).astype(bool) & ~inner.astype(bool)
    assert changed.sum() > 100
    assert (changed <= ring).all()
    assert (outlined[changed] == 255).all()


@pytest.mark.parametrize(
    "call",
    [
        lambda t: plots.score_over_time(t, "nope"),
        lambda t: plots.score_distribution(t, "nope"),
        lambda t: plots.area_and_consistency(t.drop(columns="area_px")),
        lambda t: plots.compare(t, "JF_mean"),
    ],
)
def test_plots_name_missing_columns(seg, call):
    with pytest.raises(ValueError, match="no column"):
        call(seg.to_dataframe())


def test_plots_refuse_empty_or_ambiguous_tables(seg):
    with pytest.raises(ValueError, match="empty"):
        plots.score_over_time(seg.to_dataframe().iloc[:0], "area_px")
    twice = pd.concat([seg.to_dataframe(), seg.to_dataframe()])
    with pytest.raises(ValueError, match="several rows per"):
        plots.score_over_time(twice, "area_px")
    with pytest.raises(TypeError, match="DataFrame"):
        plots.score_over_time([1, 2, 3])
    with pytest.raises(ValueError, match="all NaN"):
        plots.worst_frames(seg.video, seg.masks, seg.to_dataframe().assign(J=np.nan), "J")
