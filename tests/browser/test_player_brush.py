"""The brush and eraser in a real browser: paint a stroke, see the mask change in Python,
erase part of it, undo; label an object in the object list. JupyterLab + headless Chromium."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from labkit import ARTIFACTS, Notebook, write_notebook
from playerkit import PLAYER, TAB10_BLUE, canvas_pixel, dbg, shown_player, to_client, wait_for

pytestmark = pytest.mark.browser

T, H, W = 12, 240, 320  # the frame size playerkit's to_client maps to


def _free_segment(radius: int = 15, length: int = 90):
    """A horizontal stroke (y, x0, x1) on frame 0 whose brush footprint touches no object."""
    _, gt = vw.datasets.synthetic(num_frames=T, height=H, width=W)
    anything = np.zeros((H, W), np.uint8)
    for m in gt[0].values():
        anything |= m.astype(np.uint8)
    k = 2 * (radius + 6) + 1
    free = cv2.erode(1 - anything, np.ones((k, k), np.uint8)).astype(bool)
    m = radius + 4  # clear of the frame's edges too; the eraser reaches 2 r past the stroke's end
    free[:m, :] = free[-m:, :] = free[:, :m] = free[:, -(3 * radius + 4) :] = False
    for y in range(H):
        run = 0
        for x in range(W):
            run = run + 1 if free[y, x] else 0
            if run > length:
                return y + 0.5, x - length + 0.5, x + 0.5
    raise AssertionError("no free stroke on frame 0")


Y, X0, X1 = _free_segment()

CELLS = [
    f"""import hashlib, json
import numpy as np
import vseg_widgets as vw

video, gt = vw.datasets.synthetic(num_frames={T}, height={H}, width={W})
seg = vw.Segmenter(video, engine="classic")
seg""",
    f"""RUN = globals().get("RUN", 0) + 1
_m = seg.masks.get(0, 1)
print("PROBE " + json.dumps({{
    "run": RUN,
    "tool": seg.player.tool,
    "brush_size": seg.player.brush_size,
    "scope": seg.player.scope,
    "prompts": [[p.frame, p.obj_id, p.kind] for p in seg.prompts],
    "area": None if _m is None else int(_m.sum()),
    "sha": None if _m is None else hashlib.sha1(_m.tobytes()).hexdigest(),
    "row": None if _m is None else np.nonzero(_m[{int(Y)}])[0].tolist(),
    "cols": None if _m is None else [np.nonzero(_m[:, x])[0].tolist() for x in ({int(X0)}, {int((X0 + X1) / 2)}, {int(X1)})],
    "labels": {{str(k): v for k, v in seg.labels.items()}},
}}))""",
]


def _drag(page, points, steps=6):
    """Press, move through ``points`` (frame pixels) and release on the canvas, wherever the
    page has scrolled it to (running a cell scrolls the notebook)."""
    canvas = page.locator("[data-testid=vseg-canvas]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(*to_client(box, *points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*to_client(box, *p), steps=steps)
    page.mouse.up()


def test_brush_erase_undo_and_label(lab, lab_root, page):
    from playwright.sync_api import expect

    write_notebook(lab_root / "brush.ipynb", CELLS)
    page.goto(f"{lab}/lab/tree/brush.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=90_000)
    nb = Notebook(page)
    nb.wait_for_kernel()
    nb.run(0)
    player, box = shown_player(page)
    expect(page.locator("[data-testid=vseg-scope]")).to_have_value("next_prompt")  # corrections stick by default

    # -- b: the brush; ] and [ change its size (a radius in frame pixels)
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("b")
    expect(page.locator("[data-testid=vseg-tool-brush]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text("Brush")
    expect(page.locator("[data-testid=vseg-brush-value]")).to_have_text("12 px")
    page.keyboard.press("]")
    expect(page.locator("[data-testid=vseg-brush-value]")).to_have_text("15 px")
    page.keyboard.press("]")
    page.keyboard.press("[")
    expect(page.locator("[data-testid=vseg-brush-value]")).to_have_text("15 px")
    r = 15

    # -- paint a stroke on the background: object 1's mask on frame 0, in Python at once
    before = canvas_pixel(page, int((X0 + X1) / 2), int(Y))
    _drag(page, [(X0, Y), ((X0 + X1) / 2, Y), (X1, Y)])
    wait_for(page, "d.strokes >= 1 && d.clickLatencies.length >= 1")
    state = nb.probe(1)
    assert (state["tool"], state["brush_size"], state["scope"]) == ("brush", r, "next_prompt")
    assert state["prompts"] == [[0, 1, "mask"]]
    row = state["row"]  # the stroke's centre line, from the first point to the last, round caps of r
    assert abs(row[0] - (X0 - r)) <= 2 and abs(row[-1] - (X1 + r)) <= 2 and len(row) == row[-1] - row[0] + 1, row
    for col in state["cols"]:  # 2 r tall across the middle of the stroke, full resolution
        assert abs(len(col) - 2 * r) <= 2 and abs((col[0] + col[-1]) / 2 - Y) <= 1.5, col
    expected_area = (X1 - X0) * 2 * r + np.pi * r * r
    assert abs(state["area"] - expected_area) / expected_area < 0.06, (state["area"], expected_area)
    painted = state
    after = canvas_pixel(page, int((X0 + X1) / 2), int(Y))  # the overlay shows the new mask
    blend = [0.5 * b + 0.5 * c for b, c in zip(before[:3], TAB10_BLUE)]
    assert all(abs(a - e) <= 3 for a, e in zip(after[:3], blend)), (before, after, blend)

    # -- e: the eraser; erase the stroke's right half (running the probe cell took the focus)
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("e")
    expect(page.locator("[data-testid=vseg-tool-eraser]")).to_have_attribute("aria-pressed", "true")
    xm = (X0 + X1) / 2
    _drag(page, [(xm + r + 2, Y), (X1 + 2 * r, Y)])  # same radius, along the same line: covers its height
    wait_for(page, "d.strokes >= 2 && d.clickLatencies.length >= 2")
    state = nb.probe(1)
    assert state["prompts"] == [[0, 1, "mask"], [0, 1, "mask"]]
    row = state["row"]
    assert row[0] == painted["row"][0] and row[-1] < xm + 4, row  # the right half is gone
    assert state["area"] < painted["area"] * 0.75 and state["cols"][2] == []

    # -- undo: exactly the painted mask again
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("Control+z")
    wait_for(page, "d.maskFrames.length >= 3")
    state = nb.probe(1)
    assert state["prompts"] == [[0, 1, "mask"]] and state["sha"] == painted["sha"]

    # -- v: back to clicks; a label typed into the object list reaches Python
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("v")
    expect(page.locator("[data-testid=vseg-tool-click]")).to_have_attribute("aria-pressed", "true")
    label = page.locator("[data-testid=vseg-label-1]")
    label.fill("person")
    label.press("Enter")
    expect(page.locator("[data-testid=vseg-object-1]")).to_have_attribute("title", "object 1 (person) (key 1)")
    state = nb.probe(1)
    assert state["labels"] == {"1": "person"}
    assert dbg(page, "d.errors") == []
    ARTIFACTS.mkdir(exist_ok=True)
    player.screenshot(path=str(ARTIFACTS / "player-brush.png"))
