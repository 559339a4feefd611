"""Damaged model files and exports: a clear one-line error naming the file, or (an export) a warning and the
model file itself; never a traceback, never wrong scores."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from emotion import EmotionDetector
from emotion.cli import main
from emotion.labels import FER2013_LABELS
from emotion.modelfile import META_ENTRY, ModelFileError, save_model, sidecar_path
from training.architectures import build_logits_model, calibrated_model
from training.export import export


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A tiny model file with a float32 TFLite export beside it."""
    path = tmp_path_factory.mktemp("good") / "tiny.keras"
    save_model(calibrated_model(build_logits_model("tiny", 7)), path, FER2013_LABELS, temperature=1.2)
    export(path, "tflite", path.with_suffix(".tflite"))
    return path


def rewrite(src, dest, change) -> None:
    """Copy the .keras archive `src` to `dest`, passing each entry's bytes through change(name, data)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, change(item.filename, zin.read(item.filename)))


def with_meta(meta):
    return lambda name, data: json.dumps(meta).encode() if name == META_ENTRY else data


def damaged_files(good, folder):
    """(name, path) of model files damaged in the ways users and disks damage them; seeded, made here."""
    rng = np.random.default_rng(7)
    data = good.read_bytes()
    cases = {
        "random bytes": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "truncated": data[: len(data) // 2],
        "empty": b"",
    }
    for name, blob in cases.items():
        (folder / f"{name}.keras").write_bytes(blob)
        yield name, folder / f"{name}.keras"
    metas = {
        "metadata is a list": ["angry", "happy"],
        "labels not a list": {"labels": "angry,happy"},
        "labels of numbers": {"labels": list(range(7))},
        "no labels": {"temperature": 1.0},
        "repeated labels": {"labels": ["happy"] * 7},
        "temperature a string": {"labels": list(FER2013_LABELS), "temperature": "hot"},
        "temperature negative": {"labels": list(FER2013_LABELS), "temperature": -1},
        "tta not a bool": {"labels": list(FER2013_LABELS), "tta_default": "yes"},
        "five labels for seven outputs": {"labels": list(FER2013_LABELS[:5]), "output": "calibrated_logits"},
    }
    for name, meta in metas.items():
        rewrite(good, folder / f"{name}.keras", with_meta(meta))
        yield name, folder / f"{name}.keras"
    rewrite(good, folder / "bad json.keras", lambda n, d: b"{labels: [" if n == META_ENTRY else d)
    yield "metadata not JSON", folder / "bad json.keras"
    unknown = lambda n, d: d.replace(b'"Rescaling"', b'"NoSuchLayer"') if n == "config.json" else d  # noqa: E731
    rewrite(good, folder / "unknown layer.keras", unknown)
    yield "unknown layer", folder / "unknown layer.keras"
    lambda_layer = lambda n, d: (d.replace(b'"class_name": "Rescaling"', b'"class_name": "Lambda"')  # noqa: E731
                                 .replace(b'"scale": 0.00392', b'"function": "no_such_function", "scale": 0.00392')
                                 if n == "config.json" else d)
    rewrite(good, folder / "lambda.keras", lambda_layer)
    yield "Lambda naming an unknown function", folder / "lambda.keras"
    with zipfile.ZipFile(good) as zf:  # bytes of the weights flipped inside the archive: its CRC no longer matches
        info = zf.getinfo("model.weights.h5")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size // 2
    corrupt = bytearray(data)
    corrupt[start : start + 64] = bytes(b ^ 0xFF for b in corrupt[start : start + 64])
    (folder / "weights.keras").write_bytes(bytes(corrupt))
    yield "weights with a bad CRC", folder / "weights.keras"


def test_every_damaged_model_file_is_one_clear_error(good, tmp_path, capsys):
    image = tmp_path / "face.png"
    import cv2

    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    for name, path in damaged_files(good, tmp_path):
        with pytest.raises((ModelFileError, FileNotFoundError)) as err:
            EmotionDetector.load(path, finder="live").classify([np.zeros((48, 48), np.uint8)])
        message = str(err.value)
        assert str(path) in message and "\n" not in message, name
        assert main(["predict", str(image), "--model", str(path), "--finder", "live"]) == 2, name
        out = capsys.readouterr()
        assert out.err.startswith("error: cannot load model") and out.err.count("\n") == 1, name
        assert "Traceback" not in out.err + out.out, name


def test_a_damaged_export_is_passed_over_with_a_warning(good, tmp_path, fer_faces):
    model = tmp_path / "tiny.keras"
    for suffix in (".keras", ".tflite", ".labels.json"):
        shutil.copy(good.with_name("tiny" + suffix), model.with_name("tiny" + suffix))
    face = [fer_faces["happy"][0]]
    reference = EmotionDetector.load(model, finder="live")
    assert reference.backend.startswith("TFLite")
    expected = reference.classify(face)[0]

    lite = model.with_suffix(".tflite")
    data = bytearray(lite.read_bytes())
    data[len(data) // 2] ^= 0x55  # one flipped byte, the sidecar's model hash still matching
    lite.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="damaged"):
        det = EmotionDetector.load(model, finder="live")
    assert det.backend.startswith("TensorFlow")
    assert det.classify(face)[0] == pytest.approx(expected, abs=1e-4)

    other = tmp_path / "three.keras"  # an export with 3 outputs, recorded as this model's
    save_model(calibrated_model(build_logits_model("tiny", 3)), other, ("a", "b", "c"))
    export(other, "tflite", lite)
    about = json.loads(sidecar_path(lite).read_text())
    about["source_sha256"] = json.loads(sidecar_path(good.with_suffix(".tflite")).read_text())["source_sha256"]
    sidecar_path(lite).write_text(json.dumps(about))
    with pytest.warns(UserWarning, match="3 outputs"):
        det = EmotionDetector.load(model, finder="live")
    assert det.classify(face)[0] == pytest.approx(expected, abs=1e-4)
