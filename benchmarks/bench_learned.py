"""Benchmark of the default "learned" engine beside the weight-free "classic" one, same run,
on the DAVIS 2016 dev sequences.

    .venv/bin/python benchmarks/bench_learned.py            # everything, ~20 min on 2 cores
    .venv/bin/python benchmarks/bench_learned.py --quick    # 3 sequences, short memory run

Writes benchmarks/results/learned.md and learned.json with, for both engines:

- **Clicks** with the standard clicker of ``bench_classic.py`` on frames 0/15/30/45 of each
  sequence (40 frames): NoC@85, NoC@90 (at most 20 clicks), and the mean IoU after 1, 3
  and 5 clicks (a frame whose clicks reached no error keeps its last IoU).
- **Latency at 854x480**: a click whose frame embedding is ready (every click after a
  frame's first; median, p95), and the first click on a fresh frame, embedding included
  (median over the 40 frames; the model already loaded).
- **Propagation**: frame 0's ground-truth mask, then forward; DAVIS J&F over frames
  1..N-2 and frames/s, both engines in this run, and their ratio; and the learned engine
  with the re-anchoring schedules of :data:`TRADE_OFF` (J&F against frames/s).
- **One-click propagation**, what a newcomer does: the clicker's first click only (the
  deepest point of frame 0's ground truth), then forward; J&F.
- **Memory**: the embedding cache's bytes against its bound after the player rested on 100
  frames, and RSS over a 2,000-frame synthetic run with clicks and prefetches on the way.

Timings depend on the machine and its load: compare figures from one run.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import vseg_widgets as vw  # noqa: E402
from bench_classic import CLICK_FRAMES, LoopVideo, rss_mb  # noqa: E402
from vseg_widgets.engines import ClassicEngine, LearnedEngine  # noqa: E402
from vseg_widgets.engines.learned import REANCHOR_GAPS  # noqa: E402
from vseg_widgets.metrics import f_boundary, jaccard  # noqa: E402
from vseg_widgets.metrics.clicks import MAX_CLICKS, next_click, noc  # noqa: E402

TRADE_OFF = ((4, 4, 4), (8, 8, 8), (4, 8, 16))  # re-anchoring schedules measured beside the default

ENGINES = {"classic": ClassicEngine, "learned": LearnedEngine}


def clicks(engine, video, gt, frame: int) -> dict:
    """The standard clicker on one frame: IoU after each click, and each click's latency (ms)."""
    target = gt.get(frame, 1)
    video[frame]
    session = engine.init_session(video)
    fresh_ms = None
    pred = np.zeros_like(target)
    points, labels, ious, ready_ms = [], [], [], []
    for k in range(MAX_CLICKS):
        click = next_click(pred, target)
        if click is None:
            break
        points.append(click[0])
        labels.append(click[1])
        start = time.perf_counter()
        pred = session.add_prompt(frame, 1, points=np.array(points, np.float32), labels=np.array(labels, np.int32))[1]
        ms = 1000 * (time.perf_counter() - start)
        if k == 0 and isinstance(engine, LearnedEngine):
            fresh_ms = ms  # the embedding was computed in this click
        else:
            ready_ms.append(ms)
        ious.append(jaccard(pred, target))
    return {"ious": ious, "ready_ms": ready_ms, "fresh_ms": fresh_ms}


def iou_after(ious: list[float], n: int) -> float:
    return ious[min(n, len(ious)) - 1] if ious else 0.0


def propagate(engine, video, gt, first) -> tuple[dict, float]:
    """``first(session)`` prompts frame 0; then forward. Returns ({J, F}, frames/s)."""
    session = engine.init_session(video)
    first(session)
    preds, start = {}, time.perf_counter()
    for t, masks in session.propagate(0):
        preds[t] = masks.get(1, np.zeros(gt.get(0, 1).shape, bool))
    seconds = time.perf_counter() - start
    frames = range(1, len(video) - 1)
    j = float(np.mean([jaccard(preds[t], gt.get(t, 1), gt.void(t)) for t in frames]))
    f = float(np.mean([f_boundary(preds[t], gt.get(t, 1), gt.void(t)) for t in frames]))
    return {"J": j, "F": f, "J&F": (j + f) / 2}, len(video) / seconds


def first_click(gt):
    (x, y), _ = next_click(np.zeros_like(gt.get(0, 1)), gt.get(0, 1))
    return lambda s: s.add_prompt(0, 1, points=np.array([[x, y]], np.float32), labels=np.array([1], np.int32))


