"""Save and resume: one versioned file, atomic writes (checked with killed processes),
the video fingerprint, and a clear error for each way a save or a load can go wrong."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.errors import (
    EngineError,
    OutputPathError,
    SessionFileError,
    SessionVersionError,
    VideoMismatchError,
    VideoNotFoundError,
    VsegError,
)
from vseg_widgets.persist import FORMAT_VERSION, read_document

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from persistkit import ShiftEngine, worked_segmenter  # noqa: E402


def assert_same_work(a, b):
    """Masks, sources, prompts, labels and pending corrections are equal."""
    assert a.masks == b.masks
    assert a.labels == b.labels and a.masks.labels == b.masks.labels
    assert a.pending_corrections == b.pending_corrections
    cols = ["frame", "obj_id", "label", "area_px", "bbox", "source"]
    assert a.to_dataframe()[cols].equals(b.to_dataframe()[cols])
    assert len(a.prompts) == len(b.prompts)
    for p, q in zip(a.prompts, b.prompts):
        assert (p.frame, p.obj_id, p.kind) == (q.frame, q.obj_id, q.kind)
        for field in ("points", "labels", "box", "mask"):
            x, y = getattr(p, field), getattr(q, field)
            assert (x is None) == (y is None)
            if x is not None:
                assert x.dtype == y.dtype
                np.testing.assert_array_equal(x, y)


@pytest.fixture()
def seg():
    return worked_segmenter()


def test_round_trip_keeps_everything(seg, tmp_path):
    path = seg.save(tmp_path / "work.vseg")
    assert path == tmp_path / "work.vseg"
    back = vw.Segmenter.load(path, video=seg.video, engine=ShiftEngine())
    assert_same_work(seg, back)
    assert back.pending_corrections == [(0, 1), (4, 2), (8, 1)]
    assert back.masks.get(8, 1) is not None and not back.masks.get(8, 1).any()  # empty, not absent
    assert back.masks.get(0, 3) is not None  # propagated backward from frame 6
    # The resumed session carries on like the original: undo, then propagation.
    for s in (seg, back):
        s.undo()  # the empty edit on frame 8 goes: the propagated mask comes back
        s.undo()  # so does the brush stroke on frame 4
        s.propagate("forward", progress=False, until_prompt=True)
        s.add_points(3, 2, [(5, 5)])
    assert_same_work(seg, back)


def test_the_engines_confidence_comes_back_with_the_masks(tmp_path):
    video, gt = vw.datasets.synthetic(num_frames=6)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.propagate("forward", progress=False)
    before = seg.confidence(1)
    assert np.isfinite(before[1:]).all()
    seg.save(tmp_path / "work.vseg")
    loaded = vw.Segmenter.load(tmp_path / "work.vseg", video=video, engine="classic")
    np.testing.assert_array_equal(loaded.confidence(1), before)


def test_the_file_is_gzip_json_with_the_documented_fields(seg, tmp_path):
    path = seg.save(tmp_path / "work.vseg")
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b"  # gzip; no pickle anywhere
    doc = json.loads(gzip.decompress(raw))
    assert doc["format"] == "vseg_widgets.session" and doc["version"] == FORMAT_VERSION == 1
    assert doc["engine"] == "shift" and doc["written_by"].startswith("vseg_widgets ")
    video = doc["video"]
    assert (video["kind"], video["path"], video["frames"], video["height"], video["width"], video["fps"]) == ("array", None, 12, 48, 64, 24.0)
    assert [s["frame"] for s in video["samples"]] == [0, 3, 6, 8, 11] and len(video["samples"][0]["sha256"]) == 64
    assert doc["objects"] == [
        {"id": 1, "label": "person", "color": vw.palette.object_color(1)},
        {"id": 2, "label": None, "color": vw.palette.object_color(2)},
        {"id": 3, "label": "ball", "color": vw.palette.object_color(3)},
    ]
    assert [p["kind"] for p in doc["prompts"]] == ["points", "box", "mask", "points", "mask", "mask"]
    assert doc["prompts"][1]["box"] == [30.5, 10.25, 50.0, 30.0]
    assert doc["pending"] == [[0, 1], [4, 2], [8, 1]]
    assert len(doc["masks"]) == sum(len(seg.masks[f]) for f in seg.masks.frames())
    assert {m["source"] for m in doc["masks"]} == {"prompt", "propagated"}
    # A gunzipped file (plain JSON, e.g. edited by hand) loads too.
    plain = tmp_path / "plain.json"
    plain.write_bytes(gzip.decompress(raw))
    assert_same_work(seg, vw.Segmenter.load(plain, video=seg.video, engine=ShiftEngine()))


def test_save_replaces_the_previous_file_and_keeps_its_mode(seg, tmp_path):
    path = tmp_path / "work.vseg"
    seg.save(path)
    os.chmod(path, 0o640)
    seg.set_label(2, "car")
    seg.save(path)
    assert (path.stat().st_mode & 0o777) == 0o640
    assert vw.Segmenter.load(path, video=seg.video, engine=ShiftEngine()).labels == {1: "person", 2: "car", 3: "ball"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work.vseg"]  # no temporary file left


def test_a_failed_save_leaves_the_previous_file(seg, tmp_path, monkeypatch):
    path = seg.save(tmp_path / "work.vseg")
    before = path.read_bytes()
    seg.set_label(2, "car")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OutputPathError, match="No space left on device.*previous file .* is intact"):
        seg.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work.vseg"]


# -- the video and its fingerprint -------------------------------------------------------------
def frames_folder(video, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for i in range(len(video)):
        cv2.imwrite(str(folder / f"{i:05d}.png"), cv2.cvtColor(video[i], cv2.COLOR_RGB2BGR))
    return folder


def test_load_reopens_the_recorded_video_also_after_a_move(tmp_path):
    video, _ = vw.datasets.synthetic(num_frames=12, height=48, width=64, num_objects=3)
    project = tmp_path / "project"
    seg = worked_segmenter(vw.open_video(frames_folder(video, project / "frames"), fps=30))
    seg.save(project / "work.vseg")
    back = vw.Segmenter.load(project / "work.vseg", engine=ShiftEngine())
    assert back.video.folder == (project / "frames").resolve() and back.video.fps == 30
    assert_same_work(seg, back)
    moved = tmp_path / "moved"
    project.rename(moved)  # the absolute path is gone; the path relative to the file is not
    back = vw.Segmenter.load(moved / "work.vseg", engine=ShiftEngine())
    assert back.video.folder == (moved / "frames").resolve()
    assert_same_work(seg, back)
    shutil.rmtree(moved / "frames")
    with pytest.raises(VideoNotFoundError, match="video of .* is gone.*video="):
        vw.Segmenter.load(moved / "work.vseg", engine=ShiftEngine())


def test_an_array_session_needs_its_video(seg, tmp_path):
    seg.save(tmp_path / "work.vseg")
    with pytest.raises(VideoNotFoundError, match="in-memory array.*video=frames"):
        vw.Segmenter.load(tmp_path / "work.vseg", engine=ShiftEngine())


def test_another_video_is_refused_naming_what_differs(seg, tmp_path):
    path = seg.save(tmp_path / "work.vseg")
    frames = np.array(seg.video[:])
    cases = [
        (frames[:-1], "frame count: 12 saved, 11 now"),
        (frames[:, :40], "size: 64x48 saved, 64x40 now"),
        (vw.open_video(frames, fps=30), "frame rate: 24 fps saved, 30 now"),
    ]
    changed = frames.copy()
    changed[6, 0, 0] ^= 1  # one bit of one sampled frame
    cases.append((changed, "pixels of frame 6"))
    for video, what in cases:
        with pytest.raises(VideoMismatchError, match=what) as info:
            vw.Segmenter.load(path, video=video, engine=ShiftEngine())
        assert "video=" in str(info.value)
    assert "check_pixels=False" in str(info.value)  # offered only when pixels alone differ
    assert_same_work(seg, vw.Segmenter.load(path, video=changed, engine=ShiftEngine(), check_pixels=False))
    unsampled = frames.copy()
    unsampled[1] = 0  # a frame the fingerprint does not sample: accepted (a few frames are hashed)
    vw.Segmenter.load(path, video=unsampled, engine=ShiftEngine())


def test_engine_by_name_and_an_unknown_engine(tmp_path):
    video, gt = vw.datasets.synthetic(num_frames=6, height=48, width=64)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.save(tmp_path / "classic.vseg")
    back = vw.Segmenter.load(tmp_path / "classic.vseg", video=video)
    assert back.engine_name == "classic" and back.masks == seg.masks
    custom = worked_segmenter()
    custom.save(tmp_path / "shift.vseg")
    with pytest.raises(EngineError, match="engine 'shift'.*engine=YourEngine"):
        vw.Segmenter.load(tmp_path / "shift.vseg", video=custom.video)


# -- bad paths and bad files -------------------------------------------------------------------
def test_save_path_errors(seg, tmp_path):
    with pytest.raises(OutputPathError, match="folder .*missing.* does not exist.*mkdir"):
        seg.save(tmp_path / "missing" / "work.vseg")
    with pytest.raises(OutputPathError, match="is a folder.*work.vseg"):
        seg.save(tmp_path)
    assert issubclass(OutputPathError, OSError) and issubclass(OutputPathError, VsegError)
    if Path("/sys").is_dir() and sys.platform.startswith("linux"):  # unwritable even for root
        with pytest.raises(OutputPathError, match="cannot create a file in /sys.*folder you can write to"):
            seg.save("/sys/work.vseg")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_save_to_a_read_only_place(seg, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        with pytest.raises(OutputPathError, match="cannot create a file in"):
            seg.save(locked / "work.vseg")
    finally:
        os.chmod(locked, 0o700)
    path = seg.save(tmp_path / "work.vseg")
    os.chmod(path, 0o444)
    with pytest.raises(OutputPathError, match="read-only.*chmod u\\+w"):
        seg.save(path)


def test_truncated_corrupt_and_foreign_files(seg, tmp_path):
    raw = seg.save(tmp_path / "work.vseg").read_bytes()
    bad = tmp_path / "bad.vseg"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SessionFileError, match="truncated or corrupt"):
        vw.Segmenter.load(bad, video=seg.video, engine=ShiftEngine())
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(flipped))
    with pytest.raises(SessionFileError, match="truncated or corrupt"):
        vw.Segmenter.load(bad, video=seg.video, engine=ShiftEngine())
    bad.write_bytes(b"")
    with pytest.raises(SessionFileError, match="empty"):
        vw.Segmenter.load(bad)
    bad.write_text("not json")
    with pytest.raises(SessionFileError, match="not a vseg_widgets session file"):
        vw.Segmenter.load(bad)
    seg.masks.to_coco_json(bad)
    with pytest.raises(SessionFileError, match="mask JSON: read it with MaskStore.from_coco_json"):
        vw.Segmenter.load(bad)
    with pytest.raises(SessionFileError, match="no session file at"):
        vw.Segmenter.load(tmp_path / "nothing.vseg")
    doc = json.loads(gzip.decompress(raw))
    del doc["masks"][3]["counts"]
    bad.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(SessionFileError, match="masks\\[3\\] has no 'counts'"):
        vw.Segmenter.load(bad, video=seg.video, engine=ShiftEngine())
    doc = json.loads(gzip.decompress(raw))
    doc["prompts"][0]["frame"] = 99
    bad.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(SessionFileError, match="prompts\\[0\\] names frame 99"):
        vw.Segmenter.load(bad, video=seg.video, engine=ShiftEngine())


def test_versions(seg, tmp_path):
    doc = json.loads(gzip.decompress(seg.save(tmp_path / "work.vseg").read_bytes()))
    path = tmp_path / "other.vseg"
    doc.update(version=2, written_by="vseg_widgets 9.0")
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(SessionVersionError, match="version 2 \\(written by vseg_widgets 9.0\\).*0.1.0 reads versions up to 1.*pip install -U"):
        vw.Segmenter.load(path, video=seg.video)
    for version in (0, "1", None):
        doc["version"] = version
        path.write_bytes(gzip.compress(json.dumps(doc).encode()))
        with pytest.raises(SessionVersionError, match="unknown session format version"):
            read_document(path)
    assert issubclass(SessionVersionError, SessionFileError)


# -- killed processes ----------------------------------------------------------------------------
CHILD_PRELUDE = f"""
import os, sys, time
sys.path.insert(0, {str(TESTS)!r})
from persistkit import ShiftEngine, worked_segmenter
import vseg_widgets as vw
"""


def start(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TESTS.parent)


def wait_for(child: subprocess.Popen, line: str) -> None:
    got = child.stdout.readline().strip()
    if got != line:
        child.kill()
        raise AssertionError(f"the child said {got!r}, not {line!r}: {child.stderr.read()}")


def kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


@pytest.mark.parametrize("moment", ["mid-write", "before-rename"])
def test_a_kill_during_a_save_leaves_the_previous_file(seg, tmp_path, moment):
    path = seg.save(tmp_path / "work.vseg")
    before = path.read_bytes()
    if moment == "mid-write":  # the child's disk stalls half way through the data
        stall = """
