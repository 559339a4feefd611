"""Training the emotion CNN: data -> augmentation -> model -> fit (resumable) -> calibrate -> outputs.

A run folder holds everything: `run.json` (the configuration, reused by --resume), `backup/`
(Keras BackupAndRestore: weights, optimizer and epoch, written every epoch), `best.weights.h5`
(best on val), `teacher_targets.npy` when distilling with fixed targets (not with --consistent), and at the end `model.keras`, `history.csv`, `curves.png`,
`confusion_matrix.png`, `report.txt` and `metrics.json`. Teachers' scores are kept for every run beside
the run folders, in `teacher-cache/`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy.special import softmax

from .calibrate import calibrated, expected_calibration_error, fit_temperature
from .data import FaceSet, load_split
from .evaluate import plot_confusion, plot_curves, report_text, score
from .model import (TTA_VIEWS, build_logits_model, dtype_policy, file_sha256, float32_copy, inference_model, load_model,
                    predictor, run_model, save_model)
from .slim import prune_into

DEFAULTS = {
    "arch": "vgg-small",
    "epochs": 40,
    "batch_size": 64,
    "learning_rate": 2e-3,
    "weight_decay": 0.02,
    "label_smoothing": 0.1,
    "warmup_epochs": 2,
    "seed": 1337,
    "init_from": None,
    "ema": 0.0,
    "teacher": None,
    "teacher_weight": 0.5,
    "consistent": False,
}
TEACHER_TARGETS = "teacher_targets.npy"
TEACHER_CACHE = "teacher-cache"  # beside the run folders: scores shared by runs with the same teacher


def cpu_has_bf16() -> bool:
    """True where mixed bfloat16 pays off (AVX-512 BF16 / AMX); emulated bf16 is several times slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def augmenter(seed: int) -> keras.Sequential:
    """Augmentations that keep a face a face: mirror, small pose/framing changes, lighting, occlusion."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(12 / 360, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomZoom((-0.15, 0.15), fill_mode="reflect", seed=seed + 3),
            keras.layers.RandomBrightness(0.25, value_range=(0, 255), seed=seed + 4),
            keras.layers.RandomContrast(0.35, value_range=(0, 255), seed=seed + 5),
            keras.layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=(0, 255), seed=seed + 6),
        ],
        name="augment",
    )


def label_order(teacher: str | Path, teacher_labels, labels: tuple[str, ...]) -> list[int]:
    """Which of the teacher's outputs is each of `labels`: teacher and data may list the classes differently."""
    if sorted(teacher_labels) != sorted(labels):
        raise ValueError(f"{teacher}: the teacher's classes ({', '.join(teacher_labels)}) differ from the data's")
    return [list(teacher_labels).index(label) for label in labels]


def teacher_log_probs(teacher: str | Path, faces: FaceSet, cache_dir: Path | None = None) -> np.ndarray:
    """The teacher's TTA log-probabilities for `faces`, columns in `faces.labels` order.

    Kept in `cache_dir` under the teacher file's and the faces' digests: scoring 28,709 faces with 18
    views takes 5-15 minutes per teacher, and successive runs often share a teacher."""
    from .detector import EmotionDetector

    key = hashlib.sha256(faces.x.tobytes() + "|".join(faces.labels).encode()).hexdigest()[:16]
    cache = cache_dir / f"{file_sha256(teacher)[:16]}-{key}.npy" if cache_dir else None
    if cache and cache.exists():
        return np.load(cache)
    detector = EmotionDetector.load(teacher, detector="haar", tta=True)
    order = label_order(teacher, detector.labels, faces.labels)
    probs = detector.probabilities(faces.x[..., None].astype(np.float32))
    log_probs = np.log(np.maximum(probs[:, order], 1e-30))
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, log_probs)
    return log_probs


def teacher_targets(teachers: list[str | Path], faces: FaceSet, weight: float, cache_dir: Path | None = None) -> np.ndarray:
    """Training targets `(1 - weight) * one-hot label + weight * teacher's probabilities` (knowledge
    distillation, Hinton et al. 2015; the teacher scores each un-augmented face once, with TTA).

    Several teachers act as one ensemble: their log-probabilities are averaged, as TTA averages views
    (val, restart1 + slim1: 69.8% vs 69.2% and 68.9% alone)."""
    log_probs = [teacher_log_probs(teacher, faces, cache_dir) for teacher in teachers]
    probs = softmax(np.mean(log_probs, axis=0), axis=1)
    return ((1 - weight) * np.eye(len(faces.labels))[faces.y] + weight * probs).astype(np.float32)


