"""The default engine: a learned image prompt model answers prompts, the classic tracker
propagates.

A click or a box is answered on its frame by an image prompt model
(:mod:`vseg_widgets.prompt_models`; by default the ONNX model that ships with the install),
which knows what objects look like and so gives the whole object from one click where a
weight-free cut gives a patch of colour. The answer is handed to the classic tracker
(:mod:`.classic.tracker`) as that frame's mask, and the tracker carries it through time.

Clicks follow SAM's interactive protocol: every click of the object on that frame is sent,
with the previous answer's low-resolution logits fed back, so a correction refines the mask
instead of starting over. A click on a frame that propagation already reached starts from
the propagated mask (as SAM 2 does). During propagation, every few frames the model is
asked again, with the tracked mask as its prompt, and corrects the mask's outline where it
agrees with it (:meth:`LearnedSession._reanchor`; how often: :data:`REANCHOR_GAPS`,
:func:`next_gap`); its predicted IoU there joins the tracker's confidence
(:func:`judged_iou`). The first click is ambiguous (the shirt or the
person?): the decoder's candidates are asked for, and the largest one it is confident in
that is not the background is kept (:func:`whole_object`).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..errors import ModelFileError, ModelOutputError, PromptModelError
from ..prompt_models.cache import DEFAULT_MAX_BYTES, EmbeddingCache, LookAhead
from .classic import TrackerConfig
from .classic.tracker import ClassicSession

# Re-anchoring (LearnedSession._reanchor). On the DAVIS dev sequences, the model's answer
# to a tracked mask's box and mask, taken where it agrees with the mask at IoU 0.7 or more,
# raised J on those frames by 0.034 on average (7 sequences better, 2 within 0.01 worse);
# taken everywhere, it lost 0.13 on kite-surf, whose kite lines the model does not see.
REANCHOR_AGREEMENT = 0.7
# Frames between re-anchorings: fewest, first, most (:func:`next_gap`). Every 6th frame: on the
# DAVIS dev sequences (first-frame ground truth; benchmarks/bench_learned.py) a fixed gap
# beat the adaptive (4, 8, 16), which lengthened the gap where the model agreed with the
# tracker and so let it drift later (bmx-trees 0.53 -> 0.37): (4, 8, 16) J&F 0.805 at 0.59x
# classic's frames/s, every 4th 0.828 at 0.53x, every 6th 0.808 at 0.63x, every 8th 0.799
# at 0.75x (one run of the benchmark).
REANCHOR_GAPS = (6, 6, 6)
STEADY = 0.95  # an answer this close to every tracked mask: the tracker needs no help


class LearnedEngine:
    """``vw.Segmenter(video)``'s engine: a learned image prompt model plus classic propagation.

    Args:
        prompt_model: an :class:`~vseg_widgets.prompt_models.ImagePromptModel`; default the
            shipped ONNX model (:func:`~vseg_widgets.prompt_models.shipped_model`).
        config: the classic tracker's settings.
        cache_bytes: bound on the cached frame embeddings, bytes (default 128 MiB: 32
            frames of the shipped model).
        reanchor_gaps: (fewest, first, most) frames between the re-anchorings of
            propagation on the model (:func:`next_gap`); None: never, the classic tracker
            alone carries the masks. Two re-anchorings share an encoder pass (about five
            tracked frames on 2 cores), so on the DAVIS dev sequences, from first-frame
            masks (``benchmarks/bench_learned.py``): every 4th frame (4, 4, 4) J&F 0.828 at
            0.53x classic's frames/s, every 6th (the default) 0.808 at 0.63x, every 8th
            0.799 at 0.75x, None 0.764 (classic's) at 1x.
    """

    name = "learned"

    def __init__(self, prompt_model=None, config: TrackerConfig | None = None, cache_bytes: int = DEFAULT_MAX_BYTES,
                 reanchor_gaps: tuple[int, int, int] | None = REANCHOR_GAPS):
        if prompt_model is None:
            from ..prompt_models.shipped import shipped_model

            prompt_model = shipped_model()  # raises ModelFileError, naming the fix, if the files are bad
        for method in ("embed", "predict"):
            if not callable(getattr(prompt_model, method, None)):
                raise TypeError(
                    f"{type(prompt_model).__name__} is not an image prompt model: it needs embed() and "
                    "predict() (vseg_widgets.prompt_models.ImagePromptModel), or wrap a SAM-style "
                    "predictor in vseg_widgets.prompt_models.SamPredictorModel."
                )
        self.prompt_model = prompt_model
        self.config = config or TrackerConfig()
        self.cache_bytes = cache_bytes
        if reanchor_gaps is not None:
            fewest, first, most = (int(g) for g in reanchor_gaps)
            if not 1 <= fewest <= first <= most:
                raise ValueError(f"reanchor_gaps={reanchor_gaps!r}: give (fewest, first, most) frames with "
                                 "1 <= fewest <= first <= most, e.g. (4, 8, 16); or None to never re-anchor.")
            reanchor_gaps = (fewest, first, most)
        self.reanchor_gaps = reanchor_gaps

    def init_session(self, video) -> "LearnedSession":
        return LearnedSession(video, self.prompt_model, self.config, self.cache_bytes, self.reanchor_gaps)


class LearnedSession:
    """Engine session of :class:`LearnedEngine` (see :mod:`vseg_widgets.engines.base`)."""

    def __init__(self, video, prompt_model, config: TrackerConfig, cache_bytes: int = DEFAULT_MAX_BYTES,
                 reanchor_gaps: tuple[int, int, int] | None = REANCHOR_GAPS):
        self.video = video
        self.reanchor_gaps = reanchor_gaps
        self.model = prompt_model
        self.tracker = ClassicSession(video, config)
        self.embeddings = EmbeddingCache(self._embed, cache_bytes)
        self._ahead = LookAhead(self._embed_pair)  # the frames propagation will re-anchor on
        # (frame, obj) -> (points, labels, box, logits) of the last answer, to feed back
        self._answers: dict[tuple[int, int], tuple] = {}
        # (frame, obj) -> the model's judgement of the mask propagation put out there, where
        # it re-anchored (:func:`judged_iou`)
        self._judged: dict[tuple[int, int], float] = {}
        if hasattr(prompt_model, "load"):  # create onnxruntime's sessions while the person looks
            import threading

            # Not a daemon: onnxruntime aborts the process if the interpreter exits while it loads.
            threading.Thread(target=_quietly(prompt_model.load), name="vseg-load-model").start()

    # -- the optional protocol extension: per-frame work ahead of a prompt ---------------------
    def prepare(self, frame: int) -> None:
        """Start computing ``frame``'s embedding in the background (the player rests there)."""
        self.embeddings.prefetch(frame)

    def ready(self, frame: int) -> bool:
        """True when a prompt on ``frame`` costs only the decoder."""
        return self.embeddings.ready(frame)

    # -- prompts --------------------------------------------------------------------------
    def add_prompt(self, frame, obj_id, *, points=None, labels=None, box=None, mask=None):
        key = (frame, obj_id)
        self._judged.pop(key, None)  # a prompt's mask is judged by its prompt
        if points is None and box is None:
            self._answers.pop(key, None)
            return self.tracker.add_prompt(frame, obj_id, mask=mask)
        result, iou = self._answer(frame, obj_id, points, labels, box, mask)
        masks = self.tracker.add_prompt(frame, obj_id, mask=result)
        # The decoder's own estimate of the answer's IoU is its confidence, and the ceiling
        # of the confidence of every mask propagated from it.
        self.tracker.set_prompt_confidence(frame, obj_id, iou)
        return masks

    def confidence(self, frame: int) -> dict[int, float]:
        """{obj_id: confidence} of the masks last returned for ``frame``: on a clicked frame
        the prompt model's predicted IoU, elsewhere the tracker's (:mod:`.classic.confidence`),
        never above the predicted IoU of the prompt it was carried from; on a re-anchored
        frame, the geometric mean of the tracker's and the model's (:func:`judged_iou`)."""
        out = self.tracker.confidence(frame)
        for o, c in out.items():
            judged = self._judged.get((frame, o))
            if judged is not None:
                out[o] = judged if not np.isfinite(c) else float(np.sqrt(c * judged))
        return out

    def _answer(self, frame, obj_id, points, labels, box, mask) -> tuple[np.ndarray, float]:
        """The prompt model's (H, W) bool mask for all of (frame, obj_id)'s prompts, and its
        predicted IoU (clipped to [0, 1]; NaN if the model gave none)."""
        size = (self.video.height, self.video.width)
        embedding = self.embeddings.get(frame)
        logits = self._feedback(frame, obj_id, points, labels, box, mask)
        with self._model_errors(f"on frame {frame}", "Nothing was changed; check the model (or your predictor) and try again."):
            if logits is None and box is None and points is not None and len(points) == 1 and labels[0] == 1:
                masks, low, iou = self._first_click(embedding, size, points, labels)
            else:
                pred = self.model.predict(embedding, size, points=points, labels=labels, box=box, logits=logits)
                k = pred.best
                masks, low, iou = pred.masks[k], None if pred.logits is None else pred.logits[k], _predicted_iou(pred, k)
        self._answers[(frame, obj_id)] = (_copy(points), _copy(labels), _copy(box), low)
        return np.asarray(masks, bool), iou

    def _feedback(self, frame, obj_id, points, labels, box, mask) -> np.ndarray | None:
        """Logits to condition the decoder on: the last answer's, when these prompts extend
        the ones it answered; else the given or propagated mask of this frame, if any."""
        last = self._answers.get((frame, obj_id))
        if last is not None and last[3] is not None and _extends(last, points, labels, box):
            return last[3]
        to_logits = getattr(self.model, "mask_to_logits", None)
        if to_logits is None:
            return None
        if mask is None:
            mask = self.tracker.known_mask(frame, obj_id)
        return None if mask is None or not mask.any() else to_logits(mask)

    def _first_click(self, embedding, size, points, labels):
        """(mask, low-res logits, predicted IoU) for one positive click: the whole object
        among the decoder's candidates (:func:`whole_object`)."""
        pred = self.model.predict(embedding, size, points=points, labels=labels, multimask=True)
        k = whole_object(pred)
        return pred.masks[k], None if pred.logits is None else pred.logits[k], _predicted_iou(pred, k)

    def _embed(self, frame: int):
        with self._model_errors(f"to embed frame {frame}", "Check the model (or your predictor's set_image)."):
            return self.model.embed(self.video[frame])

    def _embed_pair(self, first: int, second: int | None) -> tuple:
        """Two frames' embeddings, from one encoder pass where the model can
        (``embed_pair``, :meth:`~vseg_widgets.prompt_models.OnnxSam.embed_pair`); with
        ``second`` None, ``first``'s alone (and None)."""
        pair = getattr(self.model, "embed_pair", None)
        if second is None:
            return self.model.embed(self.video[first]), None
        if pair is None:
            return self.model.embed(self.video[first]), self.model.embed(self.video[second])
        return pair(self.video[first], self.video[second])

    def _mask_logits(self, mask: np.ndarray, embedding) -> np.ndarray | None:
        """``mask`` as the model's mask input for ``embedding`` (a model with ``embed_pair``
        lays its paired embeddings out its own way); None for a model without mask input."""
        to_logits = getattr(self.model, "mask_to_logits", None)
        if to_logits is None:
            return None
        return to_logits(mask, embedding) if hasattr(self.model, "embed_pair") else to_logits(mask)

    @contextmanager
    def _model_errors(self, doing: str, then: str):
        """Raise what the model raises as :class:`PromptModelError`, saying what it was
        ``doing`` and what to do ``then``; the model-file errors pass as they are."""
        try:
            yield
        except (ModelOutputError, ModelFileError):
            raise
        except Exception as exc:
            name = getattr(self.model, "name", type(self.model).__name__)
            raise PromptModelError(f"the image prompt model {name!r} failed {doing}: {exc!r}. {then}") from exc

    # -- propagation and the rest -----------------------------------------------------------
    def propagate(self, start_frame: int, reverse: bool = False):
        """The classic tracker's propagation, re-anchored on the prompt model every few
        frames (:meth:`_reanchor`, :func:`next_gap`; never with ``reanchor_gaps=None``); the
        embeddings of the next such frames are computed in the background, two per encoder
        pass, while the tracker works towards them (:meth:`_plan`)."""
        step = -1 if reverse else 1
        gaps = self.reanchor_gaps
        schedule = {"gap": gaps[1] if gaps else 0, "due": start_frame if gaps else None}

        def refine(t: int, masks: dict) -> dict | None:
            if t != start_frame:  # tracked anew by this pass: what was judged there is old
                for o in masks:
                    self._judged.pop((t, o), None)
            if t != schedule["due"]:
                return None
            refined, agreement, judged = ({}, [], {}) if t == start_frame else self._reanchor(t, masks)
            self._judged.update({(t, o): c for o, c in judged.items()})
            schedule["gap"] = next_gap(schedule["gap"], agreement, gaps)  # the start frame teaches nothing
            schedule["due"] = self._plan(t, step, schedule["gap"])
            return refined

        self._ahead.clear()
        try:
            yield from self.tracker.propagate(start_frame, reverse, refine=refine)
        finally:
            self._ahead.clear()  # a pass stopped early leaves nothing asked for

    LOOK_AHEAD = 3  # re-anchoring frames asked for ahead of the pass: the next, and a pair beyond it

    def _plan(self, t: int, step: int, gap: int) -> int:
        """The frame to re-anchor on after ``t``: the first one already asked for ahead, else
        ``gap`` frames on. Asks for the frames after it, in pairs, so that
        :data:`LOOK_AHEAD` are asked at all times: the encoder works a pair ahead of the
        tracker, and a change of ``gap`` takes effect after the frames already asked."""
        asked = [f for f in self._ahead.asked() if (f - t) * step > 0]
        frames = asked or [t + step * gap]
        while len(frames) < self.LOOK_AHEAD:
            frames.append(frames[-1] + step * gap)
        inside = lambda f: 0 <= f < len(self.video)  # noqa: E731
        new = [f for f in frames if f not in asked and inside(f)]
        for first, second in zip(new[::2], new[1::2]):
            self._ahead.ask(first, second)
        if len(new) % 2 and not inside(new[-1] + step * gap):  # the last one: alone
            self._ahead.ask(new[-1])
        return frames[0]  # (an odd one before the end is paired on the next call)

    def _reanchor(self, frame: int, masks: dict[int, np.ndarray]) -> tuple[dict[int, np.ndarray], list[float], dict[int, float]]:
        """The prompt model's answer for each tracked mask of ``frame``, prompted with the
        mask's box and the mask itself, where it agrees with the mask (IoU at least
        :data:`REANCHOR_AGREEMENT`): a correction of its outline, not a jump to another
        object. Returns ({obj: (H, W) bool}, the IoU of each answer with its tracked mask,
        {obj: the model's judgement of what goes out, :func:`judged_iou`}); pixels of other
        objects stay theirs.

        The tracker follows colour and motion, and its outline drifts where they are
        ambiguous; the model knows objects, and puts the outline back on this one's edges.
        """
        size = (self.video.height, self.video.width)
        then = "The masks up to that frame are kept; check the model (or your predictor), or propagate with engine='classic'."
        with self._model_errors(f"to embed frame {frame} for re-anchoring", then):
            if self.embeddings.ready(frame):  # clicked there: the frame's own embedding
                self._ahead.forget(frame)
                embedding = self.embeddings.get(frame)
            else:
                embedding = self._ahead.take(frame)
                if embedding is None:  # not asked for ahead (the end of the video)
                    embedding = self.embeddings.get(frame)
        refined, agreement, judged = {}, [], {}
        for obj, mask in masks.items():
            if not mask.any():
                continue
            ys, xs = np.nonzero(mask)
            box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)
            with self._model_errors(f"while re-anchoring frame {frame}", then):
                pred = self.model.predict(embedding, size, box=box, logits=self._mask_logits(mask, embedding))
            answer = np.asarray(pred.masks[pred.best], bool)
            for other, m in masks.items():
                if other != obj:
                    answer &= ~m
            agreement.append(_overlap(answer, mask))
            if agreement[-1] >= REANCHOR_AGREEMENT:
                refined[obj] = answer
            judged[obj] = judged_iou(_predicted_iou(pred, pred.best))
        return refined, agreement, judged

    def remove_object(self, obj_id: int) -> None:
        self.tracker.remove_object(obj_id)
        self._answers = {k: v for k, v in self._answers.items() if k[1] != obj_id}
        self._judged = {k: v for k, v in self._judged.items() if k[1] != obj_id}

    def reset(self) -> None:
        self._ahead.clear()
        self.tracker.reset()
        self._answers.clear()
        self._judged.clear()




