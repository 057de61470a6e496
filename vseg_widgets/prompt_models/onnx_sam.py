"""A SAM-style image prompt model exported to ONNX: an encoder file and a decoder file.

Fits SAM's standard ONNX export (``scripts/export_onnx_model.py`` of segment-anything)
and the shipped model (:mod:`.shipped`):

- encoder: input ``input`` (1, 3, 1024, 1024) float32, RGB with the longest side resized
  to 1024, zero-padded at the bottom and right, normalised with SAM's mean and std;
  output (1, 256, 64, 64) float32.
- decoder: ``image_embeddings``, ``point_coords`` (1, N, 2) in the 1024 frame,
  ``point_labels`` (1, N) (1 positive, 0 negative, 2 and 3 box corners, -1 padding),
  ``mask_input`` (1, 1, 256, 256) with ``has_mask_input`` (1,), ``orig_im_size`` (2,)
  (H, W); outputs mask logits at full size (> 0 is the object), predicted IoU, and
  low-resolution logits.

Two speed-ups, both measured on the DAVIS dev sequences (``benchmarks/bench_learned.py``):

- The encoder's matrix products run in 8-bit integers (onnxruntime's dynamic quantisation
  of the shipped file, done in memory when the model loads, ``quantize=True``): 0.62 ->
  0.40 s a frame on 2 cores, embeddings within 1.3% of the float ones; mean IoU after 1, 3
  and 5 clicks within 0.001 of the float model's, NoC@90 9.60 against 9.28.
- Propagation's re-anchoring frames are embedded two per encoder pass
  (:meth:`OnnxSam.embed_pair`): a 16:9 frame fills only 56% of the encoder's square, so two
  stacked fill it at 0.89x the resolution, for half the cost a frame; the answers to
  re-anchoring prompts lost 0.008 IoU against the ground truth (0.791 against 0.799).

onnxruntime is imported when the model is first used, so ``import vseg_widgets`` stays light.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelFileError, ModelOutputError
from .base import Prediction, sam_mask_logits
from .onnx_candidates import CANDIDATE_MASKS, CANDIDATE_SCORES, with_candidates

SIDE = 1024  # the encoder's input side
LOW_RES = 256  # side of the decoder's mask input and low-resolution output
EMBEDDING_SHAPE = (1, 256, 64, 64)
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
# Two frames share an encoder pass (:meth:`OnnxSam.embed_pair`) only where each keeps at
# least this share of the resolution it has alone: 16:9 keeps 0.89, 4:3 would keep 0.67.
PAIR_MIN_RESOLUTION = 0.85


@dataclass(frozen=True)
class PairedEmbedding:
    """One frame's share of an encoder pass over two frames (:meth:`OnnxSam.embed_pair`).

    Attributes:
        features: (1, 256, 64, 64) float32, laid out as the decoder expects: the frame at the
            top left, at ``scale`` x its size (not the longest side at 1024), the rest the
            encoder's answer to padding.
        scale: 1024-square pixels per frame pixel.
    """

    features: np.ndarray
    scale: float

    @property
    def nbytes(self) -> int:
        return int(self.features.nbytes)


class OnnxSam:
    """Runs a SAM-style ONNX encoder and decoder on the CPU (see the module docstring).

    Args:
        encoder, decoder: paths of the two .onnx files.
        name: shown in messages and tables.
        threads: intra-op threads of each onnxruntime session (default: the CPU count).
        quantize: run the encoder's matrix products in 8-bit integers (see the module
            docstring); the file on disk is left as it is.
    """

    def __init__(self, encoder: str | Path, decoder: str | Path, name: str = "onnx-sam", threads: int | None = None,
                 quantize: bool = False):
        self.encoder_path, self.decoder_path = Path(encoder), Path(decoder)
        self.name = name
        self.threads = threads or os.cpu_count() or 1
        self.quantize = quantize
        self._encoder = self._decoder = None
        self._padding: np.ndarray | None = None  # the encoder's answer to an all-padding input
        self._candidates = False  # whether the decoder graph exposes its multimask candidates
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OnnxSam({self.name!r}, encoder={str(self.encoder_path)!r}, decoder={str(self.decoder_path)!r})"

    # -- loading --------------------------------------------------------------------------
    def load(self) -> None:
        """Create both onnxruntime sessions (done on first use; call it to pay the cost early)."""
        with self._load_lock:
            if self._decoder is not None:
                return
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.log_severity_level = 3  # onnxruntime's warnings about unused initialisers are noise here
            # Spinning threads wait for work by burning a core: on 2 cores shared with the
            # tracker and the notebook they doubled a click's p95 (156 -> 75 ms measured).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sessions = []
            for path in (self.encoder_path, self.decoder_path):
                try:
                    # the decoder's dropped candidates become outputs (see .onnx_candidates)
                    if path == self.decoder_path:
                        graph = with_candidates(path) if path.is_file() else None
                        self._candidates = graph is not None
                    else:
                        graph = quantized(path) if self.quantize and path.is_file() else None
                    sessions.append(ort.InferenceSession(graph or str(path), options, providers=["CPUExecutionProvider"]))
                except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
                    raise ModelFileError(
                        f"onnxruntime could not load {path}: {exc}. The file is missing, corrupt or not an "
                        "ONNX model; reinstall it (see vseg_widgets.prompt_models.shipped)."
                    ) from exc
            self._encoder, self._decoder = sessions

    # -- the protocol -----------------------------------------------------------------------
    def embed(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (1, 256, 64, 64) float32 embedding."""
        return self._encode(preprocess(image))

    def embed_pair(self, first: np.ndarray, second: np.ndarray) -> tuple:
        """Embeddings of two (H, W, 3) uint8 RGB frames of the same size from one encoder
        pass: stacked (side by side if portrait) in the 1024 square, each at 0.89x its
        resolution alone for 16:9 (two :class:`PairedEmbedding`). Frames that would keep
        less than :data:`PAIR_MIN_RESOLUTION` of it are embedded one by one (two plain
        embeddings)."""
        h, w = first.shape[:2]
        scale, across = pair_layout(h, w)
        if scale is None or second.shape[:2] != (h, w):
            return self.embed(first), self.embed(second)
        half = SIDE // 2
        rows, cols = (SIDE, half) if across else (half, SIDE)
        square = np.zeros((1, 3, SIDE, SIDE), np.float32)
        for k, image in enumerate((first, second)):
            y, x = (0, k * half) if across else (k * half, 0)
            square[:, :, y:y + rows, x:x + cols] = preprocess(image, scale, rows, cols)
        both = self._encode(square)
        cells = EMBEDDING_SHAPE[-1] // 2
        out = []
        for k in range(2):
            features = self._padding_features().copy()
            if across:
                features[..., :cells] = both[..., k * cells:(k + 1) * cells]
            else:
                features[..., :cells, :] = both[..., k * cells:(k + 1) * cells, :]
            out.append(PairedEmbedding(features, scale))
        return tuple(out)

    def _padding_features(self) -> np.ndarray:
        """(1, 256, 64, 64) float32: the encoder's answer to a square of padding alone, what
        the decoder sees beyond a frame (computed once, on first need)."""
        if self._padding is None:
            self._padding = self._encode(np.zeros((1, 3, SIDE, SIDE), np.float32))
        return self._padding

    def _encode(self, square: np.ndarray) -> np.ndarray:
        self.load()
        name = self._encoder.get_inputs()[0].name
        (out,) = self._encoder.run(None, {name: square})[:1]
        if out.shape != EMBEDDING_SHAPE:
            raise ModelOutputError(
                f"the encoder {self.encoder_path.name} returned an embedding of shape {out.shape}, not "
                f"{EMBEDDING_SHAPE}: it is not a SAM-style encoder. Use a SAM / MobileSAM ONNX export."
            )
        return out

    def predict(self, embedding, image_size, *, points=None, labels=None, box=None, logits=None, multimask=False) -> Prediction:
        """The decoder's answer: (1, H, W) bool, its predicted IoU, and its (1, 256, 256)
        float32 low-resolution logits. With ``multimask``, where the graph exposes them
        (:mod:`.onnx_candidates`), SAM's three multimask candidates instead: (3, H, W),
        (3,), (3, 256, 256). ``embedding``: :meth:`embed`'s, or a :class:`PairedEmbedding`.
        See :class:`.base.ImagePromptModel`."""
        self.load()
        h, w = int(image_size[0]), int(image_size[1])
        embedding, scale = _features(embedding)
        coords, point_labels = sam_points(points, labels, box, (h, w), scale)
        has_mask = logits is not None
        mask_input = np.zeros((1, 1, LOW_RES, LOW_RES), np.float32) if not has_mask else np.asarray(logits, np.float32).reshape(1, 1, LOW_RES, LOW_RES)
        # The full-size masks are the low-resolution logits upscaled (:func:`upscale_logits`);
        # OpenCV does that in about 1 ms, the graph in about 15% of the decoder's time, so
        # the graph is not asked for them and skips those nodes.
        outputs = ["iou_predictions", "low_res_masks"]
        if multimask and self._candidates:
            outputs += [CANDIDATE_MASKS, CANDIDATE_SCORES]
        iou, low, *candidates = self._decoder.run(
            outputs,
            {
                "image_embeddings": embedding,
                "point_coords": coords,
                "point_labels": point_labels,
                "mask_input": mask_input,
                "has_mask_input": np.array([float(has_mask)], np.float32),
                "orig_im_size": np.array([h, w], np.float32),
            },
        )
        if candidates:
            iou, low = self._multimask(*candidates)
        if low.ndim != 4 or low.shape[0] != 1 or low.shape[2:] != (LOW_RES, LOW_RES) or iou.shape != low.shape[:2]:
            raise ModelOutputError(
                f"the decoder {self.decoder_path.name} returned IoU {iou.shape} and low-resolution logits "
                f"{low.shape}; expected (1, K) and (1, K, {LOW_RES}, {LOW_RES}). It is not SAM's standard "
                "ONNX decoder; use a SAM / MobileSAM ONNX export."
            )
        masks = np.stack([upscale_logits(k, (h, w), scale) > 0 for k in low[0]])
        return Prediction(masks, iou[0].astype(np.float32), low[0].astype(np.float32))

    def _multimask(self, low: np.ndarray, iou: np.ndarray) -> tuple:
        """SAM's multimask tokens 1-3 (IoU (1, 3), logits (1, 3, 256, 256)) from the
        (1, 4, 256, 256) and (1, 4) candidate outputs."""
        if low.shape[:2] != (1, 4) or iou.shape != (1, 4):
            raise ModelOutputError(
                f"the decoder {self.decoder_path.name} exposed candidates of shapes {low.shape} and {iou.shape}, "
                "not SAM's four (1, 4, 256, 256) masks and (1, 4) IoUs; ask for a single mask (multimask=False)."
            )
        return iou[:, 1:], low[:, 1:]

    def mask_to_logits(self, mask: np.ndarray, embedding=None) -> np.ndarray:
        """An (H, W) bool mask as this model's (256, 256) float32 mask input, for
        ``embedding``'s layout (a :class:`PairedEmbedding`'s scale; default :meth:`embed`'s)."""
        return sam_mask_logits(mask, SIDE, LOW_RES, scale=_features(embedding)[1])


