"""YouTube-VIS JSON: video instance segmentation with one COCO RLE per frame.

The layout is the YouTube-VIS 2019/2021 dataset's (``videos``, ``categories``,
``annotations`` with per-frame ``segmentations``, ``bboxes`` and ``areas``), which the
YouTube-VIS / OVIS evaluation code and many VIS training repositories read. What we write:

- one video (``id`` 1) of the store's size and length; ``file_names`` name the frames
  (``<video_name>/00000.jpg`` ... unless given);
- one category per distinct label, in object order (an unlabelled object: "object");
- one annotation per object, whose ``id`` is the obj_id; per frame: the compressed COCO RLE
  (``counts`` a str) and its bbox [x, y, w, h] and area, or None where the object has no
  mask. An empty mask (known to be absent) is an RLE of area 0, bbox [0, 0, 0, 0].

The reader takes compressed and uncompressed (``counts`` a list) RLEs and polygons.
"""

from __future__ import annotations

import json
from pathlib import Path

from pycocotools import mask as mask_utils

from ..errors import AnnotationFormatError
from . import UNLABELLED


def to_youtube_vis(store, path=None, video_name: str = "video", file_names=None) -> dict:
    """The YouTube-VIS document of a MaskStore; written to ``path`` when given."""
    from ..masks import _bytes_rle

    if file_names is None:
        file_names = [f"{video_name}/{i:05d}.jpg" for i in range(store.num_frames)]
    file_names = [str(f) for f in file_names]
    if len(file_names) != store.num_frames:
        raise AnnotationFormatError(f"file_names has {len(file_names)} names for a video of {store.num_frames} frames.")
    objects = store.obj_ids
    names = list(dict.fromkeys(store.labels.get(o) or UNLABELLED for o in objects))
    category = {name: i + 1 for i, name in enumerate(names)}
    annotations = []
    for obj in objects:
        segmentations, bboxes, areas = [], [], []
        for frame in range(store.num_frames):
            rle = store.rle(frame, obj)
            if rle is None:
                segmentations.append(None)
                bboxes.append(None)
                areas.append(None)
                continue
            coco = _bytes_rle(rle)
            segmentations.append({"size": [store.height, store.width], "counts": rle["counts"]})
            bboxes.append([float(v) for v in mask_utils.toBbox(coco)])
            areas.append(int(mask_utils.area(coco)))
        present = [a for a in areas if a is not None]
        annotations.append(
            {
                "id": obj,
                "video_id": 1,
                "category_id": category[store.labels.get(obj) or UNLABELLED],
                "iscrowd": 0,
                "height": store.height,
                "width": store.width,
                "length": sum(a is not None for a in areas),
                "segmentations": segmentations,
                "bboxes": bboxes,
                "areas": areas,
                "area": sum(present) / len(present) if present else 0.0,
            }
        )
    doc = {
        "info": {"description": "exported by vseg_widgets", "version": "1.0"},
        "licenses": [],
        "videos": [
            {"id": 1, "name": video_name, "width": store.width, "height": store.height, "length": store.num_frames, "file_names": file_names}
        ],
        "categories": [{"id": i, "name": name, "supercategory": "object"} for name, i in category.items()],
        "annotations": annotations,
    }
    if path is not None:
        from ..persist.atomic import atomic_write

        atomic_write(path, json.dumps(doc).encode("utf-8"), "export")
    return doc


def from_youtube_vis(source, video_id: int | None = None):
    """A MaskStore of one video of a YouTube-VIS document (a path or the dict)."""
    from ..masks import MaskStore, check_obj_id

    doc = _read(source)
    try:
        videos = doc["videos"]
        if video_id is None:
            if len(videos) != 1:
                ids = [v["id"] for v in videos]
                raise AnnotationFormatError(f"the file holds {len(videos)} videos (ids {ids[:10]}); pick one with video_id=.")
            video = videos[0]
        else:
            video = next((v for v in videos if v["id"] == video_id), None)
            if video is None:
                raise AnnotationFormatError(f"no video with id {video_id}; ids: {[v['id'] for v in videos][:10]}.")
        num_frames = int(video.get("length") or len(video["file_names"]))
        store = MaskStore(num_frames, int(video["height"]), int(video["width"]))
        names = {c["id"]: c["name"] for c in doc.get("categories", [])}
        for ann in doc["annotations"]:
            if ann["video_id"] != video["id"]:
                continue
            obj = check_obj_id(ann["id"])
            segmentations = ann["segmentations"]
            if len(segmentations) != num_frames:
                raise AnnotationFormatError(
                    f"annotation {obj} has {len(segmentations)} segmentations for a video of {num_frames} frames."
                )
            for frame, seg in enumerate(segmentations):
                if seg is not None:
                    store.set_rle(frame, obj, _as_rle(seg, store.height, store.width))
            name = names.get(ann.get("category_id"))
            if name is not None:
                store.labels[obj] = str(name)
    except AnnotationFormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise AnnotationFormatError(
            f"not a YouTube-VIS JSON ({type(exc).__name__}: {exc}): expected videos, categories and annotations "
            "with per-frame segmentations, as to_youtube_vis writes."
        ) from None
    return store


def _read(source) -> dict:
    if isinstance(source, dict):
        return source
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no YouTube-VIS file at {path}.")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationFormatError(f"{path} is not JSON ({exc}); a YouTube-VIS file is one JSON document.") from None


def _as_rle(seg, height: int, width: int) -> dict:
    """Compressed RLE (str counts) of a segmentation: compressed or uncompressed RLE, or polygons."""
    if isinstance(seg, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg.get("counts"), list):  # uncompressed RLE, as in the YouTube-VIS train.json
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"]}
    if list(rle["size"]) != [height, width]:
        raise AnnotationFormatError(f"a segmentation of size {rle['size']} in a video of {height}x{width}.")
    counts = rle["counts"]
    return {"size": [height, width], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
