"""Training a CNN: data -> targets -> model -> fit (resumable) -> calibrated model file and reports.

A run folder holds everything: `run.json` (the `TrainConfig`, reused by --resume), `backup/` (Keras
BackupAndRestore: weights, optimizer and epoch, written every epoch), `best.weights.h5` (best on val),
`teacher_targets.npy` when distilling with fixed targets, and at the end `model.keras`, `history.csv`,
`curves.png`, `confusion_matrix.png`, `report.txt` and `metrics.json`.
"""

from __future__ import annotations

import os
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

from emotion.evaluate import score
from emotion.inference import graph_forward, run_model
from emotion.modelfile import load_model

from .architectures import build_logits_model, cpu_has_bf16, dtype_policy, float32_copy
from .augment import augmenter, camera_shift, mixup
from .config import AUGMENTS, TrainConfig
from .data import FaceSet, concatenate, load_sources, source_name, source_shares
from .distill import TEACHER_TARGETS, online_teacher, run_teacher_targets
from .prune import prune_into
from .reports import finish_model, plot_curves, read_history


def class_weights(y: np.ndarray, n: int, kind: str = "sqrt") -> np.ndarray:
    """Loss weight per class (mean 1 over the classes present in `y`): inverse square root of each class's frequency
    ("sqrt"; lifts rare disgust/fear without wrecking accuracy), inverse frequency ("inverse") or none."""
    counts = np.bincount(y, minlength=n).astype(float)
    present = counts > 0
    w = {"sqrt": 1.0 / np.sqrt(np.maximum(counts, 1)), "inverse": 1.0 / np.maximum(counts, 1), "none": np.ones(n)}[kind]
    return np.where(present, w * present.sum() / w[present].sum(), 0.0)


