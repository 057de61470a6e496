"""A standalone, read-only HTML player of a session (``seg.to_html``).

One self-contained ``.html`` file that plays in any browser from ``file://``, with no kernel
and no network: the player's own bundle (``static/standalone.js``, built from
``js/src/standalone.ts``: the notebook's PlayerView fed from the page instead of a kernel)
and its styles inlined, and the session as one JSON block:

- ``state``: the player's synced traits as the notebook player has them (objects with their
  colours, labels and visibility, prompts, the timeline with its scores and, where the
  engine gives one, its confidence, shot cuts, overlay and opacity, fps); nothing that
  names a local file (no autosave path, no video path);
- ``frames``: per frame, its JPEG (bounded by ``max_width`` and ``quality``), base64;
- ``masks``: per frame, ``{obj_id: "runs-v1" bytes, base64}`` (the player's encoding,
  :mod:`vseg_widgets.transport`), full resolution.

Base64 costs a third more than the bytes; it is the price of one file that opens anywhere
(the notebook player sends the same bytes in binary message buffers instead).
"""

from __future__ import annotations

import base64
import html
import json
import numbers
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExportFormatError, ExportTooLargeError, PlayerBundleError
from ..persist.atomic import atomic_path
from ..transport import encode_jpeg, encode_mask

FORMAT = "vseg-standalone-1"  # read by js/src/static_model.ts
STATIC = Path(__file__).resolve().parents[1] / "static"
BUNDLE_FILES = ("standalone.js", "player.css", "standalone.css")
#: Traits of the notebook player that the page does not get: where the kernel saves (a local
#: path), and what only a running kernel has (work in progress, the active tool).
_KERNEL_ONLY = frozenset({"autosave_path", "autosave_s", "autosaved", "working", "progress", "tool"})
DEFAULT_MAX_WIDTH = 854
DEFAULT_QUALITY = 80
DEFAULT_MAX_MB = 200.0


@dataclass(frozen=True)
class HtmlExport:
    """What :func:`export_html` wrote. Usable as a path (``open(result)``, ``Path(result)``).

    Attributes:
        path: the HTML file.
        size_bytes: its size.
        frames_bytes, masks_bytes, player_bytes: the parts of it that are frames (base64
            JPEG), masks (base64 run lengths) and the player (script and styles).
        num_frames: frames in the page; frame_width, frame_height: the JPEGs' size (the masks
            keep the video's).
        quality: the JPEG quality used.
    """

    path: Path
    size_bytes: int
    frames_bytes: int
    masks_bytes: int
    player_bytes: int
    num_frames: int
    frame_width: int
    frame_height: int
    quality: int

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6

    def __str__(self) -> str:
        return (
            f"{self.path.name}: {self.size_mb:.2f} MB ({self.num_frames} frames as JPEG {self.frame_width}x"
            f"{self.frame_height} q{self.quality}: {self.frames_bytes / 1e6:.2f} MB; masks: {self.masks_bytes / 1e6:.2f} MB; "
            f"player: {self.player_bytes / 1e3:.0f} KB)"
        )

    def __repr__(self) -> str:
        return f"HtmlExport({self})"


