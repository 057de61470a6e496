"""The video with its masks drawn in, written as MP4 (OpenCV) or GIF (Pillow).

MP4 is H.264 where the OpenCV build has an encoder for it (``avc1``), otherwise MPEG-4 Part 2
(``mp4v``), which every FFmpeg-enabled OpenCV writes; the PyPI wheels of
opencv-python(-headless) ship FFmpeg without an H.264 encoder, so they write ``mp4v``.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from ..errors import EncoderMissingError, ExportFormatError
from ..palette import object_rgb
from ..persist.atomic import atomic_path

OVERLAYS = ("filled", "contour")
MP4_CODECS = ("avc1", "mp4v")  # H.264 first, then MPEG-4 Part 2
_codec_works: dict[str, bool] = {}  # fourcc -> could open a writer (probed once per process)


def draw_overlay(frame: np.ndarray, masks: dict[int, np.ndarray], overlay: str = "filled", opacity: float = 0.5,
                 labels: dict[int, str] | None = None) -> np.ndarray:
    """One frame with masks drawn in, as the player draws them.

    Args:
        frame: (H, W, 3) uint8 RGB.
        masks: {obj_id: (H, W) bool}; drawn in id order in the player's colours.
        overlay: "filled" (tinted with ``opacity``, plus outlines) or "contour" (outlines).
        labels: {obj_id: label}; a labelled object gets its label beside its mask.

    Returns:
        (H, W, 3) uint8 RGB, a new array.
    """
    out = np.array(frame, dtype=np.uint8, copy=True)
    h, w = out.shape[:2]
    thickness = max(1, round(min(h, w) / 240))
    for obj, mask in sorted(masks.items()):
        if not mask.any():
            continue
        colour = np.array(object_rgb(obj), np.float32)
        if overlay == "filled":
            out[mask] = (out[mask] * (1 - opacity) + colour * opacity).round().astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), thickness)
    for obj, mask in sorted(masks.items()):
        label = (labels or {}).get(obj)
        if label and mask.any():
            _put_label(out, label, mask, object_rgb(obj))
    return out


def _put_label(image: np.ndarray, text: str, mask: np.ndarray, colour) -> None:
    ys, xs = np.nonzero(mask)
    scale = max(0.35, min(image.shape[:2]) / 600)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = int(min(max(xs.min(), 0), max(image.shape[1] - tw, 0)))
    y = int(ys.min()) - 4
    y = y if y - th >= 0 else min(int(ys.min()) + th + 4, image.shape[0] - base)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)  # outline
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, tuple(int(c) for c in colour), 1, cv2.LINE_AA)


def export_video(seg, path, overlay: str = "filled", fps: float | None = None, frames=None, progress: bool = True,
                 opacity: float = 0.5) -> Path:
    """Write ``seg``'s video with its masks drawn in (see :meth:`Segmenter.export_video`)."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ExportFormatError(f"cannot export a video to {path.name!r}: give a path ending in .mp4 or .gif.")
    if overlay not in OVERLAYS:
        raise ExportFormatError(f"overlay must be one of {OVERLAYS}, got {overlay!r}.")
    if isinstance(opacity, bool) or not isinstance(opacity, (int, float)) or not 0 <= opacity <= 1:
        raise ExportFormatError(f"opacity must be a number in [0, 1], got {opacity!r}.")
    video = seg.video
    fps = float(video.fps if fps is None else fps)
    if not (math.isfinite(fps) and fps > 0):
        raise ExportFormatError(f"fps must be a positive number, got {fps}.")
    indices = list(range(len(video))) if frames is None else [video.check_index(f) for f in frames]
    if not indices:
        raise ExportFormatError("frames is empty: give at least one frame to export.")
    labels = seg.labels

    def drawn():
        from tqdm.auto import tqdm

        for i in tqdm(indices, desc=f"export {path.name}", unit="frame", disable=not progress, leave=False):
            yield draw_overlay(video[i], seg.masks[i], overlay, opacity, labels)

    if suffix == ".gif":
        return _write_gif(path, drawn(), fps)
    return _write_mp4(path, drawn(), fps, (video.width, video.height))


def mp4_codec() -> str:
    """The fourcc an MP4 export will use here: "avc1" (H.264) or "mp4v".

    Raises:
        EncoderMissingError: this OpenCV cannot write MP4 at all.
    """
    for fourcc in MP4_CODECS:
        if fourcc not in _codec_works:
            _codec_works[fourcc] = _probe(fourcc)
        if _codec_works[fourcc]:
            return fourcc
    raise EncoderMissingError(
        f"this OpenCV ({cv2.__version__}) cannot write MP4: its video I/O has no FFmpeg encoder for H.264 or "
        "MPEG-4. Install a build with FFmpeg: pip install --force-reinstall opencv-python-headless (the PyPI "
        "wheels include it; a distribution's OpenCV may not), or export a GIF (a path ending in .gif)."
    )


def _probe(fourcc: str) -> bool:
    """Can OpenCV open an MP4 writer with this fourcc? (FFmpeg prints its failures to the
    process's stderr; they are kept out of the notebook.)"""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        with _quiet_stderr():
            writer = cv2.VideoWriter(os.path.join(folder, "probe.mp4"), cv2.VideoWriter_fourcc(*fourcc), 24.0, (64, 64))
            ok = writer.isOpened()
            writer.release()
    return ok


@contextmanager
def _quiet_stderr():
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _write_mp4(path: Path, frames, fps: float, size: tuple[int, int]) -> Path:
    fourcc = mp4_codec()
    width, height = size
    even = (width + width % 2, height + height % 2)  # 4:2:0 encoders need even sizes: pad, never crop
    with atomic_path(path, "export") as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), fps, even)
        if not writer.isOpened():
            raise EncoderMissingError(f"OpenCV could not open an MP4 writer ({fourcc}) for {path}; export a GIF instead.")
        try:
            for rgb in frames:
                if even != size:
                    rgb = np.pad(rgb, ((0, even[1] - height), (0, even[0] - width), (0, 0)), mode="edge")
                writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        if tmp.stat().st_size == 0:
            raise EncoderMissingError(f"OpenCV wrote nothing to {path} with the {fourcc} encoder; export a GIF instead.")
    return path


def _write_gif(path: Path, frames, fps: float) -> Path:
    from PIL import Image

    Image.init()
    if "GIF" not in Image.SAVE_ALL:
        raise EncoderMissingError("this Pillow cannot write animated GIFs: pip install --upgrade pillow.")
    # GIF frame times are whole centiseconds: 24 fps plays at 25.
    duration = max(20, 10 * round(100 / fps))
    # Fast octree: a palette per frame in milliseconds (median cut takes about a second a frame).
    images = [Image.fromarray(f).quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE) for f in frames]
    with atomic_path(path, "export") as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False)
    return path
