"""The built-in CPU engine, no weights: GrabCut for prompts (:mod:`.interactive`), helped in a
video by how the clicked pixels move (:mod:`.moving`, :mod:`.graph_cut`); propagation
(:mod:`.tracker`) works on each object in its own view, a crop at a resolution fitted to the
object's size (:mod:`.view`), and fuses there a DIS optical-flow motion prior (:mod:`.flow`),
an online per-object colour model (:mod:`.appearance`), local colour models along the contour
(:mod:`.local`) and a guided filter for edges (:mod:`.refine`)."""

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
