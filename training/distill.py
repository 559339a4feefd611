"""Knowledge distillation (Hinton et al. 2015): targets that mix the labels with teachers' probabilities.

Two ways: fixed targets, each training face scored once with TTA before training (`teacher_targets`), or
consistent ones, the teachers scoring every augmented face as the student sees it, in every epoch
(`online_teacher`; Beyer et al. 2022, "a good teacher is patient and consistent"). Several teachers act
as one ensemble: their log-probabilities are averaged, as TTA averages views.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf
from scipy.special import log_softmax, softmax

from emotion.detector import EmotionDetector
from emotion.inference import TTA_VIEWS, pick_export
from emotion.modelfile import file_sha256, load_model

from .architectures import cpu_has_bf16, mixed_bfloat16_copy
from .data import FaceSet

TEACHER_TARGETS = "teacher_targets.npy"  # in a run folder: its fixed targets
TEACHER_CACHE = "teacher-cache"  # beside the run folders: each teacher's scores, shared by runs


def label_order(teacher: str | Path, teacher_labels, labels: tuple[str, ...]) -> list[int]:
    """Which of the teacher's outputs is each of `labels`: teacher and data may list the classes differently."""
    if sorted(teacher_labels) != sorted(labels):
        raise ValueError(f"{teacher}: the teacher's classes ({', '.join(teacher_labels)}) differ from the data's")
    return [list(teacher_labels).index(label) for label in labels]


def teacher_log_probs(teacher: str | Path, faces: FaceSet, cache_dir: Path | None = None) -> np.ndarray:
    """The teacher's TTA log-probabilities for `faces`, columns in `faces.labels` order.

    Kept in `cache_dir` under the teacher file's and the faces' digests: scoring 28,709 faces with 18
    views takes 5-15 minutes per teacher, and successive runs often share a teacher."""
    key = hashlib.sha256(faces.x.tobytes() + "|".join(faces.labels).encode()).hexdigest()[:16]
    cache = cache_dir / f"{file_sha256(teacher)[:16]}-{key}.npy" if cache_dir else None
    if cache and cache.exists():
        return np.load(cache)
    if pick_export(teacher) is None:
        print(f"{teacher}: no TFLite export beside it, so the model file scores the faces, several times slower; "
              f"`emotion-train export --model {teacher} --int8 DATA` first makes it fast", flush=True)
    detector = EmotionDetector.load(teacher, finder="live", tta=True, prior="training")  # what it learned
    order = label_order(teacher, detector.labels, faces.labels)
    log_probs = log_softmax(detector.logits(faces.x[..., None].astype(np.float32)), axis=1)[:, order]
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, log_probs)
    return log_probs


def teacher_targets(teachers: list[str | Path], faces: FaceSet, weight: float, cache_dir: Path | None = None) -> np.ndarray:
    """Fixed targets `(1 - weight) * one-hot label + weight * the teachers' probabilities` (TTA, averaged)."""
    log_probs = [teacher_log_probs(teacher, faces, cache_dir) for teacher in teachers]
    probs = softmax(np.mean(log_probs, axis=0), axis=1)
    return ((1 - weight) * np.eye(len(faces.labels))[faces.y] + weight * probs).astype(np.float32)


def run_teacher_targets(teachers: list[str], weight: float, faces: FaceSet, out: Path) -> np.ndarray:
    """A run's fixed targets, computed once and kept in the run folder (a run resumed in every session
    would pay the scoring each time); each teacher's scores are shared by the runs beside it."""
    cache = out / TEACHER_TARGETS
    if cache.exists():
        return np.load(cache)
    print(f"scoring the training faces with the teacher(s) {', '.join(teachers)} ({TTA_VIEWS}) ...", flush=True)
    targets = teacher_targets(teachers, faces, weight, cache_dir=out.parent / TEACHER_CACHE)
    np.save(cache, targets)
    return targets


def online_teacher(teachers: list[str | Path], labels: tuple[str, ...]) -> Callable[[tf.Tensor], tf.Tensor]:
    """The teachers as one ensemble scoring a batch of faces inside the input pipeline: their averaged
    log-probabilities, softmaxed, columns in `labels` order (single view: the face is already augmented)."""
    members = []
    for teacher in teachers:
        model, meta = load_model(teacher)
        # Scoring every augmented face costs more than the student's own step: bfloat16 where the CPU has it.
        members.append((mixed_bfloat16_copy(model) if cpu_has_bf16() else model, label_order(teacher, meta["labels"], labels)))

    def probabilities(x: tf.Tensor) -> tf.Tensor:
        log_probs = [tf.gather(tf.nn.log_softmax(model(x, training=False), axis=1), order, axis=1) for model, order in members]
        return tf.nn.softmax(tf.reduce_mean(log_probs, axis=0), axis=1)

    return probabilities
