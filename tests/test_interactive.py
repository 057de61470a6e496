"""Click prompts of the classic engine on synthetic images with a known answer."""

import numpy as np

from vseg_widgets.engines.classic.click_geodesic import geodesic_distance, step_costs
from vseg_widgets.engines.classic.interactive import segment_prompt


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def scene():
    """(240, 320, 3) uint8 textured gray background with a small red square and a big blue disk."""
    rng = np.random.default_rng(0)
    image = (110 + rng.normal(0, 8, (240, 320, 3))).clip(0, 255).astype(np.uint8)
    small = np.zeros((240, 320), bool)
    small[100:124, 60:84] = True  # 24 px: far smaller than the first click's reach
    yy, xx = np.mgrid[:240, :320]
    big = (yy - 120) ** 2 + (xx - 220) ** 2 < 60**2
    image[small] = (200, 40, 40)
    image[big] = (40, 60, 200)
    return image, small, big


def test_one_click_on_a_small_object_gives_it():
    image, small, _ = scene()
    mask = segment_prompt(image, np.array([[72, 112]], np.float32), np.array([1]))
    assert iou(mask, small) > 0.85


def test_negative_click_removes_the_region_it_lands_in():
    image, small, big = scene()
    both = small | big
    mask = segment_prompt(image, np.array([[72, 112], [220, 120]], np.float32), np.array([1, 0]), previous=both)
    assert mask[small].mean() > 0.9
    assert mask[big].mean() < 0.1


def test_positive_click_adds_a_part_and_keeps_the_rest():
    image, small, big = scene()
    mask = segment_prompt(image, np.array([[72, 112], [220, 120]], np.float32), np.array([1, 1]), previous=small)
    assert iou(mask, small | big) > 0.85


def test_clicks_stay_on_their_side_and_prompts_are_deterministic():
    image, small, big = scene()
    points = np.array([[72, 112], [220, 120], [100, 200]], np.float32)
    labels = np.array([1, 1, 0])
    masks = [segment_prompt(image, points, labels) for _ in range(3)]
    assert all(np.array_equal(m, masks[0]) for m in masks[1:])
    assert masks[0][112, 72] and masks[0][120, 220] and not masks[0][200, 100]
    assert masks[0].shape == (240, 320) and masks[0].dtype == bool


def test_geodesic_distance_stops_at_edges():
    image, small, _ = scene()
    seeds = np.zeros(small.shape, bool)
    seeds[112, 72] = True
    dist = geodesic_distance(seeds, *step_costs(image, 1.0))
    assert dist[112, 72] == 0
    assert dist[104:120, 64:80].max() < 40  # inside the square: about the Manhattan distance
    assert dist[112, 90] > 100  # just outside it, behind the red/gray edge
