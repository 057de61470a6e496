"""vseg_widgets: interactive video segmentation in Jupyter.

    import vseg_widgets as vw
    video, gt = vw.datasets.synthetic()
    seg = vw.Segmenter(video)            # the last expression of a cell shows the player
    seg.add_points(0, 1, [(90, 120)])
    seg.propagate()
    seg.to_dataframe()
"""

from __future__ import annotations

import importlib

from . import datasets, engines, errors, palette
from .masks import MaskStore
from .session import PropagationReport, Prompt, Segmenter
from .video import Video, open_video

__version__ = "0.1.0"

_LAZY = ("metrics", "plots", "widget", "shots", "batch")  # heavier imports, loaded on first use


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vseg_widgets' has no attribute {name!r}")


__all__ = [
    "MaskStore",
    "PropagationReport",
    "Prompt",
    "Segmenter",
    "Video",
    "datasets",
    "engines",
    "errors",
    "open_video",
    "palette",
    *_LAZY,
]
