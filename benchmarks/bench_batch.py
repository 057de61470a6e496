"""Benchmark of vw.batch.evaluate_davis: the DAVIS dev set serially, then on a LocalCluster.

    .venv/bin/python benchmarks/bench_batch.py              # the ten dev sequences, classic engine
    .venv/bin/python benchmarks/bench_batch.py --frames 10  # the first 10 frames of each (a quick look)

In one run, on the same sequences and engine:

1. **Serial**: one process, one sequence after the other, with the public API only
   (``vw.datasets.load_davis``, ``vw.Segmenter`` with the first frame's ground-truth masks,
   ``propagate("forward")``, ``vw.metrics.evaluate``): what a person writes without Dask.
2. **LocalCluster**: ``vw.batch.evaluate_davis`` on ``vw.batch.local_cluster(--workers)``
   (2 single-threaded worker processes, as ``client=None`` starts them), started before the
   clock of the batch runs (its start is reported on its own).

Reported, and written to benchmarks/results/batch.md and batch.json:

- wall time of each, and the speed-up (serial wall / cluster wall), also counting the
  cluster's start;
- the overhead per video: worker time not spent on a video,
  ``(cluster wall x workers - sum of per-video seconds on the workers) / videos``, which
  holds scheduling, sending tasks and results, the workers' first imports and engine
  builds, and workers idle at the end while the last videos finish;
- per-video seconds serially and on a worker (two workers share the machine's cores, and on
  a loaded machine with everything else);
- whether the frames and objects tables are identical (every float, bit for bit): to the
  serial run above, and to a serial run in a process with the workers' math-library threads
  (Dask starts workers with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1; numpy's
  BLAS splits large sums differently with more threads, which moves a few pixels late in
  long sequences). That second run checks that distributing changes nothing; it is not timed.

Timings depend on the machine and its load: compare figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import vseg_widgets as vw  # noqa: E402
from vseg_widgets.batch.evaluate_davis import first_frames  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def serial(root, names, engine: str, max_frames: int | None):
    """(frames table, objects table, {sequence: seconds}, wall seconds) one sequence after the other."""
    frames, objects, seconds = [], [], {}
    start = time.perf_counter()
    built = vw.engines.get_engine(engine)  # one engine for all, as a worker has
    for name in names:
        tick = time.perf_counter()
        video, gt = vw.datasets.load_davis(root, name)
        if max_frames is not None and max_frames < len(video):
            video = first_frames(video, max_frames)
            short = vw.MaskStore(max_frames, gt.height, gt.width)
            for f in range(max_frames):
                for o in gt.objects(f):
                    short.set_rle(f, o, gt.rle(f, o))
                if gt.void(f) is not None:
                    short.set_void(f, gt.void(f))
            gt = short
        seg = vw.Segmenter(video, engine=built)
        for obj in gt.objects(0):
            if gt.area(0, obj):
                seg.add_mask(0, obj, gt.get(0, obj))
        seg.propagate("forward", progress=False)
        ev = vw.metrics.evaluate(seg.masks, gt, fps=video.fps, sequence=name)
        frames.append(ev.frames)
        objects.append(ev.objects)
        seconds[name] = time.perf_counter() - tick
        print(f"  serial {name}: {seconds[name]:.1f} s", flush=True)
    wall = time.perf_counter() - start
    return pd.concat(frames, ignore_index=True), pd.concat(objects, ignore_index=True), seconds, wall


def on_cluster(root, names, engine: str, max_frames: int | None, workers: int):
    """(BatchEvaluation, cluster start seconds, batch wall seconds, engines built per worker)."""
    from distributed import Client

    from vseg_widgets.batch.engines import builds

    start = time.perf_counter()
    with vw.batch.local_cluster(workers) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        started = time.perf_counter() - start
        tick = time.perf_counter()
        ev = vw.batch.evaluate_davis(root, names, engine=engine, client=client, max_frames=max_frames, progress=False)
        wall = time.perf_counter() - tick
        built = client.run(builds)
    return ev, started, wall, built


WORKER_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def serial_like_workers(names, args) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The serial tables from a fresh process with the workers' thread settings."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--serial-only", tmp, "--engine", args.engine, "--sequences", *names]
        if args.frames:
            cmd += ["--frames", str(args.frames)]
        subprocess.run(cmd, check=True, env={**os.environ, **WORKER_THREADS})
        return pd.read_pickle(Path(tmp) / "frames.pkl"), pd.read_pickle(Path(tmp) / "objects.pkl")


def differences(reference: pd.DataFrame, frames: pd.DataFrame, names) -> dict:
    """{sequence: first differing frame and largest |J difference|} where the tables differ."""
    out = {}
    for name in names:
        a = reference[reference["sequence"] == name].reset_index(drop=True)
        b = frames[frames["sequence"] == name].reset_index(drop=True)
        if not a.equals(b):
            dj = (a["J"] - b["J"]).abs() if len(a) == len(b) else pd.Series([np.inf])
            out[name] = {"first_frame": int(a["frame"][dj > 0].min()) if (dj > 0).any() else None, "max_abs_dJ": float(dj.max())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serial-only", default=None, help=argparse.SUPPRESS)  # the check run, into this folder
    parser.add_argument("--frames", type=int, default=None, help="evaluate only the first N frames of each sequence")
    parser.add_argument("--sequences", nargs="*", default=None)
    parser.add_argument("--engine", default="classic")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    root = vw.datasets.find_davis(REPO)
    if root is None:
        sys.exit("DAVIS dev set not found: put it at ../shared/data/davis2016-dev or set VSEG_DAVIS_ROOT.")
    names = args.sequences or vw.datasets.davis_sequences(root)
    if args.serial_only:
        frames, objects, _, _ = serial(root, names, args.engine, args.frames)
        frames.to_pickle(Path(args.serial_only) / "frames.pkl")
        objects.to_pickle(Path(args.serial_only) / "objects.pkl")
        return
    print(f"{len(names)} sequences, engine {args.engine}, frames {args.frames or 'all'}", flush=True)

    s_frames, s_objects, s_seconds, s_wall = serial(root, names, args.engine, args.frames)
    print(f"serial: {s_wall:.1f} s", flush=True)
    ev, started, c_wall, built = on_cluster(root, names, args.engine, args.frames, args.workers)
    print(f"cluster: start {started:.1f} s, batch {c_wall:.1f} s", flush=True)
    print("serial again, with the workers' thread settings (not timed)", flush=True)
    w_frames, w_objects = serial_like_workers(names, args)

    failed = ev.videos[ev.videos["status"] == "failed"]
    ok_objects = ev.objects[ev.objects["error"].isna()].drop(columns="error").reset_index(drop=True)
    ok_objects = ok_objects.astype({"obj_id": "int64", "frames": "int64"})
    identical = failed.empty and ev.frames.equals(s_frames) and ok_objects.equals(s_objects)
    identical_threads = failed.empty and ev.frames.equals(w_frames) and ok_objects.equals(w_objects)
    worker_seconds = dict(zip(ev.videos["sequence"], ev.videos["seconds"]))
    frames_total = int(sum(ev.videos["frames"]))
    overhead = (c_wall * args.workers - sum(worker_seconds.values())) / len(names)
    result = {
        "command": "python benchmarks/bench_batch.py" + (f" --frames {args.frames}" if args.frames else ""),
        "machine": f"{platform.machine()}, {vw.batch.cluster.cores()} CPUs",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "engine": args.engine,
        "sequences": names,
        "frames": frames_total,
        "workers": args.workers,
        "serial_wall_s": s_wall,
        "cluster_start_s": started,
        "cluster_wall_s": c_wall,
        "speedup": s_wall / c_wall,
        "speedup_with_start": s_wall / (c_wall + started),
        "overhead_per_video_s": overhead,
        "serial_seconds_median": float(np.median(list(s_seconds.values()))),
        "worker_seconds_median": float(np.median(list(worker_seconds.values()))),
        "per_sequence": {n: {"serial_s": s_seconds[n], "worker_s": worker_seconds[n]} for n in names},
        "engines_built_per_worker": {w: sum(v.values()) for w, v in built.items()},
        "identical_to_serial_same_threads": bool(identical_threads),
        "differing_same_threads": differences(w_frames, ev.frames, names),
        "identical_to_serial_default_threads": bool(identical),
        "differing_default_threads": differences(s_frames, ev.frames, names),
        "failed": failed["sequence"].tolist(),
        "JF_mean": float(ev.summary["JF_mean"]),
    }
    write(result)
    print(json.dumps({k: v for k, v in result.items() if k != "per_sequence"}, indent=1))


def _differ(r: dict) -> str:
    if r["identical_to_serial_default_threads"]:
        return "yes"
    d = r["differing_default_threads"]
    worst = max(v["max_abs_dJ"] for v in d.values())
    first = min((v["first_frame"] for v in d.values() if v["first_frame"] is not None), default=None)
    return f"{len(d)} sequences differ ({', '.join(d)}), from frame {first} on, max abs J difference {worst:.1e}"


def write(r: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "batch.json").write_text(json.dumps(r, indent=1) + "\n")
    rows = "\n".join(f"| {n} | {v['serial_s']:.1f} | {v['worker_s']:.1f} |" for n, v in r["per_sequence"].items())
    md = f"""# vw.batch.evaluate_davis: serial against a LocalCluster

