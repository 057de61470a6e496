"""The RLE mask store: exact round trips through PNG folders and COCO JSON, and its views."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import vseg_widgets as vw
from vseg_widgets.errors import FrameIndexError, MaskShapeError, UnknownObjectError
from vseg_widgets.masks import MaskStore, decode, encode


def random_store(seed=0, frames=6, h=40, w=50):
    rng = np.random.default_rng(seed)
    store = MaskStore(frames, h, w)
    for f in range(frames - 1):  # the last frame stays unsegmented
        labels = rng.integers(0, 4, (h, w))
        for obj in (1, 2, 3):
            store.set(f, obj, labels == obj)
        if f == 2:  # void pixels are never object pixels (one label per PNG pixel)
            store.set_void(f, (labels == 0) & (rng.random((h, w)) < 0.2))
    return store


def test_encode_decode_exact():
    mask = np.random.default_rng(1).random((33, 47)) < 0.4
    np.testing.assert_array_equal(decode(encode(mask)), mask)


def test_getitem_to_numpy_and_label_map():
    store = random_store()
    frame = store[1]
    assert sorted(frame) == [1, 2, 3] and frame[2].dtype == bool and frame[2].shape == (40, 50)
    assert store[5] == {} and 5 not in store and 1 in store and (1, 2) in store
    stack = store.to_numpy(2)
    assert stack.shape == (6, 40, 50) and not stack[5].any()
    np.testing.assert_array_equal(stack[3], store.get(3, 2))
    labels = store.label_map(1)
    for obj in (1, 2, 3):
        np.testing.assert_array_equal(labels == obj, frame[obj])
    assert store.area(1, 2) == int(frame[2].sum())
    assert store.frames() == [0, 1, 2, 3, 4] and store.obj_ids == [1, 2, 3]


def test_empty_mask_is_stored_and_differs_from_missing():
    store = MaskStore(3, 8, 8)
    store.set(0, 1, np.zeros((8, 8), bool))
    assert (0, 1) in store and store.get(0, 1).sum() == 0
    assert store.get(1, 1) is None


def test_png_folder_round_trip(tmp_path):
    store = random_store()
    store.to_png_folder(tmp_path)
    with Image.open(tmp_path / "00001.png") as im:
        assert im.mode == "P"  # indexed, as DAVIS 2017 annotations
    back = MaskStore.from_png_folder(tmp_path)
    # Unsegmented frame 5 is written as all background: it comes back as no objects.
    for f in range(5):
        assert back[f].keys() == store[f].keys()
        for obj in store[f]:
            np.testing.assert_array_equal(back[f][obj], store[f][obj])
    np.testing.assert_array_equal(back.void(2), store.void(2))


def test_binary_davis2016_png_is_object_1(tmp_path):
    mask = np.zeros((10, 12), np.uint8)
    mask[2:5, 3:9] = 255
    Image.fromarray(mask).save(tmp_path / "00000.png")
    store = MaskStore.from_png_folder(tmp_path, num_frames=4)
    assert store.num_frames == 4 and store.obj_ids == [1]
    np.testing.assert_array_equal(store.get(0, 1), mask == 255)
    assert store.void(0) is None


def test_coco_json_round_trip(tmp_path):
    store = random_store()
    store.to_coco_json(tmp_path / "m.json")
    assert MaskStore.from_coco_json(tmp_path / "m.json") == store
    assert MaskStore.from_coco_json(store.to_coco_json()) == store
    with pytest.raises(ValueError, match="missing key"):
        MaskStore.from_coco_json({"annotations": []})


def test_bad_masks_and_indices():
    store = MaskStore(3, 8, 10)
    with pytest.raises(MaskShapeError, match=r"\(H, W\) = \(8, 10\)"):
        store.set(0, 1, np.zeros((10, 8), bool))
    with pytest.raises(MaskShapeError, match="values outside"):
        store.set(0, 1, np.full((8, 10), 3))
    with pytest.raises(FrameIndexError, match="outside this store of 3 frames"):
        store.set(3, 1, np.zeros((8, 10), bool))
    with pytest.raises(ValueError, match="positive ints"):
        store.set(0, 0, np.zeros((8, 10), bool))
    with pytest.raises(UnknownObjectError, match="object 4 has no mask"):
        store.to_numpy(4)
    store.set(0, 1, np.ones((8, 10), np.uint8))  # 0/1 integers are accepted as bool
    assert store.area(0, 1) == 80


def test_remove_object_and_copy():
    store = random_store()
    copy = store.copy()
    store.remove_object(2)
    assert store.obj_ids == [1, 3] and copy.obj_ids == [1, 2, 3]


def test_davis_palette_matches_official_first_colours():
    palette = vw.masks.davis_palette()
    assert palette[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
