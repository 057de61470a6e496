"""Shot detection with PySceneDetect on our frames."""

from __future__ import annotations

import pytest

import vseg_widgets as vw


@pytest.mark.parametrize("detector", ["content", "adaptive", "histogram"])
def test_detects_the_synthetic_cut(detector):
    video, _ = vw.datasets.synthetic(num_frames=40, scene_cut=22)
    shots = vw.shots.detect(video, detector)
    assert shots.start_frame.tolist() == [0, 22] and shots.end_frame.tolist() == [22, 40]
    assert shots.num_frames.sum() == 40
    assert shots.start_s[1] == pytest.approx(22 / video.fps)


def test_one_shot_without_cut():
    video, _ = vw.datasets.synthetic(num_frames=30)
    assert len(vw.shots.detect(video)) == 1


def test_unknown_detector():
    with pytest.raises(ValueError, match="choose one of content"):
        vw.shots.detect(vw.datasets.synthetic(num_frames=2)[0], "magic")
