"""Region counts on COCO run-length encodings, without decoding masks (pycocotools)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pycocotools import mask as mask_utils

from ..masks import MaskStore, _bytes_rle, encode


def get(store: MaskStore, frame: int, obj_id: int) -> dict | None:
    """The stored RLE of (frame, obj_id) in the bytes form pycocotools takes, or None."""
    rle = store.rle(frame, obj_id)
    return None if rle is None else _bytes_rle(rle)


@lru_cache(maxsize=8)
def empty(height: int, width: int) -> dict:
    """RLE of an all-False (height, width) mask."""
    return _bytes_rle(encode(np.zeros((height, width), bool)))


def area(rle: dict) -> int:
    return int(mask_utils.area(rle))


def void_rle(store: MaskStore, frame: int) -> dict | None:
    """RLE of a frame's void mask, or None when it has none."""
    void = store.void(frame)
    return None if void is None else _bytes_rle(encode(void))


def jaccard(a: dict, b: dict, void: dict | None = None) -> float:
    """DAVIS J of two RLEs (void pixels excluded); 1.0 when the union is empty.

    Integer counts come from pycocotools, and the one division is the same as in
    :func:`vseg_widgets.metrics.jaccard`, so both give the same float.
    """
    inter = area(mask_utils.merge([a, b], intersect=True))
    union = area(a) + area(b) - inter
    if void is not None:
        inter -= area(mask_utils.merge([a, b, void], intersect=True))
        union -= area(mask_utils.merge([mask_utils.merge([a, b], intersect=False), void], intersect=True))
    return 1.0 if union == 0 else inter / union
