"""Faults during propagation: an engine that raises, answers wrongly or hangs, and Ctrl-C.

Whatever happens, every mask computed before is kept, the error names the problem and the
fix, the Segmenter is not left busy, and the player stays responsive (a hung engine's
propagation stops within a second of the engine returning once cancel is pressed).
"""

from __future__ import annotations

import _thread
import threading
import time

import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.errors import EngineError
from vseg_widgets.widget import Player

T, H, W = 12, 24, 32


class FaultyEngine:
    """Prompts give their mask (a filled box); propagation copies it on, and at frame
    ``at`` does ``fault``: "raise", "hang" (waits for ``release``), "interrupt" (sleeps
    until Ctrl-C arrives), or answers with ``bad`` instead of the masks."""

    name = "faulty"

    def __init__(self, at=None, fault=None, bad=None):
        self.at, self.fault, self.bad = at, fault, bad
        self.release = threading.Event()
        self.reached = threading.Event()

    def init_session(self, video):
        return FaultySession(self, video)


class FaultySession:
    def __init__(self, engine, video):
        self.engine, self.n, self.shape = engine, len(video), (video.height, video.width)
        self.known = {}

    def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
        out = np.zeros(self.shape, bool)
        x0, y0, x1, y1 = (int(v) for v in box)
        out[y0:y1, x0:x1] = True
        self.known[obj_id] = out
        return {obj_id: out}

    def propagate(self, start_frame, reverse=False):
        e = self.engine
        for frame in range(start_frame, -1, -1) if reverse else range(start_frame, self.n):
            if frame == e.at and e.fault is not None:
                e.reached.set()
                if e.fault == "raise":
                    raise RuntimeError("out of GPU memory")
                if e.fault == "hang":
                    e.release.wait(30)
                if e.fault == "interrupt":
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:  # Ctrl-C lands in here
                        time.sleep(0.01)
                if e.fault == "bad":
                    yield e.bad(frame, self.known)
                    continue
            yield frame, {o: m.copy() for o, m in self.known.items()}

    def remove_object(self, obj_id):
        self.known.pop(obj_id, None)

    def reset(self):
        self.known.clear()


def make(engine) -> vw.Segmenter:
    video, _ = vw.datasets.synthetic(num_frames=T, height=2 * H, width=2 * W)
    seg = vw.Segmenter(np.stack([video[i][::2, ::2] for i in range(T)]), engine=engine)
    seg.add_box(0, 1, (2, 2, 12, 12))
    seg.add_box(0, 2, (16, 4, 30, 20))
    return seg


def assert_consistent(seg: vw.Segmenter) -> None:
    """Not busy; every stored mask has a source, every source a mask."""
    assert not seg.busy
    stored = {(f, o) for f in seg.masks.frames() for o in seg.masks[f]}
    assert stored == set(seg._source)


def test_engine_that_raises_keeps_every_mask_before_and_names_the_fix():
    seg = make(FaultyEngine(at=6, fault="raise"))
    with pytest.raises(EngineError, match=r"failed while propagating forward at frame 6: RuntimeError\('out of GPU memory'\).*6 frames with masks were kept.*propagate again"):
        seg.propagate("forward", progress=False)
    assert seg.masks.frames() == list(range(6)) and seg.masks.obj_ids == [1, 2]
    assert_consistent(seg)
    seg.engine.fault = None  # fixed: the next propagation carries on
    assert not seg.propagate("forward", progress=False).cancelled
    assert seg.masks.frames() == list(range(T))


@pytest.mark.parametrize(
    "bad,words",
    [
        (lambda f, k: (f, {1: np.ones((H + 1, W), bool)}), f"shape \\({H + 1}, {W}\\).*object 1 .*expected \\({H}, {W}\\) bool"),
        (lambda f, k: (f, {1: np.full((H, W), 0.7, np.float32)}), "dtype float32 for object 1"),
        (lambda f, k: (f, {1: np.full((H, W), 255, np.uint8)}), "dtype uint8 for object 1"),
        (lambda f, k: (f, {0: np.ones((H, W), bool)}), "object id 0 \\(ids are positive ints\\)"),
        (lambda f, k: (f, {"1": np.ones((H, W), bool)}), "object id '1'"),
        (lambda f, k: (T + 3, dict(k)), f"frame number {T + 3}, not one of 0..{T - 1}"),
        (lambda f, k: (f, [np.ones((H, W), bool)]), "list instead of a dict"),
        (lambda f, k: (f, {1: None}), "shape None and dtype None"),
    ],
)
def test_engine_with_a_wrong_answer_stores_none_of_it(bad, words):
    seg = make(FaultyEngine(at=4, fault="bad", bad=bad))
    with pytest.raises(EngineError, match=f"returned .*{words}.*while propagating at frame 4.*Engines return.*4 frames with masks were kept"):
        seg.propagate("forward", progress=False)
    assert seg.masks.frames() == [0, 1, 2, 3]
    assert_consistent(seg)


