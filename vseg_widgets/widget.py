"""The interactive player: an anywidget whose frontend lives in ``js/`` (bundled to ``static/``).

The widget holds no segmentation logic. It turns browser messages into calls on its
:class:`~vseg_widgets.session.Segmenter` (``add_points``, ``add_box``, ``edit_mask``,
``set_label``, ``undo``, ``remove_object``, ``propagate``, ``cancel``) and listens to the Segmenter's events to
push frames and masks back.

State that must survive a re-display (frame, objects, prompts, settings, progress,
timeline, ``working``: what a prompt waits for) lives in synced traits. When the
browser rests on a frame, the Segmenter is asked to prepare it (:meth:`Segmenter.prepare`:
the learned engine computes that frame's image embedding in the background), so that the
next click costs only the prompt decoder. Streams (JPEG frames, mask run lengths, error events) go
in custom messages with binary buffers; see :mod:`vseg_widgets.transport`.

Messages from the browser are untrusted. Each is validated here; a bad one is answered
with ``{"type": "error", "message": ...}`` (shown in the status line) and changes nothing.

Browser -> Python messages (``type`` and fields):

=================  ====================================================================
request_frames     frames: list[int]  (at most 64) -> one "frame" message each
request_masks      frames: list[int]  (at most 256) -> one "masks" message each
click              frame, obj_id, x, y (pixels), label (1 positive, 0 negative)
box                frame, obj_id, box: [x0, y0, x1, y1] (pixels)
undo               -
add_object         -  (a new object id, selected)
remove_object      obj_id
set_visible        obj_id, visible: bool
label              obj_id, label: str (at most 100 characters; "" clears it)
stroke             frame, obj_id, tool: "brush" | "eraser", radius (pixels, 0.5..256),
                   points: [[x, y], ...] (pixels, 1..2048 of them, inside the frame)
propagate          direction: "forward" | "backward" | "both", scope: "next_prompt" |
                   "video" (both optional: the traits)
cancel             -
=================  ====================================================================

Any message may carry ``id`` (an integer): the "masks" messages sent while it is handled
carry it back as ``reply_to``, so the player knows which masks answer its click.

Python -> browser messages: ``frame`` {frame} + [JPEG bytes]; ``masks`` {frame, objects[,
reply_to]} + [one "runs-v1" buffer per object]; ``masks_reset`` {}; ``error`` {message}.
"""

from __future__ import annotations

import math
import threading
import traceback
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t

from .errors import VsegError
from .palette import OBJECT_COLORS, object_color
from .transport import MASK_ENCODING, encode_jpeg, encode_mask

