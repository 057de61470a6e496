"""Metrics: DAVIS J and F, sequence statistics, temporal consistency, latency; as tables.

Element functions on numpy masks, (H, W) bool:

- :func:`jaccard` (J), :func:`f_boundary` (F), :func:`statistics` (mean, recall, decay).

On mask stores:

- :func:`timeline_scores`: per-object per-frame J (with ground truth) or IoU with the
  previous frame (without), for the player's timeline.
"""

from __future__ import annotations

from .davis import boundary_map, disk, f_boundary, jaccard, statistics, tolerance_px
from .scores import Evaluation, evaluate, timeline_scores

__all__ = [
    "Evaluation",
    "evaluate",
    "boundary_map",
    "disk",
    "f_boundary",
    "jaccard",
    "statistics",
    "timeline_scores",
    "tolerance_px",
]
