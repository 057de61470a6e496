"""Lazy video sources: exact random access, laziness, and clear errors for bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.errors import FrameFormatError, FrameIndexError, VideoDecodeError, VideoNotFoundError, VideoOpenError


def numbered_frames(count=30, height=64, width=96):
    """Frames whose content identifies their index (a bright bar at x = 3 * i)."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[..., 2] = 40
    for i in range(count):
        frames[i, :, 3 * i % width : 3 * i % width + 3] = 255
        frames[i, :4, :4] = i % 256
    return frames


def write_video(path, frames, fps=12.0, fourcc="MJPG"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, frames.shape[2:0:-1])
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} here"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()


def test_array_video_properties_and_frames():
    frames = numbered_frames()
    video = vw.open_video(frames, fps=10)
    assert (len(video), video.height, video.width, video.fps) == (30, 64, 96, 10.0)
    assert video.shape == (30, 64, 96, 3)
    np.testing.assert_array_equal(video[7], frames[7])
    np.testing.assert_array_equal(video[-1], frames[-1])
    with pytest.raises(ValueError):
        video[3][0, 0, 0] = 1  # frames are read-only views: nobody corrupts the source


def test_array_video_converts_grayscale_and_rgba():
    gray = np.random.default_rng(0).integers(0, 255, (4, 16, 20), dtype=np.uint8)
    video = vw.open_video(gray)
    assert video[2].shape == (16, 20, 3)
    np.testing.assert_array_equal(video[2][..., 1], gray[2])
    rgba = np.dstack([numbered_frames(2)[1], np.full((64, 96), 7, np.uint8)])[None].repeat(2, 0)
    np.testing.assert_array_equal(vw.open_video(rgba)[0], rgba[0, ..., :3])


@pytest.mark.parametrize(
    "array, words",
    [
        (np.zeros((0, 8, 8, 3), np.uint8), "non-empty"),
        (np.zeros((2, 8, 8, 3), np.uint16), "uint16"),
        (np.zeros((2, 8, 8, 3), np.float32), "float32"),
        (np.zeros((2, 8, 8, 5), np.uint8), "(H, W, 3)"),
    ],
)
def test_bad_arrays_are_refused_with_a_fix(array, words):
    with pytest.raises(FrameFormatError, match=None) as info:
        vw.open_video(array)
    assert words in str(info.value)


def test_folder_video(tmp_path):
    frames = numbered_frames(12)
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    video = vw.open_video(tmp_path)
    assert len(video) == 12 and (video.height, video.width) == (64, 96) and video.fps == 24
    for i in (11, 0, 5):
        np.testing.assert_array_equal(video[i], frames[i])  # PNG is lossless


def test_folder_errors(tmp_path):
    with pytest.raises(VideoNotFoundError, match="no such file"):
        vw.open_video(tmp_path / "missing")
    with pytest.raises(VideoOpenError, match="no frames"):
        vw.open_video(tmp_path)
    cv2.imwrite(str(tmp_path / "00000.png"), np.zeros((10, 10, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "00001.png"), np.zeros((12, 10, 3), np.uint8))
    with pytest.raises(FrameFormatError, match="mixed sizes"):
        vw.open_video(tmp_path)


def test_folder_16bit_png_is_refused_on_read(tmp_path):
    cv2.imwrite(str(tmp_path / "00000.png"), np.full((10, 10, 3), 4000, np.uint16))
    video = vw.open_video(tmp_path)
    with pytest.raises(FrameFormatError, match="uint16"):
        video[0]


def test_file_video_random_access_equals_sequential_decode(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, numbered_frames(60))
    video = vw.open_video(path)
    assert (len(video), video.width, video.height, video.fps) == (60, 96, 64, 12.0)
    capture = cv2.VideoCapture(str(path))
    sequential = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        sequential.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    assert len(sequential) == 60
    order = [59, 3, 4, 40, 0, 10, 9, 58, 20, 21, 22, 2]
    fresh = vw.open_video(path, cache_bytes=0)  # no cache: every access decodes
    for i in order:
        np.testing.assert_array_equal(fresh[i], sequential[i], err_msg=f"frame {i}")


def test_mp4_random_access(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, numbered_frames(50), fourcc="mp4v")
    capture = cv2.VideoCapture(str(path))
    sequential = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(50)]
    video = vw.open_video(path, cache_bytes=0)
    for i in (49, 1, 25, 24, 0, 37):
        np.testing.assert_array_equal(video[i], sequential[i], err_msg=f"frame {i}")


def test_opening_a_long_video_decodes_only_its_first_and_last_frames(tmp_path, monkeypatch):
    """Opening reads packets, not pixels: it decodes frame 0 (its size, a codec check) and
    the stretch from the last keyframe (here every frame is one) to check the tail."""
    path = tmp_path / "long.avi"
    write_video(path, numbered_frames(300, 32, 48))
    converted = []
    original = vw.video.FileVideo._to_rgb
    monkeypatch.setattr(vw.video.FileVideo, "_to_rgb", lambda self, f: converted.append(f.pts) or original(self, f))
    video = vw.open_video(path)
    assert len(video) == 300 and len(converted) == 2
    converted.clear()
    video[150]
    assert len(converted) == 1


def test_cache_is_bounded(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, numbered_frames(40))
    video = vw.open_video(path, cache_bytes=5 * 64 * 96 * 3)
    for i in range(40):
        video[i]
    assert len(video._cache) == 5


def test_truncated_file_opens_with_the_frames_that_decode(tmp_path):
    """A file cut in half: its index still lists 60 frames, the last packet is partial. The
    video is as long as what decodes, and every one of its frames decodes."""
    path = tmp_path / "clip.avi"
    write_video(path, numbered_frames(60))
    whole = vw.open_video(path, cache_bytes=0)
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    video = vw.open_video(cut, cache_bytes=0)
    assert 10 < len(video) < 60 and video.announced_frames == 60
    for i in [len(video) - 1, 0, len(video) // 2]:
        np.testing.assert_array_equal(video[i], whole[i], err_msg=f"frame {i}")
    with pytest.raises(FrameIndexError, match=f"outside this video of {len(video)} frames"):
        video[len(video)]


def test_garbage_file(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(b"not a video" * 100)
    with pytest.raises(VideoOpenError, match="could not open .* Re-encode it"):
        vw.open_video(path)


def test_index_errors():
    video = vw.open_video(numbered_frames(5))
    with pytest.raises(FrameIndexError, match="outside this video of 5 frames"):
        video[5]
    with pytest.raises(FrameIndexError, match="must be an int"):
        video[1.5]
