"""The Segmenter: prompts + an engine session + the mask store, with propagation.

``vw.Segmenter(video)`` is usable from plain Python; displayed in a notebook it is the
interactive player (:mod:`vseg_widgets.widget`), which calls the same methods. Data flows
one way: video -> engine session -> mask store -> (player, tables, exports).
"""

from __future__ import annotations

import threading
import unicodedata
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from .engines import DEFAULT, bounded, get_engine
from .errors import EngineError, LabelError, MaskShapeError, PromptError, StrokeError, UnknownObjectError
from .masks import MaskStore, _bytes_rle, check_obj_id
from .video import Video, open_video

Direction = Literal["forward", "backward", "both"]
Listener = Callable[..., None]


@dataclass(frozen=True)
class Prompt:
    """One user prompt. Coordinates are full-resolution pixels.

    kind "points": ``points`` (N, 2) float32 (x, y) and ``labels`` (N,) int32 (1 positive,
    0 negative); kind "box": ``box`` (4,) float32 (x0, y0, x1, y1); kind "mask": ``mask``
    (H, W) bool.
    """

    frame: int
    obj_id: int
    kind: Literal["points", "box", "mask"]
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    box: np.ndarray | None = None
    mask: np.ndarray | None = field(default=None, repr=False)


# The columns of Segmenter.to_dataframe(), in order (also those of vw.batch.propagate's table).
TABLE_COLUMNS = ["frame", "time_s", "obj_id", "label", "area_px", "area_frac", "bbox", "centroid", "iou_prev", "source",
                 "confidence", "engine_ms"]


@dataclass
class SessionState:
    """Everything of a Segmenter's work that a session file keeps (see
    :mod:`vseg_widgets.persist`), as plain data; the engine's state is not in it.

    masks: (frame, obj_id, COCO RLE with str counts, source "prompt" | "propagated").
    undo: per prompt (same order), (before, after) as in the undo records, or None:
        before {obj: (RLE | None, source | None, confidence | None) | None}, after {obj: RLE | None}.
    pending: (frame, obj_id) prompted since the last propagation, in order.
    confidence: (frame, obj_id) -> the engine's confidence in that mask (absent: none).
    """

    prompts: list[Prompt]
    masks: list[tuple[int, int, dict, str]]
    labels: dict[int, str]
    pending: list[tuple[int, int]]
    undo: list[tuple[dict, dict] | None]
    confidence: dict[tuple[int, int], float] = field(default_factory=dict)


