"""OpenCV's frontal-face Haar cascade: one of the photo finder's later steps (its boxes confirmed by MTCNN)."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .boxes import RawBox
from .images import scaled


class HaarCascade:
    """OpenCV's frontal-face Haar cascade (shipped with opencv-python-headless 4.x) on the grayscale image downscaled
    to `WORK_WIDTH` px (its features are contrast-normalized).

    Safe to share between threads: OpenCV's CascadeClassifier is not (one object searched from several threads at
    once raises cv2.error and returns other threads' faces), so each thread gets its own."""

    WORK_WIDTH = 320
    FILE = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"

    def __init__(self, min_face: int = 40, neighbors: int = 5):
        self._local = threading.local()
        self._local.cascade = self._load()  # here too, so a missing file fails at construction
        self.min_face = min_face
        self.neighbors = neighbors  # overlapping windows that must agree on a face: fewer find more, and more falsely

    def _load(self) -> cv2.CascadeClassifier:
        cascade = cv2.CascadeClassifier(self.FILE)
        if cascade.empty():
            raise RuntimeError(f"OpenCV could not load {self.FILE}; install opencv-python-headless 4.x")
        return cascade

    @property
    def cascade(self) -> cv2.CascadeClassifier:
        """This thread's cascade (loaded once per thread)."""
        if not hasattr(self._local, "cascade"):
            self._local.cascade = self._load()
        return self._local.cascade

    def raw_boxes(self, image: np.ndarray) -> list[RawBox]:
        """The cascade's boxes (x, y, w, h) in `image`'s pixels."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        factor = min(1.0, self.WORK_WIDTH / gray.shape[1])
        gray = scaled(gray, factor)
        min_side = max(20, int(self.min_face * factor))
        rects = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=self.neighbors,
                                              minSize=(min_side, min_side))
        return [tuple(v / factor for v in r) for r in rects]
