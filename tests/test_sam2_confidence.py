"""The SAM 2 adapter's confidence (object score x predicted IoU), checked against a fake
predictor that stores its outputs where the official SAM2VideoPredictor does.

Runs without sam2 (torch only). The fake follows sam2 1.1's layout: per-object outputs in
``state["output_dict_per_obj"][idx]["cond_frame_outputs" | "non_cond_frame_outputs"]``
(pending prompt outputs in ``temp_output_dict_per_obj``) holding ``object_score_logits``;
the mask decoder module ``predictor.sam_mask_decoder`` returning (masks, iou_pred, tokens,
object_score_logits), called once per non-conditioned object and frame, and also to make
an object pointer from a mask prompt and (here, as some versions do) when preparing a
propagation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vseg_widgets as vw
from vseg_widgets.engines import sam2 as adapter

H, W, N = 32, 48, 8


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def load_video_frames(video_path, image_size, offload_video_to_cpu, *args, **kwargs):
    raise AssertionError("the adapter swaps this loader for its own while init_state runs")


class FakeDecoder(torch.nn.Module):
    def forward(self, iou: torch.Tensor):
        return torch.zeros(1, 1, 4, 4), iou, torch.zeros(1, 1, 8), torch.zeros(1, 1)


class FakePredictor:
    """``script[obj][frame] = (object score logit, predicted IoU)`` of each tracked frame; a
    negative score hides the object (empty mask), as SAM 2's occlusion head does."""

    device = torch.device("cpu")

    def __init__(self, script, decoder=True):
        self.script = script
        if decoder:
            self.sam_mask_decoder = FakeDecoder()

    def _decode(self, iou: float):
        if hasattr(self, "sam_mask_decoder"):
            self.sam_mask_decoder(torch.tensor([[0.1, iou, 0.2]]))  # 3 candidates; the best is kept

    def init_state(self, video, offload_video_to_cpu=False, offload_state_to_cpu=False):
        images, h, w = load_video_frames(video, 64, offload_video_to_cpu, compute_device=self.device)
        return {"images": images, "obj_id_to_idx": {}, "obj_ids": [], "output_dict_per_obj": {}, "temp_output_dict_per_obj": {}}

    def _idx(self, state, obj_id):
        if obj_id not in state["obj_id_to_idx"]:
            idx = len(state["obj_ids"])
            state["obj_id_to_idx"][obj_id] = idx
            state["obj_ids"].append(obj_id)
            state["output_dict_per_obj"][idx] = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
            state["temp_output_dict_per_obj"][idx] = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
        return state["obj_id_to_idx"][obj_id]

    def _logits(self, state, frame):
        out = torch.full((len(state["obj_ids"]), 1, H, W), -5.0)
        for k, obj in enumerate(state["obj_ids"]):
            score = self.script[obj].get(frame, (5.0, 1.0))[0]
            if score > 0:
                out[k, 0, 8:20, 4 + 10 * k : 14 + 10 * k] = 5.0
        return out

    def add_new_points_or_box(self, state, frame, obj_id, points=None, labels=None, box=None, clear_old_points=True):
        idx = self._idx(state, obj_id)
        score, iou = self.script[obj_id][frame]
        self._decode(iou)
        state["temp_output_dict_per_obj"][idx]["cond_frame_outputs"][frame] = {"object_score_logits": torch.tensor([[score]])}
        return frame, list(state["obj_ids"]), self._logits(state, frame)

    def add_new_mask(self, state, frame, obj_id, mask):
        idx = self._idx(state, obj_id)
        self._decode(0.123)  # the object pointer of a mask prompt: its IoU means nothing
        state["temp_output_dict_per_obj"][idx]["cond_frame_outputs"][frame] = {"object_score_logits": torch.tensor([[10.0]])}
        return frame, list(state["obj_ids"]), self._logits(state, frame)

    def propagate_in_video(self, state, start_frame_idx=None, max_frame_num_to_track=None, reverse=False):
        for idx, temp in state["temp_output_dict_per_obj"].items():  # preflight: prompts become memory
            state["output_dict_per_obj"][idx]["cond_frame_outputs"].update(temp["cond_frame_outputs"])
            temp["cond_frame_outputs"].clear()
        self._decode(0.05)  # some versions prepare an empty-mask pointer here
        frames = range(start_frame_idx, -1, -1) if reverse else range(start_frame_idx, N)
        for frame in frames:
            for obj in state["obj_ids"]:
                outputs = state["output_dict_per_obj"][state["obj_id_to_idx"][obj]]
                if frame in outputs["cond_frame_outputs"]:
                    continue
                score, iou = self.script[obj].get(frame, (5.0, 1.0))
                self._decode(iou)
                outputs["non_cond_frame_outputs"][frame] = {"object_score_logits": torch.tensor([[score]])}
            yield frame, list(state["obj_ids"]), self._logits(state, frame)

    def remove_object(self, state, obj_id, strict=False, need_output=True):
        pass

    def reset_state(self, state):
        state["obj_id_to_idx"].clear()
        state["obj_ids"].clear()


