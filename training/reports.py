"""A finished model's outputs: calibrated on val, saved as a model file, and reported (plots, text, metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from emotion.evaluate import report_text, score
from emotion.inference import TTA_VIEWS, graph_forward, run_model
from emotion.modelfile import save_model

from .architectures import calibrated_model
from .calibration import calibrated, expected_calibration_error, fit_temperature
from .data import FaceSet


def finish_model(logits_model: keras.Model, arch: str, vals: dict[str, FaceSet], out: Path, details: dict) -> dict:
    """Calibrate a float32 logits model on its sources' vals (name -> faces; the first is the run's `val`), save it
    as `out/model.keras` (labels, temperature and TTA setting inside), and write `confusion_matrix.png`, `report.txt`
    and `metrics.json` (with `details`; every source's scores under `sources`)."""
    first, val = next(iter(vals.items()))
    labels = val.labels
    forward = graph_forward(logits_model)
    logits = {name: run_model(forward, v.x[..., None]) for name, v in vals.items()}
    logits_tta = {name: run_model(forward, v.x[..., None], tta=True) for name, v in vals.items()}
    # One temperature for every source's faces: the file is used on all of them.
    temperature = fit_temperature(np.concatenate(list(logits.values())), np.concatenate([v.y for v in vals.values()]))
    results = {name: score(v.y, logits[name].argmax(1), labels) for name, v in vals.items()}
    results_tta = {name: score(v.y, logits_tta[name].argmax(1), labels) for name, v in vals.items()}
    result, result_tta = results[first], results_tta[first]
    metrics = {
        "split": f"val ({first})",
        "arch": arch,
        **details,
        "parameters": int(logits_model.count_params()),
        "val_accuracy": result["accuracy"],
        "val_accuracy_tta": result_tta["accuracy"],
        "val_macro_recall": result["macro_recall"],
        "val_macro_recall_tta": result_tta["macro_recall"],
        "temperature": round(temperature, 4),
        "ece_before": round(expected_calibration_error(calibrated(logits[first], 1.0), val.y), 4),
        "ece_after": round(expected_calibration_error(calibrated(logits[first], temperature), val.y), 4),
        "ece_after_tta": round(expected_calibration_error(calibrated(logits_tta[first], temperature), val.y), 4),
        "per_class_recall": {n: result["per_class"][n]["recall"] for n in labels},
        "per_class_recall_tta": {n: result_tta["per_class"][n]["recall"] for n in labels},
        "confusion": result["confusion"],
        "sources": {name: source_scores(results[name], results_tta[name]) for name in vals},
    }
    # TTA costs a pass per view (small next to finding faces in a photo); on by default if it helps >= 0.5 points.
    metrics["tta_default"] = bool(result_tta["accuracy"] - result["accuracy"] >= 0.005)
    save_model(calibrated_model(logits_model, temperature), out / "model.keras", labels, temperature=temperature,
               arch=arch, val_accuracy=result["accuracy"], val_accuracy_tta=result_tta["accuracy"],
               tta_default=metrics["tta_default"])
    plot_confusion(result, out / "confusion_matrix.png", f"val ({first}), {arch} (normalized by true class)")
    (out / "report.txt").write_text("\n\n".join(
        f"val ({name}):\n" + report_text(results[name]) + f"\n\nwith test-time augmentation ({TTA_VIEWS}):\n"
        + report_text(results_tta[name]) for name in vals) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    for name in vals:
        print(f"val ({name}) accuracy {results[name]['accuracy']:.4f} (TTA {results_tta[name]['accuracy']:.4f}), "
              f"macro recall {results[name]['macro_recall']:.4f} (TTA {results_tta[name]['macro_recall']:.4f})", flush=True)
    print(f"temperature {temperature:.3f}; ECE {metrics['ece_before']:.4f} -> {metrics['ece_after']:.4f}; "
          f"model saved to {out / 'model.keras'}", flush=True)
    return metrics


def source_scores(result: dict, result_tta: dict) -> dict:
    """One source's val scores for metrics.json: accuracy, macro recall and per-class recall, single pass and TTA."""
    return {"accuracy": result["accuracy"], "accuracy_tta": result_tta["accuracy"],
            "macro_recall": result["macro_recall"], "macro_recall_tta": result_tta["macro_recall"],
            "per_class_recall": {n: v["recall"] for n, v in result["per_class"].items()},
            "per_class_recall_tta": {n: v["recall"] for n, v in result_tta["per_class"].items()}}


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


def read_history(history_csv: Path) -> pd.DataFrame | None:
    """An existing run's per-epoch history, or None for a new run."""
    if history_csv.exists() and history_csv.stat().st_size:
        return pd.read_csv(history_csv)
    return None


def plot_curves(history: pd.DataFrame, path: str | Path) -> None:
    """Save loss and accuracy curves, train vs val, from a Keras CSVLogger history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = history["epoch"] + 1
    # A run on several sources also logs each source's val (val_<source>_accuracy) and the score it selects by.
    per_source = [c for c in history.columns if c.startswith("val_") and c.endswith("_accuracy") and c != "val_accuracy"]
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], label="train")
        if key == "accuracy" and per_source:
            for column in per_source:
                ax.plot(epochs, history[column], label=f"val ({column.removeprefix('val_').removesuffix('_accuracy')})")
            if "val_score" in history:
                ax.plot(epochs, history["val_score"], "--", label="val score (selects)")
        else:
            ax.plot(epochs, history[f"val_{key}"], label="val")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
