"""The session file: one gzip-compressed JSON document holding a Segmenter's work.

The format is described field by field in ``docs/session-format.md``; this module is its
only reader and writer. No pickle: a session file holds JSON values only, so loading one
runs no code. Masks are COCO RLE strings (pycocotools' compressed counts) of the video's
(H, W); the document's ``version`` says which layout it follows.
"""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import SessionFileError, SessionVersionError
from ..palette import object_color
from . import fingerprint as fp

FORMAT = "vseg_widgets.session"
FORMAT_VERSION = 1  # bump when the layout changes; readers refuse versions above theirs
GZIP_MAGIC = b"\x1f\x8b"
SOURCES = ("prompt", "propagated")


# -- writing ----------------------------------------------------------------------------------
def to_document(state, video, engine_name: str, relative_to: Path | None = None) -> dict:
    """The JSON-ready document of a :class:`~vseg_widgets.session.SessionState`."""
    from .. import __version__

    objects = sorted({p.obj_id for p in state.prompts} | {m[1] for m in state.masks})
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "written_by": f"vseg_widgets {__version__}",
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": engine_name,
        "video": {**fp.source(video, relative_to), **fp.fingerprint(video)},
        "objects": [{"id": o, "label": state.labels.get(o), "color": object_color(o)} for o in objects],
        "prompts": [_prompt_json(p, undo) for p, undo in zip(state.prompts, state.undo)],
        "pending": [[f, o] for f, o in state.pending],
        "masks": [{"frame": f, "obj_id": o, "source": source, "counts": rle["counts"], "confidence": state.confidence.get((f, o))}
                  for f, o, rle, source in state.masks],
    }


def encode_document(doc: dict) -> bytes:
    """The bytes of a session file: gzip (with its CRC-32, which tells a damaged file) of UTF-8 JSON."""
    return gzip.compress(json.dumps(doc, separators=(",", ":")).encode("utf-8"), compresslevel=6, mtime=0)


def _prompt_json(p, undo) -> dict:
    out = {"frame": p.frame, "obj_id": p.obj_id, "kind": p.kind}
    if p.kind == "points":
        out["points"] = p.points.astype(np.float64).tolist()  # float32 -> double is exact
        out["labels"] = p.labels.astype(int).tolist()
    elif p.kind == "box":
        out["box"] = p.box.astype(np.float64).tolist()
    else:
        from ..masks import encode

        out["mask"] = encode(p.mask)["counts"]
    if undo is not None:
        before, after = undo
        out["undo"] = {
            "before": [
                {"obj_id": o, "counts": None if was is None or was[0] is None else was[0]["counts"], "source": None if was is None else was[1],
                 "confidence": _finite(None if was is None else was[2])}
                for o, was in sorted(before.items())
            ],
            "after": [{"obj_id": o, "counts": None if rle is None else rle["counts"]} for o, rle in sorted(after.items())],
        }
    return out


# -- reading ----------------------------------------------------------------------------------
def read_document(path) -> dict:
    """The checked document of the session file at ``path``.

    Raises:
        SessionFileError: missing, unreadable, truncated, corrupt, or not a session file.
        SessionVersionError: a format version this reader does not know.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        hint = " It is a folder." if path.is_dir() else ""
        raise SessionFileError(f"no session file at {path}.{hint} Check the path (what seg.save(path) was given).")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SessionFileError(f"cannot read the session file {path}: {exc.strerror or exc}.") from None
    if not raw:
        raise SessionFileError(f"the session file {path} is empty (0 bytes): it was never completely written. Use another copy.")
    try:
        text = gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw  # plain JSON too (a gunzipped file)
        doc = json.loads(text)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise SessionFileError(
            f"the session file {path} is truncated or corrupt ({exc}); {len(raw)} bytes could not be "
            "decompressed. Use an earlier copy (an autosave?) or save again."
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionFileError(
            f"{path} is not a vseg_widgets session file (not JSON: {exc}). Session files are what "
            "Segmenter.save writes."
        ) from None
    check_document(doc, path)
    return doc


def check_document(doc, where) -> None:
    """Raise SessionFileError / SessionVersionError unless ``doc`` follows this format."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        hint = " It is a mask JSON: read it with MaskStore.from_coco_json." if found == "vseg_widgets.masks/1" else ""
        raise SessionFileError(f"{where} is not a vseg_widgets session file (format {found!r}).{hint}")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SessionVersionError(f"{where} has an unknown session format version {version!r}; this vseg_widgets reads versions 1..{FORMAT_VERSION}.")
    if version > FORMAT_VERSION:
        from .. import __version__

        raise SessionVersionError(
            f"{where} is session format version {version} (written by {doc.get('written_by', 'a newer vseg_widgets')}); "
            f"this vseg_widgets {__version__} reads versions up to {FORMAT_VERSION}. Upgrade: pip install -U vseg_widgets."
        )


def _field(obj, key, kind, where):
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        raise SessionFileError(f"the session file is corrupt: {where} has no {key!r}.") from None
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SessionFileError(f"the session file is corrupt: {where}.{key} should be an integer, got {value!r:.40}.")
    if kind is not int and kind is not None and not isinstance(value, kind):
        raise SessionFileError(f"the session file is corrupt: {where}.{key} has the wrong type ({type(value).__name__}).")
    return value


