"""The player's message protocol, without a browser: good messages act, bad ones only answer.

Each test builds a Player on a small synthetic video, replaces ``send`` with a recorder and
calls the message handler the way ipywidgets does when the browser sends something.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets import widget
from vseg_widgets.engines import LearnedEngine
from vseg_widgets.prompt_models import Prediction, sam_mask_logits
from vseg_widgets.transport import decode_mask, decode_varints, encode_mask, encode_varints, mask_to_runs, runs_to_mask
from vseg_widgets.widget import FRONTEND_TRAITS, Player

# A point inside object 1 (the ellipse) on frame 0 of the default synthetic video.
INSIDE = (0, 1)  # frame, obj


@pytest.fixture(scope="module")
def small_video():
    return vw.datasets.synthetic(num_frames=10, height=96, width=128)


@pytest.fixture
def player(small_video):
    video, gt = small_video
    seg = vw.Segmenter(video)
    p = Player(seg)
    p.sent = []
    p.send = lambda content, buffers=None: p.sent.append((content, list(buffers or [])))
    return p


def inside_point(gt, frame=0, obj=1):
    ys, xs = np.nonzero(gt[frame][obj])
    return float(xs.mean()), float(ys.mean())


def msg(p: Player, content):
    p.sent.clear()
    p.last_error = None
    p._on_msg(p, content, [])
    return p.sent


def errors(sent):
    return [c["message"] for c, _ in sent if c.get("type") == "error"]


def state(p: Player):
    seg = p.seg
    return (len(seg.prompts), seg.masks.copy(), p.frame, p.selected, [dict(o) for o in p.objects], p.overlay, p.opacity)


# -- the transport ----------------------------------------------------------------------------
def test_varints_round_trip_every_byte_length():
    values = np.array([0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**28, 2**32 - 1])
    data = encode_varints(values)
    assert len(data) == 1 + 1 + 1 + 2 + 2 + 3 + 3 + 4 + 5 + 5
    assert decode_varints(data).tolist() == values.tolist()


def test_mask_runs_start_with_background_and_round_trip():
    m = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], bool)
    assert mask_to_runs(m).tolist() == [0, 2, 3, 2, 4, 1]  # golden vector shared with js/test/codec.test.ts
    assert mask_to_runs(np.zeros((2, 3), bool)).tolist() == [6]
    rng = np.random.default_rng(1)
    for mask in (rng.random((37, 53)) > 0.5, np.ones((5, 5), bool), np.zeros((5, 5), bool)):
        assert np.array_equal(decode_mask(encode_mask(mask), mask.shape), mask)
    with pytest.raises(ValueError, match="cover"):
        runs_to_mask(np.array([3, 2]), (2, 3))


# -- good messages ------------------------------------------------------------------------------
def test_click_adds_a_prompt_and_sends_the_frames_mask(player, small_video):
    _, gt = small_video
    x, y = inside_point(gt)
    sent = msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": x, "y": y, "label": 1})
    assert errors(sent) == []
    seg = player.seg
    assert len(seg.prompts) == 1 and seg.prompts[0].kind == "points"
    assert player.prompts == [{"frame": 0, "obj_id": 1, "kind": "points", "points": [[round(x, 2), round(y, 2)]], "labels": [1]}]
    masks = [(c, b) for c, b in sent if c["type"] == "masks"]
    assert [c["frame"] for c, _ in masks] == [0]
    content, buffers = masks[0]
    assert content["objects"] == [1]
    decoded = decode_mask(bytes(buffers[0]), (96, 128))
    assert np.array_equal(decoded, seg.masks[0][1])
    assert decoded[round(y), round(x)]
    assert player.timeline["lanes"][0]["present"] == [[0, 1]]
    assert 1 in set(seg.to_dataframe()["obj_id"])


def test_negative_click_box_undo_and_objects(player, small_video):
    _, gt = small_video
    x, y = inside_point(gt)
    assert not errors(msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": x, "y": y, "label": 1}))
    assert not errors(msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": 2.0, "y": 2.0, "label": 0}))
    assert player.seg.prompts[-1].labels.tolist() == [0]
    assert not errors(msg(player, {"type": "add_object"}))
    assert [o["id"] for o in player.objects] == [1, 2] and player.selected == 2
    ys, xs = np.nonzero(gt[0][2])
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    assert not errors(msg(player, {"type": "box", "frame": 0, "obj_id": 2, "box": box}))
    assert (0, 2) in player.seg.masks
    assert not errors(msg(player, {"type": "set_visible", "obj_id": 1, "visible": False}))
    assert [o["visible"] for o in player.objects] == [False, True]
    assert not errors(msg(player, {"type": "undo"}))
    assert (0, 2) not in player.seg.masks and len(player.seg.prompts) == 2
    assert not errors(msg(player, {"type": "remove_object", "obj_id": 2}))
    assert [o["id"] for o in player.objects] == [1] and player.selected == 1
    assert not errors(msg(player, {"type": "remove_object", "obj_id": 1}))
    assert player.seg.prompts == [] and player.seg.masks.frames() == []
    assert [o["id"] for o in player.objects] == [1]  # a fresh object 1 to click for


def test_a_prompt_resends_only_the_frames_it_changed(player, small_video):
    _, gt = small_video
    msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": inside_point(gt)[0], "y": inside_point(gt)[1], "label": 1})
    x, y = inside_point(gt, 5)
    sent = msg(player, {"type": "click", "frame": 5, "obj_id": 1, "x": x, "y": y, "label": 1})
    assert [c["frame"] for c, _ in sent if c["type"] == "masks"] == [5]
    sent = msg(player, {"type": "undo"})
    assert {c["frame"] for c, _ in sent if c["type"] == "masks"} == {5}
    assert 5 not in player.seg.masks and 0 in player.seg.masks


def test_frame_and_mask_requests_answer_with_binary_buffers(player):
    sent = msg(player, {"type": "request_frames", "frames": [0, 9]})
    assert [c["frame"] for c, _ in sent] == [0, 9]
    assert all(c["type"] == "frame" and bytes(b[0][:2]) == b"\xff\xd8" for c, b in sent)  # JPEG magic
    sent = msg(player, {"type": "request_masks", "frames": [3]})
    assert sent == [({"type": "masks", "frame": 3, "objects": []}, [])]


def test_the_masks_that_answer_a_prompt_carry_its_id_back(player, small_video):
    # The player ends a click's latency on the masks that answer it, not on any masks
    # message for the frame (an answer to an earlier request_masks, say).
    _, gt = small_video
    x, y = inside_point(gt)
    sent = msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": x, "y": y, "label": 1, "id": 7})
    replies = [c for c, _ in sent if c["type"] == "masks"]
    assert [c["frame"] for c in replies] == [0] and all(c["reply_to"] == 7 for c in replies)
    sent = msg(player, {"type": "request_masks", "frames": [0]})  # no id: no reply_to
    assert [c for c, _ in sent if c["type"] == "masks"] == [{"type": "masks", "frame": 0, "objects": [1]}]
    for bad in ("7", 1.5, True, -1, 2**60):
        sent = msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": x, "y": y, "label": 0, "id": bad})
        assert len(errors(sent)) == 1 and "id must be an integer" in errors(sent)[0]
    assert len(player.seg.prompts) == 1  # the refused clicks changed nothing


def test_propagate_in_background_fills_every_frame(player, small_video):
    _, gt = small_video
    x, y = inside_point(gt)
    msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": x, "y": y, "label": 1})
    sent = msg(player, {"type": "propagate", "direction": "forward"})
    assert errors(sent) == []
    assert player.wait(60)
    assert player.seg.masks.frames(1) == list(range(10))
    assert player.progress == {"running": False, "done": 10, "total": 10, "cancelled": False}
    streamed = sorted({c["frame"] for c, _ in player.sent if c["type"] == "masks"})
    assert streamed == list(range(10))
    assert player.timeline["lanes"][0]["present"] == [[0, 10]]
    scores = player.timeline["lanes"][0]["scores"]
    assert scores[0] is None and all(0.0 <= s <= 1.0 for s in scores[1:])


def test_python_prompts_appear_in_the_player(player, small_video):
    _, gt = small_video
    player.sent.clear()
    player.seg.add_points(4, 3, [inside_point(gt, 4, 1)])
    assert player.prompts[-1]["frame"] == 4 and player.prompts[-1]["obj_id"] == 3
    assert 3 in [o["id"] for o in player.objects]
    assert [c["frame"] for c, _ in player.sent if c["type"] == "masks"] == [4]


def ids(p: Player) -> list[int]:
    return [o["id"] for o in p.objects]


def click(p: Player, gt, obj: int, frame: int = 0, on: int | None = None):
    """Click for object ``obj`` inside ground-truth object ``on`` (default: ``obj``)."""
    x, y = inside_point(gt, frame, obj if on is None else on)
    assert not errors(msg(p, {"type": "click", "frame": frame, "obj_id": obj, "x": x, "y": y, "label": 1}))


def test_python_remove_object_takes_it_out_of_the_player(player, small_video):
    _, gt = small_video
    msg(player, {"type": "add_object"})
    click(player, gt, obj=2)
    click(player, gt, obj=2, frame=4)
    assert ids(player) == [1, 2] and player.selected == 2
    player.sent.clear()
    player.seg.remove_object(2)  # from Python, on an object added in the player
    assert ids(player) == [1] and player.selected == 1
    assert player.prompts == []
    assert [lane["obj_id"] for lane in player.timeline["lanes"]] == [1]
    resent = {c["frame"]: c["objects"] for c, _ in player.sent if c["type"] == "masks"}
    assert resent == {0: [], 4: []}  # both of its frames, now without it
    # a placeholder (added in the player, never prompted) is not the Segmenter's to remove
    msg(player, {"type": "add_object"})
    assert ids(player) == [1, 2]
    with pytest.raises(vw.errors.UnknownObjectError):
        player.seg.remove_object(2)
    assert ids(player) == [1, 2]


def test_python_removal_forgets_the_objects_visibility(player, small_video):
    _, gt = small_video
    player.seg.add_points(0, 2, [inside_point(gt, 0, 2)])
    assert not errors(msg(player, {"type": "set_visible", "obj_id": 2, "visible": False}))
    player.seg.remove_object(2)
    player.seg.add_points(0, 2, [inside_point(gt, 0, 2)])
    assert {o["id"]: o["visible"] for o in player.objects} == {1: True, 2: True}


def test_undo_in_the_player_keeps_its_object_listed(player, small_video):
    _, gt = small_video
    player.seg.add_points(0, 3, [inside_point(gt, 0, 1)])  # an object from Python
    player.selected = 3
    assert not errors(msg(player, {"type": "undo"}))
    assert player.seg.obj_ids == [] and ids(player) == [1, 3] and player.selected == 3
    click(player, gt, obj=3, on=1)  # still there to click for
    assert player.seg.obj_ids == [3]
    player.seg.undo()  # the same undo from Python: the Segmenter forgot it, so does the player
    assert ids(player) == [1] and player.selected == 1


def test_python_reset_resets_the_player(player, small_video):
    _, gt = small_video
    msg(player, {"type": "add_object"})
    msg(player, {"type": "add_object"})  # object 3: a placeholder, never prompted
    click(player, gt, obj=1)
    click(player, gt, obj=2)
    assert not errors(msg(player, {"type": "set_visible", "obj_id": 1, "visible": False}))
    assert not errors(msg(player, {"type": "propagate", "direction": "forward"}))
    assert player.wait(60) and player.progress["done"] == 10
    player.frame = 4
    player.overlay = "contour"
    player.sent.clear()
    player.seg.reset()
    assert player.objects == [{"id": 1, "color": vw.palette.object_color(1), "visible": True, "label": None}]
    assert player.selected == 1 and player.prompts == []
    assert player.progress == {"running": False, "done": 0, "total": 0, "cancelled": False}
    assert player.timeline["lanes"] == [{"obj_id": 1, "present": [], "scores": None, "confidence": None}]
    assert {"type": "masks_reset"} in [c for c, _ in player.sent]  # the browser drops every mask it holds
    assert (player.frame, player.overlay) == (4, "contour")  # where the person is and how they look: kept
    assert msg(player, {"type": "request_masks", "frames": [0, 9]}) == [
        ({"type": "masks", "frame": 0, "objects": []}, []),
        ({"type": "masks", "frame": 9, "objects": []}, []),
    ]
    click(player, gt, obj=1)  # and it works as new
    assert ids(player) == [1] and player.seg.obj_ids == [1]


def test_frame_set_from_python_is_validated(player):
    player.frame = 9
    assert player.frame == 9
    with pytest.raises(Exception, match="does not exist"):
        player.frame = 10


def test_browser_may_set_frame_and_settings(player):
    player.set_state({"frame": 5, "overlay": "contour", "opacity": 0.25})
    assert (player.frame, player.overlay, player.opacity) == (5, "contour", 0.25)
    assert player.last_error is None


# -- bad messages: an error event, and nothing changes ------------------------------------------
BAD = [
    ("not a dict", "must be an object"),
    ({"frame": 0}, "must be an object with a string 'type'"),
    ({"type": "explode"}, "unknown message type"),
    ({"type": "click", "frame": 0, "obj_id": 1, "x": 500, "y": 10, "label": 1}, "outside the 128x96 frame"),
    ({"type": "click", "frame": 0, "obj_id": 1, "x": -1, "y": 10, "label": 1}, "outside"),
    ({"type": "click", "frame": 0, "obj_id": 1, "x": float("nan"), "y": 10, "label": 1}, "finite number"),
    ({"type": "click", "frame": 0, "obj_id": 1, "x": "10", "y": 10, "label": 1}, "finite number"),
    ({"type": "click", "frame": 0, "obj_id": 7, "x": 10, "y": 10, "label": 1}, "unknown object 7"),
    ({"type": "click", "frame": 0, "obj_id": True, "x": 10, "y": 10, "label": 1}, "unknown object"),
    ({"type": "click", "frame": 0, "obj_id": 1, "x": 10, "y": 10, "label": 2}, "label must be"),
    ({"type": "click", "frame": 0, "obj_id": 1, "x": 10, "y": 10, "label": True}, "label must be"),
    ({"type": "click", "frame": 10, "obj_id": 1, "x": 10, "y": 10, "label": 1}, "frame 10 does not exist"),
    ({"type": "click", "frame": 1.5, "obj_id": 1, "x": 10, "y": 10, "label": 1}, "must be an integer"),
    ({"type": "click", "obj_id": 1, "x": 10, "y": 10, "label": 1}, "must be an integer"),
    ({"type": "box", "frame": 0, "obj_id": 1, "box": [10, 10, 5, 20]}, "empty"),
    ({"type": "box", "frame": 0, "obj_id": 1, "box": [0, 0, 200, 20]}, "outside"),
    ({"type": "box", "frame": 0, "obj_id": 1, "box": [0, 0, 20]}, "box must be"),
    ({"type": "box", "frame": 0, "obj_id": 1, "box": [0, 0, None, 20]}, "finite number"),
    ({"type": "request_frames", "frames": [0, 10]}, "frame 10 does not exist"),
    ({"type": "request_frames", "frames": [-1]}, "frame -1 does not exist"),
    ({"type": "request_frames", "frames": []}, "list of 1..64"),
    ({"type": "request_frames", "frames": list(range(10)) * 7}, "list of 1..64"),
    ({"type": "request_frames", "frames": "0"}, "list of"),
    ({"type": "request_masks", "frames": [0, "1"]}, "must be an integer"),
    ({"type": "remove_object", "obj_id": 9}, "unknown object 9"),
    ({"type": "set_visible", "obj_id": 1, "visible": "no"}, "visible must be"),
    ({"type": "propagate", "direction": "sideways"}, "direction must be"),
    ({"type": "propagate"}, "nothing to propagate"),
    ({"type": "undo"}, "nothing to undo"),
]


@pytest.mark.parametrize("content, message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_message_answers_an_error_and_changes_nothing(player, content, message):
    before = state(player)
    sent = msg(player, content)
    assert [c["type"] for c, _ in sent] == ["error"], sent
    assert message in sent[0][0]["message"]
    assert player.last_error == sent[0][0]["message"]
    after = state(player)
    assert after[0] == before[0] and after[1] == before[1] and after[2:] == before[2:]


BAD_STATE = [
    ({"frame": 10}, "frame 10 does not exist"),
    ({"frame": -1}, "does not exist"),
    ({"frame": 3, "opacity": 2.0}, "opacity must be in [0, 1]"),  # all or nothing: frame stays
    ({"overlay": "sparkles"}, "overlay"),
    ({"selected": 42}, "no object 42"),
    ({"prompts": []}, "may not set prompts"),
    ({"num_frames": 1000}, "may not set num_frames"),
    ({"doubt_threshold": 1.5}, "doubt_threshold must be a confidence in [0, 1]"),
    ({"doubt_threshold": -0.1}, "doubt_threshold must be a confidence in [0, 1]"),
    ({"doubt_threshold": float("nan")}, "doubt_threshold must be a confidence in [0, 1]"),
    ({"doubt_threshold": "high"}, "doubt_threshold"),
]


@pytest.mark.parametrize("update, message", BAD_STATE, ids=[f"state{i}" for i in range(len(BAD_STATE))])
def test_bad_state_update_is_refused_whole_and_the_browser_put_back(player, update, message):
    before = state(player)
    restored = []
    player.send_state = lambda keys=None: restored.append(keys)
    player.sent.clear()
    player.set_state(update)
    assert message in (player.last_error or "")
    assert errors(player.sent) == [player.last_error]
    assert state(player)[2:] == before[2:]
    assert restored and set(restored[0]) <= set(update)


def test_prompts_are_refused_while_propagating(player, small_video):
    _, gt = small_video
    x, y = inside_point(gt)
    msg(player, {"type": "click", "frame": 0, "obj_id": 1, "x": x, "y": y, "label": 1})
    player.seg._busy = True  # as while the propagation thread holds the engine
    try:
        sent = msg(player, {"type": "click", "frame": 3, "obj_id": 1, "x": x, "y": y, "label": 1})
        assert "busy" in errors(sent)[0]
        assert len(player.seg.prompts) == 1
    finally:
        player.seg._busy = False


def test_frontend_traits_are_exactly_the_settings():
    assert FRONTEND_TRAITS == {
        "frame", "selected", "overlay", "opacity", "follow", "direction", "scope", "tool", "brush_size", "doubt_threshold",
    }  # fmt: skip


def test_player_is_the_segmenters_display(small_video):
    video, _ = small_video
    seg = vw.Segmenter(video)
    assert seg.player is seg.player
    bundle = seg._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert seg.player.objects == [{"id": 1, "color": vw.palette.object_color(1), "visible": True, "label": None}]
    assert seg.player.palette == list(vw.palette.OBJECT_COLORS)


class GatedEngine:
    """A toy engine whose propagation waits at a gate after the first frame, so a test can
    act while it runs. Masks: a fixed square for every prompted object."""

    name = "gated"

    def __init__(self):
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def init_session(self, video):
        engine = self

        class Session:
            def __init__(self):
                self.objs: set[int] = set()

            def add_prompt(self, frame, obj_id, **prompt):
                self.objs.add(obj_id)
                return {obj_id: _square(video)}

            def propagate(self, start_frame, reverse=False):
                step = -1 if reverse else 1
                frames = range(start_frame, -1 if reverse else len(video), step)
                for i, f in enumerate(frames):
                    if i == 1:
                        engine.waiting.set()
                        assert engine.gate.wait(30), "the test never opened the gate"
                    yield f, {o: _square(video) for o in self.objs}

            def remove_object(self, obj_id):
                self.objs.discard(obj_id)

            def reset(self):
                self.objs.clear()

        return Session()


def _square(video):
    m = np.zeros((video.height, video.width), bool)
    m[10:30, 10:30] = True
    return m


def test_propagation_runs_in_the_background_refuses_prompts_and_cancels(small_video):
    video, _ = small_video
    engine = GatedEngine()
    p = Player(vw.Segmenter(video, engine=engine))
    p.sent = []
    p.send = lambda content, buffers=None: p.sent.append((content, list(buffers or [])))
    assert not errors(msg(p, {"type": "click", "frame": 2, "obj_id": 1, "x": 20, "y": 20, "label": 1}))
    assert not errors(msg(p, {"type": "propagate", "direction": "forward"}))
    assert engine.waiting.wait(30)
    assert p.running and p.seg.busy and p.progress["running"]
    # while it runs: prompts are refused, frames are still served, a second propagate is refused
    assert "busy" in errors(msg(p, {"type": "click", "frame": 5, "obj_id": 1, "x": 20, "y": 20, "label": 1}))[0]
    assert "busy" in errors(msg(p, {"type": "propagate"}))[0]
    assert [c["type"] for c, _ in msg(p, {"type": "request_frames", "frames": [7]})] == ["frame"]
    assert len(p.seg.prompts) == 1
    assert not errors(msg(p, {"type": "cancel"}))
    engine.gate.set()
    assert p.wait(30)
    assert p.progress["cancelled"] is True and p.progress["running"] is False
    assert p.progress["done"] < p.progress["total"] == 8
    assert p.seg.masks.frames(1) == list(range(2, 2 + p.progress["done"]))  # what was done is kept


def test_segmenter_frame_is_the_players_frame(synthetic_video):
    video, _ = synthetic_video
    seg = vw.Segmenter(video)
    seg.frame = 7
    assert seg.player.frame == 7 and seg.frame == 7
    seg.frame = -1
    assert seg.frame == len(video) - 1
    with pytest.raises(IndexError, match="outside this video"):
        seg.frame = len(video)


def test_timeline_shows_j_with_ground_truth_else_consistency(player, small_video):
    _, gt = small_video
    seg = player.seg
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.propagate("forward", progress=False)
    player._update_timeline()  # propagation refreshes it at most every 0.5 s; force the last one
    assert player.timeline["kind"] == "iou_prev"
    consistency = player.timeline["lanes"][0]["scores"]
    seg.set_ground_truth(gt)
    assert player.timeline["kind"] == "J"
    j = player.timeline["lanes"][0]["scores"]
    expected = [round(vw.metrics.jaccard(seg.masks.get(f, 1), gt.get(f, 1)), 3) for f in range(len(gt))]
    assert j == expected and j != consistency


def test_shot_cuts_on_the_timeline():
    video, _ = vw.datasets.synthetic(num_frames=40, scene_cut=22)
    player = Player(vw.Segmenter(video))
    player.show_shots(vw.shots.detect(video))
    assert player.cuts == [22]
    player.show_shots([0, 30, 3])
    assert player.cuts == [3, 30]
    with pytest.raises(Exception, match="cut frames \\[40\\] do not exist"):
        player.show_shots([40])
    assert player.cuts == [3, 30]  # a refused change leaves the cuts as they were


class DiskPromptModel:
    """An image prompt model whose embedding takes a while and whose answer is a disk."""

    name = "slow disks"

    def __init__(self):
        self.embedded = 0

    def embed(self, image):
        time.sleep(0.2)
        self.embedded += 1
        return np.zeros(4, np.float32)

    def predict(self, embedding, image_size, *, points=None, labels=None, box=None, logits=None, multimask=False):
        mask = np.zeros(image_size, np.uint8)
        cv2.circle(mask, (int(points[0][0]), int(points[0][1])), 10, 1, -1)
        return Prediction(mask[None] > 0, np.array([0.9], np.float32), np.zeros((1, 256, 256), np.float32))

    def mask_to_logits(self, mask):
        return sam_mask_logits(mask)


def test_the_player_prepares_the_frame_it_rests_on_and_says_when_a_click_waits(small_video, monkeypatch):
    monkeypatch.setattr(widget, "REST_S", 0.05)
    video, _ = small_video
    model = DiskPromptModel()
    p = Player(vw.Segmenter(video, engine=LearnedEngine(prompt_model=model)))
    p.sent = []
    p.send = lambda content, buffers=None: p.sent.append((content, list(buffers or [])))
    shown = []
    p.observe(lambda change: shown.append(change.new), names="working")

    p.frame = 5  # the browser moves to frame 5 and rests there: its embedding is computed unasked
    deadline = time.monotonic() + 30
    while not p.seg.ready(5) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert p.seg.ready(5) and not p.seg.ready(7)

    assert not errors(msg(p, {"type": "click", "frame": 5, "obj_id": 1, "x": 40, "y": 40, "label": 1}))
    assert shown == []  # ready: the click cost only the decoder, nothing to announce
    assert not errors(msg(p, {"type": "click", "frame": 7, "obj_id": 1, "x": 40, "y": 40, "label": 1}))
    assert len(shown) == 2 and "frame 7" in shown[0] and shown[1] == ""  # announced, then cleared
    assert p.working == "" and p.seg.masks.frames(1) == [5, 7]


def test_timeline_carries_the_engines_confidence_and_the_threshold_is_a_setting(player, small_video):
    _, gt = small_video
    player.seg.add_mask(0, 1, gt[0][1])
    player.seg.propagate("forward", progress=False)
    player._update_timeline()
    lane = player.timeline["lanes"][0]
    expected = [None if np.isnan(c) else round(float(c), 3) for c in player.seg.confidence(1)]
    assert lane["confidence"] == expected and lane["confidence"][0] == 1.0  # the mask given exactly
    assert all(c is not None and 0 <= c <= 1 for c in lane["confidence"])
    player.set_state({"doubt_threshold": 0.3})
    assert player.doubt_threshold == 0.3 and player.last_error is None


def test_no_confidence_strip_for_an_engine_without_confidence(small_video):
    from test_session import ShiftEngine

    video, gt = small_video
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, gt[0][1])
    seg.propagate("forward", progress=False)
    p = Player(seg)
    assert p.timeline["lanes"][0]["confidence"] is None
    assert p.timeline["lanes"][0]["present"] == [[0, 10]]
