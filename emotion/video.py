"""Live video: per-frame detection and labelling with per-face temporal smoothing.

One `LiveProcessor` per viewer. `process(frame)` runs on the webcam worker thread:
find faces (the fast finder; a full-frame search every few frames, in between only near the tracked
faces) -> one batched classification -> exponential moving average per face, faces matched
across frames by box overlap -> boxes drawn. The page reads the smoothed mood, its timeline and
the processing rate through `mood()` / `timeline()` / `stats()`, which are safe to call from another
thread. `ViewerLimit` caps how many viewers' video one process analyses at once.
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
HOLD_SECONDS = 0.3  # a face the finder missed this recently keeps its box and label on screen (no flicker)
MATCH_IOU = 0.3
TIMELINE_POINTS = 600  # ~10 minutes at one point per second
STATS_SECONDS = 5.0  # the processing rate and latency are over this recent window


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
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=1000)  # (done at, ms, lag ms) per frame
        self._first: tuple[float, float] | None = None  # (wall clock, capture time) of the first frame
        self._least_lag = float("inf")

    def process(self, frame: np.ndarray, now: float | None = None, captured: float | None = None) -> np.ndarray:
        """Label every face in a BGR frame; returns the frame with smoothed boxes and labels drawn.

        `captured`: the frame's capture time in seconds (the video's timestamp), for the lag statistics."""
        start = time.monotonic()
        now = start if now is None else now
        full_search = self._frames % DETECT_EVERY == 0 or not self.tracks
        self._frames += 1
        faces = self.detector.detect(frame, near=None if full_search else [t.box for t in self.tracks])
        smoothed = self._update(faces, now)
        out = annotate(frame, smoothed)
        done = time.monotonic()
        with self._lock:
            if captured is not None and self._first is None:
                self._first = (start, captured)
            # How far this frame's result trails its capture, beyond the least this viewer has had: grows if frames queue.
            lag = 0.0 if captured is None else (done - self._first[0]) - (captured - self._first[1])
            self._least_lag = min(self._least_lag, lag)
            self._recent.append((done, (done - start) * 1000, (lag - self._least_lag) * 1000))
        return out

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

    def stats(self) -> dict[str, float] | None:
        """Frames analysed per second, their p50/p95 processing ms and the median added delay (ms: how much later
        than at its best a result follows its frame's capture) over the last STATS_SECONDS, or None when no frame
        came in that time."""
        with self._lock:
            recent = [r for r in self._recent if r[0] >= time.monotonic() - STATS_SECONDS]
        if not recent:
            return None
        ms = [r[1] for r in recent]
        return {"fps": len(recent) / STATS_SECONDS, "p50_ms": float(np.percentile(ms, 50)),
                "p95_ms": float(np.percentile(ms, 95)), "lag_ms": float(np.median([r[2] for r in recent]))}


class ViewerLimit:
    """How many viewers' live video one process analyses at once. A viewer holds its place while its frames keep
    coming; one whose frames stopped for IDLE_SECONDS frees it. Safe to share between threads."""

    IDLE_SECONDS = 3.0

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._last: dict[int, float] = {}

    def admit(self, viewer: int, now: float | None = None) -> bool:
        """True if `viewer` (any stable id) may have this frame analysed; False while the others fill the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._last = {v: t for v, t in self._last.items() if now - t < self.IDLE_SECONDS}
            if viewer in self._last or len(self._last) < self.limit:
                self._last[viewer] = now
                return True
            return False
