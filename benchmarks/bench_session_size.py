"""How big a saved session is, and how long save and load take.

A session of 2,000 frames with 3 objects on a synthetic video, at 320x240 (the synthetic
default) and at 854x480 (DAVIS size; see worked() for how the frames and masks are made),
with a mask of exact ground truth for every object on every frame (as if propagated),
plus the prompts a person gives: a click and a box on frame
0, a mask on frame 0, and a brush edit on 10 later frames. With ``--engine``, the masks of a
real propagation (the classic engine, 100 frames at 320x240) are measured too: engine masks
have rougher outlines than the ground truth, so their RLE is longer.

Writes benchmarks/results/session_size.json and session_size.md.

    .venv/bin/python benchmarks/bench_session_size.py [--engine]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import vseg_widgets as vw
from vseg_widgets.video import Video

RESULTS = Path(__file__).resolve().parent / "results"
FRAMES, OBJECTS, CLIP = 2000, 3, 100


class LoopVideo(Video):
    """A long lazy video playing a short clip forwards and backwards (ping-pong)."""

    def __init__(self, clip: np.ndarray, length: int, fps: float = 24.0):
        super().__init__(cache_bytes=64 * 2**20)
        self._clip, self._length = clip, length
        self.height, self.width = clip.shape[1:3]
        self.fps = fps

    def source_frame(self, index: int) -> int:
        n = len(self._clip)
        k = index % (2 * n - 2)
        return k if k < n else 2 * n - 2 - k

    def _decode(self, index: int) -> np.ndarray:
        return self._clip[self.source_frame(index)].copy()


def measure(seg, folder: Path, name: str) -> dict:
    path = folder / f"{name}.vseg"
    start = time.perf_counter()
    seg.save(path)
    save_s = time.perf_counter() - start
    start = time.perf_counter()
    back = vw.Segmenter.load(path, video=seg.video, engine="classic")
    load_s = time.perf_counter() - start
    assert back.masks == seg.masks and len(back.prompts) == len(seg.prompts)
    masks = sum(len(seg.masks[f]) for f in seg.masks.frames())
    rle_bytes = sum(len(seg.masks.rle(f, o)["counts"]) for f in seg.masks.frames() for o in seg.masks[f])
    size = path.stat().st_size
    return {
        "frames": len(seg.video),
        "size": f"{seg.video.width}x{seg.video.height}",
        "objects": len(seg.obj_ids),
        "masks": masks,
        "prompts": len(seg.prompts),
        "file_bytes": size,
        "json_bytes": len(gzip.decompress(path.read_bytes())),
        "rle_bytes": rle_bytes,
        "bytes_per_mask": round(size / masks, 1),
        "save_s": round(save_s, 3),
        "load_s": round(load_s, 3),
    }


def worked(height: int, width: int) -> vw.Segmenter:
    """At 320x240 the video is one 2,000-frame synthetic video and the masks its ground
    truth. At 854x480 (2.5 GB of frames in one piece) the video is a 100-frame clip played
    back and forth and the masks the ground truth of ten 200-frame synthetic videos (seeds
    0..9) one after the other: every mask different, as in a real video (a repeated mask
    would compress to nothing), though not of the frames shown."""
    if (height, width) == (240, 320):
        video, gt = vw.datasets.synthetic(num_frames=FRAMES, height=height, width=width, num_objects=OBJECTS)
        masks = [gt[f] for f in range(FRAMES)]
    else:
        clip, _ = vw.datasets.synthetic(num_frames=CLIP, height=height, width=width, num_objects=OBJECTS)
        video = LoopVideo(np.stack([clip[i] for i in range(len(clip))]), FRAMES)
        masks = []
        for seed in range(FRAMES // 200):
            _, part = vw.datasets.synthetic(num_frames=200, height=height, width=width, num_objects=OBJECTS, seed=seed)
            masks += [part[f] for f in range(200)]
    seg = vw.Segmenter(video, engine="classic")
    seg.add_points(0, 1, [(width * 0.28, height * 0.5)])
    seg.add_box(0, 2, (width * 0.6, height * 0.2, width * 0.95, height * 0.8))
    seg.add_mask(0, 3, masks[0][3])
    for frame in range(1, FRAMES):
        for obj, mask in masks[frame].items():
            seg.masks.set(frame, obj, mask)
    rng = np.random.default_rng(0)
    for frame in rng.choice(np.arange(1, FRAMES), 10, replace=False):
        yy, xx = np.mgrid[0:height, 0:width]
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        seg.edit_mask(int(frame), 1, add=(xx - x) ** 2 + (yy - y) ** 2 < (height / 12) ** 2)
    return seg


def engine_masks(folder: Path) -> dict:
    video, gt = vw.datasets.synthetic(num_frames=100, num_objects=OBJECTS)
    seg = vw.Segmenter(video, engine="classic")
    for obj in range(1, OBJECTS + 1):
        seg.add_mask(0, obj, gt.get(0, obj))
    start = time.perf_counter()
    seg.propagate("forward", progress=False)
    out = measure(seg, folder, "engine")
    out["propagate_s"] = round(time.perf_counter() - start, 1)
    gt_bytes = sum(len(gt.rle(f, o)["counts"]) for f in gt.frames() for o in gt[f])
    out["gt_rle_bytes"] = gt_bytes
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="store_true", help="also measure a real propagation's masks (about a minute)")
    args = parser.parse_args()
    results = {"python": platform.python_version(), "numpy": np.__version__, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for height, width in ((240, 320), (480, 854)):
            results["runs"][f"{width}x{height}"] = measure(worked(height, width), folder, f"s{width}")
        if args.engine:
            results["runs"]["engine 320x240"] = engine_masks(folder)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "session_size.json").write_text(json.dumps(results, indent=1))
    lines = [
        "# Size of a saved session",
        "",
        f"`python benchmarks/bench_session_size.py{' --engine' if args.engine else ''}` (Python {results['python']}, NumPy {results['numpy']}).",
        "",
        f"{FRAMES:,} frames, {OBJECTS} objects, a mask for every object on every frame (the synthetic video's exact",
        "ground truth, as if propagated), 13 prompts (a click, a box, a mask, 10 brush edits with their undo records).",
        "",
        "| video | masks | file | per mask | JSON inside | RLE in memory | save | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        lines.append(
            f"| {name}, {r['frames']} frames | {r['masks']:,} | **{r['file_bytes'] / 1e6:.2f} MB** | {r['bytes_per_mask']:.0f} B | "
            f"{r['json_bytes'] / 1e6:.2f} MB | {r['rle_bytes'] / 1e6:.2f} MB | {r['save_s']:.2f} s | {r['load_s']:.2f} s |"
        )
    if "engine 320x240" in results["runs"]:
        r = results["runs"]["engine 320x240"]
        lines += ["", f"The engine run propagated 100 frames with the classic engine; its masks' RLE is {r['rle_bytes'] / r['gt_rle_bytes']:.2f}x the ground truth's."]
    lines += ["", "Load includes the fingerprint check (decoding and hashing 5 frames) and giving the engine the prompted masks."]
    (RESULTS / "session_size.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
