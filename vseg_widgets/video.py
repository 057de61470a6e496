"""Lazy video sources: a video file, a folder of frames or a numpy array.

Every source is a :class:`Video`: ``len(video)``, ``video.fps``, ``video.height``,
``video.width`` and ``video[i] -> (H, W, 3) uint8 RGB``. Frames decode on demand and
are kept in a bounded LRU cache, so opening a long video decodes nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import (
    FrameFormatError,
    FrameIndexError,
    VideoDecodeError,
    VideoNotFoundError,
    VideoOpenError,
)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_FPS = 24.0  # DAVIS sequences were shot at 24 frames/s
DEFAULT_CACHE_BYTES = 512 * 2**20


def to_rgb_uint8(frame: np.ndarray, where: str, bgr: bool = False) -> np.ndarray:
    """Convert one decoded frame to (H, W, 3) uint8 RGB, or refuse with a clear error.

    Grayscale (H, W) or (H, W, 1) is repeated to three channels and RGBA drops its
    alpha. 16-bit or float frames are refused: scaling them silently would hide a
    choice the caller should make.
    """
    if frame.dtype != np.uint8:
        raise FrameFormatError(
            f"{where} has dtype {frame.dtype}; frames must be uint8 (0..255). "
            "Convert first, e.g. (frame >> 8).astype(np.uint8) for 16-bit or "
            "(np.clip(frame, 0, 1) * 255).astype(np.uint8) for floats in [0, 1]."
        )
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 2:
        return np.ascontiguousarray(np.repeat(frame[:, :, None], 3, axis=2))
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise FrameFormatError(
            f"{where} has shape {frame.shape}; expected (H, W) grayscale, (H, W, 3) RGB "
            "or (H, W, 4) RGBA."
        )
    if bgr:
        code = cv2.COLOR_BGRA2RGB if frame.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(frame, code)
    return np.ascontiguousarray(frame[:, :, :3])


class Video:
    """A sequence of RGB frames with random access through a bounded cache.

    Subclasses implement ``_decode(i) -> (H, W, 3) uint8 RGB`` and set ``_length``,
    ``height``, ``width`` and ``fps``.
    """

    height: int
    width: int
    fps: float
    _length: int

    def __init__(self, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._lock = threading.Lock()  # the player and a propagation thread read concurrently

    def _decode(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._length

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(T, H, W, 3), as the equivalent numpy array would have."""
        return (len(self), self.height, self.width, 3)

    @property
    def duration_s(self) -> float:
        return len(self) / self.fps

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` as a read-only (H, W, 3) uint8 RGB array."""
        if isinstance(index, slice):
            return np.stack([self[i] for i in range(*index.indices(len(self)))])
        i = self.check_index(index)
        with self._lock:
            frame = self._cache.get(i)
            if frame is not None:
                self._cache.move_to_end(i)
                return frame
            frame = self._decode(i)
            frame.setflags(write=False)
            self._cache[i] = frame
            max_frames = max(2, self._cache_bytes // max(frame.nbytes, 1))
            while len(self._cache) > max_frames:
                self._cache.popitem(last=False)
            return frame

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def check_index(self, index) -> int:
        """Return ``index`` as a non-negative int, or raise FrameIndexError."""
        try:
            i = int(index)
        except (TypeError, ValueError):
            raise FrameIndexError(f"frame index must be an int, got {index!r}") from None
        if i != index:
            raise FrameIndexError(f"frame index must be an int, got {index!r}")
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise FrameIndexError(
                f"frame {index} is outside this video of {len(self)} frames "
                f"(valid: 0..{len(self) - 1})."
            )
        return i

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} frames, {self.width}x{self.height}, "
            f"{self.fps:g} fps)"
        )


class ArrayVideo(Video):
    """Frames held in memory as a (T, H, W, 3) uint8 RGB array (gray and RGBA are converted)."""

    def __init__(self, frames: np.ndarray, fps: float = DEFAULT_FPS):
        super().__init__(cache_bytes=0)
        frames = np.asarray(frames)
        if frames.size == 0 or frames.ndim < 3:
            raise FrameFormatError(
                f"the array has shape {frames.shape}; expected a non-empty (T, H, W, 3) "
                "uint8 RGB array (or (T, H, W) grayscale)."
            )
        if frames.ndim == 3:  # (T, H, W) grayscale
            frames = frames[..., None]
        first = to_rgb_uint8(frames[0], "the array's frame 0")
        if frames.shape[-1] != 3:
            frames = np.stack([to_rgb_uint8(f, f"frame {i}") for i, f in enumerate(frames)])
        self._frames = frames.view()  # a read-only view: callers cannot corrupt the source
        self._frames.setflags(write=False)
        self._length = len(frames)
        self.height, self.width = first.shape[:2]
        self.fps = _check_fps(fps)

    def __getitem__(self, index: int) -> np.ndarray:
        if isinstance(index, slice):
            return self._frames[index]
        return self._frames[self.check_index(index)]


class FolderVideo(Video):
    """A folder of image files, one per frame, in name order (the DAVIS layout)."""

    def __init__(self, folder: str | Path, fps: float = DEFAULT_FPS, **kwargs):
        super().__init__(**kwargs)
        self.folder = Path(folder)
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise VideoOpenError(
                f"no frames in {self.folder}: expected image files ({', '.join(IMAGE_SUFFIXES)}). "
                "Point open_video at the folder that holds the frames themselves."
            )
        self._length = len(self.paths)
        self.width, self.height = _image_size(self.paths[0])
        # Header reads only: checking 10,000 sizes takes well under a second.
        for p in self.paths[1:]:
            size = _image_size(p)
            if size != (self.width, self.height):
                raise FrameFormatError(
                    f"frames in {self.folder} have mixed sizes: {self.paths[0].name} is "
                    f"{self.width}x{self.height} but {p.name} is {size[0]}x{size[1]}. "
                    "Resize them to one size first."
                )
        self.fps = _check_fps(fps)

    def _decode(self, index: int) -> np.ndarray:
        path = self.paths[index]
        frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if frame is None:
            raise VideoDecodeError(f"could not decode {path}: the file is corrupt or not an image.")
        return to_rgb_uint8(frame, str(path), bgr=frame.ndim == 3)


class FileVideo(Video):
    """A video file decoded with OpenCV; random access is exact.

    A request just after the last decoded frame reads on; any other seeks, then checks
    the position the decoder reports, and falls back to reading from the start of the
    file where the container does not seek exactly.
    """

    _READ_AHEAD = 48  # reading on is cheaper than seeking for short jumps

    def __init__(self, path: str | Path, fps: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.path = Path(path)
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise VideoOpenError(
                f"OpenCV could not open {self.path}: the file is corrupt or its codec is "
                "not supported. Re-encode it, e.g. `ffmpeg -i in.mov -c:v libx264 out.mp4`."
            )
        self._length = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if self._length <= 0 or self.width <= 0 or self.height <= 0:
            raise VideoOpenError(
                f"{self.path} holds no readable frames (OpenCV reports {self._length} frames "
                f"of {self.width}x{self.height}). Check that the file is a complete video."
            )
        self.fps = _check_fps(fps or self._capture.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS)
        self._next = 0  # index of the frame the next read() returns

    def _read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok:
            return None
        self._next += 1
        return frame

    def _decode(self, index: int) -> np.ndarray:
        if not 0 <= index - self._next <= self._READ_AHEAD:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._next = int(self._capture.get(cv2.CAP_PROP_POS_FRAMES))
            if self._next != index:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._next = 0
        while self._next < index:
            if not self._capture.grab():
                break
            self._next += 1
        frame = self._read() if self._next == index else None
        if frame is None:
            raise VideoDecodeError(
                f"could not decode frame {index} of {self.path} (the header announces "
                f"{self._length} frames): the file is truncated or corrupt. Re-encode it, or "
                f"use only frames before {index}."
            )
        return to_rgb_uint8(frame, f"frame {index} of {self.path}", bgr=True)


def open_video(src, fps: float | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES) -> Video:
    """Open a video lazily.

    Args:
        src: a video file path (.mp4, .avi, .mov, .mkv, ...), a folder of frame images
            (sorted by name; the DAVIS ``JPEGImages/480p/<sequence>`` layout works), a
            numpy array (T, H, W, 3) uint8 RGB, or a Video (returned as is).
        fps: frames per second; defaults to the file's own rate, or 24 for folders and arrays.
        cache_bytes: memory budget of the decoded-frame cache.

    Returns:
        A :class:`Video`; ``video[i]`` is an (H, W, 3) uint8 RGB array.
    """
    if isinstance(src, Video):
        return src
    if isinstance(src, np.ndarray) or (isinstance(src, (list, tuple)) and src and hasattr(src[0], "shape")):
        return ArrayVideo(np.asarray(src), fps=fps or DEFAULT_FPS)
    if not isinstance(src, (str, Path)):
        raise TypeError(
            f"open_video takes a file path, a folder path or a numpy array, not {type(src).__name__}."
        )
    path = Path(src).expanduser()
    if not path.exists():
        raise VideoNotFoundError(f"no such file or folder: {path}. Check the path (cwd is {Path.cwd()}).")
    if path.is_dir():
        return FolderVideo(path, fps=fps or DEFAULT_FPS, cache_bytes=cache_bytes)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise VideoOpenError(
            f"{path} is a single image; open the folder that holds all the frames instead."
        )
    return FileVideo(path, fps=fps, cache_bytes=cache_bytes)


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise VideoOpenError(f"{path} is not a readable image ({exc}). Remove or replace it.") from None


def _check_fps(fps) -> float:
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps}.")
    return fps
