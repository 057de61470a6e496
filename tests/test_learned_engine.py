"""The default engine: a learned image prompt model answers prompts, the classic tracker propagates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.engines import LearnedEngine
from vseg_widgets.errors import EngineError, PromptModelError
from vseg_widgets.metrics import jaccard, next_click
from vseg_widgets.prompt_models import Prediction, sam_mask_logits


def deepest_point(mask: np.ndarray) -> tuple[float, float]:
    """Where the standard clicker clicks first: the point of ``mask`` farthest from its edge."""
    return next_click(np.zeros_like(mask), mask)[0]


class DiskModel:
    """An image prompt model that answers a disk of radius 12 around the first point and
    records what it was asked."""

    name = "disks"

    def __init__(self, fail: bool = False):
        self.embedded: list[int] = []
        self.asked: list[dict] = []
        self.fail = fail

    def embed(self, image):
        self.embedded.append(int(image.sum()))
        return np.zeros(4, np.float32)

    def predict(self, embedding, image_size, *, points=None, labels=None, box=None, logits=None, multimask=False):
        if self.fail:
            raise RuntimeError("out of memory on the accelerator")
        self.asked.append({"points": None if points is None else points.copy(), "logits": logits, "multimask": multimask})
        mask = np.zeros(image_size, np.uint8)
        x, y = points[0] if points is not None else box[:2]
        cv2.circle(mask, (int(x), int(y)), 12, 1, -1)
        return Prediction(mask[None] > 0, np.array([0.9], np.float32), np.full((1, 256, 256), len(self.asked), np.float32))

    def mask_to_logits(self, mask):
        return sam_mask_logits(mask)


def test_the_default_engine_is_the_learned_one_and_a_click_gives_the_object(synthetic_video):
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    assert seg.engine_name == "learned"
    for obj in (1, 2):
        masks = seg.add_points(0, obj, [deepest_point(gt.get(0, obj))])
        assert jaccard(masks[obj], gt.get(0, obj)) > 0.9


def test_one_click_then_propagation_follows_the_object(synthetic_video):
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    seg.add_points(0, 1, [deepest_point(gt.get(0, 1))])
    seg.propagate("forward", progress=False)
    ious = [jaccard(seg.masks.get(t, 1), gt.get(t, 1)) for t in range(1, 20)]  # before the occlusion
    assert np.mean(ious) > 0.85


def test_later_clicks_feed_the_last_answer_back():
    model = DiskModel()
    video = np.zeros((3, 64, 80, 3), np.uint8)
    seg = vw.Segmenter(video, engine=LearnedEngine(model))
    seg.add_points(0, 1, [(20, 20)])
    seg.add_points(0, 1, [(50, 40)], [0])
    first, second = model.asked
    assert first["logits"] is None and first["multimask"]
    assert second["points"].tolist() == [[20, 20], [50, 40]]
    assert second["logits"] is not None and second["logits"][0, 0] == 1  # the first answer's logits
    assert len(model.embedded) == 1  # the frame was embedded once for both clicks


def test_a_click_on_a_propagated_frame_starts_from_the_propagated_mask():
    model = DiskModel()
    video = np.zeros((4, 64, 80, 3), np.uint8)
    seg = vw.Segmenter(video, engine=LearnedEngine(model))
    seg.add_points(0, 1, [(30, 30)])
    seg.propagate("forward", progress=False)
    propagated = seg.masks.get(2, 1).copy()
    assert propagated.any()
    seg.add_points(2, 1, [(32, 30)])
    logits = model.asked[-1]["logits"]
    assert logits is not None
    np.testing.assert_array_equal(logits, sam_mask_logits(propagated))


def test_prepare_computes_the_embedding_ahead_so_a_click_costs_only_the_decoder(synthetic_video):
    video, gt = synthetic_video
    seg = vw.Segmenter(video)
    session = seg._session
    session.prepare(3)
    session.embeddings.get(3)  # wait for the background computation
    computed = session.embeddings.computed
    assert session.ready(3)
    seg.add_points(3, 1, [deepest_point(gt.get(3, 1))])
    assert session.embeddings.computed == computed


def test_a_failing_predictor_raises_a_clear_error_and_loses_nothing():
    model = DiskModel()
    video = np.zeros((3, 64, 80, 3), np.uint8)
    seg = vw.Segmenter(video, engine=LearnedEngine(model))
    seg.add_points(0, 1, [(20, 20)])
    before = seg.masks.get(0, 1).copy()
    model.fail = True
    with pytest.raises(PromptModelError, match="'disks' failed on frame 0.*out of memory.*Nothing was changed") as info:
        seg.add_points(0, 1, [(40, 40)])
    assert isinstance(info.value, EngineError)
    assert len(seg.prompts) == 1
    np.testing.assert_array_equal(seg.masks.get(0, 1), before)


def test_an_engine_needs_a_real_prompt_model():
    with pytest.raises(TypeError, match="not an image prompt model.*SamPredictorModel"):
        LearnedEngine(object())


def test_undo_and_remove_object_forget_the_fed_back_answers():
    model = DiskModel()
    seg = vw.Segmenter(np.zeros((3, 64, 80, 3), np.uint8), engine=LearnedEngine(model))
    seg.add_points(0, 1, [(20, 20)])
    seg.add_points(0, 1, [(30, 30)])
    seg.undo()  # replays the first click alone: nothing to feed back
    assert model.asked[-1]["logits"] is None and model.asked[-1]["points"].tolist() == [[20, 20]]
    seg.remove_object(1)
    seg.add_points(0, 1, [(20, 20)])
    assert model.asked[-1]["logits"] is None


@pytest.mark.davis
def test_a_click_on_a_real_object_gives_that_object(davis_root):
    for name, least in (("car-roundabout", 0.9), ("cows", 0.8), ("blackswan", 0.7)):
        video, gt = vw.datasets.load_davis(davis_root, name)
        seg = vw.Segmenter(video)
        target = gt.get(0, 1)
        masks = seg.add_points(0, 1, [deepest_point(target)])
        assert jaccard(masks[1], target) > least, name


def test_a_first_click_takes_the_largest_confident_candidate_that_is_not_the_background():
    from vseg_widgets.engines.learned import whole_object
    from vseg_widgets.prompt_models import Prediction

    part, whole, background = np.zeros((3, 100, 100), bool)
    part[40:50, 40:50] = True
    whole[20:70, 20:70] = True
    background[:, :] = True
    nested = np.stack([part, whole, background])
    assert whole_object(Prediction(nested, np.array([0.95, 0.90, 0.99], np.float32))) == 1
    # a large candidate the model doubts is not taken
    assert whole_object(Prediction(nested, np.array([0.95, 0.70, 0.99], np.float32))) == 0
    # nothing confident but the background: the best-scored candidate
    assert whole_object(Prediction(nested, np.array([0.50, 0.50, 0.99], np.float32))) == 2
    assert whole_object(Prediction(nested[:1], np.array([0.3], np.float32))) == 0



class TruthModel:
    """Answers a box prompt with a fixed mask per frame (``answers``: frame -> (H, W) bool),
    a click with a disk; records the frames it embedded and the boxes it was asked."""

    name = "truth"

    def __init__(self, video, answers):
        self.frames = [video[t] for t in range(len(video))]
        self.answers = answers
        self.embedded: list[int] = []
        self.boxes: list[int] = []

    def embed(self, image):
        frame = next(t for t, f in enumerate(self.frames) if np.array_equal(f, image))
        self.embedded.append(frame)
        return np.array([frame])

    def predict(self, embedding, image_size, *, points=None, labels=None, box=None, logits=None, multimask=False):
        frame = int(embedding[0])
        if box is not None:
            self.boxes.append(frame)
            mask = self.answers(frame)
        else:
            mask = np.zeros(image_size, np.uint8)
            cv2.circle(mask, tuple(int(v) for v in points[0]), 12, 1, -1)
            mask = mask > 0
        return Prediction(mask[None], np.array([0.9], np.float32), None)


def _cut(mask: np.ndarray) -> np.ndarray:
    """``mask`` without its rightmost fifth: a prompt that missed part of the object."""
    xs = np.nonzero(mask.any(0))[0]
    out = mask.copy()
    out[:, xs.max() - (xs.max() - xs.min()) // 5:] = False
    return out


def test_propagation_reanchors_on_the_model_and_looks_more_often_where_it_corrects(synthetic_video):
    fewest, first = 4, 8  # gaps (4, 8, 16); the default is a fixed gap
    video, gt = synthetic_video
    # Each answer corrects, so the gap halves to its least; but the frames are asked for
    # a pair ahead (the first two together), so the shorter gap starts after the second.
    due = [first, 2 * first, 2 * first + fewest]
    clip = np.stack([video[t] for t in range(due[-1] + 1)])  # before the synthetic occlusion
    model = TruthModel(clip, lambda t: _cut(gt.get(t, 1)))  # an outline that agrees with the tracked one
    learned = vw.Segmenter(clip, engine=LearnedEngine(model, reanchor_gaps=(fewest, first, 16)))
    classic = vw.Segmenter(clip, engine="classic")
    for seg in (learned, classic):
        seg.add_mask(0, 1, gt.get(0, 1))
        seg.propagate("forward", progress=False)
    assert model.boxes == due  # asked on those frames only
    assert sorted(model.embedded) == due  # embedded ahead, once each
    for t in due:
        np.testing.assert_array_equal(learned.masks.get(t, 1), _cut(gt.get(t, 1)))
        assert jaccard(classic.masks.get(t, 1), _cut(gt.get(t, 1))) < 0.9
    for t in range(1, first):  # the frames before are the tracker's
        np.testing.assert_array_equal(learned.masks.get(t, 1), classic.masks.get(t, 1))


def test_reanchoring_follows_the_engines_gaps_and_can_be_turned_off(synthetic_video):
    video, gt = synthetic_video
    clip = np.stack([video[t] for t in range(14)])
    classic = vw.Segmenter(clip, engine="classic")
    classic.add_mask(0, 1, gt.get(0, 1))
    classic.propagate("forward", progress=False)
    # (3, 6) asked together at the start, then the gap halves to 2: (8, 10), then 12 alone,
    # the last inside the clip.
    for gaps, asked in (((2, 3, 6), [3, 6, 8, 10, 12]), (None, [])):
        model = TruthModel(clip, lambda t: _cut(gt.get(t, 1)))
        learned = vw.Segmenter(clip, engine=LearnedEngine(model, reanchor_gaps=gaps))
        learned.add_mask(0, 1, gt.get(0, 1))
        learned.propagate("forward", progress=False)
        assert model.boxes == asked and sorted(model.embedded) == asked
    for t in range(len(clip)):  # without re-anchoring, the classic tracker's masks exactly
        np.testing.assert_array_equal(learned.masks.get(t, 1), classic.masks.get(t, 1))
    # Backwards from the last frame the same way: (10, 7), then (5, 3), then 1 alone.
    model = TruthModel(clip, lambda t: _cut(gt.get(t, 1)))
    learned = vw.Segmenter(clip, engine=LearnedEngine(model, reanchor_gaps=(2, 3, 6)))
    learned.add_mask(13, 1, gt.get(13, 1))
    learned.propagate("backward", progress=False)
    assert model.boxes == [10, 7, 5, 3, 1] and sorted(model.embedded) == [1, 3, 5, 7, 10]
    for bad in ((0, 8, 16), (8, 4, 16), (4, 8, 2)):
        with pytest.raises(ValueError, match="reanchor_gaps"):
            LearnedEngine(model, reanchor_gaps=bad)


def test_the_gap_between_reanchorings_grows_where_the_tracker_holds_and_shrinks_where_it_drifts():
    from vseg_widgets.engines.learned import REANCHOR_GAPS, next_gap

    gaps = fewest, first, most = 4, 8, 16
    assert next_gap(first, [0.99, 0.97], gaps) == 2 * first  # every answer agreed closely
    assert next_gap(most, [0.99], gaps) == most
    assert next_gap(first, [0.99, 0.8], gaps) == first // 2  # one was a real correction
    assert next_gap(fewest, [0.8], gaps) == fewest
    assert next_gap(first, [0.3], gaps) == first  # an answer not taken teaches nothing
    assert next_gap(first, [], gaps) == first  # nothing tracked
    gap = REANCHOR_GAPS[1]  # the default keeps its gap whatever the answers
    assert next_gap(gap, [0.99]) == next_gap(gap, [0.8]) == gap


def test_the_tracker_puts_a_refined_mask_out_and_keeps_it_as_that_frames_mask(synthetic_video):
    from vseg_widgets.engines.classic import TrackerConfig
    from vseg_widgets.engines.classic.tracker import ClassicSession

    video, gt = synthetic_video
    session = ClassicSession(video, TrackerConfig())
    session.add_prompt(0, 1, mask=gt.get(0, 1))
    asked, given = [], {}

    def refine(t, masks):
        asked.append(t)
        if t == 5:
            given[t] = _cut(masks[1])
            return {1: given[t]}
        return None

    out = dict(zip(range(8), (m for _, m in session.propagate(0, refine=refine))))
    assert asked == list(range(8))  # every frame, the prompted one included
    np.testing.assert_array_equal(out[5][1], given[5])
    np.testing.assert_array_equal(session.known_mask(5, 1), out[5][1])  # a later click starts from it
    assert jaccard(out[6][1], gt.get(6, 1)) > 0.95  # tracking goes on (the tracker regrows the cut)


def test_a_reanchoring_answer_that_disagrees_with_the_tracked_mask_is_not_taken(synthetic_video):
    from vseg_widgets.engines.learned import REANCHOR_GAPS

    video, gt = synthetic_video
    clip = np.stack([video[t] for t in range(REANCHOR_GAPS[1] + 4)])
    other = gt.get(0, 2)  # the model answers with the other object
    learned = vw.Segmenter(clip, engine=LearnedEngine(TruthModel(clip, lambda t: other)))
    classic = vw.Segmenter(clip, engine="classic")
    for seg in (learned, classic):
        seg.add_mask(0, 1, gt.get(0, 1))
        seg.propagate("forward", progress=False)
    for t in range(len(clip)):
        np.testing.assert_array_equal(learned.masks.get(t, 1), classic.masks.get(t, 1))


class UnsureTruthModel(TruthModel):
    """TruthModel whose answers to a tracked mask it rates at IoU ``score``."""

    def __init__(self, video, answers, score: float):
        super().__init__(video, answers)
        self.score = score

    def predict(self, embedding, image_size, **prompts):
        pred = super().predict(embedding, image_size, **prompts)
        return Prediction(pred.masks, np.array([self.score], np.float32), None)


def test_a_reanchored_frame_is_as_sure_as_the_tracker_and_the_model_together(synthetic_video):
    from vseg_widgets.engines.learned import REANCHOR_GAPS, judged_iou

    video, gt = synthetic_video
    first = REANCHOR_GAPS[1]
    clip = np.stack([video[t] for t in range(first + 3)])
    model = UnsureTruthModel(clip, lambda t: _cut(gt.get(t, 1)), score=0.85)  # agrees, but unsure
    seg = vw.Segmenter(clip, engine=LearnedEngine(model))
    seg.add_mask(0, 1, gt.get(0, 1))
    seg.propagate("forward", progress=False)
    assert model.boxes == [first]
    tracker = seg._session.tracker.confidence(first)[1]
    assert judged_iou(0.85) == pytest.approx(0.25)
    assert seg.confidence(1)[first] == pytest.approx(np.sqrt(tracker * 0.25), rel=1e-5)
    assert seg.confidence(1)[first] < min(seg.confidence(1)[first - 1], seg.confidence(1)[first + 1])
    for t in (first - 1, first + 1):  # frames not re-anchored keep the tracker's confidence
        assert seg.confidence(1)[t] == pytest.approx(seg._session.tracker.confidence(t)[1], rel=1e-5)
    seg.add_mask(first, 1, gt.get(first, 1))  # a prompt there is judged by its prompt: sure
    assert seg.confidence(1)[first] == pytest.approx(1.0)
