"""Autosave: the session file is rewritten every N seconds while the work changes, never
while a propagation holds the Segmenter, and the player reports a failed autosave."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
import traitlets

import vseg_widgets as vw
from vseg_widgets.errors import OutputPathError
from vseg_widgets.persist.autosave import Autosaver
from vseg_widgets.widget import Player

sys.path.insert(0, str(Path(__file__).resolve().parent))
from persistkit import ShiftEngine, worked_segmenter  # noqa: E402


def eventually(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def load(path, seg):
    return vw.Segmenter.load(path, video=seg.video, engine=ShiftEngine())


def test_autosaver_saves_changes_only(tmp_path):
    seg = worked_segmenter()
    path = tmp_path / "auto.vseg"
    saver = Autosaver(seg, path, every_s=0.05)
    try:
        assert eventually(lambda: saver.saves == 1)
        assert load(path, seg).masks == seg.masks
        stamp = path.stat().st_mtime_ns
        time.sleep(0.3)  # six ticks with nothing changed: no write
        assert saver.saves == 1 and path.stat().st_mtime_ns == stamp
        seg.set_label(2, "car")
        assert eventually(lambda: saver.saves == 2)
        assert load(path, seg).labels == {1: "person", 2: "car", 3: "ball"}
    finally:
        saver.stop()
    assert not saver.running


def test_autosaver_skips_while_busy_and_flushes_on_stop(tmp_path):
    seg = worked_segmenter()
    path = tmp_path / "auto.vseg"
    held, release = threading.Event(), threading.Event()

    def propagation():  # stands for a propagation: it holds the Segmenter's lock
        with seg._lock:
            held.set()
            release.wait(10)

    worker = threading.Thread(target=propagation)
    worker.start()
    held.wait(5)
    saver = Autosaver(seg, path, every_s=0.05)
    time.sleep(0.3)
    assert saver.saves == 0 and not path.exists()  # skipped, not blocked
    release.set()
    worker.join()
    assert eventually(lambda: saver.saves == 1)
    saver.stop(flush=False)
    slow = Autosaver(seg, path, every_s=600)
    assert slow.saves == 0  # its first tick is ten minutes away
    seg.set_label(1, "rider")
    slow.stop()  # flush: the change since the last save is written now
    assert slow.saves == 1 and load(path, seg).labels[1] == "rider"


def test_autosaver_checks_its_path_and_interval(tmp_path):
    seg = worked_segmenter()
    with pytest.raises(OutputPathError, match="does not exist"):
        Autosaver(seg, tmp_path / "missing" / "auto.vseg")
    with pytest.raises(ValueError, match="positive number of seconds"):
        Autosaver(seg, tmp_path / "auto.vseg", every_s=0)


@pytest.fixture
def player():
    seg = worked_segmenter()
    p = Player(seg)
    p.sent = []
    p.send = lambda content, buffers=None: p.sent.append((content, list(buffers or [])))
    yield p
    p.close()


def test_player_autosaves_what_the_browser_does(player, tmp_path):
    path = tmp_path / "work" / "auto.vseg"
    path.parent.mkdir()
    player.autosave(path, every_s=0.05)
    assert (player.autosave_path, player.autosave_s) == (str(path), 0.05)
    assert eventually(lambda: player.autosaved != "" and path.exists())
    player._on_msg(player, {"type": "click", "frame": 2, "obj_id": 3, "x": 10, "y": 10, "label": 1}, [])
    assert player.last_error is None
    assert eventually(lambda: len(load(path, player.seg).prompts) == 7)
    # A failing autosave is shown in the status line and retried.
    shutil.rmtree(path.parent)
    player.seg.set_label(3, "moon")
    assert eventually(lambda: player.last_error is not None and "autosave" in player.last_error)
    assert "does not exist" in player.last_error
    path.parent.mkdir()
    assert eventually(lambda: path.exists() and load(path, player.seg).labels.get(3) == "moon")
    player.autosave(None)
    assert player._autosaver is None


def test_player_autosave_argument_traits_and_close(tmp_path):
    seg = worked_segmenter()
    path = tmp_path / "auto.vseg"
    p = Player(seg, autosave=path, autosave_s=30)
    p.send = lambda content, buffers=None: None
    assert p._autosaver is not None and p._autosaver.every_s == 30
    seg.set_label(2, "car")
    p.close()  # saves what changed, well before the first tick
    assert load(path, seg).labels[2] == "car"
    with pytest.raises(OutputPathError, match="does not exist"):
        Player(seg).autosave_path = str(tmp_path / "missing" / "a.vseg")
    with pytest.raises(traitlets.TraitError, match="positive number of seconds"):
        Player(seg).autosave_s = 0


def test_the_browser_may_not_choose_where_files_go(player, tmp_path):
    player.set_state({"autosave_path": str(tmp_path / "evil.vseg")})
    assert "may not set autosave_path" in player.last_error
    assert player.autosave_path == "" and player._autosaver is None
