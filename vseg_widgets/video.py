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

from .stream_index import _REENCODE, index_stream
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

    @property
    def timestamps(self) -> np.ndarray:
        """(T,) float64 seconds from frame 0 to each frame: ``i / fps`` unless the source
        knows better (a file's own timestamps, for variable frame rates)."""
        return np.arange(len(self)) / self.fps

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
    """A video file decoded with PyAV (FFmpeg); random access is exact.

    Opening reads the stream's packets (:mod:`vseg_widgets.stream_index`: the true frame
    count, each frame's timestamp, the keyframes) and decodes two places: frame 0 (its
    size after rotation; a codec that cannot be decoded fails here, not later) and the
    stretch from the last keyframe to the end, so that a truncated or damaged tail
    shortens the video instead of failing mid-propagation. A frame's index is its place
    in display order: a request just after the last decoded frame reads on; any other
    seeks to the keyframe at or before it and counts frames from there.

    Attributes:
        path: the file.
        index: its :class:`~vseg_widgets.stream_index.StreamIndex`.
        rotation: degrees counter-clockwise applied to every frame (the file's display
            matrix: phone videos), one of 0, 90, 180, 270.
        announced_frames: the frame count the container's header gives (0 if none);
            ``len(video)`` is the count that decodes.
    """

    _READ_AHEAD = 48  # reading on is cheaper than seeking for short jumps
    _TAIL_KEYFRAMES = 4  # keyframes tried from the end before counting from the start

    def __init__(self, path: str | Path, fps: float | None = None, **kwargs):
        super().__init__(**kwargs)
        import av

        self._av = av
        self.path = Path(path)
        self.index = index_stream(self.path)
        self._opened = _file_state(self.path)
        self.announced_frames = self.index.announced
        self._container = av.open(str(self.path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame threads: the decoder uses every core
        self._frames: Iterator[tuple[int, np.ndarray]] | None = None
        self._next = -1  # display index the running decoder yields next (-1: none)
        self._exact_seek = self.index.seekable  # cleared if a seek ever lands elsewhere
        self._read_through = False  # the container was read to its end once (see _run)
        self._length = self.index.num_frames
        self.rotation = 0
        try:
            first = self[0]
        except VideoDecodeError as exc:
            raise VideoOpenError(
                f"{self.path} opens but its first frame does not decode ({self.index.codec}, "
                f"{self.index.pix_fmt}): {exc} {_REENCODE}"
            ) from None
        self.height, self.width = first.shape[:2]
        self._length = self._decodable_length()
        times = self.index.timestamps()
        if fps is not None:
            self.fps = _check_fps(fps)
            self._timestamps = np.arange(self._length) / self.fps  # the caller's rate wins
        elif times is not None and self._length > 1:
            self._timestamps = times[: self._length]
            self.fps = _check_fps(_rate(self._timestamps, self.index.nominal_rate))
        else:
            self.fps = _check_fps(self.index.nominal_rate or DEFAULT_FPS)
            self._timestamps = np.arange(self._length) / self.fps
        self._timestamps.setflags(write=False)

    @property
    def timestamps(self) -> np.ndarray:
        """(T,) float64 seconds from frame 0, from the stream (true for variable rates)."""
        return self._timestamps

    # -- decoding ------------------------------------------------------------------------
    def _decode(self, index: int) -> np.ndarray:
        av = self._av
        try:
            if not (self._frames is not None and 0 <= index - self._next <= self._READ_AHEAD) and not (
                self._frames is not None and self._key_at_or_before(index)[1] <= self._next <= index
            ):
                self._start(index)
            while True:
                at, frame = next(self._frames)
                self._next = at + 1
                if at == index:
                    return frame
                if at > index:  # a seek that counted wrong: never again, count from the start
                    self._exact_seek = False
                    self._start(index)
        except StopIteration:
            self._frames, self._next = None, -1
            raise VideoDecodeError(self._decode_failure(index, "the decoder ran out of frames")) from None
        except (av.error.FFmpegError, _LostPosition) as exc:
            self._frames, self._next = None, -1
            if isinstance(exc, _LostPosition) and self._exact_seek:
                self._exact_seek = False  # this file seeks inexactly: read from the start instead
                return self._decode(index)
            raise VideoDecodeError(self._decode_failure(index, str(exc))) from None

    def _key_at_or_before(self, index: int) -> tuple[int, int]:
        """(keyframe number, its display index) to start decoding ``index`` from."""
        if not self._exact_seek:
            return -1, 0
        k = int(np.searchsorted(self.index.key_display, index, side="right")) - 1
        return (k, int(self.index.key_display[k])) if k >= 0 else (-1, 0)

    def _start(self, index: int) -> None:
        k, _ = self._key_at_or_before(index)
        self._frames = self._run(k)
        self._next = -1

    def _run(self, k: int) -> Iterator[tuple[int, np.ndarray]]:
        """Decode from keyframe ``k`` (-1: the start of the file), yielding (display index,
        (H, W, 3) uint8 RGB) in display order.

        A seek is checked: it must land on keyframe ``k``'s packet and give its frame
        first. Where it does not (an AVI cut before its index: the demuxer learns positions
        only as it reads), the file is read through once without decoding and the seek
        made again; where it still does not, _LostPosition tells the caller.
        """
        try:
            yield from self._run_once(k)
        except _LostPosition:
            if k < 0 or self._read_through:
                raise
            self._read_through = True
            for _ in self._container.demux(self._stream):
                pass
            yield from self._run_once(k)

    def _run_once(self, k: int) -> Iterator[tuple[int, np.ndarray]]:
        index = self.index
        stream = self._stream
        if k >= 0:
            self._container.seek(int(index.key_ts[k]), stream=stream, backward=True)
        else:
            self._container.seek(0, backward=True, any_frame=False)
        stream.codec_context.flush_buffers()
        at = None  # display index of the next frame out of the decoder
        first = True
        for packet in self._container.demux(stream):
            if at is None and packet.size:
                at = self._landing(k, packet)
            for frame in packet.decode():
                if at is None:
                    raise _LostPosition("the decoder gave a frame before any packet")
                if first and k >= 0 and len(index.key_pts) and frame.pts != int(index.key_pts[k]):
                    raise _LostPosition(f"the seek to keyframe {k} started on another frame")
                first = False
                yield at, self._to_rgb(frame)
                at += 1

    def _landing(self, k: int, packet) -> int:
        """The display index of the first frame decoded after seeking to keyframe ``k``."""
        if k < 0:
            return 0
        ts = packet.dts if packet.dts is not None else packet.pts
        if not packet.is_keyframe or ts != int(self.index.key_ts[k]):
            raise _LostPosition(f"a seek to keyframe {k} landed on timestamp {ts}")
        return int(self.index.key_display[k])

    def _to_rgb(self, frame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")  # swscale: 10-bit and any pixel format -> 8-bit RGB
        rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
        if rotation % 90:
            rotation = 0  # a display matrix that is not a quarter turn: shown unrotated
        self.rotation = rotation
        if rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))  # counter-clockwise, as FFmpeg shows it
        return rgb

    def _decodable_length(self) -> int:
        """Frames that decode: the stream's count, less a damaged tail (decoded from the
        last keyframes; counted from the start if none of those decodes)."""
        n = self.index.num_frames
        last = len(self.index.key_ts) - 1
        for k in range(last, max(-1, last - self._TAIL_KEYFRAMES), -1) if self._exact_seek else ():
            count = self._count_from(k)
            if count is None:
                break  # seeking does not land here: count from the start
            if count:
                return min(int(self.index.key_display[k]) + count, n)
        count = self._count_from(-1) or 0
        if count == 0:
            raise VideoOpenError(f"{self.path} holds no frame that decodes. {_REENCODE}")
        return min(count, n)

    def _count_from(self, k: int) -> int | None:
        """Frames that decode from keyframe ``k`` (-1: the start) on, up to the first
        failure; None if the seek to it cannot be made."""
        count = 0
        try:
            for _ in self._run(k):
                count += 1
        except self._av.error.FFmpegError:
            pass
        except _LostPosition:
            return None
        finally:
            self._frames, self._next = None, -1
        return count

    def _decode_failure(self, index: int, why: str) -> str:
        now = _file_state(self.path)
        if now is None:
            return (
                f"could not decode frame {index} of {self.path}: the file was removed after it was "
                f"opened ({why}). Put it back, or open a copy with vw.open_video(path)."
            )
        if now != self._opened:
            return (
                f"could not decode frame {index} of {self.path}: the file changed after it was "
                f"opened ({why}). Open it again with vw.open_video(path) and start a new Segmenter "
                "(masks computed so far stay in seg.masks)."
            )
        return (
            f"could not decode frame {index} of {self.path} ({why}): the file is damaged there "
            f"(frames 0..{len(self) - 1} were found). {_REENCODE}"
        )


class _LostPosition(Exception):
    """A seek or decode that cannot tell which frame it is on (handled inside FileVideo)."""


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime) of ``path``, None if it is gone: tells a replaced file apart."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _rate(timestamps: np.ndarray, nominal: float) -> float:
    """The frame rate of these (T,) timestamps: the container's when it fits them (every
    frame within half a frame of i / rate), else the mean rate (variable-rate video)."""
    if nominal > 0 and np.abs(timestamps - np.arange(len(timestamps)) / nominal).max() < 0.5 / nominal:
        return nominal
    span = float(timestamps[-1] - timestamps[0])
    return (len(timestamps) - 1) / span if span > 0 else (nominal or DEFAULT_FPS)


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


def frame_times(frames, fps: float | None = None, video=None) -> np.ndarray | None:
    """The ``time_s`` of frame numbers, as every table gives it.

    Args:
        frames: (N,) ints.
        fps: a rate the caller gives: ``frames / fps``.
        video: otherwise, the video's own :attr:`Video.timestamps` (true for variable
            frame rates; ``i / fps`` for arrays and folders).

    Returns:
        (N,) float64 seconds, or None when neither is given.
    """
    frames = np.asarray(frames, np.int64)
    if fps is not None:
        return frames / float(fps)
    if video is None:
        return None
    times = getattr(video, "timestamps", None)
    return np.asarray(times)[frames] if times is not None else frames / float(video.fps)


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
