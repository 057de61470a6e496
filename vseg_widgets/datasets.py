"""Videos with ground truth: DAVIS-layout folders, and generated synthetic videos."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .masks import MaskStore
from .video import ArrayVideo, FolderVideo, open_video

DAVIS_ENV = "VSEG_DAVIS_ROOT"


def find_davis(start: str | Path | None = None) -> Path | None:
    """Locate a DAVIS folder: ``$VSEG_DAVIS_ROOT``, else ``shared/data/davis2016-dev`` or
    ``../shared/data/davis2016-dev`` from ``start`` (default: cwd) or any parent. None if absent."""
    if os.environ.get(DAVIS_ENV):
        return Path(os.environ[DAVIS_ENV])
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for candidate in (folder / "shared/data/davis2016-dev", folder.parent / "shared/data/davis2016-dev"):
            if (candidate / "JPEGImages").is_dir():
                return candidate
    return None


def davis_sequences(root: str | Path, resolution: str = "480p") -> list[str]:
    """Sorted names of the sequences under ``root/JPEGImages/<resolution>``."""
    folder = Path(root) / "JPEGImages" / resolution
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def load_davis(root: str | Path, sequence: str, resolution: str = "480p") -> tuple[FolderVideo, MaskStore]:
    """A DAVIS sequence as (video, ground-truth masks).

    Reads ``root/JPEGImages/<resolution>/<sequence>/*.jpg`` and
    ``root/Annotations/<resolution>/<sequence>/*.png``. A binary 0/255 annotation
    (DAVIS 2016) is object 1; an indexed-palette PNG (DAVIS 2017) gives objects 1..N,
    with 255 as void.
    """
    root = Path(root)
    frames = root / "JPEGImages" / resolution / sequence
    if not frames.is_dir():
        known = davis_sequences(root, resolution)
        hint = f"sequences there: {', '.join(known)}" if known else "no DAVIS layout (JPEGImages/<resolution>/<sequence>) there"
        raise FileNotFoundError(f"no DAVIS sequence {sequence!r} under {root} ({hint}).")
    video = open_video(frames)
    gt = MaskStore.from_png_folder(root / "Annotations" / resolution / sequence, num_frames=len(video))
    if (gt.height, gt.width) != (video.height, video.width):
        raise ValueError(f"{sequence}: annotations are {gt.width}x{gt.height}, frames {video.width}x{video.height}.")
    return video, gt


def write_davis(root: str | Path, sequence: str, video, gt: MaskStore, resolution: str = "480p", quality: int = 95) -> Path:
    """Write a video and its ground truth as one sequence of a DAVIS-layout folder.

    Frames go to ``root/JPEGImages/<resolution>/<sequence>/00000.jpg`` ... (JPEG at
    ``quality``), masks to ``root/Annotations/<resolution>/<sequence>/00000.png`` ...
    (indexed PNGs with the DAVIS palette, as :meth:`MaskStore.to_png_folder` writes them),
    so that :func:`load_davis` and ``vw.batch.evaluate_davis`` read them back. For making
    small test sets, e.g. from :func:`synthetic`.

    Args:
        video: anything :func:`open_video` takes; (H, W, 3) uint8 RGB frames.
        gt: masks of the same number of frames and size.

    Returns:
        The sequence's frame folder.
    """
    video = open_video(video)
    if (gt.num_frames, gt.height, gt.width) != (len(video), video.height, video.width):
        raise ValueError(
            f"{sequence}: the ground truth is {gt.num_frames} frames of {gt.width}x{gt.height} but the "
            f"video is {len(video)} frames of {video.width}x{video.height}."
        )
    frames = Path(root) / "JPEGImages" / resolution / sequence
    frames.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(video):
        cv2.imwrite(str(frames / f"{i:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    gt.to_png_folder(Path(root) / "Annotations" / resolution / sequence)
    return frames


# -- synthetic videos ---------------------------------------------------------------------
OBJECT_COLOURS = [(220, 60, 50), (40, 110, 230), (250, 200, 40), (60, 190, 90), (180, 70, 200), (240, 130, 30)]


def synthetic(
    num_frames: int = 48,
    height: int = 240,
    width: int = 320,
    num_objects: int = 2,
    occlusion: bool = True,
    exit_and_return: bool = True,
    scene_cut: int | None = None,
    motion_blur: int = 0,
    seed: int = 0,
    fps: float = 24.0,
) -> tuple[ArrayVideo, MaskStore]:
    """A generated video with exact ground truth, deterministic for a given seed.

    Textured objects move over a textured, slowly panning background:

    - object 1, an ellipse, drifts across the left half;
    - object 2, a rounded rectangle, leaves through the right edge and comes back
      (``exit_and_return``), then passes in front of object 1 (``occlusion``);
    - objects 3.., smaller discs, cross the top of the frame.

    Args:
        scene_cut: first frame of a second shot (another background, none of the
            objects), or None for a single shot.
        motion_blur: length in pixels of a horizontal motion blur applied to each frame.

    Returns:
        (video, gt): an ArrayVideo of (T, H, W, 3) uint8 RGB and the masks of the visible
        part of each object (ids 1..num_objects) on every frame, empty where hidden.
    """
    if num_frames < 1 or height < 32 or width < 32:
        raise ValueError("synthetic videos need num_frames >= 1 and at least 32x32 pixels.")
    if not 1 <= num_objects <= len(OBJECT_COLOURS):
        raise ValueError(f"num_objects must be in 1..{len(OBJECT_COLOURS)}.")
    rng = np.random.default_rng(seed)
    backgrounds = [  # the second shot (after scene_cut) is a greener, darker place
        _texture(rng, height * 2, width * 2, base=None),
        _texture(rng, height * 2, width * 2, base=(80, 120, 70), amplitude=110),
    ]
    skins = [_texture(rng, height, width, base=c, amplitude=40) for c in OBJECT_COLOURS[:num_objects]]
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    gt = MaskStore(num_frames, height, width)
    unit = min(height, width)
    for t in range(num_frames):
        s = t / max(num_frames - 1, 1)
        shot = int(scene_cut is not None and t >= scene_cut)
        pan = round(0.15 * width * s)  # camera pan: the background slides left
        frame = backgrounds[shot][height // 2 : height // 2 + height, pan : pan + width].copy()
        visible = np.zeros((height, width), np.int32)
        if not shot:
            for obj in range(1, num_objects + 1):
                cx, cy = _path(obj, s, width, height, occlusion, exit_and_return)
                shape = _shape(obj, xx, yy, cx, cy, unit)
                ox, oy = round(cx) - width // 2, round(cy) - height // 2
                skin = np.roll(skins[obj - 1], (oy, ox), axis=(0, 1))  # texture moves with the object
                frame[shape] = skin[shape]
                visible[shape] = obj  # later objects are drawn in front
        if motion_blur > 1:
            kernel = np.zeros((motion_blur, motion_blur), np.float32)
            kernel[motion_blur // 2, :] = 1.0 / motion_blur
            frame = cv2.filter2D(frame, -1, kernel)
        frames[t] = frame
        for obj in range(1, num_objects + 1):
            gt.set(t, obj, visible == obj)
    return ArrayVideo(frames, fps=fps), gt


def _texture(rng, height: int, width: int, base, amplitude: float = 60) -> np.ndarray:
    """(H, W, 3) uint8: smooth random colour blobs plus fine grain, around ``base`` if given."""
    coarse = rng.uniform(0, 1, (max(2, height // 24), max(2, width // 24), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 0.025, (height, width, 3)).astype(np.float32)  # sensor-like noise, small
    if base is None:  # a muted, natural-looking backdrop: half colour, half its own grey
        smooth = 0.5 * smooth + 0.5 * smooth.mean(axis=2, keepdims=True)
        image = 40 + 170 * smooth + 255 * grain
    else:
        image = np.asarray(base, np.float32) + amplitude * (smooth - 0.5) + 120 * grain
    return np.clip(image, 0, 255).astype(np.uint8)


def _path(obj: int, s: float, width: int, height: int, occlusion: bool, exit_and_return: bool) -> tuple[float, float]:
    """Centre (x, y) of object ``obj`` at time ``s`` in [0, 1]."""
    if obj == 1:
        return width * (0.28 + 0.1 * s), height * (0.5 + 0.06 * np.sin(2 * np.pi * s))
    if obj == 2:
        keys_s = [0.0, 0.3, 0.45, 0.7, 1.0]
        # At s = 0.7 object 2 sits exactly on object 1, hiding it completely.
        keys_x = [0.78, 1.4 if exit_and_return else 0.85, 0.8, 0.35 if occlusion else 0.62, 0.1 if occlusion else 0.7]
        keys_y = [0.5, 0.5, 0.5, 0.443, 0.6]
        return width * np.interp(s, keys_s, keys_x), height * np.interp(s, keys_s, keys_y)
    lane = (obj - 3) / 4
    return width * (0.1 + 0.8 * ((s + lane) % 1.0)), height * (0.14 + 0.1 * lane)


def _shape(obj: int, xx, yy, cx: float, cy: float, unit: int) -> np.ndarray:
    """(H, W) bool silhouette of object ``obj`` centred at (cx, cy)."""
    if obj == 1:
        return ((xx - cx) / (0.2 * unit)) ** 2 + ((yy - cy) / (0.28 * unit)) ** 2 <= 1
    if obj == 2:  # a rounded rectangle: a superellipse
        return np.abs((xx - cx) / (0.21 * unit)) ** 4 + np.abs((yy - cy) / (0.3 * unit)) ** 4 <= 1
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= (0.08 * unit) ** 2
