"""The emotion CNN: architecture, and saving/loading a model together with its label order.

A model file is a Keras `.keras` archive with one extra entry, `emotion_meta.json`, holding the
label order it was trained with and its calibration temperature. Loading reads the labels back
instead of assuming an order: mixing folder order with FER2013 order is the classic bug.

Architecture ("vgg"): a VGG-style stack of double 3x3 conv blocks with BatchNorm, the design of the
strongest published single FER2013 CNNs (Khaireddin & Chen 2021), narrowed to fit CPU training.
The model ends in logits; the inference model appends Rescaling(1/T) and a softmax, so the
temperature-scaled probabilities come out of the model file itself (and out of a TFLite export).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import cv2
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from .preprocess import INPUT_SIZE

META_ENTRY = "emotion_meta.json"
ARCHS = {
    # name: (conv widths per block, dense units)
    "vgg": ((40, 80, 160, 320), 256),
    "vgg-small": ((32, 64, 128, 256), 256),
    # 3/4 of vgg-small's width: 0.56x its multiply-adds; TFLite, batch 32, 2 cores, side by side: 0.81-1.2 vs
    # 1.42-1.67 ms per face as this machine's load varied (bench/RESULTS.md has the live-path figure).
    "vgg-slim": ((24, 48, 96, 192), 256),
    # vgg-slim with a 16-wide first block: that block's 48x48 maps make it the costliest per
    # multiply-add; 0.75 vs 1.0 ms per face (untrained, TFLite, batch 32, 2 cores, side by side).
    "vgg-lean": ((16, 48, 96, 192), 256),
    "tiny": ((8, 16, 32, 32), 32),  # for tests only: trains in seconds
}


def _conv_block(x, filters: int):
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    return layers.MaxPooling2D()(x)


def build_logits_model(arch: str, num_classes: int) -> keras.Model:
    """uint8-range faces (N x 48 x 48 x 1) -> class logits (float32 even under mixed precision)."""
    widths, dense = ARCHS[arch]
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.Rescaling(1.0 / 255)(inputs)
    # Regularization comes from augmentation and weight decay: SpatialDropout in every block kept
    # this narrow net near chance for the first epochs (measured: 20% vs 48% train accuracy).
    for width in widths:
        x = _conv_block(x, width)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dense, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.4)(x)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=f"emotion_{arch}")


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Build layers under Keras dtype policy `name` ("float32", "mixed_bfloat16"), then restore the global
    one: a layer keeps the policy it was built with, and a leaked global policy changes every later model."""
    saved = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(saved)


def float32_copy(trained: keras.Model, arch: str) -> keras.Model:
    """`trained` (built under any dtype policy, e.g. mixed bfloat16) as a float32 logits model of `arch`."""
    with dtype_policy("float32"):
        copy = build_logits_model(arch, trained.output_shape[-1])
    copy.set_weights(trained.get_weights())
    return copy


def inference_model(logits: keras.Model, temperature: float = 1.0) -> keras.Model:
    """`logits` (a float32 model) with temperature-scaled probabilities as its output.

    The scaling layer is named "temperature": `emotion.ensemble` reads a member's calibrated logits there."""
    scaled = layers.Rescaling(1.0 / temperature, name="temperature")(logits.output)
    probs = layers.Activation("softmax", dtype="float32", name="probabilities")(scaled)
    return keras.Model(logits.input, probs, name=logits.name)


def save_model(model: keras.Model, path: str | Path, labels: tuple[str, ...], **meta) -> None:
    """Save `model` to a `.keras` file with its label order (and any extra metadata) inside."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(META_ENTRY, json.dumps({"labels": list(labels), **meta}, indent=2))


def read_meta(path: str | Path) -> dict:
    """The metadata stored in a model file by `save_model` (labels, ...), without loading the model."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as zf:
            if META_ENTRY not in zf.namelist():
                raise ValueError(f"{path}: no label order stored in this model file; save it with emotion.model.save_model")
            return json.loads(zf.read(META_ENTRY))
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a Keras .keras model file") from None


def load_model(path: str | Path) -> tuple[keras.Model, dict]:
    """Load a model file saved by `save_model`; returns the model and its metadata (labels, ...)."""
    meta = read_meta(path)
    model = keras.saving.load_model(path, compile=False)
    if model.output_shape[-1] != len(meta["labels"]):
        raise ValueError(f"{path}: model has {model.output_shape[-1]} outputs but {len(meta['labels'])} labels")
    return model, meta


