"""The SAM 2 adapter against the official sam2 API, on a real SAM 2.1 tiny with random weights.

No weights can be downloaded here, so the predictor is built from the package's own config
with ``ckpt_path=None`` and a fixed torch seed. Every scenario is run twice on the same
predictor and the same 3-frame video: once through ``vw.engines.SAM2`` (frames from our
lazy Video), once through the official calls on a JPEG folder written here. The masks must
agree (IoU >= 0.99). SEED is one whose random SAM 2 marks some but not all pixels on the
prompted and propagated frames (random weights often gate the whole mask off through the
object score), and that is asserted too, so equal masks are not two empty ones.

Two predictors, both from ``configs/sam2.1/sam2.1_hiera_t.yaml`` built as the adapter
builds its own (``HYDRA_OVERRIDES``): ``predictor`` exactly at the config's 1024-pixel input
for the equivalence the issue asks for (state, point, box, forward and backward), and
``small_predictor`` with ``++model.image_size=256`` (16x fewer tokens in every attention)
for the longer scenarios: objects added after tracking, corrections, remove, reset,
``max_frame_num_to_track`` and the Segmenter on top. On two CPU cores the first costs
seconds per frame and object, the second a fraction of one.

These tests need the ``[sam2]`` extra; they run in ``.venv-sam2`` (``make install-sam2``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("VSEG_REQUIRE_SAM2"):  # the sam2 test venv (make test-sam2): absent = failure
    import sam2.build_sam  # noqa: F401
else:
    pytest.importorskip(
        "sam2.build_sam", reason='the official sam2 package is not installed: pip install "vseg_widgets[sam2]" (make install-sam2)'
    )
import sam2  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from sam2.build_sam import build_sam2_video_predictor  # noqa: E402

import vseg_widgets as vw  # noqa: E402
from vseg_widgets.engines import sam2 as adapter  # noqa: E402
from vseg_widgets.engines.sam2 import SAM2, VideoFrames  # noqa: E402
from vseg_widgets.errors import EngineError  # noqa: E402

# Without sam2's optional CUDA extension its hole filling warns and is skipped, on both paths.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:sam2")

SEED = 0
CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
NUM_FRAMES, HEIGHT, WIDTH = 3, 96, 128
MIN_IOU = 0.99


# -- fixtures -------------------------------------------------------------------------------
def build_random_tiny(image_size: int | None = None) -> torch.nn.Module:
    """SAM 2.1 tiny from sam2's own config, built as the adapter builds it, random weights."""
    torch.manual_seed(SEED)
    overrides = adapter.HYDRA_OVERRIDES + ([f"++model.image_size={image_size}"] if image_size else [])
    return build_sam2_video_predictor(CONFIG, ckpt_path=None, device="cpu", hydra_overrides_extra=overrides)


def memoise_image_encoder(predictor) -> None:
    """Cache ``forward_image`` by the exact bytes of its input.

    The image encoder is a pure function of the image (eval mode, fixed weights) and costs
    seconds per frame on a CPU; both paths encode the same three frames many times. Keyed
    by the input's bytes, a cache hit is only ever the output the encoder would give, so
    every other part of SAM 2 (prompt encoder, decoder, memory) runs as usual.
    """
    original, cache = predictor.forward_image, {}

    def forward_image(img_batch):
        key = (tuple(img_batch.shape), str(img_batch.dtype), hashlib.sha1(img_batch.cpu().contiguous().numpy().tobytes()).digest())
        if key not in cache:
            cache[key] = original(img_batch)
        out = cache[key]
        return {k: list(v) if isinstance(v, list) else v for k, v in out.items()}  # callers copy lists; be safe

    predictor.forward_image = forward_image
    predictor.encoder_calls = cache  # for the test that checks the cache is hit as expected


@pytest.fixture(scope="module")
def predictor():
    p = build_random_tiny()
    assert p.image_size == 1024
    memoise_image_encoder(p)
    return p


