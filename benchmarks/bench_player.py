"""Speed of the player in headless Chromium on a 480p video; figures go to benchmarks/results/.

    .venv/bin/python benchmarks/bench_player.py            # DAVIS 2016 dev when present, else synthetic
    .venv/bin/python benchmarks/bench_player.py --synthetic

Measured in the browser (the player's own ``vsegDebug`` figures), through JupyterLab and
the real kernel, with the classic engine:

- playback frames/s once frames are cached (second pass over the video), and while frames
  still stream from the kernel (first pass); the draw time of one frame;
- click -> mask drawn latency (pointer up to the canvas showing the new mask: comm round
  trip, engine, encoding, decoding and drawing), median and p95, next to the engine's own time;
- bytes sent per frame: JPEG frames, and masks ("runs-v1", all objects of a frame).

Writes ``benchmarks/results/player.json`` and ``player.md``. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

import vseg_widgets as vw  # noqa: E402
from labkit import Notebook, chromium, jupyterlab, missing_requirements, write_notebook  # noqa: E402
from playerkit import dbg, wait_for  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
PLAY_FPS = 60  # playback target for the capacity measurement (the requirement is >= 30)
CLICKS = 20


def source_cell(use_davis: bool) -> tuple[str, str, "vw.MaskStore"]:
    """(code that defines video and gt in the kernel, a description, the same gt here)."""
    root = vw.datasets.find_davis(REPO)
    if use_davis and root is not None:
        seq = "bear" if "bear" in vw.datasets.davis_sequences(root) else vw.datasets.davis_sequences(root)[0]
        code = f"video, gt = vw.datasets.load_davis({str(root)!r}, {seq!r})"
        _, gt = vw.datasets.load_davis(root, seq)
        return code, f"DAVIS 2016 '{seq}' (480p)", gt
    code = "video, gt = vw.datasets.synthetic(num_frames=60, height=480, width=854, fps=30)"
    _, gt = vw.datasets.synthetic(num_frames=60, height=480, width=854, fps=30)
    return code, "synthetic 854x480, 60 frames", gt


def stats(values) -> dict:
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return {"n": 0}
    return {
        "n": int(v.size),
        "mean": round(float(v.mean()), 2),
        "median": round(float(np.median(v)), 2),
        "p95": round(float(np.percentile(v, 95)), 2),
        "min": round(float(v.min()), 2),
        "max": round(float(v.max()), 2),
    }


def play_through(page, n: int) -> dict:
    """Seek to 0, play to the end; frames/s from the times frames were shown."""
    page.locator("[data-testid=vseg-slider]").fill("0")
    wait_for(page, "el.querySelector('[data-testid=vseg-frame]').dataset.frame === '0'")
    page.click("[data-testid=vseg-play]")
    wait_for(page, f"el.querySelector('[data-testid=vseg-frame]').dataset.frame === '{n - 1}' && "
             "el.querySelector('[data-testid=vseg-play]').textContent === '▶'")
    times = dbg(page, "d.playTimes")
    draw = dbg(page, "d.drawMs")
    fps = (len(times) - 1) / ((times[-1] - times[0]) / 1000) if len(times) > 1 else float("nan")
    return {"frames_shown": len(times), "fps": round(fps, 1), "draw_ms": stats(draw)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic 480p video even when DAVIS is present")
    parser.add_argument("--headed", action="store_true", help="show the browser")
    args = parser.parse_args()
    if missing := missing_requirements():
        sys.exit("cannot run: " + "; ".join(missing))

    code, description, gt = source_cell(not args.synthetic)
    n = gt.num_frames
    clicks = []  # (frame, x, y) on object 1, at its centroid
    for f in np.linspace(0, n - 1, CLICKS).round().astype(int):
        m = gt.get(int(f), 1)
        if m is not None and m.any():
            ys, xs = np.nonzero(m)
            clicks.append((int(f), float(xs.mean()), float(ys.mean())))
    cells = [
        f"""import json
import numpy as np
import vseg_widgets as vw
{code}
seg = vw.Segmenter(video)
seg.player.cache_mb = 512   # the whole video fits: the second pass plays from the cache
seg.player.fps = {PLAY_FPS}  # play faster than the video's rate to measure capacity
seg""",
        # engine time of each prompted frame (read before propagating, which overwrites it)
        """RUN = 1