def predictor(model: keras.Model) -> Callable:
    """The model's forward pass compiled as one TensorFlow graph for any batch size.

    Calling the model directly costs ~8 ms per call in eager mode and `model.predict` ~57 ms;
    the compiled graph ~2 ms (measured for batch 1 on this project's CPUs).
    """
    spec = tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 1], tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])


# Test-time views: each zoom and rotation, plain and mirrored. Zooming in and out by 10% covers how
# differently detectors and datasets frame a face, rotating by 8 degrees how heads tilt. Val, default
# model (runs/slim2): 66.6% single pass, 68.5% mirrored, 69.3% with the zooms, 69.8% with the rotations
# too (30 shifted views instead of the rotations: 69.8%; all 90: 70.0%, not worth 5x the passes).
TTA_ZOOMS = (1.0, 0.9, 1.1)
TTA_ANGLES = (0.0, -8.0, 8.0)
TTA_VIEWS = f"{2 * len(TTA_ZOOMS) * len(TTA_ANGLES)} views: mirrored x zoom 0.9/1/1.1 x rotation -8/0/8 degrees"


def tta_views(x: np.ndarray) -> list[np.ndarray]:
    """The test-time views of N x 48 x 48 x 1 float32 faces (the first is `x` itself)."""
    centre, size = ((INPUT_SIZE - 1) / 2, (INPUT_SIZE - 1) / 2), (INPUT_SIZE, INPUT_SIZE)
    views = []
    for zoom in TTA_ZOOMS:
        for angle in TTA_ANGLES:
            matrix = cv2.getRotationMatrix2D(centre, angle, zoom)
            # Warping the face and its mirror image (not mirroring the warped face, which rounding makes
            # differ slightly) gives a mirrored photo exactly the same set of views, hence the same scores.
            for face in (x, x[:, :, ::-1]):
                if zoom == 1.0 and angle == 0.0:
                    views.append(face)
                else:
                    views.append(np.stack([cv2.warpAffine(f, matrix, size, borderMode=cv2.BORDER_REFLECT)
                                           for f in face[..., 0]])[..., None])
    return [np.ascontiguousarray(v) for v in views]


def run_model(forward: Callable, batch: np.ndarray, tta: bool = False, chunk: int = 256) -> np.ndarray:
    """Outputs of `forward` (`predictor` or `lite_predictor`) for N x 48 x 48 x 1 faces; with `tta`, their
    mean over `tta_views` (pass a forward that returns logits or log-probabilities)."""
    outputs = []
    for start in range(0, len(batch), chunk):
        x = np.asarray(batch[start : start + chunk], dtype=np.float32)
        views = tta_views(x) if tta else [x]
        outputs.append(np.mean([np.asarray(forward(v)) for v in views], axis=0))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file: ties an export to the exact model file it was made from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar_path(export: str | Path) -> Path:
    """Where an export (`x.tflite` or a SavedModel folder `x`) keeps its labels: `x.labels.json`."""
    export = Path(export)
    return export.parent / f"{export.stem if export.suffix == '.tflite' else export.name}.labels.json"


def lite_predictor(model_path: str | Path) -> Callable | None:
    """The TFLite export beside `model_path` (same name, `.tflite`) as a forward function, or None
    when there is none or it was exported from another version of the model file.

    TFLite's XNNPACK kernels run this CNN ~4x faster than the TF graph at batch 1 (1.6 vs 7 ms
    per face, bench/realtime.py): most of a live frame's budget. Not thread-safe; callers lock.
    """
    model_path = Path(model_path)
    lite, sidecar = model_path.with_suffix(".tflite"), sidecar_path(model_path.with_suffix(".tflite"))
    if not (lite.is_file() and sidecar.is_file()):
        return None
    if json.loads(sidecar.read_text()).get("source_sha256") != file_sha256(model_path):
        return None
    from ai_edge_litert.interpreter import Interpreter  # TFLite's runtime; tf.lite.Interpreter is deprecated

    interpreter = Interpreter(model_path=str(lite), num_threads=os.cpu_count())
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    planned: tuple = ()

    def forward(x: np.ndarray) -> np.ndarray:
        nonlocal planned
        if x.shape != planned:  # re-plan only when the batch size changes
            interpreter.resize_tensor_input(inp, x.shape)
            interpreter.allocate_tensors()
            planned = x.shape
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        return interpreter.get_tensor(out)

    return forward
