"""Real files and the ways they lie: true length, timestamps, rotation, 10-bit, odd sizes,
one or no frame, audio only, non-ASCII paths, a file removed or changed while open, and
Debian's opencv-doc sample clips (skipped when absent; see README, "Tests")."""

from __future__ import annotations

import gzip
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.errors import FrameIndexError, VideoDecodeError, VideoOpenError

OPENCV_DOC = Path(os.environ.get("VSEG_OPENCV_DOC", "/tmp/opencv-doc")) / "usr/share/doc/opencv-doc"
# name -> frames that decode (what `ffmpeg -i f -f null -` counts) and what the header says
CLIPS = {
    "examples/data/tree.avi": (68, 444),
    "examples/data/Megamind.avi": (270, 270),
    "examples/data/Megamind_bugy.avi": (270, 270),
    "examples/data/vtest.avi": (795, 795),
    "opencv4/html/box.mp4.gz": (455, 456),
    "opencv4/html/cup.mp4.gz": (217, 217),
}


def pattern(i: int, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8: a white block in the top-left quarter and a level that names frame i."""
    img = np.full((height, width, 3), (20 + 9 * i) % 200, np.uint8)
    img[: height // 2, : width // 4] = 255
    return img


def write(path, count=6, width=64, height=48, codec="libx264", pix_fmt="yuv420p", rate=24, pts=None,
          rotation=None, time_base=None) -> Path:
    """Encode ``count`` pattern frames with PyAV; ``pts`` (ints in ``time_base``) for a variable rate."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(pattern(i, height, width), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)


def decode_all(path) -> list[np.ndarray]:
    """Every frame FFmpeg decodes, in order, until the first failure (the reference)."""
    frames = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
    except av.error.FFmpegError:
        pass
    return frames


def test_variable_frame_rate_timestamps_are_the_streams(tmp_path):
    times_ms = [0, 40, 50, 200, 210, 500, 1000]
    path = write(tmp_path / "vfr.mp4", count=len(times_ms), pts=times_ms, time_base=Fraction(1, 1000))
    video = vw.open_video(path)
    assert len(video) == len(times_ms)
    np.testing.assert_allclose(video.timestamps, np.array(times_ms) / 1000, atol=1e-6)
    assert video.fps == pytest.approx((len(times_ms) - 1) / 1.0)  # the mean rate, not the header's
    seg = vw.Segmenter(video, engine="classic")
    seg.add_box(5, 1, (0, 0, 16, 24))
    table = seg.to_dataframe()
    assert table.loc[table["frame"] == 5, "time_s"].item() == pytest.approx(0.5)
    consistency = vw.metrics.consistency(seg)
    assert consistency.loc[consistency["frame"] == 5, "time_s"].item() == pytest.approx(0.5)
    # a rate the caller gives wins
    assert vw.open_video(path, fps=10).timestamps[5] == pytest.approx(0.5)


def test_constant_rate_file_keeps_its_rate(tmp_path):
    video = vw.open_video(write(tmp_path / "cfr.mp4", count=10, rate=25))
    assert video.fps == 25 and video.timestamps[9] == pytest.approx(9 / 25)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_metadata_is_applied_like_ffmpeg_and_opencv(tmp_path, rotation):
    path = write(tmp_path / f"rot{rotation}.mp4", rotation=rotation)
    video = vw.open_video(path)
    turned = rotation % 180 != 0
    assert (video.width, video.height) == ((48, 64) if turned else (64, 48))
    # OpenCV's FFmpeg backend rotates too (CAP_PROP_ORIENTATION_AUTO): the same picture
    ok, reference = cv2.VideoCapture(str(path)).read()
    assert ok and reference.shape[:2] == video[0].shape[:2]
    white = video[0].min(axis=2) > 200
    assert (white == (reference.min(axis=2) > 200)).mean() > 0.98
    # the unrotated picture has its white block top-left; FFmpeg turns it counter-clockwise by `rotation`
    expected = np.rot90(pattern(0, 48, 64), k=(rotation % 360) // 90).min(axis=2) > 200
    assert (white == expected).mean() > 0.98


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_ten_bit_video_decodes_to_8_bit_rgb(tmp_path, codec):
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec} encoder")
    path = write(tmp_path / f"{codec}.mp4", codec=codec, pix_fmt="yuv420p10le")
    video = vw.open_video(path)
    assert video.index.pix_fmt == "yuv420p10le"
    frame = video[3]
    assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
    assert np.abs(frame.astype(int) - pattern(3, 48, 64)).mean() < 6  # the right picture, scaled to 8 bits


@pytest.mark.parametrize("suffix,codec,pix_fmt", [(".mkv", "ffv1", "yuv420p"), (".avi", "mjpeg", "yuvj420p")])
def test_odd_frame_sizes(tmp_path, suffix, codec, pix_fmt):
    path = write(tmp_path / f"odd{suffix}", width=65, height=47, codec=codec, pix_fmt=pix_fmt)
    video = vw.open_video(path)
    assert (len(video), video.height, video.width) == (6, 47, 65)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_box(0, 1, (0, 0, 16, 23))
    seg.propagate(progress=False)
    assert seg.masks[5][1].shape == (47, 65)


def test_one_frame_file(tmp_path):
    video = vw.open_video(write(tmp_path / "one.mp4", count=1))
    assert len(video) == 1 and video.timestamps.tolist() == [0.0]
    seg = vw.Segmenter(video, engine="classic")
    seg.add_box(0, 1, (0, 0, 16, 24))
    report = seg.propagate(progress=False)
    assert report.frames >= 1 and list(seg.masks.frames()) == [0]


def test_zero_frame_file_is_refused_with_a_fix(tmp_path):
    path = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24, (64, 48))
    writer.release()  # a header and no frame
    with pytest.raises(VideoOpenError, match="holds no video frames.*written completely"):
        vw.open_video(path)


