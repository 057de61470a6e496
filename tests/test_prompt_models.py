"""Image prompt models: the shipped ONNX model, its checks, the embedding cache, a user's predictor."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.errors import ModelFileError, ModelOutputError
from vseg_widgets.metrics import jaccard, next_click
from vseg_widgets.prompt_models import EmbeddingCache, Prediction, SamPredictorModel, shipped
from vseg_widgets.prompt_models.cache import LookAhead
from vseg_widgets.prompt_models.onnx_sam import OnnxSam, PairedEmbedding, pair_layout, sam_points


def deepest_point(mask: np.ndarray) -> tuple[float, float]:
    """Where the standard clicker clicks first: the point of ``mask`` farthest from its edge."""
    return next_click(np.zeros_like(mask), mask)[0]


@pytest.fixture(scope="module")
def model():
    return shipped.shipped_model()


# -- the shipped files ----------------------------------------------------------------------
def test_the_shipped_files_match_their_recorded_checksums():
    shipped.verify()  # raises if a file is missing or differs


def copy_weights(tmp_path):
    folder = tmp_path / "weights"
    shutil.copytree(shipped.WEIGHTS, folder)
    return folder


def test_a_missing_model_file_names_the_install_command(tmp_path):
    folder = copy_weights(tmp_path)
    (folder / "sam.onnx").unlink()
    with pytest.raises(ModelFileError, match=r"sam\.onnx is missing.*make install.*engine=\"classic\""):
        shipped.shipped_model(folder=folder)


def test_a_corrupt_model_file_is_caught_by_its_checksum(tmp_path):
    folder = copy_weights(tmp_path)
    with open(folder / "encoder.onnx", "r+b") as f:  # same size, one byte changed
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelFileError, match=r"corrupt: its sha256 is"):
        shipped.verify(folder)


def test_a_truncated_model_file_says_so(tmp_path):
    folder = copy_weights(tmp_path)
    with open(folder / "sam.onnx", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(ModelFileError, match=r"has 1000 bytes.*truncated"):
        shipped.verify(folder)


def test_a_file_that_is_not_onnx_fails_on_loading_with_a_clear_message(tmp_path):
    bad = tmp_path / "encoder.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="onnxruntime could not load"):
        OnnxSam(bad, bad).load()


def test_importing_the_package_does_not_import_onnxruntime_but_a_click_does():
    code = (
        "import sys, numpy as np, vseg_widgets as vw\n"
        "assert 'onnxruntime' not in sys.modules, 'import vseg_widgets imported onnxruntime'\n"
        "video, gt = vw.datasets.synthetic(num_frames=2)\n"
        "seg = vw.Segmenter(video)\n"
        "seg.add_points(0, 1, [(60, 120)])\n"
        "assert 'onnxruntime' in sys.modules\n"
        "print(seg.engine_name)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "learned"


# -- the model's answers -----------------------------------------------------------------
def test_a_click_on_each_synthetic_object_gives_that_object(model, synthetic_video):
    video, gt = synthetic_video
    embedding = model.embed(video[0])
    for obj in (1, 2):
        target = gt.get(0, obj)
        pred = model.predict(embedding, target.shape, points=np.array([deepest_point(target)], np.float32), labels=np.array([1]))
        assert pred.masks.shape == (1, *target.shape) and pred.masks.dtype == bool
        assert pred.logits.shape == (1, 256, 256)
        assert jaccard(pred.masks[0], target) > 0.9


def test_multimask_gives_the_three_candidates_the_single_mask_decoder_chose_from(model, synthetic_video):
    video, gt = synthetic_video
    target = gt.get(0, 1)
    embedding = model.embed(video[0])
    click = dict(points=np.array([deepest_point(target)], np.float32), labels=np.array([1]))
    single = model.predict(embedding, target.shape, **click)
    multi = model.predict(embedding, target.shape, multimask=True, **click)
    assert multi.masks.shape == (3, *target.shape) and multi.masks.dtype == bool
    assert multi.scores.shape == (3,) and multi.logits.shape == (3, 256, 256)
    # the decoder's own single answer is the best-scored of the three candidates
    assert np.allclose(multi.scores[multi.best], single.scores[0], atol=1e-4)
    assert np.allclose(multi.logits[multi.best], single.logits[0], atol=1e-3)
    assert jaccard(multi.masks[multi.best], single.masks[0]) > 0.99


def test_a_box_gives_the_object_in_it(model, synthetic_video):
    video, gt = synthetic_video
    target = gt.get(0, 2)
    ys, xs = np.nonzero(target)
    box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)
    pred = model.predict(model.embed(video[0]), target.shape, box=box)
    assert jaccard(pred.masks[0], target) > 0.9


def test_a_4k_frame_is_answered_at_full_resolution(model):
    rng = np.random.default_rng(0)
    image = (np.array([40, 120, 40], np.uint8) + rng.integers(0, 30, (2160, 3840, 3), dtype=np.uint8)).astype(np.uint8)
    cv2.circle(image, (1500, 1000), 300, (220, 60, 60), -1)
    target = np.zeros((2160, 3840), np.uint8)
    cv2.circle(target, (1500, 1000), 300, 1, -1)
    pred = model.predict(model.embed(image), (2160, 3840), points=np.array([[1500, 1000]], np.float32), labels=np.array([1]))
    assert pred.masks.shape == (1, 2160, 3840)
    assert jaccard(pred.masks[0], target.astype(bool)) > 0.9


def test_points_and_box_are_scaled_into_the_1024_frame_with_sams_padding_point():
    coords, labels = sam_points(np.array([[427, 240]], np.float32), np.array([1]), None, (480, 854))
    assert labels.tolist() == [[1, -1]]
    np.testing.assert_allclose(coords[0, 0], [427 * 1024 / 854, 240 * 576 / 480], rtol=1e-6)
    assert coords[0, 1].tolist() == [0, 0]
    coords, labels = sam_points(None, None, np.array([0, 0, 854, 480], np.float32), (480, 854))
    assert labels.tolist() == [[2, 3]]
    np.testing.assert_allclose(coords[0, 1], [1024, 576])


def test_the_shipped_encoder_runs_quantised_close_to_its_float_weights(model, synthetic_video):
    video, _ = synthetic_video
    exact = OnnxSam(shipped.WEIGHTS / "encoder.onnx", shipped.WEIGHTS / "sam.onnx", quantize=False)
    assert model.quantize and not exact.quantize
    a, b = model.embed(video[0]), exact.embed(video[0])
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < 0.03
    assert not np.array_equal(a, b)  # the int8 graph is the one that ran
    shipped.verify()  # the file on disk is left as it is


def box_of(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)


@pytest.mark.parametrize("height, width", [(270, 480), (480, 270)])  # 16:9 stacked; portrait side by side
def test_two_wide_frames_share_one_encoder_pass_and_each_answers_as_it_would_alone(height, width):
    video, gt = vw.datasets.synthetic(num_frames=8, height=height, width=width)
    model = OnnxSam(shipped.WEIGHTS / "encoder.onnx", shipped.WEIGHTS / "sam.onnx", quantize=True)
    model.embed_pair(video[0], video[1])  # the first call also encodes the padding, once
    passes = []
    encode = model._encode
    model._encode = lambda square: passes.append(square.shape) or encode(square)
    first, second = model.embed_pair(video[2], video[6])
    assert passes == [(1, 3, 1024, 1024)]
    assert isinstance(first, PairedEmbedding) and first.features.shape == (1, 256, 64, 64)
    assert first.scale == pytest.approx(512 / 270) and first.nbytes == 256 * 64 * 64 * 4
    checked = 0
    for frame, paired in ((2, first), (6, second)):
        for obj in (1, 2):
            target = gt.get(frame, obj)
            if not target.any():  # not in view on this frame
                continue
            checked += 1
            alone = model.predict(model.embed(video[frame]), target.shape, box=box_of(target))
            pred = model.predict(paired, target.shape, box=box_of(target), logits=model.mask_to_logits(target, paired))
            assert pred.masks.shape == (1, height, width)
            assert jaccard(pred.masks[0], target) > 0.9
            assert jaccard(pred.masks[0], alone.masks[0]) > 0.9
    assert checked >= 3


def test_frames_are_paired_only_where_each_keeps_most_of_its_resolution(model, synthetic_video):
    assert pair_layout(480, 854) == (pytest.approx(512 / 480), False)  # 16:9: stacked, 0.89x
    assert pair_layout(854, 480) == (pytest.approx(512 / 480), True)  # portrait: side by side
    assert pair_layout(240, 320)[0] is None  # 4:3 would keep 0.67x
    video, _ = synthetic_video  # 320x240: two plain embeddings
    first, second = model.embed_pair(video[0], video[1])
    assert isinstance(first, np.ndarray) and first.shape == (1, 256, 64, 64)
    np.testing.assert_allclose(first, model.embed(video[0]), rtol=1e-4, atol=1e-4)


def test_a_mask_input_follows_the_layout_of_the_embedding_it_goes_with():
    full = np.ones((480, 854), bool)
    plain = OnnxSam("e", "d").mask_to_logits(full)
    paired = OnnxSam("e", "d").mask_to_logits(full, PairedEmbedding(np.zeros((1, 256, 64, 64), np.float32), 512 / 480))
    assert (plain > 0).sum(0).max() == 144 and (plain > 0).sum(1).max() == 256  # 576 x 1024 of the square
    assert (paired > 0).sum(0).max() == 128 and (paired > 0).sum(1).max() == 228  # 512 x 911


def test_look_ahead_embeds_two_frames_per_job_and_hands_each_out_once():
    jobs = []

    def embed_pair(first, second):
        jobs.append((first, second))
        if first == 13:
            raise RuntimeError("broken frame 13")
        return f"e{first}", None if second is None else f"e{second}"

    ahead = LookAhead(embed_pair)
    ahead.ask(4, 8)
    ahead.ask(12)
    assert ahead.asked() == [4, 8, 12]
    assert ahead.take(8) == "e8" and ahead.take(4) == "e4" and ahead.take(12) == "e12"
    assert jobs == [(4, 8), (12, None)]
    assert ahead.take(8) is None and ahead.asked() == []  # taken once; never asked: None
    ahead.ask(13, 14)
    with pytest.raises(RuntimeError, match="broken frame 13"):
        ahead.take(13)
    ahead.ask(20, 24)
    ahead.clear()
    assert ahead.asked() == [] and ahead.take(20) is None


class _Outputs:
    def __init__(self, outputs):
        self.outputs = outputs

    def run(self, _names, _feeds):
        return self.outputs

    def get_inputs(self):
        class Input:
            name = "input"

        return [Input()]


def test_a_decoder_with_unexpected_output_shapes_is_refused(model, synthetic_video):
    video, _ = synthetic_video
    odd = OnnxSam(model.encoder_path, model.decoder_path)
    odd._encoder = _Outputs([np.zeros((1, 256, 32, 32), np.float32)])
    odd._decoder = _Outputs([np.zeros((1, 1), np.float32), np.zeros((1, 1, 64, 64), np.float32)])  # IoU, logits
    with pytest.raises(ModelOutputError, match=r"embedding of shape \(1, 256, 32, 32\)"):
        odd.embed(video[0])
    with pytest.raises(ModelOutputError, match=r"logits \(1, 1, 64, 64\); expected \(1, K\) and \(1, K, 256, 256\)"):
        odd.predict(np.zeros((1, 256, 64, 64), np.float32), (240, 320), points=np.array([[5, 5]], np.float32), labels=np.array([1]))


# -- the embedding cache ----------------------------------------------------------------------
class CountingEmbed:
    """frame -> a 1 MiB array; counts calls, can be slowed down or made to fail."""

    def __init__(self, delay: float = 0.0, fail_on: int | None = None):
        self.calls: list[int] = []
        self.delay, self.fail_on = delay, fail_on
        self.lock = threading.Lock()

    def __call__(self, frame: int) -> np.ndarray:
        with self.lock:
            self.calls.append(frame)
        time.sleep(self.delay)
        if frame == self.fail_on:
            raise RuntimeError("broken frame")
        return np.full(2**18, frame, np.float32)  # 1 MiB


def test_the_cache_holds_at_most_its_bound_and_drops_the_least_recently_used():
    embed = CountingEmbed()
    cache = EmbeddingCache(embed, max_bytes=3 * 2**20)
    for frame in range(3):
        cache.get(frame)
    cache.get(0)  # frame 0 is now the most recent
    cache.get(3)  # over the bound: frame 1 goes
    assert cache.nbytes <= 3 * 2**20
    assert [cache.ready(f) for f in range(4)] == [True, False, True, True]
    cache.get(0)
    assert embed.calls == [0, 1, 2, 3]  # frame 0 was not computed again


def test_prefetch_computes_in_the_background_and_get_waits_for_it():
    embed = CountingEmbed(delay=0.3)
    cache = EmbeddingCache(embed)
    cache.prefetch(7)
    assert cache.pending(7) and not cache.ready(7)
    start = time.perf_counter()
    assert cache.get(7)[0] == 7  # waits for the background computation, does not redo it
    assert embed.calls == [7]
    assert time.perf_counter() - start < 0.5


def test_prefetch_takes_the_newest_request_first():
    embed = CountingEmbed(delay=0.1)
    cache = EmbeddingCache(embed)
    cache.prefetch(1)
    while not embed.calls:  # frame 1 is being computed: 2 and 3 now queue behind it
        time.sleep(0.005)
    for frame in (2, 3):
        cache.prefetch(frame)
    cache.get(1)
    while cache.pending(2) or cache.pending(3):
        time.sleep(0.02)
    assert embed.calls[0] == 1 and embed.calls[1:] == [3, 2]


def test_a_failed_background_embedding_is_raised_by_the_prompt_that_needs_it():
    cache = EmbeddingCache(CountingEmbed(fail_on=4))
    cache.prefetch(4)
    while cache.pending(4):
        time.sleep(0.01)
    with pytest.raises(RuntimeError, match="broken frame"):
        cache.get(4)


# -- a user's SAM-style predictor --------------------------------------------------------------
class DiskPredictor:
    """A SAM-style predictor (set_image / predict) that answers a disk around the first point;
    with multimask_output, three disks of radius 5, 20 and 40 scored 0.5, 0.9, 0.7."""

    def __init__(self):
        self.images_set = 0
        self.image = None

    def set_image(self, image):
        self.images_set += 1
        self.image = image

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output=True):
        h, w = self.image.shape[:2]
        radii, scores = ((5, 20, 40), (0.5, 0.9, 0.7)) if multimask_output else ((20,), (0.9,))
        x, y = point_coords[0]
        masks = np.zeros((len(radii), h, w), bool)
        for k, r in enumerate(radii):
            mask = np.zeros((h, w), np.uint8)
            cv2.circle(mask, (int(x), int(y)), r, 1, -1)
            masks[k] = mask > 0
        return masks, np.array(scores, np.float32), np.zeros((len(radii), 256, 256), np.float32)


def test_a_sam_style_predictor_serves_and_sets_each_frame_once():
    predictor = DiskPredictor()
    model = SamPredictorModel(predictor)
    image = np.zeros((120, 160, 3), np.uint8)
    embedding = model.embed(image)
    pred = model.predict(embedding, (120, 160), points=np.array([[80, 60]], np.float32), labels=np.array([1]), multimask=True)
    assert isinstance(pred, Prediction) and pred.masks.shape == (3, 120, 160)
    assert pred.best == 1 and pred.masks[pred.best].sum() == pytest.approx(np.pi * 20**2, rel=0.1)
    model.predict(embedding, (120, 160), points=np.array([[80, 60]], np.float32), labels=np.array([1]))
    assert predictor.images_set == 1
    other = model.embed(np.ones((120, 160, 3), np.uint8))
    model.predict(embedding, (120, 160), points=np.array([[80, 60]], np.float32), labels=np.array([1]))
    assert predictor.images_set == 3  # the first frame was set again after the other one
    assert other.nbytes == 0


def test_an_object_without_the_predictor_interface_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="no set_image.*SamPredictor"):
        SamPredictorModel(object())


def test_a_predictor_returning_the_wrong_shapes_is_refused():
    class Wrong(DiskPredictor):
        def predict(self, **kwargs):
            return np.zeros((1, 5, 5), bool), np.ones(1, np.float32), None

    model = SamPredictorModel(Wrong())
    with pytest.raises(ModelOutputError, match=r"masks of shape \(1, 5, 5\).*expected \(K, 120, 160\)"):
        model.predict(model.embed(np.zeros((120, 160, 3), np.uint8)), (120, 160), points=np.array([[1, 1]], np.float32), labels=np.array([1]))