@pytest.fixture(scope="module")
def small_predictor():
    p = build_random_tiny(image_size=256)
    memoise_image_encoder(p)
    return p


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(video, jpeg_folder, gt): the same 3 frames as a Video and as sam2's JPEG folder.

    The frames are written as JPEG and read back with PIL (as sam2 reads them), so both
    paths start from identical pixels and any difference is the adapter's.
    """
    synthetic, gt = vw.datasets.synthetic(num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH)
    folder = tmp_path_factory.mktemp("jpeg")
    for i in range(NUM_FRAMES):
        Image.fromarray(synthetic[i]).save(folder / f"{i:05d}.jpg", quality=95)
    frames = np.stack([np.array(Image.open(folder / f"{i:05d}.jpg").convert("RGB")) for i in range(NUM_FRAMES)])
    return vw.open_video(frames), str(folder), gt


def centroid(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.mean()), float(ys.mean())]


def bbox(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def official_masks(obj_ids, logits) -> dict[int, np.ndarray]:
    """The official notebook's reading of a predictor output: logits > 0.0 per object."""
    return {int(o): (logits[k] > 0.0).cpu().numpy()[0] for k, o in enumerate(obj_ids)}


def assert_same(ours: dict, theirs: dict, where: str) -> None:
    assert set(ours) == set(theirs), f"{where}: objects {sorted(ours)} vs official {sorted(theirs)}"
    for obj in theirs:
        assert ours[obj].shape == (HEIGHT, WIDTH) and ours[obj].dtype == bool
        score = iou(ours[obj], theirs[obj])
        assert score >= MIN_IOU, f"{where}, object {obj}: IoU {score:.4f} with the official mask"


def assert_partial(mask: np.ndarray, where: str) -> None:
    """Some but not all pixels: equal masks then say something about the plumbing."""
    assert 0 < mask.sum() < mask.size, f"{where}: mask marks {mask.sum()} of {mask.size} pixels; choose another SEED"


# -- the scenario, run through both paths once --------------------------------------------------
def scenario(p, clip, full: bool) -> dict[str, tuple[dict, dict]]:
    """{step: (ours, official)} for one sequence of calls given to both paths.

    ``full=False`` runs part 1 only (the issue's equivalence); ``full=True`` goes on.

    ours/official are {frame: {obj: mask}} (propagation) or {obj: mask} (prompts). The
    official calls run on a pristine predictor (the adapter's dtype fix is only active
    inside its own calls), so the sequence stays where sam2 works on a CPU.
    """
    video, folder, gt = clip
    session = SAM2(predictor=p).init_session(video)
    state = p.init_state(folder)
    point = np.array([centroid(gt.to_numpy(1)[1])], np.float32)
    box = np.array(bbox(gt.to_numpy(2)[1]), np.float32)
    correction = np.array([centroid(gt.to_numpy(1)[2]), [4.0, 4.0]], np.float32)
    steps: dict[str, tuple[dict, dict]] = {}

    def prompt(name, ours_call, official_call):
        ours = ours_call()
        _, ids, logits = official_call()
        steps[name] = ours, official_masks(ids, logits)

    def propagate(name, start, reverse=False, max_frames=None):
        ours = dict(session.propagate(start, reverse=reverse, max_frames=max_frames))
        theirs = {
            f: official_masks(ids, logits)
            for f, ids, logits in p.propagate_in_video(state, start_frame_idx=start, reverse=reverse, max_frame_num_to_track=max_frames)
        }
        steps[name] = ours, theirs

    # 1. A point and a box on the middle frame, then forward and backward from it.
    prompt("point", lambda: session.add_prompt(1, 1, points=point, labels=np.array([1], np.int32)),
           lambda: p.add_new_points_or_box(state, 1, 1, points=point, labels=np.array([1], np.int32)))
    prompt("box", lambda: session.add_prompt(1, 2, box=box), lambda: p.add_new_points_or_box(state, 1, 2, box=box))
    propagate("forward", 1)
    propagate("backward", 1, reverse=True)
    if not full:
        return steps
    # The walks below start where every object has a prompt at or before the start in the
    # walking direction: elsewhere sam2 itself fails on a CPU (see the test of an object
    # prompted later, which covers that case).
    # 2. An object added after tracking started, by mask, on frame 1; walks both ways.
    mask3 = np.zeros((HEIGHT, WIDTH), bool)
    mask3[10:40, 20:70] = True
    prompt("mask on a new object", lambda: session.add_prompt(1, 3, mask=mask3), lambda: p.add_new_mask(state, 1, 3, mask3))
    propagate("forward with the new object", 1)
    propagate("backward with the new object", 1, reverse=True)
    # 3. A correction (a positive and a negative click) on a tracked frame, then tracking
    #    over it again.
    labels = np.array([1, 0], np.int32)
    prompt("correction", lambda: session.add_prompt(2, 1, points=correction, labels=labels),
           lambda: p.add_new_points_or_box(state, 2, 1, points=correction, labels=labels))
    propagate("forward over the correction", 1)
    # 4. Remove object 2; a walk limited by max_frame_num_to_track=0 (the start frame only).
    session.remove_object(2)
    p.remove_object(state, 2)
    propagate("forward after remove, start frame only", 1, max_frames=0)
    # 5. Reset; a fresh point on frame 0.
    session.reset()
    p.reset_state(state)
    first = np.array([centroid(gt.to_numpy(1)[0])], np.float32)
    prompt("point after reset", lambda: session.add_prompt(0, 1, points=first, labels=np.array([1], np.int32)),
           lambda: p.add_new_points_or_box(state, 0, 1, points=first, labels=np.array([1], np.int32)))
    propagate("forward after reset", 0)
    return steps


