"""The classic tracker's per-frame work shared by all objects (issue 15): one whole-frame
flow cropped into each view, the camera's motion from it, and the per-object stages that
are computed only where they can matter. Each shortcut is checked against the long way."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import vseg_widgets as vw
from vseg_widgets.engines.classic import ClassicEngine
from vseg_widgets.engines.classic.flow import FlowField
from vseg_widgets.engines.classic.shared import SharedFlow
from vseg_widgets.engines.classic.view import View, whole


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8 smooth random texture, which optical flow can follow."""
    noise = np.random.default_rng(seed).uniform(0, 255, (h // 4, w // 4, 3)).astype(np.float32)
    return cv2.GaussianBlur(cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5).clip(0, 255).astype(np.uint8)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` translated by (dx, dy) px (its content moves right and down)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def pair(prev: np.ndarray, cur: np.ndarray, work: View) -> SharedFlow:
    gray = [cv2.cvtColor(work.crop(f), cv2.COLOR_RGB2GRAY) for f in (prev, cur)]
    return SharedFlow(FlowField(finest_scale=0, check_finest_scale=1), work, prev.shape[:2], *gray)


def test_the_whole_work_view_gets_the_flow_itself():
    prev = textured(240, 320)
    flow = pair(prev, shifted(prev, 3, 1), whole((240, 320), 320 * 240))
    coords, trust = flow.flow
    coords_v, trust_v = flow.in_view(flow.work)
    np.testing.assert_allclose(coords_v, coords, atol=1e-4)
    np.testing.assert_allclose(trust_v, trust, atol=1e-4)


@pytest.mark.parametrize("scale", [1.0, 0.75, 0.5])
def test_a_view_gets_the_frames_motion_in_its_own_pixels(scale):
    # The frame moves by (6, 2) full-resolution px; the flow is computed at half resolution.
    prev = textured(240, 320)
    cur = shifted(prev, 6, 2)
    flow = pair(prev, cur, whole((240, 320), 160 * 120))
    view = View(60, 40, 260, 200, scale)
    coords, trust = flow.in_view(view)
    h, w = view.size
    assert coords.shape == (h, w, 2) and trust.shape == (h, w) and coords.dtype == trust.dtype == np.float32
    inner = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    delta = coords - FlowField().grid(h, w)
    # Backward flow: each current pixel came from (-6, -2) full px away, so many view px.
    sx, sy = w / 200, h / 160
    assert abs(np.median(delta[inner][..., 0]) + 6 * sx) < 0.3 * sx + 0.1
    assert abs(np.median(delta[inner][..., 1]) + 2 * sy) < 0.3 * sy + 0.1
    assert np.median(trust[inner]) > 0.8


def test_pixels_from_outside_the_view_are_not_trusted():
    prev = textured(240, 320)
    flow = pair(prev, shifted(prev, 8, 0), whole((240, 320), 320 * 240))
    view = View(100, 50, 220, 190, 1.0)
    _, trust = flow.in_view(view)
    # The content moved right: the view's leftmost 8 px came from left of the view.
    assert trust[:, :6].max() == 0.0
    assert np.median(trust[:, 20:-20]) > 0.8


def test_the_camera_motion_from_the_shared_flow_is_the_click_codes():
    # The drift check and the search read the camera's motion off the shared flow; with
    # the same flow settings it is exactly what moving.independent_motion computes apart.
    from vseg_widgets.engines.classic.moving import independent_motion

    prev = textured(480, 854, seed=1)
    cur = shifted(prev, 4, -2)
    cur[200:260, 300:380] = prev[200:260, 290:370]  # an object moving on its own
    work = whole((480, 854), 427 * 240)
    gray = [cv2.cvtColor(work.crop(f), cv2.COLOR_RGB2GRAY) for f in (prev, cur)]
    flow = SharedFlow(FlowField(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, finest_scale=1), work, (480, 854), *gray)
    np.testing.assert_array_equal(flow.residual(), independent_motion(cur, prev))


def test_the_edge_filter_around_the_reach_is_the_whole_views():
    from vseg_widgets.engines.classic.refine import GuidedFilter
    from vseg_widgets.engines.classic.tracker import OUT_OF_REACH, Frame

    rng = np.random.default_rng(0)
    guide = rng.uniform(0, 1, (120, 160, 3)).astype(np.float32)
    reach = np.zeros((120, 160), bool)
    reach[30:70, 50:110] = True
    prob = np.where(reach, rng.uniform(0, 1, reach.shape), 1 / (1 + np.exp(-OUT_OF_REACH))).astype(np.float32)
    session = ClassicEngine().init_session(vw.video.ArrayVideo(np.zeros((2, 120, 160, 3), np.uint8)))
    frame = Frame(np.zeros((120, 160), np.uint8), np.zeros((120, 160), np.int32), guide, guide)
    cfg = session.config
    np.testing.assert_allclose(session._edges(prob, session._edge_filter(frame, reach)), GuidedFilter(guide, cfg.guided_radius, cfg.guided_eps)(prob), atol=1e-5)


def test_the_local_colour_models_fitted_on_a_box_score_as_on_the_whole_view():
    from vseg_widgets.engines.classic.local import LocalColour, lab_float
    from vseg_widgets.engines.classic.tracker import Frame

    prev = textured(120, 160, seed=2)
    cur = shifted(prev, 2, 1)
    soft = np.zeros((120, 160), np.float32)
    soft[40:80, 60:110] = 1.0
    coords = FlowField().grid(120, 160) - np.float32([2, 1])
    warped = FlowField.warp(soft, coords)
    guide = cur.astype(np.float32) / 255
    frame = Frame(np.zeros((120, 160), np.uint8), np.zeros((120, 160), np.int32), guide, lab_float(guide))
    session = ClassicEngine().init_session(vw.video.ArrayVideo(np.stack([prev, cur])))
    logit = np.random.default_rng(0).normal(0, 1, (120, 160)).astype(np.float32)
    got = logit.copy()
    session._blend_local(got, session._local_colour(soft, frame, prev, coords, warped))
    # The long way: the window models fitted on the whole previous view.
    cfg = session.config
    r = cfg.local_radius
    inside = (warped > 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    ys, xs = np.nonzero(cv2.dilate(inside, kernel) > cv2.erode(inside, kernel))
    sx = np.clip(np.rint(coords[ys, xs, 0]), 0, 159).astype(np.int32)
    sy = np.clip(np.rint(coords[ys, xs, 1]), 0, 119).astype(np.int32)
    local, weight = LocalColour(lab_float(prev.astype(np.float32) / 255), soft, r).logit(frame.lab[ys, xs], sx, sy)
    local = np.clip(local, -cfg.local_clip, cfg.local_clip)
    weight = weight * cfg.local_weight * (1 - np.abs(np.tanh(0.5 * logit[ys, xs])))
    want = logit.copy()
    want[ys, xs] = (1 - np.minimum(weight, 1)) * logit[ys, xs] + weight * local
    assert got[ys, xs].std() > 0 and not np.allclose(got, logit)
    np.testing.assert_allclose(got, want, atol=1e-3)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def test_an_object_is_tracked_alike_alone_and_among_others_far_from_it():
    # One flow for the frame, whatever the objects: an object that never meets the others
    # gets the masks it gets alone (objects interact only where they compete for pixels).
    video, gt = vw.datasets.synthetic(num_frames=24, num_objects=2, occlusion=False, exit_and_return=False)
    alone = ClassicEngine().init_session(video)
    alone.add_prompt(0, 1, mask=gt.get(0, 1))
    together = ClassicEngine().init_session(video)
    for o in (1, 2):
        together.add_prompt(0, o, mask=gt.get(0, o))
    for (t, a), (_, b) in zip(alone.propagate(0), together.propagate(0)):
        assert not (b[1] & b[2]).any()
        assert iou(a[1], b[1]) > 0.99, t


def ten_discs(frames: int = 16, h: int = 240, w: int = 427):
    """A (T, H, W, 3) uint8 video of ten textured discs of distinct colours, each moving its
    own way over a panning textured background, never touching; and their (H, W) bool
    masks per frame ({t: {obj: mask}})."""
    rng = np.random.default_rng(5)
    background = textured(h, w + 4 * frames, seed=7) // 2 + 64
    yy, xx = np.mgrid[:h, :w]
    hues = np.linspace(0, 180, 10, endpoint=False).astype(np.uint8)
    video, masks = [], {}
    for t in range(frames):
        frame = background[:, 2 * t : 2 * t + w].copy()
        masks[t] = {}
        for k in range(10):
            row, col = divmod(k, 5)
            cx = 45 + 85 * col + (2.0 if row else -2.0) * t
            cy = 60 + 120 * row + (1.0 if col % 2 else -1.0) * t
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= 26**2
            hsv = np.zeros((h, w, 3), np.uint8)
            hsv[..., 0], hsv[..., 1] = hues[k], 200
            hsv[..., 2] = 150 + rng.integers(0, 80, (h, w))  # a texture the flow can hold on to
            frame[disc] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[disc]
            masks[t][k + 1] = disc
        video.append(frame)
    return vw.video.ArrayVideo(np.stack(video)), masks


def test_ten_objects_propagate_each_on_its_own_pixels():
    video, truth = ten_discs()
    session = ClassicEngine().init_session(video)
    for o in range(1, 11):
        session.add_prompt(0, o, mask=truth[0][o])
    out = dict(session.propagate(0))
    assert sorted(out) == list(range(len(truth)))
    for t, masks in out.items():
        assert sorted(masks) == list(range(1, 11))
        total = np.sum([m.astype(np.int32) for m in masks.values()], axis=0)
        assert total.max() <= 1  # no pixel held by two objects
    scores = {o: min(iou(out[t][o], truth[t][o]) for t in out) for o in range(1, 11)}
    assert min(scores.values()) > 0.8, scores


def test_texture_scores_on_demand_are_the_classifiers_where_asked():
    from vseg_widgets.engines.classic.confidence import evidence
    from vseg_widgets.engines.classic.local import lab_float
    from vseg_widgets.engines.classic.texture import PixelClassifier, TextureScores

    image = textured(120, 160, seed=3)
    lab = lab_float(image.astype(np.float32) / 255)
    disk = np.hypot(*np.mgrid[-60:60, -80:80]) < 35
    classifier = PixelClassifier()
    classifier.fit(lab, disk, ~disk)
    region = np.hypot(*np.mgrid[-60:60, -80:80]) < 50
    full = classifier.logit(lab, region)
    scores = TextureScores(classifier, lab, region)
    band = np.abs(np.hypot(*np.mgrid[-60:60, -80:80]) - 35) < 4
    scores.at(band)
    # (the net's products are summed in another order for another batch: float rounding)
    np.testing.assert_allclose(scores.logit[band], full[band], atol=1e-5)
    assert np.all(scores.logit[~band] == 0)
    scores.at(np.ones_like(region))  # the rest of the region, and nothing outside it
    np.testing.assert_allclose(scores.logit, full, atol=1e-5)
    assert np.all(scores.logit[~region] == 0)
    # The confidence reads the contour band: computed there on demand, as from the full map.
    out = disk.astype(np.float32)
    partial = TextureScores(classifier, lab, region)
    from vseg_widgets.engines.classic.appearance import ColourModel, colour_index

    model = ColourModel()
    model.add_keyframe(colour_index(image), disk, 8)
    index = colour_index(image)
    got = evidence(out, out, np.ones_like(out), partial, index, model, 8)
    want = evidence(out, out, np.ones_like(out), full, index, model, 8)
    assert 0 < got.texture_agree < 1 and got == pytest.approx(want)


def test_a_step_computed_on_the_reach_window_is_the_whole_views():
    # The evidence is computed only on the box of the object's reach, grown by what every
    # cue reads around a pixel: the masks are those of the whole view, to float rounding.
    from vseg_widgets.engines.classic.tracker import ClassicSession

    class WholeView(ClassicSession):
        def _window(self, reach, band):
            return (slice(None), slice(None)) if reach.any() else None

    video, gt = vw.datasets.synthetic(num_frames=16, num_objects=2)
    runs = []
    for session in (ClassicEngine().init_session(video), WholeView(video, ClassicEngine().config)):
        for o in (1, 2):
            session.add_prompt(0, o, mask=gt.get(0, o))
        runs.append(dict(session.propagate(0)))
    windowed, reference = runs
    for t in reference:
        for o in (1, 2):
            differ = np.count_nonzero(windowed[t][o] != reference[t][o])
            assert differ <= 2, (t, o, differ)
            assert reference[t][o].any() or t > 0


def test_the_motion_cue_on_a_window_is_the_whole_views_there():
    from vseg_widgets.engines.classic.motion import motion_logit

    grid = FlowField().grid(120, 160)
    inside = np.zeros((120, 160), bool)
    inside[40:80, 60:100] = True
    coords = grid + np.array([3.0, 1.0], np.float32)
    coords[inside] = grid[inside] + np.array([-6.0, 4.0], np.float32)
    coords[36:84, 100:104] = grid[36:84, 100:104] + np.array([-6.0, 4.0], np.float32)  # a part the warp missed
    trust = np.random.default_rng(1).uniform(0.3, 1.0, (120, 160)).astype(np.float32)
    ring = np.ones_like(inside)
    ring[30:90, 50:110] = False
    allow = np.random.default_rng(2).uniform(0, 1, (120, 160)).astype(np.float32)
    window = (slice(25, 95), slice(45, 115))
    whole_cue = motion_logit(coords, grid, trust, inside, ring, positive=0.5, allow=allow)
    part = motion_logit(coords, grid, trust, inside, ring, positive=0.5, allow=allow[window], window=window)
    assert part.shape == (70, 70) and part.dtype == np.float32
    assert np.abs(part - whole_cue[window]).max() < 1e-5
    assert whole_cue[window].min() < -1.0  # the cue says something there


def _dense_compete(soft, objects):
    best = np.stack([soft[o] for o in objects]).argmax(0)
    return {o: np.where(best == k, soft[o], np.minimum(soft[o], 0.49)) for k, o in enumerate(objects)}


def _dense_to_full(soft):
    ids = list(soft)
    stack = np.stack([soft[o] for o in ids])
    winner, fg = stack.argmax(0), stack.max(0) > 0.5
    return {o: fg & (winner == k) for k, o in enumerate(ids)}


@pytest.mark.parametrize("seed", range(6))
def test_objects_compete_only_where_they_meet_as_over_the_whole_frame(seed):
    from vseg_widgets.engines.classic.tracker import ClassicSession, compete

    rng = np.random.default_rng(seed)
    soft = {}
    for o in range(1, 2 + seed % 4):  # 1 to 4 objects: soft boxes, some overlapping
        a = np.zeros((60, 90), np.float32)
        y, x = rng.integers(0, 45), rng.integers(0, 70)
        a[y : y + rng.integers(5, 25), x : x + rng.integers(5, 30)] = rng.uniform(0, 1, 1)[0]
        a[y + 2 : y + 8, x + 2 : x + 8] = rng.uniform(0.3, 1, (6, 6))
        soft[o] = a
    before = {o: a.copy() for o, a in soft.items()}
    expected = _dense_compete(soft, list(soft))
    competed = dict(soft)
    compete(competed, list(competed))
    for o in soft:
        assert np.array_equal(competed[o], expected[o]), o
        assert np.array_equal(soft[o], before[o])  # the arrays given are not changed
    full = ClassicSession._to_full(None, soft)
    for o, m in _dense_to_full(soft).items():
        assert np.array_equal(full[o], m), o


def test_sharing_a_frames_work_over_threads_gives_the_masks_of_one_thread():
    # The next frame's flow in a worker, the objects' steps spread over threads: the same
    # functions of the same inputs, so the same masks, bit for bit (small objects included,
    # which each use a flow estimator of their thread's).
    import dataclasses

    video, truth = ten_discs(frames=8)
    runs = {}
    for threads in (1, 2, 3):
        config = dataclasses.replace(ClassicEngine().config, threads=threads)
        session = ClassicEngine(config).init_session(video)
        for o in (1, 2, 3, 6):
            session.add_prompt(0, o, mask=truth[0][o])
        runs[threads] = dict(session.propagate(0))
    for threads in (2, 3):
        for t, masks in runs[1].items():
            for o, m in masks.items():
                assert np.array_equal(runs[threads][t][o], m), (threads, t, o)
    assert all(runs[1][7][o].any() for o in (1, 2, 3, 6))


def test_thickness_is_about_half_the_width_of_a_strip():
    from vseg_widgets.engines.classic.tracker import thickness

    strip = np.zeros((200, 400), bool)
    strip[50:58, 20:380] = True  # 8 px wide
    assert 3.5 <= thickness(strip) <= 4.5
    block = np.zeros((200, 400), bool)
    block[20:180, 100:300] = True
    assert thickness(block) > 30
    assert thickness(np.zeros((10, 10), bool)) == 0.0


@pytest.mark.parametrize("thin", [True, False])
def test_a_thin_object_gets_a_flow_of_its_own_view(thin, monkeypatch):
    # A bike's frame and its rider are narrower than a flow patch at the work resolution:
    # the shared flow smears them, so a thin prompt is followed with its own view's flow
    # even when its area is above own_flow_area; a compact one of the same area is not.
    from vseg_widgets.engines.classic import tracker as T
    from vseg_widgets.video import ArrayVideo

    h, w = 480, 854
    base = textured(h, w, seed=3)
    frames = np.stack([shifted(base, 2 * t, 0) for t in range(3)])
    mask = np.zeros((h, w), bool)
    if thin:  # a lattice of 6 px bars: area about 14,000 px, thickness about 3
        for y in range(100, 400, 40):
            mask[y : y + 6, 200:600] = True
    else:
        mask[150:270, 300:420] = True  # 14,400 px
    assert mask.sum() > T.TrackerConfig().own_flow_area
    session = T.ClassicSession(ArrayVideo(frames), T.TrackerConfig())
    own_flows = []
    view_inputs = session._view_inputs  # computed in a worker, ahead of the step that uses them
    monkeypatch.setattr(session, "_view_inputs", lambda *a: own_flows.append(a[-1]) or view_inputs(*a))
    session.add_prompt(0, 1, mask=mask)
    list(session.propagate(0))
    assert own_flows == [thin, thin], own_flows


def test_the_shared_flow_is_computed_only_on_frames_that_read_it(monkeypatch):
    # A small object follows a flow of its own view; the whole frame's flow is then read
    # only for the camera's motion (whether the object moves on its own, on the first
    # tracked frame), so it is not computed ahead on every frame, and the masks are those
    # of one thread, which computes it only when read.
    import dataclasses

    from vseg_widgets.engines.classic import tracker as T
    from vseg_widgets.video import ArrayVideo

    h, w = 240, 320
    frames = np.stack([shifted(textured(h, w, seed=5), 2 * t, 0) for t in range(8)])  # the camera pans
    mask = np.zeros((h, w), bool)
    mask[100:150, 120:180] = True  # 3,000 px: below own_flow_area
    runs, shared_flows = {}, {}
    for threads in (1, 2):
        session = T.ClassicSession(ArrayVideo(frames), dataclasses.replace(T.TrackerConfig(), threads=threads))
        calls = []
        between = session.flow.between
        monkeypatch.setattr(session.flow, "between", lambda *a, calls=calls, between=between: calls.append(1) or between(*a))
        session.add_prompt(0, 1, mask=mask)
        runs[threads] = dict(session.propagate(0))
        shared_flows[threads] = len(calls)
    assert all(runs[2][t][1].any() for t in runs[2])
    for t, masks in runs[1].items():
        assert np.array_equal(runs[2][t][1], masks[1]), t
    assert shared_flows[1] == 1, shared_flows  # the first tracked frame: does it move on its own?
    assert shared_flows[2] <= 2, shared_flows  # and the frame after, started ahead before it was known
