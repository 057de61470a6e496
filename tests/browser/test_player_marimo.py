"""The player in marimo (``marimo run``), through marimo's own anywidget support.

marimo renders an anywidget in its own front end (a shadow root per widget, its own
transport for traits and custom messages with binary buffers), so the player is checked
there too: a click on an object, the mask in the kernel and on the canvas, propagation
from the player's button (masks streamed from a kernel thread), playback, and the frame
synced back to Python. The kernel's state is read through a marimo button whose cell
prints it. Page helpers go through Playwright locators, which see into shadow roots
(``document.querySelector`` does not).
"""

from __future__ import annotations

import json
import textwrap

import pytest

from conftest import require_browser
from labkit import ARTIFACTS, marimo_server
from playerkit import CLICK, H, INSIDE, OUTSIDE, PLAYER, T, TAB10_BLUE, W, to_client

pytestmark = pytest.mark.browser

APP = '''
import marimo

app = marimo.App(width="medium")


@app.cell
def _():
    import json
    import marimo as mo
    import numpy as np
    import vseg_widgets as vw

    video, gt = vw.datasets.synthetic(num_frames={T}, height={H}, width={W})
    seg = vw.Segmenter(video)
    {show}
    return gt, json, mo, seg


@app.cell
def _(mo):
    probe = mo.ui.button(label="probe", value=0, on_click=lambda v: v + 1)
    probe
    return (probe,)


@app.cell
def _(gt, json, mo, probe, seg):
    _m = seg.masks.get(0, 1)
    mo.plain_text("PROBE " + json.dumps({{
        "run": probe.value,
        "frame": seg.frame,
        "prompts": [[p.frame, p.obj_id, p.kind] for p in seg.prompts],
        "mask_frames": {{str(o): seg.masks.frames(o) for o in seg.masks.obj_ids}},
        "iou0": None if _m is None else float((_m & gt[0][1]).sum() / (_m | gt[0][1]).sum()),
        "inside": None if _m is None else bool(_m[{INSIDE[1]}, {INSIDE[0]}]),
        "outside": None if _m is None else bool(_m[{OUTSIDE[1]}, {OUTSIDE[0]}]),
    }}))
    return
'''


def write_app(path, show: str) -> None:
    path.write_text(textwrap.dedent(APP).format(T=T, H=H, W=W, INSIDE=INSIDE, OUTSIDE=OUTSIDE, show=show))


class Player:
    """The player on a marimo page, through locators (it lives in a shadow root)."""

    def __init__(self, page):
        self.page = page
        self.root = page.locator(PLAYER)

    def wait_for(self, expr: str, timeout: float = 60_000) -> None:
        """Wait until ``expr`` holds, with ``d`` = the debug figures and ``el`` = the root."""
        self.page.wait_for_function(
            f"el => {{ const d = el.vsegDebug; return !!d && ({expr}); }}", arg=self.root.element_handle(), timeout=timeout
        )

    def dbg(self, expr: str):
        return self.root.evaluate(f"el => {{ const d = el.vsegDebug; return {expr}; }}")

    def pixel(self, x: int, y: int) -> list[int]:
        return self.root.evaluate(
            "(el, [x, y]) => Array.from(el.querySelector('[data-testid=vseg-canvas]').getContext('2d').getImageData(x, y, 1, 1).data)",
            [x, y],
        )

    def frame(self) -> int:
        return int(self.page.locator("[data-testid=vseg-frame]").get_attribute("data-frame"))


def probe(page, run: int) -> dict:
    """Click the probe button and return the kernel's state its cell prints."""
    page.get_by_role("button", name="probe").click()
    out = page.locator("pre", has_text=f'PROBE {{"run": {run},')
    out.wait_for(timeout=60_000)
    return json.loads(out.inner_text().split("PROBE ", 1)[1])


