"""Drawing faces on images for display."""

from __future__ import annotations

import numpy as np

from emotion.detector import Face
from emotion.draw import annotate


def face(box) -> Face:
    return Face(box, "happy", {"happy": 0.9, "sad": 0.1})


def test_large_photos_shrink_and_thumbnails_grow_sharp_for_display():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    assert annotate(big, [face((100, 100, 800, 800))], max_side=1600, min_side=320).shape == (1200, 1600, 3)
    thumb = rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)
    shown = annotate(thumb, [face((0, 0, 40, 48))], max_side=1600, min_side=320)
    assert shown.shape == (288, 240, 3)  # six times: whole steps, each pixel a sharp 6x6 block
    sharp = np.repeat(np.repeat(thumb, 6, axis=0), 6, axis=1)
    np.testing.assert_array_equal(shown[120:270, 12:228], sharp[120:270, 12:228])  # below the label, inside the box


def test_an_unsure_face_is_drawn_grey_with_a_question_mark():
    from emotion.draw import GREY

    image = np.zeros((300, 300, 3), np.uint8)
    sure = annotate(image, [face((50, 80, 200, 200))])
    unsure = annotate(image, [Face((50, 80, 200, 200), "happy", {"happy": 0.3, "sad": 0.25}, unsure=True)])
    assert (unsure[180, 50] == GREY).all() and not (sure[180, 50] == GREY).all()  # the box's left edge
    assert (unsure[:80] != sure[:80]).any()  # the label above it: "happy? 30%", not "happy 90%"