import vseg_widgets.persist.atomic as atomic
class Stalled:
    def __init__(self, f): self.f = f
    def __enter__(self): return self
    def __exit__(self, *a): self.f.close()
    def write(self, data):
        self.f.write(data[: len(data) // 2]); self.f.flush()
        print("stalled", flush=True); time.sleep(600)
atomic.open = lambda p, mode: Stalled(open(p, mode))
"""
    else:  # everything written and flushed, the rename not done
        stall = """
real_fsync = os.fsync
def fsync(fd):
    real_fsync(fd); print("stalled", flush=True); time.sleep(600)
os.fsync = fsync
"""
    child = start(
        stall
        + f"""
seg = worked_segmenter()
seg.set_label(2, "changed")
seg.save({str(path)!r})
"""
    )
    wait_for(child, "stalled")
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".work.vseg.")]
    assert len(temps) == 1 and temps[0].stat().st_size > 0  # it was writing its temporary file
    kill(child)
    assert path.read_bytes() == before
    back = vw.Segmenter.load(path, video=seg.video, engine=ShiftEngine())
    assert_same_work(seg, back)
    seg.save(path)  # the temporary file left by the kill is in nobody's way
    assert vw.Segmenter.load(path, video=seg.video, engine=ShiftEngine()).labels == seg.labels


def test_save_kill_then_load_in_a_fresh_process(tmp_path):
    path, expected, loaded = tmp_path / "work.vseg", tmp_path / "expected.json", tmp_path / "loaded.json"
    child = start(
        f"""
seg = worked_segmenter()
seg.save({str(path)!r})
seg.masks.to_coco_json({str(expected)!r})
print("saved", flush=True)
time.sleep(600)
"""
    )
    wait_for(child, "saved")
    kill(child)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD_PRELUDE
            + f"""
video, _ = vw.datasets.synthetic(num_frames=12, height=48, width=64, num_objects=3)
seg = vw.Segmenter.load({str(path)!r}, video=video, engine=ShiftEngine())
seg.masks.to_coco_json({str(loaded)!r})
print(len(seg.prompts), seg.pending_corrections)
""",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TESTS.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6 [(0, 1), (4, 2), (8, 1)]"
    a, b = vw.MaskStore.from_coco_json(expected), vw.MaskStore.from_coco_json(loaded)
    assert a == b and len(a.frames()) == 12 and a.obj_ids == [1, 2, 3]
    assert a.labels == b.labels == {1: "person", 3: "ball"}


def test_the_classic_engine_carries_on_alike_after_a_load(tmp_path):
    """The engine is given the saved prompted masks: a resumed session propagates as the original."""
    video, gt = vw.datasets.synthetic(num_frames=5, height=64, width=80)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    back = vw.Segmenter.load(seg.save(tmp_path / "work.vseg"), video=video)
    for s in (seg, back):
        s.propagate("forward", progress=False)
    assert len(seg.masks.frames()) == 5
    assert_same_work(seg, back)


def test_a_video_whose_last_frame_does_not_decode_still_saves(tmp_path):
    """A file's header may announce more frames than it holds: the fingerprint skips them."""
    from vseg_widgets.errors import VideoDecodeError
    from vseg_widgets.video import ArrayVideo

    class Truncated(ArrayVideo):
        def __getitem__(self, index):
            if self.check_index(index) == len(self) - 1:
                raise VideoDecodeError("could not decode the last frame")
            return super().__getitem__(index)

    frames = np.array(worked_segmenter().video[:])
    seg = worked_segmenter(Truncated(frames))
    path = seg.save(tmp_path / "work.vseg")
    samples = read_document(path)["video"]["samples"]
    assert samples[-1] == {"frame": 11, "sha256": None} and all(s["sha256"] for s in samples[:-1])
    assert_same_work(seg, vw.Segmenter.load(path, video=Truncated(frames), engine=ShiftEngine()))
    changed = frames.copy()
    changed[11] = 0  # not compared: it could not be hashed
    vw.Segmenter.load(path, video=changed, engine=ShiftEngine())
    changed[0] = 0
    with pytest.raises(VideoMismatchError, match="pixels of frame 0"):
        vw.Segmenter.load(path, video=changed, engine=ShiftEngine())


def test_a_video_file_is_reopened_and_checked(tmp_path):
    video, _ = vw.datasets.synthetic(num_frames=12, height=48, width=64, num_objects=3)
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 24, (64, 48))
    for frame in video:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    seg = worked_segmenter(vw.open_video(tmp_path / "clip.mp4"))
    path = seg.save(tmp_path / "work.vseg")
    assert read_document(path)["video"]["kind"] == "file"
    back = vw.Segmenter.load(path, engine=ShiftEngine())  # decodes the sampled frames again, seeking
    assert back.video.path == (tmp_path / "clip.mp4").resolve()
    assert_same_work(seg, back)
    with pytest.raises(VideoMismatchError, match="pixels of frames 0, 3, 6, 8, 11"):
        vw.Segmenter.load(path, video=video, engine=ShiftEngine())  # the frames before encoding differ
