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
the propagated mask (as SAM 2 does). The first click is ambiguous (the shirt or the
person?): with a multi-mask decoder the candidate with the best predicted IoU is kept; with
a single-mask one, candidates are made by prompting the decoder again with what the first
answer suggests, and chosen by predicted IoU (:meth:`LearnedSession._first_click`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError, ModelOutputError, PromptModelError
from ..prompt_models.cache import DEFAULT_MAX_BYTES, EmbeddingCache
from .classic import TrackerConfig
from .classic.tracker import ClassicSession


class LearnedEngine:
    """``vw.Segmenter(video)``'s engine: a learned image prompt model plus classic propagation.

    Args:
        prompt_model: an :class:`~vseg_widgets.prompt_models.ImagePromptModel`; default the
            shipped ONNX model (:func:`~vseg_widgets.prompt_models.shipped_model`).
        config: the classic tracker's settings.
        cache_bytes: bound on the cached frame embeddings, bytes (default 128 MiB: 32
            frames of the shipped model).
    """

    name = "learned"

    def __init__(self, prompt_model=None, config: TrackerConfig | None = None, cache_bytes: int = DEFAULT_MAX_BYTES):
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

    def init_session(self, video) -> "LearnedSession":
        return LearnedSession(video, self.prompt_model, self.config, self.cache_bytes)


class LearnedSession:
    """Engine session of :class:`LearnedEngine` (see :mod:`vseg_widgets.engines.base`)."""

    def __init__(self, video, prompt_model, config: TrackerConfig, cache_bytes: int = DEFAULT_MAX_BYTES):
        self.video = video
        self.model = prompt_model
        self.tracker = ClassicSession(video, config)
        self.embeddings = EmbeddingCache(self._embed, cache_bytes)
        # (frame, obj) -> (points, labels, box, logits) of the last answer, to feed back
        self._answers: dict[tuple[int, int], tuple] = {}
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
        never above the predicted IoU of the prompt it was carried from."""
        return self.tracker.confidence(frame)

    def _answer(self, frame, obj_id, points, labels, box, mask) -> tuple[np.ndarray, float]:
        """The prompt model's (H, W) bool mask for all of (frame, obj_id)'s prompts, and its
        predicted IoU (clipped to [0, 1]; NaN if the model gave none)."""
        size = (self.video.height, self.video.width)
        embedding = self.embeddings.get(frame)
        logits = self._feedback(frame, obj_id, points, labels, box, mask)
        try:
            if logits is None and box is None and points is not None and len(points) == 1 and labels[0] == 1:
                masks, low, iou = self._first_click(embedding, size, points, labels)
            else:
                pred = self.model.predict(embedding, size, points=points, labels=labels, box=box, logits=logits)
                k = pred.best
                masks, low, iou = pred.masks[k], None if pred.logits is None else pred.logits[k], _iou(pred, k)
        except (ModelOutputError, ModelFileError):
            raise
        except Exception as exc:
            raise PromptModelError(
                f"the image prompt model {getattr(self.model, 'name', type(self.model).__name__)!r} failed on "
                f"frame {frame}: {exc!r}. Nothing was changed; check the model (or your predictor) and try again."
            ) from exc
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
        """(mask, low-res logits, predicted IoU) for one positive click: the best of the
        decoder's candidates."""
        pred = self.model.predict(embedding, size, points=points, labels=labels, multimask=True)
        k = pred.best
        return pred.masks[k], None if pred.logits is None else pred.logits[k], _iou(pred, k)

    def _embed(self, frame: int):
        try:
            return self.model.embed(self.video[frame])
        except (ModelOutputError, ModelFileError):
            raise
        except Exception as exc:
            raise PromptModelError(
                f"the image prompt model {getattr(self.model, 'name', type(self.model).__name__)!r} could not "
                f"embed frame {frame}: {exc!r}. Check the model (or your predictor's set_image)."
            ) from exc

    # -- propagation and the rest -----------------------------------------------------------
    def propagate(self, start_frame: int, reverse: bool = False):
        return self.tracker.propagate(start_frame, reverse)

    def remove_object(self, obj_id: int) -> None:
        self.tracker.remove_object(obj_id)
        self._answers = {k: v for k, v in self._answers.items() if k[1] != obj_id}

    def reset(self) -> None:
        self.tracker.reset()
        self._answers.clear()


def _iou(pred, k: int) -> float:
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