@dataclass(frozen=True)
class PropagationReport:
    """What one call of :meth:`Segmenter.propagate` did."""

    frames: int
    seconds: float
    cancelled: bool = False

    def __repr__(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else float("nan")
        state = "cancelled after" if self.cancelled else "propagated"
        return f"<{state} {self.frames} frames in {self.seconds:.1f} s ({rate:.1f} frames/s)>"


class Segmenter:
    """Prompt objects on a video, propagate their masks, and read the results.

    Args:
        video: anything :func:`vseg_widgets.open_video` takes (path, folder, array, Video).
        engine: "learned" (the default: the image prompt model that ships with the install
            answers clicks and boxes, the classic tracker propagates), "classic" (no model
            weights at all), "sam2", or an Engine instance.

    Attributes:
        video: the :class:`Video`.
        masks: the :class:`MaskStore` of every (frame, object) mask.
        prompts: the prompts in the order they were given (a brush edit is a "mask" prompt).
        labels: {obj_id: label} of the labelled objects (see :meth:`set_label`).
        pending_corrections: (frame, obj_id) prompted since the last propagation.
    """

    def __init__(self, video, engine=DEFAULT):
        self.video: Video = open_video(video)
        self.engine = get_engine(engine)
        self._session = bounded.init_session(self.engine, self.video)  # 4K: the engine works at 1080p
        self.masks = MaskStore.like(self.video)
        self.prompts: list[Prompt] = []
        self.ground_truth: MaskStore | None = None
        self._source: dict[tuple[int, int], str] = {}  # (frame, obj) -> "prompt" | "propagated"
        self._engine_ms: dict[int, float] = {}  # frame -> engine time of its last computation
        # (frame, obj) -> the engine's confidence in that mask, [0, 1] (NaN: it gave none);
        # set with the mask, by prompts and propagation (see engines.base.ScoringSession).
        self._confidence: dict[tuple[int, int], float] = {}
        # obj_id -> label (see set_label): the mask store's own dict, so that its exports
        # (to_yolo, to_youtube_vis, to_coco_json) carry the labels too.
        self._labels: dict[int, str] = self.masks.labels
        # id(prompt) -> (prompt, before, after): the masks of the prompt's frame that it
        # changed, as (RLE, source, confidence) before it and RLE after it, so undo restores
        # them exactly.
        self._undo: dict[int, tuple[Prompt, dict, dict]] = {}
        # (frame, obj) prompted since the last propagation: the corrections that
        # propagate(until_prompt=True) carries on from (insertion-ordered).
        self._pending: dict[tuple[int, int], None] = {}
        self._listeners: list[Listener] = []
        self._cancel = threading.Event()
        self._lock = threading.RLock()  # one engine call at a time (player thread vs. caller)
        self._busy = False
        self._player = None

    # -- prompts ----------------------------------------------------------------------
    def add_points(self, frame: int, obj_id: int, points, labels=None) -> dict[int, np.ndarray]:
        """Click points on ``frame`` for object ``obj_id``; returns the frame's masks.

        Args:
            points: [(x, y), ...] pixel coordinates, shape (N, 2).
            labels: [1, 0, ...], 1 = on the object (default for every point), 0 = not on it.

        Returns:
            ``{obj_id: (H, W) bool}`` of that frame after the prompt.
        """
        frame, obj_id = self.video.check_index(frame), check_obj_id(obj_id)
        pts = self._check_points(points)
        if labels is None:
            labels = np.ones(len(pts), np.int32)
        lbl = np.asarray(labels)
        if lbl.shape != (len(pts),):
            raise PromptError(
                f"{len(pts)} points but labels of shape {lbl.shape}: give one label per point "
                "(1 = positive, 0 = negative)."
            )
        if not np.isin(lbl, (0, 1)).all():
            raise PromptError(f"labels must be 1 (positive) or 0 (negative), got {sorted(set(lbl.tolist()))}.")
        return self._add(Prompt(frame, obj_id, "points", points=pts, labels=lbl.astype(np.int32)))

    def add_box(self, frame: int, obj_id: int, box) -> dict[int, np.ndarray]:
        """Prompt object ``obj_id`` with a box (x0, y0, x1, y1) in pixels; returns the frame's masks."""
        frame, obj_id = self.video.check_index(frame), check_obj_id(obj_id)
        b = np.asarray(box, np.float32)
        if b.shape != (4,) or not np.isfinite(b).all():
            raise PromptError(f"box must be four numbers (x0, y0, x1, y1), got {box!r}.")
        x0, y0, x1, y1 = b
        if not (x1 > x0 and y1 > y0):
            raise PromptError(f"box {tuple(b.tolist())} is empty: need x0 < x1 and y0 < y1.")
        if x0 < 0 or y0 < 0 or x1 > self.video.width or y1 > self.video.height:
            raise PromptError(
                f"box {tuple(b.tolist())} reaches outside the {self.video.width}x{self.video.height} "
                f"frame; clip it to 0 <= x <= {self.video.width}, 0 <= y <= {self.video.height}."
            )
        return self._add(Prompt(frame, obj_id, "box", box=b))

    def add_mask(self, frame: int, obj_id: int, mask) -> dict[int, np.ndarray]:
        """Give object ``obj_id``'s exact (H, W) bool mask on ``frame``; returns the frame's masks."""
        frame, obj_id = self.video.check_index(frame), check_obj_id(obj_id)
        return self._add(Prompt(frame, obj_id, "mask", mask=self.masks.check_mask(mask).copy()))

    def _check_points(self, points) -> np.ndarray:
        try:
            pts = np.asarray(points, np.float32).reshape(-1, 2) if len(points) else None
        except (TypeError, ValueError):
            pts = None
        if pts is None or not np.isfinite(pts).all():
            raise PromptError(f"points must be a non-empty list of (x, y) pixel pairs, got {points!r}.")
        outside = (pts[:, 0] < 0) | (pts[:, 0] >= self.video.width) | (pts[:, 1] < 0) | (pts[:, 1] >= self.video.height)
        if outside.any():
            raise PromptError(
                f"point {tuple(pts[outside][0].tolist())} lies outside the {self.video.width}x"
                f"{self.video.height} frame; x must be in [0, {self.video.width}) and y in "
                f"[0, {self.video.height}) (pixels, x first)."
            )
        return pts

    def edit_mask(self, frame: int, obj_id: int, add=None, remove=None) -> dict[int, np.ndarray]:
        """Paint onto (``add``) and erase from (``remove``) object ``obj_id``'s mask on ``frame``.

        The brush and eraser of the player call this. The edited mask (the current one, or
        an empty one where the object has none on that frame, ``| add & ~remove``) becomes
        the frame's mask prompt, as :meth:`add_mask` would make it: one undo step, and
        never overwritten by propagation.

        Args:
            add: (H, W) bool pixels to add, or None.
            remove: (H, W) bool pixels to remove, or None (applied after ``add``).

        Returns:
            ``{obj_id: (H, W) bool}`` of that frame after the edit.

        Raises:
            StrokeError: neither ``add`` nor ``remove`` given.
            MaskShapeError: a mask that is not (H, W) of 0/1 values.
        """
        frame, obj_id = self.video.check_index(frame), check_obj_id(obj_id)
        if add is None and remove is None:
            raise StrokeError("edit_mask needs add= or remove= (an (H, W) bool mask), got neither.")
        add = None if add is None else self.masks.check_mask(add)
        remove = None if remove is None else self.masks.check_mask(remove)
        with self._lock:  # read the mask to edit and prompt with the result as one step
            mask = self.masks.get(frame, obj_id)
            mask = np.zeros((self.video.height, self.video.width), bool) if mask is None else mask
            if add is not None:
                mask |= add
            if remove is not None:
                mask &= ~remove
            return self._add(Prompt(frame, obj_id, "mask", mask=mask))

    def _add(self, prompt: Prompt) -> dict[int, np.ndarray]:
        with self._guard():
            before = self._snapshot(prompt.frame)
            masks, problem = self._condition(prompt.frame, prompt.obj_id, [*self.prompts, prompt])
            after = self._snapshot(prompt.frame)
            changed = {o for o in before.keys() | after.keys() if before.get(o, (None,))[0] != after.get(o, (None,))[0]}
            changed.add(prompt.obj_id)
            self._undo[id(prompt)] = (
                prompt,
                {o: before.get(o) for o in changed},
                {o: after.get(o, (None,))[0] for o in changed},
            )
            self.prompts.append(prompt)
            self._pending[(prompt.frame, prompt.obj_id)] = None
        self._emit("prompts")
        if problem is not None:  # the engine's confidence was not valid; the prompt and masks are kept
            raise problem
        return masks

    def _snapshot(self, frame: int) -> dict[int, tuple[dict, str | None, float | None]]:
        """{obj: (stored RLE, source, confidence)} of every mask on ``frame`` (RLEs are never
        mutated in place)."""
        return {
            o: (self.masks.rle(frame, o), self._source.get((frame, o)), self._confidence.get((frame, o)))
            for o in self._frame_objects(frame)
        }

    def _condition(self, frame: int, obj_id: int, prompts: list[Prompt]) -> tuple[dict[int, np.ndarray], EngineError | None]:
        """Send the engine everything prompted for (frame, obj_id) and store its answer; returns
        the masks, and the EngineError to raise once the prompt is recorded if the engine's
        confidence was not valid (see :meth:`_engine_confidence`)."""
        points, labels, box, mask = _merge([p for p in prompts if (p.frame, p.obj_id) == (frame, obj_id)])
        start = time.perf_counter()
        try:
            masks = self._session.add_prompt(frame, obj_id, points=points, labels=labels, box=box, mask=mask)
        except EngineError:  # the engine's own, already naming the problem and the fix
            raise
        except Exception as exc:
            raise EngineError(f"engine {self.engine_name!r} failed on a prompt on frame {frame}: {exc!r}") from exc
        _, masks = self._check_answer(frame, masks, f"on a prompt on frame {frame}")
        self._engine_ms[frame] = 1000 * (time.perf_counter() - start)
        confidence, problem = self._engine_confidence(frame)
        self._store(frame, masks, prompted={obj_id}, confidence=confidence)
        return masks, problem

    def _engine_confidence(self, frame: int) -> tuple[dict[int, float], EngineError | None]:
        """The engine's {obj: confidence} of the masks it just returned for ``frame`` ({} for
        an engine without :class:`~vseg_widgets.engines.base.ScoringSession`), and the
        EngineError to raise once the masks are stored if its answer was not valid."""
        report = getattr(self._session, "confidence", None)
        if report is None:
            return {}, None
        try:
            answer = report(frame)
            out = {int(o): float(v) for o, v in dict(answer).items()}
        except Exception as exc:
            return {}, EngineError(
                f"engine {self.engine_name!r} failed to report the confidence of frame {frame}: {exc!r}. "
                "Its masks were kept (with no confidence); confidence(frame) must return {obj_id: float in [0, 1]}."
            )
        bad = {o: v for o, v in out.items() if np.isfinite(v) and not -1e-6 <= v <= 1 + 1e-6}
        if bad:
            return {o: v for o, v in out.items() if o not in bad}, EngineError(
                f"engine {self.engine_name!r} reported confidence {bad} on frame {frame}, outside [0, 1]. "
                "Its masks were kept; a confidence must lie in [0, 1] (NaN for none)."
            )
        return {o: min(1.0, max(0.0, v)) if np.isfinite(v) else np.nan for o, v in out.items()}, None

    def undo(self) -> Prompt | None:
        """Take back the last prompt; returns it (None if there was none).

        The prompt's frame gets back exactly the masks it had before the prompt: a
        propagated mask comes back as it was, bit for bit (an object that had none there has
        none again). Another object's mask that the prompt changed (prompted pixels win over
        tracked ones) comes back too, unless something changed it since. The engine is
        reset and given the remaining prompts again. Masks that a propagation computed after
        the prompt, on other frames, are kept until the next propagation.
        """
        with self._guard():
            if not self.prompts:
                return None
            last = self.prompts.pop()
            entry = self._undo.pop(id(last), None)
            self._session.reset()
            problems = [self._condition(frame, obj, self.prompts)[1] for frame, obj in dict.fromkeys((p.frame, p.obj_id) for p in self.prompts)]
            key = (last.frame, last.obj_id)
            still_prompted = any((p.frame, p.obj_id) == key for p in self.prompts)
            if not still_prompted:
                self._pending.pop(key, None)
            if entry is not None and entry[0] is last:
                _, before, after = entry
                for obj, was in before.items():
                    if obj != last.obj_id and self.masks.rle(last.frame, obj) != after[obj]:
                        continue  # changed since (a later propagation): leave it
                    self._restore(last.frame, obj, was)
            elif not still_prompted:  # no record (e.g. prompts put back by hand): forget the mask
                self.masks.discard(last.frame, last.obj_id)
                self._source.pop(key, None)
                self._confidence.pop(key, None)
        self._emit("prompts")
        self._emit("masks", frames=[last.frame])
        problem = next((p for p in problems if p is not None), None)
        if problem is not None:  # the undo is done; the engine's confidence was not valid
            raise problem
        return last

    def _restore(self, frame: int, obj: int, was: tuple[dict, str | None, float | None] | None) -> None:
        if was is None or was[0] is None:
            self.masks.discard(frame, obj)
            self._source.pop((frame, obj), None)
            self._confidence.pop((frame, obj), None)
        else:
            self.masks.set_rle(frame, obj, was[0])
            for table, value in ((self._source, was[1]), (self._confidence, was[2])):
                if value is None:
                    table.pop((frame, obj), None)
                else:
                    table[(frame, obj)] = value

    def remove_object(self, obj_id: int) -> None:
        """Forget an object: its prompts and its masks on every frame."""
        if obj_id not in self.obj_ids:
            raise UnknownObjectError(f"no object {obj_id}; known objects: {self.obj_ids}.")
        with self._guard():
            self._session.remove_object(obj_id)
            frames = self.masks.frames(obj_id)
            self.masks.remove_object(obj_id)
            self.prompts = [p for p in self.prompts if p.obj_id != obj_id]
            self._source = {k: v for k, v in self._source.items() if k[1] != obj_id}
            self._confidence = {k: v for k, v in self._confidence.items() if k[1] != obj_id}
            self._pending = {k: None for k in self._pending if k[1] != obj_id}
            self._undo = {k: v for k, v in self._undo.items() if v[0].obj_id != obj_id}
            had_label = self._labels.pop(obj_id, None) is not None
        self._emit("prompts")
        self._emit("masks", frames=frames)
        if had_label:
            self._emit("labels", labels=self.labels)

    def reset(self) -> None:
        """Forget every prompt and mask."""
        with self._guard():
            self._session.reset()
            self.prompts.clear()
            self.masks.clear()
            self._source.clear()
            self._confidence.clear()
            self._engine_ms.clear()
            self._pending.clear()
            self._undo.clear()
            had_labels = bool(self._labels)
            self._labels.clear()
        self._emit("prompts")
        self._emit("masks", frames=None)
        if had_labels:
            self._emit("labels", labels={})

    def prepare(self, frame: int) -> None:
        """Let the engine start, in the background, the per-frame work a prompt on ``frame``
        will need (the learned engine's image embedding); the player calls it when it rests
        on a frame. Engines without such work ignore it."""
        prepare = getattr(self._session, "prepare", None)
        if prepare is not None:
            prepare(self.video.check_index(frame))

    def ready(self, frame: int) -> bool:
        """False while a prompt on ``frame`` would first have to compute per-frame features
        (the learned engine's embedding, about half a second on a CPU); True otherwise."""
        ready = getattr(self._session, "ready", None)
        return True if ready is None else bool(ready(self.video.check_index(frame)))

    # -- keeping the work: save, load, export ----------------------------------------------
    def save(self, path) -> "Path":
        """Write the whole work to one file at ``path``, atomically; returns the path.

        The file (see ``docs/session-format.md``) holds the prompts, every mask (COCO RLE)
        with its source, the labels and colours, the undo history, the engine's name, and
        the video's path with a fingerprint (frame count, size, fps, hashes of a few
        frames). It is written to a temporary file in the same folder, flushed to disk and
        renamed over ``path``: a crash or a kill during a save leaves the previous file
        intact. Waits for a running propagation to finish.

        Raises:
            OutputPathError: the folder does not exist, cannot be written, ``path`` is a
                folder or a read-only file, or the disk is full.
        """
        from .persist import save_session

        return save_session(self, path)

    @classmethod
    def load(cls, path, video=None, engine=None, *, check_pixels: bool = True) -> "Segmenter":
        """A Segmenter restored from a file written by :meth:`save`.

        Args:
            path: the session file.
            video: the video (anything :func:`open_video` takes), or None to reopen the
                recorded path (tried as saved, then relative to the session file's folder).
            engine: the engine to continue with, or None for the one recorded.
            check_pixels: compare the hashes of the sampled frames too (False: only the
                frame count, size and fps), for the same video decoded by another build.

        The masks, prompts, labels, pending corrections and undo history come back as they
        were; the engine is given each prompted frame's mask, so propagation carries on
        from what was saved.

        Raises:
            SessionFileError: missing, truncated, corrupt, or not a session file.
            SessionVersionError: written by a newer vseg_widgets (the versions are named).
            VideoMismatchError: the video differs from the recorded fingerprint (what
                differs is named).
            VideoNotFoundError: no ``video`` given and the recorded one is gone.
        """
        from .persist import load_session

        return load_session(path, video=video, engine=engine, segmenter_class=cls, check_pixels=check_pixels)

    def export_video(self, path, overlay: str = "filled", fps: float | None = None, frames=None, progress: bool = True, opacity: float = 0.5) -> "Path":
        """Write the video with the masks drawn in: MP4 or GIF, chosen by the suffix.

        Args:
            path: ``.mp4`` (H.264 where OpenCV's FFmpeg has an encoder for it, else MPEG-4
                Part 2, "mp4v"; an odd width or height is padded by one pixel, as the
                encoders need even sizes) or ``.gif`` (Pillow; every frame is held in memory
                while writing, so keep GIFs short with ``frames=``; frame times are whole
                centiseconds).
            overlay: "filled" (tinted masks with their outlines) or "contour" (outlines).
            fps: frame rate of the file; the video's own by default.
            frames: the frames to write (an iterable of ints), every frame by default.
            progress: show a tqdm progress bar.
            opacity: 0..1, the tint of "filled" masks.

        Colours are the player's (:mod:`vseg_widgets.palette`); labelled objects get their
        label written beside the mask. Written atomically like :meth:`save`.

        Raises:
            EncoderMissingError: no encoder for the format (the message says what to install).
            OutputPathError: the file cannot be written there.
        """
        from .exports.overlay_video import export_video

        return export_video(self, path, overlay=overlay, fps=fps, frames=frames, progress=progress, opacity=opacity)

    def to_html(self, path, max_width: int | None = 854, quality: int = 80, max_mb: float | None = 200.0,
                title: str | None = None, progress: bool = True):
        """Write a standalone, read-only player: one HTML file that plays from ``file://`` in
        any browser, with no kernel and no network (to share a result with someone who has no
        Python, or for front ends without custom widgets).

        The page has the frames as JPEG, the masks at full resolution in the player's
        run-length encoding, the timeline with its scores (and the engine's confidence
        where it gives one), the objects with their colours, labels and visibility as the
        player shows them, and the player's script and styles inlined. In it one can play,
        scrub, step, seek on the timeline, show or hide objects and change the overlay and
        its opacity; prompts, edits and propagation need the notebook.

        Args:
            path: the ``.html`` file to write (atomically, like :meth:`save`).
            max_width: frames wider than this are downscaled (masks never are); None keeps
                the video's width. The frames are most of the file.
            quality: JPEG quality, 1..100.
            max_mb: refuse (``ExportTooLargeError``, nothing written) a file larger than
                this many megabytes; None for no limit.
            title: the page's title; a summary of the video by default.
            progress: show a tqdm progress bar.

        Returns:
            HtmlExport: the path and the size (``.size_mb``, and the share of frames, masks and
            player); it prints as a one-line summary and works as a path.

        Raises:
            ExportFormatError: a path not ending in .html, or a bad option.
            ExportTooLargeError: the file would exceed ``max_mb`` (the message says what shrinks it).
            PlayerBundleError: the player's bundle is not built (the message says how).
            OutputPathError: the file cannot be written there.
        """
        from .exports.html_player import export_html

        return export_html(self, path, max_width=max_width, quality=quality, max_mb=max_mb, title=title, progress=progress)

    def _get_state(self, blocking: bool = True) -> SessionState | None:
        """A consistent copy of the work (None if ``blocking`` is False and the Segmenter is
        busy). RLE dicts are shared, not copied: the store never mutates them in place."""
        if not self._lock.acquire(blocking=blocking):
            return None
        try:
            masks = [
                (f, o, self.masks.rle(f, o), self._source.get((f, o), "propagated"))
                for f in self.masks.frames()
                for o in self._frame_objects(f)
            ]
            undo = []
            for p in self.prompts:
                entry = self._undo.get(id(p))
                undo.append(None if entry is None or entry[0] is not p else (dict(entry[1]), dict(entry[2])))
            confidence = {key: c for key, c in self._confidence.items() if np.isfinite(c) and key in self.masks}
            return SessionState(list(self.prompts), masks, self.labels, list(self._pending), undo, confidence)
        finally:
            self._lock.release()

    def _set_state(self, state: SessionState) -> None:
        """Replace the work with ``state`` (a fresh Segmenter's, on load): masks, sources,
        prompts, labels, pending corrections and undo records exactly as given. The engine is
        reset and given each prompted (frame, object)'s stored mask as a mask prompt (cheap:
        no image model runs), so that it propagates from what the person saw; where a
        prompted pair has no stored mask its prompts are replayed."""
        with self._guard():
            self._session.reset()
            self.masks.clear()
            self._source.clear()
            self._engine_ms.clear()
            self._confidence.clear()
            for frame, obj, rle, source in state.masks:
                self.masks.set_rle(frame, obj, rle)
                self._source[(frame, obj)] = source
                self._confidence[(frame, obj)] = state.confidence.get((frame, obj), np.nan)
            self.prompts = list(state.prompts)
            self._labels.clear()
            self._labels.update(state.labels)
            self._pending = dict.fromkeys(state.pending)
            self._undo = {id(p): (p, *entry) for p, entry in zip(self.prompts, state.undo) if entry is not None}
            for frame, obj in dict.fromkeys((p.frame, p.obj_id) for p in self.prompts):
                mask = self.masks.get(frame, obj) if self._source.get((frame, obj)) == "prompt" else None
                try:
                    if mask is not None:
                        self._session.add_prompt(frame, obj, mask=mask)
                    else:
                        points, labels, box, prompt_mask = _merge([p for p in self.prompts if (p.frame, p.obj_id) == (frame, obj)])
                        self._session.add_prompt(frame, obj, points=points, labels=labels, box=box, mask=prompt_mask)
                except EngineError:
                    raise
                except Exception as exc:
                    raise EngineError(
                        f"engine {self.engine_name!r} failed to take the saved prompt of object {obj} on "
                        f"frame {frame}: {exc!r}. The masks were restored; load with another engine= to propagate."
                    ) from exc
        self._emit("prompts")
        self._emit("masks", frames=None)
        self._emit("labels", labels=self.labels)

    # -- labels -----------------------------------------------------------------------
    def set_label(self, obj_id: int, label: str | None) -> None:
        """Name object ``obj_id`` (e.g. "person"); None or "" clears its label.

        The label shows in the player's object list and is the ``label`` column of
        :meth:`to_dataframe` and of the metric tables. Surrounding whitespace is dropped.

        Raises:
            LabelError: ``label`` is not a string or None, is longer than
                :data:`MAX_LABEL_LENGTH` characters or holds control characters (a newline
                would break one-label-per-line exports), or ``obj_id`` is not one of
                :attr:`obj_ids` (give the object a prompt first).
        """
        if isinstance(obj_id, (bool, np.bool_)) or not isinstance(obj_id, (int, np.integer)) or obj_id not in self.obj_ids:
            raise LabelError(
                f"cannot label object {obj_id!r}: it has no prompt and no mask; known objects: "
                f"{self.obj_ids}. Prompt it first (add_points, add_box, add_mask or edit_mask)."
            )
        label = check_label(label)
        obj_id = int(obj_id)
        if label is None:
            if self._labels.pop(obj_id, None) is None:
                return
        elif self._labels.get(obj_id) == label:
            return
        else:
            self._labels[obj_id] = label
        self._emit("labels", labels=self.labels)

    @property
    def labels(self) -> dict[int, str]:
        """{obj_id: label} of the labelled objects among :attr:`obj_ids` (a copy)."""
        known = set(self.obj_ids)
        return {obj: label for obj, label in sorted(self._labels.items()) if obj in known}

    @property
    def obj_ids(self) -> list[int]:
        """Sorted ids of every object with a prompt or a mask."""
        return sorted({p.obj_id for p in self.prompts} | set(self.masks.obj_ids))

    @property
    def prompted_frames(self) -> dict[int, list[int]]:
        """{obj_id: sorted frames with a prompt for it}."""
        out: dict[int, set[int]] = {}
        for p in self.prompts:
            out.setdefault(p.obj_id, set()).add(p.frame)
        return {obj: sorted(frames) for obj, frames in sorted(out.items())}

    # -- propagation ------------------------------------------------------------------
    def propagate(
        self,
        direction: Direction = "both",
        start_frame: int | None = None,
        progress: bool = True,
        *,
        until_prompt: bool = False,
        obj_ids=None,
    ) -> PropagationReport:
        """Track the prompted objects through the video; blocks until done or cancelled.

        Args:
            direction: "forward", "backward" or "both". Forward starts at the earliest
                prompted frame, backward at the latest; "both" runs forward, then backward
                filling only what the forward pass did not reach.
            start_frame: start both passes here instead (e.g. the frame just corrected).
            progress: show a tqdm progress bar.
            until_prompt: carry corrections on without undoing any keyframe's work. Each
                object is propagated from a frame where it is prompted, in the directions
                asked, up to (not including) its next prompted frame in that direction;
                every mask beyond is left exactly as it was. The frames it starts from:
                ``start_frame`` (for the objects prompted there) when given; otherwise
                every (frame, object) prompted since the last propagation (the
                corrections); otherwise every prompted (frame, object). With "both", a
                frame that a forward window reaches is not written again going backward.
                False (the default): the whole video, as described above.
            obj_ids: write only these objects' masks (the engine still tracks the others,
                which compete for pixels). None: every object.

        Prompted (frame, object) masks are never overwritten. Ctrl-C (KeyboardInterrupt)
        or :meth:`cancel` stops it, keeping every frame done so far. An engine failure
        raises EngineError, also keeping them.

        Raises:
            PromptError: nothing prompted (for ``obj_ids``), or, with ``until_prompt``,
                no object (of ``obj_ids``) prompted on ``start_frame``.
            UnknownObjectError: an id in ``obj_ids`` that has no prompt.
        """
        if direction not in ("forward", "backward", "both"):
            raise ValueError(f"direction must be 'forward', 'backward' or 'both', got {direction!r}.")
        if not self.prompts:
            raise PromptError("nothing to propagate: add a prompt first (add_points, add_box or add_mask).")
        if start_frame is not None:
            start_frame = self.video.check_index(start_frame)
        objs = self._check_propagated_objects(obj_ids)
        if until_prompt:
            passes, sources = self._plan_until_prompt(direction, start_frame, objs)
        else:
            passes, sources = self._plan_whole(direction, start_frame, objs), None
        total = sum(_pass_length(p, len(self.video)) for p in passes)

        from tqdm.auto import tqdm

        self._cancel.clear()
        written: set[tuple[int, int]] = set()
        done, started = 0, time.perf_counter()
        bar = tqdm(total=total, desc="propagate", unit="frame", disable=not progress, leave=False)
        with self._guard():
            try:
                for start, reverse, limits in passes:
                    last = _pass_end(start, reverse, limits, len(self.video))
                    generator = self._session.propagate(start, reverse=reverse)
                    expected = start  # the frame the engine is working on
                    try:
                        while not self._cancel.is_set() and (expected >= last if reverse else expected <= last):
                            tick = time.perf_counter()
                            try:
                                frame, masks = next(generator)
                            except StopIteration:
                                break
                            except Exception as exc:
                                raise EngineError(
                                    f"engine {self.engine_name!r} failed while propagating "
                                    f"{'backward' if reverse else 'forward'} at frame {expected}: {exc!r}. "
                                    f"The {len(self.masks.frames())} frames with masks were kept; "
                                    "fix the cause and propagate again."
                                ) from exc
                            frame, masks = self._check_answer(frame, masks, f"while propagating at frame {expected}")
                            self._engine_ms[frame] = 1000 * (time.perf_counter() - tick)
                            expected = frame + (-1 if reverse else 1)
                            if limits is not None:  # each object inside its own window only
                                masks = {o: m for o, m in masks.items() if o in limits and (frame > limits[o] if reverse else frame < limits[o])}
                            elif objs is not None:
                                masks = {o: m for o, m in masks.items() if o in objs}
                            if reverse and direction == "both":
                                masks = {o: m for o, m in masks.items() if (frame, o) not in written}
                            written |= {(frame, o) for o in masks}
                            confidence, problem = self._engine_confidence(frame)
                            self._store(frame, masks, confidence=confidence)
                            done += 1
                            bar.update()
                            self._emit("masks", frames=[frame])
                            self._emit("progress", done=done, total=total)
                            if problem is not None:  # after the frame's masks are kept and shown
                                raise problem
                    finally:
                        generator.close()
            except KeyboardInterrupt:
                self._cancel.set()
            finally:
                bar.close()
            if not self._cancel.is_set():  # carried on: no longer pending corrections
                keep = (lambda k: k not in sources) if sources is not None else (lambda k: objs is not None and k[1] not in objs)
                self._pending = {k: None for k in self._pending if keep(k)}
        report = PropagationReport(done, time.perf_counter() - started, self._cancel.is_set())
        self._emit("progress", done=done, total=total, finished=True, cancelled=report.cancelled)
        return report

    @property
    def pending_corrections(self) -> list[tuple[int, int]]:
        """(frame, obj_id) prompted since the last propagation, in the order given: where
        ``propagate(until_prompt=True)`` starts from when no start_frame is given."""
        return list(self._pending)

    def _check_propagated_objects(self, obj_ids) -> set[int] | None:
        if obj_ids is None:
            return None
        ids = [obj_ids] if isinstance(obj_ids, (int, np.integer)) else list(obj_ids)
        prompted = {p.obj_id for p in self.prompts}
        unknown = [o for o in ids if o not in prompted]
        if unknown or not ids:
            raise UnknownObjectError(
                f"cannot propagate objects {unknown or ids}: only prompted objects propagate; prompted objects: {sorted(prompted)}."
            )
        return {int(o) for o in ids}

    def _plan_whole(self, direction: str, start_frame: int | None, objs: set[int] | None) -> list:
        """Passes (start, reverse, None) over the whole video, as before until_prompt existed."""
        frames = sorted({p.frame for p in self.prompts if objs is None or p.obj_id in objs})
        passes = []
        if direction in ("forward", "both"):
            passes.append((frames[0] if start_frame is None else start_frame, False, None))
        if direction in ("backward", "both"):
            passes.append((frames[-1] if start_frame is None else start_frame, True, None))
        return passes

    def _plan_until_prompt(self, direction: str, start_frame: int | None, objs: set[int] | None):
        """Passes (start, reverse, {obj: stop frame, exclusive}) from each correction up to
        each object's next prompt, and the (frame, obj) sources they start from."""
        prompted = self.prompted_frames
        if start_frame is not None:
            at = sorted(objs) if objs is not None else [o for o, fs in prompted.items() if start_frame in fs]
            if not at:
                raise PromptError(
                    f"no object is prompted on frame {start_frame}, so there is no correction to carry on "
                    f"from; prompted frames: {sorted({p.frame for p in self.prompts})}. Start from one of "
                    "them, or pass obj_ids=[...] to propagate those objects from this frame."
                )
            sources = [(start_frame, o) for o in at]
        else:
            sources = list(self._pending) or list(dict.fromkeys((p.frame, p.obj_id) for p in self.prompts))
            sources = [k for k in sources if objs is None or k[1] in objs]
            if not sources:  # obj_ids has been checked: they are prompted, so this is unreachable
                raise PromptError(f"nothing to propagate for objects {sorted(objs or [])}.")
        n = len(self.video)
        by_frame: dict[int, list[int]] = {}
        for frame, obj in sorted(sources):
            by_frame.setdefault(frame, []).append(obj)
        forward, backward = [], []
        covered: dict[int, set[int]] = {}  # obj -> frames a forward window writes
        if direction in ("forward", "both"):
            for k, at in by_frame.items():
                limits = {o: next((f for f in prompted[o] if f > k), n) for o in at}
                limits = {o: stop for o, stop in limits.items() if stop > k + 1 or k not in prompted[o]}
                for o, stop in limits.items():
                    covered.setdefault(o, set()).update(range(k, stop))
                if limits:
                    forward.append((k, False, limits))
        if direction in ("backward", "both"):
            for k, at in sorted(by_frame.items(), reverse=True):
                limits = {}
                for o in at:
                    stop = next((f for f in reversed(prompted[o]) if f < k), -1)
                    # frames a forward window writes are not written again going backward
                    stop = max([stop, *(f for f in covered.get(o, ()) if stop < f < k)])
                    if stop < k - 1 or k not in prompted[o]:
                        limits[o] = stop
                if limits:
                    backward.append((k, True, limits))
        return forward + backward, set(sources)

    def cancel(self) -> None:
        """Stop a running propagation after the frame in progress; its frames are kept."""
        self._cancel.set()

    @property
    def busy(self) -> bool:
        """True while a prompt or a propagation is being computed."""
        return self._busy

    def _check_answer(self, frame, masks, where: str) -> tuple[int, dict[int, np.ndarray]]:
        """An engine's answer for ``frame`` as (frame, {obj_id: (H, W) bool}), or EngineError
        naming what is wrong; nothing of a bad answer is stored, everything before is kept."""
        problem = None
        n, h, w = len(self.video), self.video.height, self.video.width
        if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)) or not 0 <= frame < n:
            problem = f"frame number {frame!r:.40}, not one of 0..{n - 1}"
        elif not isinstance(masks, dict):
            problem = f"{type(masks).__name__} instead of a dict {{obj_id: (H, W) bool mask}}"
        else:
            checked = {}
            for obj, mask in masks.items():
                if isinstance(obj, (bool, np.bool_)) or not isinstance(obj, (int, np.integer)) or obj < 1:
                    problem = f"object id {obj!r:.40} (ids are positive ints)"
                    break
                shape, dtype = getattr(mask, "shape", None), getattr(mask, "dtype", None)
                try:  # bool, or 0/1 integers (as the mask store takes them)
                    checked[int(obj)] = self.masks.check_mask(mask) if shape == (h, w) else None
                except MaskShapeError:
                    pass
                if checked.get(int(obj)) is None:
                    problem = f"a mask of shape {shape} and dtype {dtype} for object {obj} (expected ({h}, {w}) bool)"
                    break
        if problem:
            raise EngineError(
                f"engine {self.engine_name!r} returned {problem} {where}. Engines return {{obj_id: (H, W) bool}} "
                f"at the video's full size (see vseg_widgets.engines.base); fix the engine, e.g. "
                f"`cv2.resize(m.astype(np.uint8), ({w}, {h}), interpolation=cv2.INTER_NEAREST) > 0`. "
                f"The {len(self.masks.frames())} frames with masks were kept."
            )
        return int(frame), checked

    def _store(self, frame: int, masks: dict[int, np.ndarray], prompted: set[int] = frozenset(),
               confidence: dict[int, float] | None = None) -> None:
        """Keep an engine's masks of ``frame`` with their confidence ({obj: float}; NaN where absent)."""
        confidence = confidence or {}
        for obj, mask in masks.items():
            if obj in prompted:
                source = "prompt"
            elif self._source.get((frame, obj)) == "prompt":
                continue  # a prompted mask stays exactly as prompted, with its confidence
            else:
                source = "propagated"
            self.masks.set(frame, obj, mask)  # the mask first: a Ctrl-C in between leaves no source without a mask
            self._source[(frame, obj)] = source
            self._confidence[(frame, obj)] = confidence.get(obj, np.nan)

    @contextmanager
    def _guard(self):
        with self._lock:
            self._busy = True
            try:
                yield
            finally:
                self._busy = False

    # -- results ----------------------------------------------------------------------
    def to_dataframe(self) -> pd.DataFrame:
        """One row per (frame, object) with a mask; columns:

        ===========  =======  ===================================================
        frame        int      frame index
        time_s       float    seconds from frame 0: the video's own timestamps (true for
                              variable frame rates; frame / fps for arrays and folders)
        obj_id       int      object id
        label        str      the object's label (:meth:`set_label`); None if it has none
        area_px      int      mask area in pixels
        area_frac    float    area_px / (H * W)
        bbox         tuple    (x, y, w, h) in pixels, ints; None for an empty mask
        centroid     tuple    (x, y) in pixels, floats; None for an empty mask
        iou_prev     float    IoU with the object's mask on frame - 1 (1.0 when both
                              are empty; NaN when frame - 1 has no mask for it)
        source       str      "prompt" or "propagated"
        confidence   float    the engine's confidence in this mask, in [0, 1] (1: sure;
                              low: look at this frame); NaN where the engine gives
                              none (see :meth:`confidence`)
        engine_ms    float    engine time for that frame (all objects together)
        ===========  =======  ===================================================

        The column names are shared with :mod:`vseg_widgets.metrics` tables, so they merge
        on (frame, obj_id), plus time_s and label where both tables have them (the metric
        tables of a Segmenter do).
        """
        rows = []
        labels = self.labels
        hw = self.video.height * self.video.width
        times = self.video.timestamps
        for frame in self.masks.frames():
            for obj in sorted(self._frame_objects(frame)):
                rle = _bytes_rle(self.masks.rle(frame, obj))
                area = int(mask_utils.area(rle))
                bbox = centroid = None
                if area:
                    bbox = tuple(int(v) for v in mask_utils.toBbox(rle))
                    ys, xs = np.nonzero(mask_utils.decode(rle))
                    centroid = (float(xs.mean()), float(ys.mean()))
                prev = self.masks.rle(frame - 1, obj) if frame > 0 else None
                rows.append(
                    {
                        "frame": frame,
                        "time_s": float(times[frame]),
                        "obj_id": obj,
                        "label": labels.get(obj),
                        "area_px": area,
                        "area_frac": area / hw,
                        "bbox": bbox,
                        "centroid": centroid,
                        "iou_prev": np.nan if prev is None else _rle_iou(rle, _bytes_rle(prev)),
                        "source": self._source.get((frame, obj), "propagated"),
                        "confidence": self._confidence.get((frame, obj), np.nan),
                        "engine_ms": self._engine_ms.get(frame, np.nan),
                    }
                )
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    def confidence(self, obj_id: int) -> np.ndarray:
        """(T,) float64 confidence of ``obj_id``'s mask on every frame, in [0, 1]; NaN where
        it has no mask or the engine gave no confidence.

        Engines that can say how sure they are (the classic and learned engines, SAM 2;
        :class:`~vseg_widgets.engines.base.ScoringSession`) report it with every mask, from
        prompts and from propagation; :func:`vseg_widgets.metrics.review_order` ranks the
        frames to check with it.

        Raises:
            UnknownObjectError: ``obj_id`` is not one of :attr:`obj_ids`.
        """
        if obj_id not in self.obj_ids:
            raise UnknownObjectError(f"no object {obj_id!r}; known objects: {self.obj_ids}.")
        out = np.full(len(self.video), np.nan)
        for frame in self.masks.frames(obj_id):
            out[frame] = self._confidence.get((frame, obj_id), np.nan)
        return out

    def _frame_objects(self, frame: int) -> list[int]:
        return self.masks.objects(frame)  # not obj_ids: that scans every frame

    def set_ground_truth(self, gt: MaskStore | None) -> None:
        """Attach ground-truth masks (same video size) for evaluation in the player and tables."""
        if gt is not None and (gt.num_frames, gt.height, gt.width) != (len(self.video), self.video.height, self.video.width):
            raise MaskShapeError(
                f"ground truth is {gt.num_frames} frames of {gt.width}x{gt.height} but the video is "
                f"{len(self.video)} frames of {self.video.width}x{self.video.height}."
            )
        self.ground_truth = gt
        self._emit("ground_truth")

    @property
    def engine_name(self) -> str:
        return getattr(self.engine, "name", type(self.engine).__name__)

    # -- the player -------------------------------------------------------------------
    @property
    def frame(self) -> int:
        """The frame the player shows; set it to show another (negative counts from the end)."""
        return self.player.frame

    @frame.setter
    def frame(self, value: int) -> None:
        self.player.frame = self.video.check_index(value)

    @property
    def player(self):
        """The interactive player widget of this Segmenter (created on first use)."""
        if self._player is None:
            from .widget import Player  # anywidget is imported only when a player is wanted

            self._player = Player(self)
        return self._player

    def _repr_mimebundle_(self, **kwargs):
        return self.player._repr_mimebundle_(**kwargs)

    # -- observers (the player subscribes here) -----------------------------------------
    def observe(self, callback: Listener) -> None:
        """Call ``callback(event, **payload)`` on "prompts", "masks", "progress", "ground_truth"
        and "labels" (payload ``labels``: the new :attr:`labels`)."""
        self._listeners.append(callback)

    def unobserve(self, callback: Listener) -> None:
        self._listeners.remove(callback)

    def _emit(self, event: str, **payload) -> None:
        for callback in list(self._listeners):
            callback(event, **payload)

    def __repr__(self) -> str:
        return (
            f"Segmenter({self.video!r}, engine={self.engine_name!r}, objects={self.obj_ids}, "
            f"{len(self.prompts)} prompts, {len(self.masks.frames())} frames with masks)"
        )


