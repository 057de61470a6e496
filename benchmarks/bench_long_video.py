"""A long video end to end: kernel memory while 3 objects propagate through 10,000 frames.

The video is generated (the 854x480 synthetic clip with 3 objects, played forwards and
backwards so the motion stays continuous), encoded to an H.264 file in a temporary folder
and opened with ``vw.open_video``: frames are decoded lazily from the file, as a user's
would be. Each object gets a box prompt (its ground-truth box) on frame 0 and the classic
engine propagates forward to the end.

At each checkpoint frame it records the process's resident set size (RSS), the bytes of
the mask store (RLE counts) and the time taken. RSS should stay flat apart from the mask
store: the frame cache has a fixed budget (the default, 512 MB, fills after ~430 frames of
854x480) and nothing else may grow with the frame count. The figures are written after
every checkpoint, so a run that is stopped still leaves its results.

    .venv/bin/python benchmarks/bench_long_video.py                 # 10,000 frames (an hour or more on 2 cores)
    .venv/bin/python benchmarks/bench_long_video.py --frames 1500   # a quick look

Writes benchmarks/results/long_video.md and long_video.json (``--name`` changes the stem).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vseg_widgets as vw  # noqa: E402
from vseg_widgets.metrics import jaccard  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CHECKPOINTS = (100, 500, 1000, 2000, 5000, 7500, 10000)


def rss_mb() -> float:
    """Resident set size of this process now, MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ping_pong(index: int, n: int) -> int:
    k = index % (2 * n - 2)
    return k if k < n else 2 * n - 2 - k


def write_video(path: Path, clip: np.ndarray, frames: int) -> float:
    """Encode ``frames`` frames of the ping-pong loop of ``clip`` to H.264; returns seconds."""
    import av

    start = time.perf_counter()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"preset": "ultrafast", "crf": "23", "g": "48"})
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(clip[ping_pong(i, len(clip))], format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return time.perf_counter() - start


def store_bytes(store) -> int:
    """Bytes of the mask store's RLE counts (what the masks themselves take)."""
    total = 0
    for frame in store.frames():
        for obj in store.obj_ids:
            rle = store.rle(frame, obj)
            if rle is not None:
                total += len(rle["counts"])
    return total


def run(frames: int, name: str) -> dict:
    clip, gt = vw.datasets.synthetic(num_frames=48, height=480, width=854, num_objects=3)
    clip = np.stack([clip[i] for i in range(len(clip))])
    checkpoints = sorted({c for c in CHECKPOINTS if c <= frames} | {frames})
    result = {
        "frames": frames,
        "size": "854x480",
        "objects": 3,
        "engine": "classic",
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "checkpoints": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.mp4"
        result["encode_s"] = round(write_video(path, clip, frames), 1)
        result["file_mb"] = round(path.stat().st_size / 2**20, 1)
        opened = time.perf_counter()
        video = vw.open_video(path)
        result["open_s"] = round(time.perf_counter() - opened, 2)
        assert len(video) == frames, (len(video), frames)
        seg = vw.Segmenter(video, engine="classic")
        for obj in (1, 2, 3):
            ys, xs = np.nonzero(gt.get(0, obj))
            seg.add_box(0, obj, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
        result["rss_before_mb"] = round(rss_mb(), 1)
        started = time.perf_counter()
        ious = []

        def listener(event, **payload):
            if event != "masks" or not payload.get("frames"):
                return
            frame = payload["frames"][0]
            if frame % 50 == 0:  # quality stays in view: J against the loop's ground truth
                k = ping_pong(frame, len(clip))
                masks = seg.masks[frame]
                ious.extend(jaccard(masks[o], gt.get(k, o)) for o in masks if o in (1, 2, 3))
            if frame + 1 in checkpoints:
                store = store_bytes(seg.masks)
                result["checkpoints"].append(
                    {
                        "frames": frame + 1,
                        "rss_mb": round(rss_mb(), 1),
                        "mask_store_mb": round(store / 2**20, 2),
                        "seconds": round(time.perf_counter() - started, 1),
                        "mean_J_so_far": round(float(np.mean(ious)), 3) if ious else None,
                    }
                )
                write(result, name)  # a stopped run keeps what it measured

        seg.observe(listener)
        report = seg.propagate("forward", progress=False)
        result["propagate_s"] = round(report.seconds, 1)
        result["frames_per_s"] = round(report.frames / report.seconds, 2)
        result["finished"] = True
    write(result, name)
    return result


def write(result: dict, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = result["checkpoints"]
    first = rows[0]["rss_mb"] - rows[0]["mask_store_mb"] if rows else float("nan")
    lines = [
        f"# Long video: {result['frames']} frames of {result['size']}, {result['objects']} objects, {result['engine']} engine",
        "",
        "Generated by `benchmarks/bench_long_video.py"
        + ("" if result["frames"] == 10000 else f" --frames {result['frames']}")
        + "`: the synthetic clip (3 objects) played as a ping-pong loop, encoded to H.264 "
        f"({result.get('file_mb', '?')} MB, {result.get('encode_s', '?')} s to encode), opened "
        f"with `vw.open_video` in {result.get('open_s', '?')} s (packets indexed, frames decoded lazily, "
        "default 512 MB frame cache); one box prompt per object on frame 0; `propagate('forward')`.",
        "",
        "| frames propagated | RSS (MB) | mask store (MB) | RSS - mask store (MB) | change since the first row (MB) | seconds | mean J so far |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rest = r["rss_mb"] - r["mask_store_mb"]
        lines.append(
            f"| {r['frames']} | {r['rss_mb']:.0f} | {r['mask_store_mb']:.2f} | {rest:.0f} | {rest - first:+.0f} | "
            f"{r['seconds']:.0f} | {r['mean_J_so_far']} |"
        )
    lines.append("")
    if result.get("finished"):
        lines.append(f"Finished: {result['frames_per_s']} frames/s over {result['propagate_s']} s.")
    else:
        lines.append("Still running (or stopped) when this was written: the rows are the checkpoints reached.")
    lines.append(f"RSS before propagating (video open, prompts given): {result.get('rss_before_mb')} MB. Machine: {result['machine']}.")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10000, help="length of the generated video (default 10,000)")
    parser.add_argument("--name", default="long_video", help="results file stem under benchmarks/results/")
    args = parser.parse_args()
    result = run(args.frames, args.name)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
