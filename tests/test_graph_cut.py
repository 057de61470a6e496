"""GrabCut's cut made again with an extra cue (engines/classic/graph_cut.py)."""

import cv2
import numpy as np

from vseg_widgets.engines.classic.graph_cut import gmm_cost, learn, recut


def two_squares():
    """(120, 160, 3) uint8: a noisy gray background with two identical noisy red squares,
    and their (120, 160) bool masks (left, right)."""
    rng = np.random.default_rng(1)
    image = (120 + rng.normal(0, 6, (120, 160, 3))).clip(0, 255)
    left, right = np.zeros((120, 160), bool), np.zeros((120, 160), bool)
    left[40:80, 20:60] = True
    right[40:80, 100:140] = True
    image[left | right] = (200, 40, 40) + rng.normal(0, 6, ((left | right).sum(), 3))
    return image.clip(0, 255).astype(np.uint8), left, right


def fitted(image, seed):
    """GrabCut's labels and colour models after its own cut."""
    seed = seed.copy()
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    cv2.grabCut(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), seed, None, bgd, fgd, 2, cv2.GC_INIT_WITH_MASK)
    return seed, bgd, fgd


def test_colour_costs_favour_the_model_fitted_on_those_colours():
    image, left, right = two_squares()
    seed = np.full(left.shape, cv2.GC_PR_BGD, np.uint8)
    seed[left | right] = cv2.GC_PR_FGD
    _, bgd, fgd = fitted(image, seed)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR).astype(np.float64)
    object_cost, background_cost = gmm_cost(bgr, fgd), gmm_cost(bgr, bgd)
    assert object_cost.shape == left.shape and object_cost.dtype == np.float64
    assert (object_cost[left] < background_cost[left]).mean() > 0.99
    assert (background_cost[~(left | right)] < object_cost[~(left | right)]).mean() > 0.99


def test_without_a_cue_the_cut_is_grabcuts():
    image, left, right = two_squares()
    seed = np.full(left.shape, cv2.GC_PR_BGD, np.uint8)
    seed[30:90, 10:150] = cv2.GC_PR_FGD
    seed[60, 40] = cv2.GC_FGD
    labels, bgd, fgd = fitted(image, seed)
    grabcut = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    recut(image, labels, bgd, fgd, np.zeros(left.shape, np.float32))
    ours = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    assert (ours != grabcut).mean() < 0.005
    assert (ours & (left | right)).sum() / (ours | left | right).sum() > 0.95


def test_a_cue_decides_where_colour_cannot_and_seeds_hold():
    # A red stripe that is certainly background teaches the background model red too: the
    # squares' colour then says little, and the cue (how they move) decides.
    image, left, right = two_squares()
    image[100:, :] = np.tile(image[40:60, 20:60], (1, 4, 1))  # the squares' own reds
    seed = np.full(left.shape, cv2.GC_PR_BGD, np.uint8)
    seed[30:90, 10:150] = cv2.GC_PR_FGD
    seed[100:, :] = cv2.GC_BGD
    seed[60, 40] = cv2.GC_FGD
    seed[60, 120] = cv2.GC_BGD
    labels, bgd, fgd = fitted(image, seed)
    cue = np.zeros(left.shape, np.float32)
    cue[left], cue[right] = 2.0, -2.0
    cue[60, 120] = 1000.0  # a hard seed wins over any cue
    recut(image, labels, bgd, fgd, cue)
    mask = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    assert mask[left].mean() > 0.95
    assert mask[right].mean() < 0.05
    assert labels[60, 120] == cv2.GC_BGD and labels[60, 40] == cv2.GC_FGD

    flipped = fitted(image, seed)
    recut(image, flipped[0], flipped[1], flipped[2], -cue)
    mask = np.isin(flipped[0], (cv2.GC_FGD, cv2.GC_PR_FGD))
    assert mask[right].mean() > 0.95 and mask[left].mean() < 0.05


def test_learning_step_is_opencvs():
    # GrabCut's second iteration learns its models from the first iteration's labels:
    # graph_cut.learn must give the same models, so that recut continues GrabCut exactly.
    image, left, right = two_squares()
    seed = np.full(left.shape, cv2.GC_PR_BGD, np.uint8)
    seed[30:90, 10:150] = cv2.GC_PR_FGD
    seed[60, 40] = cv2.GC_FGD
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    cv2.grabCut(bgr, seed, None, bgd, fgd, 1, cv2.GC_INIT_WITH_MASK)
    on_object = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).ravel()
    pixels = bgr.reshape(-1, 3).astype(np.float64)
    ours = learn(pixels[on_object], fgd), learn(pixels[~on_object], bgd)
    cv2.grabCut(bgr, seed, None, bgd, fgd, 1, cv2.GC_EVAL)
    np.testing.assert_allclose(ours[0], fgd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours[1], bgd, rtol=1e-6, atol=1e-6)