@pytest.fixture(scope="module")
def runs(predictor, clip):
    """The issue's equivalence on the 1024-pixel SAM 2.1 tiny."""
    return scenario(predictor, clip, full=False)


@pytest.fixture(scope="module")
def later_runs(small_predictor, clip):
    """The whole scenario on the 256-pixel one."""
    return scenario(small_predictor, clip, full=True)


# -- the state ------------------------------------------------------------------------------
def test_state_matches_official_init_state(predictor, clip):
    video, folder, _ = clip
    ours = SAM2(predictor=predictor).init_session(video).state
    theirs = predictor.init_state(folder)
    assert set(ours) == set(theirs)
    for key in ("num_frames", "video_height", "video_width", "offload_video_to_cpu", "offload_state_to_cpu", "device", "storage_device"):
        assert ours[key] == theirs[key], key
    assert (ours["video_height"], ours["video_width"]) == (HEIGHT, WIDTH)
    images = ours["images"]
    assert isinstance(images, VideoFrames) and len(images) == len(theirs["images"]) == NUM_FRAMES
    for i in range(NUM_FRAMES):
        assert images[i].shape == (3, predictor.image_size, predictor.image_size) and images[i].dtype == torch.float32
        assert torch.equal(images[i], theirs["images"][i]), f"frame {i} is preprocessed differently from sam2's loader"
    assert len(images._cache) == 2  # lazy: only the most recent preprocessed frames are kept


def test_offload_options_reach_the_state(small_predictor, clip):
    video = clip[0]
    state = SAM2(predictor=small_predictor, offload_video_to_cpu=True, offload_state_to_cpu=True).init_session(video).state
    assert state["offload_video_to_cpu"] and state["offload_state_to_cpu"]
    assert state["storage_device"] == torch.device("cpu")
    assert state["images"][0].device == torch.device("cpu")


# -- equivalence with the official API -----------------------------------------------------
def test_point_prompt_matches_official(runs):
    ours, theirs = runs["point"]
    assert_same(ours, theirs, "point on frame 1")
    assert_partial(ours[1], "point on frame 1")


def test_box_prompt_matches_official(runs):
    ours, theirs = runs["box"]
    assert_same(ours, theirs, "box on frame 1")  # objects 1 and 2: both are known on frame 1
    assert_partial(ours[2], "box on frame 1")


@pytest.mark.parametrize("step, frames", [("forward", [1, 2]), ("backward", [1, 0])])
def test_propagation_matches_official(runs, step, frames):
    ours, theirs = runs[step]
    assert list(ours) == list(theirs) == frames  # same frames, in walking order
    for frame in frames:
        assert_same(ours[frame], theirs[frame], f"{step}, frame {frame}")
        for obj, mask in ours[frame].items():
            assert_partial(mask, f"{step}, frame {frame}, object {obj}")


