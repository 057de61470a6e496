"""How long vw.metrics takes on the DAVIS 2016 dev set (../shared/data/davis2016-dev).

Evaluates every sequence's ground truth against a perturbed copy of itself (each mask
shifted by a few pixels and eroded or dilated, deterministically), so J and F are neither
trivially 1 nor 0, and times:

- evaluate()         DAVIS J and F per frame, statistics per sequence (the headline number);
- timeline_scores()  the player's per-frame J, and its ground-truth-free variant;
- consistency()      the temporal measures without optical flow.

Loading the PNGs and building the perturbed copies is timed separately and not counted.
Writes benchmarks/results/metrics.json and metrics.md.

    .venv/bin/python benchmarks/bench_metrics.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import vseg_widgets as vw

RESULTS = Path(__file__).resolve().parent / "results"


def perturb(gt: vw.MaskStore, seed: int = 0) -> vw.MaskStore:
    """A copy of ``gt`` with every mask shifted by up to 6 px and eroded or dilated by 2 px."""
    rng = np.random.default_rng(seed)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    pred = vw.MaskStore(gt.num_frames, gt.height, gt.width)
    for frame in gt.frames():
        for obj, mask in gt[frame].items():
            dy, dx = rng.integers(-6, 7, size=2)
            m = np.roll(mask, (int(dy), int(dx)), axis=(0, 1)).astype(np.uint8)
            m = cv2.erode(m, kernel) if rng.random() < 0.5 else cv2.dilate(m, kernel)
            pred.set(frame, obj, m.astype(bool))
    return pred


def timed(fn, repeat: int):
    """(best wall-clock seconds over ``repeat`` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    args = parser.parse_args()
    root = vw.datasets.find_davis(Path(__file__).resolve().parent)
    if root is None:
        sys.exit("../shared/data/davis2016-dev not found (set VSEG_DAVIS_ROOT): nothing to measure.")

    start = time.perf_counter()
    data = {seq: vw.datasets.load_davis(root, seq)[1] for seq in vw.datasets.davis_sequences(root)}
    load_s = time.perf_counter() - start
    preds = {seq: perturb(gt, seed=i) for i, (seq, gt) in enumerate(data.items())}
    frames = sum(gt.num_frames for gt in data.values())
    evaluated = sum(gt.num_frames - 2 for gt in data.values())

    def evaluate_all():
        return [vw.metrics.evaluate(preds[s], gt, sequence=s) for s, gt in data.items()]

    eval_s, results = timed(evaluate_all, args.repeat)
    timeline_gt_s, _ = timed(lambda: [vw.metrics.timeline_scores(preds[s], gt) for s, gt in data.items()], args.repeat)
    timeline_s, _ = timed(lambda: [vw.metrics.timeline_scores(preds[s]) for s in data], args.repeat)
    consistency_s, _ = timed(lambda: [vw.metrics.consistency(preds[s]) for s in data], args.repeat)

    objects = [r.objects for r in results]
    import pandas as pd

    table = pd.concat(objects, ignore_index=True)
    record = {
        "what": "vw.metrics on the DAVIS 2016 dev set: ground truth vs. a perturbed copy (shift <= 6 px, erode/dilate 2 px)",
        "command": "python benchmarks/bench_metrics.py",
        "sequences": len(data),
        "frames": frames,
        "frames_evaluated": evaluated,
        "resolution": f"{next(iter(data.values())).width}x{next(iter(data.values())).height}",
        "repeat": args.repeat,
        "seconds": {
            "evaluate": round(eval_s, 3),
            "timeline_scores_with_gt": round(timeline_gt_s, 3),
            "timeline_scores_without_gt": round(timeline_s, 3),
            "consistency_without_flow": round(consistency_s, 3),
            "load_png_annotations": round(load_s, 3),
        },
        "evaluate_ms_per_frame": round(1000 * eval_s / evaluated, 3),
        "perturbed_scores": {
            "J_mean": round(float(table["J_mean"].mean()), 4),
            "F_mean": round(float(table["F_mean"].mean()), 4),
            "JF_mean": round(float(table["JF_mean"].mean()), 4),
        },
        "machine": {
            "cpus_visible": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "platform": platform.platform(),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    s = record["seconds"]
    (RESULTS / "metrics.md").write_text(
        f"""# vw.metrics speed on the DAVIS 2016 dev set

`{record['command']}` (best of {args.repeat}; {record['machine']['cpus_visible']} CPUs visible, shared;
Python {record['machine']['python']}, NumPy {record['machine']['numpy']}, OpenCV {record['machine']['opencv']}).

{record['sequences']} sequences, {frames} frames at {record['resolution']}; {evaluated} evaluated
(DAVIS leaves out each sequence's first and last frame). Prediction: the ground truth
shifted by up to 6 px and eroded or dilated by 2 px (J&F {record['perturbed_scores']['JF_mean']:.3f}).

| measurement | seconds |
|---|---|
| `evaluate` (J, F, statistics), all sequences | **{s['evaluate']:.2f}** ({record['evaluate_ms_per_frame']:.2f} ms a frame) |
| `timeline_scores(pred, gt)` (per-frame J, on RLE) | {s['timeline_scores_with_gt']:.2f} |
| `timeline_scores(pred)` (IoU with previous frame) | {s['timeline_scores_without_gt']:.2f} |
| `consistency(pred)` (no optical flow) | {s['consistency_without_flow']:.2f} |
| loading the annotation PNGs (not counted above) | {s['load_png_annotations']:.2f} |
"""
    )
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
