"""Synthetic videos with exact ground truth, and the DAVIS loader."""

from __future__ import annotations

import numpy as np
import pytest

import vseg_widgets as vw


def test_synthetic_is_deterministic_with_the_promised_events():
    video, gt = vw.datasets.synthetic()
    again, gt_again = vw.datasets.synthetic()
    assert (len(video), video.height, video.width) == (48, 240, 320)
    np.testing.assert_array_equal(video[17], again[17])
    assert gt == gt_again
    assert not np.array_equal(video[0], vw.datasets.synthetic(seed=1)[0][0])
    area1 = np.array([gt.area(f, 1) for f in range(48)])
    area2 = np.array([gt.area(f, 2) for f in range(48)])
    # Object 2 leaves the frame and comes back.
    gone = np.flatnonzero(area2 == 0)
    assert 0 < gone.min() and gone.max() < 47 and area2[-1] > 0
    # Object 2 passes in front of object 1, hiding it completely for a few frames.
    hidden = np.flatnonzero(area1 == 0)
    assert len(hidden) >= 1 and hidden.min() > gone.max() and area1[-1] > 0.8 * area1.max()
    # Masks never overlap (each pixel shows one thing).
    for f in range(48):
        assert not (gt.get(f, 1) & gt.get(f, 2)).any()


def test_synthetic_scene_cut_and_options():
    video, gt = vw.datasets.synthetic(num_frames=20, scene_cut=12, num_objects=3, height=120, width=160)
    assert gt.obj_ids == [1, 2, 3]
    assert all(gt.area(f, o) == 0 for f in range(12, 20) for o in (1, 2, 3))
    assert all(gt.area(11, o) > 0 for o in (1, 3))
    # The new shot looks different: the colour statistics jump at the cut.
    diffs = [np.abs(video[f].astype(int) - video[f - 1]).mean() for f in range(1, 20)]
    assert int(np.argmax(diffs)) + 1 == 12
    blurred, _ = vw.datasets.synthetic(num_frames=2, motion_blur=9)
    sharp, _ = vw.datasets.synthetic(num_frames=2)
    assert np.abs(np.diff(blurred[0].astype(int), axis=1)).mean() < np.abs(np.diff(sharp[0].astype(int), axis=1)).mean()


def test_synthetic_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_objects"):
        vw.datasets.synthetic(num_objects=0)
    with pytest.raises(ValueError, match="32x32"):
        vw.datasets.synthetic(height=10)


def test_load_davis(davis_root):
    assert "blackswan" in vw.datasets.davis_sequences(davis_root)
    video, gt = vw.datasets.load_davis(davis_root, "blackswan")
    assert (len(video), video.height, video.width) == (50, 480, 854)
    assert video[0].shape == (480, 854, 3) and video[0].dtype == np.uint8
    assert gt.obj_ids == [1] and gt.frames() == list(range(50))
    assert 0 < gt.area(0, 1) < 480 * 854


def test_load_davis_missing_sequence_names_the_ones_there(davis_root):
    with pytest.raises(FileNotFoundError, match="sequences there: .*blackswan"):
        vw.datasets.load_davis(davis_root, "no-such-sequence")
