"""Ensembles: several model files averaged into one model file that runs like any other."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import log_softmax

from emotion.detector import EmotionDetector
from emotion.labels import FER2013_LABELS
from emotion.modelfile import load_model, save_model
from training.architectures import build_logits_model, calibrated_model
from training.cli import main
from training.ensemble import ensemble_logits

pytestmark = pytest.mark.slow  # training runs


def tiny_model_file(path, labels, seed: int, temperature: float):
    """A tiny random model saved as this project saves trained ones (labels and temperature inside)."""
    import keras

    keras.utils.set_random_seed(seed)
    base = build_logits_model("tiny", len(labels))
    weights = base.get_weights()
    weights[-1] = np.linspace(-2, 2, len(labels)).astype(np.float32)  # distinct outputs, not near-uniform
    base.set_weights(weights)
    save_model(calibrated_model(base, temperature), path, labels, temperature=temperature)
    return path


def test_ensemble_averages_calibrated_log_probabilities_class_by_name(tmp_path, fer_faces):
    """The ensemble's logits are the mean of each member's log-probabilities, matched by class name even
    when a member lists its classes in another order."""
    labels = FER2013_LABELS
    a = tiny_model_file(tmp_path / "a.keras", labels, seed=1, temperature=0.8)
    b = tiny_model_file(tmp_path / "b.keras", labels[::-1], seed=2, temperature=1.5)
    faces = np.stack([f for c in labels for f in fer_faces[c][:2]])[..., None].astype(np.float32)
    expected = []
    for path in (a, b):
        model, meta = load_model(path)
        log_probs = log_softmax(np.asarray(model(faces)), axis=1)
        expected.append(log_probs[:, [meta["labels"].index(c) for c in labels]])
    got = np.asarray(ensemble_logits([a, b], labels)(faces))
    np.testing.assert_allclose(got, np.mean(expected, axis=0), atol=1e-4)
    assert not np.allclose(expected[0], expected[1], atol=1e-2)  # the average is not just one member


def test_ensemble_cli_writes_a_calibrated_model_file_the_detector_loads(tmp_path, tiny_dataset, fer_faces, capsys):
    labels = FER2013_LABELS
    members = [tiny_model_file(tmp_path / f"m{i}.keras", labels, seed=i, temperature=1.0 + i / 2) for i in range(2)]
    out = tmp_path / "ens"
    assert main(["ensemble", *map(str, members), "--data", str(tiny_dataset), "--out", str(out)]) == 0
    for name in ("model.keras", "run.json", "metrics.json", "report.txt", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["arch"] == "ensemble" and metrics["members"] == [str(m) for m in members]
    model, meta = load_model(out / "model.keras")  # nested members survive saving and loading
    assert meta["labels"] == list(labels) and meta["temperature"] == pytest.approx(metrics["temperature"], abs=1e-4)
    faces = np.stack([fer_faces[c][0] for c in labels])[..., None].astype(np.float32)
    logits = np.asarray(ensemble_logits(members, labels)(faces))
    np.testing.assert_allclose(np.asarray(model(faces)), logits / meta["temperature"], atol=1e-4)
    det = EmotionDetector.load(out / "model.keras", finder="live", tta=False)
    scores = det.classify([fer_faces["happy"][0]])[0]
    assert list(scores) == list(labels) and abs(sum(scores.values()) - 1) < 1e-5


def test_ensemble_of_one_model_is_refused(tmp_path, tiny_dataset, capsys):
    member = tiny_model_file(tmp_path / "m.keras", FER2013_LABELS, seed=0, temperature=1.0)
    assert main(["ensemble", str(member), "--data", str(tiny_dataset), "--out", str(tmp_path / "e")]) == 2
    assert "two or more model files" in capsys.readouterr().err


def test_unpack_writes_an_ensembles_members_back_to_the_paths_its_run_lists(tmp_path, tiny_dataset, fer_faces, capsys):
    """A fresh checkout has the shipped ensemble but not its members' files: unpack gives each member back, with the
    probabilities of the file it was built from (classes matched by name), and keeps files that exist."""
    labels = FER2013_LABELS
    members = [tiny_model_file(tmp_path / "a" / "model.keras", labels, seed=1, temperature=0.8),
               tiny_model_file(tmp_path / "b" / "model.keras", labels[::-1], seed=2, temperature=1.5)]
    out = tmp_path / "ens"
    assert main(["ensemble", *map(str, members), "--data", str(tiny_dataset), "--out", str(out)]) == 0
    faces = np.stack([fer_faces[c][0] for c in labels])[..., None].astype(np.float32)
    expected = {}
    for path in members:
        model, meta = load_model(path)
        probs = np.exp(log_softmax(np.asarray(model(faces)), axis=1))
        expected[path] = probs[:, [meta["labels"].index(c) for c in labels]]
        path.unlink()
    capsys.readouterr()
    assert main(["unpack", str(out), "--model", str(out / "model.keras")]) == 0
    assert capsys.readouterr().out.count("wrote") == 2
    for path in members:
        model, meta = load_model(path)
        assert meta["labels"] == list(labels)
        np.testing.assert_allclose(np.exp(log_softmax(np.asarray(model(faces)), axis=1)), expected[path], atol=1e-5)
    # The members written back average again (e.g. beside a new candidate) into the ensemble they came from.
    ensemble, meta = load_model(out / "model.keras")
    np.testing.assert_allclose(np.asarray(ensemble_logits(members, labels)(faces)),
                               np.asarray(ensemble(faces)) * meta["temperature"], atol=1e-4)
    assert main(["unpack", str(out), "--model", str(out / "model.keras")]) == 0
    assert "wrote" not in capsys.readouterr().out  # files that exist are kept

    (out / "run.json").write_text(json.dumps({"members": [str(m) for m in members * 2]}))
    assert main(["unpack", str(out), "--model", str(out / "model.keras")]) == 2
    assert "holds 2 members" in capsys.readouterr().err
