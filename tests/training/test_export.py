"""`python -m training export`: the TFLite and SavedModel exports give the same labels as the model."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from emotion.detector import DEFAULT_MODEL
from emotion.inference import graph_forward, lite_forward, run_model
from emotion.labels import FER2013_LABELS
from emotion.modelfile import sidecar_path
from training.cli import main
from training.data import load_folder

from conftest import FER

pytestmark = pytest.mark.slow  # training and exporting models


@pytest.fixture(scope="module")
def faces(tiny_dataset):
    return load_folder(tiny_dataset / "val", progress=False).x[..., None].astype(np.float32)


def test_tflite_same_top1_as_keras(tmp_path, detector, faces, capsys):
    out = tmp_path / "emotion.tflite"
    assert main(["export", "--format", "tflite", "--out", str(out)]) == 0
    assert json.loads((tmp_path / "emotion.labels.json").read_text())["labels"] == list(detector.labels)
    interpreter = Interpreter(model_path=str(out))
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], faces.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], faces)
    interpreter.invoke()
    lite = interpreter.get_tensor(outp["index"])
    keras_logits = np.asarray(detector.model(faces))
    assert (lite.argmax(1) == keras_logits.argmax(1)).mean() >= 0.995
    np.testing.assert_allclose(lite, keras_logits, atol=1e-3)


def test_savedmodel_same_outputs(tmp_path, detector, faces):
    out = tmp_path / "sm"
    assert main(["export", "--format", "savedmodel", "--out", str(out)]) == 0
    served = tf.saved_model.load(str(out))
    np.testing.assert_allclose(served.serve(tf.constant(faces)).numpy(), np.asarray(detector.model(faces)), atol=1e-5)


def test_default_model_runs_on_its_tflite_export_with_the_same_labels_on_val(detector):
    """The shipped models/emotion.tflite was exported from the shipped model and labels the whole
    val split as the TensorFlow graph does (inference runs on it: emotion.inference.lite_forward); an int8
    export may differ on borderline faces, but not in accuracy."""
    assert lite_forward(DEFAULT_MODEL, detector.labels) is not None, \
        "models/emotion.tflite is missing or stale: run python -m training publish"
    lite, kernels = lite_forward(DEFAULT_MODEL, detector.labels)
    int8 = kernels == "int8"
    val = load_folder(FER / "val", labels=detector.labels, progress=False)
    lite_top1 = run_model(lite, val.x[..., None]).argmax(1)
    graph_top1 = run_model(graph_forward(detector.model), val.x[..., None]).argmax(1)
    assert len(val.y) > 3000 and (lite_top1 == graph_top1).mean() >= (0.97 if int8 else 0.995)
    assert abs((lite_top1 == val.y).mean() - (graph_top1 == val.y).mean()) <= 0.005


def test_int8_export_is_what_inference_runs_on_with_the_models_labels(tmp_path, detector, faces, tiny_dataset):
    model = tmp_path / "emotion.keras"
    shutil.copy(DEFAULT_MODEL, model)
    assert main(["export", "--model", str(model), "--int8", str(tiny_dataset)]) == 0
    lite = tmp_path / "emotion.int8.tflite"
    assert json.loads(sidecar_path(lite).read_text())["compute"].startswith("int8")
    assert lite.stat().st_size < 0.35 * DEFAULT_MODEL.stat().st_size  # int8 weights, not the file's float32 ones
    forward, kernels = lite_forward(model, FER2013_LABELS)
    assert kernels == "int8"  # the only export there is
    logits = forward(faces)
    assert (logits.argmax(1) == np.asarray(detector.model(faces)).argmax(1)).mean() >= 0.9
    assert np.isfinite(logits).all()  # TTA averages them


def test_int8_savedmodel_is_refused_with_a_message(tmp_path, tiny_dataset, capsys):
    assert main(["export", "--format", "savedmodel", "--out", str(tmp_path / "sm"), "--int8", str(tiny_dataset)]) == 2
    assert "int8" in capsys.readouterr().err and not (tmp_path / "sm").exists()


def test_an_export_of_another_model_file_is_not_used(tmp_path):
    model = tmp_path / "emotion.keras"
    shutil.copy(DEFAULT_MODEL, model)
    assert main(["export", "--model", str(model)]) == 0  # default --out: beside the model
    assert lite_forward(model, FER2013_LABELS) is not None
    with zipfile.ZipFile(model, "a") as zf:  # the model file changes after the export
        zf.writestr("retrained.txt", "new weights")
    assert lite_forward(model, FER2013_LABELS) is None


def test_the_runtime_runs_int8_where_the_cpu_has_vnni_and_float32_elsewhere(tmp_path, tiny_dataset, monkeypatch):
    import emotion.inference
    from emotion.detector import EmotionDetector
    from emotion.labels import FER2013_LABELS
    from emotion.modelfile import save_model
    from training.architectures import build_logits_model, calibrated_model

    model = tmp_path / "tiny.keras"
    save_model(calibrated_model(build_logits_model("tiny", 7)), model, FER2013_LABELS)
    assert main(["export", "--model", str(model)]) == 0 and main(["export", "--model", str(model), "--int8", str(tiny_dataset)]) == 0
    for vnni, kernels in ((True, "int8"), (False, "float32")):
        monkeypatch.setattr(emotion.inference, "cpu_has_vnni", lambda: vnni)
        assert EmotionDetector.load(model, finder="live").backend == f"TFLite {kernels}"
    monkeypatch.setenv("EMOTION_KERNELS", "float32")  # the operator's choice wins
    monkeypatch.setattr(emotion.inference, "cpu_has_vnni", lambda: True)
    assert EmotionDetector.load(model, finder="live").backend == "TFLite float32"
