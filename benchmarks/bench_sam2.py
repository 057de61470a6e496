"""Speed and memory of the SAM 2 engine (vseg_widgets.engines.sam2) on a synthetic 480p video.

    .venv-sam2/bin/python benchmarks/bench_sam2.py                       # random tiny, auto device
    .venv-sam2/bin/python benchmarks/bench_sam2.py --model large --checkpoint sam2.1_hiera_large.pt

Needs the ``[sam2]`` extra (``make install-sam2``). Without ``--checkpoint`` the model is
built from sam2's own config with random weights (seeded): the masks mean nothing, but the
work per frame -- image encoder, memory attention, memory encoder, mask decoder -- is the
same as with the official weights, so frames/s and memory are those a user would see.

Measures, on an 854x480 synthetic video, through ``Segmenter`` as a user drives it:
``init_session`` (warm-up on frame 0), the latency of a click, propagation frames/s with
``--objects`` objects (the first frame's ground-truth masks as prompts), and peak memory
(CUDA: ``torch.cuda.max_memory_allocated``; otherwise the process's peak RSS). Writes
``--out``.json and .md (default ``benchmarks/results/sam2``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import vseg_widgets as vw  # noqa: E402
from vseg_widgets.engines import sam2 as sam2_engine  # noqa: E402


def build_engine(args) -> sam2_engine.SAM2:
    if args.checkpoint:
        return sam2_engine.SAM2(model=args.model, checkpoint=args.checkpoint, device=args.device)
    from sam2.build_sam import build_sam2_video_predictor

    device = sam2_engine.pick_device(args.device)
    torch.manual_seed(0)
    config = sam2_engine._config_name(args.model)
    predictor = build_sam2_video_predictor(config, ckpt_path=None, device=str(device), hydra_overrides_extra=sam2_engine.HYDRA_OVERRIDES)
    return sam2_engine.SAM2(predictor=predictor, offload_video_to_cpu=args.offload, offload_state_to_cpu=args.offload)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny", help="tiny, small, base_plus or large")
    parser.add_argument("--checkpoint", default=None, help="local .pt file (default: random weights)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--objects", type=int, default=2)
    parser.add_argument("--offload", action="store_true", help="offload_video_to_cpu and offload_state_to_cpu")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/sam2"))
    args = parser.parse_args()

    video, gt = vw.datasets.synthetic(num_frames=args.frames, height=480, width=854, num_objects=args.objects)
    engine = build_engine(args)
    device = engine.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    tick = time.perf_counter()
    seg = vw.Segmenter(video, engine=engine)
    sync(device)
    init_s = time.perf_counter() - tick

    ys, xs = np.nonzero(gt.get(0, 1))
    tick = time.perf_counter()
    seg.add_points(0, 1, [(float(xs.mean()), float(ys.mean()))])
    sync(device)
    click_ms = 1000 * (time.perf_counter() - tick)
    for obj in range(2, args.objects + 1):
        seg.add_mask(0, obj, gt.get(0, obj))

    tick = time.perf_counter()
    report = seg.propagate("forward", progress=False)
    sync(device)
    seconds = time.perf_counter() - tick

    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        peak_what = "CUDA max_memory_allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_what = "process peak RSS"
    result = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"{device.type} ({platform.processor() or platform.machine()})",
        "model": args.model,
        "weights": args.checkpoint or "random (seed 0)",
        "video": f"{args.frames} frames, 854x480 synthetic",
        "objects": args.objects,
        "offload": args.offload,
        "autocast_bf16": engine.autocast,
        "init_session_s": round(init_s, 2),
        "click_ms": round(click_ms, 1),
        "propagated_frames": report.frames,
        "frames_per_s": round(report.frames / seconds, 2),
        "peak_memory_mib": round(peak, 1),
        "peak_memory_is": peak_what,
        "torch": torch.__version__,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# SAM 2 engine speed", "", "| measure | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in result.items()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
