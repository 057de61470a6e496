"""Propagation of object masks through a video: motion prior + online colour model + edge snapping.

Each step first does what every object shares (:mod:`.shared`): the whole frame's DIS
optical flow back to the previous frame, and its forward-backward trust, once, at the work
resolution; the camera's motion comes from the same flow (with
:attr:`TrackerConfig.threads` above 1, workers compute the next frame's flow and views,
and a step's independent cues, while the step runs, and objects are tracked in several
threads at once, :mod:`.workers`). Then, for
every tracked object, in the object's own *view* (:mod:`.view`): a crop around where it
was, at full resolution for small objects and scaled down to a fixed pixel budget for large
ones; the evidence is computed only on the box of the object's reach within it:

1. **Motion prior.** The previous frame's soft mask is pulled onto the current frame along
   the flow, resampled into the view (an object too small or too thin for the work
   resolution gets a flow of its own view instead, :attr:`TrackerConfig.own_flow_area`,
   :attr:`TrackerConfig.own_flow_thickness`). Where forward and
   backward flow disagree (occlusions, fast limbs) the warp is not believed, and the prior
   there is replaced by a blurred one that only says "the object is near".
2. **Appearance.** The object's colour model (:mod:`.appearance`) gives P(object | colour);
   near the contour, where it is unsure, local per-window models fitted on the previous
   frame (:mod:`.local`, Video SnapCut's idea) tell the object from its nearby background.
   A small classifier learned on the prompt from colour *and texture* (:mod:`.texture`)
   adds its say, for where the colours are shared but the texture is not; it is asked only
   where the other cues leave the decision open (:attr:`TrackerConfig.texture_band`).
3. **Moving like the background.** Where the object moves differently from its
   surroundings, pixels whose flow follows the background's (affine) motion are pushed
   out (:mod:`.motion`): this is what keeps look-alike background (same colours) away.
   On frames where the background around the object moves as one, pixels that move
   unlike it, and whose colours do not rule the object out, are pulled in a little: this
   brings back parts of the object the warp lost.
4. **Fusion.** All are added as log-odds; pixels far outside the warped mask are ruled out
   (objects move continuously between frames).
5. **Edges.** A colour-guided filter (:mod:`.refine`) snaps the probability to image edges
   (computed only around the pixels within reach, :meth:`ClassicSession._edges`);
   small blobs detached from the object's main part are dropped (:func:`drop_detached`).
6. **Objects compete.** Each pixel goes to the most probable object, if any is above 0.5.
7. **Thin lines.** Long straight parts a few pixels wide (kite lines), which no view
   resolves, are taken from the prompted mask and followed on their own along the image's
   thin ridges (:mod:`.lines`); they are drawn into the output mask, not the carried state.

The soft (not re-binarised) result is the state carried to the next frame, so rounding
errors do not accumulate into erosion. An object whose mask collapses is *lost*: it gets
an empty mask, and each frame it is searched for in the whole frame (at the work resolution)
with its keyframe colour model until a
region that looks like it and is about its size shows up; where no region has its colours
alone (a rider in front of a wall as colourful), a region about its size that moves on
its own, unlike the camera (:mod:`.moving`), and has colours not unlike it, is taken.
An object that moves on its own and whose mask starts to move like the camera
(:meth:`ClassicSession._drifted`) has either stopped or been dragged onto the background
by an occluder: it is searched for as if lost, and moved to what is found, if anything (a
region that moves on its own, with its colours); such an object is not re-found on a
region that stands still either.
A sharp change of the colour histogram between frames is a scene cut: every object is
lost rather than dragged onto the new shot.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

import cv2
import numpy as np

from ...masks import decode, encode
from .appearance import ColourModel, colour_index
from .confidence import Judge, evidence
from .flow import FlowField
from .lines import Line, draw, find_lines, follow
from .local import LocalColour, lab_float
from .motion import motion_logit
from .moving import independent_motion
from .refine import GuidedFilter
from .shared import SharedFlow
from .texture import MARGIN as TEXTURE_MARGIN
from .texture import PixelClassifier, TextureScores, box_around, warm_up
from .timing import STAGES
from .view import View, around, whole
from .workers import pool, soon


OUT_OF_REACH = -8.0  # log-odds of the pixels too far from the warped mask to be the object


@dataclass(frozen=True)
class TrackerConfig:
    """One configuration for every video (no per-sequence settings)."""

    work_side: int = 427  # long side of the whole-frame search resolution, px (854x480 -> 427x240)
    view_budget: int = 427 * 240  # pixels of an object's view at most (larger views are scaled down)
    view_margin: float = 0.4  # the view is the object's box enlarged by this x its longer side ...
    # ... and by at least this many full-resolution px (flow needs context). 70 gave the same
    # dev J&F (0.7656 against 0.7654) in less time, but the learned engine, which propagates
    # through this tracker, lost 0.012 (0.794 against 0.806).
    view_min_margin: int = 100
    flow_preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    check_preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST
    # The flow is computed once per frame, for the whole frame at the work resolution
    # (:mod:`.shared`), and cropped into every object's view.
    flow_finest_scale: int = 0  # the flow that carries the masks: down to the work resolution
    check_finest_scale: int = 1  # the one that only checks it: a level coarser (:class:`.flow.FlowField`)
    # DIS settings of the flow that carries the masks, in place of its preset's (None: the
    # preset's: 3, 25, 5). These cost a third of the preset's time at finest scale 0; one
    # level coarser instead (finest scale 1) cost 0.02 J&F on the DAVIS dev sequences.
    # Without variational refinement (0 against 2) the flow costs 0.7x the time (11 against
    # 16 ms at 427x240 on 2 cores) for 0.7650 classic J&F against 0.7654, and 0.8066 for the
    # learned engine against 0.8061.
    flow_patch_stride: int | None = 4
    flow_descent_iterations: int | None = 12
    flow_refinement_iterations: int | None = 0
    # An object smaller than this (full-resolution px) is a few flow patches wide at the work
    # resolution: it gets a flow of its own, in its view at the view's resolution (with the
    # presets' settings), as every object did before the flow was shared.
    own_flow_area: float = 10000.0
    # ... and so does a thin one (a bike and its rider), whose parts are narrower than a flow
    # patch at the work resolution: thickness = area / boundary pixels (full resolution, about
    # half its width; a DAVIS rider on a bike 3-6, a person walking 8-20, a car 40).
    own_flow_thickness: float = 6.0
    # DIS settings of that own flow (None: the preset's, 3, 25, 5). Two variational refinement
    # steps instead of five cost 0.85x the time and gave 0.7654 J&F on the DAVIS dev
    # sequences against 0.7648 (with check_refinement_iterations = 0 in both). None (0 or 1)
    # costs the classic engine nothing, but the learned engine loses bmx-trees (0.52 -> 0.37).
    own_flow_patch_stride: int | None = 3
    own_flow_descent_iterations: int | None = 25
    own_flow_refinement_iterations: int | None = 2
    # ... and of the flow that only checks the others (None: the preset's, 5). Its
    # variational refinement halved its time and gave 0.7648 J&F against 0.7636.
    check_refinement_iterations: int | None = 0
    cut_correlation: float = 0.5  # HSV histogram correlation below this = scene cut
    motion_weight: float = 1.0  # weight of the warped-mask log-odds
    appearance_weight: float = 1.0  # weight of the colour log-odds
    texture_weight: float = 0.3  # weight of the colour-and-texture classifier's log-odds (:mod:`.texture`; 0: off)
    # ... which is computed only where the other evidence's log-odds are within +-this (its
    # own say is at most 0.3 x 6: beyond, it moves a probability by about 1% at most)
    texture_band: float = 6.0
    reach: float = 0.12  # how far (x sqrt(area)) a mask may grow beyond its warped self
    guided_radius: int = 3
    guided_eps: float = 2e-3
    update_rate: float = 0.05  # running colour model: weight of each new frame
    lost_fraction: float = 0.08  # area below this x the recent area = object lost
    found_similarity: float = 0.6  # Bhattacharyya match needed to re-find a lost object
    found_fraction: float = 0.3  # ... and at least this x its last known area
    sharpen: float = 2.0  # state = 0.5 + sharpen x (p - 0.5): stray half-probabilities die out
    anchor: float = 0.5  # weight of the keyframe colours against the running estimate
    local_radius: int = 16  # px (view resolution): window of the local colour models
    local_weight: float = 1.0  # weight of the local colour log-odds where a window has both sides
    local_clip: float = 6.0  # local log-odds are clipped to +-this
    detached_fraction: float = 0.5  # a part away from the main one and smaller than this x it is dropped
    motion_cue_weight: float = 2.0  # weight of the moves-like-the-background log-odds (:mod:`.motion`)
    # The other side of the motion cue, "moves unlike the background": its weight relative
    # to the first side (it also fires on water and smoke, so it is kept small) ...
    motion_in_weight: float = 0.5
    motion_in_colour: float = 0.2  # ... silent where P(object | colour) is below this, full from 0.5
    motion_in_false: float = 0.05  # ... and on frames where this fraction of the ring would be pulled in
    found_motion: float = 3.0  # px (full res): a lost object may be re-found as a region moving this much on its own (0: off)
    found_motion_similarity: float = 0.4  # ... whose colours match the keyframe's at least this well (Bhattacharyya)
    found_motion_fraction: float = 0.5  # ... and at least this x its last known area (a sliver is left to the colours)
    mover_ratio: float = 5.0  # a region moves on its own when its residual motion is at least
    # found_motion and this x the frame's typical one (an object: on the first frame it is tracked)
    drift_ratio: float = 2.0  # such an object whose mask moves less than this x the frame's typical
    # residual (+0.5 px) may have been dragged onto the background: it is searched for elsewhere
    drift_every: int = 3  # frames between those checks (each reads the camera motion off the shared flow)
    thin_lines: bool = True  # long thin straight parts of a prompted mask are followed as lines (:mod:`.lines`)
    # Threads a frame's work is shared over (:mod:`.workers`): the next frame's flow is
    # computed by one while this frame's objects are tracked by the others. 1: all in the
    # calling thread. The masks are the same either way.
    threads: int = 2


@dataclass
class Track:
    """State of one object during a propagation pass."""

    model: ColourModel
    soft: np.ndarray | None = None  # (H, W) float32 in [0, 1], full resolution; None while lost
    area: float = 0.0  # recent area (full-resolution px, exponential average) while visible
    # area / boundary px of the prompt's mask (full-resolution px, about half its parts' width);
    # the prompt's: a thin object's tracked mask fills in (between a bike's frame and wheels)
    thickness: float = 0.0
    lines: list[Line] = field(default_factory=list)  # thin straight parts, followed apart (:mod:`.lines`)
    centre: np.ndarray | None = None  # (2,) float64 (x, y) centroid of the last output mask
    classifier: PixelClassifier | None = None  # colour and texture, learned on the nearest prompt
    mover: bool | None = None  # moves on its own, unlike the camera; None until measured
    evidence: object = None  # what the last prediction step saw (:func:`.confidence.evidence`)


@dataclass
class Frame:
    """One frame (or one object's view of it) prepared at its working resolution."""

    gray: np.ndarray  # (h, w) uint8
    index: np.ndarray  # (h, w) int32 colour bins
    guide: np.ndarray  # (h, w, 3) float32 RGB in [0, 1]
    lab: np.ndarray  # (h, w, 3) float32 Lab
    _filter: GuidedFilter | None = field(default=None, repr=False)

    def crop(self, window: tuple[slice, slice]) -> Frame:
        """The part of the frame at (rows, cols) ``window`` (views of these arrays)."""
        return Frame(self.gray[window], self.index[window], self.guide[window], self.lab[window])


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """(128,) float32 normalised hue-saturation histogram of an (h, w, 3) uint8 RGB image."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(hist, None).ravel()


def thickness(mask: np.ndarray) -> float:
    """Area / boundary pixels of an (h, w) bool mask, px: about half the width of its parts
    (a strip w wide: w / 2); 0 for an empty mask."""
    m = mask.astype(np.uint8)
    boundary = np.count_nonzero(m > cv2.erode(m, np.ones((3, 3), np.uint8)))
    return float(np.count_nonzero(m)) / boundary if boundary else 0.0


def contested(arrays: list[np.ndarray], above: float) -> tuple[slice, slice] | None:
    """(rows, cols) of a box holding every pixel where two or more of the (H, W) float32
    ``arrays`` exceed ``above``, or None where no two do: objects are only resolved
    against each other there, not over the whole frame they are each a small part of."""
    boxes = [box_around(a > above, 0) for a in arrays]
    boxes = [b for b in boxes if b is not None]
    rows, cols = [], []
    for i, (ri, ci) in enumerate(boxes):
        for rj, cj in boxes[i + 1 :]:
            r = (max(ri.start, rj.start), min(ri.stop, rj.stop))
            c = (max(ci.start, cj.start), min(ci.stop, cj.stop))
            if r[0] < r[1] and c[0] < c[1]:
                rows += r
                cols += c
    return (slice(min(rows), max(rows)), slice(min(cols), max(cols))) if rows else None


def compete(soft: dict[int, np.ndarray], objects: list[int]) -> None:
    """Each pixel to the most probable of ``objects``: elsewhere their (h, w) float32
    ``soft`` masks are capped just below 0.5 (the arrays are replaced in ``soft``, not
    changed), so no two objects hold a pixel."""
    if len(objects) < 2:
        return
    box = contested([soft[o] for o in objects], 0.0)  # where an object is alone, it is the most probable
    if box is None:
        return
    best = np.stack([soft[o][box] for o in objects]).argmax(0)
    for k, o in enumerate(objects):
        part = soft[o][box]
        soft[o] = soft[o].copy()
        soft[o][box] = np.where(best == k, part, np.minimum(part, 0.49))


def prompts_win(tracked: dict[int, np.ndarray], cond: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """(H, W) bool masks of every object on a frame: the prompted ones (``cond``) exactly as
    prompted, the ``tracked`` others without the prompted pixels."""
    out = dict(tracked)
    if cond:
        prompted = np.zeros(next(iter(cond.values())).shape, bool)
        for mask in cond.values():
            prompted |= mask
        out = {o: m & ~prompted for o, m in out.items()}
        out.update(cond)
    return out


def drop_detached(soft: np.ndarray, reach: int, fraction: float) -> np.ndarray:
    """Clear the small parts of (h, w) float32 ``soft`` that lie away from its main part.

    A look-alike patch of background that wins once becomes a blob of its own, and the
    warp then carries it on, frame after frame. A part of the object separated from the
    rest (a limb behind an occluder) stays close to it; a part further than ``reach`` px
    from the largest part, and smaller than ``fraction`` of it, is taken for such a blob.
    Returns a (h, w) float32 copy, or ``soft`` itself when nothing is dropped.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats((soft > 0.5).astype(np.uint8), connectivity=8)
    if count <= 2:
        return soft
    areas = stats[1:, cv2.CC_STAT_AREA]
    main = 1 + int(areas.argmax())
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    near = cv2.dilate((labels == main).astype(np.uint8), kernel) > 0
    touching = set(np.unique(labels[near]).tolist())
    detached = [c for c in range(1, count) if c not in touching and areas[c - 1] < fraction * areas[main - 1]]
    if not detached:
        return soft
    return np.where(np.isin(labels, detached), 0.0, soft).astype(np.float32)


class ClassicSession:
    """Engine session of the classic engine (see :mod:`vseg_widgets.engines.base`)."""

    def __init__(self, video, config):
        self.video = video
        self.config = config
        h, w = video.height, video.width
        self.full_size = (h, w)
        self.search_view = whole(self.full_size, config.work_side**2 * min(h, w) // max(h, w))
        self.flow = FlowField(config.flow_preset, config.check_preset, config.flow_finest_scale, config.check_finest_scale,
                              config.flow_patch_stride, config.flow_descent_iterations, config.flow_refinement_iterations,
                              config.check_refinement_iterations)
        self._view_flows = threading.local()  # small objects' flow estimators, one per thread (they are not thread-safe)
        self._conditioning: dict[int, dict[int, np.ndarray]] = {}  # frame -> obj -> (H, W) bool
        # (obj, frame) -> (digest of the prompted mask, the classifier learned on it): a
        # correction re-propagates, and need not learn again from an unchanged prompt.
        self._classifiers: dict[tuple[int, int], tuple[bytes, PixelClassifier]] = {}
        self._tracked: dict[int, dict[int, dict]] = {}  # frame -> obj -> RLE of the last output
        self._confidence: dict[int, dict[int, float]] = {}  # frame -> obj -> confidence of the last output
        self._prompt_confidence: dict[tuple[int, int], float] = {}  # (frame, obj) -> the prompt's (:meth:`set_prompt_confidence`)
        self._last_motion: tuple[int | None, np.ndarray | None] = (None, None)  # frame, its motion
        if config.texture_weight > 0:
            warm_up()  # propagating will learn classifiers with torch: load it while the person looks

    @property
    def view_flow(self) -> FlowField:
        """The flow estimator of small objects' own views, this thread's."""
        field = getattr(self._view_flows, "field", None)
        if field is None:
            cfg = self.config
            field = self._view_flows.field = FlowField(
                cfg.flow_preset, cfg.check_preset, 0, cfg.check_finest_scale, cfg.own_flow_patch_stride,
                cfg.own_flow_descent_iterations, cfg.own_flow_refinement_iterations, cfg.check_refinement_iterations)
        return field

    # -- prompts ----------------------------------------------------------------------
    def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
        from .interactive import segment_prompt

        if mask is not None and points is None and box is None:
            result = np.asarray(mask, bool)
        else:
            previous = mask
            if previous is None:
                previous = self._conditioning.get(frame, {}).get(obj_id)
            motion = self._motion(frame) if box is None else None
            result = segment_prompt(self.video[frame], points, labels, box, previous=previous, motion=motion)
        self._conditioning.setdefault(frame, {})[obj_id] = result
        self._prompt_confidence[(frame, obj_id)] = 1.0 if mask is not None and points is None and box is None else float("nan")
        return self._frame_masks(frame)

    def set_prompt_confidence(self, frame: int, obj_id: int, value: float) -> None:
        """How sure whoever answered the prompt on (frame, obj_id) is of its mask (the learned
        engine's predicted IoU); masks carried from it are no surer."""
        self._prompt_confidence[(frame, obj_id)] = float(value)

    def confidence(self, frame: int) -> dict[int, float]:
        """{obj_id: confidence in [0, 1]} of the masks last returned for ``frame`` (optional
        protocol extension, :class:`~vseg_widgets.engines.base.ScoringSession`)."""
        cond = self._conditioning.get(frame, {})
        out = dict(self._confidence.get(frame, {}))
        out.update({o: self._prompt_confidence.get((frame, o), float("nan")) for o in cond})
        return out

    def known_mask(self, frame: int, obj_id: int) -> np.ndarray | None:
        """(H, W) bool mask of ``obj_id`` on ``frame``, prompted or from the last propagation;
        None where it has none."""
        if obj_id in self._conditioning.get(frame, {}):
            return self._conditioning[frame][obj_id]
        rle = self._tracked.get(frame, {}).get(obj_id)
        return None if rle is None else decode(rle)

    def _motion(self, frame: int) -> np.ndarray | None:
        """(H, W) float32 residual motion of ``frame`` towards its neighbour
        (:func:`.moving.independent_motion`); None in a one-frame video. The last frame's is
        kept: an undo replays the first click."""
        if self._last_motion[0] != frame:
            neighbour = frame + 1 if frame + 1 < len(self.video) else frame - 1
            motion = independent_motion(self.video[frame], self.video[neighbour]) if neighbour >= 0 else None
            self._last_motion = (frame, motion)
        return self._last_motion[1]

    def _frame_masks(self, frame: int) -> dict[int, np.ndarray]:
        """Masks of every object known on ``frame``; prompted objects win over tracked ones."""
        cond = self._conditioning.get(frame, {})
        return prompts_win({obj: decode(rle) for obj, rle in self._tracked.get(frame, {}).items() if obj not in cond}, cond)

    def remove_object(self, obj_id: int) -> None:
        for per_frame in (*self._conditioning.values(), *self._tracked.values(), *self._confidence.values()):
            per_frame.pop(obj_id, None)
        self._prompt_confidence = {k: v for k, v in self._prompt_confidence.items() if k[1] != obj_id}
        self._classifiers = {key: value for key, value in self._classifiers.items() if key[0] != obj_id}

    def reset(self) -> None:
        self._conditioning.clear()
        self._tracked.clear()
        self._classifiers.clear()
        self._confidence.clear()
        self._prompt_confidence.clear()

    # -- resolution -------------------------------------------------------------------
    def _prepare(self, image: np.ndarray, view: View) -> Frame:
        """Crop and scale an (H, W, 3) uint8 RGB frame to ``view``."""
        small = view.crop(image)
        guide = small.astype(np.float32) / 255.0
        return Frame(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), colour_index(small), guide, lab_float(guide))

    def _filter(self, frame: Frame) -> GuidedFilter:
        if frame._filter is None:
            frame._filter = GuidedFilter(frame.guide, self.config.guided_radius, self.config.guided_eps)
        return frame._filter

    def _view(self, soft: np.ndarray) -> View:
        cfg = self.config
        return around(soft > 0.5, self.full_size, cfg.view_budget, cfg.view_margin, cfg.view_min_margin)

    def _to_full(self, soft: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Full-resolution soft masks -> bool masks, at most one object per pixel."""
        ids = list(soft)
        masks = {o: soft[o] > 0.5 for o in ids}
        box = contested([soft[o] for o in ids], 0.5) if len(ids) > 1 else None
        if box is not None:  # where two are above 0.5, the most probable wins
            winner = np.stack([soft[o][box] for o in ids]).argmax(0)
            for k, o in enumerate(ids):
                masks[o][box] &= winner == k
        return masks

    # -- tracking steps ---------------------------------------------------------------
    def _band(self, area: float) -> int:
        """Width (px) of the ring around a mask of ``area`` px (same resolution) that matters."""
        return int(max(3, round(self.config.reach * np.sqrt(max(area, 1.0)))))

    def _new_track(self, obj: int, start: int) -> Track:
        """A track whose colour model is fitted on the object's prompted frames (keyframes)."""
        model = ColourModel(self.config.anchor)
        frames = sorted(f for f, c in self._conditioning.items() if obj in c and c[obj].any())
        frames = sorted(frames, key=lambda f: abs(f - start))[:3]  # the nearest few suffice
        for f in frames:
            view = self._view(self._conditioning[f][obj].astype(np.float32))
            mask = view.crop(self._conditioning[f][obj].astype(np.float32)) > 0.5
            model.add_keyframe(colour_index(view.crop(self.video[f])), mask, self._band(mask.sum()))
        with STAGES("learn"):
            classifier = self._classifier(obj, frames[0]) if frames and self.config.texture_weight > 0 else None
        return Track(model, classifier=classifier)

    def _classifier(self, obj: int, frame: int) -> PixelClassifier:
        """The object's colour-and-texture classifier, learned on its prompt on ``frame``: its
        mask against a band around it, in its view (the resolution it is tracked at)."""
        prompt = self._conditioning[frame][obj]
        digest = hashlib.blake2b(np.packbits(prompt).tobytes(), digest_size=16).digest()
        known = self._classifiers.get((obj, frame))
        if known is not None and known[0] == digest:
            return known[1]
        view = self._view(prompt.astype(np.float32))
        mask = view.crop(prompt.astype(np.float32)) > 0.5
        k = 2 * self._band(mask.sum()) + 1
        near = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        classifier = PixelClassifier()
        classifier.fit(self._prepare(self.video[frame], view).lab, mask, near & ~mask)
        self._classifiers[(obj, frame)] = (digest, classifier)
        return classifier

    def _set_in_view(self, track: Track, soft: np.ndarray, image: np.ndarray, keyframe: bool = False) -> None:
        """:meth:`_set` for a mask that comes without a view (prompt, re-find): its own view."""
        view = self._view(soft)
        self._set(track, soft, self._prepare(image, view).index, view, keyframe)

    def _set(self, track: Track, soft: np.ndarray | None, index: np.ndarray, view: View, keyframe: bool = False) -> None:
        """Make (H, W) float32 ``soft`` the track's state; fit/update the colour model from it.

        The colour model is sampled in ``view`` (``index``: (h, w) int32 colour bins of the
        frame there): for a tracked object its own view, so that its background is what
        surrounds it rather than the whole scene.
        """
        if soft is None or (soft > 0.5).sum() == 0:
            track.soft = None
            return
        area = float((soft > 0.5).sum())
        mask = view.crop(soft, cv2.INTER_AREA) > 0.5
        band = self._band(mask.sum())
        if keyframe or not track.model.ready:
            track.thickness = thickness(mask) / view.scale
            if not track.model.ready:
                track.model.add_keyframe(index, mask, band)
            track.area = area
        else:
            track.model.update(index, mask, band, self.config.update_rate)
            track.area = 0.9 * track.area + 0.1 * area
        track.soft = soft

    def _predict(self, track: Track, frame: Frame, prev: np.ndarray, view: View, coords: np.ndarray, trust: np.ndarray) -> np.ndarray:
        """(h, w) float32 probability of the object in ``view`` of the current frame, before competition.

        ``frame``: the current frame prepared for ``view``; ``prev``: (h, w, 3) uint8 the
        previous frame's crop there; ``coords`` and ``trust`` the flow between them
        (:meth:`.shared.SharedFlow.in_view`).

        Nothing beyond the object's reach (the warped mask, grown by :meth:`_band`) can be
        the object, and the view is wider than that (for the motion cue's background and the
        colour models'): so the evidence is computed only on the reach's box, grown by what
        every cue needs around a pixel to give the value it would give on the whole view
        (:meth:`_window`); the output is 0 outside it, as it would be.
        """
        cfg = self.config
        with STAGES("flow"):
            soft_prev = view.crop(track.soft, cv2.INTER_AREA)
            warped = FlowField.warp(soft_prev, coords)
        with STAGES("fusion"):
            band = self._band(track.area * view.scale**2)
            k = 2 * band + 1
            disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))  # the object's reach in a frame
            # Objects move continuously: nothing far outside the warped mask can be the object.
            reach_all = cv2.dilate((warped > 0.25).astype(np.uint8), disk) > 0
            win = self._window(reach_all, band)
            if win is None:
                return np.zeros(warped.shape, np.float32)
            reach, w_warped, w_trust, w_coords = reach_all[win], warped[win], trust[win], coords[win]
            here = frame.crop(win)
        # With threads, a worker computes meanwhile what needs only the frames and the warped
        # mask: the local colour models, the colour posterior and the motion cue, the texture
        # features, the guided filter's guide.
        helper = pool("cues", 1) if cfg.threads > 1 else None
        with STAGES("appearance"):
            local = soon(helper, self._local_colour, soft_prev, here, prev, w_coords, w_warped) if cfg.local_weight > 0 else None
        with STAGES("motion"):
            colour_and_motion = soon(helper, self._colour_and_motion, track, here, warped, coords, trust, disk, win)
        texture = None
        if track.classifier is not None and track.classifier.ready and cfg.texture_weight > 0:
            with STAGES("texture"):
                texture = TextureScores(track.classifier, here.lab, reach, helper)
        with STAGES("refine"):
            edge_filter = soon(helper, self._edge_filter, here, reach)
        with STAGES("fusion"):
            # Where flow is not trusted (motion boundaries, occlusions, blur), a blurred warp
            # stands in: it only says "the object is near".
            moved = np.maximum(cv2.blur(w_warped, (k, k)), 0.5 * w_warped)
            prior = w_trust * w_warped + (1 - w_trust) * moved
            prior = np.clip(prior, 0.01, 0.99)
        with STAGES("appearance"):
            colour, cue = colour_and_motion.result()
            colour_logit = np.log(colour / (1 - colour))
            if local is not None:
                self._blend_local(colour_logit, local.result())
        with STAGES("fusion"):
            logit = cfg.motion_weight * np.log(prior / (1 - prior)) + cfg.appearance_weight * colour_logit
            if cue is not None:
                logit += cfg.motion_cue_weight * cue
        with STAGES("texture"):
            if texture is not None:
                # The classifier's say is bounded (CLIP x its weight): it is asked only where
                # the rest of the evidence leaves the decision open.
                texture.at(np.abs(logit) < cfg.texture_band)
                logit += cfg.appearance_weight * cfg.texture_weight * texture.logit
        with STAGES("refine"):
            logit[~reach] = OUT_OF_REACH
            out = self._edges((1.0 / (1.0 + np.exp(-logit))).astype(np.float32), edge_filter.result())
            out = np.clip((out - 0.5) * cfg.sharpen + 0.5, 0.0, 1.0)
            out = drop_detached(out, band, cfg.detached_fraction) if cfg.detached_fraction > 0 else out
        with STAGES("confidence"):
            track.evidence = evidence(out, w_warped, w_trust, texture, here.index, track.model, band)
        with STAGES("fusion"):
            full = np.zeros(warped.shape, np.float32)
            full[win] = out
            return full

    def _colour_and_motion(self, track: Track, here: Frame, warped: np.ndarray, coords: np.ndarray, trust: np.ndarray,
                           disk: np.ndarray, win: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray | None]:
        """The object's colour posterior on ``here`` (the window ``win`` of its view), clipped to
        [0.01, 0.99], and the moves-like-the-background log-odds there (:mod:`.motion`), or
        None where that cue is off or silent; (h, w) float32 each, the window's shape.

        ``warped`` (h, w) float32 is the warped mask, ``coords`` and ``trust`` the flow, all
        on the whole view; ``disk`` the object's reach (a structuring element)."""
        cfg = self.config
        colour = np.clip(track.model.posterior(here.index), 0.01, 0.99)
        if cfg.motion_cue_weight <= 0:
            return colour, None
        inside = warped > 0.5
        near = cv2.dilate(inside.astype(np.uint8), disk) > 0
        # Pulling in is for pixels the colours leave open, not for the plainly background.
        allow = np.clip((colour - cfg.motion_in_colour) / (0.5 - cfg.motion_in_colour), 0.0, 1.0)
        cue = motion_logit(coords, self.flow.grid(*warped.shape), trust, inside, ~near,
                           positive=cfg.motion_in_weight, allow=allow, max_false=cfg.motion_in_false, window=win)
        return colour, cue

    def _window(self, reach: np.ndarray, band: int) -> tuple[slice, slice] | None:
        """The part of a view where a step's evidence is computed: the box of (h, w) bool
        ``reach`` grown by the widest neighbourhood a cue reads around a pixel (the texture
        features' blurs, the guided filter's two radii, the blurred warp's and the
        confidence's ``band``-wide rings), so that within ``reach`` every value is what the
        whole view would give. None when ``reach`` is empty."""
        return box_around(reach, max(TEXTURE_MARGIN, 2 * self.config.guided_radius + 1, band + 1))

    def _edge_filter(self, frame: Frame, reach: np.ndarray) -> tuple[tuple[slice, slice], GuidedFilter] | None:
        """The guided filter (:mod:`.refine`) on ``frame`` around (h, w) bool ``reach``, for
        :meth:`_edges`: the box it covers and the filter with its guide's statistics there;
        None when ``reach`` is empty.

        Outside ``reach`` the probability is one constant, and a window of constant input
        filters to that constant whatever the guide; so beyond the filter's reach (two
        radii) of ``reach``'s box the output is that constant, and the box grown by as much
        gives the exact output.
        """
        crop = box_around(reach, 2 * self.config.guided_radius + 1)
        if crop is None:
            return None
        return crop, GuidedFilter(frame.guide[crop], self.config.guided_radius, self.config.guided_eps)

    @staticmethod
    def _edges(prob: np.ndarray, edge_filter: tuple[tuple[slice, slice], GuidedFilter] | None) -> np.ndarray:
        """(h, w) float32 ``prob`` (OUT_OF_REACH's probability outside the reach) snapped to
        the image's edges by :meth:`_edge_filter`'s filter. Returns (h, w) float32."""
        if edge_filter is None:
            return prob
        crop, guided = edge_filter
        out = np.full(prob.shape, 1.0 / (1.0 + np.exp(-OUT_OF_REACH)), np.float32)
        out[crop] = guided(prob[crop])
        return out

    def _local_colour(self, soft_prev: np.ndarray, frame: Frame, prev: np.ndarray, coords: np.ndarray,
                      warped: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The local (per-window) colour log-odds of the pixels near the warped contour.

        ``frame``, ``coords`` and ``warped`` ((h, w) float32) cover the part of the view
        being scored; ``coords`` point into the previous frame's whole view, whose (h, w, 3)
        uint8 image is ``prev`` and (h, w) float32 mask ``soft_prev``.

        Only pixels within a window's reach of the warped contour are scored: elsewhere a
        window holds one side only and the global model is all there is. The window models
        are fitted only on the box of the windows that score.

        Returns the (n,) int64 flat indices of the scored pixels in ``warped``, their (n,)
        float32 clipped log-odds and (n,) float32 weights in [0, 1]
        (:meth:`.local.LocalColour.logit`); None when none is.
        """
        cfg = self.config
        r = cfg.local_radius
        inside = (warped > 0.5).astype(np.uint8)
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
        band = cv2.dilate(inside, kernel) > cv2.erode(inside, kernel)
        at = np.flatnonzero(band)  # flat indices: gathers by them cost a third of (ys, xs)'s
        if len(at) == 0:
            return None
        h, w = soft_prev.shape  # ``coords`` point into the previous frame's whole view
        src = coords.reshape(-1, 2).take(at, axis=0)
        sx = np.clip(np.rint(src[:, 0]), 0, w - 1).astype(np.int32)
        sy = np.clip(np.rint(src[:, 1]), 0, h - 1).astype(np.int32)
        # A window's moments are box sums within r of its centre: the box of the centres
        # used, grown by r, gives them exactly (the border reflects as the whole view's does).
        x0, x1 = max(0, int(sx.min()) - r), min(w, int(sx.max()) + 1 + r)
        y0, y1 = max(0, int(sy.min()) - r), min(h, int(sy.max()) + 1 + r)
        lab_prev = lab_float(prev[y0:y1, x0:x1].astype(np.float32) / 255.0)
        model = LocalColour(lab_prev, np.ascontiguousarray(soft_prev[y0:y1, x0:x1]), r)
        local, weight = model.logit(frame.lab.reshape(-1, 3).take(at, axis=0), sx - x0, sy - y0)
        return at, np.clip(local, -cfg.local_clip, cfg.local_clip), weight

    def _blend_local(self, colour_logit: np.ndarray, local) -> None:
        """Blend :meth:`_local_colour`'s log-odds ``local`` into (h, w) float32 ``colour_logit``, in place."""
        if local is None:
            return
        at, logit, weight = local
        global_logit = colour_logit.take(at)
        # The local model speaks where the global one is unsure (similar colours on both
        # sides); where the global model is sure, the local one would only keep the previous
        # frame's mistakes (a part of the object wrongly left out stays out).
        unsure = 1.0 - np.abs(np.tanh(0.5 * global_logit))
        weight = weight * self.config.local_weight * unsure
        np.put(colour_logit, at, (1 - np.minimum(weight, 1)) * global_logit + weight * logit)

    def _find(self, track: Track, frame: Frame, taken: np.ndarray, moving: np.ndarray | None = None) -> np.ndarray | None:
        """Search a lost object in the whole frame with its keyframe colours.

        ``frame`` is the whole frame prepared for :attr:`search_view`, ``taken`` (h, w) bool
        there; returns an (H, W) float32 mask or None. ``moving``: (h, w) float32 residual
        motion (:func:`.moving.independent_motion`) there, or None: where no region has the
        object's colours, a region that moves on its own and is about its size, with colours
        not unlike it, is taken (a rider lost behind a tree, in front of a wall as colourful).
        """
        cfg = self.config
        if not track.model.ready or track.area <= 0:
            return None
        area = track.area * self.search_view.scale**2
        post = self._filter(frame)(track.model.posterior(frame.index, key_only=True))
        level = None if moving is None else self._own_motion_level(float(np.median(moving)))
        region = ((post > 0.6) & ~taken).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        best, best_area = None, 0
        for k in range(1, count):
            size = stats[k, cv2.CC_STAT_AREA]
            if size < cfg.found_fraction * area or size > 3.0 * area or size <= best_area:
                continue
            candidate = labels == k
            if track.mover and level is not None and np.median(moving[candidate]) < level:
                continue  # an object that moves on its own is not found on still background
            if track.model.similarity(frame.index, candidate) >= cfg.found_similarity:
                best, best_area = candidate, size
        if best is None and moving is not None:
            region = ((moving > level) & ~taken).astype(np.uint8)
            count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
            best_sim = cfg.found_motion_similarity
            for k in range(1, count):
                size = stats[k, cv2.CC_STAT_AREA]
                if size < cfg.found_fraction * area or size > 3.0 * area:
                    continue
                candidate = labels == k
                sim = track.model.similarity(frame.index, candidate)
                if sim >= best_sim:
                    best, best_sim = candidate, sim
            if best is not None:
                # The flow blurs the region past the object's edges: of it, what has the object's colours.
                best = best & (post > 0.5)
                if best.sum() < cfg.found_motion_fraction * area:  # a sliver (entering the frame, say)
                    best = None
        return None if best is None else self.search_view.paste(best.astype(np.float32), self.full_size)

    def _own_motion_level(self, typical: float) -> float:
        """Residual motion (px) from which a region moves on its own, in a frame whose
        typical residual is ``typical`` px. The camera's own motion leaves residuals of a
        pixel or two; an object on its own moves several times more."""
        return max(self.config.found_motion, self.config.mover_ratio * typical)

    def _drifted(self, track: Track, mask: np.ndarray, residual: np.ndarray) -> bool:
        """Whether an object that moves on its own has been dragged onto the background.

        An occluder that passes in front of an object (a tree trunk before a rider) carries
        the warped mask away with it, onto a background that may share the object's colours.
        What gives it away is motion: the object moved unlike the camera, and the mask now
        moves like it. ``mask`` (H, W) bool is the object's mask on this frame and
        ``residual`` (H, W) float32 the frame's independent motion (:mod:`.moving`). The
        first frame tracked after a prompt measures whether the object moves on its own
        (:attr:`Track.mover`); an object that does not is never judged drifted.
        """
        cfg = self.config
        level = float(np.median(residual[mask]))
        typical = float(np.median(residual[::4, ::4]))
        if track.mover is None:
            track.mover = level >= self._own_motion_level(typical)
            return False
        # Where the camera's motion is not one affine map (parallax, a zoom on a frame the
        # object fills), nothing moves "like the camera": no judgement.
        steady = typical < 0.5 * cfg.found_motion
        return track.mover and steady and level < cfg.drift_ratio * typical + 0.5

    def _step(self, track: Track, image: np.ndarray, prev_image: np.ndarray, shared: SharedFlow,
              ready: tuple[View, Future] | None = None) -> tuple[np.ndarray, Frame, View]:
        """Predict a visible object on ``image`` from ``prev_image`` (both (H, W, 3) uint8) in its view,
        along the frame's ``shared`` flow (a small object: along a flow of its own view).
        ``ready``: the view and its :meth:`_view_inputs`, asked for ahead (:meth:`_ask_ahead`).

        Returns the (H, W) float32 prediction, the current frame prepared for the view, and the view.
        """
        view = self._view(track.soft)
        if ready is not None and ready[0] == view:
            frame, prev, coords, trust = ready[1].result()
        else:
            frame, prev, coords, trust = self._view_inputs(view, image, prev_image, shared, self._own_flow(track))
        out = self._predict(track, frame, prev, view, coords, trust)
        with STAGES("fusion"):
            return view.paste(out, self.full_size), frame, view

    def _own_flow(self, track: Track) -> bool:
        """Whether the object is too small or too thin for the shared flow (:class:`TrackerConfig`)."""
        return track.area < self.config.own_flow_area or track.thickness < self.config.own_flow_thickness

    def _view_inputs(self, view: View, image: np.ndarray, prev_image: np.ndarray, shared: SharedFlow,
                     own_flow: bool) -> tuple[Frame, np.ndarray, np.ndarray, np.ndarray]:
        """What a step needs of ``view`` that depends only on the frames: the current frame
        prepared for it, the previous frame's (h, w, 3) uint8 crop, and the flow between them
        ((h, w, 2) float32 coords, (h, w) float32 trust), the ``shared`` one or, with
        ``own_flow``, the view's own."""
        with STAGES("prepare"):
            frame, prev = self._prepare(image, view), view.crop(prev_image)
        with STAGES("flow"):
            if own_flow:
                coords, trust = self.view_flow.between(cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY), frame.gray)
            else:
                coords, trust = shared.in_view(view)
        return frame, prev, coords, trust

    def _reads_shared_flow(self, tracks: dict[int, Track], since_start: int) -> bool:
        """Whether a frame ``since_start`` frames into the pass will likely read the shared
        flow, judged from the ``tracks`` as they are now: for a view (:meth:`_own_flow`), or
        for the camera's motion (lost objects, the check of :meth:`_drifted`). A flow not
        started ahead is computed when first read, the same (:class:`.shared.SharedFlow`)."""
        checks = since_start % self.config.drift_every == 0
        return not tracks or any(tr.soft is None or not self._own_flow(tr) or tr.mover is None or (tr.mover and checks)
                                 for tr in tracks.values())

    def _ask_ahead(self, tracks: dict[int, Track], image: np.ndarray, prev_image: np.ndarray,
                   shared: SharedFlow, flow_worker) -> dict[int, tuple[View, Future]]:
        """Start the :meth:`_view_inputs` of the next frame (``image``, after ``prev_image``)
        for every visible object, in ``flow_worker`` after that frame's ``shared`` flow: an
        object's next view is known once this frame's mask is, and preparing it then leaves
        the next step only the work that needs the mask (:mod:`.workers`)."""
        ahead = {}
        for o, track in tracks.items():
            if track.soft is not None:
                view, own_flow = self._view(track.soft), self._own_flow(track)
                if not own_flow:
                    shared.start()  # before the task that reads it, in the same one-thread worker
                ahead[o] = (view, flow_worker.submit(self._view_inputs, view, image, prev_image, shared, own_flow))
        return ahead

    def _steps(self, tracks: dict[int, Track], objects: list[int], image: np.ndarray, prev_image: np.ndarray,
               shared: SharedFlow, ready: dict[int, tuple[View, Future]]) -> list[tuple[np.ndarray, Frame, View]]:
        """:meth:`_step` of each of ``objects``, in order (:meth:`_each`)."""
        return self._each(lambda o: self._step(tracks[o], image, prev_image, shared, ready.get(o)), objects)

    def _each(self, work, items: list) -> list:
        """``[work(item) for item in items]``, the last item in this thread and the others in
        the step workers (:mod:`.workers`) at the same time."""
        threads = self.config.threads
        if threads <= 1 or len(items) < 2:
            return [work(item) for item in items]
        workers = pool("step", threads - 1)
        futures = [workers.submit(work, item) for item in items[:-1]]
        last = work(items[-1])
        return [f.result() for f in futures] + [last]

    def _whole(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``t``: (H, W, 3) uint8 image, (128,) float32 colour histogram and (h, w)
        uint8 gray of the whole frame at the work resolution."""
        with STAGES("decode"):
            image = self.video[t]
        with STAGES("prepare"):
            small = self.search_view.crop(image)
            return image, colour_histogram(small), cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    def _add_lines(self, tracks: dict[int, Track], masks: dict[int, np.ndarray], cond: dict, image: np.ndarray) -> None:
        """Follow each tracked object's thin lines onto ``image`` and draw them into its
        (H, W) bool mask in ``masks`` (in place), on pixels no other object holds."""
        gray = None
        for o, tr in tracks.items():
            m = masks[o]
            if not tr.lines or not m.any():  # the centre only serves to follow lines
                tr.centre = None
                continue
            ys, xs = np.nonzero(m)
            centre = np.array([xs.mean(), ys.mean()])
            if o not in cond:
                gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if gray is None else gray
                shift = centre - tr.centre if tr.centre is not None else np.zeros(2)
                tr.lines = follow(tr.lines, gray, shift)
                if tr.lines:
                    others = np.zeros(self.full_size, bool)
                    for p, mp in masks.items():
                        if p != o:
                            others |= mp
                    masks[o] = m | (draw(tr.lines, self.full_size) & ~others)
            tr.centre = centre

    def _take_known(self, tracks: dict[int, Track], soft: dict[int, np.ndarray], earlier: dict[int, dict],
                    cond: dict[int, np.ndarray], image: np.ndarray, t: int) -> None:
        """Start (or restart) tracking from what is known on frame ``t``: the masks an earlier
        pass left there (``earlier``, RLE, on the pass's first frame) and the prompts
        (``cond``, (H, W) bool). Sets ``tracks`` and ``soft`` in place; ``image`` is the frame."""
        new = [o for o in (*earlier, *cond) if o not in tracks]
        tracks.update(zip(new, self._each(lambda o: self._new_track(o, t), new)))  # each learns a classifier
        for o, rle in earlier.items():
            m = decode(rle)
            if m.any():
                soft[o] = m.astype(np.float32)
                self._set_in_view(tracks[o], soft[o], image, keyframe=True)
            else:
                tracks[o].area = max(tracks[o].area, 1.0)
        for o, m in cond.items():
            tracks[o].mover = None  # measured again from this prompt on
            soft[o] = m.astype(np.float32)
            self._set_in_view(tracks[o], soft[o], image, keyframe=True)
            if self.config.thin_lines:
                tracks[o].lines = find_lines(m, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))

    def _search(self, lost: list[int], tracks: dict[int, Track], soft: dict[int, np.ndarray], image: np.ndarray,
                search: Frame, residual: np.ndarray | None) -> list[int]:
        """Look for the ``lost`` objects in the whole frame (:meth:`_find`), away from what the
        other objects hold; one found goes into ``soft`` (in place) and its track is set.
        Returns the objects found.

        ``image`` (H, W, 3) uint8 is the frame, ``search`` the frame prepared for
        :attr:`search_view`, ``residual`` (H, W) float32 its independent motion or None.
        """
        taken = np.zeros(self.search_view.size, bool)
        for s in soft.values():
            taken |= self.search_view.crop(s, cv2.INTER_AREA) > 0.5
        moving = None if residual is None else self.search_view.crop(residual, cv2.INTER_AREA)
        out = []
        for o in lost:
            found = self._find(tracks[o], search, taken, moving)
            if found is not None:
                soft[o] = found
                self._set_in_view(tracks[o], found, image)
                taken |= self.search_view.crop(found, cv2.INTER_AREA) > 0.5
                out.append(o)
        return out

    def _output(self, tracks: dict[int, Track], soft: dict[int, np.ndarray], cond: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The frame's (H, W) bool mask of every tracked object: the prompted ones (``cond``)
        as prompted (:func:`prompts_win`), the others from their ``soft`` masks, one object
        per pixel; empty for an object lost here."""
        masks = prompts_win(self._to_full({o: s for o, s in soft.items() if o not in cond}), cond)
        for o in tracks:
            if o not in masks:
                masks[o] = np.zeros(self.full_size, bool)
        return masks

    def _take_refined(self, tracks: dict[int, Track], masks: dict[int, np.ndarray], refined: dict | None, cond: dict) -> None:
        """Put ``refined`` ({obj: (H, W) bool}) in place of the tracked masks, in ``masks`` and
        as the state carried to the next frame. Prompted, lost and emptied objects are left
        as they are; the colour models keep this frame's tracked update."""
        for o, m in (refined or {}).items():
            if o in tracks and o not in cond and tracks[o].soft is not None and m.any():
                tracks[o].soft = m.astype(np.float32)
                masks[o] = m

    # -- propagation ------------------------------------------------------------------
    def propagate(self, start_frame: int, reverse: bool = False, refine=None):
        """Track every object from ``start_frame`` on, forward or backward; yields (t, {obj:
        (H, W) bool mask}) frame by frame.

        ``refine(t, masks)``, if given, may correct a frame's tracked masks before they go out:
        it returns {obj: (H, W) bool} (or None), and what it returns is carried on from there
        (:meth:`_take_refined`; the learned engine re-anchors on its image model this way).

        Each frame: a scene cut loses every object, otherwise each visible one is predicted
        in its view (:meth:`_step`); prompts, and on the first frame what an earlier pass
        left, take over (:meth:`_take_known`); objects compete for pixels (:func:`compete`);
        an object that shrank away is lost, and one that moves like the camera when it
        should not is flagged (:meth:`_drifted`); lost and flagged objects are searched for
        (:meth:`_search`); the masks go out (:meth:`_output`) with their thin lines drawn in.
        """
        step = -1 if reverse else 1
        stop = -1 if reverse else len(self.video)
        tracks: dict[int, Track] = {}
        judge = Judge(self._prompt_confidence, self._confidence.get(start_frame, {}))
        prev_image: np.ndarray | None = None
        prev_hist: np.ndarray | None = None
        prev_gray: np.ndarray | None = None
        ahead = None  # the next frame: (t, image, hist, gray, its SharedFlow), when its flow was started early
        ready: dict[int, tuple[View, Future]] = {}  # this frame's views, prepared ahead (:meth:`_ask_ahead`)
        decoded: tuple[int, Future] | None = None  # the frame after next, decoded by the flow worker
        flow_worker = pool("flow", 1) if self.config.threads > 1 else None
        for t in range(start_frame, stop, step):
            if ahead is not None and ahead[0] == t:
                _, image, hist, gray, shared = ahead
            else:
                image, hist, gray = self._whole(t)
                # The flow back to the previous frame, computed once (on first use) for every object.
                shared = None if prev_image is None else SharedFlow(self.flow, self.search_view, self.full_size, prev_gray, gray, flow_worker)
            ahead = None
            if flow_worker is not None and t + step != stop:
                # The next frame's flow needs only the images: a worker computes it while
                # this frame's objects are tracked (:mod:`.workers`), if it will be used.
                if decoded is not None and decoded[0] == t + step:
                    next_image, next_hist, next_gray = decoded[1].result()
                else:
                    next_image, next_hist, next_gray = self._whole(t + step)
                ahead = (t + step, next_image, next_hist, next_gray,
                         SharedFlow(self.flow, self.search_view, self.full_size, gray, next_gray, flow_worker))
                if self._reads_shared_flow(tracks, t + step - start_frame):
                    ahead[-1].start()
            search: Frame | None = None  # the whole frame, prepared only when needed
            cond = self._conditioning.get(t, {})
            cut = prev_hist is not None and cv2.compareHist(prev_hist, hist, cv2.HISTCMP_CORREL) < self.config.cut_correlation
            soft: dict[int, np.ndarray] = {}
            views: dict[int, tuple[Frame, View]] = {}
            visible = [o for o, tr in tracks.items() if tr.soft is not None and o not in cond]
            if cut:
                for o in visible:
                    tracks[o].soft = None
            elif prev_image is not None:
                for o, (predicted, frame, view) in zip(visible, self._steps(tracks, visible, image, prev_image, shared, ready)):
                    soft[o], views[o] = predicted, (frame, view)
            earlier = self._tracked.get(t, {}) if t == start_frame else {}
            self._take_known(tracks, soft, {o: rle for o, rle in earlier.items() if o not in cond}, cond, image, t)
            free = [o for o in soft if o not in cond]
            compete(soft, free)
            taken_full = np.zeros(self.full_size, bool)
            for o in cond:
                taken_full |= cond[o]
            residual = None  # this frame's independent motion, full resolution, when needed
            drifted = []  # objects whose masks may have been dragged onto the background
            for o in free:
                s = np.where(taken_full, 0.0, soft[o]).astype(np.float32) if cond else soft[o]
                tr = tracks[o]
                visible = (s > 0.5).sum() >= max(4.0, self.config.lost_fraction * tr.area)
                check = tr.mover is None or (tr.mover and (t - start_frame) % self.config.drift_every == 0)
                if visible and check and prev_image is not None and self.config.found_motion > 0:
                    with STAGES("motion"):
                        residual = shared.residual()
                        if self._drifted(tr, s > 0.5, residual):
                            drifted.append(o)
                if not visible:
                    soft.pop(o)
                    tr.soft = None  # lost: empty until found again
                else:
                    soft[o] = s
                    if o not in views:  # known at the start of the pass, not predicted
                        search = search or self._prepare(image, self.search_view)
                        views[o] = (search, self.search_view)
                    frame, view = views[o]
                    with STAGES("appearance"):
                        self._set(tr, s, frame.index, view)
            # Search for lost objects (not on the first frame of a pass, nothing moved yet), and
            # for drifted ones away from their masks: one that has merely stopped moving is
            # not found moving elsewhere, and keeps its mask.
            lost = [o for o, tr in tracks.items() if tr.soft is None and o not in soft] + drifted
            found = []
            if prev_image is not None and lost:
                with STAGES("search"):
                    search = search or self._prepare(image, self.search_view)
                    if self.config.found_motion > 0 and residual is None:
                        residual = shared.residual()
                    found = self._search(lost, tracks, soft, image, search, residual)
            masks = self._output(tracks, soft, cond)
            if refine is not None:
                with STAGES("re-anchor"):
                    self._take_refined(tracks, masks, refine(t, masks), cond)
            # Every mask of this frame is known: the next frame's views can be prepared.
            ready = self._ask_ahead(tracks, ahead[1], image, ahead[-1], flow_worker) if ahead is not None else {}
            if ahead is not None and (stop - (t + 2 * step)) * step > 0:
                # ... and the frame after it decoded, off this thread: behind those views in
                # the worker's queue, ahead of the flow that will need it.
                decoded = (t + 2 * step, flow_worker.submit(self._whole, t + 2 * step))
            with STAGES("lines"):
                self._add_lines(tracks, masks, cond, image)
            self._tracked[t] = {o: encode(m) for o, m in masks.items()}
            with STAGES("confidence"):
                self._confidence[t] = judge.frame(t, masks, tracks, cond, earlier, cut=cut, found=found)
            yield t, masks
            prev_image, prev_hist, prev_gray = image, hist, gray
