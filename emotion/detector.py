"""The public API: `EmotionDetector` finds faces in an image and labels each with an emotion.

Path of one image: faces.detect -> preprocess.preprocess_face per box -> one batched model call
(model.run_model) -> a `Face` per box with the top emotion and the full probability dict.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import keras
import numpy as np
from scipy.special import softmax

from .faces import FaceDetector, make_detector
from .model import lite_predictor, load_model, predictor, read_meta, run_model
from .preprocess import Box, preprocess_face, to_batch

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "emotion.keras"


@dataclass
class Face:
    """One detected face: box (x, y, w, h) in input pixels, top emotion, probability per emotion."""

    box: Box
    emotion: str
    scores: dict[str, float]
    confidence: float = 1.0
    landmarks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"box": list(self.box), "emotion": self.emotion, "scores": {k: round(v, 4) for k, v in self.scores.items()}}


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept HxW gray, HxWx1, HxWx3 BGR or HxWx4 BGRA uint8; return HxWx3 BGR."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ValueError("expected an HxWx3 uint8 BGR image (numpy array), e.g. from cv2.imread or emotion.read_image")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class EmotionDetector:
    """Faces in, labelled emotions out. Safe to share between threads (model calls are serialized)."""

    def __init__(self, model: Path | keras.Model, labels: tuple[str, ...], detector: FaceDetector, tta: bool = False,
                 forward=None):
        """`model`: a Keras model, or with `forward` (its TFLite export) the path of its file, from which the Keras
        model is loaded only if asked for: that load takes ~1 s of the app's start for a two-model ensemble."""
        self._lock = threading.Lock()
        # One dict for this detector and its variants (`variant` copies the reference), so they load it once.
        self._shared = {"model": model} if isinstance(model, keras.Model) else {"path": model}
        self._forward = forward or predictor(self.model)
        self.labels = tuple(labels)
        self.detector = detector
        self.tta = tta

    @property
    def model(self) -> keras.Model:
        """The Keras model, shared by this detector's variants (with a TFLite export, inference does not use it)."""
        with self._lock:
            if "model" not in self._shared:
                self._shared["model"] = load_model(self._shared["path"])[0]
            return self._shared["model"]

    @classmethod
    def load(
        cls, path: str | Path | None = None, detector: str | FaceDetector = "mtcnn", tta: bool | None = None,
        min_face: int | None = None,
    ) -> "EmotionDetector":
        """Load a model file trained by this project (default: models/emotion.keras) and a detector.

        Inference runs on the model's TFLite export when one made from this very file lies beside it
        (`python -m emotion export --model PATH` writes it there), else on the TensorFlow graph.
        """
        path = Path(path or DEFAULT_MODEL)
        meta = read_meta(path)  # a missing or foreign file fails here, with a message naming it
        forward = lite_predictor(path)
        model = path if forward else load_model(path)[0]
        if isinstance(detector, str):
            detector = make_detector(detector, min_face)
        tta = meta.get("tta_default", False) if tta is None else tta
        return cls(model, tuple(meta["labels"]), detector, tta, forward=forward)

    def variant(self, detector: FaceDetector | None = None, tta: bool | None = None) -> "EmotionDetector":
        """The same loaded model (shared, with its lock) with another face detector or TTA setting."""
        other = copy.copy(self)
        other.detector = detector or self.detector
        other.tta = self.tta if tta is None else tta
        return other

    def classify(self, crops: list[np.ndarray]) -> list[dict[str, float]]:
        """Score already-cropped faces (grayscale or BGR, any size) in one batched model call."""
        return self._scores(to_batch([preprocess_face(c) for c in crops]))

    def classify_boxes(self, image: np.ndarray, boxes: list[Box]) -> list[dict[str, float]]:
        """Score the faces at `boxes` in `image` in one batched model call."""
        return self._scores(to_batch([preprocess_face(image, b) for b in boxes]))

    def detect(self, image: np.ndarray, near: list[Box] | None = None) -> list[Face]:
        """Find every face in an image and label it; no face is an empty list, not an error.

        `near` (live video): boxes of faces seen a frame ago; a detector that can (Haar) then
        searches only around them, several times faster than a full search.
        """
        image = as_bgr(image)
        search_near = getattr(self.detector, "detect_near", None)
        found = self.detector.detect(image) if near is None or search_near is None else search_near(image, near)
        found = [d for d in found if d.box[2] > 0 and d.box[3] > 0]
        scores = self.classify_boxes(image, [d.box for d in found])
        return [
            Face(d.box, max(s, key=s.get), s, d.confidence, d.landmarks) for d, s in zip(found, scores)
        ]

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (N x labels) of preprocessed faces (N x 48 x 48 x 1)."""
        with self._lock:
            # TTA averages log-probabilities, i.e. the views' calibrated logits: averaging probabilities
            # instead would blur them (val: mean confidence 3 points under accuracy, ECE 0.041 vs 0.031).
            log_probs = run_model(lambda x: np.log(np.maximum(self._forward(x), 1e-30)), batch, tta=self.tta)
        return softmax(log_probs, axis=1)  # also makes the sums exactly 1 despite float32 rounding

    def _scores(self, batch: np.ndarray) -> list[dict[str, float]]:
        if not len(batch):
            return []
        return [dict(zip(self.labels, map(float, p))) for p in self.probabilities(batch)]
