"""The image prompt model protocol: one frame and its prompts in, candidate masks out.

This is the part of segmentation that answers a click or a box on *one* frame; carrying
masks through time is propagation's job (:mod:`vseg_widgets.engines`). The shape follows
SAM's image predictors: a frame is *embedded* once (the expensive part: about half a
second on 2 CPU cores for the shipped model), then every set of prompts is *decoded* against that
embedding (tens of milliseconds), so a person's clicks on a frame cost only the decoder.
Embeddings are cached by :class:`~vseg_widgets.prompt_models.cache.EmbeddingCache`.

Conventions, for every method below:
    image:   (H, W, 3) uint8 RGB, full resolution
    points:  (N, 2) float32 pixel coordinates (x, y) in the full-resolution frame
    labels:  (N,) int32, 1 = positive (on the object), 0 = negative (not on it)
    box:     (4,) float32 (x0, y0, x1, y1), pixels
    logits:  a previous prediction's low-resolution mask logits, fed back with the next
             click; the model's own shape, (h, w) float32 (SAM: 256 x 256)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Prediction:
    """What an image prompt model answers to one set of prompts.

    Attributes:
        masks: (K, H, W) bool, K candidate masks (K = 1 for a single-mask decoder).
        scores: (K,) float32, the model's own estimate of each candidate's IoU.
        logits: (K, h, w) float32 low-resolution logits of each candidate, to feed back
            with the next click; None when the model has none.
    """

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray | None = None

    @property
    def best(self) -> int:
        """Index of the candidate with the highest predicted IoU."""
        return int(np.argmax(self.scores))


@runtime_checkable
class ImagePromptModel(Protocol):
    """A promptable image segmenter (SAM, SAM 2, MobileSAM, the shipped ONNX model, yours)."""

    name: str

    def embed(self, image: np.ndarray) -> Any:
        """Compute what :meth:`predict` needs of ``image`` (the expensive, cached step).

        Returns an opaque embedding; if it has an ``nbytes`` attribute, the cache counts it
        against its bound.
        """
        ...

    def predict(
        self,
        embedding: Any,
        image_size: tuple[int, int],
        *,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        logits: np.ndarray | None = None,
        multimask: bool = False,
    ) -> Prediction:
        """Masks for the prompts on the embedded frame of size ``image_size`` (H, W).

        ``multimask`` asks for several candidates where the model can give them (an
        ambiguous first click); a model that cannot returns one.
        """
        ...


def sam_mask_logits(mask: np.ndarray, side: int = 1024, low_res: int = 256, strength: float = 10.0,
                    scale: float | None = None) -> np.ndarray:
    """An (H, W) bool mask as SAM-style low-resolution logits: (low_res, low_res) float32.

    SAM's mask input lives in the padded square frame the encoder sees (the longest side
    resized to ``side``, padded at the bottom and right; or the frame at ``scale`` x its
    size there), at ``low_res / side`` of its scale. A binary mask becomes +-``strength``
    there: how SAM 2 conditions a click on a frame that propagation already has a mask for.
    """
    h, w = mask.shape
    scale = (scale or side / max(h, w)) * low_res / side
    nh, nw = max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))
    import cv2

    small = cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.full((low_res, low_res), -strength, np.float32)
    out[:nh, :nw] = np.where(small >= 0.5, strength, -strength)
    return out