def make_datasets(
    train: FaceSet, targets: np.ndarray, val: FaceSet, cfg: TrainConfig, teacher: Callable[[tf.Tensor], tf.Tensor] | None = None,
) -> tuple[tf.data.Dataset, tf.data.Dataset, int]:
    """tf.data pipelines over in-memory uint8 faces and their target distributions (N x classes), and the training
    steps per epoch. Training draws each source's share of an epoch's faces (`source_shares`), each face weighted by
    its class's weight within its source (`cfg.class_weights`); augmentation runs batched in the pipeline, then mixup
    (`cfg.mixup`) blends faces and targets in pairs. With a `teacher`, each target becomes
    `(1 - teacher_weight) x target + teacher_weight x the teacher's probabilities for the augmented (and blended) face`."""
    n = len(train.labels)
    batch_size = min(cfg.batch_size, len(train.y))
    aug = augmenter(cfg.seed, cfg.augment)
    source = train.source if train.source is not None else np.zeros(len(train.y), np.int32)
    members = [np.flatnonzero(source == i) for i in range(source.max() + 1)]
    shares = source_shares(cfg.source_weights, [len(m) for m in members])

    def prepare(x, y, w, training: bool):
        x = tf.cast(x[..., None], tf.float32)
        if training:
            x = aug(x, training=True)
            if AUGMENTS[cfg.augment].get("camera"):
                x = camera_shift(x)
            if cfg.mixup:
                x, y = mixup(x, y, cfg.mixup)
            if teacher is not None:
                y = (1 - cfg.teacher_weight) * y + cfg.teacher_weight * teacher(x)
        return x, y, w

    def source_faces(i: int, idx: np.ndarray) -> tf.data.Dataset:
        weights = class_weights(train.y[idx], n, cfg.class_weights)[train.y[idx]].astype(np.float32)
        return (tf.data.Dataset.from_tensor_slices((train.x[idx], targets[idx], weights))
                .shuffle(len(idx), seed=cfg.seed + i, reshuffle_each_iteration=True).repeat())

    picked = [(i, idx) for i, idx in enumerate(members) if shares[i] > 0]
    faces = source_faces(*picked[0]) if len(picked) == 1 else tf.data.Dataset.sample_from_datasets(
        [source_faces(i, idx) for i, idx in picked], weights=[float(shares[i]) for i, _ in picked], seed=cfg.seed)
    train_ds = (
        faces.batch(batch_size, drop_remainder=True)
        .map(lambda x, y, w: prepare(x, y, w, True), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = tf.data.Dataset.from_tensor_slices((val.x, np.eye(n, dtype=np.float32)[val.y])).batch(256).map(
        lambda x, y: (tf.cast(x[..., None], tf.float32), y))
    return train_ds, val_ds, (cfg.epoch_faces or len(train.y)) // batch_size


class SourceValidation(keras.callbacks.Callback):
    """Every source's val accuracy and macro recall each epoch (`val_<source>_accuracy`, `val_<source>_macro_recall`)
    and `val_score`, what the kept epoch is chosen by (`cfg.select`): the first source's val accuracy, or the mean of
    every source's accuracy and macro recall. Placed after SwapEMAWeights, so it scores the weights that are kept."""

    def __init__(self, vals: dict[str, FaceSet], select: str):
        super().__init__()
        self.vals, self.select = vals, select

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        forward, scores = graph_forward(self.model), []
        for name, val in self.vals.items():
            result = score(val.y, run_model(forward, val.x[..., None]).argmax(axis=1), val.labels)
            logs[f"val_{name}_accuracy"], logs[f"val_{name}_macro_recall"] = result["accuracy"], result["macro_recall"]
            scores += [result["accuracy"], result["macro_recall"]]
        logs["val_score"] = float(np.mean(scores)) if self.select == "mean" else logs[f"val_{next(iter(self.vals))}_accuracy"]


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
            f"val_acc {logs.get('val_accuracy', 0):.4f} "
            + "".join(f"{key} {value:.4f} " for key, value in logs.items() if key.endswith("_recall") or key == "val_score"
                      or (key.endswith("_accuracy") and key.count("_") > 1))
            + f"({logs['seconds']:.0f} s)",
            flush=True,
        )


def compile_model(cfg: TrainConfig, num_classes: int, steps_per_epoch: int) -> keras.Model:
    """The logits model with AdamW and warmup + cosine decay over the whole run."""
    with dtype_policy("mixed_bfloat16" if cpu_has_bf16() else "float32"):
        model = build_logits_model(cfg.arch, num_classes)
    total = cfg.epochs * steps_per_epoch
    warmup = min(cfg.warmup_epochs * steps_per_epoch, total // 5)
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate / 10, total - warmup, alpha=0.01, warmup_target=cfg.learning_rate, warmup_steps=warmup
    )
    model.compile(
        # EMA of the weights (Polyak averaging) when cfg.ema > 0: validated, kept and shipped in their place.
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, use_ema=cfg.ema > 0,
                                         ema_momentum=cfg.ema or 0.99),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def initial_weights(model: keras.Model, source: str | Path) -> None:
    """Start `model` from trained weights (a warm restart): a run folder (its best weights or model file), a
    `.weights.h5` file or a model file saved by this project, of the same architecture or, pruned
    to fit (`training.prune`), of a wider one with the same chain of layers (VGG-style; shortcuts branch it)."""
    source, arch = Path(source), model.name.removeprefix("emotion_")
    if source.is_dir():
        if (source / "run.json").is_file():
            arch = TrainConfig.read(source).arch
        # A finished run keeps only its model file (the same best weights, plus the temperature).
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
            trained, _ = load_model(source)  # the same weights plus a weightless temperature layer
            nested = [layer for layer in trained.layers if isinstance(layer, keras.Model)]
            if len(nested) == 1:  # an ensemble's member written back by `unpack`: its model inside output layers
                trained = nested[0]
        prune_into(trained, model)  # a plain copy when the widths are the same
    except ValueError:
        raise ValueError(f"{source}: its architecture differs from '{model.name}' and is not a wider chain of the same "
                         "layers; use the same --arch or a narrower one") from None


def start_run(cfg: TrainConfig | None, out: Path, resume: bool, overwrite: bool) -> TrainConfig:
    """The run's configuration: read back from `out` to resume, else `cfg`, written to a fresh run folder."""
    if resume and (out / "run.json").exists():
        return TrainConfig.read(out)
    if cfg is None:
        raise ValueError(f"{out}: no training run to resume; start one with --data")
    if (out / "run.json").exists() and not overwrite:
        raise ValueError(f"{out} already holds a training run; pass --resume to continue it, "
                         "--overwrite to start it over, or choose another --out")
    shutil.rmtree(out / "backup", ignore_errors=True)
    for stale in ("history.csv", "best.weights.h5", TEACHER_TARGETS):
        (out / stale).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    cfg.write(out)
    return cfg


BATCHNORM_FACES = 4096  # clean train faces whose statistics a finished run's BatchNorm layers keep
# Faces per pass while they are measured: all 4096 in one pass held ~24 GB with the `res` arch (killed, out of
# memory). The passes' statistics are averaged, as torch.optim.swa_utils.update_bn does; the variance then leaves
# out how the passes' means differ, a small part with passes of hundreds of random faces.
BATCHNORM_BATCH = 512


def reestimate_batchnorm(model: keras.Model, faces: np.ndarray, batch: int = BATCHNORM_BATCH) -> None:
    """Set each BatchNorm layer's moving mean and variance to those of `faces` (N x 48 x 48 uint8) as inference sees
    them: neither augmented nor mixed. Training leaves averages over augmented, mixed batches; a model pruned from a
    wider one and briefly trained lost over a point of val to them (models/LIVE_MODEL_CARD.md)."""
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    seen = 0
    try:
        for start in range(0, len(faces), batch):
            chunk = faces[start:start + batch]
            for layer in norms:  # the moving statistics become the passes' average, weighted by their faces
                layer.momentum = seen / (seen + len(chunk))
            model(chunk[..., None].astype(np.float32), training=True)
            seen += len(chunk)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def val_accuracy(model: keras.Model, val: FaceSet) -> float:
    """Single-pass accuracy of a logits model on val."""
    return float(np.mean(run_model(graph_forward(model), val.x[..., None]).argmax(axis=1) == val.y))


def reestimate_batchnorm_if_better(model: keras.Model, faces: np.ndarray, val: FaceSet) -> bool:
    """`reestimate_batchnorm`, kept only if val accuracy does not drop; whether it was kept. The re-estimated
    statistics lifted the pruned live model (models/LIVE_MODEL_CARD.md) but lowered the photo ensemble's members."""
    trained, as_trained = model.get_weights(), val_accuracy(model, val)
    reestimate_batchnorm(model, faces)
    if val_accuracy(model, val) < as_trained:
        model.set_weights(trained)
        return False
    return True


def train(cfg: TrainConfig | None, out: str | Path, resume: bool = False, until: int | None = None,
          finalize_only: bool = False, overwrite: bool = False) -> dict:
    """Train (or resume) a run in `out`, then write its model and reports; returns metrics.

    `finalize_only` writes the outputs from the run's best weights so far without training, e.g.
    to ship a model while the run goes on in the background.
    """
    out = Path(out)
    cfg = start_run(cfg, out, resume or finalize_only, overwrite)
    history = read_history(out / "history.csv")
    # Offset by the epochs already done: a resumed process must not replay epoch 1's shuffle and
    # augmentations (it did: the first epoch after every resume scored ~4 points higher train accuracy).
    keras.utils.set_random_seed(cfg.seed + (0 if history is None else history["epoch"].nunique()))

    train_sets = load_sources(cfg.data, "train")
    labels = train_sets[0].labels
    vals = {source_name(data): val for data, val in zip(cfg.data, load_sources(cfg.data, "val", labels))}
    val_set = next(iter(vals.values()))  # the first source's: `val_accuracy`, calibration and the BatchNorm check
    train_set = concatenate(train_sets)
    targets = np.eye(len(labels), dtype=np.float32)[train_set.y]
    teacher = None
    if cfg.teacher and not finalize_only:  # --finalize only evaluates: no targets needed
        if cfg.consistent:
            teacher = online_teacher(cfg.teacher, labels)
        else:
            targets = run_teacher_targets(cfg.teacher, cfg.teacher_weight, train_set, out)
        print(f"targets: {1 - cfg.teacher_weight:g} x label + {cfg.teacher_weight:g} x the teacher's probabilities"
              f"{' for each augmented face' if teacher else ''}", flush=True)
    train_ds, val_ds, steps = make_datasets(train_set, targets, val_set, cfg, teacher)
    model = compile_model(cfg, len(labels), steps)
    sizes = ", ".join(f"{name} {len(s.y)}/{len(vals[name].y)}" for name, s in zip(vals, train_sets))
    print(f"{cfg.arch}: {model.count_params():,} parameters; train/val faces: {sizes}; {steps * min(cfg.batch_size, len(train_set.y))} "
          f"faces an epoch; {len(labels)} classes: {', '.join(labels)}", flush=True)

    if cfg.init_from and not (out / "backup").exists():
        initial_weights(model, cfg.init_from)
        print(f"starting from the weights of {cfg.init_from}", flush=True)
    if not finalize_only:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=min(until or cfg.epochs, cfg.epochs),
            steps_per_epoch=steps,
            callbacks=[
                keras.callbacks.BackupAndRestore(out / "backup", delete_checkpoint=False),
                # After the backup (which keeps the raw weights to train on), before the scores and the checkpoint
                # (which see the EMA ones).
                *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if cfg.ema else []),
                SourceValidation(vals, cfg.select),
                EpochSummary(),
                keras.callbacks.CSVLogger(out / "history.csv", append=True),
                keras.callbacks.ModelCheckpoint(
                    out / "best.weights.h5", monitor="val_score", mode="max", save_best_only=True,
                    save_weights_only=True,  # a resumed run keeps the true best weights
                    initial_value_threshold=None if history is None else float(best_score(history)),
                ),
            ],
            verbose=1 if sys.stderr.isatty() else 0,
        )
    model.load_weights(out / "best.weights.h5")
    pick = np.random.default_rng(cfg.seed).choice(len(train_set.y), min(BATCHNORM_FACES, len(train_set.y)), replace=False)
    return finish_run(model, cfg, train_set.x[np.sort(pick)], vals, out)