def memory(length: int, checkpoints: tuple[int, ...]) -> dict:
    """RSS (MB) at checkpoints of a long run with the learned engine: a click on each of two
    objects, the player resting on a frame every 20 (prefetch), propagation forward."""
    clip, gt = vw.datasets.synthetic(num_frames=48, height=480, width=854, num_objects=2)
    video = LoopVideo(np.stack([clip[i] for i in range(len(clip))]), length)
    seg = vw.Segmenter(video, engine=LearnedEngine())
    for obj in (1, 2):
        (x, y), _ = next_click(np.zeros_like(gt.get(0, obj)), gt.get(0, obj))
        seg.add_points(0, obj, [(x, y)])
    session, seen = seg._session, {}

    def listener(event, **payload):
        if event == "masks" and payload.get("frames"):
            frame = payload["frames"][0]
            if frame % 20 == 0:
                session.prepare(frame)
            if frame + 1 in checkpoints:
                seen[frame + 1] = rss_mb()

    seg.observe(listener)
    seg.propagate("forward", progress=False)
    cache = session.embeddings
    return {"rss_mb": {str(k): round(v, 1) for k, v in sorted(seen.items())}, "frames": length,
            "embeddings_mb": round(cache.nbytes / 2**20, 1), "bound_mb": round(cache.max_bytes / 2**20, 1),
            "embeddings_computed": cache.computed}


def cache_bound(video) -> dict:
    """Rest on 100 frames in turn; the cache must stay within its bound."""
    session = LearnedEngine().init_session(video)
    peak = 0
    for frame in range(min(100, len(video))):
        session.embeddings.get(frame)
        peak = max(peak, session.embeddings.nbytes)
    return {"frames": min(100, len(video)), "peak_mb": round(peak / 2**20, 1), "bound_mb": round(session.embeddings.max_bytes / 2**20, 1)}


