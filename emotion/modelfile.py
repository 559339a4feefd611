"""Model files: a Keras `.keras` archive that carries its own label order and calibration.

The archive has one extra entry, `emotion_meta.json`: the label order the model was trained with, its
temperature, its TTA default. Loading reads the labels back instead of assuming an order (mixing
folder order with FER2013 order is the classic bug).

The model maps N x 48 x 48 x 1 faces (0-255, the output of `preprocess_face`) to **calibrated logits**
(logits / temperature): softmax gives the probabilities, and averaging them over TTA views or ensemble
members needs no log of a softmax. Files saved before this convention end in a softmax layer; `load_model`
cuts it off, so they load the same way.

An export (`.tflite`, or a SavedModel folder) keeps its labels beside it in `<name>.labels.json`, with
the SHA-256 of the model file it came from: inference uses an export only while that still matches.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

META_ENTRY = "emotion_meta.json"
OUTPUT = "calibrated_logits"  # what a model file's output is, recorded in its metadata
# Layer names the model files share: the calibrated logits come out of "temperature"; files saved
# before OUTPUT existed add a softmax "probabilities" layer after it.
TEMPERATURE_LAYER = "temperature"


class ModelFileError(ValueError):
    """A model file or export that cannot be used; the message names the file and the problem."""


def save_model(model, path: str | Path, labels: tuple[str, ...], **meta) -> None:
    """Save `model` (faces -> calibrated logits) to a `.keras` file with its label order and `meta` inside."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(META_ENTRY, json.dumps({"labels": list(labels), "output": OUTPUT, **meta}, indent=2))


def read_meta(path: str | Path) -> dict:
    """The metadata stored in a model file by `save_model` (labels, ...), without loading the model."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as zf:
            if META_ENTRY not in zf.namelist():
                raise ModelFileError(f"{path}: no label order stored in this model file; save it with "
                                     "emotion.modelfile.save_model")
            return json.loads(zf.read(META_ENTRY))
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path}: not a Keras .keras model file") from None


def load_model(path: str | Path) -> tuple["keras.Model", dict]:  # noqa: F821
    """Load a model file saved by `save_model`: the model (faces -> calibrated logits) and its metadata."""
    import keras  # here, not at the top: the TFLite path (the page, live video) runs without TensorFlow

    meta = read_meta(path)
    model = keras.saving.load_model(path, compile=False)
    if meta.get("output") != OUTPUT:  # an older file: its softmax follows the calibrated logits
        model = keras.Model(model.input, model.get_layer(TEMPERATURE_LAYER).output, name=model.name)
    if model.output_shape[-1] != len(meta["labels"]):
        raise ModelFileError(f"{path}: model has {model.output_shape[-1]} outputs but {len(meta['labels'])} labels")
    return model, meta


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file: ties an export to the exact model file it was made from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar_path(export: str | Path) -> Path:
    """Where an export (`x.tflite` or a SavedModel folder `x`) keeps its labels: `x.labels.json`."""
    export = Path(export)
    return export.parent / f"{export.stem if export.suffix == '.tflite' else export.name}.labels.json"
