"""The player in a real browser: JupyterLab + headless Chromium, driven like a person would.

The notebook is playerkit.CELLS. The test clicks, propagates, plays and types in the player
and checks both the canvas pixels and what the kernel sees.
"""

from __future__ import annotations

import json
import re

import pytest

from labkit import ARTIFACTS, Notebook, write_notebook
from playerkit import (
    CELLS, CLICK, CUT, OBJ2_BOX_0, PLAYER, T,
    click_object_1, dbg, shown_player, player_colors, shown_frame, timeline_pixel_at_frame, to_client, wait_for,
)

pytestmark = pytest.mark.browser


def test_player_end_to_end(lab, lab_root, page):
    from playwright.sync_api import expect

    write_notebook(lab_root / "player.ipynb", CELLS)
    page.goto(f"{lab}/lab/tree/player.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=90_000)
    nb = Notebook(page)
    nb.wait_for_kernel()
    nb.run(0)

    # -- the player appears and draws frame 0 at the video's aspect ratio, fitted to the cell
    player, box = shown_player(page)
    expect(page.locator("[data-testid=vseg-frame]")).to_contain_text("frame 0 / 23")
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text("Click")

    # -- click on object 1: the mask appears in Python and on the canvas
    state = click_object_1(page, nb, box)
    assert state["df_rows"] == 1 and state["df_prompt_rows"] == 1
    assert dbg(page, "d.overlayPixels") > 100

    # -- propagate with the button: masks stream in, every frame gets one
    page.click("[data-testid=vseg-propagate]")
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text("Propagated", timeout=120_000)
    state = nb.probe(1)
    assert state["mask_frames"]["1"] == list(range(T))
    assert state["timeline_present"]["1"] == [[0, T]]
    assert dbg(page, "d.maskBytes.length") >= T  # streamed frame by frame, not reloaded at the end
    # the timeline lane of object 1 is painted over the whole video
    tl = page.locator("[data-testid=vseg-timeline]").bounding_box()
    lane = page.evaluate(
        """() => { const c = document.querySelector('[data-testid=vseg-timeline]');
                   const ctx = c.getContext('2d'); const y = Math.round(c.height * 0.5);
                   return [0.05, 0.5, 0.95].map(f => Array.from(ctx.getImageData(Math.round(c.width * f), y, 1, 1).data)); }"""
    )
    assert tl["height"] > 10 and all(px[3] > 0 for px in lane), lane

    # -- the timeline seeks where it is clicked
    # (a locator click: running the probe cell may have scrolled the timeline under Lab's toolbar)
    page.locator("[data-testid=vseg-timeline]").click(position={"x": tl["width"] * (12.5 / T), "y": tl["height"] / 2})
    expect(page.locator("[data-testid=vseg-frame]")).to_have_attribute("data-frame", "12")

    # -- play: frames advance at the video's rate until the last one; Python follows
    page.click("[data-testid=vseg-step-back]")  # stops any follow-the-head movement, frame settles
    page.locator("[data-testid=vseg-slider]").fill("0")
    page.click("[data-testid=vseg-play]")
    wait_for(page, f"el.querySelector('[data-testid=vseg-frame]').dataset.frame === '{T - 1}'", timeout=60_000)
    expect(page.locator("[data-testid=vseg-play]")).to_have_text("▶")  # paused at the end
    assert dbg(page, "d.playTimes.length") >= T - 2
    ARTIFACTS.mkdir(exist_ok=True)
    player.screenshot(path=str(ARTIFACTS / "player.png"))
    state = nb.probe(1)
    assert state["frame"] == T - 1

    # -- keyboard inside the player; the notebook must not see the keys
    cells_before = page.locator(".jp-Notebook .jp-Cell").count()
    page.click("[data-testid=vseg-frame]")  # focuses the player (its root is focusable)
    assert page.evaluate(f"() => document.activeElement === document.querySelector('{PLAYER}')")
    page.keyboard.press("ArrowLeft")
    assert shown_frame(page) == T - 2
    page.keyboard.press("Shift+ArrowLeft")
    assert shown_frame(page) == T - 12
    page.keyboard.press("ArrowRight")
    assert shown_frame(page) == T - 11
    page.keyboard.press("Home")
    assert shown_frame(page) == 0
    page.click("[data-testid=vseg-add-object]")
    expect(page.locator("[data-testid=vseg-object-2]")).to_be_visible()
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("1")
    expect(page.locator("[data-testid=vseg-object-1] .vseg-obj-pick")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("2")
    expect(page.locator("[data-testid=vseg-object-2] .vseg-obj-pick")).to_have_attribute("aria-pressed", "true")
    # notebook commands in command mode: insert cells, markdown, heading, paste (b and v are the
    # player's brush and click tools too: v leaves the player on clicks)
    for key in ("a", "b", "m", "3", "v"):
        page.keyboard.press(key)
    page.focus("[data-testid=vseg-undo]")  # space is play/pause even on a focused button
    page.keyboard.press(" ")
    expect(page.locator("[data-testid=vseg-play]")).to_have_text("❚❚")
    page.keyboard.press(" ")
    expect(page.locator("[data-testid=vseg-play]")).to_have_text("▶")
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells_before
    assert page.locator(".jp-Notebook .jp-CodeCell").count() == cells_before
    page.keyboard.press("Control+z")  # undo the click (the only prompt: an error if space had undone it)
    wait_for(page, "d.maskFrames.length > 0 && d.errors.length === 0")
    state = nb.probe(1)
    assert state["prompts"] == [] and state["selected"] == 2 and state["objects"] == [1, 2]
    assert dbg(page, "d.errors") == []  # one undo, of the one prompt
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("p")  # nothing left to propagate: an error in the status line
    status = page.locator("[data-testid=vseg-status]")
    expect(status).to_contain_text("nothing to propagate")
    expect(status).to_have_attribute("data-kind", "error")
    page.keyboard.press("Escape")  # cancel with nothing running is harmless

    # -- changes from Python show in the player
    nb.run(2)
    expect(page.locator("[data-testid=vseg-frame]")).to_have_attribute("data-frame", "10", timeout=60_000)
    expect(page.locator("[data-testid=vseg-object-3]")).to_be_visible()
    wait_for(page, "d.overlayPixels > 100")
    expect(page.locator("[data-testid=vseg-timeline]")).to_be_visible()
    page.wait_for_function(
        "([f, n]) => { const c = document.querySelector('[data-testid=vseg-timeline]');"
        " const p = c.getContext('2d').getImageData(Math.round(f / n * c.width), 1, 1, 1).data;"
        " return p[0] === 127 && p[1] === 127 && p[2] === 127 && p[3] === 255; }",
        arg=[CUT, T], timeout=30_000,
    )  # the shot cut shown from Python: a grey line across the lanes at its frame
    assert timeline_pixel_at_frame(page, CUT - 3)[3] == 0  # nothing drawn in the gap elsewhere

    # -- seg.reset() from Python: the player starts afresh where it is
    nb.run(3)
    expect(page.locator("[data-testid=vseg-objects] .vseg-obj")).to_have_count(1, timeout=60_000)
    expect(page.locator("[data-testid=vseg-object-1] .vseg-obj-pick")).to_have_attribute("aria-pressed", "true")
    wait_for(page, "d.overlayPixels === 0")
    expect(page.locator("[data-testid=vseg-status]")).to_have_text(re.compile("^Click"), timeout=15_000)  # no "Propagated"
    assert shown_frame(page) == 10


def test_player_dark_theme_and_overlay_modes(lab, lab_root, lab_home, page):
    """JupyterLab Dark: the player takes the theme's colours; contour and off overlays draw."""
    from playwright.sync_api import expect

    themes = lab_home / "settings" / "@jupyterlab" / "apputils-extension"
    themes.mkdir(parents=True, exist_ok=True)
    (themes / "themes.jupyterlab-settings").write_text(json.dumps({"theme": "JupyterLab Dark"}))
    write_notebook(lab_root / "dark.ipynb", CELLS[:2])
    page.goto(f"{lab}/lab/tree/dark.ipynb?reset")  # a fresh layout: only this notebook open
    nb = Notebook(page)
    nb.wait_for_kernel()
    expect(page.locator("body[data-jp-theme-light=false]")).to_have_count(1)
    nb.run(0)
    wait_for(page, "d.draws > 0")

    colors = player_colors(page)
    background, text, status = colors
    assert background < 0.3 and text > 0.6 and status > 0.4, colors  # light text on a dark player

    box = page.locator("[data-testid=vseg-canvas]").bounding_box()
    page.mouse.click(*to_client(box, *CLICK))
    # The mask and the new object's entry in the object list are two messages: the filled
    # overlay shows once both are in.
    wait_for(page, "d.clickLatencies.length >= 1 && d.overlayPixels > 0")
    filled = dbg(page, "d.overlayPixels")
    page.select_option("[data-testid=vseg-overlay]", "contour")
    wait_for(page, f"d.overlayPixels > 0 && d.overlayPixels < {filled} / 3")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(PLAYER).screenshot(path=str(ARTIFACTS / "player-dark-contour.png"))
    page.select_option("[data-testid=vseg-overlay]", "off")
    wait_for(page, "d.overlayPixels === 0")

    # a drag draws a box prompt for the selected (new) object
    page.click("[data-testid=vseg-add-object]")
    expect(page.locator("[data-testid=vseg-object-2] .vseg-obj-pick")).to_have_attribute("aria-pressed", "true")
    x0, y0, x1, y1 = OBJ2_BOX_0
    page.mouse.move(*to_client(box, x0, y0))
    page.mouse.down()
    page.mouse.move(*to_client(box, (x0 + x1) / 2, (y0 + y1) / 2), steps=4)
    page.mouse.move(*to_client(box, x1, y1), steps=4)
    page.mouse.up()
    wait_for(page, "d.clickLatencies.length >= 2")
    state = nb.probe(1)
    frame, obj, kind, _, _ = state["prompts"][-1]
    assert (frame, obj, kind) == (0, 2, "box")
    assert "2" in state["mask_frames"] and state["mask_frames"]["2"] == [0]

    # hiding object 1 leaves only object 2's mask on the canvas
    areas = state["areas0"]
    page.select_option("[data-testid=vseg-overlay]", "filled")
    wait_for(page, f"d.overlayPixels === {areas['1'] + areas['2']}")  # every mask pixel, each object
    page.click("[data-testid=vseg-visible-1]")
    expect(page.locator("[data-testid=vseg-object-1]")).to_have_class(re.compile("vseg-hidden"))
    wait_for(page, f"d.overlayPixels === {areas['2']}")
