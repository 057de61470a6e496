"""Keeping the work: session files (save and load) and autosave.

- :mod:`.session_file`: the versioned file format (gzip-compressed JSON, no pickle);
- :mod:`.fingerprint`: what identifies the video a session was made on;
- :mod:`.atomic`: writes that a crash or a kill cannot leave half done;
- :mod:`.autosave`: saving every N seconds while the person works.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import EngineError, SessionFileError, VideoMismatchError, VideoNotFoundError
from . import fingerprint as fp
from .atomic import atomic_write, check_output_path
from .session_file import FORMAT_VERSION, encode_document, read_document, to_document, to_state

__all__ = ["FORMAT_VERSION", "load_session", "read_document", "save_session"]

KNOWN_ENGINES = ("learned", "classic", "sam2")


def save_session(seg, path, state=None) -> Path:
    """Write ``seg``'s work to ``path`` atomically (see :meth:`Segmenter.save`)."""
    path = check_output_path(path)  # fail before hashing frames when the path is wrong
    state = seg._get_state() if state is None else state
    doc = to_document(state, seg.video, seg.engine_name, relative_to=path.parent)
    return atomic_write(path, encode_document(doc))


def load_session(path, video=None, engine=None, segmenter_class=None, check_pixels: bool = True):
    """A Segmenter restored from ``path`` (see :meth:`Segmenter.load`)."""
    from ..session import Segmenter
    from ..video import open_video

    path = Path(path).expanduser()
    doc = read_document(path)
    saved_video = doc.get("video")
    if not isinstance(saved_video, dict):
        raise SessionFileError(f"the session file {path} is corrupt: it has no 'video' record.")
    for key, kind in (("frames", int), ("height", int), ("width", int), ("fps", (int, float)), ("samples", list)):
        value = saved_video.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise SessionFileError(f"the session file {path} is corrupt: video.{key} is {value!r:.40}.")
    for i, sample in enumerate(saved_video["samples"]):
        frame, digest = (sample.get("frame"), sample.get("sha256")) if isinstance(sample, dict) else (None, None)
        if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame < saved_video["frames"] or not (digest is None or isinstance(digest, str)):
            raise SessionFileError(f"the session file {path} is corrupt: video.samples[{i}] is {sample!r:.60}.")
    if video is None:
        recorded = _recorded_video(saved_video, path)
        where = f"the recorded video {recorded}"
        video = open_video(recorded, fps=saved_video["fps"])  # the rate the work was done at
    else:
        where = "the given video"
        video = open_video(video)
    differ = fp.differences(saved_video, video, check_pixels=check_pixels)
    if differ:
        only_pixels = len(differ) == 1 and differ[0].startswith("pixels")
        hint = (
            " If it is the same video decoded differently (another OpenCV/FFmpeg build), "
            "Segmenter.load(path, check_pixels=False) skips the pixel check."
            if only_pixels
            else ""
        )
        raise VideoMismatchError(
            f"{path} was saved on another video than {where}: {'; '.join(differ)}. Pass the video it was "
            f"made on (saved from {saved_video.get('path') or 'an in-memory array'}) as "
            f"Segmenter.load(path, video=...).{hint}"
        )
    if engine is None:
        engine = doc.get("engine")
        if engine not in KNOWN_ENGINES:
            raise EngineError(
                f"{path} was made with the engine {engine!r}, which cannot be opened by name; pass it: "
                f"Segmenter.load(path, engine=YourEngine()) (or one of {list(KNOWN_ENGINES)})."
            )
    state = to_state(doc, video.height, video.width)
    seg = (segmenter_class or Segmenter)(video, engine=engine)
    seg._set_state(state)
    return seg


def _recorded_video(saved: dict, session_path: Path):
    """The recorded video's path: as saved, else relative to the session file's folder."""
    if saved.get("path") is None:
        raise VideoNotFoundError(
            f"{session_path} was made on an in-memory array (no path to reopen); pass the same frames: "
            "Segmenter.load(path, video=frames)."
        )
    candidates = [Path(saved["path"])]
    if saved.get("relative_path"):
        candidates.append(session_path.parent / saved["relative_path"])
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise VideoNotFoundError(
        f"the video of {session_path} is gone: no {saved['path']}"
        + (f" (nor {candidates[1]})" if len(candidates) > 1 else "")
        + ". Pass where it is now: Segmenter.load(path, video='...')."
    )