def run_teacher_targets(cfg: dict, faces: FaceSet, out: Path) -> np.ndarray:
    """The run's distillation targets, computed once and kept in the run folder (a run resumed in every
    session would pay the scoring each time); each teacher's scores are shared by the runs beside it."""
    cache = out / TEACHER_TARGETS
    if cache.exists():
        return np.load(cache)
    print(f"scoring the training faces with the teacher(s) {', '.join(cfg['teacher'])} ({TTA_VIEWS}) ...", flush=True)
    targets = teacher_targets(cfg["teacher"], faces, cfg["teacher_weight"], cache_dir=out.parent / TEACHER_CACHE)
    np.save(cache, targets)
    return targets


def online_teacher(teachers: list[str | Path], labels: tuple[str, ...]) -> Callable[[tf.Tensor], tf.Tensor]:
    """The teachers as one ensemble scoring a batch of faces inside the input pipeline: their averaged
    log-probabilities, softmaxed, columns in `labels` order (single view: the face is already augmented)."""
    members = []
    for teacher in teachers:
        model, meta = load_model(teacher)
        members.append((model, label_order(teacher, meta["labels"], labels)))

    def probabilities(x: tf.Tensor) -> tf.Tensor:
        log_probs = [tf.gather(tf.math.log(tf.maximum(model(x, training=False), 1e-30)), order, axis=1)
                     for model, order in members]
        return tf.nn.softmax(tf.reduce_mean(log_probs, axis=0), axis=1)

    return probabilities