def export_html(seg, path, max_width: int | None = DEFAULT_MAX_WIDTH, quality: int = DEFAULT_QUALITY,
                max_mb: float | None = DEFAULT_MAX_MB, title: str | None = None, progress: bool = True) -> HtmlExport:
    """Write ``seg`` as a standalone HTML player (see :meth:`Segmenter.to_html`)."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in (".html", ".htm"):
        raise ExportFormatError(f"cannot write an HTML player to {path.name!r}: give a path ending in .html.")
    if max_width is not None and (isinstance(max_width, bool) or not isinstance(max_width, numbers.Integral) or max_width < 16):
        raise ExportFormatError(f"max_width must be an integer of at least 16 pixels (or None: the video's width), got {max_width!r}.")
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not 1 <= quality <= 100:
        raise ExportFormatError(f"quality must be an integer JPEG quality in 1..100, got {quality!r}.")
    if max_mb is not None and (isinstance(max_mb, bool) or not isinstance(max_mb, numbers.Real) or not max_mb > 0):
        raise ExportFormatError(f"max_mb must be a positive number of megabytes (or None: no limit), got {max_mb!r}.")
    if title is not None and not isinstance(title, str):
        raise ExportFormatError(f"title must be a string, got {type(title).__name__}.")
    max_width = None if max_width is None else int(max_width)
    quality = int(quality)
    script, styles = _bundle()

    video = seg.video
    snapshot = seg._get_state()  # masks, labels and prompts as of one moment, even while a propagation runs
    player = seg.player  # the objects as the person sees them: colours, labels, visibility
    player._update_timeline()  # scores of the masks as they are now
    state = player_state(player)
    state["frame"] = 0
    by_frame: list[dict[str, str]] = [{} for _ in range(len(video))]
    from ..masks import decode

    for frame, obj, rle, _source in snapshot.masks:
        by_frame[frame][str(obj)] = _b64(encode_mask(decode(rle)))
    masks_json = json.dumps(by_frame, separators=(",", ":"))
    title = title if title is not None else f"vseg_widgets: {len(video)} frames, {len(state['objects'])} objects"
    head, tail = _page(title, _about(seg, state), styles, script)
    state_json = _script_safe(json.dumps(state, separators=(",", ":"), allow_nan=False))
    limit = None if max_mb is None else int(max_mb * 1e6)
    fixed = len(head.encode()) + len(tail.encode()) + len(state_json.encode()) + len(masks_json) + 100
    frames_bytes, jpeg_size = 0, (video.width, video.height)

    from tqdm.auto import tqdm

    with atomic_path(path, "write the HTML player") as tmp:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(head)
            out.write(f'{{"format":"{FORMAT}","mime":"image/jpeg","state":{state_json},"masks":{masks_json},"frames":[')
            for i in tqdm(range(len(video)), desc=f"export {path.name}", unit="frame", disable=not progress, leave=False):
                jpeg = encode_jpeg(video[i], quality, max_width)
                if i == 0:
                    jpeg_size = _jpeg_size(video.width, video.height, max_width)
                text = ("," if i else "") + '"' + _b64(jpeg) + '"'
                frames_bytes += len(text)
                if limit is not None and fixed + frames_bytes > limit:
                    estimate = (fixed + frames_bytes / (i + 1) * len(video)) / 1e6
                    raise ExportTooLargeError(
                        f"the HTML player would be about {estimate:.0f} MB (frames {i + 1} of {len(video)} already make "
                        f"{(fixed + frames_bytes) / 1e6:.0f} MB), over max_mb={max_mb:g}; nothing was written. Lower "
                        f"quality= (now {quality}) or max_width= (now {max_width}), or raise max_mb."
                    )
                out.write(text)
            out.write("]}")
            out.write(tail)
    size = path.stat().st_size
    return HtmlExport(
        path=path, size_bytes=size, frames_bytes=frames_bytes, masks_bytes=len(masks_json),
        player_bytes=len(script.encode()) + len(styles.encode()), num_frames=len(video),
        frame_width=jpeg_size[0], frame_height=jpeg_size[1], quality=quality,
    )


def player_state(player) -> dict:
    """The notebook player's synced traits that the page's player reads, as JSON values.

    Everything the Player class syncs beyond the anywidget base class (so a trait added to
    the player comes along), less what only a running kernel has (:data:`_KERNEL_ONLY`)."""
    import anywidget

    names = set(player.trait_names(sync=True)) - set(anywidget.AnyWidget.class_trait_names(sync=True)) - _KERNEL_ONLY
    state = {name: getattr(player, name) for name in sorted(names) if not name.startswith("_")}
    return json.loads(json.dumps(state, allow_nan=False))  # plain JSON values; fails loudly on NaN


def _bundle() -> tuple[str, str]:
    """(the standalone script, the styles); PlayerBundleError when they are not built."""
    missing = [name for name in BUNDLE_FILES if not (STATIC / name).is_file()]
    if missing:
        raise PlayerBundleError(
            f"the standalone player is not built ({', '.join(missing)} missing in {STATIC}); build it with "
            "npm ci --prefix js && npm run build --prefix js (or make js) in a clone of vseg_widgets, or reinstall."
        )
    script = (STATIC / "standalone.js").read_text(encoding="utf-8")
    styles = (STATIC / "player.css").read_text(encoding="utf-8") + "\n" + (STATIC / "standalone.css").read_text(encoding="utf-8")
    # Inline, "</script" (or "<!--") would end the script element early; in JS "\x3C" is "<".
    script = re.sub(r"<(/script|!--)", r"\\x3C\1", script, flags=re.IGNORECASE)
    styles = re.sub(r"</style", r"\\3C/style", styles, flags=re.IGNORECASE)
    return script, styles


def _page(title: str, about: str, styles: str, script: str) -> tuple[str, str]:
    """The HTML before and after the JSON block."""
    from .. import __version__

    t = html.escape(title)
    head = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta name=\"generator\" content=\"vseg_widgets {__version__}\">\n<title>{t}</title>\n"
        f"<style>\n{styles}\n</style>\n</head>\n<body class=\"vseg-page\">\n<h1>{t}</h1>\n"
        f"<p class=\"vseg-about\">{html.escape(about)}</p>\n"
        "<div data-vseg-data=\"vseg-data\"></div>\n<script type=\"application/json\" id=\"vseg-data\">"
    )
    tail = f"</script>\n<script>\n{script}\n</script>\n</body>\n</html>\n"
    return head, tail


def _about(seg, state: dict) -> str:
    video = seg.video
    objects = ", ".join(f"{o['id']}" + (f" ({o['label']})" if o.get("label") else "") for o in state["objects"])
    return (
        f"{len(video)} frames, {video.width}x{video.height}, {video.fps:g} fps · engine: {state.get('engine') or '?'} · "
        f"objects: {objects} · exported {time.strftime('%Y-%m-%d %H:%M')} with vseg_widgets (read-only)"
    )


def _script_safe(text: str) -> str:
    """JSON text that cannot end its <script> element: "<" as its JSON escape."""
    return text.replace("<", "\\u003c")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _jpeg_size(width: int, height: int, max_width: int | None) -> tuple[int, int]:
    """The size encode_jpeg gives a frame (it downscales only frames wider than max_width)."""
    if max_width is None or width <= max_width:
        return width, height
    return max_width, round(height * max_width / width)


def read_page_data(path) -> dict:
    """The JSON block of a page written by :func:`export_html` (for tests and tools)."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="vseg-data">') + len('<script type="application/json" id="vseg-data">')
    end = text.index("</script>", start)
    data = json.loads(text[start:end])
    if data.get("format") != FORMAT:
        raise ExportFormatError(f"{path} is not a vseg_widgets HTML player of format {FORMAT}.")
    return data


__all__ = ["FORMAT", "HtmlExport", "export_html", "player_state", "read_page_data"]
