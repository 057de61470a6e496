"""The confidence strip and the "next doubtful frame" jump in a real browser: JupyterLab +
headless Chromium. Object 2 of the synthetic video leaves the frame and comes back, so the
classic engine's confidence drops there; n, shift-n and the button must go where Python's
confidence says, and the threshold typed in the player must reach Python and move the jumps."""

from __future__ import annotations

import pytest

from labkit import ARTIFACTS, Notebook, write_notebook
from playerkit import PLAYER, dbg, shown_frame, shown_player, wait_for

pytestmark = pytest.mark.browser

T, H, W = 24, 240, 320

CELLS = [
    f"""import json
import numpy as np
import vseg_widgets as vw

video, gt = vw.datasets.synthetic(num_frames={T}, height={H}, width={W})
seg = vw.Segmenter(video, engine="classic")
for obj in (1, 2):
    seg.add_mask(0, obj, gt[0][obj])
seg.propagate("forward", progress=False)
seg""",
    """RUN = globals().get("RUN", 0) + 1
_thr = seg.player.doubt_threshold
_c = np.stack([seg.confidence(o) for o in seg.obj_ids])
_bad = (np.nan_to_num(_c, nan=1.0) < _thr).any(0)
print("PROBE " + json.dumps({
    "run": RUN,
    "frame": seg.frame,
    "threshold": _thr,
    "starts": [int(f) for f in range(len(_bad)) if _bad[f] and (f == 0 or not _bad[f - 1])],
    "strip": [None if c is None else round(c, 3) for c in seg.player.timeline["lanes"][1]["confidence"]],
}))""",
]


def strip_pixel(page, frame: int, lane: int) -> list[int]:
    """RGBA at the middle of ``frame``'s column on ``lane``'s confidence strip (timeline.ts geometry)."""
    return page.evaluate(
        """([f, lane, n]) => { const c = document.querySelector('[data-testid=vseg-timeline]');
             const dpr = c.width / c.clientWidth; const pitch = 16 + 3 + 1 + 8;
             const y = (3 + lane * pitch + 16 + 1 + 4) * dpr;
             return Array.from(c.getContext('2d').getImageData(Math.round((f + 0.5) / n * c.width), Math.round(y), 1, 1).data); }""",
        [frame, lane, T],
    )


def test_next_doubtful_frame_jumps_where_python_doubts(lab, lab_root, page):
    from playwright.sync_api import expect

    write_notebook(lab_root / "doubt.ipynb", CELLS)
    page.goto(f"{lab}/lab/tree/doubt.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=90_000)
    nb = Notebook(page)
    nb.wait_for_kernel()
    nb.run(0)
    player, _ = shown_player(page)
    state = nb.probe(1)
    starts = state["starts"]
    assert state["threshold"] == 0.5 and len(starts) >= 1, state  # object 2 leaves the frame: doubted there
    expect(page.locator("[data-testid=vseg-doubt-threshold]")).to_have_value("0.5")

    # -- the strip under object 2's lane is red where its confidence is below 0.5, grey where sure
    doubtful = next(f for f, c in enumerate(state["strip"]) if c is not None and c < 0.25 + 1e-6)
    red = strip_pixel(page, doubtful, 1)
    assert red[0] > red[1] + 40 and red[0] > red[2] + 40, red
    sure = next(f for f, c in enumerate(state["strip"]) if c is not None and c > 0.95)
    grey = strip_pixel(page, sure, 1)
    assert abs(grey[0] - grey[1]) < 30 and abs(grey[1] - grey[2]) < 30, grey

    # -- n: to the first doubtful run; the status line says which object and how sure; Python follows
    page.click("[data-testid=vseg-frame]")  # focus the player
    page.keyboard.press("n")
    expect(page.locator("[data-testid=vseg-frame]")).to_have_attribute("data-frame", str(starts[0]))
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text(f"Frame {starts[0]}: object")
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text("below 0.5")
    wait_for(page, f"d.doubtJumps.length === 1 && d.doubtJumps[0] === {starts[0]}")
    state = nb.probe(1)
    assert state["frame"] == starts[0]

    # -- the button: the next run (or round again to the first); shift-n: back
    page.click("[data-testid=vseg-next-doubt]")
    second = starts[1] if len(starts) > 1 else starts[0]
    expect(page.locator("[data-testid=vseg-frame]")).to_have_attribute("data-frame", str(second))
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("Shift+N")
    back = starts[0] if len(starts) > 1 else starts[-1]
    expect(page.locator("[data-testid=vseg-frame]")).to_have_attribute("data-frame", str(back))

    # -- a threshold of 0: nothing is below it; the player says so and stays; Python has it
    page.fill("[data-testid=vseg-doubt-threshold]", "0")
    page.press("[data-testid=vseg-doubt-threshold]", "Enter")
    page.locator("[data-testid=vseg-doubt-threshold]").dispatch_event("change")
    expect(page.locator("[data-testid=vseg-doubt-threshold]")).to_have_value("0")
    state = nb.probe(1)
    assert state["threshold"] == 0.0 and state["starts"] == []
    here = shown_frame(page)
    page.click("[data-testid=vseg-next-doubt]")
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text("No frame has a confidence below 0")
    assert shown_frame(page) == here
    grey_now = strip_pixel(page, doubtful, 1)  # no longer red: redrawn with the new threshold
    assert not (grey_now[0] > grey_now[1] + 40), grey_now
    assert dbg(page, "d.errors") == []
    ARTIFACTS.mkdir(exist_ok=True)
    player.screenshot(path=str(ARTIFACTS / "player-doubt.png"))
    assert page.locator(PLAYER).count() == 1
