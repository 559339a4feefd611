"""Training end to end on tiny real datasets: folder layout and Kaggle CSV, outputs, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import shlex

from emotion.detector import EmotionDetector
from emotion.labels import FER2013_LABELS
from emotion.modelfile import load_model
from training.architectures import build_logits_model
from training.cli import build_parser, main
from training.config import TrainConfig
from training.data import concatenate, load_fer_csv, load_folder, load_sources, load_split
from training.distill import online_teacher, teacher_targets
from training.fit import class_weights, make_datasets, reestimate_batchnorm
from training.prune import prune_into
from training.lineage import command

pytestmark = pytest.mark.slow  # training runs

OUTPUTS = ["model.keras", "history.csv", "curves.png", "confusion_matrix.png", "report.txt", "metrics.json", "run.json"]


@pytest.mark.graph
def test_train_writes_every_output_and_resumes(tmp_path, tiny_dataset, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(out), "--arch", "tiny", "--epochs", "2", "--until", "1"]) == 0
    assert len(pd.read_csv(out / "history.csv")) == 1
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    assert main(["train", "--data", str(tiny_dataset), "--out", str(out), "--resume"]) == 0
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [0, 1]  # continued at epoch 2, did not restart
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_done"] == 2 and 0 <= metrics["val_accuracy"] <= 1
    assert metrics["batchnorm_faces"] in (0, 7 * 12)  # every clean train face set the BatchNorm statistics, or none
    assert (history["seconds"] > 0).all() and metrics["train_seconds"] > 0
    assert set(metrics["per_class_recall"]) == set(FER2013_LABELS)
    model, meta = load_model(out / "model.keras")
    assert meta["labels"] == list(FER2013_LABELS) and meta["temperature"] > 0
    logits = np.asarray(model(np.zeros((2, 48, 48, 1), np.float32)))
    assert logits.shape == (2, 7) and np.isfinite(logits).all() and meta["output"] == "calibrated_logits"
    assert "epoch 2/2" in capsys.readouterr().out


def test_run_json_and_the_cards_command_come_from_one_configuration(tmp_path, tiny_dataset):
    """The command line a run records (for the model card) parses back into the very configuration the
    run saved, and a run started without a flag records that flag's default."""
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(out), "--arch", "tiny", "--epochs", "1",
                 "--lr", "0.003", "--teacher-weight", "0.4"]) == 0
    cfg = TrainConfig.read(out)
    assert cfg.learning_rate == 0.003 and cfg.weight_decay == TrainConfig.weight_decay and cfg.consistent is False
    command = shlex.split(cfg.command(out))
    assert command[:3] == ["python", "-m", "training"]
    assert TrainConfig.from_args(build_parser().parse_args(command[3:])) == cfg


def test_the_cards_command_for_a_run_stopped_early_stops_it_where_it_stopped(tmp_path, tiny_dataset):
    """A run stopped before its planned epochs is published with the command that trains exactly what it holds."""
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(out), "--arch", "tiny", "--epochs", "2",
                 "--until", "1"]) == 0
    args = build_parser().parse_args(shlex.split(command(out).strip("`"))[3:])
    assert args.until == 1 and TrainConfig.from_args(args) == TrainConfig.read(out)


