"""Priors: a detector can assume how common each emotion is among its faces (emotion.prior)."""

from __future__ import annotations

import numpy as np
import pytest

from emotion import EmotionDetector
from emotion.cli import main
from emotion.detector import DEFAULT_MODEL
from emotion.modelfile import read_meta
from emotion.preprocess import to_batch


@pytest.fixture(scope="module")
def shipped():
    """The shipped photo model, single pass, on its default prior."""
    return EmotionDetector.load(finder="live", tta=False)


def test_the_shipped_model_states_its_priors(shipped):
    meta = read_meta(DEFAULT_MODEL)
    train = meta["train_prior"]
    assert abs(sum(train.values()) - 1) < 1e-6 and max(train, key=train.get) == "happy"
    assert min(train, key=train.get) == "disgust"
    assert shipped.prior == pytest.approx({k: v / sum(meta["default_prior"].values())
                                           for k, v in meta["default_prior"].items()})


def test_assuming_another_prior_reweighs_by_bayes_rule(shipped, fer_faces):
    """Under prior q instead of the training shares t, p'(k) is p(k) * q(k) / t(k), renormalized: the ratio p'/p
    across emotions is proportional to q / t for every face."""
    faces = to_batch([f for fs in fer_faces.values() for f in fs])
    train, balanced = shipped.variant(prior="training"), shipped.variant(prior="balanced")
    t = np.array([train.prior[k] for k in shipped.labels])
    ratio = balanced.probabilities(faces) / train.probabilities(faces)
    expected = (1 / len(t)) / t
    np.testing.assert_allclose(ratio / ratio[:, :1], np.broadcast_to(expected / expected[0], ratio.shape), rtol=1e-4)
    assert train.prior["happy"] > balanced.prior["happy"] and train.prior["disgust"] < balanced.prior["disgust"]


def test_balanced_prior_finds_rare_emotions_more_often(shipped, fer_faces):
    """On real val faces (5 per emotion, as many as a user's mixed photos might hold), assuming equal shares labels
    more faces as disgust than assuming FER2013's, where disgust is 1.5% of faces."""
    faces = to_batch([f for fs in fer_faces.values() for f in fs])
    disgust = shipped.labels.index("disgust")
    counts = {p: int((shipped.variant(prior=p).probabilities(faces).argmax(1) == disgust).sum())
              for p in ("training", "balanced")}
    assert counts["balanced"] > counts["training"]


def test_a_prior_for_every_emotion_by_name(shipped):
    text = ",".join(f"{k}={2 if k == 'happy' else 1}" for k in shipped.labels)
    prior = shipped.variant(prior=text).prior
    assert prior["happy"] == pytest.approx(2 * prior["sad"]) and sum(prior.values()) == pytest.approx(1)


@pytest.mark.parametrize("prior", ["happy=1", "joyful=1,angry=1", "angry=-1,disgust=1,fear=1,happy=1,sad=1,"
                                   "surprise=1,neutral=1", "angry=x,disgust=1,fear=1,happy=1,sad=1,surprise=1,neutral=1",
                                   "uniform"])
def test_a_bad_prior_is_one_clear_error(prior, tmp_path, capsys):
    photo = tmp_path / "x.png"
    photo.write_bytes(b"")  # never read: the prior fails first
    assert main(["predict", str(photo), "--finder", "live", "--prior", prior]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "prior" in err and "Traceback" not in err