def test_engine_with_a_wrong_answer_to_a_prompt_records_no_prompt():
    seg = make(FaultyEngine())
    before = (list(seg.prompts), seg.masks.copy())
    seg._session.add_prompt = lambda *a, **k: {3: np.ones((H, 2 * W), bool)}
    with pytest.raises(EngineError, match=f"shape \\({H}, {2 * W}\\).*on a prompt on frame 5"):
        seg.add_box(5, 3, (0, 0, 4, 4))
    assert seg.prompts == before[0] and seg.masks == before[1]
    assert_consistent(seg)


def test_cancel_stops_a_hung_engine_within_a_second_of_it_returning_and_the_player_answers_meanwhile():
    engine = FaultyEngine(at=7, fault="hang")
    seg = make(engine)
    player = Player(seg)
    sent = []
    player.send = lambda content, buffers=None: sent.append(content)
    player._on_msg(player, {"type": "propagate", "direction": "forward", "scope": "video"}, [])
    assert engine.reached.wait(10), "the engine never reached the frame where it hangs"
    # the kernel answers while the engine hangs: frames, masks, trait changes; prompts say busy
    started = time.monotonic()
    player._on_msg(player, {"type": "request_frames", "frames": [3]}, [])
    player._on_msg(player, {"type": "request_masks", "frames": [2]}, [])
    player.set_state({"frame": 4})
    player._on_msg(player, {"type": "click", "frame": 1, "obj_id": 1, "x": 5.0, "y": 5.0, "label": 1}, [])
    assert time.monotonic() - started < 2
    kinds = [c["type"] for c in sent]
    assert "frame" in kinds and "masks" in kinds and player.frame == 4
    assert any(c["type"] == "error" and "busy" in c["message"] for c in sent)
    player._on_msg(player, {"type": "cancel"}, [])
    time.sleep(0.3)
    assert player.running  # cancel cannot interrupt the engine itself
    engine.release.set()
    returned = time.monotonic()
    assert player.wait(1.0), "the propagation did not stop within 1 s of the engine returning"
    assert time.monotonic() - returned < 1.0
    assert player.progress["cancelled"] is True and player.progress["running"] is False
    assert seg.masks.frames() == list(range(8))  # every frame computed, the one in progress included
    assert_consistent(seg)


@pytest.fixture
def python_handles_ctrl_c():
    """Python's own Ctrl-C handler for the test: a suite started in the background (`make test &`)
    inherits SIGINT ignored, and then _thread.interrupt_main() does nothing."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_during_propagation_keeps_the_frames_and_the_segmenter_usable(python_handles_ctrl_c):
    engine = FaultyEngine(at=5, fault="interrupt")
    seg = make(engine)
    timer = threading.Thread(target=lambda: engine.reached.wait(10) and (time.sleep(0.05), _thread.interrupt_main()))
    timer.start()
    report = seg.propagate("forward", progress=False)  # Ctrl-C arrives inside the engine
    timer.join()
    assert report.cancelled and seg.masks.frames() == [0, 1, 2, 3, 4]
    assert_consistent(seg)
    engine.fault = None
    assert not seg.propagate("forward", progress=False).cancelled and seg.masks.frames() == list(range(T))


def test_ctrl_c_in_a_listener_keeps_the_frames():
    seg = make(FaultyEngine())

    def listener(event, **payload):
        if event == "masks" and payload.get("frames") == [3]:
            raise KeyboardInterrupt

    seg.observe(listener)
    report = seg.propagate("forward", progress=False)
    assert report.cancelled and seg.masks.frames() == [0, 1, 2, 3]
    assert_consistent(seg)