def test_existing_run_is_not_overwritten_by_accident(tmp_path, tiny_dataset, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", str(tiny_dataset), "--out", str(out), "--arch", "tiny", "--epochs", "1"]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "already holds a training run; pass --resume" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0


def test_folder_loader_orders_known_classes_like_fer2013(tiny_dataset):
    faces = load_folder(tiny_dataset / "train", progress=False)
    assert faces.labels == FER2013_LABELS  # not the folders' alphabetical order
    assert faces.x.shape == (12 * 7, 48, 48) and faces.x.dtype == np.uint8
    assert np.bincount(faces.y).tolist() == [12] * 7
    assert all(FER2013_LABELS[y] in p for y, p in zip(faces.y, faces.paths))


@pytest.fixture
def fer_csv(tmp_path, fer_faces):
    path = tmp_path / "fer2013.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i, label in enumerate(FER2013_LABELS):
            for j, face in enumerate(fer_faces[label]):
                usage = ("Training", "Training", "Training", "PublicTest", "PrivateTest")[j]
                writer.writerow([i, " ".join(map(str, face.ravel())), usage])
    return path


def test_csv_loader_splits_and_pixels(fer_csv, fer_faces):
    train, val, test = (load_fer_csv(fer_csv, s) for s in ("train", "val", "test"))
    assert (len(train.y), len(val.y), len(test.y)) == (21, 7, 7)
    assert train.labels == FER2013_LABELS
    np.testing.assert_array_equal(train.x[0], fer_faces["angry"][0])
    assert FER2013_LABELS[val.y[3]] == "happy"


def test_train_from_csv(tmp_path, fer_csv):
    assert main(["train", "--data", str(fer_csv), "--out", str(tmp_path / "run"), "--arch", "tiny", "--epochs", "1"]) == 0
    assert (tmp_path / "run" / "model.keras").exists()


def test_csv_missing_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,pixels\n0,1 2 3\n")
    with pytest.raises(ValueError, match="missing column.*Usage.*emotion"):
        load_split(bad, "train")


def test_train_missing_data_is_one_line(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--arch", "tiny", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "train" in err and err.count("\n") == 1


def _kernels(model: keras.Model) -> list[np.ndarray]:
    return [layer.get_weights()[0] for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]


@pytest.mark.parametrize("arch", ["tiny", "tiny-res"])
def test_warm_restart_starts_from_the_given_weights(tmp_path, tiny_dataset, capsys, arch):
    first, second = tmp_path / "first", tmp_path / "second"
    base = ["train", "--data", str(tiny_dataset), "--arch", arch, "--epochs", "1"]
    assert main(base + ["--out", str(first)]) == 0
    # A vanishing learning rate leaves the kernels where the warm start put them.
    assert main(base + ["--out", str(second), "--init-from", str(first / "model.keras"), "--lr", "1e-12"]) == 0
    source, restarted = load_model(first / "model.keras")[0], load_model(second / "model.keras")[0]
    for got, expected in zip(_kernels(restarted), _kernels(source), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert json.loads((second / "metrics.json").read_text())["init_from"] == str(first / "model.keras")
    # A run folder as committed (checkpoints are not): its model file holds the same best weights.
    (first / "best.weights.h5").unlink()
    assert main(base + ["--out", str(tmp_path / "third"), "--init-from", str(first), "--lr", "1e-12"]) == 0
    np.testing.assert_allclose(load_model(tmp_path / "third" / "model.keras")[0].get_weights()[0], source.get_weights()[0], atol=1e-6)
    wrong = ["train", "--data", str(tiny_dataset), "--epochs", "1", "--out", str(tmp_path / "wrong"), "--init-from", str(first)]
    assert main(wrong) == 2
    assert "architecture differs" in capsys.readouterr().err


def test_ema_ships_the_averaged_weights(tmp_path, tiny_dataset):
    """With --ema the validated and saved weights are the moving average: with a momentum near 1 they
    stay near where the run started, while the raw weights of the same run move on."""
    base = ["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "2", "--batch-size", "8"]
    assert main(base + ["--out", str(tmp_path / "start")]) == 0
    start = load_model(tmp_path / "start" / "model.keras")[0].get_weights()[0]
    moved = {}
    for name, extra in (("raw", []), ("ema", ["--ema", "0.9999999"])):
        out = tmp_path / name
        assert main(base + ["--out", str(out), "--init-from", str(tmp_path / "start" / "model.keras"), "--lr", "0.01"] + extra) == 0
        moved[name] = np.abs(load_model(out / "model.keras")[0].get_weights()[0] - start).mean()
    assert moved["ema"] < 0.2 * moved["raw"]


def test_batchnorm_statistics_become_those_of_the_faces_given():
    model = build_logits_model("tiny", 7)
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    reestimate_batchnorm(model, faces)
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    inputs = np.asarray(keras.Model(model.inputs, norm.input)(faces[..., None].astype(np.float32)))
    np.testing.assert_allclose(np.asarray(norm.moving_mean), inputs.mean(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), inputs.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    assert norm.momentum == 0.99  # training afterwards averages as before
    reestimate_batchnorm(model, faces, batch=16)  # in passes of 16 faces: the same mean, nearly the same variance
    np.testing.assert_allclose(np.asarray(norm.moving_mean), inputs.mean(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), inputs.var(axis=(0, 1, 2)), rtol=0.05)


def test_narrower_model_keeps_the_channels_that_matter():
    """Pruning keeps the channels with the largest BatchNorm scale: if the others are silenced
    (gamma = beta = 0), the narrower model computes exactly what the wider one does."""
    wide, narrow = build_logits_model("vgg-small", 7), build_logits_model("vgg-slim", 7)
    rng = np.random.default_rng(0)
    for big, small in zip([l for l in wide.layers if l.weights], [l for l in narrow.layers if l.weights]):
        if isinstance(big, keras.layers.BatchNormalization):
            n, kept = big.gamma.shape[0], small.gamma.shape[0]
            gamma, beta = rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n)
            silenced = rng.choice(n, n - kept, replace=False)
            gamma[silenced], beta[silenced] = 0, 0
            big.set_weights([gamma, beta, rng.normal(0, 0.1, n), rng.uniform(0.5, 2, n)])
    prune_into(wide, narrow)
    faces = rng.uniform(0, 255, (4, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(narrow(faces, training=False), wide(faces, training=False), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="wider"):
        prune_into(narrow, build_logits_model("vgg-small", 7))


def test_distillation_targets_mix_labels_with_the_teachers_probabilities(tmp_path, tiny_dataset):
    """--teacher: each target is (1 - w) x the face's label + w x the teacher's probabilities for that
    face, class by class by name even when the data lists its classes in another order."""
    assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--out", str(tmp_path / "t")]) == 0
    teacher = tmp_path / "t" / "model.keras"
    faces = load_split(tiny_dataset, "train", labels=tuple(reversed(FER2013_LABELS)))
    expected = EmotionDetector.load(teacher, finder="live", tta=True).classify(list(faces.x))
    expected = np.array([[scores[label] for label in faces.labels] for scores in expected])
    np.testing.assert_allclose(teacher_targets([teacher], faces, 1.0), expected, atol=1e-5)
    np.testing.assert_array_equal(teacher_targets([teacher], faces, 0.0), np.eye(7)[faces.y])
    mixed = teacher_targets([teacher], faces, 0.25)
    np.testing.assert_allclose(mixed, 0.75 * np.eye(7)[faces.y] + 0.25 * expected, atol=1e-5)


def test_several_teachers_act_as_one_ensemble(tmp_path, tiny_dataset):
    """--teacher A B: the teachers' log-probabilities are averaged (a normalized geometric mean)."""
    for name, seed in (("a", "1"), ("b", "2")):
        assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--seed", seed,
                     "--out", str(tmp_path / name)]) == 0
    faces = load_split(tiny_dataset, "train")
    a, b = (teacher_targets([tmp_path / name / "model.keras"], faces, 1.0) for name in "ab")
    assert np.abs(a - b).max() > 1e-3  # two different teachers, or the test shows nothing
    assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--out", str(tmp_path / "student"),
                 "--teacher", str(tmp_path / "a" / "model.keras"), str(tmp_path / "b" / "model.keras"),
                 "--teacher-weight", "1"]) == 0
    geometric = np.sqrt(a * b)
    # kept in the run folder, so that resuming does not score the faces again
    np.testing.assert_allclose(np.load(tmp_path / "student" / "teacher_targets.npy"),
                               geometric / geometric.sum(axis=1, keepdims=True), atol=1e-5)


def test_runs_sharing_a_teacher_reuse_its_scores(tmp_path, tiny_dataset, monkeypatch):
    """A second run with the same teacher takes the teacher's scores from the cache beside the run
    folders instead of scoring the training faces again; a retrained teacher file is scored afresh."""
    teacher = tmp_path / "t" / "model.keras"
    assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--out", str(tmp_path / "t")]) == 0
    student = ["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--teacher", str(teacher)]
    assert main([*student, "--out", str(tmp_path / "s1")]) == 0
    assert len(list((tmp_path / "teacher-cache").glob("*.npy"))) == 1

    def no_scoring(*args, **kwargs):
        raise AssertionError("the teacher was loaded to score the faces again")

    with monkeypatch.context() as m:
        m.setattr(EmotionDetector, "load", no_scoring)
        assert main([*student, "--out", str(tmp_path / "s2")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s2" / "teacher_targets.npy"),
                                  np.load(tmp_path / "s1" / "teacher_targets.npy"))
    assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--seed", "9",
                 "--out", str(tmp_path / "t"), "--overwrite"]) == 0
    assert main([*student, "--out", str(tmp_path / "s3")]) == 0
    assert len(list((tmp_path / "teacher-cache").glob("*.npy"))) == 2


def test_mixed_precision_training_leaves_later_models_in_float32(tmp_path, tiny_dataset, monkeypatch):
    """Training in mixed bfloat16 (CPUs with AVX-512 BF16) builds only its own model that way: a model
    built afterwards in the same process computes in float32 (a leaked policy changed their outputs)."""
    monkeypatch.setattr("training.fit.cpu_has_bf16", lambda: True)
    assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs_done"] == 1
    assert build_logits_model("tiny", 7).layers[2].compute_dtype == "float32"


def test_consistent_teacher_scores_each_augmented_face(tmp_path, tiny_dataset, monkeypatch):
    """--consistent: the teachers score the very augmented face the student is trained on (not each face
    once before training), class by class by name even when the data lists its classes in another order."""
    monkeypatch.setattr("training.distill.cpu_has_bf16", lambda: False)  # float32, to compare with the detector exactly
    assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--out", str(tmp_path / "t")]) == 0
    teacher = tmp_path / "t" / "model.keras"
    faces = load_split(tiny_dataset, "train", labels=tuple(reversed(FER2013_LABELS)))
    cfg = TrainConfig(data=[str(tiny_dataset)], batch_size=16, teacher_weight=0.25)
    train_ds, _, _ = make_datasets(faces, np.eye(7, dtype=np.float32)[faces.y], faces, cfg,
                                   online_teacher([teacher], faces.labels))
    x, y, _ = next(iter(train_ds))
    x, y = np.asarray(x), np.asarray(y)
    assert not any((x[:, :, :, 0] == face).all() for face in faces.x)  # augmented views, not the stored faces
    probs = EmotionDetector.load(teacher, finder="live", tta=False).probabilities(x)
    expected = probs[:, [FER2013_LABELS.index(label) for label in faces.labels]]
    one_hot = (y - 0.25 * expected) / 0.75
    np.testing.assert_allclose(np.sort(one_hot, axis=1), np.tile([0] * 6 + [1], (len(y), 1)), atol=1e-4)

    student = tmp_path / "s"
    assert main(["train", "--data", str(tiny_dataset), "--arch", "tiny", "--epochs", "1", "--out", str(student),
                 "--teacher", str(teacher), "--consistent"]) == 0
    assert json.loads((student / "run.json").read_text())["consistent"] is True
    assert not (student / "teacher_targets.npy").exists() and not (tmp_path / "teacher-cache").exists()


@pytest.fixture(scope="module")
def mixed_ensemble(tmp_path_factory, tiny_dataset) -> Path:
    """An ensemble file of a VGG-style and a ResNet-style member, as `python -m training ensemble` writes it."""
    root = tmp_path_factory.mktemp("mixed")
    for seed, arch in (("1", "tiny"), ("2", "tiny-res")):
        assert main(["train", "--data", str(tiny_dataset), "--arch", arch, "--epochs", "1", "--seed", seed,
                     "--out", str(root / seed)]) == 0
    assert main(["ensemble", str(root / "1" / "model.keras"), str(root / "2" / "model.keras"),
                 "--data", str(tiny_dataset), "--out", str(root / "ens")]) == 0
    return root / "ens" / "model.keras"


def nested_layers(model: keras.Model):
    """Every layer of `model`, those of the models nested in it included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from nested_layers(layer)


def test_bfloat16_teacher_keeps_the_teachers_probabilities(mixed_ensemble, tiny_dataset):
    """A teacher scoring in bfloat16 (CPUs with AVX-512 BF16) is still the same teacher: an ensemble file's
    probabilities move by far less than the gap between its top two classes on most faces."""
    from training.architectures import mixed_bfloat16_copy

    teacher, _ = load_model(mixed_ensemble)
    fast = mixed_bfloat16_copy(teacher)
    faces = load_split(tiny_dataset, "val").x[..., None].astype(np.float32)
    probs, fast_probs = (np.asarray(keras.ops.softmax(m(faces, training=False))) for m in (teacher, fast))
    assert fast(faces).dtype == "float32"
    for member in ("member_0", "member_1"):  # the VGG-style and the ResNet-style trunk
        trunk = [layer for layer in nested_layers(fast.get_layer(member)) if isinstance(layer, (keras.layers.Conv2D, keras.layers.Add))]
        assert trunk and all(layer.compute_dtype == "bfloat16" for layer in trunk)
    np.testing.assert_allclose(fast_probs, probs, atol=0.02)
    assert np.mean(fast_probs.argmax(1) == probs.argmax(1)) >= 0.9


def test_ensemble_of_differing_architectures_runs_as_trained(mixed_ensemble, tiny_dataset):
    """A ResNet-style member beside a VGG-style one: the runtime's TFLite export of the ensemble file gives the
    probabilities the Keras model gives."""
    model, _ = load_model(mixed_ensemble)
    assert any(isinstance(layer, keras.layers.Add) for layer in nested_layers(model.get_layer("member_1")))
    faces = load_split(tiny_dataset, "val").x[..., None].astype(np.float32)
    expected = np.asarray(keras.ops.softmax(model(faces, training=False)))
    np.testing.assert_allclose(EmotionDetector.load(mixed_ensemble, finder="live", tta=False, prior="training")
                               .probabilities(faces), expected, atol=1e-4)


def test_mixup_blends_faces_and_targets_alike():
    """--mixup: every face is a blend of two faces of the batch, its target the same blend of theirs."""
    from training.augment import mixup

    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 255, (16, 48, 48, 1)).astype(np.float32)
    targets = np.eye(16, dtype=np.float32)  # each face its own class: a target shows which faces were blended
    x, y = (np.asarray(t) for t in mixup(faces, targets, alpha=0.5))
    np.testing.assert_allclose(y.sum(1), 1, atol=1e-5)
    assert (np.count_nonzero(y > 1e-6, axis=1) <= 2).all() and (y.max(1) < 0.99).any()
    np.testing.assert_allclose(x, np.einsum("ij,jhwc->ihwc", y, faces), atol=1e-2)


def test_shift_augmentation_trains_and_is_recorded_in_the_runs_command(tmp_path, tiny_dataset):
    from training.augment import augmenter, camera_shift

    faces = load_folder(tiny_dataset / "val", progress=False).x[..., None].astype(np.float32)
    shifted = camera_shift(augmenter(0, "shift")(faces, training=True)).numpy()
    assert shifted.shape == faces.shape and shifted.min() >= 0 and shifted.max() <= 255
    assert np.abs(shifted - faces).mean() > 5  # visibly changed, as a camera would change them
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(out), "--arch", "tiny", "--epochs", "1",
                 "--augment", "shift"]) == 0
    assert "--augment shift" in TrainConfig.read(out).command(out)


def test_each_source_gives_its_share_of_an_epoch_weighted_by_its_own_classes(tiny_dataset, second_source):
    """--source-weights 1 3: a quarter of the faces drawn come from the first source; each face's loss weight is its
    class's weight within its own source (the even first source: 1; the second: sad weighs twice happy, 1/sqrt(3/12))."""
    sets = load_sources([str(tiny_dataset), str(second_source)], "train")
    faces = concatenate(sets)
    assert list(np.bincount(faces.source)) == [84, 15] and sets[1].labels == sets[0].labels
    cfg = TrainConfig(data=[str(tiny_dataset), str(second_source)], source_weights=[1, 3], epoch_faces=4000,
                      batch_size=50)
    train_ds, _, steps = make_datasets(faces, np.eye(7, dtype=np.float32)[faces.y], sets[0], cfg)
    assert steps == 80
    weights = np.concatenate([np.asarray(w) for _, _, w in train_ds.take(steps)])
    second = class_weights(sets[1].y, 7)
    assert np.mean(np.isclose(weights, 1.0)) == pytest.approx(0.25, abs=0.03)
    happy, sad = second[FER2013_LABELS.index("happy")], second[FER2013_LABELS.index("sad")]
    assert sad == pytest.approx(2 * happy)
    np.testing.assert_allclose(np.unique(weights.round(4)), sorted([happy.round(4), 1.0, sad.round(4)]), atol=1e-4)
    assert (happy + sad) / 2 == pytest.approx(1.0)  # mean 1 over the classes the source has
    with pytest.raises(ValueError, match="one per --data source"):
        make_datasets(faces, np.eye(7, dtype=np.float32)[faces.y], sets[0], TrainConfig(data=cfg.data, source_weights=[1]))


@pytest.mark.graph
def test_a_run_on_two_sources_scores_and_keeps_epochs_by_both_and_resumes(tmp_path, tiny_dataset, second_source):
    """Every epoch logs each source's val accuracy and macro recall and the score the kept epoch is chosen by (the mean
    of them with --select mean); the finished run reports both sources; run.json and the command keep the sources."""
    out = tmp_path / "run"
    argv = ["train", "--data", str(tiny_dataset), str(second_source), "--source-weights", "1", "1", "--select", "mean",
            "--arch", "tiny", "--epochs", "2", "--epoch-faces", "64", "--batch-size", "16", "--out", str(out)]
    assert main(argv + ["--until", "1"]) == 0
    assert main(["train", "--out", str(out), "--resume"]) == 0
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [0, 1]
    tiny, second = tiny_dataset.name, second_source.name
    scores = history[[f"val_{tiny}_accuracy", f"val_{tiny}_macro_recall", f"val_{second}_accuracy",
                      f"val_{second}_macro_recall"]]
    np.testing.assert_allclose(history["val_score"], scores.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(history[f"val_{tiny}_accuracy"], history["val_accuracy"], atol=1e-3)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["sources"]) == {tiny, second} and metrics["split"] == f"val ({tiny})"
    assert metrics["sources"][tiny]["accuracy"] == metrics["val_accuracy"]
    assert set(metrics["sources"][second]["per_class_recall_tta"]) == set(FER2013_LABELS)
    cfg = TrainConfig.read(out)
    assert cfg.data == [str(tiny_dataset), str(second_source)] and cfg.source_weights == [1.0, 1.0]
    assert TrainConfig.from_args(build_parser().parse_args(shlex.split(cfg.command(out))[3:])) == cfg
    assert f"val ({second}):" in (out / "report.txt").read_text()
