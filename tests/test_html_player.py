"""seg.to_html: the standalone player's page and its data (the browser test plays it)."""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.errors import ExportFormatError, ExportTooLargeError, OutputPathError, PlayerBundleError
from vseg_widgets.exports import html_player
from vseg_widgets.exports.html_player import FORMAT, read_page_data
from vseg_widgets.transport import decode_mask

T = 12


@pytest.fixture(scope="module")
def seg():
    video, _ = vw.datasets.synthetic(num_frames=T)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_points(0, 1, [(90, 120)])
    seg.add_box(0, 2, (195, 45, 305, 195))
    seg.propagate(progress=False)
    seg.set_label(2, "square")
    return seg


def _jpeg(b64: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)


def test_page_holds_the_session(seg, tmp_path):
    out = seg.to_html(tmp_path / "s.html", progress=False)
    assert out.path == tmp_path / "s.html" and out.size_bytes == out.path.stat().st_size
    assert out.frames_bytes + out.masks_bytes + out.player_bytes < out.size_bytes
    assert f"{out.size_mb:.2f} MB" in str(out) and open(out).read(15) == "<!DOCTYPE html>"  # a path too
    data = read_page_data(out)
    assert data["format"] == FORMAT and data["mime"] == "image/jpeg"
    # every mask, exactly, at full resolution in the player's encoding
    assert len(data["masks"]) == T
    for frame in range(T):
        want = seg.masks[frame]
        got = data["masks"][frame]
        assert sorted(got) == [str(o) for o in sorted(want)]
        for obj, mask in want.items():
            assert np.array_equal(decode_mask(base64.b64decode(got[str(obj)]), (seg.video.height, seg.video.width)), mask)
    # the frames as JPEG, close to the video's
    assert len(data["frames"]) == T
    img = _jpeg(data["frames"][5])
    assert img.shape == (seg.video.height, seg.video.width, 3)
    assert np.abs(img[..., ::-1].astype(int) - seg.video[5]).mean() < 8
    # the player's state: objects with colours and labels, the timeline with its scores
    state = data["state"]
    assert (state["width"], state["height"], state["num_frames"]) == (seg.video.width, seg.video.height, T)
    assert state["objects"] == seg.player.objects and state["objects"][1]["label"] == "square"
    assert state["timeline"] == seg.player.timeline
    assert any(s is not None for s in state["timeline"]["lanes"][0]["scores"])
    assert state["prompts"] == seg.player.prompts and state["frame"] == 0


def test_options_bound_the_size(seg, tmp_path):
    big = seg.to_html(tmp_path / "big.html", max_width=None, quality=95, progress=False)
    small = seg.to_html(tmp_path / "small.html", max_width=160, quality=40, progress=False)
    assert small.size_bytes < big.size_bytes / 3
    assert (small.frame_width, small.frame_height) == (160, 120)
    assert _jpeg(read_page_data(small)["frames"][0]).shape == (120, 160, 3)
    assert small.masks_bytes == big.masks_bytes  # masks keep the video's resolution
    assert seg.to_html(tmp_path / "np.html", max_width=np.int64(160), quality=np.int32(40), progress=False).size_bytes == small.size_bytes
    # over max_mb: refused before the file exists, an earlier file at the path intact
    target = tmp_path / "capped.html"
    target.write_text("before")
    with pytest.raises(ExportTooLargeError, match=r"over max_mb=0\.1.*quality=.*max_width="):
        seg.to_html(target, max_width=None, quality=95, max_mb=0.1, progress=False)
    assert target.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
    assert seg.to_html(target, max_width=160, quality=40, max_mb=small.size_mb + 0.01, progress=False).size_bytes == small.size_bytes


def test_nothing_kernel_only_or_local_in_the_page(seg, tmp_path):
    seg.player.autosave(tmp_path / "secret-folder-name.vseg", every_s=3600)
    try:
        out = seg.to_html(tmp_path / "s.html", progress=False)
    finally:
        seg.player.autosave(None)
    text = out.path.read_text()
    assert "secret-folder-name" not in text
    state = read_page_data(out)["state"]
    assert not {"autosave_path", "autosave_s", "autosaved", "working", "progress", "tool", "layout"} & set(state)
    assert not any(k.startswith("_") for k in state)


def test_hidden_objects_and_labels_stay_as_shown(seg, tmp_path):
    def set_visible(visible):  # as the player's eye button does
        seg.player._on_msg(seg.player, {"type": "set_visible", "obj_id": 1, "visible": visible}, [])

    set_visible(False)
    try:
        state = read_page_data(seg.to_html(tmp_path / "s.html", progress=False))["state"]
    finally:
        set_visible(True)
    assert [o["visible"] for o in state["objects"]] == [False, True]


def test_a_label_cannot_break_the_page(seg, tmp_path):
    seg.set_label(1, "a</script><script>alert(1)</script><!--")
    try:
        out = seg.to_html(tmp_path / "s.html", progress=False)
    finally:
        seg.set_label(1, None)
    text = out.path.read_text()
    assert len(re.findall(r"</script", text, re.IGNORECASE)) == 2  # the data block's and the bundle's
    assert "<script>alert" not in text
    assert read_page_data(out)["state"]["objects"][0]["label"] == "a</script><script>alert(1)</script><!--"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"path": "s.htm5"}, "ending in .html"),
        ({"max_width": 8}, "max_width"),
        ({"max_width": 100.5}, "max_width"),
        ({"quality": 0}, "quality"),
        ({"quality": 101}, "quality"),
        ({"max_mb": -1}, "max_mb"),
        ({"max_mb": float("nan")}, "max_mb"),
        ({"title": 3}, "title"),
    ],
)
def test_bad_options(seg, tmp_path, kwargs, match):
    path = tmp_path / kwargs.pop("path", "s.html")
    with pytest.raises(ExportFormatError, match=match):
        seg.to_html(path, progress=False, **kwargs)
    assert not path.exists()


def test_missing_folder_and_missing_bundle(seg, tmp_path, monkeypatch):
    with pytest.raises(OutputPathError, match="does not exist"):
        seg.to_html(tmp_path / "nope" / "s.html", progress=False)
    monkeypatch.setattr(html_player, "STATIC", tmp_path)
    with pytest.raises(PlayerBundleError, match="npm run build"):
        seg.to_html(tmp_path / "s.html", progress=False)
    assert not (tmp_path / "s.html").exists()


def test_title_is_escaped(seg, tmp_path):
    text = seg.to_html(tmp_path / "s.html", title="<b>swans</b> & co", progress=False).path.read_text()
    assert "<title>&lt;b&gt;swans&lt;/b&gt; &amp; co</title>" in text