Command: `{r['command']}`  
Machine: {r['machine']}; {r['date']}. The machine is shared: figures are of this run only.

The DAVIS dev sequences ({len(r['sequences'])}, {r['frames']} frames), engine `{r['engine']}`:
first-frame ground truth, propagate forward, DAVIS J and F. Serially in one process, then
`vw.batch.evaluate_davis` on a LocalCluster of {r['workers']} single-threaded worker processes.

| figure | value |
|---|---:|
| serial wall time | {r['serial_wall_s']:.1f} s |
| LocalCluster start | {r['cluster_start_s']:.1f} s |
| LocalCluster wall time (batch) | {r['cluster_wall_s']:.1f} s |
| speed-up (serial / cluster) | {r['speedup']:.2f} x |
| speed-up counting the cluster's start | {r['speedup_with_start']:.2f} x |
| overhead per video: (wall x workers - video seconds) / videos | {r['overhead_per_video_s']:.2f} s |
| per-video seconds, median: serial / on a worker | {r['serial_seconds_median']:.1f} / {r['worker_seconds_median']:.1f} |
| engines built per worker | {', '.join(str(v) for v in r['engines_built_per_worker'].values())} |
| tables identical to serial with the workers' thread settings (bit for bit) | {'yes' if r['identical_to_serial_same_threads'] else 'NO: ' + str(r['differing_same_threads'])} |
| tables identical to the serial run timed above (default threads) | {_differ(r)} |
| J&F mean | {r['JF_mean']:.3f} |

| sequence | serial s | on a worker s |
|---|---:|---:|
{rows}
"""
    (RESULTS / "batch.md").write_text(md)


if __name__ == "__main__":
    main()