def to_state(doc: dict, height: int, width: int):
    """A :class:`~vseg_widgets.session.SessionState` from a checked document, for a video of
    (height, width); raises SessionFileError on anything malformed."""
    from ..masks import decode
    from ..session import Prompt, SessionState

    num_frames = _field(doc["video"], "frames", int, "video")
    size = [height, width]

    def rle(counts, where):
        if not isinstance(counts, str):
            raise SessionFileError(f"the session file is corrupt: {where} should be an RLE string.")
        return {"size": size, "counts": counts}

    def frame_obj(entry, where):
        frame, obj = _field(entry, "frame", int, where), _field(entry, "obj_id", int, where)
        if not 0 <= frame < num_frames or obj < 1:
            raise SessionFileError(f"the session file is corrupt: {where} names frame {frame} / object {obj} (frames 0..{num_frames - 1}, ids >= 1).")
        return frame, obj

    masks, confidence = [], {}
    for i, m in enumerate(_field(doc, "masks", list, "the document")):
        frame, obj = frame_obj(m, f"masks[{i}]")
        source = _field(m, "source", str, f"masks[{i}]")
        if source not in SOURCES:
            raise SessionFileError(f"the session file is corrupt: masks[{i}].source is {source!r}, not one of {SOURCES}.")
        masks.append((frame, obj, rle(_field(m, "counts", str, f"masks[{i}]"), f"masks[{i}].counts"), source))
        value = _confidence(m.get("confidence"), f"masks[{i}]")
        if value is not None:
            confidence[(frame, obj)] = value

    prompts, undo = [], []
    for i, p in enumerate(_field(doc, "prompts", list, "the document")):
        where = f"prompts[{i}]"
        frame, obj = frame_obj(p, where)
        kind = _field(p, "kind", str, where)
        try:
            if kind == "points":
                points = np.asarray(_field(p, "points", list, where), np.float32).reshape(-1, 2)
                labels = np.asarray(_field(p, "labels", list, where), np.int32)
                if labels.shape != (len(points),):
                    raise ValueError("one label per point")
                prompts.append(Prompt(frame, obj, "points", points=points, labels=labels))
            elif kind == "box":
                box = np.asarray(_field(p, "box", list, where), np.float32)
                if box.shape != (4,):
                    raise ValueError("four numbers")
                prompts.append(Prompt(frame, obj, "box", box=box))
            elif kind == "mask":
                mask = decode(rle(_field(p, "mask", str, where), f"{where}.mask"))
                prompts.append(Prompt(frame, obj, "mask", mask=mask))
            else:
                raise SessionFileError(f"the session file is corrupt: {where}.kind is {kind!r}, not points, box or mask.")
        except (ValueError, TypeError) as exc:
            if isinstance(exc, SessionFileError):
                raise
            raise SessionFileError(f"the session file is corrupt: {where} ({kind}) is malformed ({exc}).") from None
        undo.append(_undo_entry(p.get("undo"), where, rle))

    objects = _field(doc, "objects", list, "the document")
    labels = {}
    for i, o in enumerate(objects):
        label = o.get("label") if isinstance(o, dict) else None
        if label is not None:
            if not isinstance(label, str):
                raise SessionFileError(f"the session file is corrupt: objects[{i}].label is not a string.")
            labels[_field(o, "id", int, f"objects[{i}]")] = label
    pending = []
    for i, item in enumerate(_field(doc, "pending", list, "the document")):
        if not (isinstance(item, list) and len(item) == 2):
            raise SessionFileError(f"the session file is corrupt: pending[{i}] should be [frame, obj_id].")
        pending.append(frame_obj({"frame": item[0], "obj_id": item[1]}, f"pending[{i}]"))
    return SessionState(prompts, masks, labels, pending, undo, confidence)


def _finite(value):
    """A confidence for JSON: None where there is none (NaN is not JSON)."""
    return None if value is None or not np.isfinite(value) else float(value)


def _confidence(value, where):
    """A stored confidence (a number in [0, 1] or null) as a float or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SessionFileError(f"the session file is corrupt: {where}.confidence is {value!r}, not a number in [0, 1] or null.")
    return float(value)


def _undo_entry(entry, where, rle):
    if entry is None:
        return None
    where = f"{where}.undo"
    before, after = {}, {}
    for i, b in enumerate(_field(entry, "before", list, where)):
        obj, counts, source = _field(b, "obj_id", int, f"{where}.before[{i}]"), b.get("counts"), b.get("source")
        if source is not None and source not in SOURCES:
            raise SessionFileError(f"the session file is corrupt: {where}.before[{i}].source is {source!r}.")
        confidence = _confidence(b.get("confidence"), f"{where}.before[{i}]")
        before[obj] = None if counts is None and source is None else (None if counts is None else rle(counts, where), source, confidence)
    for i, a in enumerate(_field(entry, "after", list, where)):
        counts = a.get("counts")
        after[_field(a, "obj_id", int, f"{where}.after[{i}]")] = None if counts is None else rle(counts, where)
    return before, after
