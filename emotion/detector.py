"""The public API: `EmotionDetector` finds faces in an image and labels each with an emotion.

Path of one image: faces.find -> preprocess.preprocess_face per box -> one batched model call
(inference.run_model on the model's TFLite export or its graph) -> the prior's offset (emotion.prior) -> softmax
-> a `Face` per box with the top emotion and the full probability dict.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .faces import GUESS, Box, FaceFinder, LiveFinder, make_finder, reading_order
from .faces.live import Follower
from .inference import Forward, graph_forward, lite_forward, run_model
from .modelfile import MODELS, load_model, read_meta
from .preprocess import preprocess_face, to_batch
from .prior import logit_offset, resolve

DEFAULT_MODEL = MODELS / "emotion.keras"  # the photo model: the most accurate
LIVE_MODEL = MODELS / "live.keras"  # the live video model: a small student of the photo model, several times faster


# The live path's classify budget per face: with 4 faces, finding, tracking and drawing them leave room for ~1 ms a
# face in its 12 ms at p50 (bench/realtime.py, bench/RESULTS.md).
LIVE_FACE_MS = 1.0


@lru_cache(maxsize=4)
def live_model(photo_model: Path = DEFAULT_MODEL) -> Path:
    """The model live video runs on, chosen by measuring, not by the CPU's flags: the photo model (the more accurate)
    where its classify costs at most `LIVE_FACE_MS` a face on this CPU (`classify_ms`, timed at first use), else the
    small live model (the same int8 file cost 0.45 ms a face on one VNNI CPU and 1.59 on another). Another photo model
    than the default is used as it is."""
    if photo_model.resolve() != DEFAULT_MODEL.resolve() or not LIVE_MODEL.exists():
        return photo_model
    return photo_model if classify_ms(photo_model) <= LIVE_FACE_MS else LIVE_MODEL


@lru_cache(maxsize=4)
def classify_ms(model: Path, faces: int = 4, repeats: int = 15) -> float:
    """Median milliseconds a face of `model`'s classify on this CPU, single pass as live video runs it (a batch of
    `faces`, after one warm-up call): a few hundred ms once per model and process."""
    import time

    detector = EmotionDetector.load(model, finder="live", tta=False)
    batch = np.zeros((faces, 48, 48, 1), np.float32)
    detector.logits(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        detector.logits(batch)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000 / faces


@dataclass
class Face:
    """One labelled face: box (x, y, w, h) in input pixels, top emotion, probability per emotion, and the face finder's
    confidence that a face is there (`faces.GUESS`: none was found in a thumbnail, read whole as one face crop)."""

    box: Box
    emotion: str
    scores: dict[str, float]
    confidence: float = 1.0
    landmarks: dict[str, tuple[int, int]] = field(default_factory=dict)
    unsure: bool = False  # its top probability is under the model's `unsure_below`: a worse guess than a coin toss

    @property
    def guessed(self) -> bool:
        """No face was found: the image, a thumbnail, was read whole as one face crop."""
        return self.confidence == GUESS

    def to_json(self) -> dict:
        return {"box": list(self.box), "emotion": self.emotion, "scores": {k: round(v, 4) for k, v in self.scores.items()},
                "confidence": round(self.confidence, 4), "unsure": self.unsure}


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept HxW gray, HxWx1, HxWx3 BGR or HxWx4 BGRA uint8; return HxWx3 BGR."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ValueError("expected an HxWx3 uint8 BGR image (numpy array), e.g. from cv2.imread or emotion.read_image")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of N x labels logits. Written out: importing scipy only for it slowed the page's start (bench/RESULTS.md)."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class EmotionDetector:
    """Faces in, labelled emotions out. Safe to share between threads: model calls are serialized by a lock,
    and both face finders are thread-safe."""

    def __init__(self, model_path: Path, meta: dict, finder: FaceFinder, tta: bool = False,
                 lite: tuple[Forward, str] | None = None, prior: str | Mapping[str, float] | None = None):
        """`meta`: the model file's metadata (`modelfile.read_meta`); `lite`: its TFLite export and the arithmetic it
        computes in (`inference.lite_forward`), without which the Keras model runs (loaded here); `prior`: the
        emotions' shares to assume (`emotion.prior.resolve`; default: the model file's)."""
        self.meta = meta
        self.labels = tuple(meta["labels"])
        self.unsure_below = float(meta.get("unsure_below", 0.0))  # chosen on val at publishing (training/unsure.py)
        self._set_prior(prior)  # a bad prior fails before the Keras model loads
        self._lock = threading.Lock()
        # One dict for this detector and its variants (`variant` copies the reference), so they load the
        # Keras model once, and only if asked for: ~1 s of the app's start for a two-model ensemble.
        self._shared = {"path": Path(model_path)}
        self._forward, kernels = lite or (graph_forward(self.model), "float32")
        self.backend = f"TFLite {kernels}" if lite else "TensorFlow graph float32"  # what inference runs on
        self.finder = finder
        self.tta = tta

    def _set_prior(self, prior: str | Mapping[str, float] | None) -> None:
        self.prior = resolve(prior, self.meta)  # the shares assumed; None: a model file that records none
        self._offset = logit_offset(self.prior, self.meta)

    @property
    def model(self):
        """The Keras model (faces -> calibrated logits), shared by this detector's variants."""
        with self._lock:
            if "model" not in self._shared:
                self._shared["model"] = load_model(self._shared["path"])[0]
            return self._shared["model"]

    @classmethod
    def load(
        cls, path: str | Path | None = None, finder: str | FaceFinder = "photo", tta: bool | None = None,
        min_face: int | None = None, prior: str | Mapping[str, float] | None = None,
    ) -> "EmotionDetector":
        """Load a model file trained by this project (default: models/emotion.keras) and a face finder.

        Inference runs on the model's TFLite export when one made from this very file lies beside it
        (`python -m training export --model PATH` writes it there), else on the TensorFlow graph. `prior`: see
        `emotion.prior.resolve`; a prior that is not one raises `emotion.prior.PriorError`.
        """
        path = Path(path or DEFAULT_MODEL)
        meta = read_meta(path)  # a missing or foreign file fails here, with a message naming it
        if isinstance(finder, str):
            finder = make_finder(finder, min_face)
        tta = meta.get("tta_default", False) if tta is None else tta
        return cls(path, meta, finder, tta, lite=lite_forward(path, tuple(meta["labels"])), prior=prior)

    def variant(self, finder: FaceFinder | None = None, tta: bool | None = None,
                prior: str | Mapping[str, float] | None = None) -> "EmotionDetector":
        """The same loaded model (shared, with its lock) with another face finder, TTA setting or prior (None: this
        detector's)."""
        other = copy.copy(self)
        other.finder = finder or self.finder
        other.tta = self.tta if tta is None else tta
        if prior is not None:
            other._set_prior(prior)
        return other

    def classify(self, crops: list[np.ndarray]) -> list[dict[str, float]]:
        """Score already-cropped faces (grayscale or BGR, any size) in one batched model call."""
        return self._scores(to_batch([preprocess_face(c) for c in crops]))

    def classify_boxes(self, image: np.ndarray, boxes: list[Box], rolls: list[float] | None = None
                       ) -> list[dict[str, float]]:
        """Score the faces at `boxes` in `image` in one batched model call; `rolls`: their tilts, turned upright."""
        rolls = rolls or [0.0] * len(boxes)
        return self._scores(to_batch([preprocess_face(image, b, r) for b, r in zip(boxes, rolls)]))

    def detect(self, image: np.ndarray, follow: Follower | None = None, near: list[Box] | None = None) -> list[Face]:
        """Find every face in an image and label it, in reading order; no face is an empty list, not an error.

        Video: `follow` (from `follower()`, one per video) with `near`, the boxes of faces seen lately: the live finder
        then follows or re-finds them there and scans only a part of the frame for new ones, several times faster than
        a full search.
        """
        image = as_bgr(image)
        found = self.finder.find(image) if follow is None else follow.find(image, near)
        found = reading_order([f for f in found if f.box[2] > 0 and f.box[3] > 0])
        scores = self.classify_boxes(image, [f.box for f in found], [f.roll for f in found])
        return [self.face(f.box, s, f.confidence, f.landmarks) for f, s in zip(found, scores)]

    def follower(self) -> Follower | None:
        """A video's own state for following its faces from frame to frame (`detect(follow=...)`); None for a finder
        that searches every frame whole."""
        return Follower(self.finder) if isinstance(self.finder, LiveFinder) else None

    def face(self, box: Box, scores: dict[str, float], confidence: float = 1.0,
             landmarks: dict[str, tuple[int, int]] | None = None) -> Face:
        """A labelled face: its top emotion, unsure when that one's probability is under `unsure_below`."""
        top = max(scores, key=scores.get)
        return Face(box, top, scores, confidence, landmarks or {}, scores[top] < self.unsure_below)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Calibrated logits (N x labels) of preprocessed faces (N x 48 x 48 x 1) under this detector's prior; with
        TTA, the views' mean."""
        with self._lock:
            logits = run_model(self._forward, batch, tta=self.tta)
        return logits if self._offset is None else logits + self._offset

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (N x labels) of preprocessed faces (N x 48 x 48 x 1)."""
        return softmax(self.logits(batch))

    def _scores(self, batch: np.ndarray) -> list[dict[str, float]]:
        if not len(batch):
            return []
        return [dict(zip(self.labels, map(float, p))) for p in self.probabilities(batch)]
