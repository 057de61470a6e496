"""Benchmark of the built-in "classic" engine on the DAVIS 2016 dev sequences.

    .venv/bin/python benchmarks/bench_classic.py            # everything, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_classic.py --quick    # 3 sequences, short memory run

Measures, and writes to benchmarks/results/classic.md and classic.json:

- **Propagation quality**: first-frame ground-truth mask via ``add_prompt(mask=...)``,
  propagate forward, DAVIS J and F (:mod:`vseg_widgets.metrics`) over frames 1..N-2
  (the official protocol), per sequence and mean.
- **Clicks**: NoC@85 and NoC@90 on each sequence's first frame with the standard clicker
  (next click at the farthest point of the larger error region by distance transform,
  the image border counting as boundary; positive if it is a false negative; at most 20).
  Ten first frames make a noisy estimate (one sequence can swing it by 0.5), so the same
  is also done on frames 15, 30 and 45 (CLICK_FRAMES), and NoC@85 over all 40 is reported
  beside it. Every click's latency (the engine's ``add_prompt``) at 854x480, over all
  clicked frames: median and p95.
- **Speed against a plain warp**: on each sequence, right after the engine's run, the
  plainest propagation there is: the first-frame ground truth pulled frame after frame
  along OpenCV DIS optical flow (MEDIUM preset, full resolution 854x480, backward flow,
  ``cv2.remap``, threshold 0.5). The engine's frames/s divided by the warp's is the figure
  that means the same on every machine (issue 15). Both times include decoding the JPEG
  frames, the same way (a fresh :func:`vw.datasets.load_davis`, frames decoded as read).
- **Objects**: time per frame for 1, 3 and 10 objects (the ground-truth object plus 0, 2
  or 9 background regions, on the first frames of three sequences, the same frames for
  each count), and the ratios t(3)/t(1), t(10)/t(1); then the same runs on one thread,
  timed stage by stage (:mod:`vseg_widgets.engines.classic.timing`): where a frame's
  milliseconds go, written to classic_profile.md.
- **Memory**: resident set size after 100 and after 2,000 frames of a long 854x480
  synthetic video propagated through a :class:`vseg_widgets.Segmenter`.

Timings depend on the machine and its load: the figures are medians of what this run saw.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import vseg_widgets as vw  # noqa: E402
from vseg_widgets.engines.classic import ClassicEngine, TrackerConfig  # noqa: E402
from vseg_widgets.metrics.clicks import MAX_CLICKS, next_click, noc  # noqa: E402
from vseg_widgets.video import Video  # noqa: E402

CLICK_FRAMES = (0, 15, 30, 45)  # frame 0 is the issue's protocol; the others steady the estimate


def metrics():
    """(jaccard, f_boundary): the official implementations of vseg_widgets.metrics."""
    from vseg_widgets.metrics import f_boundary, jaccard

    return jaccard, f_boundary


# -- propagation ------------------------------------------------------------------------
def propagate_sequence(root, name: str) -> dict:
    """First-frame GT, propagate forward; J and F over frames 1..N-2, frames/s."""
    jaccard, f_boundary = metrics()
    video, gt = vw.datasets.load_davis(root, name)
    session = ClassicEngine().init_session(video)
    session.add_prompt(0, 1, mask=gt.get(0, 1))
    preds = {}
    start = time.perf_counter()
    for t, masks in session.propagate(0):
        preds[t] = masks[1]
    seconds = time.perf_counter() - start
    frames = range(1, len(video) - 1)
    j = [jaccard(preds[t], gt.get(t, 1), gt.void(t)) for t in frames]
    f = [f_boundary(preds[t], gt.get(t, 1), gt.void(t)) for t in frames]
    return {"J": float(np.mean(j)), "F": float(np.mean(f)), "frames": len(video), "fps": len(video) / seconds}


def warp_sequence(root, name: str) -> dict:
    """The plain DIS warp of the first-frame GT (see the module docstring): frames/s and J."""
    jaccard, _ = metrics()
    video, gt = vw.datasets.load_davis(root, name)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grid = None
    preds = {}
    start = time.perf_counter()
    mask = gt.get(0, 1)
    prev = cv2.cvtColor(video[0], cv2.COLOR_RGB2GRAY)
    preds[0] = mask
    for t in range(1, len(video)):
        gray = cv2.cvtColor(video[t], cv2.COLOR_RGB2GRAY)
        if grid is None:
            h, w = gray.shape
            grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
        coords = grid + dis.calc(gray, prev, None)  # backward: where each current pixel was
        mask = cv2.remap(mask.astype(np.float32), coords[..., 0], coords[..., 1], cv2.INTER_LINEAR) > 0.5
        preds[t] = mask
        prev = gray
    seconds = time.perf_counter() - start
    j = [jaccard(preds[t], gt.get(t, 1), gt.void(t)) for t in range(1, len(video) - 1)]
    return {"fps": len(video) / seconds, "J": float(np.mean(j))}


#: Background boxes (x0, y0 as fractions of the frame, 0.2 x 0.2 each, none overlapping);
#: the first two are the 3-object run's of earlier versions of this benchmark.
BOXES = [(0.05, 0.05), (0.7, 0.05), (0.05, 0.75), (0.7, 0.75), (0.375, 0.05), (0.375, 0.75),
         (0.05, 0.4), (0.7, 0.4), (0.375, 0.4)]


def speed_objects(root, names: list[str], counts=(1, 3, 10), frames: int = 50, config=None, stages_on: bool = False) -> dict:
    """Seconds per frame, and (``stages_on``) seconds per frame by stage, for each object
    count in ``counts``, with the tracker's ``config`` (None: the default).

    The objects: the GT object and ``n - 1`` background boxes (:data:`BOXES`, less the
    object's pixels), on the first ``frames`` frames of each sequence; every count runs on
    the same frames, one after the other per sequence (so machine load hits them alike).
    Stage times come from :data:`vseg_widgets.engines.classic.timing.STAGES`; a frame's
    time not claimed by any stage is "other". They add up to the frame's time only with
    ``TrackerConfig(threads=1)``: with more threads, stages overlap.
    """
    from vseg_widgets.engines.classic.timing import STAGES

    total_s = {n: 0.0 for n in counts}
    stages = {n: {} for n in counts}
    total_frames = 0
    for name in names:
        for n in counts:
            video, gt = vw.datasets.load_davis(root, name)
            h, w = video.height, video.width
            session = ClassicEngine(config).init_session(video)
            obj = gt.get(0, 1)
            session.add_prompt(0, 1, mask=obj)
            for k, (x0, y0) in enumerate(BOXES[: n - 1], start=2):
                box = np.zeros((h, w), bool)
                box[int(y0 * h) : int((y0 + 0.2) * h), int(x0 * w) : int((x0 + 0.2) * w)] = True
                session.add_prompt(0, k, mask=box & ~obj)
            STAGES.reset()
            STAGES.enabled = stages_on
            start = time.perf_counter()
            try:
                for t, _ in session.propagate(0):
                    if t + 1 >= min(frames, len(video)):
                        break
            finally:
                STAGES.enabled = False
            seconds = time.perf_counter() - start
            total_s[n] += seconds
            for stage, v in STAGES.seconds.items():
                stages[n][stage] = stages[n].get(stage, 0.0) + v
            stages[n]["other"] = stages[n].get("other", 0.0) + seconds - sum(STAGES.seconds.values())
        total_frames += min(frames, len(video))
    return {
        "frames": total_frames,
        "ms_per_frame": {str(n): 1000 * total_s[n] / total_frames for n in counts},
        "stages_ms_per_frame": {str(n): {k: 1000 * v / total_frames for k, v in stages[n].items()} for n in counts},
    }


# -- clicks -----------------------------------------------------------------------------
def click_sequence(root, name: str, frame: int = 0) -> dict:
    """NoC@85, NoC@90 and per-click latencies (ms) on one frame of the sequence."""
    jaccard, _ = metrics()
    video, gt = vw.datasets.load_davis(root, name)
    target = gt.get(frame, 1)
    video[frame]  # decode once, outside the timed clicks (the player has the frame already)
    session = ClassicEngine().init_session(video)
    pred = np.zeros_like(target)
    points, labels, ious, latencies = [], [], [], []
    for _ in range(MAX_CLICKS):
        click = next_click(pred, target)
        if click is None:
            break
        points.append(click[0])
        labels.append(click[1])
        start = time.perf_counter()
        masks = session.add_prompt(frame, 1, points=np.array(points, np.float32), labels=np.array(labels, np.int32))
        latencies.append(1000 * (time.perf_counter() - start))
        pred = masks[1]
        ious.append(jaccard(pred, target))

    return {"NoC@85": noc(ious, 0.85), "NoC@90": noc(ious, 0.90), "iou_at_clicks": [round(v, 4) for v in ious], "latency_ms": latencies}


# -- memory -----------------------------------------------------------------------------
class LoopVideo(Video):
    """A long lazy video that plays a short clip forwards and backwards (ping-pong), so the
    motion stays continuous; frames are decoded on demand like a file's."""

    def __init__(self, clip: np.ndarray, length: int, fps: float = 24.0, cache_bytes: int = 64 * 2**20):
        super().__init__(cache_bytes)
        self._clip = clip
        self._length = length
        self.height, self.width = clip.shape[1:3]
        self.fps = fps

    def _decode(self, index: int) -> np.ndarray:
        n = len(self._clip)
        k = index % (2 * n - 2)
        return self._clip[k if k < n else 2 * n - 2 - k].copy()


def rss_mb() -> float:
    """Resident set size of this process now, MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_run(length: int, checkpoints: tuple[int, ...]) -> dict:
    """RSS (MB) at each checkpoint frame while a Segmenter propagates a long synthetic video.

    The video's frame cache is capped at 64 MB (the default cap, 512 MB, takes ~430 frames
    of 854x480 to fill, which would read as growth between 100 and 2,000 frames).
    """
    clip, gt = vw.datasets.synthetic(num_frames=48, height=480, width=854, num_objects=2)
    clip_frames = np.stack([clip[i] for i in range(len(clip))])
    video = LoopVideo(clip_frames, length)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(0, 2, gt.get(0, 2))
    seen = {}

    def listener(event, **payload):
        if event == "masks" and payload.get("frames"):
            frame = payload["frames"][0]
            if frame + 1 in checkpoints:
                seen[frame + 1] = rss_mb()

    seg.observe(listener)
    start = time.perf_counter()
    seg.propagate("forward", progress=False)
    seconds = time.perf_counter() - start
    # What the masks themselves take (RLE bytes; the engine keeps a copy of its own).
    rles = (seg.masks.rle(f, o) for f in seg.masks.frames() for o in seg.masks.obj_ids)
    store = sum(len(rle["counts"]) for rle in rles if rle is not None)
    return {"rss_mb": {str(k): round(v, 1) for k, v in sorted(seen.items())}, "frames": length,
            "mask_store_mb": round(store / 2**20, 2),
            "fps_2_objects_synthetic": length / seconds, "mask_store_frames": len(seg.masks.frames())}


# -- report -----------------------------------------------------------------------------
def write_report(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "classic.json").write_text(json.dumps(result, indent=2))
    rows = result["sequences"]
    lines = [
        "# Classic engine on DAVIS 2016 dev",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; {result['date']}",
        "",
        "Propagation: first-frame ground truth (add_mask), forward; DAVIS J and F over frames 1..N-2.",
        "Clicks: standard clicker on frame 0, at most 20 clicks (NoC@85 and NoC@90); the last",
        f"column is NoC@85 on frames {', '.join(map(str, CLICK_FRAMES))} (a steadier estimate).",
        "",
        "The warp columns: the plain DIS warp of the same sequence, same run (frames/s, its J), and",
        "the engine's frames/s divided by the warp's (both include decoding the frames).",
        "",
        "| sequence | frames | J | F | J&F | NoC@85 | NoC@90 | frames/s | warp frames/s | warp J | ratio to warp | NoC@85 per clicked frame |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in rows.items():
        per_frame = " / ".join(str(v) for v in r.get("NoC@85_frames", {}).values())
        lines.append(
            f"| {name} | {r['frames']} | {r['J']:.3f} | {r['F']:.3f} | {(r['J'] + r['F']) / 2:.3f} | "
            f"{r.get('NoC@85', float('nan'))} | {r.get('NoC@90', float('nan'))} | {r['fps']:.1f} | "
            f"{r['warp_fps']:.1f} | {r['warp_J']:.3f} | {r['ratio_to_warp']:.2f} | {per_frame} |"
        )
    m = result["mean"]
    every = m.get("NoC@85_all_frames", {"mean": float("nan"), "count": 0})
    lines.append(
        f"| **mean** | {m['frames']} | **{m['J']:.3f}** | **{m['F']:.3f}** | **{m['J&F']:.3f}** | "
        f"**{m.get('NoC@85', float('nan')):.2f}** | **{m.get('NoC@90', float('nan')):.2f}** | {m['fps']:.1f} | "
        f"{m['warp_fps']:.1f} | {m['warp_J']:.3f} | **{m['ratio_to_warp_median']:.2f}** (median) | "
        f"**{every['mean']:.2f}** ({every['count']} frames) |"
    )
    s = result["speed"]
    lines += [
        "",
        "| figure | value |",
        "|---|---:|",
        f"| propagation, 1 object, 854x480 (all frames above) | {s['fps_1_object']:.1f} frames/s |",
        f"| propagation, 3 objects, 854x480 | {s['fps_3_objects']:.1f} frames/s |",
        f"| ratio to the plain DIS warp, 1 object, median over sequences | {m['ratio_to_warp_median']:.2f} |",
    ]
    objects = s["objects"]
    ms = objects["ms_per_frame"]
    for n, v in ms.items():
        lines.append(f"| time per frame, {n} object{'s' if n != '1' else ''} ({objects['frames']} frames) | {v:.0f} ms |")
    for n in ms:
        if n != "1":
            lines.append(f"| t({n}) / t(1) | {ms[n] / ms['1']:.2f} |")
    if "click_latency_ms" in s:
        c = s["click_latency_ms"]
        lines.append(f"| click latency, 854x480, median / p95 ({c['count']} clicks) | {c['p50']:.0f} / {c['p95']:.0f} ms |")
    if "memory" in result:
        mem = result["memory"]
        for k, v in mem["rss_mb"].items():
            lines.append(f"| RSS after {k} frames (long synthetic video, 2 objects) | {v:.0f} MB |")
        lines.append(f"| mask store after {mem['frames']} frames (RLE bytes, held by the Segmenter and again by the engine) | {mem['mask_store_mb']:.1f} MB |")
    lines += [
        "",
        "Issue 2 figures (plain protocol: first-frame GT, propagate forward): "
        f"mean J {m['J']:.3f}, {s['fps_1_object']:.1f} frames/s.",
        "",
    ]
    (out / "classic.md").write_text("\n".join(lines))
    (out / "classic_profile.md").write_text(profile_report(result))


#: Stage order of the profile table (:mod:`vseg_widgets.engines.classic.timing`).
STAGE_ORDER = ["learn", "decode", "prepare", "flow", "appearance", "texture", "motion", "fusion", "refine",
               "confidence", "lines", "search", "re-anchor", "other"]


def profile_report(result: dict) -> str:
    """Markdown: ms per frame by stage, per object count, of this run's object runs."""
    objects = result["speed"]["profile_one_thread"]
    threaded = result["speed"]["objects"]["ms_per_frame"]
    counts = list(objects["ms_per_frame"])
    stages = objects["stages_ms_per_frame"]
    names = [k for k in STAGE_ORDER if any(k in stages[n] for n in counts)]
    names += sorted({k for n in counts for k in stages[n]} - set(names))
    lines = [
        "# Classic engine: where a frame's milliseconds go",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; {result['date']}",
        "",
        f"The object runs of classic.md ({objects['frames']} frames: the first frames of "
        f"{', '.join(result['speed']['object_sequences'])}), 854x480, run again on one thread "
        "(`TrackerConfig(threads=1)`: with the default two, stages overlap) and timed stage by stage "
        "(wall clock, vseg_widgets/engines/classic/timing.py); 'other' is what no stage claims. "
        "The last row is the same runs' time per frame with the default threads.",
        "Stages: learn (the texture classifier, fitted once per object on the first frame), decode (JPEG), prepare (crops, grey, colour bins, Lab, the cut histogram), flow (DIS, ",
        "trust, warping the masks), appearance (colour models, local colour models), texture (the ",
        "classifier), motion (moves-like-the-background cue, camera-motion fits), fusion (priors, ",
        "log-odds, pasting), refine (guided filter, detached blobs), confidence, lines, search (lost objects).",
        "",
        "| stage | " + " | ".join(f"{n} object{'s' if n != '1' else ''}, ms" for n in counts) + " |",
        "|---|" + "---:|" * len(counts),
    ]
    for k in names:
        lines.append(f"| {k} | " + " | ".join(f"{stages[n].get(k, 0.0):.1f}" for n in counts) + " |")
    lines.append("| **total, one thread** | " + " | ".join(f"**{objects['ms_per_frame'][n]:.1f}**" for n in counts) + " |")
    lines.append("| **total, default threads** | " + " | ".join(f"**{threaded[n]:.1f}**" for n in counts) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="DAVIS folder (default: ../shared/data/davis2016-dev)")
    parser.add_argument("--sequences", nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="three sequences and a 300-frame memory run")
    parser.add_argument("--no-clicks", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)

    root = args.root or vw.datasets.find_davis(REPO)
    if root is None:
        sys.exit("DAVIS dev data not found: expected ../shared/data/davis2016-dev (or set VSEG_DAVIS_ROOT).")
    names = args.sequences or vw.datasets.davis_sequences(root)
    if args.quick and not args.sequences:
        names = names[:3]
    cv2.setNumThreads(cv2.getNumberOfCPUs())
    # torch (the texture classifiers' fits) is loaded while a person looks at the video
    # (texture.warm_up); here, before the first timing, so that it is not the first sequence's.
    from vseg_widgets.engines.classic.texture import _load_torch

    _load_torch()

    rows, latencies = {}, []
    for name in names:
        row = propagate_sequence(root, name)
        warp = warp_sequence(root, name)
        row.update(warp_fps=warp["fps"], warp_J=warp["J"], ratio_to_warp=row["fps"] / warp["fps"])
        if not args.no_clicks:
            clicks = click_sequence(root, name)
            latencies += clicks.pop("latency_ms")
            row.update(clicks)
            row["NoC@85_frames"] = {0: row["NoC@85"]}
            for frame in CLICK_FRAMES[1:]:
                if frame < row["frames"] - 1:
                    more = click_sequence(root, name, frame)
                    latencies += more["latency_ms"]
                    row["NoC@85_frames"][frame] = more["NoC@85"]
        rows[name] = row
        print(f"{name:16s} J {row['J']:.3f} F {row['F']:.3f} NoC@85 {row.get('NoC@85', '-')} NoC@90 "
              f"{row.get('NoC@90', '-')} {row['fps']:.1f} frames/s, warp {row['warp_fps']:.1f} (ratio "
              f"{row['ratio_to_warp']:.2f})", flush=True)

    frames = sum(r["frames"] for r in rows.values())
    seconds = sum(r["frames"] / r["fps"] for r in rows.values())
    mean = {"J": float(np.mean([r["J"] for r in rows.values()])), "F": float(np.mean([r["F"] for r in rows.values()])),
            "frames": frames, "fps": frames / seconds}
    mean["J&F"] = (mean["J"] + mean["F"]) / 2
    mean["warp_fps"] = frames / sum(r["frames"] / r["warp_fps"] for r in rows.values())
    mean["warp_J"] = float(np.mean([r["warp_J"] for r in rows.values()]))
    mean["ratio_to_warp_median"] = float(np.median([r["ratio_to_warp"] for r in rows.values()]))
    objects = speed_objects(root, names[:3])
    # The profile: the same runs on one thread, timed stage by stage.
    profile = speed_objects(root, names[:3], config=TrackerConfig(threads=1), stages_on=True)
    speed = {"fps_1_object": frames / seconds, "fps_3_objects": 1000 / objects["ms_per_frame"]["3"],
             "objects": objects, "profile_one_thread": profile, "object_sequences": names[:3]}
    ms = objects["ms_per_frame"]
    print("ms per frame by object count: " + ", ".join(f"{n}: {v:.0f}" for n, v in ms.items())
          + f"; t(3)/t(1) {ms['3'] / ms['1']:.2f}, t(10)/t(1) {ms['10'] / ms['1']:.2f}", flush=True)
    if not args.no_clicks:
        mean["NoC@85"] = float(np.mean([r["NoC@85"] for r in rows.values()]))
        mean["NoC@90"] = float(np.mean([r["NoC@90"] for r in rows.values()]))
        every = [n for r in rows.values() for n in r["NoC@85_frames"].values()]
        mean["NoC@85_all_frames"] = {"mean": float(np.mean(every)), "count": len(every)}
        lat = np.array(latencies)
        speed["click_latency_ms"] = {"p50": float(np.median(lat)), "p95": float(np.percentile(lat, 95)), "count": len(lat)}
    result = {
        "command": "python " + " ".join(["benchmarks/bench_classic.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.processor() or platform.machine()}, {cv2.getNumberOfCPUs()} CPUs",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "sequences": rows,
        "mean": mean,
        "speed": speed,
    }
    if not args.no_memory:
        length = 300 if args.quick else 2000
        result["memory"] = memory_run(length, (100, 500, 1000, length) if length > 1000 else (100, length))
    write_report(result, args.out)
    print((args.out / "classic.md").read_text())
    return result


if __name__ == "__main__":
    main()
