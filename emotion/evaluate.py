"""Scoring a model on labelled faces: accuracy, per-class precision/recall/F1, confusion matrix, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix


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
        "n": int(len(y_true)),
        "labels": list(labels),
        "per_class": per_class,
        "confusion": confusion_matrix(y_true, y_pred, labels=idx).tolist(),
    }


def report_text(result: dict) -> str:
    """A human-readable report: accuracy, per-class table, confusion matrix."""
    labels = result["labels"]
    width = max(len(n) for n in labels) + 2
    lines = [f"accuracy {result['accuracy']:.4f} on {result['n']} faces", ""]
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


def plot_confusion(result: dict, path: str | Path, title: str) -> None:
    """Save the row-normalized confusion matrix with class names on both axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    cm = np.asarray(result["confusion"], dtype=float)
    cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay(cm, display_labels=result["labels"]).plot(ax=ax, cmap="Blues", values_format=".2f", colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(history: "pandas.DataFrame", path: str | Path) -> None:  # noqa: F821
    """Save loss and accuracy curves, train vs val, from a Keras CSVLogger history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = history["epoch"] + 1
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], label="train")
        ax.plot(epochs, history[f"val_{key}"], label="val")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
