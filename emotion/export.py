"""Exporting a model for deployment: TFLite (mobile, edge, fastest CPU inference) or SavedModel (TF Serving).

The exported model takes N x 48 x 48 x 1 float32 faces in 0-255 (the output of
`preprocess_face`) and returns calibrated probabilities. Its label order goes beside it in
`<name>.labels.json`, since neither format has a place for it, with the SHA-256 of the model
file it came from: `emotion.model.lite_predictor` uses an export only while that still matches.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .model import file_sha256, load_model, sidecar_path

FORMATS = ("tflite", "savedmodel")


def export(model_path: str | Path, fmt: str, out: str | Path) -> Path:
    """Write `model_path` as `fmt` to `out` (a .tflite file or a SavedModel folder) and its labels beside it."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    import tensorflow as tf

    model, meta = load_model(model_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "savedmodel":
        model.export(str(out), format="tf_saved_model", verbose=False)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model.export(tmp, format="tf_saved_model", verbose=False)
            out.write_bytes(tf.lite.TFLiteConverter.from_saved_model(tmp).convert())
    sidecar_path(out).write_text(json.dumps({
        "labels": meta["labels"], "input": "N x 48 x 48 x 1 float32, 0-255 grayscale face",
        "output": "probabilities per label", **{k: meta[k] for k in ("temperature",) if k in meta},
        "source_sha256": file_sha256(model_path),
    }, indent=2))
    return out