LATER_STEPS = [
    "mask on a new object",
    "forward with the new object",
    "backward with the new object",
    "correction",
    "forward over the correction",
    "forward after remove, start frame only",
    "point after reset",
    "forward after reset",
]


@pytest.mark.parametrize("step", LATER_STEPS)
def test_later_steps_match_official(later_runs, step):
    ours, theirs = later_runs[step]
    if not step.startswith(("forward", "backward")):  # a prompt: {obj: mask}
        assert_same(ours, theirs, step)
        return
    assert list(ours) == list(theirs), step
    for frame in theirs:
        assert_same(ours[frame], theirs[frame], f"{step}, frame {frame}")
    assert any(m.any() for masks in ours.values() for m in masks.values()), f"{step}: every mask is empty"


def test_walks_cover_the_expected_frames_and_objects(later_runs):
    def objects(step):
        return {f: sorted(m) for f, m in later_runs[step][0].items()}

    assert sorted(later_runs["mask on a new object"][0]) == [1, 2, 3]
    assert objects("forward with the new object") == {1: [1, 2, 3], 2: [1, 2, 3]}
    assert objects("backward with the new object") == {1: [1, 2, 3], 0: [1, 2, 3]}
    assert objects("forward after remove, start frame only") == {1: [1, 3]}
    assert objects("forward after reset") == {0: [1], 1: [1], 2: [1]}


def test_correction_sticks_through_propagation(later_runs):
    """With HYDRA_OVERRIDES a corrected frame is a conditioning frame: tracking keeps it."""
    corrected = later_runs["correction"][0][1]
    assert_partial(corrected, "correction on frame 2")
    tracked_before = later_runs["forward with the new object"][0][2][1]
    assert not np.array_equal(corrected, tracked_before)  # the clicks did change the mask
    assert np.array_equal(later_runs["forward over the correction"][0][2][1], corrected)


def test_object_prompted_later_appears_once_tracking_reaches_it(small_predictor, clip):
    """Forward from frame 0 with object 2 first prompted on frame 2.

    SAM 2 computes object 2 on frames 0 and 1 too (from the memory of its later prompt);
    the protocol shows an object from a frame where it is known on. On a CPU, sam2 itself
    fails on this walk (bfloat16 memory into float32 attention, sam2 issue #308) unless the
    adapter's dtype fix is active, so the official reference runs inside that fix.
    """
    video, folder, gt = clip
    p = small_predictor
    engine = SAM2(predictor=p)
    session = engine.init_session(video)
    point = np.array([centroid(gt.to_numpy(1)[0])], np.float32)
    box = np.array(bbox(gt.to_numpy(2)[2]), np.float32)
    session.add_prompt(0, 1, points=point, labels=np.array([1], np.int32))
    session.add_prompt(2, 2, box=box)
    ours = dict(session.propagate(0))

    def official_walk():
        state = p.init_state(folder)
        p.add_new_points_or_box(state, 0, 1, points=point, labels=np.array([1], np.int32))
        p.add_new_points_or_box(state, 2, 2, box=box)
        return {f: official_masks(ids, logits) for f, ids, logits in p.propagate_in_video(state, start_frame_idx=0)}

    try:
        official_walk()
    except RuntimeError as exc:  # the upstream bug the fix is for; gone upstream -> fine too
        assert "same dtype" in str(exc) and next(p.parameters()).device.type == "cpu"
    with engine.context():
        theirs = official_walk()
    assert {f: sorted(m) for f, m in ours.items()} == {0: [1], 1: [1], 2: [1, 2]}
    assert sorted(theirs[0]) == [1, 2]  # sam2's output does hold it: the filter is the adapter's
    for frame in (0, 1, 2):
        expected = {o: m for o, m in theirs[frame].items() if o in ours[frame]}
        assert_same(ours[frame], expected, f"frame {frame}")
    assert_partial(ours[2][2], "object 2 on frame 2")


def test_image_encoder_ran_once_per_frame(predictor, small_predictor, runs, later_runs):
    """Both paths fed the encoder bit-identical frames (otherwise the cache would hold more)."""
    assert len(predictor.encoder_calls) == len(small_predictor.encoder_calls) == NUM_FRAMES


