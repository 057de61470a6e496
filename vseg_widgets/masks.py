"""The mask store: every (frame, object) mask, compressed with COCO run-length encoding.

A :class:`MaskStore` is what an engine fills and what the player, the tables and the
metrics read. Masks are kept as pycocotools RLE (a few hundred bytes for a typical
854x480 object mask), so a long video's masks fit in memory.

``store[frame]`` is ``{obj_id: (H, W) bool}``; an object with an *empty* mask on a frame
(occluded, out of view) is present with an all-False mask, while a frame that was never
segmented has no entry at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np
from pycocotools import mask as mask_utils

from .errors import FrameIndexError, MaskShapeError, UnknownObjectError

VOID_LABEL = 255  # DAVIS marks pixels excluded from evaluation with 255


def encode(mask: np.ndarray) -> dict:
    """(H, W) bool -> COCO RLE dict with ``counts`` as a str (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def decode(rle: dict) -> np.ndarray:
    """COCO RLE dict -> (H, W) bool, C-contiguous."""
    return np.ascontiguousarray(mask_utils.decode(_bytes_rle(rle)), dtype=bool)


def davis_palette() -> np.ndarray:
    """The 256-colour palette of DAVIS annotation PNGs, (256, 3) uint8 (Pascal VOC colours)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for label in range(256):
        c, r, g, b = label, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette[label] = (r, g, b)
    return palette


class MaskStore:
    """Masks per (frame, object) for a video of ``num_frames`` frames of ``height`` x ``width``.

    Object ids are positive ints (0 is background in label maps). Optional *void* masks per
    frame mark pixels excluded from evaluation (DAVIS label 255).

    ``labels`` ({obj_id: str}) names objects for the exports that carry names (COCO JSON,
    YouTube-VIS categories, YOLO classes). A Segmenter's store holds its labels
    (``seg.set_label`` writes here), so ``seg.masks.to_yolo(...)`` names the classes.
    Equality (``==``) compares masks and void masks, not labels.
    """

    def __init__(self, num_frames: int, height: int, width: int):
        if num_frames <= 0 or height <= 0 or width <= 0:
            raise ValueError(f"a mask store needs positive sizes, got {num_frames}x{height}x{width}.")
        self.num_frames, self.height, self.width = int(num_frames), int(height), int(width)
        self._rles: dict[int, dict[int, dict]] = {}  # frame -> obj_id -> RLE
        self._void: dict[int, dict] = {}
        self.labels: dict[int, str] = {}  # obj_id -> label; see the class docstring

    @classmethod
    def like(cls, video) -> "MaskStore":
        """An empty store sized for ``video`` (anything with len, height and width)."""
        return cls(len(video), video.height, video.width)

    # -- reading -------------------------------------------------------------------------
    def __getitem__(self, frame: int) -> dict[int, np.ndarray]:
        """``{obj_id: (H, W) bool}`` of frame ``frame`` (empty dict if never segmented)."""
        frame = self._check_frame(frame)
        return {obj: decode(rle) for obj, rle in sorted(self._rles.get(frame, {}).items())}

    def get(self, frame: int, obj_id: int) -> np.ndarray | None:
        """(H, W) bool mask of one object, or None when that frame has none for it."""
        rle = self._rles.get(self._check_frame(frame), {}).get(obj_id)
        return None if rle is None else decode(rle)

    def rle(self, frame: int, obj_id: int) -> dict | None:
        """The stored COCO RLE of one mask (no decoding), or None."""
        return self._rles.get(self._check_frame(frame), {}).get(obj_id)

    def __contains__(self, key) -> bool:
        """``frame in store`` or ``(frame, obj_id) in store``."""
        if isinstance(key, tuple):
            frame, obj = key
            return obj in self._rles.get(frame, {})
        return bool(self._rles.get(key))

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[int]:
        """Iterates over the frames that hold at least one mask, in order."""
        return iter(self.frames())

    def frames(self, obj_id: int | None = None) -> list[int]:
        """Sorted frames that hold a mask (of ``obj_id`` when given)."""
        return sorted(f for f, objs in self._rles.items() if objs and (obj_id is None or obj_id in objs))

    def objects(self, frame: int) -> list[int]:
        """Sorted ids of the objects with a mask on ``frame`` (an empty mask counts)."""
        return sorted(self._rles.get(frame, {}))

    @property
    def obj_ids(self) -> list[int]:
        """Sorted ids of every object with a mask on some frame."""
        return sorted({obj for objs in self._rles.values() for obj in objs})

    def area(self, frame: int, obj_id: int) -> int:
        """Mask area in pixels, computed on the RLE without decoding (0 if absent)."""
        rle = self.rle(frame, obj_id)
        return 0 if rle is None else int(mask_utils.area(_bytes_rle(rle)))

    def to_numpy(self, obj_id: int) -> np.ndarray:
        """(T, H, W) bool: the object's mask on every frame, False where it has none."""
        if obj_id not in self.obj_ids:
            raise UnknownObjectError(f"object {obj_id} has no mask; known objects: {self.obj_ids}.")
        out = np.zeros((self.num_frames, self.height, self.width), dtype=bool)
        for frame, objs in self._rles.items():
            if obj_id in objs:
                out[frame] = decode(objs[obj_id])
        return out

    def label_map(self, frame: int, void: bool = False) -> np.ndarray:
        """(H, W) label map of a frame: 0 background, obj_id where that object's mask is.

        dtype is uint8 when every id is below 255, else uint16. Where masks overlap the
        larger id wins. With ``void=True`` void pixels are set to 255.
        """
        frame = self._check_frame(frame)
        dtype = np.uint8 if max(self.obj_ids, default=0) < VOID_LABEL else np.uint16
        labels = np.zeros((self.height, self.width), dtype=dtype)
        for obj, mask in self[frame].items():
            labels[mask] = obj
        if void and frame in self._void:
            labels[decode(self._void[frame])] = VOID_LABEL
        return labels

    def void(self, frame: int) -> np.ndarray | None:
        """(H, W) bool void mask of a frame (pixels excluded from evaluation), or None."""
        rle = self._void.get(self._check_frame(frame))
        return None if rle is None else decode(rle)

    # -- writing -------------------------------------------------------------------------
    def set(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        """Store ``mask`` ((H, W), bool or 0/1) for object ``obj_id`` on ``frame``."""
        frame = self._check_frame(frame)
        obj_id = check_obj_id(obj_id)
        self._rles.setdefault(frame, {})[obj_id] = encode(self.check_mask(mask))

    def set_rle(self, frame: int, obj_id: int, rle: dict) -> None:
        """Store an already-encoded COCO RLE (its size must match the store)."""
        if list(rle["size"]) != [self.height, self.width]:
            raise MaskShapeError(
                f"RLE of size {rle['size']} does not fit this store of {self.height}x{self.width}."
            )
        counts = rle["counts"]
        self._rles.setdefault(self._check_frame(frame), {})[check_obj_id(obj_id)] = {
            "size": [self.height, self.width],
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
        }

    def set_void(self, frame: int, mask: np.ndarray | None) -> None:
        frame = self._check_frame(frame)
        if mask is None or not np.any(mask):
            self._void.pop(frame, None)
        else:
            self._void[frame] = encode(self.check_mask(mask))

    def update(self, frame: int, masks: Mapping[int, np.ndarray]) -> None:
        """Store several objects' masks on one frame."""
        for obj, mask in masks.items():
            self.set(frame, obj, mask)

    def discard(self, frame: int, obj_id: int | None = None) -> None:
        """Forget one object's mask on a frame, or all of the frame's masks."""
        objs = self._rles.get(frame, {})
        if obj_id is None:
            objs.clear()
        else:
            objs.pop(obj_id, None)
        if not objs:
            self._rles.pop(frame, None)

    def remove_object(self, obj_id: int) -> None:
        """Forget an object on every frame."""
        for frame in list(self._rles):
            self.discard(frame, obj_id)

    def clear(self) -> None:
        self._rles.clear()

    def copy(self) -> "MaskStore":
        other = MaskStore(self.num_frames, self.height, self.width)
        other._rles = {f: dict(objs) for f, objs in self._rles.items()}
        other._void = dict(self._void)
        other.labels = dict(self.labels)
        return other

    def check_mask(self, mask) -> np.ndarray:
        """Return ``mask`` as (H, W) bool or raise MaskShapeError naming the expected shape."""
        mask = np.asarray(mask)
        if mask.shape != (self.height, self.width):
            raise MaskShapeError(
                f"mask has shape {mask.shape} but this video's frames are (H, W) = "
                f"({self.height}, {self.width}). Resize it with cv2.resize(mask.astype(np.uint8), "
                f"({self.width}, {self.height}), interpolation=cv2.INTER_NEAREST)."
            )
        if mask.dtype != bool:
            if mask.dtype.kind not in "biu" or (mask.size and (mask.min() < 0 or mask.max() > 1)):
                raise MaskShapeError(
                    f"mask has dtype {mask.dtype} with values outside {{0, 1}}; pass a bool "
                    "mask, e.g. `labels == obj_id` or `probabilities > 0.5`."
                )
            mask = mask.astype(bool)
        return mask

    def _check_frame(self, frame) -> int:
        if isinstance(frame, (bool, np.bool_)) or not isinstance(frame, (int, np.integer)):
            raise FrameIndexError(f"frame index must be an int, got {frame!r}.")
        if not 0 <= frame < self.num_frames:
            raise FrameIndexError(
                f"frame {frame} is outside this store of {self.num_frames} frames "
                f"(valid: 0..{self.num_frames - 1})."
            )
        return int(frame)

    def __eq__(self, other) -> bool:
        if not isinstance(other, MaskStore):
            return NotImplemented
        return (
            (self.num_frames, self.height, self.width) == (other.num_frames, other.height, other.width)
            and {f: o for f, o in self._rles.items() if o} == {f: o for f, o in other._rles.items() if o}
            and self._void == other._void
        )

    def __repr__(self) -> str:
        return (
            f"MaskStore({self.num_frames} frames of {self.width}x{self.height}, objects "
            f"{self.obj_ids}, {len(self.frames())} frames with masks)"
        )

    # -- import / export -----------------------------------------------------------------
    def to_png_folder(self, folder: str | Path, frames: Iterable[int] | None = None) -> list[Path]:
        """Write DAVIS-style indexed PNGs (``00000.png`` ...) with the DAVIS palette.

        Pixel values are object ids (0 background, 255 void). Every frame is written
        (frames with no mask as all background) unless ``frames`` is given.
        """
        from PIL import Image

        if max(self.obj_ids, default=0) >= VOID_LABEL:
            raise ValueError("indexed PNGs hold object ids 1..254; export to COCO JSON instead.")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        palette = davis_palette().ravel().tolist()
        written = []
        for frame in range(self.num_frames) if frames is None else frames:
            image = Image.fromarray(self.label_map(frame, void=True), mode="P")
            image.putpalette(palette)
            path = folder / f"{frame:05d}.png"
            image.save(path)
            written.append(path)
        return written

    @classmethod
    def from_png_folder(cls, folder: str | Path, num_frames: int | None = None) -> "MaskStore":
        """Read a folder of annotation PNGs, one per frame in name order (DAVIS layout).

        A binary 0/255 PNG (DAVIS 2016) is object 1. An indexed-palette PNG (DAVIS 2017)
        gives object ids 1..254 with 255 as void. ``num_frames`` sizes the store when
        annotations exist for the first frames only.
        """
        from PIL import Image

        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"no annotation folder {folder}.")
        paths = sorted(folder.glob("*.png"))
        if not paths:
            raise FileNotFoundError(f"no PNG annotations in {folder}.")
        store = None
        for frame, path in enumerate(paths):
            with Image.open(path) as im:
                labels = np.asarray(im) if im.mode in ("P", "L", "1") else np.asarray(im.convert("L"))
            if store is None:
                store = cls(num_frames or len(paths), *labels.shape)
            binary = set(np.unique(labels).tolist()) <= {0, 255} and im.mode != "P"
            if binary:
                store.set(frame, 1, labels == 255)
                continue
            for obj in np.unique(labels):
                if obj == VOID_LABEL:
                    store.set_void(frame, labels == VOID_LABEL)
                elif obj != 0:
                    store.set(frame, int(obj), labels == obj)
        return store

    def to_coco_json(self, path: str | Path | None = None) -> dict:
        """Every mask as COCO RLE in a JSON-ready dict; written to ``path`` when given."""
        doc = {
            "format": "vseg_widgets.masks/1",
            "num_frames": self.num_frames,
            "height": self.height,
            "width": self.width,
            "annotations": [
                {"frame": f, "obj_id": obj, "segmentation": rle}
                for f in sorted(self._rles)
                for obj, rle in sorted(self._rles[f].items())
            ],
            "void": [{"frame": f, "segmentation": rle} for f, rle in sorted(self._void.items())],
            "labels": {str(obj): label for obj, label in sorted(self.labels.items())},
        }
        if path is not None:
            Path(path).write_text(json.dumps(doc))
        return doc

    @classmethod
    def from_coco_json(cls, source: str | Path | dict) -> "MaskStore":
        """Read what :meth:`to_coco_json` wrote (a path or the dict)."""
        doc = source if isinstance(source, dict) else json.loads(Path(source).read_text())
        try:
            store = cls(doc["num_frames"], doc["height"], doc["width"])
            for ann in doc["annotations"]:
                store.set_rle(ann["frame"], ann["obj_id"], ann["segmentation"])
            for ann in doc.get("void", []):
                store._void[store._check_frame(ann["frame"])] = ann["segmentation"]
            store.labels = {int(obj): str(label) for obj, label in doc.get("labels", {}).items()}
        except KeyError as exc:
            raise ValueError(
                f"not a vseg_widgets mask JSON: missing key {exc}. Expected what "
                "MaskStore.to_coco_json writes."
            ) from None
        return store

    def to_youtube_vis(self, path: str | Path | None = None, video_name: str = "video", file_names=None) -> dict:
        """Write the masks as a YouTube-VIS dataset JSON (one video; COCO RLE per frame).

        One annotation per object (its ``id`` is the obj_id), with ``segmentations``,
        ``bboxes`` and ``areas`` per frame (None where the object has no mask); categories
        come from :attr:`labels` (an unlabelled object is category "object"). See
        :mod:`vseg_widgets.exports.youtube_vis`. Returns the JSON-ready dict.
        """
        from .exports.youtube_vis import to_youtube_vis

        return to_youtube_vis(self, path, video_name=video_name, file_names=file_names)

    @classmethod
    def from_youtube_vis(cls, source: str | Path | dict, video_id: int | None = None) -> "MaskStore":
        """Read one video of a YouTube-VIS JSON (a path or the dict): annotation ids become
        obj_ids, category names labels. ``video_id`` picks the video (needed when the file
        holds several)."""
        from .exports.youtube_vis import from_youtube_vis

        return from_youtube_vis(source, video_id=video_id)

    def to_yolo(self, folder: str | Path, classes: list[str] | None = None) -> list[Path]:
        """Write YOLO segmentation labels: ``00000.txt`` ... (every frame) and ``classes.txt``.

        Each line is ``class x1 y1 x2 y2 ...``, one polygon (an outer contour, coordinates
        normalised to 0..1) per connected part of a mask. Classes come from :attr:`labels`
        (an unlabelled object is "object"), or from ``classes`` (one list for a whole
        dataset). See :mod:`vseg_widgets.exports.yolo`. Returns the files written.
        """
        from .exports.yolo import to_yolo

        return to_yolo(self, folder, classes=classes)

    @classmethod
    def from_yolo(cls, folder: str | Path, height: int, width: int, num_frames: int | None = None) -> "MaskStore":
        """Read what :meth:`to_yolo` wrote (or any YOLO segmentation label folder). YOLO has
        no instance ids across frames: each class becomes one object (id = class index + 1,
        labelled with the class name), the union of its polygons."""
        from .exports.yolo import from_yolo

        return from_yolo(folder, height, width, num_frames=num_frames)


def check_obj_id(obj_id) -> int:
    """Object ids are positive ints: 0 is the background label."""
    if isinstance(obj_id, (bool, np.bool_)) or not isinstance(obj_id, (int, np.integer)) or obj_id < 1:
        raise ValueError(f"object ids are positive ints (0 is background), got {obj_id!r}.")
    return int(obj_id)


def _bytes_rle(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": rle["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