_df = seg.to_dataframe()
print("PROBE " + json.dumps({"run": RUN, "engine_ms": {int(r.frame): r.engine_ms for r in _df[_df.source == "prompt"].itertuples()},
                             "frames_with_masks": len(seg.masks.frames()), "fps": video.fps,
                             "size": [video.width, video.height]}))""",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root, home = Path(tmp) / "root", Path(tmp) / "home"
        root.mkdir()
        write_notebook(root / "bench.ipynb", cells)
        with jupyterlab(root, home) as url, chromium(headless=not args.headed) as browser:
            page = browser.new_context(viewport={"width": 1280, "height": 1100}).new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}/lab/tree/bench.ipynb")
            nb = Notebook(page)
            nb.wait_for_kernel()
            nb.run(0)
            wait_for(page, "d.draws > 0")
            canvas_w = page.locator("[data-testid=vseg-canvas]").bounding_box()["width"]

            first = play_through(page, n)  # frames stream from the kernel as they are needed
            cached = play_through(page, n)  # all in the browser's cache now

            box = page.locator("[data-testid=vseg-canvas]").bounding_box()
            W, H = gt.width, gt.height
            for k, (f, x, y) in enumerate(clicks):
                page.locator("[data-testid=vseg-slider]").fill(str(f))
                wait_for(page, f"el.querySelector('[data-testid=vseg-frame]').dataset.frame === '{f}'")
                page.mouse.click(box["x"] + x * box["width"] / W, box["y"] + y * box["height"] / H)
                wait_for(page, f"d.clickLatencies.length >= {k + 1} || d.errors.length > 0")
            latencies = dbg(page, "d.clickLatencies")
            errors = dbg(page, "d.errors")
            probe = nb.probe(1)
            engine = [probe["engine_ms"][str(f)] for f, _, _ in clicks]

            started = time.perf_counter()
            page.click("[data-testid=vseg-propagate]")
            page.wait_for_function(
                "() => /Propagated|cancelled/.test(document.querySelector('[data-testid=vseg-status]').textContent)",
                timeout=600_000,
            )
            propagate_s = time.perf_counter() - started
            frame_bytes = dbg(page, "d.frameBytes")
            mask_bytes = [b for b in dbg(page, "d.maskBytes") if b > 0]
            frames_with_masks = dbg(page, "new Set(d.maskFrames).size")
            chromium_version = browser.version

    result = {
        "video": description,
        "size": probe["size"],
        "frames": n,
        "video_fps": probe["fps"],
        "browser": f"headless Chromium {chromium_version} (/usr/bin/chromium, --disable-gpu)",
        "machine": f"{platform.machine()}, {platform.system()}, shared 2-core development machine",
        "canvas_css_width": round(canvas_w),
        "playback": {
            "target_fps": PLAY_FPS,
            "cached": cached,
            "first_pass_streaming": first,
        },
        "click_to_mask_ms": stats(latencies),
        "engine_ms_per_click": stats(engine),
        # what the player adds to the engine: comm both ways, encoding, decoding, drawing
        "player_overhead_ms_per_click": stats(np.subtract(latencies, engine)) if len(latencies) == len(engine) else None,
        "click_errors": errors,
        "bytes_per_frame": {
            "jpeg_quality": 85,
            "jpeg": stats(frame_bytes),
            "masks_runs_v1": stats(mask_bytes),
            "raw_rgb": probe["size"][0] * probe["size"][1] * 3,
        },
        "propagate_wall_s": round(propagate_s, 2),
        "frames_with_masks_in_browser": frames_with_masks,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "player.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "player.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    pb, lat, eng, by = r["playback"], r["click_to_mask_ms"], r["engine_ms_per_click"], r["bytes_per_frame"]
    return f"""# Player speed

{r["video"]}, {r["size"][0]}x{r["size"][1]}, {r["frames"]} frames; {r["browser"]}; {r["machine"]};
player {r["canvas_css_width"]} CSS px wide. Reproduce: `.venv/bin/python benchmarks/bench_player.py`.

| figure | value |
| --- | --- |
| playback, frames cached (target {pb["target_fps"]} fps) | **{pb["cached"]["fps"]} frames/s** ({pb["cached"]["frames_shown"]} frames) |
| playback, first pass streaming from the kernel | {pb["first_pass_streaming"]["fps"]} frames/s |
| draw time of one frame (image + overlay + prompts), median / p95 | {pb["cached"]["draw_ms"].get("median")} / {pb["cached"]["draw_ms"].get("p95")} ms |
| click -> mask drawn, median / p95 ({lat.get("n")} clicks) | **{lat.get("median")} / {lat.get("p95")} ms** |
| of which the classic engine (its own timing), median / p95 | {eng.get("median")} / {eng.get("p95")} ms |
| of which the player (click latency - engine, per click), median / p95 | {(r["player_overhead_ms_per_click"] or {}).get("median")} / {(r["player_overhead_ms_per_click"] or {}).get("p95")} ms |
| JPEG bytes per frame (quality {by["jpeg_quality"]}), median / max | {by["jpeg"].get("median")} / {by["jpeg"].get("max")} (raw RGB: {by["raw_rgb"]}) |
| mask bytes per frame ("runs-v1", all objects), median / max | {by["masks_runs_v1"].get("median")} / {by["masks_runs_v1"].get("max")} |
| propagate {r["frames"]} frames, button to "Propagated" | {r["propagate_wall_s"]} s |

Measured {r["when"]}.
"""


if __name__ == "__main__":
    main()
