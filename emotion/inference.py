"""Running a model on preprocessed faces: its TFLite export or its TensorFlow graph, with optional
test-time augmentation (TTA). Both forwards return calibrated logits (see `emotion.modelfile`).

How the model is called decides the speed more than its size: for one face, `model.predict` ~57 ms,
eager `model(x)` ~8 ms, the compiled graph ~2 ms, the TFLite export well under 1 ms (../shared/README.md);
current figures per CPU kind are in bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .modelfile import OUTPUT, file_sha256, sidecar_path
from .preprocess import INPUT_SIZE

Forward = Callable[[np.ndarray], np.ndarray]  # N x 48 x 48 x 1 float32 faces -> N x labels calibrated logits

# Test-time views: each zoom and rotation, plain and mirrored. Zooming in and out by 10% covers how
# differently face finders and datasets frame a face, rotating by 8 degrees how heads tilt (the gain of
# each on val is in the model card's history).
TTA_ZOOMS = (1.0, 0.9, 1.1)
TTA_ANGLES = (0.0, -8.0, 8.0)
TTA_VIEWS = f"{2 * len(TTA_ZOOMS) * len(TTA_ANGLES)} views: mirrored x zoom 0.9/1/1.1 x rotation -8/0/8 degrees"


def graph_forward(model) -> Forward:
    """A Keras model's forward pass compiled as one TensorFlow graph for any batch size."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 1], tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])


@lru_cache(maxsize=1)
def cpu_has_vnni() -> bool:
    """True where int8 convolutions have their fast instructions (x86 AVX-512 VNNI or AVX-VNNI, Arm dot product):
    there XNNPACK runs an int8 export several times faster than float32; elsewhere it is no faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_vnni", "avx_vnni", "asimddp"))


def export_paths(model_path: str | Path) -> dict[str, Path]:
    """Where a model file's TFLite exports lie, by the arithmetic they compute in: `x.tflite` (float32 or int8,
    as its sidecar says) and `x.int8.tflite`."""
    model_path = Path(model_path)
    return {"": model_path.with_suffix(".tflite"), "int8": model_path.parent / f"{model_path.stem}.int8.tflite"}


def pick_export(model_path: str | Path) -> tuple[Path, dict] | None:
    """The export of this very model file (its sidecar names the file's SHA-256) to run here: int8 on a CPU
    with VNNI, float32 elsewhere (EMOTION_KERNELS=int8 or float32 overrides), or the only one there is.
    An export whose own bytes changed since it was written is passed over with a warning."""
    exports = {}
    digest = None
    for lite in export_paths(model_path).values():
        sidecar = sidecar_path(lite)
        if not (lite.is_file() and sidecar.is_file()):
            continue
        try:
            about = json.loads(sidecar.read_text())
        except (ValueError, UnicodeDecodeError):
            about = None
        if not isinstance(about, dict):
            warnings.warn(f"{sidecar}: damaged; {lite.name} is not used (re-export it with emotion-train export)")
            continue
        digest = digest or file_sha256(model_path)
        if about.get("source_sha256") != digest:
            continue  # made from another version of the model file: stale, not damaged
        if "export_sha256" in about and about["export_sha256"] != file_sha256(lite):
            warnings.warn(f"{lite}: damaged (its bytes changed since export); not used (re-export it)")
            continue
        exports["int8" if str(about.get("compute", "")).startswith("int8") else "float32"] = (lite, about)
    wanted = os.environ.get("EMOTION_KERNELS") or ("int8" if cpu_has_vnni() else "float32")
    return exports.get(wanted) or next(iter(exports.values()), None)


def lite_forward(model_path: str | Path, labels: tuple[str, ...]) -> tuple[Forward, str] | None:
    """The TFLite export of `model_path` chosen by `pick_export`, as a forward function and the arithmetic it
    computes in ("int8" or "float32"); None when no usable export was made from this version of the model file
    (a damaged one warns): the caller then runs the model file itself.

    Not thread-safe (one interpreter): callers serialize calls.
    """
    picked = pick_export(model_path)
    if picked is None:
        return None
    lite, about = picked
    from ai_edge_litert.interpreter import Interpreter  # TFLite's runtime; tf.lite.Interpreter is deprecated

    # XNNPACK's threads split one batch's work; past ~4 a 48x48 CNN gains little and takes cores from
    # the other viewers and from video decoding. EMOTION_THREADS sets it.
    threads = int(os.environ.get("EMOTION_THREADS") or min(os.cpu_count() or 1, 4))
    try:
        interpreter = Interpreter(model_path=str(lite), num_threads=threads)
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        if tuple(inp["shape"][1:]) != (INPUT_SIZE, INPUT_SIZE, 1) or out["shape"][-1] != len(labels):
            raise ValueError(f"it maps {tuple(inp['shape'][1:])} faces to {out['shape'][-1]} outputs, not "
                             f"{INPUT_SIZE}x{INPUT_SIZE}x1 to {len(labels)}")
    except (ValueError, RuntimeError) as exc:
        warnings.warn(f"{lite}: not usable ({exc}); running the model file instead (re-export it)")
        return None
    inp, out = inp["index"], out["index"]
    # Exports made before model files ended in logits give probabilities; their log is the same up to a
    # constant per face, which softmax and argmax ignore.
    to_logits = (lambda y: y) if about.get("output") == OUTPUT else (lambda y: np.log(np.maximum(y, 1e-30)))
    planned: tuple = ()

    def forward(x: np.ndarray) -> np.ndarray:
        nonlocal planned
        if x.shape != planned:  # re-plan only when the batch size changes
            interpreter.resize_tensor_input(inp, x.shape)
            interpreter.allocate_tensors()
            planned = x.shape
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        return to_logits(interpreter.get_tensor(out))

    return forward, "int8" if about.get("compute", "").startswith("int8") else "float32"


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


def run_model(forward: Forward, batch: np.ndarray, tta: bool = False, chunk: int = 256) -> np.ndarray:
    """Calibrated logits of N x 48 x 48 x 1 faces; with `tta`, their mean over `tta_views`.

    Averaging the views' logits is averaging their log-probabilities up to a constant per view, so the
    softmax of the mean is the views' geometric mean probability: averaging probabilities instead would
    blur them (val: ECE 0.041 vs 0.031)."""
    outputs = []
    for start in range(0, len(batch), chunk):
        x = np.asarray(batch[start : start + chunk], dtype=np.float32)
        views = tta_views(x) if tta else [x]
        outputs.append(np.mean([np.asarray(forward(v)) for v in views], axis=0))
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)
