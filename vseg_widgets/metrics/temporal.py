"""Temporal consistency of masks over a video: without ground truth, and identity switches with it.

Teaching note: a good segmentation changes smoothly. Frame-to-frame IoU drops when an
object moves fast even if every mask is right; warping the previous mask with the optical
flow of the video first (``flow_iou``) separates real motion from mask jitter. Flicker
(an object vanishing for a frame or two and coming back) is a typical failure of
propagation under occlusion or blur.
"""

from __future__ import annotations

from typing import Mapping

import cv2
import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from ..masks import MaskStore
from ..video import frame_times
from . import _rle
from ._checks import check_not_empty, check_stores
from .scores import add_label_column

FLICKER_GAP = 3  # an absence of at most this many frames followed by a return is a flicker


def consistency(
    pred, video=None, *, fps: float | None = None, flow: bool = False, max_gap: int = FLICKER_GAP,
    labels: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """Temporal consistency per (frame, object), without ground truth.

    Args:
        pred: a MaskStore, or a Segmenter (its masks, video and fps are used); an empty
            store raises ValueError.
        video: the video of the masks (anything with ``len``, ``video[i] -> (H, W, 3)``
            uint8 RGB); needed for ``flow=True``.
        fps: frames per second for the ``time_s`` column (frame / fps); when not given,
            the video's (the Segmenter's, or ``video``) own timestamps; without either there
            is no ``time_s`` column.
        flow: also compute ``flow_iou`` (Farneback optical flow, about 10-50 ms a frame).
        max_gap: longest absence, in frames, that counts as flicker.
        labels: {obj_id: label}, for a ``label`` column after ``obj_id`` (None where an
            object has none); the Segmenter's ``seg.labels`` when one is given.

    Returns:
        One row per (frame, object) with a stored mask, sorted by frame then object:

        ===========  =====  ==============================================================
        frame        int    frame index
        time_s       float  seconds: the video's timestamps, or frame / fps (when known)
        obj_id       int    object id
        label        str    the object's label (only when labels are known, see ``labels``)
        area_px      int    mask area in pixels        (same as Segmenter.to_dataframe())
        area_frac    float  area_px / (H * W)          (same as Segmenter.to_dataframe())
        iou_prev     float  IoU with the mask on frame - 1; 1.0 when both are empty; NaN when
                            frame - 1 has no mask      (same as Segmenter.to_dataframe())
        area_change  float  (area - previous area) / previous area, per frame; NaN when the
                            previous frame has no mask or an empty one
        flow_iou     float  IoU of the mask of frame - 1 warped to this frame by optical
                            flow, with this frame's mask; 1.0 when both are empty; NaN as
                            iou_prev (only with ``flow=True``)
        flicker      bool   this frame lies in a flicker event (see :func:`flicker_events`)
        ===========  =====  ==============================================================

        The columns shared with ``Segmenter.to_dataframe()`` have the same values there,
        so this table stands alone for a bare MaskStore; merge it with
        :func:`evaluate`'s ``frames`` on ``(frame, obj_id)``.
    """
    if labels is None and isinstance(getattr(pred, "masks", None), MaskStore):
        labels = pred.labels
    store, video, fps = _unpack(pred, video, fps)
    check_not_empty(store, "predicted")
    hw = store.height * store.width
    events = flicker_events(store, max_gap=max_gap)
    in_event = {(e.obj_id, f) for e in events.itertuples() for f in range(e.start, e.end + 1)}
    flow_ious = _flow_ious(store, video) if flow else None
    rows = []
    for frame in store.frames():
        for obj in store.obj_ids:
            rle = _rle.get(store, frame, obj)
            if rle is None:
                continue
            prev = _rle.get(store, frame - 1, obj) if frame > 0 else None
            area = _rle.area(rle)
            prev_area = None if prev is None else _rle.area(prev)
            row = {
                "frame": frame,
                "obj_id": obj,
                "area_px": area,
                "area_frac": area / hw,
                "iou_prev": np.nan if prev is None else _rle.jaccard(rle, prev),
                "area_change": (area - prev_area) / prev_area if prev_area else np.nan,
            }
            if flow_ious is not None:
                row["flow_iou"] = flow_ious.get((frame, obj), np.nan)
            row["flicker"] = (obj, frame) in in_event
            rows.append(row)
    columns = ["frame", "time_s", "obj_id", "area_px", "area_frac", "iou_prev", "area_change", "flow_iou", "flicker"]
    if not flow:
        columns.remove("flow_iou")
    table = pd.DataFrame(rows, columns=[c for c in columns if c != "time_s"])
    times = frame_times(table["frame"], fps, video)
    if times is not None:
        table.insert(1, "time_s", times)
    if labels is not None:
        add_label_column(table, labels)
    return table.astype({"frame": int, "obj_id": int, "area_px": int, "flicker": bool})


def flicker_events(pred: MaskStore, max_gap: int = FLICKER_GAP) -> pd.DataFrame:
    """Flicker: an object vanishing for at most ``max_gap`` frames and coming back.

    An object is *present* on a frame when its mask there is not empty, *absent* when the
    frame was segmented (it holds some object's mask) but this object's mask is empty or
    missing, and *unknown* on frames never segmented. An event is a run of absent frames,
    at most ``max_gap`` long, with the object present on the frames just before and after;
    runs touching unknown frames or the ends of the video are not events (the object may
    have really left).

    Returns:
        DataFrame with one row per event: ``obj_id``, ``start`` and ``end`` (first and
        last absent frame), ``frames`` (end - start + 1), sorted by object then start.
        Empty (no rows) when there is no event, an empty store included.
    """
    if not isinstance(pred, MaskStore):
        raise TypeError(f"pred must be a vseg_widgets MaskStore, got {type(pred).__name__}.")
    if not (isinstance(max_gap, (int, np.integer)) and max_gap >= 1):
        raise ValueError(f"max_gap must be a positive whole number of frames, got {max_gap!r}.")
    segmented = set(pred.frames())
    rows = []
    for obj in pred.obj_ids:
        # state per frame: 1 present, 0 absent, -1 unknown
        state = np.full(pred.num_frames, -1, np.int8)
        for frame in segmented:
            state[frame] = 1 if pred.area(frame, obj) > 0 else 0
        frame = 0
        while frame < pred.num_frames:
            if state[frame] != 0:
                frame += 1
                continue
            end = frame
            while end + 1 < pred.num_frames and state[end + 1] == 0:
                end += 1
            length = end - frame + 1
            if frame > 0 and end + 1 < pred.num_frames and state[frame - 1] == 1 and state[end + 1] == 1 and length <= max_gap:
                rows.append({"obj_id": obj, "start": frame, "end": end, "frames": length})
            frame = end + 1
    return pd.DataFrame(rows, columns=["obj_id", "start", "end", "frames"]).astype(int)


def identity_switches(pred: MaskStore, gt: MaskStore, min_iou: float = 0.5) -> pd.DataFrame:
    """Identity switches: a predicted object starts covering a different ground-truth object.

    On each frame, predicted object ``k`` *matches* the ground-truth object with which its
    IoU is highest, if that IoU is at least ``min_iou`` (at 0.5 or above a mask can match
    at most one of several disjoint objects, so no assignment step is needed). Its
    identity starts as its own id (semi-supervised: object k should follow truth k); a
    switch is a frame where it matches another object than the one it matched last.
    Frames where it matches nothing (lost, occluded) do not reset the identity.

    Returns:
        DataFrame with one row per switch: ``frame``, ``obj_id`` (the predicted object),
        ``from_id``, ``to_id`` (ground-truth ids) and ``iou`` (with ``to_id``).
    """
    check_stores(pred, gt)
    check_not_empty(pred, "predicted")
    check_not_empty(gt, "ground-truth")
    if not 0 < min_iou <= 1:
        raise ValueError(f"min_iou must be in (0, 1], got {min_iou}.")
    gt_ids = gt.obj_ids
    identity = {obj: obj for obj in pred.obj_ids}
    rows = []
    for frame in pred.frames():
        objs = [o for o in pred.obj_ids if (frame, o) in pred]
        truths = [(g, _rle.get(gt, frame, g)) for g in gt_ids]
        truths = [(g, r) for g, r in truths if r is not None and _rle.area(r) > 0]
        if not objs or not truths:
            continue
        masks = [_rle.get(pred, frame, o) for o in objs]
        ious = np.asarray(mask_utils.iou(masks, [r for _, r in truths], [0] * len(truths))).reshape(len(objs), len(truths))
        for i, obj in enumerate(objs):
            best = int(np.argmax(ious[i]))
            if ious[i, best] < min_iou:
                continue
            match = truths[best][0]
            if match != identity[obj]:
                rows.append({"frame": frame, "obj_id": obj, "from_id": identity[obj], "to_id": match, "iou": float(ious[i, best])})
                identity[obj] = match
    return pd.DataFrame(rows, columns=["frame", "obj_id", "from_id", "to_id", "iou"]).astype(
        {"frame": int, "obj_id": int, "from_id": int, "to_id": int, "iou": float}
    )


def warp_mask(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Warp an (H, W) bool mask by a backward flow field.

    Args:
        mask: (H, W) bool mask on the source frame.
        flow: (H, W, 2) float32; for each pixel of the *target* frame, the (dx, dy) to its
            position on the source frame (the flow from target to source).

    Returns:
        (H, W) bool mask on the target frame (bilinear, thresholded at 0.5; pixels that
        come from outside the source frame are background).
    """
    h, w = mask.shape
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(
        mask.astype(np.float32), grid_x + flow[..., 0], grid_y + flow[..., 1],
        interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    return warped > 0.5


def optical_flow(target_rgb: np.ndarray, source_rgb: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32 Farneback flow from ``target`` to ``source`` (both (H, W, 3) uint8 RGB)."""
    a = cv2.cvtColor(np.ascontiguousarray(target_rgb), cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(np.ascontiguousarray(source_rgb), cv2.COLOR_RGB2GRAY)
    # OpenCV's documented defaults for video: 3-level pyramid, 15 px window
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def _flow_ious(store: MaskStore, video) -> dict[tuple[int, int], float]:
    """{(frame, obj): IoU(warp(mask[frame-1]), mask[frame])} for every pair of consecutive masks."""
    if video is None:
        raise ValueError("flow=True needs the video: consistency(masks, video, flow=True), or pass a Segmenter.")
    if (len(video), video.height, video.width) != (store.num_frames, store.height, store.width):
        from ..errors import MaskShapeError

        raise MaskShapeError(
            f"the video is {len(video)} frames of {video.width}x{video.height} but the masks are "
            f"{store.num_frames} frames of {store.width}x{store.height}."
        )
    out = {}
    for frame in store.frames():
        if frame == 0:
            continue
        pairs = [(o, store.get(frame - 1, o), store.get(frame, o)) for o in store.obj_ids]
        pairs = [(o, a, b) for o, a, b in pairs if a is not None and b is not None]
        if not pairs:
            continue
        flow = optical_flow(video[frame], video[frame - 1])
        for obj, before, now in pairs:
            warped = warp_mask(before, flow)
            union = np.count_nonzero(warped | now)
            out[(frame, obj)] = 1.0 if union == 0 else np.count_nonzero(warped & now) / union
    return out


def _unpack(pred, video, fps):
    masks = getattr(pred, "masks", None)
    if isinstance(masks, MaskStore):  # a Segmenter
        video = pred.video if video is None else video
        pred = masks
    if not isinstance(pred, MaskStore):
        raise TypeError(f"pred must be a vseg_widgets MaskStore or Segmenter, got {type(pred).__name__}.")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}.")
    return pred, video, fps
