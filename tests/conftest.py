"""Shared fixtures: real FER2013 faces from ../shared, scenes made from them, a tiny dataset."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

# Import order matters: importing aiortc's pylibsrtp after TensorFlow segfaults (both bring their
# own SSL libraries). app.py imports streamlit_webrtc before emotion for the same reason.
import streamlit_webrtc  # noqa: F401  isort: skip

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
FER = ROOT.parent / "shared" / "datasets" / "fer2013"


def fer_files(split: str, label: str, n: int) -> list[Path]:
    files = sorted((FER / split / label).glob("*.jpg"))[:n]
    if len(files) < n:
        pytest.skip(f"FER2013 not found under {FER}")
    return files


def malformed(encoded: list[bytes], i: int, rng: np.random.Generator, header: int, noise: int) -> bytes:
    """The i-th fuzz case made from valid files `encoded` (several formats): cut short, bit-flipped, behind another
    format's first `header` bytes, or `noise` random bytes after its own header, in turn."""
    data = bytearray(encoded[i % len(encoded)])
    kind = i % 4
    if kind == 0:
        return bytes(data[: int(rng.integers(1, len(data)))])
    if kind == 1:
        for pos in rng.integers(0, len(data), int(rng.integers(1, 40))):
            data[pos] ^= int(rng.integers(1, 256))
        return bytes(data)
    if kind == 2:
        return encoded[(i + 1) % len(encoded)][:header] + bytes(data[header:])
    return bytes(data[:header]) + rng.integers(0, 256, noise, dtype=np.uint8).tobytes()


@pytest.fixture(scope="session")
def fer_faces() -> dict[str, list[np.ndarray]]:
    """Five real val faces per class, as uint8 48x48 grayscale."""
    from emotion.imageio import read_image
    from emotion.preprocess import preprocess_face

    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    return {c: [preprocess_face(read_image(f)) for f in fer_files("val", c, 5)] for c in labels}


@pytest.fixture(scope="session")
def fer_val_file():
    """A function giving the k-th FER2013 val file of a class (in name order)."""
    return lambda label, k: fer_files("val", label, k + 1)[k]


@pytest.fixture(scope="session")
def detector():
    """The default model with the default (photo) detector, loaded once."""
    from emotion import EmotionDetector

    return EmotionDetector.load()


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A FER2013-layout folder: train/ (12 per class) and val/ (4 per class) copied from ../shared."""
    root = tmp_path_factory.mktemp("tinyfer")
    for split, n in (("train", 12), ("val", 4)):
        for label in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
            dest = root / split / label
            dest.mkdir(parents=True)
            for f in fer_files(split, label, n):
                shutil.copy(f, dest / f.name)
    return root


@pytest.fixture(autouse=True)
def eager_fits(request: pytest.FixtureRequest):
    """Training tests fit tiny models for two or three steps, where tracing the training step into a graph costs
    more than running it (real runs repay it over thousands of steps): they run eagerly, except those marked
    `graph`, which keep the traced path that real runs take."""
    if request.node.path.parent.name != "training" or request.node.get_closest_marker("graph"):
        yield
        return
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


@pytest.fixture(scope="session")
def second_source(tmp_path_factory) -> Path:
    """A second, uneven source: 12 happy and 3 sad train faces (other FER2013 files than tiny_dataset's), 4 val each."""
    root = tmp_path_factory.mktemp("second")
    for split, counts in (("train", {"happy": 12, "sad": 3}), ("val", {"happy": 4, "sad": 4})):
        for label, n in counts.items():
            (root / split / label).mkdir(parents=True)
            for f in fer_files("train", label, 40 + n)[40:]:
                shutil.copy(f, root / split / label / f.name)
    return root
