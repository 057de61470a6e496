"""Real files and awkward ones: does each open with its true length and propagate to its end?

Inputs: Debian's opencv-doc sample clips (``cd /tmp && apt-get download opencv-doc &&
dpkg -x opencv-doc*.deb /tmp/opencv-doc``; ``$VSEG_OPENCV_DOC`` points elsewhere), and
files generated here with PyAV: variable frame rate, rotation metadata, 10-bit, odd sizes,
one frame, no frame, audio only, garbage, a cut file, a non-ASCII path, 4K.

For each: what ``vw.open_video`` says (frames, what the header announced, size, fps,
rotation, seconds to open) or the error it raises; then, for those that open, a box
prompt on frame 0 and ``propagate("forward")`` with the classic engine over the whole
file: frames reached, frames/s, or the error.

    .venv/bin/python benchmarks/bench_real_files.py      # about 5 minutes on 2 idle cores

Writes benchmarks/results/real_files.md and real_files.json.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import vseg_widgets as vw  # noqa: E402
from test_video_files import CLIPS, OPENCV_DOC, write  # noqa: E402  (the tests' generators)

RESULTS = ROOT / "benchmarks" / "results"


def generated(folder: Path) -> dict[str, Path]:
    import av
    import cv2

    out = {
        "variable frame rate (7 frames over 1 s)": write(folder / "vfr.mp4", count=7, pts=[0, 40, 50, 200, 210, 500, 1000], time_base=Fraction(1, 1000)),
        "rotation 90 (phone)": write(folder / "rot90.mp4", rotation=90),
        "10-bit H.264 (yuv420p10le)": write(folder / "x264_10.mp4", pix_fmt="yuv420p10le"),
        "odd size 65x47 (FFV1 .mkv, no frame count)": write(folder / "odd.mkv", width=65, height=47, codec="ffv1"),
        "one frame": write(folder / "one.mp4", count=1),
        "4K 3840x2160, 2 frames": write(folder / "uhd.mp4", count=2, width=3840, height=2160),
    }
    if "libx265" in av.codecs_available:
        out["10-bit HEVC (yuv420p10le)"] = write(folder / "x265_10.mp4", codec="libx265", pix_fmt="yuv420p10le")
    mjpeg = write(folder / "long.avi", count=60, width=160, height=120, codec="mjpeg", pix_fmt="yuvj420p")
    (folder / "cut.avi").write_bytes(mjpeg.read_bytes()[: mjpeg.stat().st_size // 2])
    out["AVI cut in half (60 frames announced)"] = folder / "cut.avi"
    folder_u = folder / "vidéos 日本語"
    folder_u.mkdir()
    out["non-ASCII path"] = write(folder_u / "clip ü.mp4")
    writer = cv2.VideoWriter(str(folder / "zero.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 24, (64, 48))
    writer.release()
    out["no frame (header only)"] = folder / "zero.avi"
    with av.open(str(folder / "sound.m4a"), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out["audio only"] = folder / "sound.m4a"
    (folder / "empty.mp4").write_bytes(b"")
    out["empty file"] = folder / "empty.mp4"
    (folder / "noise.mp4").write_bytes(os.urandom(5000))
    out["random bytes"] = folder / "noise.mp4"
    return out


def clips(folder: Path) -> dict[str, Path]:
    out = {}
    for name in sorted(CLIPS):
        source = OPENCV_DOC / name
        if not source.exists():
            continue
        if source.suffix == ".gz":
            target = folder / source.stem
            with gzip.open(source) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            source = target
        out[f"opencv-doc {Path(name).name.removesuffix('.gz')}"] = source
    return out


def try_one(label: str, path: Path) -> dict:
    row = {"input": label}
    start = time.perf_counter()
    try:
        video = vw.open_video(path)
    except Exception as exc:  # noqa: BLE001 - the point is to record what it raises
        row.update(opened=False, error=f"{type(exc).__name__}: {str(exc)[:160]}")
        return row
    row.update(
        opened=True,
        open_s=round(time.perf_counter() - start, 3),
        frames=len(video),
        announced=getattr(video, "announced_frames", None),
        size=f"{video.width}x{video.height}",
        fps=round(video.fps, 3),
        rotation=getattr(video, "rotation", 0),
        duration_s=round(float(video.timestamps[-1]), 2),
    )
    seg = vw.Segmenter(video, engine="classic")
    w, h = video.width, video.height
    seg.add_box(0, 1, (0.3 * w, 0.3 * h, 0.7 * w, 0.7 * h))
    try:
        report = seg.propagate("forward", progress=False)
        reached = max(seg.masks.frames())
        row.update(propagated=reached == len(video) - 1, last_frame=reached, frames_per_s=round(report.frames / report.seconds, 1))
    except Exception as exc:  # noqa: BLE001
        row.update(propagated=False, error=f"{type(exc).__name__}: {str(exc)[:160]}")
    return row


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {**clips(Path(tmp)), **generated(Path(tmp))}
        for label, path in inputs.items():
            rows.append(try_one(label, path))
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "real_files.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# Real and awkward video files",
        "",
        "`benchmarks/bench_real_files.py`: `vw.open_video`, then a box on frame 0 and `propagate('forward')` "
        "(classic engine) over the whole file.",
        "",
        "| input | opens | frames (header says) | size | fps | rotation | open (s) | propagated to the last frame | frames/s | error |",
        "|---|---|---|---|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        if r["opened"]:
            lines.append(
                f"| {r['input']} | yes | {r['frames']} ({r['announced']}) | {r['size']} | {r['fps']} | {r['rotation']} | "
                f"{r['open_s']} | {'yes' if r.get('propagated') else 'no'} | {r.get('frames_per_s', '')} | {r.get('error', '')} |"
            )
        else:
            lines.append(f"| {r['input']} | no | | | | | | | | {r['error'].replace('|', '/')} |")
    if not any(r["input"].startswith("opencv-doc") for r in rows):
        lines += ["", f"The opencv-doc clips were absent ({OPENCV_DOC})."]
    (RESULTS / "real_files.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
