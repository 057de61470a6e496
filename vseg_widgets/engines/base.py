"""The engine protocol: what any segmentation and tracking engine provides.

The shape follows SAM 2's video predictor: an engine opens a *session* on one video;
prompts condition an object on a frame; propagation walks the video from a start frame
and yields every frame's masks as it goes. An engine knows nothing of widgets or tables.

Conventions, for every method below:
    points: (N, 2) float32 pixel coordinates (x, y) in the full-resolution frame
    labels: (N,) int32, 1 = positive (on the object), 0 = negative (not on it)
    box:    (4,) float32 (x0, y0, x1, y1), pixel coordinates
    mask:   (H, W) bool
    masks returned: {obj_id: (H, W) bool}, one entry per object the engine tracks there
"""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

import numpy as np

FrameMasks = dict[int, np.ndarray]


@runtime_checkable
class EngineSession(Protocol):
    """Per-video state of an engine."""

    def add_prompt(
        self,
        frame: int,
        obj_id: int,
        *,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> FrameMasks:
        """Condition ``obj_id`` on ``frame`` and return that frame's masks.

        The arguments are *all* the prompts of this object on this frame (the caller
        accumulates clicks), replacing whatever the engine had for (frame, obj_id). A mask
        prompt is taken as the object's exact mask. The returned dict holds at least
        ``obj_id``.
        """
        ...

    def propagate(self, start_frame: int, reverse: bool = False) -> Iterator[tuple[int, FrameMasks]]:
        """Track every prompted object from ``start_frame`` to the end (or start, if reverse).

        Yields ``(frame, masks)`` for ``start_frame`` first, then each following frame in
        order. An object appears once tracking has reached a frame where it is known (a
        prompt, or a mask from an earlier propagation); an empty mask means the object is
        not visible there. Frames with a prompt use it.
        """
        ...

    def remove_object(self, obj_id: int) -> None:
        """Forget an object, its prompts and its tracked state."""
        ...

    def reset(self) -> None:
        """Forget every prompt and all tracked state."""
        ...


class PreparingSession(Protocol):
    """Optional extension of :class:`EngineSession`, for engines with costly per-frame work
    ahead of a prompt (the learned engine's image embedding). The player calls ``prepare``
    when it rests on a frame and shows that features are being computed while ``ready`` is
    False; the Segmenter skips both for engines without them."""

    def prepare(self, frame: int) -> None:
        """Start that work for ``frame`` in the background; return at once."""
        ...

    def ready(self, frame: int) -> bool:
        """True when a prompt on ``frame`` needs no more of that work."""
        ...


class ScoringSession(Protocol):
    """Optional extension of :class:`EngineSession`, for engines that can say how sure they
    are of their masks. The Segmenter calls ``confidence(frame)`` right after ``add_prompt``
    returned that frame's masks and right after ``propagate`` yielded them, and keeps the
    values beside the masks (``seg.to_dataframe()["confidence"]``, the player's confidence
    lane, :func:`vseg_widgets.metrics.review_order`). Engines without it keep working: their
    confidence is NaN. An object missing from the answer, or given NaN, has none there.
    """

    def confidence(self, frame: int) -> dict[int, float]:
        """{obj_id: confidence in [0, 1]} of the masks just returned for ``frame``: an
        estimate of how likely each mask is right (1: sure; low: check this frame). For an
        empty mask, how sure the engine is that the object is not visible."""
        ...


@runtime_checkable
class Engine(Protocol):
    """Opens sessions; holds whatever is shared between videos (a model, settings)."""

    name: str

    def init_session(self, video) -> EngineSession:
        """A session on ``video`` (a :class:`vseg_widgets.video.Video`)."""
        ...
