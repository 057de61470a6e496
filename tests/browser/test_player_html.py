"""The standalone HTML player (``seg.to_html``) in a real browser, opened from file://.

No kernel and no server: the page must draw the frames, play to the end, draw the kernel's
masks exactly (checked pixel by pixel on sample frames), show and hide objects, show the
labels and the timeline, refuse edits politely, and fetch nothing from the network.
"""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

import vseg_widgets as vw
from labkit import ARTIFACTS
from playerkit import CLICK, H, OBJ2_BOX_0, PLAYER, T, W, dbg, shown_frame, shown_player, to_client, wait_for

pytestmark = pytest.mark.browser

SAMPLE_FRAMES = (5, 13, T - 1)  # no prompt drawn there (the prompts are on frame 0)
LABEL = "ellipse </script><b>"  # a label that would break a naive page


@pytest.fixture(scope="module")
def session():
    video, _gt = vw.datasets.synthetic(num_frames=T, height=H, width=W)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_points(0, 1, [CLICK])
    seg.add_box(0, 2, OBJ2_BOX_0)
    seg.set_label(1, LABEL)
    seg.propagate(progress=False)
    assert seg.masks.frames(1) == list(range(T))
    return seg


def _canvas(page) -> np.ndarray:
    """The canvas's pixels, (H, W, 3) uint8 (the canvas is the video's size)."""
    b64 = page.evaluate(
        """() => { const c = document.querySelector('[data-testid=vseg-canvas]');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let s = ''; for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode.apply(null, d.subarray(i, i + 8192));
                   return btoa(s); }"""
    )
    return np.frombuffer(base64.b64decode(b64), np.uint8).reshape(H, W, 4)[..., :3]


def _show(page, frame: int) -> None:
    page.locator("[data-testid=vseg-slider]").fill(str(frame))
    wait_for(page, f"el.querySelector('[data-testid=vseg-frame]').dataset.frame === '{frame}'")
    page.wait_for_timeout(150)  # the frame's JPEG decodes asynchronously
    wait_for(page, "d.draws > 0")


def test_html_player_from_file(session, tmp_path, page):
    from playwright.sync_api import expect

    seg = session
    out = seg.to_html(tmp_path / "session.html", max_width=240, quality=70, progress=False)
    assert out.size_bytes == (tmp_path / "session.html").stat().st_size and out.frame_width == 240

    outside = []  # every request that is not the file itself or data held in the page
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else outside.append(r.url))
    page.goto((tmp_path / "session.html").as_uri())
    player, box = shown_player(page)
    expect(page.locator("[data-testid=vseg-frame]")).to_contain_text(f"frame 0 / {T - 1}")
    expect(page.locator("[data-testid=vseg-status]")).to_contain_text("Read-only player")
    expect(page.locator("[data-testid=vseg-timeline]")).to_be_visible()
    # read-only: the editing controls are not there; the label shows, and cannot be typed into
    for testid in ("vseg-propagate", "vseg-add-object", "vseg-undo", "vseg-tool-brush", "vseg-remove-1"):
        expect(page.locator(f"[data-testid={testid}]")).to_be_hidden()
    label = page.locator("[data-testid=vseg-label-1]")
    expect(label).to_have_value(LABEL)
    assert label.evaluate("el => el.readOnly")

    # -- play from the first frame to the last at the video's rate
    page.click("[data-testid=vseg-play]")
    wait_for(page, f"el.querySelector('[data-testid=vseg-frame]').dataset.frame === '{T - 1}'", timeout=60_000)
    expect(page.locator("[data-testid=vseg-play]")).to_have_text("▶")
    assert dbg(page, "d.playTimes.length") >= T - 2
    assert dbg(page, "d.maskFrames.length") >= T
    ARTIFACTS.mkdir(exist_ok=True)
    player.screenshot(path=str(ARTIFACTS / "player-html.png"))

    # -- the timeline: object 1's lane painted across the video
    lane = page.evaluate(
        """() => { const c = document.querySelector('[data-testid=vseg-timeline]'); const ctx = c.getContext('2d');
                   const y = Math.round(c.height * 0.25);
                   return [0.05, 0.5, 0.95].map(f => ctx.getImageData(Math.round(c.width * f), y, 1, 1).data[3]); }"""
    )
    assert all(a > 0 for a in lane), lane

    # -- the drawn masks are the kernel's: per pixel, opacity 1, on sample frames
    page.locator("[data-testid=vseg-opacity]").fill("1")
    objects = [o["id"] for o in seg.player.objects]
    colors = {o["id"]: np.array([int(o["color"][i : i + 2], 16) for i in (1, 3, 5)], np.uint8) for o in seg.player.objects}
    for frame in SAMPLE_FRAMES:
        page.select_option("[data-testid=vseg-overlay]", "off")
        _show(page, frame)
        bare = _canvas(page)
        page.select_option("[data-testid=vseg-overlay]", "filled")
        wait_for(page, "d.overlayPixels > 0")
        drawn = _canvas(page)
        expected = np.zeros((H, W), np.int32)  # the player fills objects in list order: the last one wins
        for obj in objects:
            m = seg.masks.get(frame, obj)
            if m is not None:
                expected[m] = obj
        got = np.zeros((H, W), np.int32)
        unknown = np.zeros((H, W), bool)  # where the frame itself has an object's colour: undecidable
        for obj in objects:
            got[(drawn == colors[obj]).all(-1)] = obj
            unknown |= (bare == colors[obj]).all(-1)
        assert unknown.sum() < 0.001 * H * W, unknown.sum()
        wrong = (got != expected) & ~unknown
        assert wrong.sum() == 0, (frame, int(wrong.sum()), int((expected > 0).sum()))
        assert dbg(page, "d.overlayPixels") == sum(seg.masks.area(frame, o) for o in objects if (frame, o) in seg.masks)

    # -- hiding object 1 leaves object 2's mask alone on the canvas
    frame = SAMPLE_FRAMES[0]
    _show(page, frame)
    page.click("[data-testid=vseg-visible-1]")
    expect(page.locator("[data-testid=vseg-object-1]")).to_have_class(re.compile("vseg-hidden"))
    wait_for(page, f"d.overlayPixels === {seg.masks.area(frame, 2)}")
    page.click("[data-testid=vseg-visible-1]")
    wait_for(page, f"d.overlayPixels === {seg.masks.area(frame, 1) + seg.masks.area(frame, 2)}")
    page.select_option("[data-testid=vseg-overlay]", "contour")
    wait_for(page, f"d.overlayPixels > 0 && d.overlayPixels < {seg.masks.area(frame, 1) + seg.masks.area(frame, 2)} / 3")

    # -- keys step and seek; an edit (a click on the frame, p) is refused with a message
    page.click("[data-testid=vseg-frame]")
    page.keyboard.press("Home")
    assert shown_frame(page) == 0
    page.keyboard.press("Shift+ArrowRight")
    assert shown_frame(page) == 10
    page.keyboard.press("p")
    status = page.locator("[data-testid=vseg-status]")
    expect(status).to_contain_text("Read-only export")
    expect(status).to_have_attribute("data-kind", "error")
    box = page.locator("[data-testid=vseg-canvas]").bounding_box()
    page.mouse.click(*to_client(box, *CLICK))
    wait_for(page, "d.errors.length === 2")
    assert all(e.startswith("Read-only export") for e in dbg(page, "d.errors"))
    assert outside == []
    assert page.locator(PLAYER).count() == 1