def test_audio_only_file_is_refused_with_a_fix(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(VideoOpenError, match="no video stream \\(it holds audio\\).*ffmpeg -loop 1"):
        vw.open_video(path)


@pytest.mark.parametrize("data", [b"", b"not a video" * 100, bytes(range(256)) * 40])
def test_garbage_files_are_refused_with_a_fix(tmp_path, data):
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    with pytest.raises(VideoOpenError, match="Re-encode it"):
        vw.open_video(path)


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "vidéos 日本語 ☃"
    folder.mkdir()
    path = write(folder / "clip ü.mp4")
    video = vw.open_video(str(path))
    assert len(video) == 6
    np.testing.assert_array_equal(video[4], decode_all(path)[4])


def test_random_access_equals_sequential_decode_across_gops(tmp_path):
    """Long-GOP H.264 with B-frames: every seek lands on the frame asked for."""
    with av.open(str(tmp_path / "gop.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"g": "12", "bf": "3"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(60):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pattern(i, 48, 64), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    reference = decode_all(tmp_path / "gop.mp4")
    video = vw.open_video(tmp_path / "gop.mp4", cache_bytes=0)
    assert len(video) == len(reference) == 60
    for i in [59, 0, 13, 12, 11, 40, 41, 5, 58, 24, 23, 36]:
        np.testing.assert_array_equal(video[i], reference[i], err_msg=f"frame {i}")


def test_file_removed_while_open_still_decodes(tmp_path):
    path = write(tmp_path / "clip.mp4", count=30)
    reference = decode_all(path)
    video = vw.open_video(path, cache_bytes=0)
    path.unlink()  # the open file stays readable (POSIX): the session keeps working
    np.testing.assert_array_equal(video[29], reference[29])
    np.testing.assert_array_equal(video[2], reference[2])


def test_file_replaced_while_open_keeps_the_opened_one(tmp_path):
    path = write(tmp_path / "clip.mp4", count=30)
    reference = decode_all(path)
    video = vw.open_video(path, cache_bytes=0)
    write(tmp_path / "other.mp4", count=5, width=32, height=32)
    os.replace(tmp_path / "other.mp4", path)  # how editors and downloads replace a file
    np.testing.assert_array_equal(video[20], reference[20])


def test_file_cut_in_place_while_open_raises_naming_the_fix(tmp_path):
    path = write(tmp_path / "clip.avi", count=80, width=160, height=120, codec="mjpeg", pix_fmt="yuvj420p")
    video = vw.open_video(path, cache_bytes=0)
    data = path.read_bytes()
    with open(path, "r+b") as f:  # truncated in place: the open file loses its data
        f.truncate(len(data) // 10)
    with pytest.raises(VideoDecodeError, match="changed after it was opened.*vw.open_video"):
        for i in range(len(video) - 1, 0, -7):
            video[i]


def test_cut_file_in_a_propagation_reaches_its_true_end(tmp_path):
    path = write(tmp_path / "clip.avi", count=60, width=96, height=64, codec="mjpeg", pix_fmt="yuvj420p")
    cut = tmp_path / "cut.avi"
    data = path.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    video = vw.open_video(cut)
    assert 20 < len(video) < 60
    seg = vw.Segmenter(video, engine="classic")
    seg.add_box(0, 1, (0, 0, 24, 32))
    report = seg.propagate("forward", progress=False)
    assert not report.cancelled and seg.masks.frames() == list(range(len(video)))


def test_four_k_works_at_a_bounded_resolution_and_masks_come_back_at_full(tmp_path, monkeypatch):
    """A 4K video reaches the engine at 1080p (and the classic tracker's views fit its
    pixel budget); the frame cache keeps to its budget; masks are full-size, and a mask
    prompt comes back exactly as given."""
    from vseg_widgets.engines import bounded
    from vseg_widgets.engines.classic import view as views

    path = write(tmp_path / "uhd.mp4", count=2, width=3840, height=2160)
    sizes = []
    crop = views.View.crop
    monkeypatch.setattr(views.View, "crop", lambda self, image, *a, **k: sizes.append(self.size) or crop(self, image, *a, **k))
    video = vw.open_video(path, cache_bytes=40 * 2**20)  # room for 1 decoded 4K frame (24 MB)
    seg = vw.Segmenter(video, engine="classic")
    assert isinstance(seg._session, bounded.BoundedSession)
    assert (seg._session.small.width, seg._session.small.height) == (1920, 1080)
    seg.add_box(0, 1, (100, 100, 1000, 1080))
    exact = np.zeros((2160, 3840), bool)
    exact[1501:1777, 2001:2999] = True  # odd edges: not on the 1080p grid
    seg.add_mask(0, 2, exact)
    seg.propagate("forward", progress=False)
    assert seg.masks[1][1].shape == (2160, 3840) and seg.masks[1][1].any()
    np.testing.assert_array_equal(seg.masks[0][2], exact)
    ys, xs = np.nonzero(seg.masks[0][1])
    assert abs(xs.min() - 100) < 40 and abs(ys.max() - 1079) < 40  # the box, in full-resolution pixels
    budget = seg.engine.config.view_budget
    assert sizes and max(h * w for h, w in sizes) <= budget * 1.01
    assert sum(f.nbytes for f in video._cache.values()) <= max(40 * 2**20, 2 * video[0].nbytes)


def test_bounded_session_scales_prompts_and_masks():
    from vseg_widgets.engines import bounded

    seen = {}

    class Recorder:
        name = "recorder"

        def init_session(self, video):
            seen["size"] = (video.width, video.height)
            return self

        def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
            seen.update(points=points, box=box, mask=mask)
            out = np.zeros((seen["size"][1], seen["size"][0]), bool)
            out[10:20, 30:40] = True
            return {obj_id: out}

    video = vw.open_video(np.zeros((2, 400, 600, 3), np.uint8))
    session = bounded.init_session(Recorder(), video, max_pixels=300 * 200)
    assert seen["size"] == (300, 200)
    masks = session.add_prompt(0, 1, points=np.float32([[100, 50]]), labels=np.int32([1]), box=np.float32([0, 0, 600, 400]))
    np.testing.assert_allclose(seen["points"], [[50, 25]])
    np.testing.assert_allclose(seen["box"], [0, 0, 300, 200])
    ys, xs = np.nonzero(masks[1])
    assert masks[1].shape == (400, 600) and (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 39, 60, 79)
    assert bounded.init_session(Recorder(), video) is not None and seen["size"] == (600, 400)  # small videos: as they are


def _clip(tmp_path_factory, name) -> Path:
    source = OPENCV_DOC / name
    if not source.exists():
        pytest.skip(f"{source} is absent: `cd /tmp && apt-get download opencv-doc && dpkg -x opencv-doc*.deb /tmp/opencv-doc`")
    if source.suffix != ".gz":
        return source
    target = tmp_path_factory.mktemp("clips") / source.stem
    with gzip.open(source) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_opencv_doc_clips_open_with_their_true_length(tmp_path_factory, name):
    path = _clip(tmp_path_factory, name)
    frames, announced = CLIPS[name]
    video = vw.open_video(path, cache_bytes=0)
    assert (len(video), video.announced_frames) == (frames, announced)
    reference = decode_all(path)
    assert len(reference) == frames
    for i in (frames - 1, 0, frames // 2, frames - 2):
        np.testing.assert_array_equal(video[i], reference[i], err_msg=f"frame {i}")
    with pytest.raises(FrameIndexError, match=f"valid: 0..{frames - 1}"):
        video[frames]
    assert np.all(np.diff(video.timestamps) > 0)


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_opencv_doc_clips_propagate_to_their_end(tmp_path_factory, name):
    """The last stretch of each clip (the whole-clip runs are in the issue note)."""
    video = vw.open_video(_clip(tmp_path_factory, name))
    seg = vw.Segmenter(video, engine="classic")
    start = len(video) - 12
    seg.add_box(start, 1, (video.width * 0.3, video.height * 0.3, video.width * 0.7, video.height * 0.7))
    report = seg.propagate("forward", progress=False)
    assert not report.cancelled and seg.masks.frames() == list(range(start, len(video)))
