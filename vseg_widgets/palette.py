"""One colour per object, shared by the player and the matplotlib plots.

The colours are matplotlib's "tab10" cycle, so a figure drawn with plain matplotlib
defaults matches the player too. Object ``k`` (1-based) gets colour ``(k - 1) % 10``.
"""

from __future__ import annotations

OBJECT_COLORS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


def object_color(obj_id: int) -> str:
    """Hex colour '#rrggbb' of object ``obj_id`` (ids start at 1)."""
    return OBJECT_COLORS[(int(obj_id) - 1) % len(OBJECT_COLORS)]


def object_rgb(obj_id: int) -> tuple[int, int, int]:
    """(r, g, b) 0..255 of object ``obj_id``."""
    h = object_color(obj_id)
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)
