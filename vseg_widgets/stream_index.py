"""What a video file really holds, read from its packets without decoding a frame.

Containers lie about themselves. ``tree.avi`` (Debian's opencv-doc samples) announces 444
frames in its header and holds 68 (the other 376 index entries are empty "drop" packets);
``box.mp4`` announces 456 and its last sample is marked to be discarded by the edit list,
so 455 frames are shown. Demuxing every packet with PyAV (FFmpeg's libavformat) reads
only the container's index and packet headers: a few milliseconds per thousand frames,
about 100x cheaper than decoding.

A :class:`StreamIndex` answers, for the first video stream:

- how many frames the stream shows: its non-empty packets that are not marked discard
  (one packet is one frame for every codec FFmpeg demuxes to frames), less a partial
  packet at the end of a cut file;
- when each is shown: the packets' presentation timestamps, sorted (display order);
- where decoding can start: the keyframes, each with the display index of its frame.

The decoder (:class:`vseg_widgets.video.FileVideo`) checks the tail by decoding it, since
a truncated last packet is still a packet.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import VideoOpenError

_REENCODE = "Re-encode it, e.g. `ffmpeg -i in.mov -c:v libx264 -pix_fmt yuv420p out.mp4`."


@dataclass(frozen=True)
class StreamIndex:
    """The packets of a file's first video stream.

    Attributes:
        num_frames: frames the stream shows (non-empty, non-discarded packets).
        announced: the frame count the container's header gives (0 when it gives none).
        pts: (num_frames,) int64 presentation timestamps in display order, in
            ``time_base`` units; None when the packets carry no timestamps.
        time_base: seconds per timestamp unit.
        key_ts: (K,) int64 timestamps to seek to, one per keyframe (the packet's dts, or
            its pts when it has no dts), in decode order; empty when seeking is impossible.
        key_pts: (K,) int64 presentation timestamps of the keyframes (for checking that
            the decoder starts where it was sent).
        key_display: (K,) int64 display index of each keyframe's frame.
        key_decode: (K,) int64 count of shown packets before each keyframe (decode order).
        codec, pix_fmt: FFmpeg's names, e.g. "h264", "yuv420p10le".
        coded_width, coded_height: the stream's frame size before any rotation.
        nominal_rate: the frame rate the container declares (0 when none).
    """

    num_frames: int
    announced: int
    pts: np.ndarray | None
    time_base: Fraction
    key_ts: np.ndarray
    key_pts: np.ndarray
    key_display: np.ndarray
    key_decode: np.ndarray
    codec: str
    pix_fmt: str
    coded_width: int
    coded_height: int
    nominal_rate: float

    def timestamps(self) -> np.ndarray | None:
        """(num_frames,) float64 seconds from the first frame, or None without timestamps."""
        if self.pts is None:
            return None
        return (self.pts - self.pts[0]).astype(np.float64) * float(self.time_base)

    @property
    def seekable(self) -> bool:
        return len(self.key_ts) > 0


def index_stream(path: str | Path) -> StreamIndex:
    """Demux every packet of ``path``'s first video stream (no decoding).

    Raises:
        VideoOpenError: FFmpeg cannot read the file, it has no video stream (audio only),
            or its video stream holds no frames.
    """
    import av  # PyAV: FFmpeg's demuxers and decoders

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoOpenError(
            f"could not open {path} as a video ({exc}): the file is corrupt, incomplete or not a "
            f"video. {_REENCODE}"
        ) from None
    with container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["nothing"]
            raise VideoOpenError(
                f"{path} has no video stream (it holds {', '.join(kinds)}). Open a file with video "
                "in it; for audio with a still image, make a video first, e.g. "
                "`ffmpeg -loop 1 -i image.png -i audio.m4a -shortest out.mp4`."
            )
        stream = container.streams.video[0]
        ctx = stream.codec_context
        pts, ts_any, key_ts, key_pts, key_decode = [], [], [], [], []
        shown = intact = 0  # packets shown; of those, up to the last one read whole
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue  # the demuxer's flush packet, AVI drop frames, edit-list trims
                if packet.is_keyframe:
                    seek_ts = packet.dts if packet.dts is not None else packet.pts
                    key_ts.append(seek_ts)
                    key_pts.append(packet.pts)
                    key_decode.append(shown)
                pts.append(packet.pts)
                ts_any.append(packet.dts if packet.dts is not None else packet.pts)
                shown += 1
                if not packet.is_corrupt:
                    intact = shown
        except av.error.FFmpegError:
            pass  # a damaged tail: the packets read so far are the stream; the decoder checks them
        # A cut file ends in a partial packet that the demuxer flags corrupt; decoders
        # conceal the missing part (half a grey JPEG), so it is not a frame of the video.
        shown = intact
        pts, ts_any = pts[:shown], ts_any[:shown]
        keep = sum(1 for d in key_decode if d < shown)
        key_ts, key_pts, key_decode = key_ts[:keep], key_pts[:keep], key_decode[:keep]
        if shown == 0:
            raise VideoOpenError(
                f"{path} holds no video frames (its video stream is empty). Check that the file was "
                f"written completely. {_REENCODE}"
            )
        time_base = stream.time_base or Fraction(1, 1)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        have_pts = all(p is not None for p in pts)
        sorted_pts = np.sort(np.asarray(pts, np.int64)) if have_pts else None
        seekable = bool(key_ts) and all(t is not None for t in key_ts) and all(t is not None for t in ts_any)
        if have_pts and seekable:
            display = np.searchsorted(sorted_pts, np.asarray(key_pts, np.int64))
        else:
            display = np.asarray(key_decode, np.int64)
        return StreamIndex(
            num_frames=shown,
            announced=int(stream.frames or 0),
            pts=sorted_pts,
            time_base=Fraction(time_base),
            key_ts=np.asarray(key_ts if seekable else [], np.int64),
            key_pts=np.asarray(key_pts if seekable and have_pts else [], np.int64),
            key_display=np.asarray(display if seekable else [], np.int64),
            key_decode=np.asarray(key_decode if seekable else [], np.int64),
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "",
            coded_width=int(ctx.width),
            coded_height=int(ctx.height),
            nominal_rate=float(rate) if rate else 0.0,
        )
