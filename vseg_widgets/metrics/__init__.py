"""Metrics: DAVIS J and F, sequence statistics, temporal consistency and latency, as tables.

Element functions on numpy masks ((H, W) bool, or 0/1 ints):

- :func:`jaccard` (DAVIS J), :func:`f_boundary` (DAVIS F), :func:`statistics` (DAVIS
  mean, recall and decay of per-frame scores), :func:`boundary_map`, :func:`disk`.

On mask stores (and Segmenters):

- :func:`evaluate`: J, F and J&F per (frame, object), per object and overall;
- :func:`timeline_scores`: per-object per-frame J (with ground truth) or IoU with the
  previous frame (without), for the player's timeline;
- :func:`consistency`, :func:`flicker_events`: temporal consistency without ground truth;
  :func:`identity_switches` with it;
- :func:`latency`: the engine time per frame a Segmenter recorded;
- :func:`review_order`: the frames of a Segmenter ranked for a person to check, from the
  engine's confidence and the consistency signals.

Interactive segmentation (the simulated user of click benchmarks):

- :func:`next_click`: the standard clicker's next click; :func:`click_curve`: IoU after
  each of its clicks on a Segmenter; :func:`noc`: clicks to reach an IoU (NoC@85, NoC@90).

Column names
------------
One naming convention runs through ``Segmenter.to_dataframe()`` and every table here, so
they merge on ``(frame, obj_id)`` (plus ``time_s`` when both have it) without renaming:

=============  =====  =========================================================================
frame          int    frame index, 0-based
time_s         float  seconds from frame 0: the video's own timestamps (true for variable
                      frame rates), or frame / fps when fps is given; present only where known
obj_id         int    object id (1, 2, ...; 0 is background)
label          str    the object's label (Segmenter.set_label); present where labels are known,
                      None for an unlabelled object
sequence       str    a sequence label, when one was given (for concatenating sequences)
J, F, JF       float  DAVIS region similarity, boundary accuracy, their mean (evaluate)
J_drop         float  previous evaluated frame's J minus this J (evaluate)
gt_area_px     int    ground-truth area (evaluate)
area_px        int    mask area in pixels; area_frac = area_px / (H * W)
iou_prev       float  IoU with the object's mask on the previous frame
area_change    float  relative change of area_px from the previous frame (consistency)
flow_iou       float  IoU with the previous mask warped by optical flow (consistency)
flicker        bool   frame is inside a flicker event (consistency)
<M>_mean, <M>_recall, <M>_decay   DAVIS statistics of measure M in {J, F}; JF_mean
engine_ms      float  engine time of a frame (Segmenter.to_dataframe)
confidence     float  the engine's confidence in a mask, [0, 1]; NaN where it gives none
                      (Segmenter.to_dataframe, review_order)
sureness       float  confidence and consistency folded into one number, [0, 1] (review_order)
=============  =====  =========================================================================

NaN means "undefined here" (no mask on that frame, no previous frame, no ground truth),
never "zero"; each function says where it can appear.
"""

from __future__ import annotations

from .clicks import MAX_CLICKS, click_curve, next_click, noc
from .davis import boundary_map, disk, f_boundary, jaccard, statistics, tolerance_px
from .latency import latency
from .review import review_order
from .scores import Evaluation, evaluate, timeline_scores
from .temporal import consistency, flicker_events, identity_switches, optical_flow, warp_mask

__all__ = [
    "MAX_CLICKS",
    "Evaluation",
    "boundary_map",
    "click_curve",
    "consistency",
    "disk",
    "evaluate",
    "f_boundary",
    "flicker_events",
    "identity_switches",
    "jaccard",
    "latency",
    "next_click",
    "noc",
    "optical_flow",
    "review_order",
    "statistics",
    "timeline_scores",
    "tolerance_px",
    "warp_mask",
]
