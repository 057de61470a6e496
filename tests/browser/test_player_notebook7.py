"""The player in Notebook 7 (``jupyter notebook``): it draws, prompts and keeps its keys.

Notebook 7 is a different front end from JupyterLab (its own shell, command-mode key
bindings, page layout) built on the same notebook widgets, so the player must be checked
there too: the same notebook (playerkit.CELLS) as the JupyterLab test, a click on an
object, the mask in the kernel and on the canvas, and keys typed in the player that would
be notebook commands anywhere else.
"""

from __future__ import annotations

import pytest

from labkit import ARTIFACTS, Notebook, write_notebook
from playerkit import (
    CELLS, PLAYER,
    click_object_1, dbg, shown_player, player_colors, shown_frame, wait_for,
)

pytestmark = pytest.mark.browser

CELL = ".jp-Notebook .jp-Cell"


def test_player_in_notebook7(notebook7, nb_root, page):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 1400})  # the whole player below Notebook 7's header
    write_notebook(nb_root / "player.ipynb", CELLS)
    page.goto(f"{notebook7}/notebooks/player.ipynb")
    page.wait_for_selector(f"{CELL} .jp-InputArea-editor", timeout=90_000)
    expect(page.locator("#jp-NotebookLogo")).to_be_visible()  # Notebook 7's shell, not JupyterLab's
    assert page.locator("#jp-main-dock-panel .lm-DockPanel-tabBar").count() == 0
    nb = Notebook(page)
    nb.wait_for_kernel()
    nb.run(0)

    # -- the player draws frame 0 at the video's aspect ratio, fitted to the cell, themed
    player, box = shown_player(page)
    cell_box = page.locator(f"{CELL} .jp-OutputArea").first.bounding_box()
    assert box["x"] >= cell_box["x"] and box["x"] + box["width"] <= cell_box["x"] + cell_box["width"] + 1  # inside its cell
    corners = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in ((0.02, 0.02), (0.5, 0.5), (0.98, 0.98))]
    on_top = page.evaluate("(pts) => pts.map(([x, y]) => document.elementFromPoint(x, y)?.dataset.testid ?? null)", corners)
    assert on_top == ["vseg-canvas"] * 3, on_top  # nothing of Notebook 7's page covers the canvas
    background, text, status = player_colors(page)
    assert background > 0.8 and text < 0.3 and status < 0.6, (background, text, status)  # dark text on the light theme
    expect(page.locator("[data-testid=vseg-frame]")).to_contain_text("frame 0 / 23")
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text("Click")

    # -- click on object 1: the mask appears in Python and on the canvas
    state = click_object_1(page, nb, box)
    assert dbg(page, "d.overlayPixels") == state["areas0"]["1"]  # every mask pixel, nothing else
    ARTIFACTS.mkdir(exist_ok=True)
    player.evaluate("el => el.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(ARTIFACTS / "player-notebook7.png"))  # Notebook 7's page around the player

    # -- keys inside the player are the player's; none reaches Notebook 7's command mode
    cells_before = page.locator(CELL).count()
    code_before = page.locator(".jp-Notebook .jp-CodeCell").count()
    page.click("[data-testid=vseg-frame]")  # focuses the player (its root is focusable)
    assert page.evaluate(f"() => document.activeElement === document.querySelector('{PLAYER}')")
    page.keyboard.press("ArrowRight")
    assert shown_frame(page) == 1
    page.keyboard.press("Home")
    assert shown_frame(page) == 0
    # insert above/below, markdown, heading, cut, delete (d d), change to raw
    for key in ("a", "b", "m", "3", "x", "d", "d", "r"):
        page.keyboard.press(key)
    page.keyboard.press("Shift+Enter")  # run cell and advance, in either mode
    page.keyboard.press("Control+z")  # undo the click in the player, not a notebook undo
    wait_for(page, "d.errors.length === 0 && d.overlayPixels === 0")
    state = nb.probe(1)
    assert state["prompts"] == []  # the player's undo took back its click
    assert page.locator(CELL).count() == cells_before
    assert page.locator(".jp-Notebook .jp-CodeCell").count() == code_before
    assert page.locator(".jp-Notebook .jp-MarkdownCell, .jp-Notebook .jp-RawCell").count() == 0

    # -- changes from Python show in the player
    nb.run(2)
    expect(page.locator("[data-testid=vseg-frame]")).to_have_attribute("data-frame", "10", timeout=60_000)
    expect(page.locator("[data-testid=vseg-object-3]")).to_be_visible()
    wait_for(page, "d.overlayPixels > 100")

    # -- the same key outside the player is a notebook command (so the check above can fail)
    cells_now = page.locator(CELL).count()  # Shift+Enter on the last cell added one
    page.locator(f"{CELL} .jp-InputPrompt").nth(1).click()  # selects cell 1 in command mode
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    expect(page.locator(CELL)).to_have_count(cells_now + 1)