def make_datasets(
    train: FaceSet, targets: np.ndarray, val: FaceSet, cfg: dict, teacher: Callable[[tf.Tensor], tf.Tensor] | None = None,
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """tf.data pipelines over in-memory uint8 faces and their target distributions (N x classes);
    augmentation runs batched in the pipeline. With a `teacher`, each target becomes
    `(1 - teacher_weight) x target + teacher_weight x the teacher's probabilities for the augmented face`."""
    n = len(train.labels)
    batch_size = min(cfg["batch_size"], len(train.y))
    aug = augmenter(cfg["seed"])

    def prepare(x, y, training: bool):
        x = tf.cast(x[..., None], tf.float32)
        if training:
            x = aug(x, training=True)
            if teacher is not None:
                y = (1 - cfg["teacher_weight"]) * y + cfg["teacher_weight"] * teacher(x)
        return x, y

    train_ds = (
        tf.data.Dataset.from_tensor_slices((train.x, targets))
        .shuffle(len(train.y), seed=cfg["seed"], reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .map(lambda x, y: prepare(x, y, True), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = tf.data.Dataset.from_tensor_slices((val.x, np.eye(n, dtype=np.float32)[val.y])).batch(256).map(
        lambda x, y: prepare(x, y, False))
    return train_ds, val_ds


def class_weights(y: np.ndarray, n: int) -> dict[int, float]:
    """Inverse-square-root frequency weights (mean 1): lifts rare disgust/fear without wrecking accuracy."""
    counts = np.bincount(y, minlength=n).astype(float)
    w = 1.0 / np.sqrt(np.maximum(counts, 1))
    w *= n / w.sum()
    return {i: float(v) for i, v in enumerate(w)}


class EpochSummary(keras.callbacks.Callback):
    """One line per epoch: loss, accuracy, val accuracy, time; adds `seconds` to the logs so the
    history (CSVLogger, placed after this callback) records the training time of every epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["seconds"] = round(time.time() - self.start, 1)
        print(
            f"epoch {epoch + 1}/{self.params['epochs']}: loss {logs.get('loss', 0):.4f} "
            f"acc {logs.get('accuracy', 0):.4f} val_loss {logs.get('val_loss', 0):.4f} "
            f"val_acc {logs.get('val_accuracy', 0):.4f} ({logs['seconds']:.0f} s)",
            flush=True,
        )


def epochs_done(history_csv: Path) -> int:
    """How many epochs an existing run has finished (0 for a new run)."""
    if history_csv.exists() and history_csv.stat().st_size:
        return int(pd.read_csv(history_csv)["epoch"].nunique())
    return 0


def best_so_far(history_csv: Path) -> float | None:
    """Best val accuracy in an existing history, so a resumed run keeps the true best weights."""
    if history_csv.exists() and history_csv.stat().st_size:
        return float(pd.read_csv(history_csv)["val_accuracy"].max())
    return None


def compile_model(cfg: dict, num_classes: int, steps_per_epoch: int) -> keras.Model:
    """The logits model with AdamW and warmup + cosine decay over the whole run."""
    with dtype_policy("mixed_bfloat16" if cpu_has_bf16() else "float32"):
        model = build_logits_model(cfg["arch"], num_classes)
    total = cfg["epochs"] * steps_per_epoch
    warmup = min(cfg["warmup_epochs"] * steps_per_epoch, total // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg["learning_rate"] / 10, total - warmup, alpha=0.01, warmup_target=cfg["learning_rate"], warmup_steps=warmup
    )
    model.compile(
        # EMA of the weights (Polyak averaging) when cfg["ema"] > 0: validated, kept and shipped in their place.
        optimizer=keras.optimizers.AdamW(
            schedule, weight_decay=cfg["weight_decay"], use_ema=cfg.get("ema", 0) > 0, ema_momentum=cfg.get("ema") or 0.99
        ),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg["label_smoothing"]),
        metrics=["accuracy"],
    )
    return model


def initial_weights(model: keras.Model, source: str | Path) -> None:
    """Start `model` from trained weights (a warm restart): a run folder (its best weights or model file), a
    `.weights.h5` file or a model file saved by this project, of the same architecture or, pruned
    to fit (`emotion.slim`), of a wider one with the same layers."""
    source, arch = Path(source), model.name.removeprefix("emotion_")
    if source.is_dir():
        if (source / "run.json").is_file():
            arch = json.loads((source / "run.json").read_text())["arch"]
        # A committed run keeps only its model file (the same best weights, plus output layers).
        source = source / "best.weights.h5" if (source / "best.weights.h5").is_file() else source / "model.keras"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such weights or model file to start from")
    try:
        if source.name.endswith(".weights.h5"):
            trained = build_logits_model(arch, model.output_shape[-1])
            with warnings.catch_warnings():  # the file's optimizer state is left out on purpose: a fresh schedule
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                trained.load_weights(source)
        else:
            trained, _ = load_model(source)  # an inference model: the same weights plus weightless output layers
        prune_into(trained, model)  # a plain copy when the widths are the same
    except ValueError:
        raise ValueError(f"{source}: its architecture differs from '{model.name}' and is not a wider version of it; "
                         "use the same --arch or a narrower one") from None


def train(
    data: str, out: str | Path, resume: bool = False, until: int | None = None, finalize_only: bool = False,
    overwrite: bool = False, **overrides,
) -> dict:
    """Train (or resume) a run in `out`, then write its model and reports; returns metrics.

    `finalize_only` writes the outputs from the run's best weights so far without training, e.g.
    to ship a model while the run goes on in the background.
    """
    if finalize_only:
        resume = True
    out = Path(out)
    config_path = out / "run.json"
    if resume and config_path.exists():
        cfg = json.loads(config_path.read_text())
    elif config_path.exists() and not overwrite:
        raise ValueError(f"{out} already holds a training run; pass --resume to continue it, "
                         "--overwrite to start it over, or choose another --out")
    else:
        if (out / "backup").exists():
            shutil.rmtree(out / "backup")
        for stale in ("history.csv", "best.weights.h5", TEACHER_TARGETS):
            (out / stale).unlink(missing_ok=True)
        cfg = {**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}, "data": str(data)}
        out.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(cfg, indent=2))
    # Offset by the epochs already done: a resumed process must not replay epoch 1's shuffle and
    # augmentations (it did: the first epoch after every resume scored ~4 points higher train accuracy).
    keras.utils.set_random_seed(cfg["seed"] + epochs_done(out / "history.csv"))

    train_set = load_split(data, "train")
    val_set = load_split(data, "val", labels=train_set.labels)
    labels = train_set.labels
    targets = np.eye(len(labels), dtype=np.float32)[train_set.y]
    teacher = None
    if cfg.get("teacher") and not finalize_only:  # --finalize only evaluates: no targets needed
        if cfg.get("consistent"):
            teacher = online_teacher(cfg["teacher"], labels)
        else:
            targets = run_teacher_targets(cfg, train_set, out)
        print(f"targets: {1 - cfg['teacher_weight']:g} x label + {cfg['teacher_weight']:g} x the teacher's probabilities"
              f"{' for each augmented face' if teacher else ''}", flush=True)
    train_ds, val_ds = make_datasets(train_set, targets, val_set, cfg, teacher)
    steps = len(train_set.y) // min(cfg["batch_size"], len(train_set.y))
    model = compile_model(cfg, len(labels), steps)
    print(f"{cfg['arch']}: {model.count_params():,} parameters; {len(train_set.y)} train / {len(val_set.y)} val faces; "
          f"{len(labels)} classes: {', '.join(labels)}", flush=True)

    if cfg.get("init_from") and not (out / "backup").exists():
        initial_weights(model, cfg["init_from"])
        print(f"starting from the weights of {cfg['init_from']}", flush=True)
    history_csv = out / "history.csv"
    checkpoint = keras.callbacks.ModelCheckpoint(
        out / "best.weights.h5", monitor="val_accuracy", mode="max", save_best_only=True,
        save_weights_only=True, initial_value_threshold=best_so_far(history_csv),
    )
    if finalize_only:
        model.load_weights(out / "best.weights.h5")
        return finish_run(model, cfg, val_set, out)
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=min(until or cfg["epochs"], cfg["epochs"]),
        class_weight=class_weights(train_set.y, len(labels)),
        callbacks=[
            keras.callbacks.BackupAndRestore(out / "backup", delete_checkpoint=False),
            EpochSummary(),
            keras.callbacks.CSVLogger(history_csv, append=True),
            # After the backup (which keeps the raw weights to train on), before the checkpoint (which keeps the EMA ones).
            *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if cfg.get("ema") else []),
            checkpoint,
        ],
        verbose=1 if sys.stderr.isatty() else 0,
    )
    model.load_weights(out / "best.weights.h5")
    return finish_run(model, cfg, val_set, out)


def finish_run(model: keras.Model, cfg: dict, val: FaceSet, out: Path) -> dict:
    """Calibrate on val, save the inference model, and write history plots and reports."""
    history = pd.read_csv(out / "history.csv").drop_duplicates("epoch", keep="last")
    metrics = finish_model(float32_copy(model, cfg["arch"]), cfg, val, out, {
        "init_from": cfg.get("init_from"),
        "teacher": cfg.get("teacher"),
        "epochs_done": int(history["epoch"].max() + 1),
        "epochs_planned": cfg["epochs"],
        "train_seconds": round(float(history["seconds"].sum())) if "seconds" in history else None,
        "precision": model.dtype_policy.name,  # mixed_bfloat16 where the CPU has AVX-512 BF16, else float32
    })
    # Column order as CSVLogger writes it (epoch, then sorted keys), so a resumed run appends aligned rows.
    history[["epoch"] + sorted(c for c in history.columns if c != "epoch")].to_csv(out / "history.csv", index=False)
    plot_curves(history, out / "curves.png")
    return metrics


def finish_model(logits_model: keras.Model, cfg: dict, val: FaceSet, out: Path, details: dict) -> dict:
    """Calibrate a float32 logits model on val, save it as `out/model.keras` (labels, temperature and TTA
    setting inside), and write `confusion_matrix.png`, `report.txt` and `metrics.json` (with `details`)."""
    labels = val.labels
    batch = val.x[..., None]
    forward = predictor(logits_model)
    logits, logits_tta = run_model(forward, batch), run_model(forward, batch, tta=True)
    temperature = fit_temperature(logits, val.y)
    result = score(val.y, logits.argmax(1), labels)
    result_tta = score(val.y, logits_tta.argmax(1), labels)
    metrics = {
        "split": f"val ({cfg['data']})",
        "arch": cfg["arch"],
        **details,
        "parameters": int(logits_model.count_params()),
        "val_accuracy": result["accuracy"],
        "val_accuracy_tta": result_tta["accuracy"],
        "temperature": round(temperature, 4),
        "ece_before": round(expected_calibration_error(calibrated(logits, 1.0), val.y), 4),
        "ece_after": round(expected_calibration_error(calibrated(logits, temperature), val.y), 4),
        "ece_after_tta": round(expected_calibration_error(calibrated(logits_tta, temperature), val.y), 4),
        "per_class_recall": {n: result["per_class"][n]["recall"] for n in labels},
        "per_class_recall_tta": {n: result_tta["per_class"][n]["recall"] for n in labels},
        "confusion": result["confusion"],
    }
    # TTA costs a pass per view (small next to detection in a photo); on by default if it helps >= 0.5 points.
    metrics["tta_default"] = bool(result_tta["accuracy"] - result["accuracy"] >= 0.005)
    save_model(inference_model(logits_model, temperature), out / "model.keras", labels, temperature=temperature,
               arch=cfg["arch"], val_accuracy=result["accuracy"], val_accuracy_tta=result_tta["accuracy"],
               tta_default=metrics["tta_default"])
    plot_confusion(result, out / "confusion_matrix.png", f"val, {cfg['arch']} (normalized by true class)")
    (out / "report.txt").write_text(
        report_text(result) + f"\n\nwith test-time augmentation ({TTA_VIEWS}):\n" + report_text(result_tta) + "\n"
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"val accuracy {result['accuracy']:.4f} (TTA {result_tta['accuracy']:.4f}); "
          f"temperature {temperature:.3f}; ECE {metrics['ece_before']:.4f} -> {metrics['ece_after']:.4f}; "
          f"model saved to {out / 'model.keras'}", flush=True)
    return metrics
