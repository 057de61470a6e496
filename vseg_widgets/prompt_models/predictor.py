"""Your own SAM-family image predictor as an image prompt model.

SAM's ``SamPredictor``, SAM 2's ``SAM2ImagePredictor`` and MobileSAM's predictor share one
interface: ``set_image(image)`` with (H, W, 3) uint8 RGB, then ``predict(point_coords,
point_labels, box, mask_input, multimask_output)`` returning ``(masks, scores,
low_res_logits)``. :class:`SamPredictorModel` wraps any object with that interface::

    from segment_anything import sam_model_registry, SamPredictor
    predictor = SamPredictor(sam_model_registry["vit_b"](checkpoint="sam_vit_b.pth"))
    seg = vw.Segmenter(video, engine=vw.engines.LearnedEngine(vw.prompt_models.SamPredictorModel(predictor)))
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelOutputError
from .base import Prediction, sam_mask_logits


class SamPredictorModel:
    """An image prompt model (:class:`.base.ImagePromptModel`) around a SAM-style predictor.

    The predictor holds one image's features at a time, so the "embedding" is the frame
    itself and :meth:`predict` calls ``set_image`` again when another frame was set since.
    Its features are the predictor's own to keep; nothing is counted against the cache.
    """

    def __init__(self, predictor, name: str | None = None):
        for method in ("set_image", "predict"):
            if not callable(getattr(predictor, method, None)):
                raise TypeError(
                    f"{type(predictor).__name__} has no {method}() method: pass a SAM-style predictor "
                    "(SamPredictor, SAM2ImagePredictor, MobileSAM's SamPredictor) or implement "
                    "vseg_widgets.prompt_models.ImagePromptModel."
                )
        self.predictor = predictor
        self.name = name or type(predictor).__name__
        self._current: _Frame | None = None

    def embed(self, image: np.ndarray) -> "_Frame":
        frame = _Frame(image)
        self._set(frame)
        return frame

    def _set(self, frame: "_Frame") -> None:
        if self._current is not frame:
            self.predictor.set_image(frame.image)
            self._current = frame

    def predict(self, embedding, image_size, *, points=None, labels=None, box=None, logits=None, multimask=False) -> Prediction:
        self._set(embedding)
        out = self.predictor.predict(
            point_coords=None if points is None else np.asarray(points, np.float32),
            point_labels=None if labels is None else np.asarray(labels, np.int32),
            box=None if box is None else np.asarray(box, np.float32),
            mask_input=None if logits is None else np.asarray(logits, np.float32)[None],
            multimask_output=multimask,
        )
        if not (isinstance(out, tuple) and len(out) >= 2):
            raise ModelOutputError(
                f"{self.name}.predict returned {type(out).__name__}, not (masks, scores, low_res_logits) "
                "as SAM's predictors do."
            )
        masks, scores = np.asarray(out[0]), np.asarray(out[1], np.float32).reshape(-1)
        low = np.asarray(out[2], np.float32) if len(out) > 2 and out[2] is not None else None
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3 or masks.shape[1:] != tuple(image_size) or len(scores) != len(masks):
            raise ModelOutputError(
                f"{self.name}.predict returned masks of shape {masks.shape} with {len(scores)} scores; "
                f"expected (K, {image_size[0]}, {image_size[1]}) and K scores."
            )
        if low is not None and (low.ndim != 3 or len(low) != len(masks)):
            low = None  # not SAM's low-res logits: clicks are then not fed back
        binary = masks > (0.0 if masks.dtype.kind == "f" else 0)
        return Prediction(binary, scores, low)

    def mask_to_logits(self, mask: np.ndarray) -> np.ndarray:
        return sam_mask_logits(mask)


class _Frame:
    """A frame handed to the predictor: the image, and no bytes of its own in the cache."""

    nbytes = 0

    def __init__(self, image: np.ndarray):
        self.image = image