SCRIPT = {
    1: {0: (3.0, 0.9), 1: (4.0, 0.95), 2: (0.2, 0.6), 3: (-4.0, 0.3), 4: (-0.3, 0.5)},
    2: {1: (2.0, 0.7)},
}


@pytest.fixture()
def video():
    return vw.open_video(np.zeros((N, H, W, 3), np.uint8))


def session(video, script=SCRIPT, decoder=True):
    return adapter.SAM2(predictor=FakePredictor(script, decoder), verbose=False).init_session(video)


def test_a_click_gets_object_score_times_predicted_iou(video):
    s = session(video)
    s.add_prompt(0, 1, points=np.array([[8.0, 12.0]], np.float32), labels=np.array([1], np.int32))
    assert s.confidence(0) == {1: pytest.approx(sigmoid(3.0) * 0.9)}


def test_a_mask_prompt_counts_as_iou_one(video):
    s = session(video)
    mask = np.zeros((H, W), bool)
    mask[8:20, 4:14] = True
    s.add_prompt(0, 1, mask=mask)
    assert s.confidence(0)[1] == pytest.approx(sigmoid(10.0))  # not x 0.123


def test_propagation_reports_each_step_and_an_occlusion(video):
    s = session(video)
    s.add_prompt(0, 1, points=np.array([[8.0, 12.0]], np.float32), labels=np.array([1], np.int32))
    s.add_prompt(1, 2, points=np.array([[20.0, 12.0]], np.float32), labels=np.array([1], np.int32))
    steps = dict(s.propagate(0))
    c = {t: s.confidence(t) for t in steps}
    assert c[0] == {1: pytest.approx(sigmoid(3.0) * 0.9)}  # the prompted frame keeps its prompt's
    assert c[1][1] == pytest.approx(sigmoid(4.0) * 0.95)
    assert c[1][2] == pytest.approx(sigmoid(2.0) * 0.7)  # object 2's own prompt
    assert c[2][1] == pytest.approx(sigmoid(0.2) * 0.6)  # barely there: doubtful
    assert not steps[3][1].any() and c[3][1] == pytest.approx(1 - sigmoid(-4.0))  # surely hidden
    assert not steps[4][1].any() and c[4][1] == pytest.approx(1 - sigmoid(-0.3))  # hidden? unsure
    assert c[2][1] < 0.6 and c[4][1] < 0.6 < c[3][1]


def test_without_a_decoder_to_hook_the_object_score_alone(video):
    s = session(video, decoder=False)
    s.add_prompt(0, 1, points=np.array([[8.0, 12.0]], np.float32), labels=np.array([1], np.int32))
    dict(s.propagate(0))
    assert s.confidence(0)[1] == pytest.approx(sigmoid(3.0))
    assert s.confidence(2)[1] == pytest.approx(sigmoid(0.2))


def test_the_segmenter_tables_sam2_confidence(video):
    seg = vw.Segmenter(video, engine=adapter.SAM2(predictor=FakePredictor(SCRIPT), verbose=False))
    seg.add_points(0, 1, [(8, 12)])
    seg.propagate("forward", progress=False)
    c = seg.confidence(1)
    assert c[0] == pytest.approx(sigmoid(3.0) * 0.9) and c[3] == pytest.approx(1 - sigmoid(-4.0))
    assert seg.to_dataframe()["confidence"].notna().all()
    seg.reset()
    assert seg.to_dataframe().empty