def _features(embedding) -> tuple:
    """(the decoder's (1, 256, 64, 64) input, the frame's scale in the square or None for
    the longest side at 1024) of an embedding."""
    if isinstance(embedding, PairedEmbedding):
        return embedding.features, embedding.scale
    return embedding, None


def pair_layout(h: int, w: int) -> tuple[float | None, bool]:
    """(scale, side by side) of two (h, w) frames sharing the 1024 square: stacked for
    landscape frames, side by side for portrait ones; scale None where a frame would keep
    less than :data:`PAIR_MIN_RESOLUTION` of its resolution alone."""
    across = h > w
    half = SIDE // 2
    scale = min(SIDE / h, half / w) if across else min(half / h, SIDE / w)
    return (scale if scale >= PAIR_MIN_RESOLUTION * SIDE / max(h, w) else None), across


def quantized(encoder: Path) -> bytes:
    """The encoder graph with its matrix products in 8-bit integers (onnxruntime's dynamic
    quantisation of MatMul and Gemm weights; convolutions stay float, where int8 was slower
    here), serialised. About 0.4 s; the file is not changed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises a pre-processing step through the root logger
    try:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "encoder-int8.onnx"
            quantize_dynamic(encoder, out, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
            return out.read_bytes()
    finally:
        root.setLevel(level)


def upscale_logits(low: np.ndarray, image_size: tuple[int, int], scale: float | None = None) -> np.ndarray:
    """(256, 256) low-resolution logits -> (H, W) float32 logits, as SAM's postprocessing
    does: up to the 1024 square, crop the padding, resize to the frame. ``scale``: the
    frame's in the square (default: the longest side at 1024)."""
    h, w = image_size
    scale = scale or SIDE / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    square = cv2.resize(low, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(square[:nh, :nw], (w, h), interpolation=cv2.INTER_LINEAR)


def preprocess(image: np.ndarray, scale: float | None = None, rows: int = SIDE, cols: int = SIDE) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, rows, cols) float32: SAM's resize (by ``scale``;
    default the longest side to 1024), normalisation and padding (bottom and right)."""
    h, w = image.shape[:2]
    scale = scale or SIDE / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    # INTER_AREA when shrinking a large frame (4K): bilinear would alias
    interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interpolation).astype(np.float32)
    out = np.zeros((1, 3, rows, cols), np.float32)
    out[0, :, :nh, :nw] = ((resized - MEAN) / STD).transpose(2, 0, 1)
    return out


def sam_points(points, labels, box, image_size, scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prompts in SAM's ONNX form: (1, M, 2) float32 coordinates in the 1024 frame and
    (1, M) float32 labels; box corners are labelled 2 and 3, and without a box a padding
    point (0, 0) labelled -1 ends the list, as SAM's ONNX decoder expects. ``scale``: the
    frame's in the square (default: the longest side at 1024)."""
    h, w = image_size
    scale = scale or SIDE / max(h, w)
    sx, sy = int(w * scale + 0.5) / w, int(h * scale + 0.5) / h
    coords, kinds = [], []
    if points is not None and len(points):
        coords.append(np.asarray(points, np.float32).reshape(-1, 2))
        kinds.append(np.asarray(labels, np.float32).reshape(-1))
    if box is not None:
        coords.append(np.asarray(box, np.float32).reshape(2, 2))
        kinds.append(np.array([2, 3], np.float32))
    else:
        coords.append(np.zeros((1, 2), np.float32))
        kinds.append(np.array([-1], np.float32))
    xy = np.concatenate(coords) * np.array([sx, sy], np.float32)
    if box is None:
        xy[-1] = 0.0  # the padding point is not scaled
    return xy[None].astype(np.float32), np.concatenate(kinds)[None].astype(np.float32)
