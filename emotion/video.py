"""Video: faces followed across frames, and the live webcam path.

`FaceTracker` is what every video path shares (live webcam, video files in `emotion.clip`): per frame, find
faces (with the live finder: each tracked face re-found near its last box or followed by its look, and a part of the
frame scanned for new ones, `emotion.faces.live`) -> one batched classification -> each face matched to its track by
box overlap, so it keeps a stable id, and its scores smoothed by an exponential moving average over time.

One `LiveProcessor` per webcam viewer. `process(frame)` runs on the webcam worker thread: the tracker, then
the smoothed boxes drawn. The page reads the smoothed mood, its timeline and the processing rate through
`mood()` / `timeline()` / `stats()`, which are safe to call from another thread. `ViewerLimit` caps how many
viewers' video one process analyses at once; `Viewer` is one viewer's per-frame work as streamlit-webrtc calls it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import av
import cv2
import numpy as np

from .detector import EmotionDetector, Face
from .draw import annotate, notice
from .faces import Box, iou

SMOOTHING_SECONDS = 0.5  # time constant of the moving average: labels settle in ~0.5 s, no flicker
FORGET_SECONDS = 1.0  # a face unseen this long is dropped
HOLD_SECONDS = 0.3  # a face the finder missed this recently keeps its box and label on screen (no flicker)
MATCH_IOU = 0.3
TIMELINE_POINTS = 600  # ~10 minutes at one point per second
STATS_SECONDS = 5.0  # the processing rate and latency are over this recent window


@dataclass
class Track:
    id: int
    box: Box
    scores: np.ndarray  # smoothed probabilities, in the detector's label order
    seen: float


@dataclass
class Tracked:
    """One face of a frame: its track's id, the face as this frame's search found it (None while the track
    is only held on screen after a miss), and its box and smoothed scores as shown."""

    id: int
    found: Face | None
    shown: Face


class FaceTracker:
    """Faces followed through one video (frames in time order): stable ids and smoothed scores. Not shared:
    one per video or viewer."""

    def __init__(self, detector: EmotionDetector):
        self.detector = detector
        self.labels = detector.labels
        self.tracks: list[Track] = []
        self._next_id = 1
        self.follow = detector.follower()  # this video's own state in the live finder (None: whole frames searched)

    def track(self, frame: np.ndarray, now: float) -> list[Tracked]:
        """The faces of a BGR frame taken at `now` (seconds, increasing), matched to the tracks so far."""
        faces = self.detector.detect(frame, self.follow, [t.box for t in self.tracks])
        return self._update(faces, now)

    def _update(self, faces: list[Face], now: float) -> list[Tracked]:
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
                track = Track(self._next_id, face.box, p, now)
                self._next_id += 1
                self.tracks.append(track)
            out.append(Tracked(track.id, face, self._shown(track, face.confidence)))
        out += [Tracked(t.id, None, self._shown(t)) for t in unmatched if now - t.seen <= HOLD_SECONDS]
        self.tracks = [t for t in self.tracks if now - t.seen <= FORGET_SECONDS]
        return out

    def _shown(self, track: Track, confidence: float = 1.0) -> Face:
        scores = dict(zip(self.labels, map(float, track.scores)))
        return self.detector.face(track.box, scores, confidence)


class LiveProcessor:
    """Per-viewer state for live mode: face tracks, the smoothed mood and its timeline."""

    def __init__(self, detector: EmotionDetector):
        self.detector = detector
        self.labels = detector.labels
        self.tracker = FaceTracker(detector)
        self._lock = threading.Lock()
        self._mood: dict[str, float] | None = None
        self._timeline: deque[tuple[float, dict[str, float]]] = deque(maxlen=TIMELINE_POINTS)
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=1000)  # (done at, ms, lag ms) per frame
        self._first: tuple[float, float] | None = None  # (wall clock, capture time) of the first frame
        self._least_lag = float("inf")
        self._faces: list[tuple[int, Face]] = []  # the latest frame's faces and their numbers, for the page

    @property
    def tracks(self) -> list[Track]:
        return self.tracker.tracks

    def process(self, frame: np.ndarray, now: float | None = None, captured: float | None = None) -> np.ndarray:
        """Label every face in a BGR frame; returns the frame with smoothed boxes and labels drawn.

        `captured`: the frame's capture time in seconds (the video's timestamp), for the lag statistics."""
        start = time.monotonic()
        now = start if now is None else now
        tracked = self.tracker.track(frame, now)
        shown = [t.shown for t in tracked]
        self._remember(shown, now, [t.id for t in tracked])
        out = annotate(frame, shown, numbers=[t.id for t in tracked])  # numbered as in the page's per-face readout
        done = time.monotonic()
        with self._lock:
            if captured is not None and self._first is None:
                self._first = (start, captured)
            # How far this frame's result trails its capture, beyond the least this viewer has had: grows if frames queue.
            lag = 0.0 if captured is None else (done - self._first[0]) - (captured - self._first[1])
            self._least_lag = min(self._least_lag, lag)
            self._recent.append((done, (done - start) * 1000, (lag - self._least_lag) * 1000))
        return out

    def _remember(self, shown: list[Face], now: float, ids: list[int]) -> None:
        with self._lock:
            self._faces = list(zip(ids, shown))
        if not shown:
            return
        mood = np.mean([[f.scores[k] for k in self.labels] for f in shown], axis=0)
        with self._lock:
            self._mood = dict(zip(self.labels, map(float, mood)))
            if not self._timeline or now - self._timeline[-1][0] >= 1.0:
                self._timeline.append((now, self._mood))

    def faces(self) -> list[tuple[int, Face]]:
        """The faces of the latest frame as shown (smoothed), with their numbers (track ids)."""
        with self._lock:
            return list(self._faces)

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


class Viewer:
    """One live viewer: `on_frame` is the frame callback streamlit-webrtc calls on its worker thread. The page reads
    `processor` and `turned_away` and sets `mirror` from its own thread: the processor guards its results with a
    lock, and an Event is thread-safe, so nothing else crosses threads."""

    # A viewer over the limit gets this small still picture instead of its video: sending back its own frames cost
    # as much encoding as analysing them, and took the analysed viewers down to 6 frames/s (bench/capacity.py).
    BUSY = notice(np.full((300, 400, 3), 60, np.uint8), "Busy: try again in a minute")
    BUSY.flags.writeable = False  # shared by every viewer's thread: read only

    def __init__(self, detector: EmotionDetector, limit: ViewerLimit):
        self.processor = LiveProcessor(detector)
        self.limit = limit
        self.turned_away = threading.Event()  # set while the other viewers fill the limit
        self.mirror = threading.Event()  # set by the page: show the camera mirrored, as a selfie camera's preview is

    def on_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        if not self.limit.admit(id(self)):  # the server already analyses as many videos as it can keep up with
            self.turned_away.set()
            return av.VideoFrame.from_ndarray(self.BUSY, format="bgr24")  # a new frame: its timestamps get set
        self.turned_away.clear()
        image = frame.to_ndarray(format="bgr24")
        if self.mirror.is_set():  # before the labels are drawn, so that they read the right way round
            image = cv2.flip(image, 1)  # not a copy of NumPy's reversed view: that costs half a frame's analysis
        return av.VideoFrame.from_ndarray(self.processor.process(image, captured=frame.time), format="bgr24")
