"""Per-(frame, object) confidence: the optional engine extension, the Segmenter's bookkeeping,
and the classic tracker's own confidence on synthetic videos whose failures are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.engines.classic import confidence as conf
from vseg_widgets.errors import EngineError, UnknownObjectError

from test_session import ShiftEngine


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


class ScoredShiftEngine:
    """ShiftEngine's sessions, reporting a confidence: 0.9 for a prompt's mask, ``decay``
    less for each frame away from it; or ``bad`` on every frame from ``bad_from`` on; or
    failing (``fail``)."""

    name = "scored"

    def __init__(self, decay=0.1, bad=None, bad_from=0, fail=False):
        self.decay, self.bad, self.bad_from, self.fail = decay, bad, bad_from, fail

    def init_session(self, video):
        return ScoredSession(ShiftEngine().init_session(video), self)


class ScoredSession:
    def __init__(self, inner, engine):
        self.inner, self.engine = inner, engine
        self.add_prompt, self.propagate = inner.add_prompt, inner.propagate
        self.remove_object, self.reset = inner.remove_object, inner.reset

    def confidence(self, frame):
        if self.engine.fail:
            raise RuntimeError("no idea")
        if self.engine.bad is not None and frame >= self.engine.bad_from:
            return {o: self.engine.bad for (_, o) in self.inner.cond}
        return {o: max(0.0, 0.9 - self.engine.decay * abs(frame - f)) for (f, o) in self.inner.cond}


@pytest.fixture()
def video():
    return vw.open_video(np.zeros((10, 24, 32, 3), np.uint8))


def square(frame_shape=(24, 32), x=4):
    m = np.zeros(frame_shape, bool)
    m[8:14, x : x + 6] = True
    return m


# -- the Segmenter ------------------------------------------------------------------------
def test_engine_without_confidence_gives_nan(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square())
    seg.propagate("forward", progress=False)
    df = seg.to_dataframe()
    assert "confidence" in df.columns and len(df) == 10
    assert df["confidence"].isna().all()
    assert np.isnan(seg.confidence(1)).all()


def test_confidence_from_prompt_and_propagation_is_stored(video):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(decay=0.1))
    seg.add_mask(2, 1, square())
    assert seg.to_dataframe().set_index("frame").loc[2, "confidence"] == pytest.approx(0.9)
    seg.propagate("forward", progress=False)
    c = seg.confidence(1)
    assert np.isnan(c[:2]).all()  # no mask before the prompt
    np.testing.assert_allclose(c[2:], [0.9 - 0.1 * k for k in range(8)])
    df = seg.to_dataframe()
    np.testing.assert_allclose(df["confidence"], c[2:])


def test_prompted_mask_keeps_its_confidence_through_propagation(video):
    engine = ScoredShiftEngine(decay=0.1)
    seg = vw.Segmenter(video, engine=engine)
    seg.add_mask(0, 1, square())
    seg.propagate("forward", progress=False)
    seg.add_mask(5, 1, square(x=10))  # a correction: 0.9 there
    assert seg.confidence(1)[5] == pytest.approx(0.9)
    engine.bad = 0.2  # the engine now doubts everything, the prompted frame included
    seg.propagate("forward", progress=False)
    c = seg.confidence(1)
    # the prompted masks (frames 0 and 5), and their confidence, stay as prompted
    np.testing.assert_allclose(c[[0, 5]], 0.9)
    np.testing.assert_allclose(np.delete(c, [0, 5]), 0.2)


def test_undo_restores_the_confidence_of_a_propagated_mask(video):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(decay=0.1))
    seg.add_mask(0, 1, square())
    seg.propagate("forward", progress=False)
    before = seg.confidence(1).copy()
    seg.add_mask(6, 1, square(x=12))
    assert seg.confidence(1)[6] == pytest.approx(0.9)
    seg.undo()
    np.testing.assert_array_equal(seg.confidence(1), before)


def test_remove_and_reset_forget_confidence(video):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine())
    seg.add_mask(0, 1, square())
    seg.add_mask(0, 2, square(x=20))
    seg.propagate("forward", progress=False)
    seg.remove_object(1)
    with pytest.raises(UnknownObjectError):
        seg.confidence(1)
    assert set(seg.to_dataframe()["obj_id"]) == {2}
    seg.add_mask(3, 1, square())  # a new object 1 starts with no old confidence
    assert np.isnan(np.delete(seg.confidence(1), 3)).all()
    seg.reset()
    assert seg.to_dataframe().empty


@pytest.mark.parametrize("value", [1.5, -0.2])
def test_confidence_outside_unit_interval_is_an_engine_error_and_keeps_the_masks(video, value):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(bad=value))
    with pytest.raises(EngineError, match=r"outside \[0, 1\]"):
        seg.add_mask(0, 1, square())
    assert (0, 1) in seg.masks and len(seg.prompts) == 1  # the prompt and its mask are kept
    assert math.isnan(seg.confidence(1)[0])  # with no confidence
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(bad=value, bad_from=3))
    seg.add_mask(0, 1, square())
    with pytest.raises(EngineError, match=r"outside \[0, 1\]"):
        seg.propagate("forward", progress=False)
    assert seg.masks.frames(1) == [0, 1, 2, 3]  # up to the frame it stopped on
    c = seg.confidence(1)
    np.testing.assert_allclose(c[:3], [0.9, 0.8, 0.7])
    assert np.isnan(c[3:]).all()


def test_failing_confidence_keeps_the_masks(video):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(fail=True))
    with pytest.raises(EngineError, match="failed to report the confidence"):
        seg.add_mask(0, 1, square())
    assert (0, 1) in seg.masks


def test_rounding_just_outside_the_unit_interval_is_clipped(video):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(bad=1.0 + 1e-9))
    seg.add_mask(0, 1, square())
    assert seg.confidence(1)[0] == 1.0


# -- the classic tracker ------------------------------------------------------------------
def test_score_maps_evidence_to_the_unit_interval():
    sure = conf.Evidence(certain=0.97, trust=0.9, texture_agree=0.95, warp_iou=0.97, similarity=0.99)
    assert conf.score(sure) == 1.0
    chance = conf.Evidence(certain=0.5, trust=0.5, texture_agree=0.5, warp_iou=0.5, similarity=0.5)
    assert conf.score(chance) == 0.0
    middling = conf.Evidence(certain=0.9, trust=0.9, texture_agree=0.7, warp_iou=0.9, similarity=0.8)
    assert 0.3 < conf.score(middling) < 0.9
    # an unmeasured term (no texture classifier) is left out, not taken as zero
    no_texture = conf.Evidence(certain=0.97, trust=0.9, texture_agree=float("nan"), warp_iou=0.97, similarity=0.99)
    assert conf.score(no_texture) == 1.0
    assert conf.area_factor(100, 100) == 1.0 and conf.area_factor(140, 100) == 1.0
    assert conf.area_factor(300, 100) < 0.5 and conf.area_factor(100, 300) < 0.5


@pytest.fixture(scope="module")
def tracked():
    """The default synthetic video, both objects prompted exactly on frame 0, forward."""
    video, gt = vw.datasets.synthetic()
    seg = vw.Segmenter(video, engine="classic")
    for obj in (1, 2):
        seg.add_mask(0, obj, gt.get(0, obj))
    seg.propagate("forward", progress=False)
    return seg, gt


def test_classic_reports_a_confidence_for_every_mask(tracked):
    seg, _ = tracked
    df = seg.to_dataframe()
    assert df["confidence"].notna().all()
    assert df["confidence"].between(0, 1).all()
    assert (df.loc[df["source"] == "prompt", "confidence"] == 1.0).all()  # exact masks given


def test_occlusion_and_leaving_the_frame_lower_the_confidence(tracked):
    # Object 2 leaves through the right edge (frames 8-17) and object 1 is hidden behind
    # object 2 (frames 32-36): there, and while it goes, the confidence must be low; where
    # nothing happens to an object it must be high.
    seg, gt = tracked
    for obj, (first, last) in ((2, (8, 17)), (1, (32, 36))):
        c = seg.confidence(obj)
        hidden = [t for t in range(first, last + 1) if gt.get(t, obj).sum() < 50]
        assert hidden
        assert c[hidden].max() < 0.5, f"object {obj}: confidence {c[hidden]} while it is out of sight"
    calm = [t for t in range(1, 24)]  # object 1 alone in its corner
    assert seg.confidence(1)[calm].min() > 0.9


def test_confidence_ranks_failed_frames_first(tracked):
    seg, gt = tracked
    wrong, right = [], []
    for o in (1, 2):
        c, full = seg.confidence(o), gt.get(0, o).sum()
        for t in range(1, 48):
            j = iou(seg.masks.get(t, o), gt.get(t, o))
            if j < 0.5:
                wrong.append(c[t])
            elif j > 0.9 and gt.get(t, o).sum() > 0.5 * full:  # right, and the object in plain view
                right.append(c[t])
    assert wrong and right
    assert max(wrong) < 0.5, f"confidence of the wrong masks: {wrong}"
    assert np.median(right) > 0.95 and np.mean(np.array(right) > 0.5) > 0.9


def test_a_scene_cut_lowers_the_confidence():
    video, gt = vw.datasets.synthetic(num_frames=32, scene_cut=16)
    seg = vw.Segmenter(video, engine="classic")
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.propagate("forward", progress=False)
    c = seg.confidence(1)
    assert c[1:16].min() > 0.9
    assert c[16:].max() < 0.5


def disc_video(jump=0, recolour=False, n=20):
    """A red textured-background clip: a disc moving 3 px a frame; on frame 10 it jumps
    ``jump`` px further, or (``recolour``) turns blue. Returns (frames, true masks)."""
    rng = np.random.default_rng(1)
    h, w = 160, 320
    bg = rng.integers(60, 200, (h, w, 3)).astype(np.uint8)
    red = np.zeros((h, w, 3), np.uint8)
    red[..., 0], red[..., 1], red[..., 2] = 230, 40, 40
    yy, xx = np.mgrid[:h, :w]
    frames, truth = [], []
    for t in range(n):
        disc = (xx - (50 + 3 * t + (jump if t >= 10 else 0))) ** 2 + (yy - 80) ** 2 <= 25**2
        skin = red[..., ::-1] if recolour and t >= 10 else red
        frames.append(np.where(disc[..., None], skin, bg))
        truth.append(disc)
    return np.stack(frames), truth


def track_disc(frames, truth):
    seg = vw.Segmenter(frames, engine="classic")
    seg.add_mask(0, 1, truth[0])
    seg.propagate("forward", progress=False)
    j = np.array([iou(seg.masks.get(t, 1), truth[t]) for t in range(len(truth))])
    return seg.confidence(1), j


def test_a_jump_the_flow_cannot_follow_is_doubted():
    # 120 px in one frame: the warp misses it; the whole-frame search finds it again.
    c, j = track_disc(*disc_video(jump=120))
    assert c[1:10].min() > 0.9 and j[1:10].min() > 0.9  # smooth motion: right and sure
    assert c[10] < 0.5  # the frame it had to be searched for
    assert c[12:].min() > 0.9 and j[12:].min() > 0.9  # followed again, and sure again


def test_a_sudden_change_of_appearance_is_doubted_where_the_mask_is_wrong():
    # The disc turns from red to blue on frame 10: the tracker's mask is wrong for a frame
    # or two, and the object no longer looks like the one prompted.
    c, j = track_disc(*disc_video(recolour=True))
    assert c[1:10].min() > 0.9 and j[1:10].min() > 0.9
    wrong = [t for t in range(10, 20) if j[t] < 0.5]
    assert wrong, "the recolouring should make the tracker fail at least once"
    assert c[wrong].max() < 0.2


# -- ranking frames for review --------------------------------------------------------------
def test_review_order_puts_the_least_sure_frames_first(video):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(decay=0.1))
    seg.add_mask(0, 1, square())
    seg.add_mask(0, 2, square(x=20))
    seg.propagate("forward", progress=False)
    order = vw.metrics.review_order(seg)
    assert list(order.columns) == [
        "rank", "frame", "time_s", "obj_id", "label", "sureness", "confidence", "iou_prev", "flicker", "area_change", "reason",
    ]  # fmt: skip
    assert len(order) == 10 and sorted(order["frame"]) == list(range(10))  # one row per frame
    assert list(order["rank"]) == list(range(1, 11))
    # confidence falls 0.1 a frame from the prompt: the last frame first, the prompted one last
    assert list(order["frame"]) == list(range(9, -1, -1))
    assert (order["reason"].iloc[:-1] == "confidence").all()
    assert order["sureness"].is_monotonic_increasing
    per_object = vw.metrics.review_order(seg, per="object")
    assert len(per_object) == 20
    assert len(vw.metrics.review_order(seg, top=3)) == 3


def test_review_order_without_engine_confidence_ranks_on_consistency(video):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square())
    seg.propagate("forward", progress=False)
    seg.edit_mask(6, 1, remove=square(x=10))  # frame 6 loses half its mask: a sudden change
    order = vw.metrics.review_order(seg)
    assert order["confidence"].isna().all()
    assert order["frame"].iloc[0] == 6 and order["reason"].iloc[0] == "sudden change"
    assert order["sureness"].iloc[0] == pytest.approx(order["iou_prev"].iloc[0])


def test_review_order_counts_flicker(video):
    seg = vw.Segmenter(video, engine=ScoredShiftEngine(decay=0.0))  # confidence 0.9 everywhere
    seg.add_mask(0, 1, square())
    seg.propagate("forward", progress=False)
    for frame in (4, 5):  # gone on frames 4 and 5 only: a flicker
        seg.edit_mask(frame, 1, remove=np.ones((24, 32), bool))
    order = vw.metrics.review_order(seg).set_index("frame")
    assert list(order.index[:3]) == [4, 6, 5]  # it vanishes (4), comes back (6): IoU 0 with the frame before
    assert order.loc[5, "iou_prev"] == 1.0 and order.loc[5, "flicker"]  # empty after empty: only the flicker tells
    assert order.loc[5, "sureness"] == pytest.approx(0.9 * 0.5) and order.loc[5, "reason"] == "flicker"
    rest = order.drop([4, 5, 6])  # the mask moves a pixel a frame: IoU 5/7 with the frame before
    np.testing.assert_allclose(rest["sureness"], 0.9 * rest["iou_prev"].fillna(1.0) ** vw.metrics.review.IOU_WEIGHT)


@pytest.mark.parametrize("kwargs, error", [
    ({"per": "pixel"}, ValueError), ({"top": 0}, ValueError), ({"top": 2.5}, ValueError),
])  # fmt: skip
def test_review_order_refuses_bad_arguments(video, kwargs, error):
    seg = vw.Segmenter(video, engine=ShiftEngine())
    seg.add_mask(0, 1, square())
    with pytest.raises(error):
        vw.metrics.review_order(seg, **kwargs)
    with pytest.raises(TypeError, match="Segmenter"):
        vw.metrics.review_order(seg.masks)


# -- the learned engine: the prompt model's predicted IoU ----------------------------------
class ScoreDiskModel:
    """An image prompt model answering a disk of radius 20 around the first point, with a
    predicted IoU of ``score``."""

    name = "scored disks"

    def __init__(self, score):
        self.score = score

    def embed(self, image):
        return np.zeros(4, np.float32)

    def predict(self, embedding, image_size, *, points=None, labels=None, box=None, logits=None, multimask=False):
        import cv2
        from vseg_widgets.prompt_models import Prediction

        mask = np.zeros(image_size, np.uint8)
        x, y = points[0] if points is not None else box[:2]
        cv2.circle(mask, (int(x), int(y)), 20, 1, -1)
        return Prediction(mask[None] > 0, np.array([self.score], np.float32))


def test_learned_engine_reports_the_predicted_iou_and_caps_what_it_propagates(synthetic_video):
    from vseg_widgets.engines.learned import REANCHOR_GAPS

    video, gt = synthetic_video
    seg = vw.Segmenter(video, engine=vw.engines.LearnedEngine(ScoreDiskModel(0.6)))
    seg.add_points(0, 1, [(90, 120)])
    assert seg.confidence(1)[0] == pytest.approx(0.6)
    seg.add_mask(0, 2, gt.get(0, 2))  # an exact mask: sure
    assert seg.confidence(2)[0] == 1.0
    seg.propagate("forward", progress=False)
    c = seg.confidence(1)[1:20]
    assert np.isfinite(c).all() and c.max() <= 0.6 + 1e-9  # no surer than the click it was carried from
    # carried from a mask given exactly, up to the first re-anchored frame (judged by the model there)
    assert seg.confidence(2)[1:REANCHOR_GAPS[1]].min() > 0.9


@pytest.mark.parametrize("score, expected", [(1.04, 1.0), (-0.1, 0.0), (float("nan"), float("nan"))])
def test_learned_engine_clips_the_predicted_iou(score, expected):
    video = np.zeros((3, 64, 80, 3), np.uint8)
    seg = vw.Segmenter(video, engine=vw.engines.LearnedEngine(ScoreDiskModel(score)))
    seg.add_points(0, 1, [(30, 30)])
    np.testing.assert_equal(seg.confidence(1)[0], expected)
