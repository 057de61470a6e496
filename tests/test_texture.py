"""The colour-and-texture pixel classifier of the classic engine (engines/classic/texture.py)."""

import subprocess
import sys

import numpy as np

import vseg_widgets as vw
from vseg_widgets.engines.classic import ClassicEngine
from vseg_widgets.engines.classic.appearance import ColourModel, colour_index
from vseg_widgets.engines.classic.local import lab_float
from vseg_widgets.engines.classic.texture import CHANNELS, PixelClassifier, features


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative."""
    ranks = np.concatenate([positive, negative]).argsort().argsort() + 1
    return (ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative))


def same_colours_other_texture(seed: int):
    """(120, 160, 3) uint8: a disk of fine grey speckle on a background of the same greys in
    coarse patches (same colour histogram, other texture); and the disk's (H, W) bool mask."""
    rng = np.random.default_rng(seed)
    greys = np.array([90, 160], np.uint8)
    fine = greys[rng.integers(0, 2, (120, 160))]
    coarse = np.kron(greys[rng.integers(0, 2, (12, 16))], np.ones((10, 10), np.uint8))
    yy, xx = np.mgrid[:120, :160]
    disk = (yy - 60) ** 2 + (xx - 80) ** 2 < 35**2
    gray = np.where(disk, fine, coarse)
    return np.repeat(gray[..., None], 3, -1), disk


def test_features_have_the_documented_shape():
    image, _ = same_colours_other_texture(0)
    feats = features(lab_float(image.astype(np.float32) / 255))
    assert feats.shape == (CHANNELS, 120, 160) and feats.dtype == np.float32


def test_classifier_tells_apart_what_colours_cannot():
    image, disk = same_colours_other_texture(0)
    later, later_disk = same_colours_other_texture(1)  # a new draw: the texture, not the pixels, is learned
    background = ~disk
    classifier = PixelClassifier()
    classifier.fit(lab_float(image.astype(np.float32) / 255), disk, background)
    everywhere = np.ones(disk.shape, bool)
    z = classifier.logit(lab_float(later.astype(np.float32) / 255), everywhere)
    assert auc(z[later_disk], z[~later_disk]) > 0.95
    # The colour histograms, by design, cannot.
    colours = ColourModel()
    colours.add_keyframe(colour_index(image), disk, 10)
    p = colours.posterior(colour_index(later))
    assert auc(p[later_disk], p[~later_disk]) < 0.7


def test_classifier_scores_only_where_asked_and_is_deterministic():
    image, disk = same_colours_other_texture(0)
    lab = lab_float(image.astype(np.float32) / 255)
    a, b = PixelClassifier(), PixelClassifier()
    a.fit(lab, disk, ~disk)
    b.fit(lab, disk, ~disk)
    where = np.zeros(disk.shape, bool)
    where[40:80, 10:150] = True
    za, zb = a.logit(lab, where), b.logit(lab, where)
    assert np.array_equal(za, zb)
    assert np.all(za[~where] == 0) and np.any(za[where] != 0)


def test_session_learns_once_per_prompt():
    video, gt = vw.datasets.synthetic()
    session = ClassicEngine().init_session(video)
    session.add_prompt(0, 1, mask=gt.get(0, 1))
    first = session._new_track(1, 0).classifier
    assert first is not None and first.ready
    assert session._new_track(1, 5).classifier is first  # re-propagating: the same model
    lower_half = gt.get(0, 1).copy()
    lower_half[: int(np.nonzero(lower_half)[0].mean())] = False
    session.add_prompt(0, 1, mask=lower_half)
    assert session._new_track(1, 0).classifier is not first  # a changed prompt: learned again
    session.remove_object(1)
    assert not session._classifiers


def test_learning_leaves_the_notebooks_torch_random_state_alone():
    import torch

    image, disk = same_colours_other_texture(0)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    PixelClassifier().fit(lab_float(image.astype(np.float32) / 255), disk, ~disk)
    assert torch.equal(torch.rand(3), expected)


def test_learning_leaves_the_notebooks_torch_thread_count_alone():
    import torch

    image, disk = same_colours_other_texture(0)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        PixelClassifier().fit(lab_float(image.astype(np.float32) / 255), disk, ~disk)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_opening_a_video_loads_torch_in_the_background():
    # In a fresh interpreter: importing the package leaves torch out (it is heavy), and
    # opening a video with the classic engine loads it on a background thread, so that the
    # first propagation does not wait ~1.5 s for it.
    code = """
import sys
import vseg_widgets as vw
from vseg_widgets.engines.classic import ClassicEngine, texture
assert "torch" not in sys.modules, "importing vseg_widgets imported torch"
video, _ = vw.datasets.synthetic()
ClassicEngine().init_session(video)
assert texture._warm_up is not None and texture._warm_up.daemon
texture._warm_up.join(120)
assert "torch._dynamo" in sys.modules, "the optimiser's machinery was not loaded"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
