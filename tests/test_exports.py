"""Exports: the video with masks drawn in (MP4, GIF), YouTube-VIS JSON and YOLO polygons,
each read back where the format allows; labels travel with every export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

import vseg_widgets as vw
from vseg_widgets.errors import AnnotationFormatError, EncoderMissingError, ExportFormatError, OutputPathError
from vseg_widgets.exports import overlay_video
from vseg_widgets.exports.overlay_video import draw_overlay, mp4_codec
from vseg_widgets.masks import MaskStore
from vseg_widgets.palette import object_rgb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from persistkit import worked_segmenter  # noqa: E402


@pytest.fixture(scope="module")
def clip():
    """(video, gt) of 8 frames, 3 objects, with labels on objects 1 and 3."""
    video, gt = vw.datasets.synthetic(num_frames=8, height=96, width=128, num_objects=3)
    gt.labels.update({1: "ellipse", 3: "disc"})
    return video, gt


@pytest.fixture()
def seg(clip):
    video, gt = clip
    seg = vw.Segmenter(video, engine="classic")
    for frame in gt.frames():  # the exact masks, as if propagated
        for obj, mask in gt[frame].items():
            seg.masks.set(frame, obj, mask)
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.set_label(1, "ellipse")
    return seg


def inner(mask, k=2):
    """Pixels at least k pixels inside the mask (away from its outline)."""
    return cv2.erode(mask.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool)


def outer(mask, k=4):
    return ~cv2.dilate(mask.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool)


# -- drawing ---------------------------------------------------------------------------------
def test_draw_overlay_filled_and_contour(clip):
    video, gt = clip
    frame, masks = video[0], gt[0]
    filled = draw_overlay(frame, masks, "filled", opacity=0.5)
    m = masks[1]
    expected = (frame[inner(m)] * 0.5 + np.array(object_rgb(1)) * 0.5).round()
    np.testing.assert_array_equal(filled[inner(m)], expected.astype(np.uint8))
    away = outer(masks[1]) & outer(masks[2]) & outer(masks[3])
    np.testing.assert_array_equal(filled[away], frame[away])
    contour = draw_overlay(frame, {1: m}, "contour")
    np.testing.assert_array_equal(contour[inner(m)], frame[inner(m)])  # the inside is not tinted
    outline, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    xy = np.concatenate(outline).reshape(-1, 2)
    assert (contour[xy[:, 1], xy[:, 0]] == object_rgb(1)).all()  # the outline is the object's colour
    assert frame.flags.writeable is False or not np.shares_memory(filled, frame)


def test_labels_are_written_beside_their_masks(clip):
    video, gt = clip
    plain = draw_overlay(video[0], gt[0], "contour")
    named = draw_overlay(video[0], gt[0], "contour", labels={1: "ellipse"})
    ys, xs = np.nonzero(gt.get(0, 1))
    changed = np.argwhere((plain != named).any(axis=2))
    assert len(changed) > 20
    assert abs(changed[:, 0].mean() - ys.min()) < 20 and abs(changed[:, 1].min() - xs.min()) < 10  # at the mask's top left


# -- video files -------------------------------------------------------------------------------
def read_mp4(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    fps, fourcc = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FOURCC))
    cap.release()
    return np.stack(frames), fps, fourcc.to_bytes(4, "little").decode("ascii", "replace")


def test_export_mp4(seg, clip, tmp_path, capsys):
    video, gt = clip
    path = seg.export_video(tmp_path / "out.mp4")
    assert path == tmp_path / "out.mp4"
    frames, fps, fourcc = read_mp4(path)
    assert frames.shape == (8, 96, 128, 3) and fps == pytest.approx(24)
    codec = mp4_codec()  # H.264 (avc1) where OpenCV has it, else mp4v
    assert codec in ("avc1", "mp4v") and b"stsd" in path.read_bytes()
    assert codec.encode() in path.read_bytes()  # the MP4 sample entry names the codec
    assert fourcc in {"avc1": ("avc1", "h264", "H264"), "mp4v": ("mp4v", "FMP4")}[codec]
    want = draw_overlay(video[5], seg.masks[5], "filled", labels=seg.labels).astype(float)
    assert np.abs(frames[5].astype(float) - want).mean() < 10  # lossy (a noisy texture), but the same picture
    tint = np.array(object_rgb(2), float)
    m = inner(gt.get(5, 2), 3)
    assert np.abs(frames[5][m].mean(axis=0) - want[m].mean(axis=0)).max() < 12 and m.sum() > 50
    assert np.abs(want[m].mean(axis=0) - (video[5][m].mean(axis=0) + tint) / 2).max() < 1
    assert "export out.mp4" in capsys.readouterr().err  # the progress bar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_export_mp4_frames_fps_and_odd_sizes(tmp_path):
    video, gt = vw.datasets.synthetic(num_frames=6, height=47, width=65)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    frames, fps, _ = read_mp4(seg.export_video(tmp_path / "odd.mp4", overlay="contour", fps=10, frames=[0, 2, 4], progress=False))
    assert frames.shape == (3, 48, 66, 3) and fps == pytest.approx(10)  # padded to even, never cropped
    want = draw_overlay(video[0], seg.masks[0], "contour")
    assert np.abs(frames[0][:47, :65].astype(float) - want).mean() < 8


def test_export_gif(seg, clip, tmp_path):
    video, _ = clip
    path = seg.export_video(tmp_path / "out.gif", fps=10, frames=range(2, 6), progress=False)
    with Image.open(path) as gif:
        assert (gif.n_frames, gif.size, gif.info["loop"], gif.info["duration"]) == (4, (128, 96), 0, 100)
        gif.seek(1)
        got = np.asarray(gif.convert("RGB")).astype(float)
    want = draw_overlay(video[3], seg.masks[3], "filled", labels=seg.labels).astype(float)
    assert np.abs(got - want).mean() < 6  # 256 colours per frame


def test_export_errors(seg, tmp_path, monkeypatch):
    with pytest.raises(ExportFormatError, match="ending in .mp4 or .gif"):
        seg.export_video(tmp_path / "out.avi")
    with pytest.raises(ExportFormatError, match="overlay must be one of"):
        seg.export_video(tmp_path / "out.mp4", overlay="off")
    with pytest.raises(ExportFormatError, match="fps must be a positive"):
        seg.export_video(tmp_path / "out.mp4", fps=0)
    with pytest.raises(OutputPathError, match="does not exist"):
        seg.export_video(tmp_path / "missing" / "out.mp4")

    class NoEncoder:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(overlay_video.cv2, "VideoWriter", NoEncoder)
    monkeypatch.setattr(overlay_video, "_codec_works", {})
    with pytest.raises(EncoderMissingError, match="cannot write MP4.*pip install .*opencv-python-headless.*\\.gif"):
        seg.export_video(tmp_path / "out.mp4", progress=False)
    assert not (tmp_path / "out.mp4").exists()


# -- YouTube-VIS -------------------------------------------------------------------------------
def test_youtube_vis_round_trip(seg, tmp_path):
    seg.masks.set(3, 2, np.zeros((96, 128), bool))  # known absent: an empty mask
    seg.masks.discard(6, 3)  # never segmented there
    doc = seg.masks.to_youtube_vis(tmp_path / "vis.json", video_name="clip")
    assert json.loads((tmp_path / "vis.json").read_text()) == doc
    assert doc["videos"] == [{"id": 1, "name": "clip", "width": 128, "height": 96, "length": 8, "file_names": [f"clip/{i:05d}.jpg" for i in range(8)]}]
    assert doc["categories"] == [{"id": 1, "name": "ellipse", "supercategory": "object"}, {"id": 2, "name": "object", "supercategory": "object"}]
    anns = {a["id"]: a for a in doc["annotations"]}
    assert sorted(anns) == [1, 2, 3] and [anns[o]["category_id"] for o in (1, 2, 3)] == [1, 2, 2]
    a3 = anns[3]
    assert a3["segmentations"][6] is None and a3["bboxes"][6] is None and a3["areas"][6] is None
    assert anns[2]["areas"][3] == 0 and anns[2]["bboxes"][3] == [0.0, 0.0, 0.0, 0.0]
    table = seg.to_dataframe().set_index(["frame", "obj_id"])
    assert anns[1]["areas"][4] == table.loc[(4, 1), "area_px"]
    assert tuple(int(v) for v in anns[1]["bboxes"][4]) == table.loc[(4, 1), "bbox"]
    back = MaskStore.from_youtube_vis(tmp_path / "vis.json")
    assert back == seg.masks and (6, 3) not in back and (3, 2) in back
    assert back.labels == {1: "ellipse", 2: "object", 3: "object"}  # unlabelled objects come back as "object"


def test_youtube_vis_reads_uncompressed_rle_and_polygons(clip):
    _, gt = clip
    doc = gt.to_youtube_vis()
    mask = gt.get(2, 1)
    runs, value, count = [], False, 0  # uncompressed COCO RLE: column-major runs, starting with zeros
    for v in mask.T.ravel():
        if v != value:
            runs.append(count)
            value, count = v, 0
        count += 1
    runs.append(count)
    doc["annotations"][0]["segmentations"][2] = {"size": [96, 128], "counts": runs}
    ys, xs = np.nonzero(gt.get(4, 1))
    box = [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.min()), float(xs.max()), float(ys.max()), float(xs.min()), float(ys.max())]
    doc["annotations"][0]["segmentations"][4] = [box]
    back = MaskStore.from_youtube_vis(doc)
    np.testing.assert_array_equal(back.get(2, 1), mask)
    poly = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([box], 96, 128))).astype(bool)
    np.testing.assert_array_equal(back.get(4, 1), poly)


def test_youtube_vis_errors(clip):
    _, gt = clip
    doc = gt.to_youtube_vis()
    two = {**doc, "videos": doc["videos"] + [{**doc["videos"][0], "id": 2}]}
    with pytest.raises(AnnotationFormatError, match="holds 2 videos.*video_id="):
        MaskStore.from_youtube_vis(two)
    assert MaskStore.from_youtube_vis(two, video_id=1) == gt
    with pytest.raises(AnnotationFormatError, match="no video with id 5"):
        MaskStore.from_youtube_vis(doc, video_id=5)
    with pytest.raises(AnnotationFormatError, match="not a YouTube-VIS JSON"):
        MaskStore.from_youtube_vis({"videos": doc["videos"]})
    short = json.loads(json.dumps(doc))
    short["annotations"][0]["segmentations"].pop()
    with pytest.raises(AnnotationFormatError, match="7 segmentations for a video of 8 frames"):
        MaskStore.from_youtube_vis(short)


# -- YOLO -------------------------------------------------------------------------------------
def test_yolo_round_trip_and_layout(seg, clip, tmp_path):
    _, gt = clip
    seg.set_label(3, "disc")
    written = seg.masks.to_yolo(tmp_path / "labels")
    assert [p.name for p in written] == [f"{i:05d}.txt" for i in range(8)] + ["classes.txt"]
    assert (tmp_path / "labels" / "classes.txt").read_text() == "ellipse\nobject\ndisc\n"
    lines = (tmp_path / "labels" / "00000.txt").read_text().splitlines()
    assert {line.split()[0] for line in lines} == {"0", "1", "2"}
    for line in lines:
        values = np.array(line.split()[1:], float)
        assert len(values) >= 6 and len(values) % 2 == 0 and 0 <= values.min() and values.max() <= 1
    back = MaskStore.from_yolo(tmp_path / "labels", 96, 128)
    assert back.num_frames == 8 and back.labels == {1: "ellipse", 2: "object", 3: "disc"}
    for frame in range(8):  # hole-free masks come back pixel for pixel; empty ones are not written
        want = {o: m for o, m in seg.masks[frame].items() if m.any()}
        got = back[frame]
        assert sorted(got) == sorted(want)
        for o in want:
            np.testing.assert_array_equal(got[o], want[o])


def test_yolo_classes_list_holes_and_tiny_parts(tmp_path):
    store = MaskStore(2, 20, 30)
    ring = np.zeros((20, 30), bool)
    ring[2:12, 2:12] = True
    ring[5:8, 5:8] = False  # a hole
    dots = np.zeros((20, 30), bool)
    dots[15, 20] = dots[17, 25] = dots[17, 26] = True  # a one-pixel and a two-pixel part
    store.set(0, 4, ring)
    store.set(1, 9, dots)
    store.labels = {4: "ring", 9: "dots"}
    store.to_yolo(tmp_path, classes=["background", "dots", "ring"])
    assert (tmp_path / "00000.txt").read_text().startswith("2 ")
    assert len((tmp_path / "00001.txt").read_text().splitlines()) == 2  # one line per part
    back = MaskStore.from_yolo(tmp_path, 20, 30)
    assert back.labels == {3: "ring", 2: "dots"}
    filled = ring.copy()
    filled[5:8, 5:8] = True
    np.testing.assert_array_equal(back.get(0, 3), filled)  # YOLO polygons have no holes
    np.testing.assert_array_equal(back.get(1, 2), dots)
    with pytest.raises(ExportFormatError, match="labels \\['dots'\\] are not in classes"):
        store.to_yolo(tmp_path / "x", classes=["ring"])


def test_yolo_reader_errors(tmp_path):
    (tmp_path / "00000.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(AnnotationFormatError, match="00000.txt:1: 4 numbers are a YOLO box"):
        MaskStore.from_yolo(tmp_path, 10, 10)
    (tmp_path / "00000.txt").write_text("0 0.1 0.1 0.5 0.1 0.5\n")
    with pytest.raises(AnnotationFormatError, match="even number"):
        MaskStore.from_yolo(tmp_path, 10, 10)
    (tmp_path / "00000.txt").write_text("0 1 1 50 1 50 50\n")
    with pytest.raises(AnnotationFormatError, match="normalised to 0..1"):
        MaskStore.from_yolo(tmp_path, 10, 10)
    (tmp_path / "00000.txt").write_text("person 0.1 0.1 0.5 0.1 0.5 0.5\n")
    with pytest.raises(AnnotationFormatError, match="numbers"):
        MaskStore.from_yolo(tmp_path, 10, 10)
    with pytest.raises(FileNotFoundError):
        MaskStore.from_yolo(tmp_path / "none", 10, 10)


def test_coco_json_carries_labels(tmp_path):
    seg = worked_segmenter()
    seg.masks.to_coco_json(tmp_path / "m.json")
    back = MaskStore.from_coco_json(tmp_path / "m.json")
    assert back == seg.masks and back.labels == {1: "person", 3: "ball"}
