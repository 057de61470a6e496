"""Image prompt models: one frame and its clicks or box in, a mask and its predicted
quality out (:mod:`.base`). The default is the shipped ONNX model (:mod:`.shipped`, run by
:mod:`.onnx_sam`); a SAM, SAM 2 or MobileSAM predictor of your own serves through
:class:`SamPredictorModel`, and anything with ``embed`` and ``predict`` through the
protocol. Embeddings are cached per frame (:mod:`.cache`).
"""

from __future__ import annotations

from .base import ImagePromptModel, Prediction, sam_mask_logits
from .cache import EmbeddingCache
from .onnx_sam import OnnxSam
from .predictor import SamPredictorModel
from .shipped import available, shipped_model, verify

__all__ = [
    "EmbeddingCache",
    "ImagePromptModel",
    "OnnxSam",
    "Prediction",
    "SamPredictorModel",
    "available",
    "sam_mask_logits",
    "shipped_model",
    "verify",
]
