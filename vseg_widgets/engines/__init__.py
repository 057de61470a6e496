"""Segmentation engines behind one protocol (:mod:`.base`), and the lookup by name."""

from __future__ import annotations

from .base import Engine, EngineSession, FrameMasks
from .classic import ClassicEngine
from .learned import LearnedEngine

ENGINES = {"learned": LearnedEngine, "classic": ClassicEngine}
DEFAULT = "learned"  # the shipped image prompt model + classic propagation


def get_engine(engine=DEFAULT) -> Engine:
    """An Engine from a name ("learned", the default; "classic"; "sam2") or an engine
    instance (returned as is)."""
    if isinstance(engine, str):
        if engine == "sam2":
            from .sam2 import SAM2  # optional extra: imported only when asked for

            return SAM2()
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {sorted([*ENGINES, 'sam2'])} or pass an Engine instance.")
        return ENGINES[engine]()
    if not callable(getattr(engine, "init_session", None)):
        raise TypeError(
            f"{type(engine).__name__} is not an engine: it needs an init_session(video) method "
            "(see vseg_widgets.engines.base.Engine)."
        )
    return engine


def __getattr__(name: str):
    if name == "SAM2":  # optional extra: imported on first use
        from .sam2 import SAM2

        return SAM2
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT", "Engine", "EngineSession", "FrameMasks", "ClassicEngine", "LearnedEngine", "SAM2", "get_engine"]
