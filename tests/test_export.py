"""`python -m emotion export`: the TFLite and SavedModel exports give the same labels as the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from emotion.cli import main
from emotion.data import load_folder


@pytest.fixture(scope="module")
def faces(tiny_dataset):
    return load_folder(tiny_dataset / "val", progress=False).x[..., None].astype(np.float32)


def test_tflite_same_top1_as_keras(tmp_path, detector, faces, capsys):
    out = tmp_path / "emotion.tflite"
    assert main(["export", "--format", "tflite", "--out", str(out)]) == 0
    assert json.loads((tmp_path / "emotion.labels.json").read_text())["labels"] == list(detector.labels)
    interpreter = tf.lite.Interpreter(model_path=str(out))
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], faces.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], faces)
    interpreter.invoke()
    lite = interpreter.get_tensor(outp["index"])
    keras_probs = np.asarray(detector.model(faces))
    assert (lite.argmax(1) == keras_probs.argmax(1)).mean() >= 0.995
    np.testing.assert_allclose(lite, keras_probs, atol=1e-4)


def test_savedmodel_same_outputs(tmp_path, detector, faces):
    out = tmp_path / "sm"
    assert main(["export", "--format", "savedmodel", "--out", str(out)]) == 0
    served = tf.saved_model.load(str(out))
    np.testing.assert_allclose(served.serve(tf.constant(faces)).numpy(), np.asarray(detector.model(faces)), atol=1e-5)
