"""YOLO segmentation labels: one ``.txt`` per frame, one polygon per line, and ``classes.txt``.

The layout is Ultralytics' (YOLOv5-seg / v8 and later): ``<class> x1 y1 x2 y2 ...`` with
coordinates normalised to 0..1 by the frame's width and height, and the class names one
per line in ``classes.txt`` (index = class). A frame file is named like its image
(``00000.txt`` for ``00000.jpg``); a frame with no mask gets an empty file (a background
image). Every connected part of a mask is one polygon: its outer contour through the centres
of its boundary pixels, which ``cv2.fillPoly`` (what YOLO trainers rasterise with) fills back
to the same pixels. Holes are not kept: the format has none.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import AnnotationFormatError, ExportFormatError
from . import UNLABELLED

CLASSES_FILE = "classes.txt"


def to_yolo(store, folder, classes: list[str] | None = None) -> list[Path]:
    """Write a MaskStore as YOLO segmentation labels (see the module docstring)."""
    objects = store.obj_ids
    names = [store.labels.get(o) or UNLABELLED for o in objects]
    if classes is None:
        classes = list(dict.fromkeys(names))
    else:
        classes = [str(c) for c in classes]
        missing = sorted(set(names) - set(classes))
        if missing:
            raise ExportFormatError(f"the labels {missing} are not in classes={classes}: add them (the list is the dataset's classes).")
    index = {name: i for i, name in enumerate(classes)}
    obj_class = {o: index[n] for o, n in zip(objects, names)}
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for frame in range(store.num_frames):
        lines = []
        for obj, mask in store[frame].items():
            for polygon in mask_polygons(mask):
                coords = " ".join(f"{x / store.width:.6f} {y / store.height:.6f}" for x, y in polygon)
                lines.append(f"{obj_class[obj]} {coords}")
        path = folder / f"{frame:05d}.txt"
        path.write_text("".join(line + "\n" for line in lines))
        written.append(path)
    classes_path = folder / CLASSES_FILE
    classes_path.write_text("".join(c + "\n" for c in classes))
    return [*written, classes_path]


def mask_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """Outer contours of an (H, W) bool mask, one (N >= 3, 2) int array of (x, y) per part."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        pts = c.reshape(-1, 2)
        if len(pts) < 3:  # a one- or two-pixel part: a degenerate polygon fills the same pixels
            pts = np.concatenate([pts, np.repeat(pts[-1:], 3 - len(pts), axis=0)])
        out.append(pts)
    return out


def from_yolo(folder, height: int, width: int, num_frames: int | None = None):
    """A MaskStore from YOLO segmentation labels: each class is one object (id = class + 1,
    labelled from ``classes.txt`` when present), the union of its polygons on each frame."""
    from ..masks import MaskStore

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"no YOLO label folder {folder}.")
    files = sorted(p for p in folder.glob("*.txt") if p.name != CLASSES_FILE)
    if not files:
        raise FileNotFoundError(f"no YOLO label files (*.txt) in {folder}.")
    frames = [int(p.stem) if p.stem.isdigit() else i for i, p in enumerate(files)]
    store = MaskStore(num_frames or max(frames) + 1, height, width)
    classes_path = folder / CLASSES_FILE
    names = [line.strip() for line in classes_path.read_text().splitlines() if line.strip()] if classes_path.exists() else []
    for frame, path in zip(frames, files):
        masks: dict[int, np.ndarray] = {}
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            cls, polygon = _parse_line(line, f"{path.name}:{number}", height, width)
            mask = masks.setdefault(cls + 1, np.zeros((height, width), np.uint8))
            cv2.fillPoly(mask, [polygon], 1)
        for obj, mask in masks.items():
            store.set(frame, obj, mask.astype(bool))
    for obj in store.obj_ids:
        if obj - 1 < len(names):
            store.labels[obj] = names[obj - 1]
    return store


def _parse_line(line: str, where: str, height: int, width: int) -> tuple[int, np.ndarray]:
    parts = line.split()
    try:
        cls, values = int(parts[0]), np.array([float(v) for v in parts[1:]])
    except ValueError:
        raise AnnotationFormatError(f"{where}: expected '<class> x1 y1 x2 y2 ...' (numbers), got {line[:60]!r}.") from None
    if cls < 0:
        raise AnnotationFormatError(f"{where}: class {cls} is negative.")
    if len(values) == 4:
        raise AnnotationFormatError(f"{where}: 4 numbers are a YOLO box (detection) label; segmentation labels are polygons.")
    if len(values) < 6 or len(values) % 2:
        raise AnnotationFormatError(f"{where}: a polygon needs an even number (>= 6) of coordinates, got {len(values)}.")
    if not np.isfinite(values).all() or values.min() < -0.01 or values.max() > 1.01:
        raise AnnotationFormatError(f"{where}: coordinates must be normalised to 0..1 (divided by the image size).")
    xy = values.reshape(-1, 2) * (width, height)
    return cls, np.round(xy).astype(np.int32).reshape(-1, 1, 2)
