"""How sure the classic tracker is of each mask: a confidence in [0, 1] per (frame, object).

After a propagation over hundreds of frames a person needs to know where to look. The
tracker has evidence of its own on every frame, which costs little to read off
(:func:`evidence`, in the object's view, while the step's arrays are at hand):

- **colours like the prompt's** (``similarity``): the Bhattacharyya coefficient between
  the colours inside the new mask and the object's keyframe colours. A mask dragged onto
  the background, or reduced to a part of the object, has other colours. This is also the
  test the tracker uses to re-find a lost object (:meth:`.tracker.ClassicSession._find`).
- **texture agrees** (``texture_agree``): the share of the contour band where the
  colour-and-texture classifier learned on the prompt (:mod:`.texture`) puts the pixel on
  the side of the contour the mask does. 0.5 is chance.
- **a confident cut** (``certain``): the share of the contour band where the fused
  probability is below 0.1 or above 0.9. Where motion, colours and texture disagree,
  the band is grey.
- **motion and appearance agree** (``warp_iou``): the IoU of the previous mask carried by
  the optical flow with the new one. Appearance pulling the mask far from where the
  motion put it is a sign that one of them is wrong.
- **forward-backward flow agreement** (``trust``) and the **area change**.

:class:`Judge` turns them into one number per object and frame: the geometric mean of the
four first terms, each mapped linearly from its chance level (0) to the value a right mask
typically reaches (1), times a penalty for a sudden change of area, times the confidence
of the mask the pass started from (a mask carried from a doubtful prompt is no surer than
it). Events override the evidence: an object lost (its mask is empty, after an occlusion,
on leaving the frame or at a scene cut) gets :data:`LOST`, one re-found by the search
:data:`FOUND`: both are frames a person should look at.

Nothing is fitted: the terms and their end points were picked from what each one measures
(0.5 is chance for the agreements) after comparing each term alone and a handful of simple
combinations on the DAVIS 2016 dev sequences; there is no held-out check yet. There
(first-frame ground truth, forward) the confidence tells frames with J < 0.5 from the
others with an AUC of 0.97 (``benchmarks/bench_confidence.py``, which also reports each
term alone), at about 1% of the propagation time.

What it cannot see: whether the prompt itself was right. A wrong first mask, tracked
faithfully, is tracked with confidence; the learned engine's predicted IoU of a click
(:meth:`Judge` takes it as the ceiling of what is carried from it) is what catches some
of those. Classic clicks carry no confidence of their own (a colour-separation score of
the cut was tried and did not follow its IoU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Confidence of an object the tracker lost (empty mask): hidden, gone or lost, look.
LOST = 0.25
#: Confidence of an object on the frame the whole-frame search re-found it.
FOUND = 0.3
#: (chance level, typical value of a right mask) of each evidence term (see the module doc).
RANGES = {"similarity": (0.5, 0.95), "texture_agree": (0.5, 0.9), "certain": (0.5, 0.95), "warp_iou": (0.5, 0.95)}
#: An area change beyond this factor between frames lowers the confidence ...
AREA_JUMP = 1.5
#: ... by exp(-(|log change| - log AREA_JUMP) / AREA_SCALE).
AREA_SCALE = 0.5


@dataclass(frozen=True)
class Evidence:
    """What one prediction step of one object saw (floats; NaN where not measurable)."""

    certain: float  # share of the contour band labelled with p < 0.1 or p > 0.9
    trust: float  # mean forward-backward flow agreement over the previous and the new mask
    texture_agree: float  # share of the band where the texture classifier sides with the mask
    warp_iou: float  # IoU of the previous mask carried by the flow with the new one
    similarity: float  # Bhattacharyya coefficient of the mask's colours with the keyframe's


def evidence(out: np.ndarray, warped: np.ndarray, trust: np.ndarray, texture,
             index: np.ndarray, model, band: int) -> Evidence:
    """The evidence of one prediction step, in the object's view.

    Args:
        out: (h, w) float32 new soft mask, in [0, 1].
        warped: (h, w) float32 previous soft mask carried by the flow.
        trust: (h, w) float32 forward-backward agreement of that flow, in [0, 1].
        texture: (h, w) float32 log-odds of the texture classifier, or None (no classifier),
            or the tracker's :class:`.texture.TextureScores`, computed here on the band read.
        index: (h, w) int32 colour bins of the frame (:func:`.appearance.colour_index`).
        model: the object's :class:`.appearance.ColourModel`.
        band: width (px) of the ring around the mask that matters (the tracker's reach).
    """
    mask = out > 0.5
    prev = warped > 0.5
    nan = float("nan")
    if not mask.any():
        return Evidence(nan, nan, nan, 0.0, nan)
    m8 = mask.view(np.uint8)
    k = 2 * max(1, band // 2) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    ring = cv2.dilate(m8, kernel) > cv2.erode(m8, kernel)  # both sides of the contour
    p = out[ring]
    certain = float(np.count_nonzero((p < 0.1) | (p > 0.9)) / p.size) if p.size else nan
    agree = nan
    if texture is not None and p.size:
        if hasattr(texture, "at"):  # log-odds computed on demand: make sure of the band's
            texture.at(ring)
            texture = texture.logit
        agree = float(np.count_nonzero((texture[ring] > 0) == mask[ring]) / p.size)
    either = mask | prev
    both = np.count_nonzero(mask & prev)
    union = np.count_nonzero(either)
    similarity = model.similarity(index, mask) if model.ready else nan
    return Evidence(certain, float(trust[either].mean()), agree, both / union, similarity)


def score(ev: Evidence) -> float:
    """One step's evidence as a confidence in [0, 1]: the geometric mean of the terms of
    :data:`RANGES` (those measured), each mapped linearly from its chance level to 1."""
    terms = []
    for name, (lo, hi) in RANGES.items():
        value = getattr(ev, name)
        if math.isfinite(value):
            terms.append(min(1.0, max(0.0, (value - lo) / (hi - lo))))
    if not terms:
        return LOST
    if min(terms) <= 0.0:
        return 0.0
    return float(math.exp(sum(math.log(t) for t in terms) / len(terms)))


def area_factor(area: float, previous: float) -> float:
    """1, or less for an area change beyond :data:`AREA_JUMP` x between frames (px, any unit)."""
    if previous <= 0 or area <= 0:
        return 1.0
    jump = abs(math.log(area / previous)) - math.log(AREA_JUMP)
    return 1.0 if jump <= 0 else math.exp(-jump / AREA_SCALE)


class Judge:
    """The confidence of every object's output on each frame of one propagation pass.

    Args:
        prompt_confidence: {(frame, obj): confidence} of the prompted masks (1 for an exact
            mask given by the person; the prompt model's or the cut's own estimate for
            clicks); a prompt missing there counts as sure.
        earlier: {obj: confidence} of the masks an earlier pass left on the pass's first
            frame, which this pass starts from.
    """

    def __init__(self, prompt_confidence: dict[tuple[int, int], float], earlier: dict[int, float]):
        self.prompt_confidence = prompt_confidence
        self.earlier = dict(earlier)
        self.first = True
        self.anchor: dict[int, float] = {}  # obj -> confidence of the mask it is carried from
        self.area: dict[int, float] = {}  # obj -> area of its last output, px

    def frame(self, t: int, masks: dict[int, np.ndarray], tracks: dict, cond: dict, earlier: dict, *,
              cut: bool, found: list[int]) -> dict[int, float]:
        """{obj: confidence} of frame ``t``'s output ``masks`` ((H, W) bool).

        ``tracks``: {obj: Track}, whose ``evidence`` (set by the step that predicted it on
        this frame, else None) is read and cleared; ``cond``: the objects prompted here;
        ``earlier``: those known here from an earlier pass (first frame only); ``cut``: a
        scene cut before this frame; ``found``: objects the search re-found here.
        """
        out = {}
        for o, mask in masks.items():
            area = float(np.count_nonzero(mask))
            track = tracks.get(o)
            ev = None if track is None else track.evidence
            if track is not None:
                track.evidence = None
            if o in cond:
                c = _unit(self.prompt_confidence.get((t, o), 1.0), 1.0)
                self.anchor[o] = c
            elif self.first and o in earlier:
                c = self.earlier.get(o, float("nan"))
                self.anchor[o] = _unit(c, 1.0)
            elif area == 0 or cut:
                c = LOST
            elif o in found or ev is None:
                c = FOUND * self.anchor.get(o, 1.0)
            else:
                c = score(ev) * area_factor(area, self.area.get(o, 0.0)) * self.anchor.get(o, 1.0)
            self.area[o] = area
            out[o] = c
        self.first = False
        return out


def _unit(value: float, default: float) -> float:
    """``value`` if it is a number (not NaN), else ``default``."""
    return default if value is None or not math.isfinite(value) else float(value)
