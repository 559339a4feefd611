"""The bar under which a shipped model calls a face unsure, chosen on val."""

from __future__ import annotations

import numpy as np

from training import unsure


def test_the_bar_is_the_highest_under_which_labels_are_mostly_wrong():
    """A calibrated model: a face with top probability p is right with probability p, so the faces in the band just
    under 50% are right less than half the time and those in the band just under 55% more than half: the bar is 0.50,
    although all the faces under 55% (from 0.34 up) are, together, right less than half the time."""
    rng = np.random.default_rng(0)
    top = rng.uniform(0.34, 1.0, 200_000)
    probs = np.stack([top, (1 - top) / 2, (1 - top) / 2], axis=1)
    y = np.where(rng.uniform(size=top.size) < top, 0, rng.integers(1, 3, top.size))
    rows = unsure.sweep({"val": (probs, y)})
    chosen = unsure.choose(rows)
    assert chosen["bar"] == 0.5
    assert chosen["accuracy_band"] < 0.5 < chosen["accuracy_over"]
    assert next(r for r in rows if r["bar"] == 0.55)["accuracy_under"] < 0.5  # the cumulative rule would go higher
    assert "**50%**" in unsure.text(rows, chosen)


def test_a_model_right_on_every_face_is_never_unsure_below_the_lowest_bar():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    rows = unsure.sweep({"a": (probs, np.array([0, 1, 1])), "b": (probs, np.array([0, 1, 1]))})
    assert unsure.choose(rows)["bar"] == unsure.CANDIDATES[0]
