"""Benchmark of the engines' per-(frame, object) confidence on the DAVIS 2016 dev sequences.

    .venv/bin/python benchmarks/bench_confidence.py            # ten sequences, four runs each (~30 min on 2 busy cores)
    .venv/bin/python benchmarks/bench_confidence.py --quick    # three sequences, classic only

Does the confidence tell where the masks went wrong? Protocol: the first frame's ground
truth is given as a mask (``add_mask``), the engine propagates forward, and every later
frame's mask is scored with DAVIS J (void pixels excluded). Pooled over the frames of all
sequences (frame 0, the prompt, left out), it reports per engine ("classic", and the
default "learned") and beside the existing consistency signals as baselines
(``iou_prev``: IoU with the previous frame's mask; ``flicker``: the frame is inside a
flicker event; ``review_order``'s ``sureness``, which folds the confidence and both):

- **AUC** of telling frames with J < 0.5 from frames with J >= 0.5 with (1 - signal)
  (0.5 = chance, 1 = every failed frame below every good one);
- **Spearman** rank correlation of the signal with J;
- **review efficiency**: the share of the J < 0.5 frames among the 10% least-confident
  frames (what a person finds by checking one frame in ten, worst first);
- **cost**: the time spent computing the confidence (the classic tracker's evidence and
  judge, and the Segmenter reading it), as a share of the propagation time, measured by
  timing those functions inside the same runs.

The same figures are given for each evidence term of the classic tracker alone
(:mod:`vseg_widgets.engines.classic.confidence`), and, for the learned engine, for a
one-click start (the standard clicker's first click instead of the ground-truth mask),
where the prompt model's predicted IoU caps the confidence of what is propagated.

With the ground-truth start both engines propagate with the same tracker, so their figures
agree; they differ only after clicks. Timings depend on the machine and its load; the cost
is a ratio measured within each run.
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
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import vseg_widgets as vw  # noqa: E402
from vseg_widgets import session as session_module  # noqa: E402
from vseg_widgets.engines.classic import confidence as confidence_module  # noqa: E402
from vseg_widgets.engines.classic import tracker as tracker_module  # noqa: E402
from vseg_widgets.metrics import jaccard, next_click  # noqa: E402

FAILED = 0.5  # J below this is a failed frame
REVIEW_SHARE = 0.10  # the share of frames a person checks
TERMS = list(confidence_module.RANGES) + ["trust"]


def auc(score, positive) -> float:
    """P(score of a random positive > score of a random negative), ties counted half
    (the Mann-Whitney statistic); NaN without both classes."""
    score = np.asarray(score, float)
    positive = np.asarray(positive, bool)
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def found_by_review(sureness, failed, share: float = REVIEW_SHARE) -> float:
    """Share of the failed frames among the ``share`` least sure ones (ties: earlier rows first)."""
    order = np.argsort(np.asarray(sureness, float), kind="stable")
    k = int(np.ceil(share * len(order)))
    failed = np.asarray(failed, bool)
    return float(failed[order[:k]].sum() / failed.sum()) if failed.any() else float("nan")


def summarise(table: pd.DataFrame, signal: str) -> dict:
    """AUC, Spearman and review efficiency of one column (high = sure) against J."""
    d = table[[signal, "J"]].astype(float).dropna()
    failed = d["J"] < FAILED
    return {
        "AUC": auc(-d[signal], failed),
        "spearman": float(d[signal].rank().corr(d["J"].rank())),  # Pearson of the ranks (no scipy)
        "found_in_10%": found_by_review(d[signal], failed),
        "frames": int(len(d)),
    }


class Timers:
    """Seconds spent in the confidence code, by wrapping it (benchmark only)."""

    def __init__(self):
        self.seconds = 0.0
        self.evidence: dict[tuple[int, int], object] = {}  # (frame, obj) -> Evidence, for the terms
        self._saved = []

    def __enter__(self):
        timers = self

        def timed(fn):
            def run(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    timers.seconds += time.perf_counter() - start
            return run

        judge_frame = confidence_module.Judge.frame

        def frame(judge, t, masks, tracks, cond, earlier, **kwargs):
            for o, track in tracks.items():
                if track.evidence is not None:
                    timers.evidence[(t, o)] = track.evidence
            return judge_frame(judge, t, masks, tracks, cond, earlier, **kwargs)

        patches = [
            (tracker_module, "evidence", timed(tracker_module.evidence)),
            (confidence_module.Judge, "frame", timed(frame)),
            (session_module.Segmenter, "_engine_confidence", timed(session_module.Segmenter._engine_confidence)),
        ]
        for owner, name, value in patches:
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)
        return self

    def __exit__(self, *exc):
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)


def run(engine_name: str, video, gt, start: str) -> tuple[pd.DataFrame, float, float]:
    """Prompt frame 0 (``start``: "gt" mask or "click"), propagate forward; per-frame table
    (frame, J, confidence, iou_prev, flicker, sureness, evidence terms), propagation
    seconds and confidence seconds."""
    seg = vw.Segmenter(video, engine=engine_name)
    truth = gt.get(0, 1)
    with Timers() as timers:
        if start == "gt":
            seg.add_mask(0, 1, truth)
        else:
            (x, y), _ = next_click(np.zeros_like(truth), truth)
            seg.add_points(0, 1, [(x, y)], [1])
        timers.seconds = 0.0  # the prompt is not propagation
        report = seg.propagate("forward", progress=False)
    table = vw.metrics.review_order(seg, per="object").sort_values("frame").set_index("frame")
    rows = []
    for t in range(1, len(video)):
        row = {"frame": t, "J": jaccard(seg.masks.get(t, 1), gt.get(t, 1), gt.void(t)),
               **table.loc[t, ["confidence", "iou_prev", "flicker", "sureness"]].to_dict()}
        ev = timers.evidence.get((t, 1))
        for term in TERMS:
            row[term] = getattr(ev, term) if ev is not None else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out["flicker"] = 1.0 - out["flicker"].astype(float)  # high = sure, like the others
    return out, report.seconds, timers.seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--sequences", nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="three sequences, the classic engine only")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    root = args.root or vw.datasets.find_davis(REPO)
    if root is None:
        sys.exit("DAVIS dev data not found: expected ../shared/data/davis2016-dev (or set VSEG_DAVIS_ROOT).")
    names = args.sequences or vw.datasets.davis_sequences(root)
    if args.quick and not args.sequences:
        names = names[:3]
    runs = [("classic", "gt")] if args.quick else [("classic", "gt"), ("learned", "gt"), ("classic", "click"), ("learned", "click")]

    tables: dict[str, list[pd.DataFrame]] = {}
    cost: dict[str, dict] = {}
    per_sequence: dict[str, dict] = {}
    for name in names:
        video, gt = vw.datasets.load_davis(root, name)
        for engine, start in runs:
            key = f"{engine}, {'first-frame GT' if start == 'gt' else 'one click'}"
            table, prop_s, conf_s = run(engine, video, gt, start)
            table.insert(0, "sequence", name)
            tables.setdefault(key, []).append(table)
            c = cost.setdefault(key, {"propagation_s": 0.0, "confidence_s": 0.0, "frames": 0})
            c["propagation_s"] += prop_s
            c["confidence_s"] += conf_s
            c["frames"] += len(video)
            failed = table["J"] < FAILED
            per_sequence.setdefault(name, {})[key] = {
                "frames": int(len(table)), "J_mean": float(table["J"].mean()), "failed": int(failed.sum()),
                "confidence_mean": float(table["confidence"].mean()),
                "AUC": auc(-table["confidence"], failed), "confidence_s": conf_s, "propagation_s": prop_s,
            }
            print(f"{name:16s} {key:28s} J {table['J'].mean():.3f}  failed {int(failed.sum()):3d}  "
                  f"AUC {per_sequence[name][key]['AUC']:.3f}  cost {100 * conf_s / prop_s:.2f}%", flush=True)

    results = {}
    for key, parts in tables.items():
        pooled = pd.concat(parts, ignore_index=True)
        signals = {"confidence": "confidence", "review_order sureness": "sureness", "iou_prev": "iou_prev", "flicker": "flicker"}
        results[key] = {
            "frames": int(len(pooled)), "failed": int((pooled["J"] < FAILED).sum()),
            "signals": {label: summarise(pooled, col) for label, col in signals.items()},
            "cost": {**cost[key], "share": cost[key]["confidence_s"] / cost[key]["propagation_s"]},
        }
        if key.startswith("classic, first"):
            results[key]["terms"] = {term: summarise(pooled, term) for term in TERMS}
    result = {
        "command": "python " + " ".join(["benchmarks/bench_confidence.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.processor() or platform.machine()}, {cv2.getNumberOfCPUs()} CPUs",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "protocol": "frame 0 prompted (ground-truth mask, or the standard clicker's first click), propagate forward; "
                    f"pooled over frames 1..N-1; failed = J < {FAILED}",
        "results": results, "sequences": per_sequence,
    }
    write_report(result, args.out)
    print((args.out / "confidence.md").read_text())
    return result


def write_report(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "confidence.json").write_text(json.dumps(result, indent=2, default=float))
    lines = [
        "# Confidence: does it tell where the masks went wrong? (DAVIS 2016 dev)",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; {result['date']}",
        "",
        f"Protocol: {result['protocol']}. AUC of (1 - signal) for telling failed frames from the others;",
        "Spearman of the signal with J; the share of the failed frames found by checking the 10% least sure",
        "frames; the cost of computing the confidence as a share of propagation time (same runs).",
        "",
        "| run | frames | failed | signal | AUC | Spearman | found in 10% |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for key, r in result["results"].items():
        for k, (label, s) in enumerate(r["signals"].items()):
            head = f"| {key} | {r['frames']} | {r['failed']} |" if k == 0 else "| | | |"
            bold = "**" if label == "confidence" else ""
            lines.append(f"{head} {bold}{label}{bold} | {bold}{s['AUC']:.3f}{bold} | {s['spearman']:.3f} | {s['found_in_10%']:.2f} |")
    lines += ["", "| run | propagation (s) | confidence (s) | cost |", "|---|---:|---:|---:|"]
    for key, r in result["results"].items():
        c = r["cost"]
        lines.append(f"| {key} | {c['propagation_s']:.1f} | {c['confidence_s']:.2f} | {100 * c['share']:.2f}% |")
    terms = next((r["terms"] for r in result["results"].values() if "terms" in r), None)
    if terms:
        lines += ["", "Each evidence term of the classic tracker alone (first-frame GT; NaN rows left out):", "",
                  "| term | AUC | Spearman | found in 10% |", "|---|---:|---:|---:|"]
        for term, s in terms.items():
            lines.append(f"| {term} | {s['AUC']:.3f} | {s['spearman']:.3f} | {s['found_in_10%']:.2f} |")
    keys = list(result["results"])
    lines += ["", "Per sequence (confidence AUC; NaN where no frame failed):", "",
              "| sequence | " + " | ".join(f"{k}: J / failed / AUC" for k in keys) + " |",
              "|---|" + "---:|" * len(keys)]
    for name, row in result["sequences"].items():
        cells = [f"{row[k]['J_mean']:.3f} / {row[k]['failed']} / {row[k]['AUC']:.2f}" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (out / "confidence.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
