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


def test_opposite_clicks_close_together_both_stay_on_their_side():
    from vseg_widgets.engines.classic.interactive import _dot_radii, _enforce_clicks

    # The standard clicker ends up clicking on both sides of an edge a few pixels apart:
    # each click's dot must stop short of the other, or every click undoes the last.
    xy = np.array([[100, 50], [106, 50], [30, 30]])
    labels = np.array([1, 0, 1])
    mask = _enforce_clicks(np.zeros((120, 160), bool), xy, labels, dot=7)
    assert mask[50, 100] and not mask[50, 106]
    assert mask[30, 30 + 7] and not mask[30, 30 + 8]  # a click far from the others: a full dot
    assert list(_dot_radii(xy, labels, 7)) == [2, 2, 7]


def test_geodesic_distance_stops_at_edges():
    image, small, _ = scene()
    seeds = np.zeros(small.shape, bool)
    seeds[112, 72] = True
    dist = geodesic_distance(seeds, *step_costs(image, 1.0))
    assert dist[112, 72] == 0
    assert dist[104:120, 64:80].max() < 40  # inside the square: about the Manhattan distance
    assert dist[112, 90] > 100  # just outside it, behind the red/gray edge


def two_tone_object_moving(shift: int = 6):
    """Two (240, 360, 3) uint8 frames: a textured object, red on its left and green on its
    right, moves ``shift`` px right over a still textured gray background; and the first
    frame's (240, 360) bool masks of the whole object and of its red part."""
    import cv2

    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur((110 + rng.normal(0, 12, (240, 360, 3))).clip(0, 255).astype(np.uint8), (0, 0), 1.5)
    texture = cv2.GaussianBlur(rng.normal(0, 14, (80, 140)).astype(np.float32), (0, 0), 1.5)[..., None]
    frames = []
    for t in range(2):
        image = background.astype(np.float32)
        x0 = 110 + shift * t
        image[80:160, x0 : x0 + 50] = (200, 50, 50)
        image[80:160, x0 + 50 : x0 + 140] = (60, 170, 60)
        image[80:160, x0 : x0 + 140] += texture
        frames.append(image.clip(0, 255).astype(np.uint8))
    whole, red = np.zeros((240, 360), bool), np.zeros((240, 360), bool)
    whole[80:160, 110:250] = True
    red[80:160, 110:160] = True
    return frames, whole, red


def test_independent_motion_is_the_objects_own_motion():
    from vseg_widgets.engines.classic.moving import independent_motion

    (first, second), whole, _ = two_tone_object_moving(shift=6)
    motion = independent_motion(first, second)
    assert motion.shape == whole.shape and motion.dtype == np.float32
    inner = np.zeros_like(whole)
    inner[90:150, 120:240] = True  # away from the edges, where the flow blurs
    assert 4.5 < np.median(motion[inner]) < 7.5
    assert np.median(motion[~whole]) < 0.5


def test_first_click_in_a_video_takes_what_moves_with_it():
    # Colour alone takes the red part the click is on; that the green part moves with it
    # says it belongs to the same object.
    (first, second), whole, red = two_tone_object_moving()
    click, label = np.array([[135, 120]], np.float32), np.array([1])
    assert iou(segment_prompt(first, click, label), red) > 0.9

    from vseg_widgets.engines.classic.moving import independent_motion

    assert iou(segment_prompt(first, click, label, motion=independent_motion(first, second)), whole) > 0.9


def test_session_clicks_use_the_next_frame():
    from vseg_widgets.engines.classic import ClassicEngine
    from vseg_widgets.video import ArrayVideo

    frames, whole, _ = two_tone_object_moving()
    session = ClassicEngine().init_session(ArrayVideo(np.stack(frames)))
    masks = session.add_prompt(0, 1, points=np.array([[135, 120]], np.float32), labels=np.array([1]))
    assert iou(masks[1], whole) > 0.9


def test_clicks_on_a_still_object_do_not_depend_on_motion():
    # Nothing moves: the motion map says nothing, and the cut is the still-image one.
    image, small, _ = scene()
    click, label = np.array([[72, 112]], np.float32), np.array([1])
    still = np.zeros(small.shape, np.float32)
    assert np.array_equal(segment_prompt(image, click, label, motion=still), segment_prompt(image, click, label))


def test_a_one_frame_video_is_clicked_like_an_image():
    # No neighbour frame, no motion: the still-image cut.
    from vseg_widgets.engines.classic import ClassicEngine
    from vseg_widgets.video import ArrayVideo

    image, small, _ = scene()
    session = ClassicEngine().init_session(ArrayVideo(image[None]))
    click, label = np.array([[72, 112]], np.float32), np.array([1])
    masks = session.add_prompt(0, 1, points=click, labels=label)
    assert np.array_equal(masks[1], segment_prompt(image, click, label))