def write_report(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "learned.json").write_text(json.dumps(result, indent=2))
    names = list(result["sequences"])
    lines = [
        "# Default (learned) engine beside classic, DAVIS 2016 dev",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; {result['date']}",
        "",
        "Per sequence: NoC@85 over the clicked frames (0/15/30/45), J&F of first-frame-GT propagation, "
        "J&F of one-click propagation; classic / learned.",
        "",
        "| sequence | NoC@85 | GT propagation J&F | one-click J&F |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        r = result["sequences"][name]
        c, d = r["classic"], r["learned"]
        lines.append(f"| {name} | {c['NoC@85']:.2f} / {d['NoC@85']:.2f} | {c['gt']['J&F']:.3f} / {d['gt']['J&F']:.3f} | "
                     f"{c['one_click']['J&F']:.3f} / {d['one_click']['J&F']:.3f} |")
    m = result["mean"]
    lines += ["", "| figure | classic | learned (default) |", "|---|---:|---:|"]
    for key, label, fmt in [
        ("NoC@85", f"NoC@85 ({m['classic']['clicked_frames']} frames)", "{:.2f}"),
        ("NoC@90", "NoC@90", "{:.2f}"),
        ("IoU@1", "mean IoU after 1 click", "{:.3f}"),
        ("IoU@3", "mean IoU after 3 clicks", "{:.3f}"),
        ("IoU@5", "mean IoU after 5 clicks", "{:.3f}"),
        ("ready_p50", "click latency, embedding ready, median (ms)", "{:.0f}"),
        ("ready_p95", "click latency, embedding ready, p95 (ms)", "{:.0f}"),
        ("fresh_p50", "first click on a fresh frame, median (ms)", "{:.0f}"),
        ("gt_J&F", "GT propagation, J&F", "{:.3f}"),
        ("gt_fps", "GT propagation, frames/s", "{:.1f}"),
        ("one_click_J&F", "one-click propagation, J&F", "{:.3f}"),
    ]:
        cells = [fmt.format(m[e][key]) if m[e].get(key) is not None else "-" for e in ("classic", "learned")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    lines.append(f"| frames/s ratio learned / classic (GT propagation) | | {m['fps_ratio']:.2f} |")
    lines += ["", "How often propagation re-anchors on the model (`LearnedEngine(reanchor_gaps=...)`: fewest, first, "
              "most frames between looks), first-frame GT propagation, same run:", "",
              "| reanchor_gaps | J&F | frames/s ratio to classic |", "|---|---:|---:|",
              f"| {tuple(REANCHOR_GAPS)} (default) | {m['learned']['gt_J&F']:.3f} | {m['fps_ratio']:.2f} |"]
    lines += [f"| {tuple(t['gaps'])} | {t['gt_J&F']:.3f} | {t['fps_ratio']:.2f} |" for t in m.get("trade_off", [])]
    lines.append(f"| None (never: the classic tracker's masks) | {m['classic']['gt_J&F']:.3f} | 1.00 |")
    better = result["one_click_improved"]
    lines += ["", f"The learned engine beats classic on {better} of {len(names)} sequences in one-click propagation, "
              f"on {result['gt_improved']} in GT propagation."]
    if "cache" in result:
        c = result["cache"]
        lines.append(f"Embedding cache after resting on {c['frames']} frames: peak {c['peak_mb']} MB, bound {c['bound_mb']} MB.")
    if "memory" in result:
        mem = result["memory"]
        rss = ", ".join(f"{k}: {v:.0f} MB" for k, v in mem["rss_mb"].items())
        lines.append(f"RSS over a {mem['frames']}-frame run (2 clicked objects, a prefetch every 20 frames): {rss}; "
                     f"embeddings held {mem['embeddings_mb']} MB of {mem['bound_mb']} MB ({mem['embeddings_computed']} computed).")
    lines.append("")
    (out / "learned.md").write_text("\n".join(lines))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--sequences", nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="three sequences and a 300-frame memory run")
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
    engines = {"classic": ClassicEngine(), "learned": LearnedEngine()}
    engines["learned"].prompt_model.load()  # loading the model is not a click's latency

    rows, pooled = {}, {e: {"ious": [], "ready_ms": [], "fresh_ms": [], "gt": [], "one_click": []} for e in engines}
    seconds = {e: 0.0 for e in engines}
    frames = 0
    for name in names:
        video, gt = vw.datasets.load_davis(root, name)
        row = {}
        for e, engine in engines.items():
            runs = [clicks(engine, video, gt, f) for f in CLICK_FRAMES if f < len(video) - 1]
            gt_scores, fps = propagate(engine, video, gt, lambda s: s.add_prompt(0, 1, mask=gt.get(0, 1)))
            one, _ = propagate(engine, video, gt, first_click(gt))
            seconds[e] += len(video) / fps
            pooled[e]["ious"] += [r["ious"] for r in runs]
            pooled[e]["ready_ms"] += [ms for r in runs for ms in r["ready_ms"]]
            pooled[e]["fresh_ms"] += [r["fresh_ms"] for r in runs if r["fresh_ms"] is not None]
            pooled[e]["gt"].append(gt_scores)
            pooled[e]["one_click"].append(one)
            row[e] = {"NoC@85": float(np.mean([noc(r["ious"], 0.85) for r in runs])),
                      "NoC@90": float(np.mean([noc(r["ious"], 0.90) for r in runs])),
                      "gt": gt_scores, "fps": fps, "one_click": one,
                      "iou_at_clicks": [[round(v, 4) for v in r["ious"]] for r in runs]}
        for gaps in TRADE_OFF:  # how often propagation re-anchors: J&F against frames/s
            engine = LearnedEngine(engines["learned"].prompt_model, reanchor_gaps=gaps)
            row[f"gaps {gaps}"] = dict(zip(("gt", "fps"), propagate(engine, video, gt, lambda s: s.add_prompt(0, 1, mask=gt.get(0, 1)))))
            seconds[f"gaps {gaps}"] = seconds.get(f"gaps {gaps}", 0.0) + len(video) / row[f"gaps {gaps}"]["fps"]
        frames += len(video)
        rows[name] = row
        print(f"{name:16s} " + "  ".join(
            f"{e}: NoC@85 {row[e]['NoC@85']:.2f} GT J&F {row[e]['gt']['J&F']:.3f} one-click {row[e]['one_click']['J&F']:.3f} "
            f"{row[e]['fps']:.1f} f/s" for e in engines), flush=True)

    mean = {}
    for e, p in pooled.items():
        ready = np.array(p["ready_ms"]) if p["ready_ms"] else np.array([np.nan])
        mean[e] = {
            "clicked_frames": len(p["ious"]),
            "NoC@85": float(np.mean([noc(i, 0.85) for i in p["ious"]])),
            "NoC@90": float(np.mean([noc(i, 0.90) for i in p["ious"]])),
            **{f"IoU@{n}": float(np.mean([iou_after(i, n) for i in p["ious"]])) for n in (1, 3, 5)},
            "ready_p50": float(np.median(ready)), "ready_p95": float(np.percentile(ready, 95)),
            "fresh_p50": float(np.median(p["fresh_ms"])) if p["fresh_ms"] else None,
            "gt_J&F": float(np.mean([g["J&F"] for g in p["gt"]])), "gt_fps": frames / seconds[e],
            "one_click_J&F": float(np.mean([g["J&F"] for g in p["one_click"]])),
        }
    mean["fps_ratio"] = mean["learned"]["gt_fps"] / mean["classic"]["gt_fps"]
    mean["trade_off"] = [
        {"gaps": list(gaps), "gt_J&F": float(np.mean([rows[n][f"gaps {gaps}"]["gt"]["J&F"] for n in names])),
         "fps_ratio": frames / seconds[f"gaps {gaps}"] / mean["classic"]["gt_fps"]}
        for gaps in TRADE_OFF
    ]
    improved = sum(rows[n]["learned"]["one_click"]["J&F"] > rows[n]["classic"]["one_click"]["J&F"] for n in names)
    gt_improved = sum(rows[n]["learned"]["gt"]["J&F"] > rows[n]["classic"]["gt"]["J&F"] for n in names)
    result = {
        "command": "python " + " ".join(["benchmarks/bench_learned.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.processor() or platform.machine()}, {cv2.getNumberOfCPUs()} CPUs",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "sequences": rows, "mean": mean, "one_click_improved": int(improved), "gt_improved": int(gt_improved),
    }
    video, _ = vw.datasets.load_davis(root, names[0])
    result["cache"] = cache_bound(video)
    if not args.no_memory:
        length = 300 if args.quick else 2000
        result["memory"] = memory(length, (100, 1000, length) if length > 1000 else (100, length))
    write_report(result, args.out)
    print((args.out / "learned.md").read_text())
    return result


if __name__ == "__main__":
    main()
