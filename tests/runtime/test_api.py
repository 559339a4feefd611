"""The public API: EmotionDetector.load / detect / classify, label order, batching, parity."""

from __future__ import annotations

import numpy as np
import pytest

import emotion.detector
from emotion import EmotionDetector, read_image
from emotion.faces import iou
from emotion.inference import tta_views
from emotion.labels import FER2013_LABELS
from emotion.detector import DEFAULT_MODEL
from emotion.modelfile import load_model, read_meta, save_model
from training.architectures import build_logits_model, calibrated_model
from training.data import load_folder
from synthetic.scenes import make_scene


def test_detect_labels_every_face(detector, fer_faces):
    scene, truth = make_scene([fer_faces["happy"][0], fer_faces["sad"][0], fer_faces["surprise"][1]], [160, 120, 90], seed=2)
    faces = detector.detect(scene)
    assert len(faces) == 3
    for face in faces:
        assert all(isinstance(v, int) for v in face.box)
        assert max(iou(face.box, t) for t in truth) > 0.5
        assert set(face.scores) == set(FER2013_LABELS)
        assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-6)
        assert face.emotion == max(face.scores, key=face.scores.get)


def test_no_face_is_empty_list(detector):
    assert detector.detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_grayscale_and_bgra_images_accepted(detector, fer_faces):
    scene, _ = make_scene([fer_faces["happy"][0]], [160], seed=4)
    gray = scene[:, :, 1].copy()
    bgra = np.dstack([scene, np.full(scene.shape[:2], 255, np.uint8)])
    assert len(detector.detect(gray)) == len(detector.detect(bgra)) == 1


def test_bad_array_gives_clear_error(detector):
    with pytest.raises(ValueError, match="expected an HxWx3 uint8 BGR image"):
        detector.detect(np.zeros((10, 10, 3), np.float32))


def test_classify_gray_and_bgr_crops_agree(detector, fer_faces):
    gray = fer_faces["happy"][:3]
    bgr = [np.dstack([g, g, g]) for g in gray]
    a, b = detector.classify(gray), detector.classify(bgr)
    for sa, sb in zip(a, b):
        assert sa == pytest.approx(sb, abs=1e-6)


def test_all_faces_classified_in_one_model_call(detector, fer_faces, monkeypatch):
    calls = []
    real = emotion.detector.run_model
    monkeypatch.setattr(emotion.detector, "run_model", lambda m, b, **kw: calls.append(len(b)) or real(m, b, **kw))
    scene, _ = make_scene(fer_faces["happy"][:4], [140, 120, 100, 90], shape=(600, 800), seed=5)
    faces = detector.detect(scene)
    assert calls == [len(faces)] and len(faces) == 4


def test_training_and_inference_tensors_identical(detector, tiny_dataset, monkeypatch):
    """The loader used by training and EmotionDetector.classify feed the model the same tensor."""
    train = load_folder(tiny_dataset / "val", progress=False)
    seen = []
    real = emotion.detector.run_model
    monkeypatch.setattr(emotion.detector, "run_model", lambda m, b, **kw: seen.append(b.copy()) or real(m, b, **kw))
    detector.classify([read_image(p) for p in train.paths[:10]])
    np.testing.assert_array_equal(seen[0], train.x[:10][..., None])


def test_label_order_is_read_from_the_model_file(tmp_path, fer_faces):
    """A model trained with another label order reports its own labels, not FER2013's order."""
    base = build_logits_model("tiny", 3)
    weights = base.get_weights()
    weights[-1] = np.array([0.0, 9.0, 0.0], np.float32)  # output bias: always the 2nd class
    weights[-2] = np.zeros_like(weights[-2])
    base.set_weights(weights)
    path = tmp_path / "three.keras"
    save_model(calibrated_model(base), path, ("surprise", "happy", "angry"))
    _, meta = load_model(path)
    assert meta["labels"] == ["surprise", "happy", "angry"]
    det = EmotionDetector.load(path, finder="live")
    (scores,) = det.classify([fer_faces["sad"][0]])
    assert list(scores) == ["surprise", "happy", "angry"]
    assert max(scores, key=scores.get) == "happy"


def test_model_file_without_labels_refused(tmp_path):
    path = tmp_path / "plain.keras"
    build_logits_model("tiny", 7).save(path)
    with pytest.raises(ValueError, match="no label order stored"):
        EmotionDetector.load(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        EmotionDetector.load(tmp_path / "none.keras")


def test_variant_shares_the_model_and_switches_finder_and_tta(detector, fer_faces):
    from emotion.faces import LiveFinder

    fast = detector.variant(LiveFinder(), tta=True)
    assert fast.model is detector.model and isinstance(fast.finder, LiveFinder) and fast.tta
    plain = detector.variant(tta=False)
    face = fer_faces["surprise"][0]
    (averaged,) = fast.classify([face])
    views = tta_views(face[None, :, :, None].astype(np.float32))
    assert len(views) >= 2 and np.array_equal(views[1][0, :, :, 0], face[:, ::-1])  # the mirror image is one view
    log_mean = np.mean([np.log(plain.probabilities(v)[0]) for v in views], axis=0)  # each view alone
    expected = np.exp(log_mean) / np.exp(log_mean).sum()
    for i, label in enumerate(plain.labels):  # TTA = the mean over its views of the (calibrated) logits
        assert averaged[label] == pytest.approx(expected[i], abs=1e-4)
    (of_mirror,) = fast.classify([face[:, ::-1]])
    for label in averaged:  # a mirrored photo gets the same answer
        assert of_mirror[label] == pytest.approx(averaged[label], abs=1e-4)


def test_live_video_runs_on_the_live_model_where_the_photo_model_is_slow(tmp_path, monkeypatch):
    """The choice follows the photo model's measured cost per face on this CPU, whatever its flags say."""
    live = tmp_path / "live.keras"
    live.write_bytes(b"stand-in")
    monkeypatch.setattr(emotion.detector, "LIVE_MODEL", live)
    for ms, expected in ((1.59, live), (0.45, emotion.detector.DEFAULT_MODEL)):
        emotion.detector.live_model.cache_clear()
        monkeypatch.setattr(emotion.detector, "classify_ms", lambda model: ms)
        assert emotion.detector.live_model() == expected
    other = tmp_path / "mine.keras"
    assert emotion.detector.live_model(other) == other  # a chosen model is used as it is
    emotion.detector.live_model.cache_clear()


def test_the_cost_per_face_is_measured_on_this_cpu():
    ms = emotion.detector.classify_ms(emotion.detector.DEFAULT_MODEL)
    assert 0 < ms < 100 and emotion.detector.classify_ms(emotion.detector.DEFAULT_MODEL) == ms  # once per process


def test_a_face_whose_top_emotion_is_under_the_models_bar_is_unsure(detector):
    """The bar comes from the model file (chosen on val at publishing); under it a face is unsure, in its JSON too."""
    probe = detector.variant()
    probe.unsure_below = 0.4
    unsure = probe.face((0, 0, 48, 48), {"happy": 0.35, "sad": 0.33, "neutral": 0.32})
    sure = probe.face((0, 0, 48, 48), {"happy": 0.45, "sad": 0.35, "neutral": 0.2})
    assert (unsure.emotion, unsure.unsure, unsure.to_json()["unsure"]) == ("happy", True, True)
    assert (sure.emotion, sure.unsure) == ("happy", False)
    assert detector.unsure_below == read_meta(DEFAULT_MODEL).get("unsure_below", 0.0)
