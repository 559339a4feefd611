"""Model files: a Keras `.keras` archive that carries its own label order and calibration.

The archive has one extra entry, `emotion_meta.json`: the label order the model was trained with, its
temperature, its TTA default, and its priors: `train_prior`, the share of each class in its training data (what its
probabilities assume), and `default_prior`, the shares inference assumes unless told otherwise (`emotion.prior`). Loading reads the labels back instead of assuming an order (mixing
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
import math
import numbers
import zipfile
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "models"  # the shipped model files
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


def check_labels(labels, source: str | Path) -> tuple[str, ...]:
    """`labels` as a tuple if it is a non-empty list of distinct non-empty names, else ModelFileError naming `source`."""
    if (not isinstance(labels, list) or not labels or len(labels) > 1000
            or not all(isinstance(n, str) and n.strip() for n in labels) or len(set(labels)) != len(labels)):
        raise ModelFileError(f"{source}: its label list is damaged (expected distinct class names); "
                             "re-export or re-train the model")
    return tuple(labels)


def read_meta(path: str | Path) -> dict:
    """The metadata stored in a model file by `save_model` (labels, ...), checked, without loading the model."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    fix = "choose a .keras file trained by this project (emotion-train train)"
    try:
        with zipfile.ZipFile(path) as zf:
            if META_ENTRY not in zf.namelist():
                raise ModelFileError(f"{path}: no label order stored in this model file; {fix}")
            meta = json.loads(zf.read(META_ENTRY))
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError):
        raise ModelFileError(f"{path}: not a readable .keras model file (damaged or another format); {fix}") from None
    except (ValueError, UnicodeDecodeError):  # JSON that does not parse
        raise ModelFileError(f"{path}: its metadata is damaged; {fix}") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: its metadata is damaged (not an object); {fix}")
    meta["labels"] = list(check_labels(meta.get("labels"), path))
    temperature = meta.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < math.inf:
        raise ModelFileError(f"{path}: its temperature is damaged (not a positive number); {fix}")
    if not isinstance(meta.get("tta_default", False), bool):
        raise ModelFileError(f"{path}: its TTA setting is damaged (not true/false); {fix}")
    for key in ("train_prior", "default_prior"):
        if key in meta and not is_prior(meta[key], meta["labels"]):
            raise ModelFileError(f"{path}: its {key} is damaged (expected a positive share per label); {fix}")
    return meta


def is_prior(prior, labels: list[str]) -> bool:
    """True if `prior` maps exactly `labels` to positive finite shares."""
    return (isinstance(prior, dict) and set(prior) == set(labels)
            and all(not isinstance(v, bool) and isinstance(v, numbers.Real) and 0 < v < math.inf for v in prior.values()))


def write_meta(path: str | Path, **meta) -> None:
    """Add or replace entries of a model file's metadata (the Keras model in it is left byte for byte)."""
    path = Path(path)
    merged = {**read_meta(path), **meta}
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != META_ENTRY:
                dst.writestr(item, src.read(item.filename))
        dst.writestr(META_ENTRY, json.dumps(merged, indent=2))
    tmp.replace(path)


def load_model(path: str | Path) -> tuple["keras.Model", dict]:  # noqa: F821
    """Load a model file saved by `save_model`: the model (faces -> calibrated logits) and its metadata.

    Keras loads in safe mode: a Lambda layer's code is refused, not run."""
    import keras  # here, not at the top: the TFLite path (the page, live video) runs without TensorFlow

    meta = read_meta(path)
    try:
        model = keras.saving.load_model(path, compile=False)
        if meta.get("output") != OUTPUT:  # an older file: its softmax follows the calibrated logits
            model = keras.Model(model.input, model.get_layer(TEMPERATURE_LAYER).output, name=model.name)
        outputs = model.output_shape[-1]
    except Exception as exc:  # Keras raises many types for damaged archives, weights and configs
        raise ModelFileError(f"{path}: Keras cannot load this model file ({type(exc).__name__}: damaged weights or "
                             "a layer it does not know); choose a .keras file trained by this project") from None
    if outputs != len(meta["labels"]):
        raise ModelFileError(f"{path}: model has {outputs} outputs but {len(meta['labels'])} labels")
    return model, meta


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file: ties an export to the exact model file it was made from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar_path(export: str | Path) -> Path:
    """Where an export (`x.tflite` or a SavedModel folder `x`) keeps its labels: `x.labels.json`."""
    export = Path(export)
    return export.parent / f"{export.stem if export.suffix == '.tflite' else export.name}.labels.json"