_STATIC = Path(__file__).parent / "static"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.innerHTML = '<pre style="color:#d62728">vseg_widgets: the player bundle is missing. '
    + 'Build it with: npm ci --prefix js && npm run build --prefix js</pre>';
} };
"""

#: Traits the browser may change; every other synced trait is Python's to set.
FRONTEND_TRAITS = frozenset(
    {"frame", "selected", "overlay", "opacity", "follow", "direction", "scope", "tool", "brush_size", "doubt_threshold"}
)
MAX_FRAMES_PER_REQUEST = 64
MAX_MASKS_PER_REQUEST = 256
MAX_STROKE_POINTS = 2048  # the player simplifies a stroke (to 0.5 px) and splits longer ones
MIN_BRUSH_RADIUS, MAX_BRUSH_RADIUS = 0.5, 256.0  # pixels of the full-resolution frame
TIMELINE_INTERVAL_S = 0.5  # how often the timeline is recomputed while masks stream in
REST_S = 0.4  # the player has rested on a frame this long: prepare it for a prompt (playback moves on sooner)


class MessageError(VsegError, ValueError):
    """A message from the browser that does not follow the protocol."""


def _bundle(name: str, fallback: str) -> str | Path:
    path = _STATIC / name
    return path if path.exists() else fallback


class Player(anywidget.AnyWidget):
    """The video player of a :class:`~vseg_widgets.session.Segmenter` (``seg.player``).

    Args:
        seg: the Segmenter to show and drive.
        jpeg_quality: JPEG quality (1..100) of the frames sent to the browser.
        max_width: frames wider than this are downscaled for sending (masks never are).
        autosave: a session file to save to every ``autosave_s`` seconds (see :meth:`autosave`).

    Attributes (synced traits; the first group may also be set from Python):
        frame: the frame shown (int, validated against the video's length).
        selected: the object that clicks prompt.
        overlay: "filled" | "contour" | "off"; opacity: 0..1 for "filled".
        follow: show each frame as a propagation reaches it.
        direction: what the Propagate button does: "forward" | "backward" | "both".
        scope: how far it goes: "next_prompt" (the default: from each prompt given since the
            last propagation up to that object's next prompt, leaving the rest untouched;
            see ``Segmenter.propagate(until_prompt=True)``) or "video" (the whole video).
        tool: what a press on the frame does: "click" (points, and boxes by dragging),
            "brush" or "eraser" (paint onto / erase from the selected object's mask).
        brush_size: the brush and eraser radius in frame pixels.
        doubt_threshold: a mask whose engine confidence is below this (0..1, default 0.5)
            is doubtful: red on the timeline's confidence strip, and where the "next
            doubtful" button and the n key (shift-n: previous) jump to.
        fps: playback rate, the video's own by default.
        objects, prompts, progress, timeline: mirrors of the Segmenter, set by Python only.
            Each timeline lane holds the object's frames with a mask, its per-frame score
            (IoU with the previous frame, or J with ground truth) and its per-frame
            ``confidence`` (the engine's, :meth:`Segmenter.confidence`; None where none).
        cache_mb, prefetch: the browser's decoded-frame budget and read-ahead while playing.
        autosave_path, autosave_s: save the session there every so many seconds ("" is off;
            Python only, see :meth:`autosave`); autosaved: time of the last autosave.

    The player follows the Segmenter's events, whoever calls it: prompts, undo,
    ``remove_object`` (the object leaves the list) and ``reset`` (objects, visibility,
    progress and timeline start afresh; the frame and settings stay). An object added in
    the player is listed before it has a prompt, and an undo in the player keeps its object
    listed. Masks written straight into ``seg.masks`` (``seg.masks.set(...)``) emit no
    event, so the player does not see them until that frame is sent again (e.g. after a
    prompt on it or a re-display); use ``seg.add_mask`` to give a mask the player shows.
    """

    _esm = _bundle("player.js", _MISSING_BUNDLE)
    _css = _bundle("player.css", "")

    # video facts, set once from Python
    num_frames = t.Int(1).tag(sync=True)
    width = t.Int(1).tag(sync=True)
    height = t.Int(1).tag(sync=True)
    fps = t.Float(24.0).tag(sync=True)
    engine = t.Unicode("").tag(sync=True)
    palette = t.List(t.Unicode(), default_value=list(OBJECT_COLORS)).tag(sync=True)
    mask_encoding = t.Unicode(MASK_ENCODING).tag(sync=True)

    # durable state: the browser may change these (validated)
    frame = t.Int(0).tag(sync=True)
    selected = t.Int(1).tag(sync=True)
    overlay = t.Enum(("filled", "contour", "off"), default_value="filled").tag(sync=True)
    opacity = t.Float(0.5).tag(sync=True)
    follow = t.Bool(True).tag(sync=True)  # the player follows the propagation head
    direction = t.Enum(("forward", "backward", "both"), default_value="both").tag(sync=True)
    scope = t.Enum(("next_prompt", "video"), default_value="next_prompt").tag(sync=True)
    tool = t.Enum(("click", "brush", "eraser"), default_value="click").tag(sync=True)
    brush_size = t.Float(12.0).tag(sync=True)
    doubt_threshold = t.Float(0.5).tag(sync=True)

    # durable state owned by Python
    objects = t.List(t.Dict()).tag(sync=True)  # [{"id": 1, "color": "#1f77b4", "visible": True, "label": "person" | None}]
    prompts = t.List(t.Dict()).tag(sync=True)  # [{"frame", "obj_id", "kind", "points", "labels", "box"}]
    progress = t.Dict().tag(sync=True)  # {"running", "done", "total", "cancelled"}
    timeline = t.Dict().tag(sync=True)  # {"kind": "iou_prev" | "J" | None, "lanes": [{obj_id, present, scores, confidence}]}
    cache_mb = t.Int(256).tag(sync=True)  # the browser's budget for decoded frames
    prefetch = t.Int(24).tag(sync=True)  # frames requested ahead while playing
    cuts = t.List(t.Int()).tag(sync=True)  # shot boundaries drawn on the timeline (see show_shots)
    working = t.Unicode("").tag(sync=True)  # what the kernel computes before it can answer a prompt, shown in the status line
    # Autosave (see autosave()): set from Python only; the browser may not choose where files go.
    autosave_path = t.Unicode("").tag(sync=True)  # "" = off
    autosave_s = t.Float(60.0).tag(sync=True)  # seconds between autosaves
    autosaved = t.Unicode("").tag(sync=True)  # local time (HH:MM:SS) of the last autosave, "" before

    def __init__(self, seg, jpeg_quality: int = 85, max_width: int | None = 1280, autosave=None, autosave_s: float = 60.0, **kwargs):
        video = seg.video
        super().__init__(
            num_frames=len(video),
            width=video.width,
            height=video.height,
            fps=float(video.fps),
            engine=seg.engine_name,
            **kwargs,
        )
        self.seg = seg
        self.jpeg_quality = int(jpeg_quality)
        self.max_width = max_width
        self.last_error: str | None = None  # the last error event sent (for tests and users)
        self.internal_errors: list[str] = []  # tracebacks of messages that hit a bug (never raised into the kernel)
        # Placeholders: objects listed in the player that the Segmenter does not have (yet):
        # added in the player and not prompted, or whose last prompt an undo in the player
        # took back. Every other listed object is one of seg.obj_ids, and goes when the
        # Segmenter forgets it (seg.remove_object, seg.undo or seg.reset from Python).
        self._extra: set[int] = set()
        self._hidden: set[int] = set()
        # Labels given in the player to placeholders (the Segmenter cannot label an object
        # it does not have); they go to the Segmenter once the object gets a prompt.
        self._extra_labels: dict[int, str] = {}
        self._prompt_ids: dict = {}  # id(Prompt) -> Prompt, to see which frames a change touched
        self._send_lock = threading.Lock()  # read-then-send of masks is atomic: newest wins
        # (thread, id) of the browser message being handled, whose masks replies carry its id
        self._replying: tuple[int, int] | None = None
        self._jpegs: OrderedDict[int, bytes] = OrderedDict()
        self._jpeg_bytes = 0
        self._thread: threading.Thread | None = None
        self._timeline_at = 0.0
        self._sync_prompts()
        self._sync_objects()
        self._update_timeline()
        self.progress = {"running": False, "done": 0, "total": 0, "cancelled": False}
        seg.observe(self._on_event)
        self.on_msg(self._on_msg)
        self._rest_timer: threading.Timer | None = None
        self.observe(self._on_frame_change, names="frame")
        self._prepare_soon()
        self._autosaver = None
        self.observe(self._on_autosave_change, names=["autosave_path", "autosave_s"])
        if autosave is not None:
            self.autosave(autosave, every_s=autosave_s)

    # -- autosave -----------------------------------------------------------------------------
    def autosave(self, path, every_s: float | None = None) -> None:
        """Save the Segmenter to ``path`` every ``every_s`` seconds (the ``autosave_s`` trait,
        60 by default) whenever its prompts, masks or labels changed; None stops it.

        Saves are atomic (:meth:`Segmenter.save`), skipped while a propagation runs, and a
        failure shows in the status line and is retried on the next tick. Closing the player
        saves what changed since the last autosave. Same as setting the ``autosave_path`` and
        ``autosave_s`` traits from Python.

        Raises:
            OutputPathError: ``path`` cannot be written (at once).
        """
        with self.hold_trait_notifications():
            if every_s is not None:
                self.autosave_s = float(every_s)
            self.autosave_path = "" if path is None else str(path)

    @t.validate("autosave_s")
    def _valid_autosave_s(self, proposal):
        value = proposal["value"]
        if not (value > 0 and math.isfinite(value)):
            raise t.TraitError(f"autosave_s must be a positive number of seconds, got {value}.")
        return value

    @t.validate("autosave_path")
    def _valid_autosave_path(self, proposal):
        from .persist.atomic import check_output_path

        if proposal["value"]:
            check_output_path(proposal["value"], "autosave")  # OutputPathError names the fix
        return proposal["value"]

    def _on_autosave_change(self, change) -> None:
        from .persist.autosave import Autosaver

        if self._autosaver is not None:
            self._autosaver.stop(flush=False)
            self._autosaver = None
        if self.autosave_path:
            self._autosaver = Autosaver(
                self.seg, self.autosave_path, self.autosave_s, on_error=self._error, on_saved=self._on_autosaved
            )

    def _on_autosaved(self, when: float) -> None:
        self.autosaved = time.strftime("%H:%M:%S", time.localtime(when))

    def close(self) -> None:
        """Close the widget; a running autosave saves what changed and stops."""
        if getattr(self, "_autosaver", None) is not None:
            self._autosaver.stop(flush=not self.seg.busy)
            self._autosaver = None
        super().close()

    def show_shots(self, shots) -> None:
        """Draw shot boundaries on the timeline.

        Args:
            shots: the DataFrame of :func:`vseg_widgets.shots.detect` (its ``start_frame``
                column), or the first frames of the new shots as ints.
        """
        starts = shots["start_frame"] if hasattr(shots, "columns") else shots
        self.cuts = sorted({int(f) for f in starts} - {0})

    # -- validation of trait changes ------------------------------------------------------
    @t.validate("cuts")
    def _valid_cuts(self, proposal):
        bad = [f for f in proposal["value"] if not 0 <= f < self.num_frames]
        if bad:
            raise t.TraitError(f"cut frames {bad} do not exist: this video has frames 0..{self.num_frames - 1}.")
        return proposal["value"]

    @t.validate("frame")
    def _valid_frame(self, proposal):
        frame = proposal["value"]
        if not 0 <= frame < self.num_frames:
            raise t.TraitError(f"frame {frame} does not exist: this video has frames 0..{self.num_frames - 1}.")
        return frame

    @t.validate("selected")
    def _valid_selected(self, proposal):
        obj = proposal["value"]
        known = [o["id"] for o in self.objects]
        if known and obj not in known:
            raise t.TraitError(f"no object {obj}; known objects: {known}.")
        return obj

    @t.validate("brush_size")
    def _valid_brush_size(self, proposal):
        value = proposal["value"]
        if not MIN_BRUSH_RADIUS <= value <= MAX_BRUSH_RADIUS:
            raise t.TraitError(f"brush_size must be in [{MIN_BRUSH_RADIUS:g}, {MAX_BRUSH_RADIUS:g}] pixels, got {value}.")
        return value

    @t.validate("opacity")
    def _valid_opacity(self, proposal):
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise t.TraitError(f"opacity must be in [0, 1], got {value}.")
        return value

    @t.validate("doubt_threshold")
    def _valid_doubt_threshold(self, proposal):
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:  # NaN fails this too
            raise t.TraitError(f"doubt_threshold must be a confidence in [0, 1], got {value}.")
        return value

    def set_state(self, sync_data):
        """Apply a state update from the browser, or refuse it whole with an error event."""
        readonly = sorted(set(sync_data) - FRONTEND_TRAITS)
        before = {k: getattr(self, k) for k in sync_data if k in FRONTEND_TRAITS}
        try:
            if readonly:
                raise t.TraitError(f"the player may not set {', '.join(readonly)}.")
            super().set_state(sync_data)
        except Exception as exc:  # noqa: BLE001 - whatever the browser sent, never raise into the kernel
            # traitlets rolls back only a TraitError of its final validation; a value that
            # fails to convert (float(10**400): OverflowError) leaves the traits set before it.
            for name, value in before.items():
                self.set_trait(name, value)
            if isinstance(exc, (t.TraitError, TypeError, ValueError, OverflowError)):
                self._error(str(exc))
            else:  # a bug of ours: report it
                self.internal_errors.append(traceback.format_exc())
                self._error(f"internal error on a state update ({type(exc).__name__}: {exc}); please report it.")
            self.send_state([k for k in sync_data if k in self.keys])  # put the browser back

    # -- messages from the browser ----------------------------------------------------------
    def _on_msg(self, _widget, content, buffers) -> None:
        try:
            if not isinstance(content, dict) or not isinstance(content.get("type"), str):
                raise MessageError(f"a message must be an object with a string 'type', got {content!r:.80}.")
            handler = getattr(self, "_msg_" + content["type"], None)
            if handler is None:
                raise MessageError(f"unknown message type {content['type']!r:.40}.")
            reply_id = content.get("id")
            if reply_id is not None and (not isinstance(reply_id, int) or isinstance(reply_id, bool)
                                         or not 0 <= reply_id < 2**53):
                raise MessageError(f"id must be an integer in 0..2**53, got {reply_id!r:.20}.")
            self._replying = None if reply_id is None else (threading.get_ident(), reply_id)
            try:
                handler(content)
            finally:
                self._replying = None
        except (VsegError, ValueError, IndexError, KeyError, TypeError) as exc:
            self._error(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug of ours: report it, never raise into the kernel
            self.internal_errors.append(traceback.format_exc())
            self._error(f"internal error on a {_short(content.get('type') if isinstance(content, dict) else content)} "
                        f"message ({type(exc).__name__}: {exc}); please report it. Nothing was changed by it.")

    def _msg_request_frames(self, msg) -> None:
        for frame in self._frames_field(msg, MAX_FRAMES_PER_REQUEST):
            self._send_frame(frame)

    def _msg_request_masks(self, msg) -> None:
        self._send_masks(self._frames_field(msg, MAX_MASKS_PER_REQUEST))

    def _msg_click(self, msg) -> None:
        frame, obj = self._frame_field(msg), self._object_field(msg)
        x, y = _number(msg, "x"), _number(msg, "y")
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise MessageError(f"click at ({x:g}, {y:g}) is outside the {self.width}x{self.height} frame.")
        label = msg.get("label")
        if label not in (0, 1) or isinstance(label, bool):
            raise MessageError(f"label must be 1 (positive) or 0 (negative), got {label!r:.20}.")
        self._check_idle()
        with self._working(frame):
            self.seg.add_points(frame, obj, [(x, y)], [label])

    def _msg_box(self, msg) -> None:
        frame, obj = self._frame_field(msg), self._object_field(msg)
        box = msg.get("box")
        if not isinstance(box, list) or len(box) != 4:
            raise MessageError(f"box must be [x0, y0, x1, y1], got {box!r:.60}.")
        box = [_number({"v": v}, "v") for v in box]
        self._check_idle()
        with self._working(frame):
            self.seg.add_box(frame, obj, box)  # the Segmenter checks emptiness and bounds

    def _msg_undo(self, msg) -> None:
        self._check_idle()
        if not self.seg.prompts:
            raise MessageError("nothing to undo: no prompt has been given.")
        # An undo in the player never takes its object out of the list (the person is
        # still working on it): it stays as a placeholder if the Segmenter forgets it.
        obj = self.seg.prompts[-1].obj_id
        self._extra.add(obj)
        label = self.seg.labels.get(obj)
        if label is not None:  # shown on the placeholder, given back with its next prompt
            self._extra_labels[obj] = label
        self.seg.undo()
        self._sync_objects()

    def _msg_add_object(self, msg) -> None:
        self.add_object()

    def _msg_remove_object(self, msg) -> None:
        obj = self._object_field(msg)
        self._check_idle()
        self.remove_object(obj)

    def _msg_set_visible(self, msg) -> None:
        obj = self._object_field(msg)
        visible = msg.get("visible")
        if not isinstance(visible, bool):
            raise MessageError(f"visible must be true or false, got {visible!r:.20}.")
        (self._hidden.discard if visible else self._hidden.add)(obj)
        self._sync_objects()

    def _msg_label(self, msg) -> None:
        obj = self._object_field(msg)
        label = msg.get("label")
        if not isinstance(label, str):
            raise MessageError(f"label must be a string (\"\" clears it), got {label!r:.20}.")
        self.set_label(obj, label)

    def _msg_stroke(self, msg) -> None:
        frame, obj = self._frame_field(msg), self._object_field(msg)
        tool = msg.get("tool")
        if tool not in ("brush", "eraser"):
            raise MessageError(f"tool must be 'brush' or 'eraser', got {tool!r:.20}.")
        radius = _number(msg, "radius")
        if not MIN_BRUSH_RADIUS <= radius <= MAX_BRUSH_RADIUS:
            raise MessageError(f"radius must be in [{MIN_BRUSH_RADIUS:g}, {MAX_BRUSH_RADIUS:g}] pixels, got {radius:g}.")
        points = msg.get("points")
        if not isinstance(points, list) or not 0 < len(points) <= MAX_STROKE_POINTS:
            raise MessageError(f"points must be a list of 1..{MAX_STROKE_POINTS} [x, y] pairs, got {points!r:.60}.")
        xy = []
        for p in points:
            if not isinstance(p, list) or len(p) != 2:
                raise MessageError(f"each stroke point must be [x, y], got {p!r:.40}.")
            x, y = _number({"x": p[0]}, "x"), _number({"y": p[1]}, "y")
            if not (0 <= x <= self.width and 0 <= y <= self.height):
                raise MessageError(f"stroke point ({x:g}, {y:g}) is outside the {self.width}x{self.height} frame.")
            xy.append((x, y))
        self._check_idle()
        if tool == "eraser" and (frame, obj) not in self.seg.masks:
            raise MessageError(f"nothing to erase: object {obj} has no mask on frame {frame}.")
        from .brush import rasterize_stroke

        stroke = rasterize_stroke(xy, radius, (self.height, self.width))
        if tool == "brush":
            self.seg.edit_mask(frame, obj, add=stroke)
        else:
            self.seg.edit_mask(frame, obj, remove=stroke)

    def _msg_propagate(self, msg) -> None:
        direction = msg.get("direction", self.direction)
        if direction not in ("forward", "backward", "both"):
            raise MessageError(f"direction must be 'forward', 'backward' or 'both', got {direction!r:.20}.")
        scope = msg.get("scope", self.scope)
        if scope not in ("next_prompt", "video"):
            raise MessageError(f"scope must be 'next_prompt' or 'video', got {scope!r:.20}.")
        self.propagate(direction, scope)

    def _msg_cancel(self, msg) -> None:
        self.seg.cancel()

    # -- per-frame features ahead of a prompt (the learned engine's embedding) --------------------
    @contextmanager
    def _working(self, frame: int):
        """Say in the status line that image features are computed, if the prompt must wait for them."""
        if not self.seg.ready(frame):
            self.working = f"Computing image features of frame {frame}… (under a second, once per frame)"
        try:
            yield
        finally:
            self.working = ""

    def _on_frame_change(self, change) -> None:
        self._prepare_soon()

    def _prepare_soon(self) -> None:
        """Prepare the shown frame once the player has rested on it (not while it plays)."""
        if self._rest_timer is not None:
            self._rest_timer.cancel()
        frame = self.frame
        self._rest_timer = threading.Timer(REST_S, self._prepare_if_resting, args=(frame,))
        self._rest_timer.daemon = True
        self._rest_timer.start()

    def _prepare_if_resting(self, frame: int) -> None:
        if frame == self.frame and not self.running:
            self.seg.prepare(frame)

    # -- field validation ---------------------------------------------------------------
    def _frame_field(self, msg, key: str = "frame") -> int:
        frame = msg.get(key)
        if not isinstance(frame, int) or isinstance(frame, bool):
            raise MessageError(f"{key} must be an integer, got {frame!r:.20}.")
        if not 0 <= frame < self.num_frames:
            raise MessageError(f"frame {frame} does not exist: this video has frames 0..{self.num_frames - 1}.")
        return frame

    def _frames_field(self, msg, limit: int) -> list[int]:
        frames = msg.get("frames")
        if not isinstance(frames, list) or not 0 < len(frames) <= limit:
            raise MessageError(f"frames must be a list of 1..{limit} frame numbers, got {frames!r:.60}.")
        return [self._frame_field({"frame": f}) for f in frames]

    def _object_field(self, msg) -> int:
        obj = msg.get("obj_id")
        known = [o["id"] for o in self.objects]
        if not isinstance(obj, int) or isinstance(obj, bool) or obj not in known:
            raise MessageError(f"unknown object {obj!r:.20}; known objects: {known}.")
        return obj

    def _check_idle(self) -> None:
        if self.seg.busy or self.running:
            raise MessageError("busy: a propagation is running; cancel it (Escape) or wait for it to finish.")

    # -- actions (also callable from Python) ---------------------------------------------------
    def add_object(self) -> int:
        """Add an object with the next free id, select it and return its id."""
        obj = max([o["id"] for o in self.objects] + [0]) + 1
        self._extra.add(obj)
        self._sync_objects()
        self.selected = obj
        return obj

    def remove_object(self, obj_id: int) -> None:
        """Remove an object from the player and, if it has prompts or masks, from the Segmenter."""
        self._extra.discard(obj_id)
        self._hidden.discard(obj_id)
        self._extra_labels.pop(obj_id, None)
        if obj_id in self.seg.obj_ids:
            self.seg.remove_object(obj_id)  # emits "prompts" and "masks"
        self._sync_objects()

    def set_label(self, obj_id: int, label: str | None) -> None:
        """Label an object of the player's list (also one not prompted yet); None or "" clears."""
        from .session import check_label

        label = check_label(label)  # LabelError names the problem
        if obj_id in self.seg.obj_ids:
            self.seg.set_label(obj_id, label)  # emits "labels"
            return
        known = [o["id"] for o in self.objects]
        if obj_id not in known:
            raise MessageError(f"unknown object {obj_id!r:.20}; known objects: {known}.")
        if label is None:
            self._extra_labels.pop(obj_id, None)
        else:
            self._extra_labels[obj_id] = label
        self._sync_objects()

    def propagate(self, direction: str = "both", scope: str | None = None) -> None:
        """Start propagating in a background thread; returns at once (see :meth:`wait`).

        ``scope`` "next_prompt" carries the prompts given since the last propagation on,
        each up to its object's next prompt; "video" re-propagates the whole video; None
        takes the ``scope`` trait.
        """
        scope = self.scope if scope is None else scope
        if scope not in ("next_prompt", "video"):
            raise MessageError(f"scope must be 'next_prompt' or 'video', got {scope!r:.20}.")
        self._check_idle()
        if not self.seg.prompts:
            raise MessageError("nothing to propagate: click on an object first.")
        self.progress = {"running": True, "done": 0, "total": 0, "cancelled": False}
        self._thread = threading.Thread(target=self._run_propagation, args=(direction, scope), daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while a propagation started from the player runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a propagation started from the player ends; False on timeout."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run_propagation(self, direction: str, scope: str) -> None:
        try:
            self.seg.propagate(direction, progress=False, until_prompt=scope == "next_prompt")
        except Exception as exc:  # noqa: BLE001 - a thread must report, not die silently
            self._error(f"propagation failed: {exc}")
        finally:
            self.progress = {**self.progress, "running": False}
            self._update_timeline()

    # -- events from the Segmenter -----------------------------------------------------------
    def _on_event(self, event: str, **payload) -> None:
        if event == "prompts":
            before = self._prompt_ids
            self._sync_prompts()
            self._sync_objects()
            # A prompt emits no "masks" event: resend the frames whose prompts changed.
            changed = {p.frame for p in self.seg.prompts if id(p) not in before}
            changed |= {p.frame for pid, p in before.items() if pid not in self._prompt_ids}
            self._send_masks(sorted(changed))
            self._update_timeline()
        elif event == "masks":
            frames = payload.get("frames")
            if frames is None:
                with self._send_lock:
                    self.send({"type": "masks_reset"})
                if not self.seg.prompts and not self.seg.masks.frames():
                    self._reset()
            else:
                self._send_masks(frames)
            if not self.running or time.monotonic() - self._timeline_at > TIMELINE_INTERVAL_S:
                self._update_timeline()
        elif event == "progress":
            self.progress = {
                "running": not payload.get("finished", False),
                "done": int(payload.get("done", 0)),
                "total": int(payload.get("total", 0)),
                "cancelled": bool(payload.get("cancelled", False)),
            }
            if payload.get("finished"):
                self._update_timeline()
        elif event == "ground_truth":
            self._update_timeline()
        elif event == "labels":
            self._sync_objects()

    # -- state -----------------------------------------------------------------------------
    def _reset(self) -> None:
        """The Segmenter was reset (it holds nothing): so is the player, but for its frame and settings."""
        self._extra.clear()
        self._hidden.clear()
        self._extra_labels.clear()
        self._sync_objects()  # object 1 alone, selected
        if not self.running:
            self.progress = {"running": False, "done": 0, "total": 0, "cancelled": False}
        self._update_timeline()

    def _sync_prompts(self) -> None:
        self.prompts = [_prompt_json(p) for p in self.seg.prompts]
        # Prompts are immutable: identity tells what changed. Holding them keeps ids unique.
        self._prompt_ids = {id(p): p for p in self.seg.prompts}

    def _sync_objects(self) -> None:
        known = set(self.seg.obj_ids)
        self._extra -= known  # a placeholder that got a prompt is the Segmenter's now
        for obj in sorted(known & set(self._extra_labels)):  # so does a label given to it
            label = self._extra_labels.pop(obj)
            if obj not in self.seg.labels:
                self.seg.set_label(obj, label)  # emits "labels", which syncs again: harmless
        ids = sorted(known | self._extra)
        if not ids:  # always something to click for
            self._extra.add(1)
            ids = [1]
        self._hidden &= set(ids)  # a removed object's id comes back visible
        self._extra_labels = {o: v for o, v in self._extra_labels.items() if o in self._extra}
        labels = {**self._extra_labels, **self.seg.labels}
        self.objects = [
            {"id": o, "color": object_color(o), "visible": o not in self._hidden, "label": labels.get(o)} for o in ids
        ]
        if ids and self.selected not in ids:
            self.selected = ids[0]
        if self.timeline and [lane["obj_id"] for lane in self.timeline["lanes"]] != ids:
            self._update_timeline()  # one lane per listed object: none left for a removed placeholder

    def _update_timeline(self) -> None:
        """Per object: frames with a mask (as [start, stop) ranges), a per-frame score and the engine's confidence."""
        self._timeline_at = time.monotonic()
        from .metrics import timeline_scores  # pandas-heavy: imported on first use

        store, gt = self.seg.masks, self.seg.ground_truth
        scores, kind = timeline_scores(store, gt), ("J" if gt is not None else "iou_prev")
        lanes = []
        known = set(self.seg.obj_ids)
        for obj in [o["id"] for o in self.objects]:
            score = scores.get(obj)
            confidence = self.seg.confidence(obj) if obj in known else None
            if confidence is not None and not np.isfinite(confidence).any():
                confidence = None  # an engine without confidence: no strip
            lanes.append(
                {
                    "obj_id": obj,
                    "present": _ranges(store.frames(obj)),
                    "scores": _rounded(score),
                    "confidence": _rounded(confidence),
                }
            )
        self.timeline = {"kind": kind, "lanes": lanes}

    # -- sending -----------------------------------------------------------------------------
    def _send_frame(self, frame: int) -> None:
        jpeg = self._jpegs.get(frame)
        if jpeg is None:
            jpeg = encode_jpeg(self.seg.video[frame], self.jpeg_quality, self.max_width)
            self._jpegs[frame] = jpeg
            self._jpeg_bytes += len(jpeg)
            while self._jpeg_bytes > 64 * 2**20 and len(self._jpegs) > 1:  # bounded, like the browser's
                self._jpeg_bytes -= len(self._jpegs.popitem(last=False)[1])
        else:
            self._jpegs.move_to_end(frame)
        self.send({"type": "frame", "frame": frame, "mime": "image/jpeg"}, buffers=[jpeg])

    def _send_masks(self, frames) -> None:
        replying = self._replying
        # Only this thread's handler's masks answer its message (not a propagation's, meanwhile).
        reply = {"reply_to": replying[1]} if replying and replying[0] == threading.get_ident() else {}
        for frame in frames:
            with self._send_lock:  # read and send together, so a stale read never lands last
                masks = self.seg.masks[frame]
                self.send(
                    {"type": "masks", "frame": frame, "objects": list(masks), **reply},
                    buffers=[encode_mask(m) for m in masks.values()],
                )

    def _error(self, message: str) -> None:
        self.last_error = message
        self.send({"type": "error", "message": message})


def _number(msg, key: str) -> float:
    value = msg.get(key)
    try:  # float() of an int beyond 1e308 (JSON allows any length) overflows
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:
        number = math.nan
    if not math.isfinite(number):
        raise MessageError(f"{key} must be a finite number, got {_short(value)}.")
    return number


def _short(value, limit: int = 20) -> str:
    """repr of an untrusted value, cut to ``limit`` characters (ints of any length included)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**limit:
        return f"an integer of {len(str(abs(value)))} digits"
    return f"{value!r:.{limit}}"


def _rounded(values) -> list | None:
    """(T,) floats -> a JSON list rounded to 3 decimals, None for NaN; None for None."""
    return None if values is None else [None if not math.isfinite(v) else round(float(v), 3) for v in values]


def _prompt_json(p) -> dict:
    """A Prompt as JSON for the browser (mask prompts carry no pixels)."""
    out = {"frame": p.frame, "obj_id": p.obj_id, "kind": p.kind}
    if p.kind == "points":
        out["points"] = np.round(p.points.astype(np.float64), 2).tolist()
        out["labels"] = p.labels.tolist()
    elif p.kind == "box":
        out["box"] = np.round(p.box.astype(np.float64), 2).tolist()
    return out


def _ranges(frames: list[int]) -> list[list[int]]:
    """Sorted frame numbers -> [[start, stop), ...] runs of consecutive frames."""
    out: list[list[int]] = []
    for f in frames:
        if out and out[-1][1] == f:
            out[-1][1] = f + 1
        else:
            out.append([f, f + 1])
    return out
