"""Exporting a model for deployment: TFLite (mobile, edge, fastest CPU inference) or SavedModel (TF Serving).

The exported model takes N x 48 x 48 x 1 float32 faces in 0-255 (the output of
`preprocess_face`) and returns calibrated probabilities. Its label order goes beside it in
`<name>.labels.json`, since neither format has a place for it, with the SHA-256 of the model
file it came from: `emotion.model.lite_predictor` uses an export only while that still matches.

A TFLite export can compute in int8 (weights and activations, ranges calibrated on training faces):
on this project's CPUs (AVX-512 VNNI) XNNPACK runs it ~4x faster than float32, for 0.1-0.2 points of
val accuracy (vgg-slim: 66.5% vs 66.6% single, 69.7% vs 69.9% TTA; 98.7% of val faces get the same label).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from .model import file_sha256, load_model, sidecar_path

FORMATS = ("tflite", "savedmodel")
CALIBRATION_FACES = 500  # training faces that set the int8 ranges (a fixed sample: the same export every time)


def calibration_faces(faces: np.ndarray, n: int = CALIBRATION_FACES, seed: int = 0) -> np.ndarray:
    """A fixed random sample of `n` faces (N x 48 x 48 uint8) as the N x 48 x 48 x 1 float32 the model takes."""
    pick = np.random.default_rng(seed).choice(len(faces), min(n, len(faces)), replace=False)
    return faces[np.sort(pick)][..., None].astype(np.float32)


def tflite_bytes(saved_model: str, calibration: np.ndarray | None = None) -> bytes:
    """Convert a SavedModel to TFLite: float32, or int8 calibrated on `calibration` faces."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if calibration is None:
        return converter.convert()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([face[None]] for face in calibration)
    # The softmax stays float: int8 probabilities come in steps of 1/256, so small ones become 0, which
    # breaks TTA (it averages log-probabilities) and calibration. Input and output stay float32 too.
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=lambda: ([face[None]] for face in calibration[:32]),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=["SOFTMAX"]),
    )
    return debugger.get_nondebug_quantized_model()


def export(model_path: str | Path, fmt: str, out: str | Path, calibration: np.ndarray | None = None) -> Path:
    """Write `model_path` as `fmt` to `out` (a .tflite file or a SavedModel folder) and its labels beside it;
    with `calibration` faces (`calibration_faces`), a TFLite export computes in int8."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if calibration is not None and fmt != "tflite":
        raise ValueError("int8 quantization is for TFLite exports only; drop --int8 or use --format tflite")
    model, meta = load_model(model_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "savedmodel":
        model.export(str(out), format="tf_saved_model", verbose=False)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model.export(tmp, format="tf_saved_model", verbose=False)
            out.write_bytes(tflite_bytes(tmp, calibration))
    sidecar_path(out).write_text(json.dumps({
        "labels": meta["labels"], "input": "N x 48 x 48 x 1 float32, 0-255 grayscale face",
        "output": "probabilities per label", **{k: meta[k] for k in ("temperature",) if k in meta},
        "compute": "float32" if calibration is None else f"int8 (softmax float32), calibrated on {len(calibration)} training faces",
        "source_sha256": file_sha256(model_path),
    }, indent=2))
    return out