def next_gap(gap: int, agreement: list[float], gaps: tuple[int, int, int] = REANCHOR_GAPS) -> int:
    """Frames to the next re-anchoring after one whose answers agreed with the tracked
    masks by ``agreement`` (IoU each): twice as far when all agreed closely (:data:`STEADY`),
    half as far when one was taken as a real correction, the same when nothing was learnt.

    With a fixed gap (fewest = most, the default :data:`REANCHOR_GAPS`) it stays as it is.
    """
    fewest, _, most = gaps
    if not agreement:
        return gap
    if min(agreement) >= STEADY:
        return min(2 * gap, most)
    if any(REANCHOR_AGREEMENT <= a < STEADY for a in agreement):
        return max(gap // 2, fewest)
    return gap


# Where it re-anchors, the model also judges the mask that goes out: its predicted IoU for
# the answer to the tracked mask's box and mask. On the re-anchored frames of the DAVIS dev
# sequences (first-frame ground truth, 156 frames) it followed J better than the tracker's
# confidence (Spearman 0.82 against 0.47), and the geometric mean of both told the frames
# with J < 0.5 from the others best (AUC 0.945; the tracker's alone 0.916, the model's
# 0.933). Right masks score 0.95 to 1, failed ones down to 0.84, hence the range.
JUDGED_RANGE = (0.8, 1.0)  # predicted IoU mapped to a confidence of 0 .. 1


def judged_iou(predicted: float) -> float:
    """The model's predicted IoU of a re-anchoring answer as a confidence in [0, 1], mapped
    linearly from :data:`JUDGED_RANGE`; NaN stays NaN (a model without scores)."""
    lo, hi = JUDGED_RANGE
    return predicted if not np.isfinite(predicted) else float(np.clip((predicted - lo) / (hi - lo), 0.0, 1.0))


CONFIDENT_SHARE = 0.9  # candidates scored within 10% of the best count as confident
BACKGROUND_SHARE = 0.5  # a candidate covering half the frame or more is the background


def whole_object(pred) -> int:
    """Index of the candidate a first click most likely means: the largest of those the
    model is confident in (predicted IoU at least ``CONFIDENT_SHARE`` of the best), unless
    it covers half the frame (then it is the background).

    SAM's three candidates for one click are nested (part, object part, whole), and its
    predicted IoU rates the parts about as high as the whole: on the 40 DAVIS dev frames the
    best-scored candidate had a mean IoU of 0.57 with the object, the largest confident one
    0.70 (the best of the three, chosen knowing the answer: 0.71). People click to get an
    object, so the whole one is the better guess.
    """
    masks, scores = np.asarray(pred.masks), np.asarray(pred.scores, float)
    if len(scores) == 1:
        return 0
    areas = masks.reshape(len(masks), -1).sum(1)
    frame = masks[0].size
    confident = [k for k in range(len(scores)) if scores[k] >= CONFIDENT_SHARE * scores.max() and areas[k] < BACKGROUND_SHARE * frame]
    return max(confident, key=lambda k: areas[k]) if confident else pred.best


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (H, W) bool masks (1 when both are empty)."""
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def _predicted_iou(pred, k: int) -> float:
    """Candidate ``k``'s predicted IoU, clipped to [0, 1] (SAM's head can overshoot); NaN
    when the model gave no usable score."""
    try:
        value = float(np.asarray(pred.scores, np.float64).reshape(-1)[k])
    except (TypeError, ValueError, IndexError):
        return float("nan")
    return min(1.0, max(0.0, value)) if np.isfinite(value) else float("nan")


def _copy(a):
    return None if a is None else np.array(a, copy=True)


def _extends(last: tuple, points, labels, box) -> bool:
    """True when (points, labels, box) are the last answer's prompts plus more clicks."""
    old_points, old_labels, old_box, _ = last
    if (old_box is None) != (box is None) or (box is not None and not np.array_equal(old_box, box)):
        return False
    if old_points is None:
        return points is not None
    n = len(old_points)
    return points is not None and len(points) > n and np.array_equal(points[:n], old_points) and np.array_equal(labels[:n], old_labels)


def _quietly(fn):
    def run():
        try:
            fn()
        except Exception:  # the same error is raised, with its message, on first use
            pass

    return run