def best_score(history: pd.DataFrame) -> float:
    """The best `val_score` of a run's epochs so far (runs from before it was logged chose by `val_accuracy`)."""
    return history["val_score" if "val_score" in history else "val_accuracy"].max()


def hardware() -> str:
    """The machine a run trains on, for its model card: CPU model and cores, GPUs."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "CPU") if Path("/proc/cpuinfo").exists() else "CPU"
    gpus = len(tf.config.list_physical_devices("GPU"))
    return f"{cpu}, {os.cpu_count()} cores, {gpus or 'no'} GPU"


def finish_run(model: keras.Model, cfg: TrainConfig, clean_faces: np.ndarray, vals: dict[str, FaceSet], out: Path) -> dict:
    """Set the BatchNorm statistics from `clean_faces` (train faces) where that does not lower the first source's val
    accuracy, calibrate on the sources' vals, save the model file, and write history plots and reports."""
    history = pd.read_csv(out / "history.csv").drop_duplicates("epoch", keep="last")
    shipped = float32_copy(model, cfg.arch)
    reestimated = reestimate_batchnorm_if_better(shipped, clean_faces, next(iter(vals.values())))
    metrics = finish_model(shipped, cfg.arch, vals, out, {
        "init_from": cfg.init_from,
        "teacher": cfg.teacher,
        "epochs_done": int(history["epoch"].max() + 1),
        "epochs_planned": cfg.epochs,
        "train_seconds": round(float(history["seconds"].sum())) if "seconds" in history else None,
        "precision": model.dtype_policy.name,  # mixed_bfloat16 where the CPU has AVX-512 BF16, else float32
        "hardware": hardware(),
        # BatchNorm statistics of this many clean train faces (`reestimate_batchnorm`); 0: the training's moving averages
        "batchnorm_faces": len(clean_faces) if reestimated else 0,
    })
    # Column order as CSVLogger writes it (epoch, then sorted keys), so a resumed run appends aligned rows.
    history[["epoch"] + sorted(c for c in history.columns if c != "epoch")].to_csv(out / "history.csv", index=False)
    plot_curves(history, out / "curves.png")
    return metrics
