"""Binary encodings of what the player sends to the browser: frames and masks.

Frames travel as JPEG bytes; masks as row-major run lengths packed as LEB128 varints.
Both go in the binary buffers of a widget message (never base64, never JSON pixels).

Mask encoding ("runs-v1"), decoded by ``js/src/codec.ts``:

- the (H, W) bool mask is read row-major (the order of canvas ImageData);
- run lengths alternate background, foreground, background, ... and always start with a
  background run (of length 0 when pixel 0 is set); their sum is H * W;
- each run length is an unsigned LEB128 varint: 7 bits per byte, low bits first, the high
  bit set on every byte but the last.

A 480p object mask is typically a few hundred bytes to a few KB.

Why not send the store's COCO RLE counts string as it is (no Python work per mask)? Its
runs are column-major and its 5-bit characters spend a byte each: on the player benchmark
(classic engine masks of DAVIS 'blackswan', a wide object) it is ~50% larger (median 888
vs 587 bytes per mask), while re-encoding costs ~0.5 ms per 480p mask. Tall objects
(DAVIS 'dog', 'cows') go the other way (10-30% smaller). Measured 2026-11; revisit if the
per-mask Python time starts to matter (e.g. many objects while propagating).
"""

from __future__ import annotations

import cv2
import numpy as np

MASK_ENCODING = "runs-v1"
_MAX_VARINT_BYTES = 5  # 5 x 7 bits covers every uint32 run length


def mask_to_runs(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (K,) uint32 run lengths, row-major, starting with a background run."""
    flat = np.asarray(mask, dtype=bool).ravel()
    if flat.size == 0:
        return np.zeros(1, np.uint32)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).astype(np.uint32)
    if flat[0]:
        runs = np.concatenate((np.zeros(1, np.uint32), runs))
    return runs


def runs_to_mask(runs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`mask_to_runs`: (K,) run lengths -> (H, W) bool."""
    runs = np.asarray(runs, dtype=np.int64)
    if runs.sum() != shape[0] * shape[1]:
        raise ValueError(f"runs cover {runs.sum()} pixels, not {shape[0]} x {shape[1]}.")
    values = np.arange(len(runs)) % 2 == 1  # odd runs are foreground
    return np.repeat(values, runs).reshape(shape)


def encode_varints(values: np.ndarray) -> bytes:
    """(K,) non-negative ints < 2**35 -> LEB128 bytes (vectorised: no Python loop per value)."""
    v = np.asarray(values, dtype=np.uint64)
    shifts = np.arange(_MAX_VARINT_BYTES, dtype=np.uint64) * np.uint64(7)
    groups = ((v[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)  # (K, 5)
    nbytes = 1 + sum((v >= np.uint64(1) << np.uint64(7 * k)).astype(np.int64) for k in range(1, _MAX_VARINT_BYTES))
    k = np.arange(_MAX_VARINT_BYTES)
    groups[k[None, :] < (nbytes[:, None] - 1)] |= 0x80  # continuation bit on all but the last byte
    return groups[k[None, :] < nbytes[:, None]].tobytes()


def decode_varints(data: bytes) -> np.ndarray:
    """LEB128 bytes -> (K,) uint64 (used by tests; the browser has its own decoder)."""
    out, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(value)
            value, shift = 0, 0
    if shift:
        raise ValueError("truncated varint at the end of the buffer.")
    return np.array(out, dtype=np.uint64)


def encode_mask(mask: np.ndarray) -> bytes:
    """(H, W) bool -> "runs-v1" bytes."""
    return encode_varints(mask_to_runs(mask))


def decode_mask(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    """"runs-v1" bytes -> (H, W) bool."""
    return runs_to_mask(decode_varints(data), shape)


def encode_jpeg(frame: np.ndarray, quality: int = 85, max_width: int | None = None) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes, downscaled to ``max_width`` when wider.

    The browser draws the image stretched to the full-resolution canvas, so a downscaled
    frame only costs sharpness, never coordinate accuracy.
    """
    if max_width is not None and frame.shape[1] > max_width:
        height = round(frame.shape[0] * max_width / frame.shape[1])
        frame = cv2.resize(frame, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode the frame as JPEG.")
    return buf.tobytes()
