"""vw.metrics: DAVIS J/F against the official test vectors, statistics, tables, temporal measures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import vseg_widgets as vw
from vseg_widgets.errors import MaskShapeError
from vseg_widgets.masks import MaskStore

metrics = vw.metrics


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(davis_root) -> Path:
    """../shared/reference/davis-metrics, next to the DAVIS data; skips when absent."""
    folder = davis_root.parents[1] / "reference" / "davis-metrics"
    if not (folder / "expected.json").is_file():
        if os.environ.get("VSEG_REQUIRE_DAVIS"):
            pytest.fail(f"VSEG_REQUIRE_DAVIS is set but {folder}/expected.json is missing.")
        pytest.skip(f"DAVIS metric test vectors not found at {folder}.")
    return folder


@pytest.fixture(scope="module")
def propagated(synthetic_video):
    """A Segmenter on the synthetic video, prompted with the true masks on frame 0 and
    propagated with the classic engine, with the ground truth attached. Read-only."""
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    seg.propagate(progress=False)
    seg.set_ground_truth(gt)
    return seg


def _reference_masks(reference: Path, davis_root: Path, seq: str, frames: int):
    """(pred, gt) lists of (H, W) bool: the test-vector predictions and the DAVIS annotations."""
    pred = [np.asarray(Image.open(reference / seq / f"{i:05d}.png")) == 1 for i in range(frames)]
    gt = [np.asarray(Image.open(davis_root / "Annotations/480p" / seq / f"{i:05d}.png")) == 255 for i in range(frames)]
    return pred, gt


def _store(masks_by_obj: dict[int, list[np.ndarray]]) -> MaskStore:
    first = next(iter(masks_by_obj.values()))
    store = MaskStore(len(first), *first[0].shape)
    for obj, masks in masks_by_obj.items():
        for frame, mask in enumerate(masks):
            store.set(frame, obj, mask)
    return store


def _disk_mask(h, w, cy, cx, r):
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


# -- DAVIS J and F: the official test vectors ------------------------------------------------
@pytest.mark.davis
def test_per_frame_j_and_f_match_official_vectors(reference, davis_root):
    expected = json.loads((reference / "expected.json").read_text())["sequences"]
    for seq, exp in expected.items():
        pred, gt = _reference_masks(reference, davis_root, seq, exp["frames"])
        j = [metrics.jaccard(p, g) for p, g in zip(pred, gt)]
        f = [metrics.f_boundary(p, g) for p, g in zip(pred, gt)]
        np.testing.assert_allclose(j, exp["J_per_frame"], rtol=0, atol=1e-9, err_msg=f"{seq} J")
        np.testing.assert_allclose(f, exp["F_per_frame"], rtol=0, atol=1e-9, err_msg=f"{seq} F")


@pytest.mark.davis
def test_sequence_statistics_match_official_vectors(reference):
    expected = json.loads((reference / "expected.json").read_text())["sequences"]
    for seq, exp in expected.items():
        for measure in ("J", "F"):
            stats = metrics.statistics(np.asarray(exp[f"{measure}_per_frame"])[1:-1])
            for key in ("mean", "recall", "decay"):
                assert stats[key] == pytest.approx(exp[measure][key], abs=1e-9), (seq, measure, key)


@pytest.mark.davis
def test_evaluate_matches_official_vectors(reference, davis_root):
    expected = json.loads((reference / "expected.json").read_text())["sequences"]
    for seq, exp in expected.items():
        pred, gt = _reference_masks(reference, davis_root, seq, exp["frames"])
        result = metrics.evaluate(_store({1: pred}), _store({1: gt}))
        assert result.frames["frame"].tolist() == list(range(1, exp["frames"] - 1))
        np.testing.assert_allclose(result.frames["J"], exp["J_per_frame"][1:-1], rtol=0, atol=1e-9)
        np.testing.assert_allclose(result.frames["F"], exp["F_per_frame"][1:-1], rtol=0, atol=1e-9)
        row = result.objects.set_index("obj_id").loc[1]
        for measure in ("J", "F"):
            for key in ("mean", "recall", "decay"):
                assert row[f"{measure}_{key}"] == pytest.approx(exp[measure][key], abs=1e-9), (seq, measure, key)
        assert result.summary["JF_mean"] == pytest.approx(exp["JF_mean"], abs=1e-9)


@pytest.mark.davis
def test_reference_edge_cases_empty_and_full_predictions(reference, davis_root):
    """drift-chicane frames 10-14 are empty predictions, frame 20 is all foreground."""
    pred, gt = _reference_masks(reference, davis_root, "drift-chicane", 21)
    for i in range(10, 15):
        assert not pred[i].any() and gt[i].any()
        assert metrics.jaccard(pred[i], gt[i]) == 0.0
        assert metrics.f_boundary(pred[i], gt[i]) == 0.0
    assert pred[20].all()
    # an all-foreground mask has no boundary in the DAVIS convention, so F is 0
    assert not metrics.boundary_map(pred[20]).any()
    assert metrics.f_boundary(pred[20], gt[20]) == 0.0
    assert metrics.jaccard(pred[20], gt[20]) == pytest.approx(gt[20].sum() / gt[20].size)


# -- J and F on small hand-made masks ---------------------------------------------------------
def test_jaccard_counts_and_conventions():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    assert metrics.jaccard(a, b) == 1.0  # both empty
    a[2:6, 2:6] = True  # 16 px
    assert metrics.jaccard(a, b) == 0.0
    b[4:8, 4:8] = True  # 16 px, overlap 2x2 = 4
    assert metrics.jaccard(a, b) == 4 / 28
    assert metrics.jaccard(a.astype(np.uint8), b.astype(float)) == 4 / 28  # 0/1 arrays are fine


def test_jaccard_and_f_exclude_void_pixels():
    a = np.zeros((20, 20), bool)
    a[2:10, 2:10] = True
    b = a.copy()
    b[2:10, 10:14] = True  # gt is wider; the extra strip is void
    void = np.zeros_like(a)
    void[:, 10:] = True
    assert metrics.jaccard(a, b) == 64 / 96
    assert metrics.jaccard(a, b, void) == 1.0
    assert metrics.f_boundary(a, b) < 1.0
    assert metrics.f_boundary(a, b, void) == 1.0


def test_f_boundary_tolerance_is_ceil_of_diagonal_fraction():
    h, w = 480, 854
    assert metrics.tolerance_px((h, w)) == int(np.ceil(0.008 * np.hypot(h, w))) == 8
    gt = _disk_mask(h, w, 240, 400, 100)
    # a shift within the tolerance keeps every boundary pixel matched; beyond it, not
    assert metrics.f_boundary(np.roll(gt, 8, axis=1), gt) == 1.0
    assert metrics.f_boundary(np.roll(gt, 9, axis=1), gt) < 1.0
    assert metrics.f_boundary(np.roll(gt, 9, axis=1), gt, bound_th=9) == 1.0


def test_f_boundary_empty_boundary_conventions():
    empty = np.zeros((30, 40), bool)
    blob = np.zeros((30, 40), bool)
    blob[5:15, 5:20] = True
    assert metrics.f_boundary(empty, empty) == 1.0
    assert metrics.f_boundary(empty, blob) == 0.0
    assert metrics.f_boundary(blob, empty) == 0.0
    assert metrics.f_boundary(blob, blob) == 1.0
    full = np.ones((30, 40), bool)
    assert metrics.f_boundary(full, empty) == 1.0  # neither has a boundary


def test_f_boundary_window_equals_whole_frame_computation():
    """The windowed F equals a direct whole-frame computation, masks touching the edges included."""
    import cv2

    rng = np.random.default_rng(3)
    for trial in range(25):
        h, w = rng.integers(20, 90, size=2)
        pred = cv2.resize((rng.random((6, 6)) > 0.6).astype(np.uint8), (int(w), int(h)), interpolation=cv2.INTER_NEAREST) > 0
        gt = cv2.resize((rng.random((6, 6)) > 0.6).astype(np.uint8), (int(w), int(h)), interpolation=cv2.INTER_NEAREST) > 0
        r = metrics.tolerance_px((h, w))
        pb, gb = metrics.boundary_map(pred), metrics.boundary_map(gt)
        kernel = metrics.disk(r)
        pd_, gd = cv2.dilate(pb.astype(np.uint8), kernel) > 0, cv2.dilate(gb.astype(np.uint8), kernel) > 0
        if pb.sum() == 0 or gb.sum() == 0:
            expected = 1.0 if pb.sum() == gb.sum() else 0.0
        else:
            p, rc = (pb & gd).sum() / pb.sum(), (gb & pd_).sum() / gb.sum()
            expected = 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)
        assert metrics.f_boundary(pred, gt) == pytest.approx(expected, abs=1e-12), trial


def test_boundary_map_follows_seg2bmap_convention():
    m = np.zeros((6, 7), bool)
    m[2:4, 2:5] = True
    b = metrics.boundary_map(m)
    # pixels differing from a right/lower/lower-right neighbour: the box shifted half a pixel up-left
    expected = np.zeros_like(m)
    expected[1:4, 1:5] = True
    expected[2:3, 2:4] = False  # interior of the box (all neighbours inside)
    np.testing.assert_array_equal(b, expected)
    last = np.zeros((4, 4), bool)
    last[3, 2:] = True  # on the last row only the right neighbour counts
    assert metrics.boundary_map(last)[3].tolist() == [False, True, False, False]


def test_disk_is_the_euclidean_disk():
    for r in (1, 2, 8):
        d = metrics.disk(r)
        assert d.shape == (2 * r + 1, 2 * r + 1) and d.dtype == np.uint8
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        np.testing.assert_array_equal(d, (xx**2 + yy**2 <= r * r).astype(np.uint8))
    assert metrics.disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


@pytest.mark.parametrize("fn", [metrics.jaccard, metrics.f_boundary])
def test_element_functions_refuse_bad_masks(fn):
    ok = np.zeros((8, 8), bool)
    with pytest.raises(MaskShapeError, match="shape"):
        fn(np.zeros((8, 9), bool), ok)
    with pytest.raises(MaskShapeError, match="not binary"):
        fn(np.full((8, 8), 255, np.uint8), ok)
    with pytest.raises(MaskShapeError, match="not binary"):
        fn(np.full((8, 8), np.nan), ok)
    with pytest.raises(MaskShapeError, match="2-D"):
        fn(np.zeros((2, 8, 8), bool), np.zeros((2, 8, 8), bool))
    with pytest.raises(MaskShapeError, match="void"):
        fn(ok, ok, np.zeros((4, 4), bool))


# -- statistics -----------------------------------------------------------------------------
def test_statistics_mean_recall_decay():
    x = np.array([1.0, 1.0, 0.4, 0.2, 0.0])
    s = metrics.statistics(x)
    assert s["mean"] == pytest.approx(0.52)
    assert s["recall"] == pytest.approx(2 / 5)
    # N=5: edges round(linspace(1, 5, 5)) - 1 = [0, 1, 2, 3, 4]; first bin x[0:2], last x[3:5]
    assert s["decay"] == pytest.approx(1.0 - 0.1)


def test_statistics_decay_past_256_frames_does_not_wrap():
    """The official code casts bin edges to uint8; at 300 frames the last bin would wrap."""
    x = np.linspace(1.0, 0.0, 300)
    edges = (np.round(np.linspace(1, 300, 5) + 1e-10) - 1).astype(int)
    first, last = x[edges[0] : edges[1] + 1], x[edges[3] : edges[4] + 1]
    assert metrics.statistics(x)["decay"] == pytest.approx(first.mean() - last.mean())
    assert metrics.statistics(x)["decay"] > 0.7  # a steady decline from 1 to 0
    wrapped = edges.astype(np.uint8)
    assert wrapped[4] != edges[4]  # the official overflow this avoids


def test_statistics_nan_and_empty():
    s = metrics.statistics([np.nan, 0.9, 0.1, np.nan])
    assert s["mean"] == pytest.approx(0.5) and s["recall"] == pytest.approx(0.5)
    assert all(np.isnan(v) for v in metrics.statistics([]).values())
    assert all(np.isnan(v) for v in metrics.statistics([np.nan, np.nan]).values())


# -- timeline scores (the player's timeline) ---------------------------------------------------
def test_timeline_scores_with_ground_truth_equal_per_frame_jaccard(synthetic_video):
    _, gt = synthetic_video
    pred = gt.copy()
    for frame in range(0, gt.num_frames, 5):
        pred.set(frame, 1, np.roll(gt.get(frame, 1), 6, axis=1))
    pred.discard(7, 2)  # no mask for object 2 on frame 7
    scores = metrics.timeline_scores(pred, gt)
    assert sorted(scores) == [1, 2]
    for obj, arr in scores.items():
        assert arr.dtype == np.float64 and arr.shape == (gt.num_frames,)
        for frame in range(gt.num_frames):
            if (frame, obj) not in pred:
                assert np.isnan(arr[frame])
            else:
                assert arr[frame] == metrics.jaccard(pred.get(frame, obj), gt.get(frame, obj))
    assert np.isnan(scores[2][7])
    assert scores[1][5] < 1.0 and scores[1][6] == 1.0


def test_timeline_scores_without_gt_is_iou_with_previous_frame(synthetic_video):
    _, gt = synthetic_video
    pred = gt.copy()
    pred.discard(10, 1)
    scores = metrics.timeline_scores(pred)
    s = scores[1]
    assert np.isnan(s[0]) and np.isnan(s[10]) and np.isnan(s[11])  # no previous / no mask
    for frame in (1, 5, 12, 30):
        assert s[frame] == metrics.jaccard(gt.get(frame, 1), gt.get(frame - 1, 1))
    # object 2 leaves the frame: both masks empty -> 1.0, as in Segmenter.to_dataframe's iou_prev
    empty_frames = [f for f in range(1, gt.num_frames) if gt.area(f, 2) == 0 and gt.area(f - 1, 2) == 0]
    assert empty_frames and all(scores[2][f] == 1.0 for f in empty_frames)


def test_timeline_scores_void_and_unannotated_frames():
    gt = MaskStore(3, 10, 10)
    pred = MaskStore(3, 10, 10)
    a = np.zeros((10, 10), bool)
    a[:, :6] = True
    b = np.zeros((10, 10), bool)
    b[:, :4] = True
    void = np.zeros((10, 10), bool)
    void[:, 4:] = True
    gt.set(0, 1, b)
    gt.set_void(0, void)
    gt.set(1, 1, b)
    for f in range(3):
        pred.set(f, 1, a)
    s = metrics.timeline_scores(pred, gt)[1]
    assert s[0] == 1.0  # the disagreement lies in the void
    assert s[1] == pytest.approx(4 / 6)
    assert np.isnan(s[2])  # frame 2 has no ground truth at all


def test_timeline_scores_bad_input():
    assert metrics.timeline_scores(MaskStore(4, 8, 8)) == {}
    with pytest.raises(MaskShapeError, match="same video"):
        metrics.timeline_scores(MaskStore(4, 8, 8), MaskStore(5, 8, 8))
    with pytest.raises(TypeError, match="MaskStore"):
        metrics.timeline_scores({0: {}})


# -- evaluate -------------------------------------------------------------------------------
def _perturbed(gt: MaskStore, shift: int = 6, every: int = 1) -> MaskStore:
    """A copy of ``gt`` with object 1 shifted right by ``shift`` px on every ``every``-th frame."""
    pred = gt.copy()
    for frame in range(0, gt.num_frames, every):
        pred.set(frame, 1, np.roll(gt.get(frame, 1), shift, axis=1))
    return pred


def test_evaluate_tables_multi_object(synthetic_video):
    _, gt = synthetic_video
    pred = _perturbed(gt, every=3)
    result = metrics.evaluate(pred, gt)
    t = result.frames
    assert list(t.columns) == ["frame", "obj_id", "J", "F", "JF", "J_drop", "gt_area_px"]
    assert sorted(t["obj_id"].unique()) == [1, 2]
    assert t["frame"].min() == 1 and t["frame"].max() == gt.num_frames - 2  # DAVIS: no first/last
    assert len(t) == 2 * (gt.num_frames - 2)
    # every row is the element functions' value for that (frame, object)
    for row in t.sample(12, random_state=0).itertuples():
        p, g = pred.get(row.frame, row.obj_id), gt.get(row.frame, row.obj_id)
        assert row.J == metrics.jaccard(p, g)
        assert row.F == metrics.f_boundary(p, g)
        assert row.JF == (row.J + row.F) / 2
        assert row.gt_area_px == g.sum()
    obj2 = t[t.obj_id == 2]
    assert (obj2["J"] == 1.0).all() and (obj2["F"] == 1.0).all()  # object 2 untouched
    obj1 = t[t.obj_id == 1].set_index("frame")
    assert (obj1.loc[[3, 6, 9], "J"] < 1).all() and (obj1.loc[[4, 5, 7], "J"] == 1).all()
    assert obj1.loc[3, "J_drop"] == pytest.approx(1 - obj1.loc[3, "J"])
    assert obj1.loc[4, "J_drop"] == pytest.approx(obj1.loc[3, "J"] - 1)
    assert np.isnan(obj1.loc[1, "J_drop"])
    # per-object and overall statistics
    objs = result.objects.set_index("obj_id")
    for measure in ("J", "F"):
        stats = metrics.statistics(obj1[measure].to_numpy())
        for key, value in stats.items():
            assert objs.loc[1, f"{measure}_{key}"] == pytest.approx(value)
    assert objs.loc[2, "JF_mean"] == 1.0 and objs.loc[1, "JF_mean"] < 1.0
    assert result.summary["J_mean"] == pytest.approx(objs["J_mean"].mean())
    assert result.summary["JF_mean"] == pytest.approx((objs["J_mean"].mean() + objs["F_mean"].mean()) / 2)
    assert result.summary["objects"] == 2 and result.summary["frames"] == gt.num_frames - 2
    assert "J&F" in repr(result)
    assert result._repr_html_().startswith("<p>&lt;Evaluation of 2 objects") and "<table" in result._repr_html_()


def test_evaluate_first_last_switch_fps_and_sequence(synthetic_video):
    _, gt = synthetic_video
    pred = _perturbed(gt, every=1)
    result = metrics.evaluate(pred, gt, first_last=True, fps=12.0, sequence="synth")
    t = result.frames
    assert t["frame"].min() == 0 and t["frame"].max() == gt.num_frames - 1
    assert list(t.columns[:4]) == ["sequence", "frame", "time_s", "obj_id"]
    np.testing.assert_array_equal(t["time_s"], t["frame"] / 12.0)
    assert (t["sequence"] == "synth").all() and (result.objects["sequence"] == "synth").all()
    assert result.summary["sequence"] == "synth"
    with pytest.raises(ValueError, match="fps"):
        metrics.evaluate(pred, gt, fps=0)


def test_evaluate_missing_prediction_counts_as_empty(synthetic_video):
    _, gt = synthetic_video
    pred = gt.copy()
    pred.discard(5, 1)  # no mask for object 1 on frame 5
    row = metrics.evaluate(pred, gt).frames.query("frame == 5 and obj_id == 1").iloc[0]
    assert row.J == 0.0 and row.F == 0.0 and row.gt_area_px > 0


def test_evaluate_takes_a_segmenter_and_merges_with_its_table(synthetic_video, propagated):
    video, gt = synthetic_video
    with pytest.raises(ValueError, match="ground truth"):
        metrics.evaluate(vw.Segmenter(video))  # none attached
    seg = propagated
    result = metrics.evaluate(seg)  # masks, fps and ground truth from the Segmenter
    np.testing.assert_array_equal(result.frames["time_s"], result.frames["frame"] / video.fps)
    table = seg.to_dataframe()
    merged = table.merge(result.frames, on=["frame", "time_s", "obj_id", "label"])
    assert len(merged) == len(result.frames)
    assert not [c for c in merged.columns if c.endswith(("_x", "_y"))]
    # a MaskStore without fps gives a table without time_s, merging on (frame, obj_id)
    plain = metrics.evaluate(seg.masks, gt).frames
    assert "time_s" not in plain.columns
    merged = table.merge(plain, on=["frame", "obj_id"])
    assert len(merged) == len(plain) and not [c for c in merged.columns if c.endswith(("_x", "_y"))]


def test_evaluate_bad_input(synthetic_video):
    _, gt = synthetic_video
    with pytest.raises(MaskShapeError, match="same video"):
        metrics.evaluate(MaskStore(gt.num_frames - 1, gt.height, gt.width), gt)
    with pytest.raises(MaskShapeError, match="same video"):
        metrics.evaluate(MaskStore(gt.num_frames, gt.height, gt.width + 1), gt)
    with pytest.raises(ValueError, match="predicted mask store is empty"):
        metrics.evaluate(MaskStore(gt.num_frames, gt.height, gt.width), gt)
    with pytest.raises(ValueError, match="ground-truth mask store is empty"):
        metrics.evaluate(gt, MaskStore(gt.num_frames, gt.height, gt.width))
    with pytest.raises(TypeError, match="MaskStore"):
        metrics.evaluate(gt.to_numpy(1), gt)
    first_only = MaskStore(gt.num_frames, gt.height, gt.width)
    first_only.set(0, 1, gt.get(0, 1))
    with pytest.warns(UserWarning, match="no ground truth"), pytest.raises(ValueError, match="first_last=True"):
        metrics.evaluate(gt, first_only)
    extra = gt.copy()
    extra.set(3, 7, gt.get(3, 1))
    with pytest.warns(UserWarning, match=r"\[7\] have no ground truth"):
        result = metrics.evaluate(extra, gt)
    assert 7 not in result.frames["obj_id"].values


# -- temporal consistency ---------------------------------------------------------------------
def _moving_square_video(num_frames=8, step=4, size=64):
    """A textured square sliding right by ``step`` px a frame over a still textured background."""
    rng = np.random.default_rng(1)
    import cv2

    background = cv2.GaussianBlur(rng.integers(0, 255, (size, size * 2, 3), dtype=np.uint8), (5, 5), 0)
    skin = cv2.GaussianBlur(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8), (3, 3), 0)
    frames, store = [], MaskStore(num_frames, size, size * 2)
    for t in range(num_frames):
        frame = background.copy()
        x0 = 10 + step * t
        frame[20:44, x0 : x0 + 24] = skin
        mask = np.zeros((size, size * 2), bool)
        mask[20:44, x0 : x0 + 24] = True
        frames.append(frame)
        store.set(t, 1, mask)
    return vw.open_video(np.stack(frames)), store


def test_consistency_columns_match_segmenter_table(propagated):
    seg = propagated
    table = metrics.consistency(seg)
    assert list(table.columns) == ["frame", "time_s", "obj_id", "label", "area_px", "area_frac", "iou_prev", "area_change", "flicker"]
    ours = seg.to_dataframe()
    merged = ours.merge(table, on=["frame", "time_s", "obj_id", "label"], suffixes=("", "_metrics"))
    assert len(merged) == len(ours) == len(table)
    for column in ("area_px", "area_frac", "iou_prev"):
        np.testing.assert_array_equal(merged[column], merged[f"{column}_metrics"], err_msg=column)
    # area_change is relative to the previous frame's area
    obj1 = table[table.obj_id == 1].set_index("frame")
    assert obj1.loc[5, "area_change"] == pytest.approx((obj1.loc[5, "area_px"] - obj1.loc[4, "area_px"]) / obj1.loc[4, "area_px"])
    assert np.isnan(obj1.loc[0, "area_change"]) and np.isnan(obj1.loc[0, "iou_prev"])


def test_consistency_area_change_nan_after_empty_mask():
    store = MaskStore(3, 10, 10)
    m = np.zeros((10, 10), bool)
    store.set(0, 1, m)
    m2 = m.copy()
    m2[:2, :5] = True
    store.set(1, 1, m2)
    store.set(2, 1, np.ones((10, 10), bool))
    t = metrics.consistency(store).set_index("frame")
    assert "time_s" not in t.columns  # no fps known
    assert np.isnan(t.loc[1, "area_change"])  # growing from nothing: no rate
    assert t.loc[2, "area_change"] == pytest.approx((100 - 10) / 10)
    assert t.loc[1, "iou_prev"] == 0.0


def test_flow_iou_compensates_motion():
    video, store = _moving_square_video(step=4)
    table = metrics.consistency(store, video, flow=True)
    moving = table[table.frame > 0]
    # plain frame-to-frame IoU sees the 4 px motion of a 24 px square: 20/28
    np.testing.assert_allclose(moving["iou_prev"], 20 / 28)
    # warping the previous mask along the video's flow recovers most of the motion
    assert (moving["flow_iou"] > moving["iou_prev"] + 0.1).all()
    assert moving["flow_iou"].mean() > 0.85
    assert np.isnan(table.loc[table.frame == 0, "flow_iou"]).all()


def test_warp_mask_with_a_known_flow():
    mask = np.zeros((20, 30), bool)
    mask[5:10, 5:10] = True
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = -3  # every target pixel comes from 3 px to its left
    warped = metrics.warp_mask(mask, flow)
    np.testing.assert_array_equal(warped, np.roll(mask, 3, axis=1))


def test_consistency_flow_needs_the_video(synthetic_video):
    video, gt = synthetic_video
    with pytest.raises(ValueError, match="needs the video"):
        metrics.consistency(gt, flow=True)
    short = vw.open_video(np.stack([video[i] for i in range(5)]))
    with pytest.raises(MaskShapeError, match="5 frames"):
        metrics.consistency(gt, short, flow=True)
    with pytest.raises(TypeError, match="MaskStore"):
        metrics.consistency(np.zeros((3, 4, 4), bool))
    with pytest.raises(ValueError, match="empty"):
        metrics.consistency(MaskStore(3, 4, 4))
    assert metrics.flicker_events(MaskStore(3, 4, 4)).empty


def test_flicker_events():
    store = MaskStore(16, 8, 8)
    on = np.ones((8, 8), bool)
    off = np.zeros((8, 8), bool)
    other = np.zeros((8, 8), bool)
    other[0, 0] = True
    pattern = "11011000011" + "1" * 3 + "00"  # frames 0..15
    for frame, c in enumerate(pattern):
        store.set(frame, 2, other)  # frames are segmented
        if c == "1":
            store.set(frame, 1, on)
        elif frame != 6:  # frame 6: no mask at all for object 1, still absent
            store.set(frame, 1, off)
    events = metrics.flicker_events(store, max_gap=3)
    ev1 = events[events.obj_id == 1]
    # gap at 2 (1 frame) is an event; the gap 5..8 (4 frames) is too long; the end (14, 15) never returns
    assert ev1[["start", "end", "frames"]].values.tolist() == [[2, 2, 1]]
    assert metrics.flicker_events(store, max_gap=4).query("obj_id == 1")[["start", "end"]].values.tolist() == [[2, 2], [5, 8]]
    table = metrics.consistency(store).query("obj_id == 1").set_index("frame")
    assert table.loc[2, "flicker"] and not table.loc[3, "flicker"] and not table.loc[5, "flicker"]
    # a gap on frames never segmented (unknown) is not flicker
    sparse = MaskStore(5, 8, 8)
    sparse.set(0, 1, on)
    sparse.set(2, 1, on)
    assert metrics.flicker_events(sparse).empty
    with pytest.raises(ValueError, match="max_gap"):
        metrics.flicker_events(store, max_gap=0)


def test_identity_switches(synthetic_video):
    _, gt = synthetic_video
    assert metrics.identity_switches(gt, gt).empty
    swapped = gt.copy()
    for frame in range(20, 25):  # objects 1 and 2 swap labels for five frames
        swapped.set(frame, 1, gt.get(frame, 2))
        swapped.set(frame, 2, gt.get(frame, 1))
    events = metrics.identity_switches(swapped, gt)
    assert events[["frame", "obj_id", "from_id", "to_id"]].values.tolist() == [
        [20, 1, 1, 2], [20, 2, 2, 1], [25, 1, 2, 1], [25, 2, 1, 2],
    ]  # fmt: skip
    assert (events["iou"] == 1.0).all()
    with pytest.raises(MaskShapeError):
        metrics.identity_switches(MaskStore(3, 8, 8), gt)
    with pytest.raises(ValueError, match="ground-truth mask store is empty"):
        metrics.identity_switches(gt, MaskStore(gt.num_frames, gt.height, gt.width))
    with pytest.raises(ValueError, match="min_iou"):
        metrics.identity_switches(gt, gt, min_iou=0)


# -- latency ----------------------------------------------------------------------------------
def test_latency_from_segmenter_and_table(synthetic_video, propagated):
    video, _ = synthetic_video
    with pytest.raises(ValueError, match="no engine time"):
        metrics.latency(vw.Segmenter(video))
    seg = propagated
    ms = np.array(list(seg._engine_ms.values()))
    summary = metrics.latency(seg)
    assert summary["frames"] == len(video) == len(ms)
    assert summary["mean_ms"] == pytest.approx(ms.mean())
    assert summary["p95_ms"] == pytest.approx(np.percentile(ms, 95))
    assert summary["fps"] == pytest.approx(1000 / ms.mean())
    # the table has one row per (frame, object) but the time is per frame: same summary
    from_table = metrics.latency(seg.to_dataframe())
    pd.testing.assert_series_equal(from_table, summary)


def test_latency_bad_input():
    table = pd.DataFrame({"frame": [0, 1, 2], "engine_ms": [10.0, np.nan, 30.0]})
    assert metrics.latency(table)["mean_ms"] == 20.0  # NaN (never computed) is left out
    with pytest.raises(ValueError, match="engine_ms"):
        metrics.latency(pd.DataFrame({"frame": [0]}))
    with pytest.raises(ValueError, match="no engine time"):
        metrics.latency(pd.DataFrame({"frame": [0], "engine_ms": [np.nan]}))
    with pytest.raises(ValueError, match="negative"):
        metrics.latency(pd.DataFrame({"frame": [0], "engine_ms": [-1.0]}))
    with pytest.raises(TypeError, match="Segmenter"):
        metrics.latency([1.0, 2.0])


def test_evaluate_excludes_void_pixels():
    gt = MaskStore(4, 20, 20)
    pred = MaskStore(4, 20, 20)
    truth = np.zeros((20, 20), bool)
    truth[4:12, 4:12] = True
    wide = truth.copy()
    wide[4:12, 12:16] = True  # the prediction spills into a void strip
    void = np.zeros((20, 20), bool)
    void[:, 12:] = True
    for f in range(4):
        gt.set(f, 1, truth)
        pred.set(f, 1, wide)
    gt.set_void(1, void)
    t = metrics.evaluate(pred, gt, first_last=True).frames.set_index("frame")
    assert t.loc[1, "J"] == 1.0 and t.loc[1, "F"] == 1.0
    assert t.loc[0, "J"] == 64 / 96 and t.loc[0, "F"] < 1.0
    assert t.loc[0, "J"] == metrics.jaccard(wide, truth) and t.loc[1, "F"] == metrics.f_boundary(wide, truth, void)


def test_timeline_scores_match_segmenter_iou_prev(propagated):
    scores = metrics.timeline_scores(propagated.masks)
    table = propagated.to_dataframe()
    for obj, group in table.groupby("obj_id"):
        np.testing.assert_array_equal(scores[obj][group["frame"].to_numpy()], group["iou_prev"].to_numpy())
    # with the attached ground truth: the same J as evaluate's table
    with_gt = metrics.timeline_scores(propagated.masks, propagated.ground_truth)
    frames = metrics.evaluate(propagated).frames
    for row in frames.itertuples():
        assert with_gt[row.obj_id][row.frame] == row.J


# -- the simulated clicker ------------------------------------------------------------------------
def test_the_clicker_clicks_the_middle_of_the_larger_error_with_its_sign():
    gt = np.zeros((60, 80), bool)
    gt[10:50, 10:40] = True  # a 40x30 object
    (x, y), label = vw.metrics.next_click(np.zeros_like(gt), gt)
    assert label == 1 and 10 <= x < 40 and 10 <= y < 50
    assert abs(x - 24.5) <= 1 and abs(y - 29.5) <= 6  # farthest from the edge: the middle column
    pred = gt.copy()
    pred[5:55, 45:75] = True  # a larger false positive beside it
    (x, y), label = vw.metrics.next_click(pred, gt)
    assert label == 0 and 45 <= x < 75
    assert vw.metrics.next_click(gt, gt) is None
    (x, y), _ = vw.metrics.next_click(np.zeros_like(gt), np.ones_like(gt))
    assert 29 <= y <= 30 and 29 <= x <= 50  # the image border counts as the region's edge: 30 px from it


def test_noc_counts_clicks_to_a_threshold_and_caps_those_that_never_reach_it():
    assert vw.metrics.noc([0.5, 0.86, 0.9], 0.85) == 2
    assert vw.metrics.noc([0.5, 0.86, 0.9], 0.90) == 3
    assert vw.metrics.noc([0.5, 0.6], 0.85) == vw.metrics.MAX_CLICKS == 20
    assert vw.metrics.noc([], 0.85, max_clicks=5) == 5


def test_click_curve_prompts_a_segmenter_until_the_mask_is_right(synthetic_video):
    video, gt = synthetic_video
    seg = vw.Segmenter(video, engine="classic")
    curve = vw.metrics.click_curve(seg, 0, 1, gt.get(0, 1), max_clicks=5)
    assert list(curve.columns) == ["click", "x", "y", "label", "iou", "ms"]
    assert curve.click.tolist() == list(range(1, len(curve) + 1)) and 1 <= len(curve) <= 5
    assert curve.iou.iloc[-1] > 0.9 and (curve.ms > 0).all()
    assert [(p.frame, p.obj_id, p.points.tolist()) for p in seg.prompts] == [(0, 1, [[x, y]]) for x, y in zip(curve.x, curve.y)]
    assert curve.label.iloc[0] == 1
