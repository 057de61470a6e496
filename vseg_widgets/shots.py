"""Temporal segmentation: split a video into shots with PySceneDetect's detectors.

Our frames (any :class:`vseg_widgets.video.Video`) are fed to the detector directly, so
arrays and frame folders work as well as files.
"""

from __future__ import annotations

import cv2
import pandas as pd

from .video import open_video

DETECTORS = ("content", "adaptive", "histogram", "threshold")


def detect(video, detector: str = "content", min_shot_len: int = 8, **detector_args) -> pd.DataFrame:
    """Shots of ``video``, one row each.

    Args:
        video: anything :func:`vseg_widgets.open_video` takes.
        detector: which PySceneDetect detector: "content" (HSV + luma change between frames,
            the usual choice for hard cuts), "adaptive" (content change relative to its
            neighbourhood: fewer false cuts under fast motion), "histogram" or "threshold"
            (fades to and from black).
        min_shot_len: shortest shot, in frames.
        **detector_args: passed to the detector (e.g. ``threshold=27.0`` for "content").

    Returns:
        DataFrame with columns shot (0-based), start_frame, end_frame (exclusive),
        num_frames, start_s, end_s.
    """
    from scenedetect import AdaptiveDetector, ContentDetector, HistogramDetector, ThresholdDetector
    from scenedetect.common import FrameTimecode

    classes = dict(zip(DETECTORS, (ContentDetector, AdaptiveDetector, HistogramDetector, ThresholdDetector)))
    if detector not in classes:
        raise ValueError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}.")
    video = open_video(video)
    scene_detector = classes[detector](min_scene_len=min_shot_len, **detector_args)
    cuts = []
    for i in range(len(video)):
        bgr = cv2.cvtColor(video[i], cv2.COLOR_RGB2BGR)  # PySceneDetect works on OpenCV's BGR
        cuts += scene_detector.process_frame(FrameTimecode(i, fps=video.fps), bgr)
    if hasattr(scene_detector, "post_process"):  # detectors that hold back their last decision
        cuts += scene_detector.post_process(FrameTimecode(len(video) - 1, fps=video.fps))
    bounds = [0, *sorted({c.frame_num for c in cuts} - {0}), len(video)]
    rows = [
        {
            "shot": k,
            "start_frame": start,
            "end_frame": end,
            "num_frames": end - start,
            "start_s": start / video.fps,
            "end_s": end / video.fps,
        }
        for k, (start, end) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]
    return pd.DataFrame(rows)
