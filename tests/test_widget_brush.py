"""The player's brush, eraser, labels and propagation scope, without a browser: good messages
act, hostile ones are answered with an error and change nothing."""

from __future__ import annotations

import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.brush import rasterize_stroke
from vseg_widgets.transport import decode_mask
from vseg_widgets.widget import MAX_STROKE_POINTS, Player


@pytest.fixture(scope="module")
def small_video():
    return vw.datasets.synthetic(num_frames=10, height=96, width=128)


@pytest.fixture
def player(small_video):
    video, _ = small_video
    p = Player(vw.Segmenter(video, engine="classic"))
    p.sent = []
    p.send = lambda content, buffers=None: p.sent.append((content, list(buffers or [])))
    return p


def msg(p: Player, content):
    p.sent.clear()
    p.last_error = None
    p._on_msg(p, content, [])
    return p.sent


def errors(sent):
    return [c["message"] for c, _ in sent if c.get("type") == "error"]


def stroke(frame=0, obj=1, tool="brush", radius=6, points=((20, 20), (60, 40))):
    return {"type": "stroke", "frame": frame, "obj_id": obj, "tool": tool, "radius": radius, "points": [list(p) for p in points]}


# -- the rasteriser --------------------------------------------------------------------------------
def test_rasterize_is_exact_distance_to_the_polyline():
    shape = (40, 60)
    m = rasterize_stroke([(10.5, 20.5)], 3, shape)
    yy, xx = np.mgrid[:40, :60]
    np.testing.assert_array_equal(m, (xx + 0.5 - 10.5) ** 2 + (yy + 0.5 - 20.5) ** 2 <= 9)
    line = rasterize_stroke([(5, 10), (45, 10)], 2, shape)
    ys, xs = np.nonzero(line)
    assert ys.min() == 8 and ys.max() == 11 and xs.min() == 3 and xs.max() == 46  # round caps, 2 px
    edge = rasterize_stroke([(0, 0), (60, 40)], 4, shape)  # on the frame's corners: clipped, not wrapped
    assert edge[0, 0] and edge[39, 59] and not edge[39, 0]


# -- brush and eraser -----------------------------------------------------------------------------------
def test_brush_paints_erases_and_undo_restores(player):
    seg = player.seg
    assert not errors(msg(player, stroke()))
    painted = rasterize_stroke([(20, 20), (60, 40)], 6, (96, 128))
    np.testing.assert_array_equal(seg.masks.get(0, 1), painted)  # visible in Python at once
    sent_masks = [(c, b) for c, b in player.sent if c["type"] == "masks"]
    assert [c["frame"] for c, _ in sent_masks] == [0]
    np.testing.assert_array_equal(decode_mask(bytes(sent_masks[0][1][0]), (96, 128)), painted)
    assert player.prompts[-1] == {"frame": 0, "obj_id": 1, "kind": "mask"}
    assert not errors(msg(player, stroke(tool="eraser", radius=3, points=[(40, 30)])))
    erased = painted & ~rasterize_stroke([(40, 30)], 3, (96, 128))
    np.testing.assert_array_equal(seg.masks.get(0, 1), erased)
    assert not errors(msg(player, {"type": "undo"}))
    np.testing.assert_array_equal(seg.masks.get(0, 1), painted)
    assert not errors(msg(player, {"type": "undo"}))
    assert (0, 1) not in seg.masks and [o["id"] for o in player.objects] == [1]


def test_brush_size_tool_and_scope_are_settings(player):
    player.set_state({"tool": "eraser", "brush_size": 30, "scope": "video"})
    assert (player.tool, player.brush_size, player.scope) == ("eraser", 30.0, "video")
    assert player.last_error is None
    for update, message in [
        ({"tool": "spray"}, "tool"),
        ({"brush_size": 0}, "brush_size must be in"),
        ({"brush_size": 1000}, "brush_size must be in"),
        ({"scope": "everything"}, "scope"),
    ]:
        player.send_state = lambda keys=None: None
        player.last_error = None
        player.set_state(update)
        assert message in (player.last_error or ""), update
    assert (player.tool, player.brush_size, player.scope) == ("eraser", 30.0, "video")