@pytest.fixture
def marimo_home(tmp_path):
    require_browser("marimo")
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_player_in_marimo(marimo_home, tmp_path, page):
    from playwright.sync_api import expect

    write_app(tmp_path / "app.py", "player = mo.ui.anywidget(seg.player)\n    player")
    with marimo_server(tmp_path / "app.py", marimo_home) as url:
        page.goto(url)
        player = Player(page)
        expect(player.root).to_be_visible(timeout=120_000)
        player.wait_for("d.draws > 0")
        box = page.locator("[data-testid=vseg-canvas]").bounding_box()
        assert abs(box["width"] / box["height"] - W / H) < 0.02 and box["width"] > 1.5 * W
        expect(page.locator("[data-testid=vseg-frame]")).to_contain_text(f"frame 0 / {T - 1}")
        assert probe(page, 1)["prompts"] == []

        # -- click on object 1: the mask in the kernel and blended into the canvas
        before_in, before_out = player.pixel(*INSIDE), player.pixel(*OUTSIDE)
        page.mouse.click(*to_client(box, *CLICK))
        player.wait_for("d.clickLatencies.length >= 1")
        state = probe(page, 2)
        assert state["prompts"] == [[0, 1, "points"]]
        assert state["iou0"] > 0.8 and state["inside"] is True and state["outside"] is False, state
        after_in = player.pixel(*INSIDE)
        expected = [0.5 * b + 0.5 * c for b, c in zip(before_in[:3], TAB10_BLUE)]  # filled, opacity 0.5
        assert all(abs(a - e) <= 3 for a, e in zip(after_in[:3], expected)), (before_in, after_in)
        assert player.pixel(*OUTSIDE) == before_out

        # -- propagate with the button: masks stream in from the kernel's thread, every frame gets one
        page.click("[data-testid=vseg-propagate]")
        expect(page.locator("[data-testid=vseg-status]")).to_contain_text("Propagated", timeout=120_000)
        assert player.dbg("d.maskBytes.length") >= T
        assert probe(page, 3)["mask_frames"]["1"] == list(range(T))

        # -- play from the start to the last frame; Python follows
        page.click("[data-testid=vseg-step-back]")  # stops following the propagation head
        page.locator("[data-testid=vseg-slider]").fill("0")
        page.click("[data-testid=vseg-play]")
        player.wait_for(f"el.querySelector('[data-testid=vseg-frame]').dataset.frame === '{T - 1}'")
        expect(page.locator("[data-testid=vseg-play]")).to_have_text("▶")
        assert player.dbg("d.playTimes.length") >= T - 2
        assert player.dbg("d.overlayPixels") > 100  # the last frame's mask drawn
        ARTIFACTS.mkdir(exist_ok=True)
        player.root.screenshot(path=str(ARTIFACTS / "player-marimo.png"))
        page.wait_for_timeout(300)  # the frame trait is synced at most every 200 ms
        assert probe(page, 4)["frame"] == T - 1

        # -- keys inside the player are the player's
        page.click("[data-testid=vseg-frame]")
        page.keyboard.press("Home")
        assert player.frame() == 0
        page.keyboard.press("Shift+ArrowRight")
        assert player.frame() == 10
        assert player.dbg("d.errors") == []


def test_segmenter_shown_directly_in_marimo(marimo_home, tmp_path, page):
    """``seg`` as a cell's last expression is the player in marimo too (marimo turns the widget
    mime bundle of Segmenter._repr_mimebundle_ into its own anywidget view)."""
    from playwright.sync_api import expect

    write_app(tmp_path / "app.py", "seg")
    with marimo_server(tmp_path / "app.py", marimo_home) as url:
        page.goto(url)
        player = Player(page)
        expect(player.root).to_be_visible(timeout=120_000)
        player.wait_for("d.draws > 0")
        box = page.locator("[data-testid=vseg-canvas]").bounding_box()
        page.mouse.click(*to_client(box, *CLICK))
        player.wait_for("d.clickLatencies.length >= 1 && d.overlayPixels > 100")
        assert probe(page, 1)["prompts"] == [[0, 1, "points"]]
