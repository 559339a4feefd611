"""Exporting a model for deployment: TFLite (mobile, edge, fastest CPU inference) or SavedModel (TF Serving).

The exported model takes N x 48 x 48 x 1 float32 faces in 0-255 (the output of
`preprocess_face`) and returns calibrated logits, as the model file does. Its label order goes beside
it in `<name>.labels.json`, since neither format has a place for it, with the SHA-256 of the model
file it came from: `emotion.inference.lite_forward` uses an export only while that still matches.

A TFLite export can compute in int8 (weights and activations; the activations' ranges are set on a fixed
sample of training faces, the representative faces). CPUs with VNNI instructions run it several times
faster than float32; its cost in accuracy is measured on val by tests/training/test_export.py and in the model card.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from emotion.modelfile import OUTPUT, file_sha256, load_model, sidecar_path

FORMATS = ("tflite", "savedmodel")
REPRESENTATIVE_FACES = 500  # training faces that set the int8 ranges (a fixed sample: the same export every time)


def representative_faces(faces: np.ndarray, n: int = REPRESENTATIVE_FACES, seed: int = 0) -> np.ndarray:
    """A fixed random sample of `n` faces (N x 48 x 48 uint8) as the N x 48 x 48 x 1 float32 the model takes."""
    pick = np.random.default_rng(seed).choice(len(faces), min(n, len(faces)), replace=False)
    return faces[np.sort(pick)][..., None].astype(np.float32)


def tflite_bytes(saved_model: str, representative: np.ndarray | None = None) -> bytes:
    """Convert a SavedModel to TFLite: float32, or int8 with ranges set on `representative` faces
    (input and output stay float32)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([face[None]] for face in representative)
    return converter.convert()


def export(model_path: str | Path, fmt: str, out: str | Path, representative: np.ndarray | None = None) -> Path:
    """Write `model_path` as `fmt` to `out` (a .tflite file or a SavedModel folder) and its labels beside it;
    with `representative` faces (`representative_faces`), a TFLite export computes in int8."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if representative is not None and fmt != "tflite":
        raise ValueError("int8 quantization is for TFLite exports only; drop --int8 or use --format tflite")
    model, meta = load_model(model_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "savedmodel":
        model.export(str(out), format="tf_saved_model", verbose=False)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model.export(tmp, format="tf_saved_model", verbose=False)
            out.write_bytes(tflite_bytes(tmp, representative))
    sidecar_path(out).write_text(json.dumps({
        "labels": meta["labels"], "input": "N x 48 x 48 x 1 float32, 0-255 grayscale face",
        "output": OUTPUT, **{k: meta[k] for k in ("temperature",) if k in meta},
        "compute": "float32" if representative is None else f"int8, ranges set on {len(representative)} training faces",
        "source_sha256": file_sha256(model_path),
        **({"export_sha256": file_sha256(out)} if out.is_file() else {}),  # a damaged export is not used
    }, indent=2))
    return out
