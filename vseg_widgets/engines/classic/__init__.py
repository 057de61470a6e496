"""The built-in CPU engine: GrabCut for prompts, DIS optical flow for propagation. No weights."""

from __future__ import annotations

from .tracker import ClassicSession, TrackerConfig


class ClassicEngine:
    """Weight-free engine that runs anywhere; ``vw.Segmenter(video, engine="classic")``."""

    name = "classic"

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()

    def init_session(self, video) -> ClassicSession:
        return ClassicSession(video, self.config)


__all__ = ["ClassicEngine", "TrackerConfig"]
