"""How big a standalone HTML player (``seg.to_html``) is, and how long writing it takes.

Two sessions, each propagated with the default engine, then written with the default options
(max_width=854, quality=80) and with smaller and larger ones:

- the quickstart's: the synthetic video (48 frames, 320x240), a click on object 1 and a box
  on object 2 on frame 0, propagated both ways (notebooks/01_quickstart.ipynb);
- a DAVIS sequence of 50 frames at 854x480 (``blackswan``), its first frame's ground-truth
  mask as the prompt, propagated forward.

Writes benchmarks/results/html_size.json and html_size.md.

    .venv/bin/python benchmarks/bench_html_size.py
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import vseg_widgets as vw

RESULTS = Path(__file__).resolve().parent / "results"
SEQUENCE = "blackswan"  # 50 frames, 854x480
OPTIONS = [  # (max_width, quality); the first is the default
    (854, 80),
    (640, 70),
    (480, 60),
    (None, 90),
]


def quickstart() -> vw.Segmenter:
    video, _ = vw.datasets.synthetic()
    seg = vw.Segmenter(video)
    seg.add_points(frame=0, obj_id=1, points=[(90, 120)], labels=[1])
    seg.add_box(frame=0, obj_id=2, box=(195, 45, 305, 195))
    seg.propagate(direction="both", progress=False)
    return seg


def davis(root: Path) -> vw.Segmenter:
    video, gt = vw.datasets.load_davis(root, SEQUENCE)
    seg = vw.Segmenter(video)
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.propagate("forward", progress=False)
    return seg


def measure(seg, folder: Path, name: str) -> list[dict]:
    rows = []
    for max_width, quality in OPTIONS:
        start = time.perf_counter()
        out = seg.to_html(folder / f"{name}-{max_width}-{quality}.html", max_width=max_width, quality=quality, progress=False)
        rows.append({
            "max_width": max_width, "quality": quality, "file_bytes": out.size_bytes, "frames_bytes": out.frames_bytes,
            "masks_bytes": out.masks_bytes, "player_bytes": out.player_bytes, "jpeg_size": f"{out.frame_width}x{out.frame_height}",
            "bytes_per_frame": round(out.size_bytes / out.num_frames), "write_s": round(time.perf_counter() - start, 2),
        })
    return rows


def main() -> None:
    root = vw.datasets.find_davis(Path(__file__).resolve().parent)
    if root is None:
        sys.exit("DAVIS not found: put it at ../shared/data/davis2016-dev or set VSEG_DAVIS_ROOT.")
    results = {"python": platform.python_version(), "vseg_widgets": vw.__version__, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (("quickstart, 48 frames 320x240", quickstart), (f"DAVIS {SEQUENCE}, 50 frames 854x480", lambda: davis(root))):
            seg = make()
            results["runs"][name] = {"frames": len(seg.video), "objects": len(seg.obj_ids), "engine": seg.engine_name,
                                     "options": measure(seg, Path(tmp), name.split(",")[0].replace(" ", "_"))}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "html_size.json").write_text(json.dumps(results, indent=1))
    lines = [
        "# Size of a standalone HTML player (`seg.to_html`)",
        "",
        f"`python benchmarks/bench_html_size.py` (Python {results['python']}). Every mask of every frame, at full",
        "resolution; the frames as JPEG at the given width and quality; all of it base64 in one file.",
        "",
        "| session | max_width, quality | JPEG size | file | per frame | frames | masks | player | write |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in results["runs"].items():
        for i, r in enumerate(run["options"]):
            opts = f"{r['max_width']}, {r['quality']}" + (" (default)" if i == 0 else "")
            lines.append(
                f"| {name}, {run['objects']} object(s) | {opts} | {r['jpeg_size']} | **{r['file_bytes'] / 1e6:.2f} MB** | "
                f"{r['bytes_per_frame'] / 1e3:.1f} KB | {r['frames_bytes'] / 1e6:.2f} MB | {r['masks_bytes'] / 1e3:.0f} KB | "
                f"{r['player_bytes'] / 1e3:.0f} KB | {r['write_s']:.2f} s |"
            )
    (RESULTS / "html_size.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
