"""Scoring a model on labelled faces: a folder with one sub-folder per emotion in, accuracy, macro
recall, per-class precision/recall/F1 and the confusion matrix out (`python -m emotion evaluate`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from .imageio import IMAGE_SUFFIXES, ImageError, read_image
from .labels import FER2013_LABELS, canonical_label


def class_folders(root: str | Path, known: tuple[str, ...] | None = None) -> tuple[dict[str, list[Path]], list[str]]:
    """Map canonical class name -> image files under `root/<class>/`; also return skipped folders.

    Folder names are matched through `labels.ALIASES`; with `known`, classes outside it are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder; expected one sub-folder per emotion class")
    classes: dict[str, list[Path]] = {}
    skipped: list[str] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        label = canonical_label(sub.name)
        if label is None or (known is not None and label not in known):
            skipped.append(sub.name)
            continue
        files = sorted(f for f in sub.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        classes.setdefault(label, []).extend(files)
    if not classes:
        raise FileNotFoundError(f"{root}: no class sub-folders found (e.g. {', '.join(FER2013_LABELS)})")
    return classes, skipped


def score(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Accuracy, per-class metrics and the confusion matrix (rows = true class) as plain JSON types."""
    idx = list(range(len(labels)))
    report = classification_report(
        y_true, y_pred, labels=idx, target_names=list(labels), output_dict=True, zero_division=0
    )
    per_class = {
        name: {k: round(float(report[name][k]), 4) for k in ("precision", "recall", "f1-score", "support")}
        for name in labels
    }
    return {
        "accuracy": round(float(np.mean(y_true == y_pred)) if len(y_true) else 0.0, 4),
        # Mean per-class recall, over the classes the data has (a set of 6 emotions is not marked down for a 7th):
        # FER2013's class prior (happy 25%, disgust 1.5%) is not a user's.
        "macro_recall": round(float(np.mean([per_class[n]["recall"] for n in labels if per_class[n]["support"]]
                                            or [0.0])), 4),
        "n": int(len(y_true)),
        "labels": list(labels),
        "per_class": per_class,
        "confusion": confusion_matrix(y_true, y_pred, labels=idx).tolist(),
    }


def report_text(result: dict) -> str:
    """A human-readable report: accuracy, per-class table, confusion matrix."""
    labels = result["labels"]
    width = max(len(n) for n in labels) + 2
    lines = [f"accuracy {result['accuracy']:.4f} on {result['n']} faces; macro recall {result['macro_recall']:.4f}", ""]
    lines.append(f"{'class':<{width}}precision  recall  f1-score  support")
    for name in labels:
        m = result["per_class"][name]
        lines.append(
            f"{name:<{width}}{m['precision']:>9.3f}{m['recall']:>8.3f}{m['f1-score']:>10.3f}{int(m['support']):>9d}"
        )
    lines += ["", "confusion matrix (rows = true, columns = predicted)", " " * width + "".join(f"{n[:7]:>8}" for n in labels)]
    for name, row in zip(labels, result["confusion"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)




def evaluate_folder(detector, data_dir: str | Path, find_faces: bool = False) -> tuple[dict, list[str]]:
    """Score `detector` (an EmotionDetector) on `data_dir/<class>/*`; returns the result and one message per
    skipped folder or unreadable file. Each image is one face crop, or with `find_faces` a photo whose
    largest face carries the label; an image where no face is found counts as a wrong answer."""
    classes, skipped = class_folders(data_dir, known=detector.labels)
    notes = [f"skipped folder '{name}': not a class this model knows ({', '.join(detector.labels)})" for name in skipped]
    y_true, y_pred, no_face, unreadable = [], [], [], 0
    for label, files in classes.items():
        for path in files:
            try:
                image = read_image(path)
            except ImageError as exc:
                notes.append(f"skipped {exc}")
                unreadable += 1
                continue
            if find_faces:
                faces = detector.detect(image)
                scores = max(faces, key=lambda f: f.box[2] * f.box[3]).scores if faces else None
            else:
                scores = detector.classify([image])[0]
            if scores is None:
                no_face.append(str(path))
            y_true.append(detector.labels.index(label))
            y_pred.append(-1 if scores is None else detector.labels.index(max(scores, key=scores.get)))
    result = score(np.array(y_true, dtype=int), np.array(y_pred, dtype=int), detector.labels)
    result.update(no_face=len(no_face), no_face_files=no_face[:50], unreadable=unreadable, tta=detector.tta,
                  prior=detector.prior, detect=find_faces, data_dir=str(data_dir))
    return result, notes