MAX_LABEL_LENGTH = 100


def check_label(label) -> str | None:
    """A label as stored: None, or a stripped non-empty str (raises LabelError otherwise)."""
    if label is None:
        return None
    if not isinstance(label, str):
        raise LabelError(f"a label must be a string (or None to clear it), got {type(label).__name__} {label!r:.40}.")
    label = label.strip()
    if len(label) > MAX_LABEL_LENGTH:
        raise LabelError(f"a label may have at most {MAX_LABEL_LENGTH} characters, got {len(label)}; shorten it.")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in label):  # Cs: a lone surrogate cannot be written as UTF-8
        raise LabelError(f"a label may not hold control characters (newlines, tabs, ...) or unpaired surrogates, got {label!r:.60}.")
    return label or None


def _merge(prompts: list[Prompt]):
    """Fold one (frame, object)'s prompts into the engine's (points, labels, box, mask).

    A mask prompt starts afresh (it replaces earlier clicks and boxes); later clicks add
    to it; the latest box wins.
    """
    points, labels, box, mask = [], [], None, None
    for p in prompts:
        if p.kind == "mask":
            points, labels, box, mask = [], [], None, p.mask
        elif p.kind == "box":
            box = p.box
        else:
            points.append(p.points)
            labels.append(p.labels)
    if points:
        return np.concatenate(points), np.concatenate(labels), box, mask
    return None, None, box, mask


def _pass_end(start: int, reverse: bool, limits: dict[int, int] | None, num_frames: int) -> int:
    """The last frame (inclusive) a propagation pass must reach."""
    if limits is None:
        return 0 if reverse else num_frames - 1
    return min(limits.values()) + 1 if reverse else max(limits.values()) - 1


def _pass_length(p: tuple, num_frames: int) -> int:
    start, reverse, limits = p
    return abs(start - _pass_end(start, reverse, limits, num_frames)) + 1


def _rle_iou(a: dict, b: dict) -> float:
    area_a, area_b = mask_utils.area(a), mask_utils.area(b)
    if area_a == 0 and area_b == 0:
        return 1.0
    return float(mask_utils.iou([a], [b], [0])[0, 0])