HOSTILE = [
    (stroke(points=[(200, 20)]), "outside the 128x96 frame"),
    (stroke(points=[(-0.1, 20)]), "outside"),
    (stroke(points=[(float("nan"), 20)]), "finite number"),
    (stroke(points=[(float("inf"), 20)]), "finite number"),
    (stroke(points=[("1", 20)]), "finite number"),
    (stroke(points=[(1, 2, 3)]), "must be [x, y]"),
    (stroke(points=[[1]]), "must be [x, y]"),
    ({**stroke(), "points": [{"x": 1, "y": 2}]}, "must be [x, y]"),
    ({**stroke(), "points": []}, "list of 1..2048"),
    ({**stroke(), "points": "0,0"}, "list of 1..2048"),
    ({**stroke(), "points": [[1, 1]] * (MAX_STROKE_POINTS + 1)}, "list of 1..2048"),
    (stroke(radius=0), "radius must be in"),
    (stroke(radius=-3), "radius must be in"),
    (stroke(radius=1e9), "radius must be in"),
    (stroke(radius=float("nan")), "finite number"),
    (stroke(radius="big"), "finite number"),
    (stroke(radius=True), "finite number"),
    (stroke(obj=7), "unknown object 7"),
    (stroke(obj="1"), "unknown object"),
    (stroke(frame=10), "frame 10 does not exist"),
    (stroke(frame=-1), "does not exist"),
    (stroke(tool="spray"), "tool must be"),
    (stroke(tool="eraser"), "nothing to erase"),
    ({k: v for k, v in stroke().items() if k != "points"}, "list of"),
    ({"type": "label", "obj_id": 1, "label": 5}, "label must be a string"),
    ({"type": "label", "obj_id": 1, "label": None}, "label must be a string"),
    ({"type": "label", "obj_id": 1, "label": "a\nb"}, "control characters"),
    ({"type": "label", "obj_id": 1, "label": "x" * 101}, "at most 100"),
    ({"type": "label", "obj_id": 9, "label": "cat"}, "unknown object 9"),
    ({"type": "propagate", "scope": "all"}, "scope must be"),
]


@pytest.mark.parametrize("content, message", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_messages_answer_an_error_and_change_nothing(player, content, message):
    before = (len(player.seg.prompts), player.seg.masks.copy(), [dict(o) for o in player.objects], player.seg.labels)
    sent = msg(player, content)
    assert [c["type"] for c, _ in sent] == ["error"], sent
    assert message in sent[0][0]["message"]
    assert (len(player.seg.prompts), player.seg.masks.copy(), [dict(o) for o in player.objects], player.seg.labels) == before


def test_strokes_are_refused_while_propagating(player):
    msg(player, stroke())
    player.seg._busy = True
    try:
        assert "busy" in errors(msg(player, stroke(points=[(90, 60)])))[0]
        assert len(player.seg.prompts) == 1
    finally:
        player.seg._busy = False


# -- labels -------------------------------------------------------------------------------------------
def test_labels_in_the_object_list_both_ways(player):
    seg = player.seg
    msg(player, stroke())
    assert not errors(msg(player, {"type": "label", "obj_id": 1, "label": " person "}))
    assert seg.labels == {1: "person"} and player.objects[0]["label"] == "person"
    seg.set_label(1, "rider")  # from Python: the player follows
    assert player.objects[0]["label"] == "rider"
    assert not errors(msg(player, {"type": "label", "obj_id": 1, "label": ""}))
    assert seg.labels == {} and player.objects[0]["label"] is None
    # a placeholder (added in the player, no prompt yet) keeps its label until it is prompted
    msg(player, {"type": "add_object"})
    assert not errors(msg(player, {"type": "label", "obj_id": 2, "label": "bike"}))
    assert seg.labels == {} and player.objects[1]["label"] == "bike"
    msg(player, stroke(obj=2, points=[(100, 70)]))
    assert seg.labels == {2: "bike"} and player.objects[1]["label"] == "bike"
    # an undo in the player keeps the object listed, with its label, and gives it back
    msg(player, {"type": "undo"})
    assert [o["label"] for o in player.objects] == [None, "bike"] and 2 not in seg.obj_ids
    msg(player, stroke(obj=2, points=[(100, 70)]))
    assert seg.labels == {2: "bike"}
    msg(player, {"type": "remove_object", "obj_id": 2})
    assert seg.labels == {} and [o["id"] for o in player.objects] == [1]


# -- propagation scope ------------------------------------------------------------------------------------
def test_player_default_scope_stops_at_the_next_prompt(player, small_video):
    _, gt = small_video
    seg = player.seg
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.add_mask(6, 1, gt.get(6, 1))
    assert player.scope == "next_prompt"
    assert not errors(msg(player, {"type": "propagate", "direction": "forward"}))
    assert player.wait(60) and seg.masks.frames(1) == list(range(10))
    before = seg.masks.copy()
    ys, xs = np.nonzero(seg.masks.get(2, 1))
    assert not errors(msg(player, stroke(frame=2, tool="eraser", radius=8, points=[(xs.mean(), ys.mean())])))
    assert not errors(msg(player, {"type": "propagate", "direction": "both"}))
    assert player.wait(60) and player.progress["done"] == 6  # forward 2..5, backward 2..1
    for f in (0, 6, 7, 8, 9):
        assert seg.masks.rle(f, 1) == before.rle(f, 1), f
    assert seg.masks.rle(3, 1) != before.rle(3, 1)
    # the whole video, when asked
    assert not errors(msg(player, {"type": "propagate", "direction": "forward", "scope": "video"}))
    assert player.wait(60) and player.progress["done"] == 10