# -- the Segmenter on top ------------------------------------------------------------------
def test_segmenter_with_sam2_matches_official_both_directions(small_predictor, clip, later_runs):
    video, _, gt = clip
    seg = vw.Segmenter(video, engine=SAM2(predictor=small_predictor))
    seg.add_points(1, 1, [centroid(gt.to_numpy(1)[1])])
    seg.add_box(1, 2, bbox(gt.to_numpy(2)[1]))
    report = seg.propagate("both", progress=False)
    assert report.frames == 4 and not report.cancelled  # forward 1, 2; backward 1, 0
    forward, backward = later_runs["forward"][1], later_runs["backward"][1]  # same prompts, official
    expected = {0: backward[0], 1: forward[1], 2: forward[2]}  # "both" keeps the forward pass's frame 1
    for frame, masks in expected.items():
        assert_same(seg.masks[frame], masks, f"Segmenter, frame {frame}")
        for obj, mask in masks.items():
            assert_partial(mask, f"Segmenter, frame {frame}, object {obj}")
    assert seg.engine_name == "sam2"


# -- construction, devices, errors ---------------------------------------------------------
def test_auto_device_is_reported(capsys):
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert adapter.pick_device("auto").type == expected
    assert f"SAM 2 engine on {expected} (auto" in capsys.readouterr().out
    assert adapter.pick_device("cpu", verbose=False).type == "cpu"
    assert capsys.readouterr().out == ""


def test_local_checkpoint_loads_into_the_official_builder(predictor, clip, tmp_path, capsys):
    """SAM2(model=..., checkpoint=path) gives the same network as the one saved there."""
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": build_random_tiny().state_dict()}, path)
    engine = SAM2(model="tiny", checkpoint=path, device="auto")
    assert engine.device.type == adapter.pick_device("auto", verbose=False).type
    assert "SAM 2 engine on" in capsys.readouterr().out
    loaded = engine.predictor.state_dict()
    reference = predictor.state_dict()
    assert loaded.keys() == reference.keys()
    assert all(torch.equal(loaded[k].cpu(), reference[k]) for k in reference)
    assert engine.predictor.add_all_frames_to_correct_as_cond  # HYDRA_OVERRIDES reached the builder
    with pytest.raises(EngineError, match="does not load into"):
        SAM2(model="small", checkpoint=path, device="cpu", verbose=False)  # weights of another size


def test_missing_checkpoint_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SAM 2 checkpoint at .*sam2.1_hiera_tiny.pt"):
        SAM2(model="tiny", checkpoint=tmp_path / "missing.pt", device="cpu", verbose=False)


def test_offline_without_checkpoint_says_how_to_pass_one(monkeypatch):
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    def offline(model_id, **kwargs):
        raise OSError(f"cannot reach the hub for {model_id}")

    monkeypatch.setattr(SAM2VideoPredictor, "from_pretrained", classmethod(lambda cls, *a, **k: offline(*a, **k)))
    with pytest.raises(EngineError) as info:
        SAM2(model="base_plus", device="cpu", verbose=False)
    message = str(info.value)
    assert "facebook/sam2.1-hiera-base-plus" in message and "cannot reach the hub" in message
    assert 'checkpoint="path/to/sam2.1_hiera_base_plus.pt"' in message
    with pytest.raises(EngineError, match="checkpoint="):  # the name route too: engine="sam2"
        vw.Segmenter(np.zeros((2, 32, 32, 3), np.uint8), engine="sam2")


def test_model_names_and_config_paths():
    package = Path(sam2.__path__[0])
    assert adapter._config_name("large") == "configs/sam2.1/sam2.1_hiera_l.yaml"
    assert adapter._config_name("configs/sam2.1/sam2.1_hiera_s.yaml") == "configs/sam2.1/sam2.1_hiera_s.yaml"
    assert adapter._config_name(str(package / "configs/sam2.1/sam2.1_hiera_b+.yaml")) == "configs/sam2.1/sam2.1_hiera_b+.yaml"
    with pytest.raises(ValueError, match="neither a SAM 2.1 size"):
        SAM2(model="huge", checkpoint="x.pt", device="cpu", verbose=False)


def test_not_a_predictor_is_refused():
    with pytest.raises(TypeError, match="SAM2VideoPredictor"):
        SAM2(predictor=object())
