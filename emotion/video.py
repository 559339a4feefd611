"""Live video: per-frame detection and labelling with per-face temporal smoothing.

One `LiveProcessor` per viewer. `process(frame)` runs on the webcam worker thread:
detect (fast detector; a full-frame search every few frames, in between only near the tracked
faces) -> one batched classification -> exponential moving average per face, faces matched
across frames by box overlap -> boxes drawn. The page reads the smoothed mood
and its timeline through `mood()` / `timeline()`, which are safe to call from another thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from .detector import EmotionDetector, Face
from .draw import annotate
from .faces import iou

# A full-frame face search every DETECT_EVERY-th frame finds faces that came into view; the frames
# between search only around the faces already tracked, several times cheaper (bench/realtime.py).
DETECT_EVERY = 5
SMOOTHING_SECONDS = 0.5  # time constant of the moving average: labels settle in ~0.5 s, no flicker
FORGET_SECONDS = 1.0  # a face unseen this long is dropped
HOLD_SECONDS = 0.3  # a face the detector missed this recently keeps its box and label on screen (no flicker)
MATCH_IOU = 0.3
TIMELINE_POINTS = 600  # ~10 minutes at one point per second


@dataclass
class Track:
    box: tuple[int, int, int, int]
    scores: np.ndarray
    seen: float


class LiveProcessor:
    """Per-viewer state for live mode: face tracks, the smoothed mood and its timeline."""

    def __init__(self, detector: EmotionDetector):
        self.detector = detector
        self.labels = detector.labels
        self.tracks: list[Track] = []
        self._lock = threading.Lock()
        self._mood: dict[str, float] | None = None
        self._timeline: deque[tuple[float, dict[str, float]]] = deque(maxlen=TIMELINE_POINTS)
        self._frames = 0

    def process(self, frame: np.ndarray, now: float | None = None) -> np.ndarray:
        """Label every face in a BGR frame; returns the frame with smoothed boxes and labels drawn."""
        now = time.monotonic() if now is None else now
        full_search = self._frames % DETECT_EVERY == 0 or not self.tracks
        self._frames += 1
        faces = self.detector.detect(frame, near=None if full_search else [t.box for t in self.tracks])
        smoothed = self._update(faces, now)
        return annotate(frame, smoothed)

    def _update(self, faces: list[Face], now: float) -> list[Face]:
        unmatched = list(self.tracks)
        out = []
        for face in faces:
            p = np.array([face.scores[k] for k in self.labels])
            best = max(unmatched, key=lambda t: iou(t.box, face.box), default=None)
            if best is not None and iou(best.box, face.box) >= MATCH_IOU:
                unmatched.remove(best)
                alpha = 1 - math.exp(-max(now - best.seen, 0.0) / SMOOTHING_SECONDS)
                best.scores = (1 - alpha) * best.scores + alpha * p
                best.box, best.seen = face.box, now
                track = best
            else:
                track = Track(face.box, p, now)
                self.tracks.append(track)
            out.append(self._face(track, face.confidence))
        out += [self._face(t) for t in unmatched if now - t.seen <= HOLD_SECONDS]
        self.tracks = [t for t in self.tracks if now - t.seen <= FORGET_SECONDS]
        with self._lock:
            if out:
                mood = np.mean([[f.scores[k] for k in self.labels] for f in out], axis=0)
                self._mood = dict(zip(self.labels, map(float, mood)))
                if not self._timeline or now - self._timeline[-1][0] >= 1.0:
                    self._timeline.append((now, self._mood))
        return out

    def _face(self, track: Track, confidence: float = 1.0) -> Face:
        scores = dict(zip(self.labels, map(float, track.scores)))
        return Face(track.box, max(scores, key=scores.get), scores, confidence)

    def mood(self) -> dict[str, float] | None:
        """The latest smoothed mood (mean over faces in view), or None before any face was seen."""
        with self._lock:
            return None if self._mood is None else dict(self._mood)

    def timeline(self) -> list[tuple[float, dict[str, float]]]:
        """(time, mood) about once per second of the session."""
        with self._lock:
            return list(self._timeline)
