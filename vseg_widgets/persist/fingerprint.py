"""What identifies a video for a session file: where it lives and a fingerprint of its content.

The fingerprint is the frame count, the size, the frame rate and SHA-256 hashes of the
decoded RGB pixels of a few frames spread over the video (first, last and three between).
It tells a different or re-encoded video from the one a session was made on, in a few
frame decodes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import VideoDecodeError

NUM_SAMPLES = 5
FPS_TOLERANCE = 1e-3  # frame rates are floats read from containers: compare loosely


def sample_frames(num_frames: int, count: int = NUM_SAMPLES) -> list[int]:
    """The frames a fingerprint hashes: ``count`` spread evenly from the first to the last."""
    return sorted({int(round(i)) for i in np.linspace(0, num_frames - 1, min(count, num_frames))})


def frame_hash(frame: np.ndarray) -> str:
    """SHA-256 (hex) of one (H, W, 3) uint8 RGB frame's pixels."""
    return hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()


def fingerprint(video) -> dict:
    """{"frames", "height", "width", "fps", "samples": [{"frame", "sha256"}]} of a Video.

    A sampled frame that cannot be decoded (a file whose header announces more frames than
    it holds) gets ``sha256`` None and is not compared on load: the work must still save.
    """
    return {
        "frames": len(video),
        "height": int(video.height),
        "width": int(video.width),
        "fps": float(video.fps),
        "samples": [{"frame": i, "sha256": _hash_or_none(video, i)} for i in sample_frames(len(video))],
    }


def _hash_or_none(video, index: int) -> str | None:
    try:
        return frame_hash(video[index])
    except VideoDecodeError:
        return None


def differences(saved: dict, video, check_pixels: bool = True) -> list[str]:
    """What differs between a saved fingerprint and ``video``, in words ([] when it matches)."""
    out = []
    if saved["frames"] != len(video):
        out.append(f"frame count: {saved['frames']} saved, {len(video)} now")
    if (saved["height"], saved["width"]) != (video.height, video.width):
        out.append(f"size: {saved['width']}x{saved['height']} saved, {video.width}x{video.height} now")
    if abs(saved["fps"] - video.fps) > FPS_TOLERANCE:
        out.append(f"frame rate: {saved['fps']:g} fps saved, {video.fps:g} now (open_video(src, fps={saved['fps']:g}) sets it)")
    if out or not check_pixels:
        return out  # pixels of a video of another length or size differ anyway
    changed = [s["frame"] for s in saved["samples"] if s["sha256"] is not None and _hash_or_none(video, s["frame"]) != s["sha256"]]
    if changed:
        out.append(f"pixels of frame{'s' if len(changed) > 1 else ''} {', '.join(map(str, changed))}")
    return out


def source(video, relative_to: Path | None = None) -> dict:
    """{"kind": "file" | "folder" | "array", "path", "relative_path"} of a Video.

    ``path`` is absolute; ``relative_path`` is relative to ``relative_to`` (the session
    file's folder), so that a project folder moved as a whole still finds its video.
    Anything that is not a file or a folder of frames (an array, a user's own Video) has
    no path: loading it needs ``video=``.
    """
    path = getattr(video, "path", None)
    if path is None:
        path = getattr(video, "folder", None)
    if path is None:
        return {"kind": "array", "path": None, "relative_path": None}
    path = Path(path).expanduser().resolve()
    relative = None
    if relative_to is not None:
        try:
            relative = Path(os.path.relpath(path, Path(relative_to).resolve())).as_posix()
        except ValueError:  # another drive (Windows)
            relative = None
    return {"kind": "folder" if path.is_dir() else "file", "path": str(path), "relative_path": relative}
