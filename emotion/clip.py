"""Video files: decode and sample the frames, follow the faces (`video.FaceTracker`), summarize the mood over time.

    result = analyse_clip("talk.mp4", detector, Path("talk-emotion"), annotated=True)

writes into the folder: frames.csv (one row per face per analysed frame: time, frame, face id, box, the
probabilities, the label), summary.json (mood per face and overall, the segments where the dominant mood
changes), timeline.png and, when asked, annotated.mp4. PyAV (FFmpeg) decodes every common container and codec.
A file that breaks off midway keeps what was analysed up to there; `ClipResult.error` says where and why.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .detector import EmotionDetector, Face
from .draw import annotate, hex_color
from .imageio import file_problem
from .video import FaceTracker, Tracked

DEFAULT_FPS = 10.0  # frames analysed per second of video: labels are smoothed over ~0.5 s, more adds little
TIMELINE_STEP = 1.0  # seconds per point of the timeline and per step of the mood segments
TRUNCATION_SLACK = 1.0  # a video (without a frame count) this much shorter than its container says has lost its end
FORMATS = "a common video file (MP4, MOV, WebM, MKV, AVI)"
# Frames larger than 4K (DCI, 4096 x 2160) are refused before decoding: FFmpeg keeps several frames in flight, each
# 4.5 bytes a pixel decoded and converted (a 16K MJPEG took 2.4 GB). Peak memory at this size: bench/RESULTS.md.
MAX_FRAME_PIXELS = 4096 * 2160
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts"}


def file_kind(path: str) -> str:
    """"video" or "photo", by the name's suffix (the name given: a link named clip.mp4 is a video)."""
    return "video" if Path(path).suffix.lower() in VIDEO_SUFFIXES else "photo"


class ClipError(ValueError):
    """A video that cannot be analysed (or not to its end); the message names the file and the problem."""


@dataclass
class Sampled:
    """One analysed frame: its index among all decoded frames, its time in seconds, the BGR image."""

    index: int
    time: float
    image: np.ndarray


class Clip:
    """An open video file: its duration, frame rate and size, and its frames sampled at a rate."""

    def __init__(self, source: str | Path | bytes, name: str | None = None):
        self.name = name or (str(source) if not isinstance(source, bytes) else "video")
        if not isinstance(source, bytes) and (problem := file_problem(source)):
            raise ClipError(f"{self.name}: {problem}")
        try:
            self._container = av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))
        except FileNotFoundError:
            raise ClipError(f"{self.name}: no such file") from None
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise ClipError(f"{self.name}: not a readable video ({_reason(exc)}); use {FORMATS}") from None
        if not self._container.streams.video:
            self._container.close()
            raise ClipError(f"{self.name}: no video in this file (audio only?); use {FORMATS}")
        self._stream = self._container.streams.video[0]
        width, height = self._stream.codec_context.width, self._stream.codec_context.height
        if width * height > MAX_FRAME_PIXELS:  # from the stream's header, before any frame is decoded
            self._container.close()
            raise ClipError(frame_size_error(self.name, width, height))
        self._stream.thread_type = "AUTO"  # FFmpeg decodes on several threads: decoding is a large share of the time
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else None
        if self._stream.duration is not None and self._stream.time_base is not None:
            self.duration: float | None = float(self._stream.duration * self._stream.time_base)
        elif self._container.duration:
            self.duration = self._container.duration / av.time_base
        else:
            self.duration = None

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "Clip":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def frames(self, fps: float | None = DEFAULT_FPS, max_seconds: float | None = None) -> Iterator[Sampled]:
        """The frames at most `fps` per second of video (None or 0: every frame), up to `max_seconds`.

        Raises ClipError after the last good frame when the file breaks off or ends before its stated duration."""
        start = self._stream.start_time * self._stream.time_base if self._stream.start_time is not None else 0
        index, time, last_bucket, damaged = -1, 0.0, None, []
        try:
            for packet in self._container.demux(self._stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:  # a damaged part: skipped, and the rest of the clip still analysed
                    damaged.append(time)
                    continue
                for frame in decoded:
                    if frame.width * frame.height > MAX_FRAME_PIXELS:  # a stream whose frames outgrow its header
                        raise ClipError(frame_size_error(self.name, frame.width, frame.height))
                    index += 1
                    time = float(frame.time - start) if frame.time is not None else index / (self.fps or 30.0)
                    if max_seconds is not None and time >= max_seconds:
                        return
                    if fps:
                        bucket = math.floor(time * fps + 1e-6)
                        if bucket == last_bucket:
                            continue
                        last_bucket = bucket
                    yield Sampled(index, time, upright(frame))
        except av.error.FFmpegError as exc:
            raise ClipError(f"{self.name}: the video breaks off at {time:.1f} s ({_reason(exc)}): the file is damaged "
                            "or truncated") from None
        if damaged and index >= 0:
            raise ClipError(f"{self.name}: {len(damaged)} damaged part{'s' if len(damaged) > 1 else ''} skipped (the "
                            f"first at {damaged[0]:.1f} s); the rest was analysed")
        if index < 0:
            raise ClipError(f"{self.name}: no video frames in this file; use {FORMATS}")
        listed = self._stream.frames  # frames the container's index lists (0: it has no count)
        if (listed and index + 1 < listed - 1) or (
                self.duration and time + (1 / self.fps if self.fps else 0) < self.duration - TRUNCATION_SLACK):
            raise ClipError(f"{self.name}: the video ends at {time:.1f} s of its stated {self.duration:.1f} s: "
                            "the file is truncated")


def frame_size_error(name: str, width: int, height: int) -> str:
    """The message for a video whose frames are over `MAX_FRAME_PIXELS`."""
    return (f"{name}: its frames are {width}x{height} pixels, over the {MAX_FRAME_PIXELS / 1e6:.1f} megapixel limit for "
            "videos (4K); make a smaller copy and try again")


def upright(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as a BGR image, turned the way its display matrix says: phones store a video filmed upright
    sideways, with the turn that shows it upright, and faces on their side are not found."""
    quarter_turns = round(frame.rotation / 90) % 4  # `rotation`: degrees counter-clockwise, as np.rot90 turns
    image = frame.to_ndarray(format="bgr24")
    return np.ascontiguousarray(np.rot90(image, quarter_turns)) if quarter_turns else image


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__


@dataclass
class MoodSummary:
    """Running totals over a clip's faces: per face, overall and per TIMELINE_STEP of time. Its size grows with
    the faces and the clip's seconds, never with the frames."""

    labels: tuple[str, ...]
    frames: int = 0
    analysed: float = 0.0  # time of the last analysed frame
    faces: dict[int, dict] = field(default_factory=dict)  # id -> {"first", "last", "n", "sum"}
    steps: dict[int, list] = field(default_factory=dict)  # step -> [n, sum]

    def add(self, time: float, tracked: list[Tracked]) -> None:
        """Count one analysed frame and the faces its search found."""
        self.frames += 1
        self.analysed = max(self.analysed, time)
        for t in tracked:
            if t.found is None:
                continue
            p = np.array([t.found.scores[k] for k in self.labels])
            face = self.faces.setdefault(t.id, {"first": time, "last": time, "n": 0, "sum": np.zeros(len(self.labels))})
            face["last"], face["n"], face["sum"] = time, face["n"] + 1, face["sum"] + p
            step = self.steps.setdefault(int(time // TIMELINE_STEP), [0, np.zeros(len(self.labels))])
            step[0], step[1] = step[0] + 1, step[1] + p

    def _shares(self, total: np.ndarray, n: int) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in zip(self.labels, total / max(n, 1))}

    def timeline(self) -> list[tuple[float, dict[str, float]]]:
        """(start second, mean probabilities of the faces then) per TIMELINE_STEP with a face in it."""
        return [(s * TIMELINE_STEP, self._shares(v[1], v[0])) for s, v in sorted(self.steps.items())]

    def segments(self) -> list[dict]:
        """Stretches of one dominant mood: the mood of each step is taken over it and its two neighbours, so a
        single odd step does not split a segment."""
        steps = sorted(self.steps)
        out: list[dict] = []
        for i, s in enumerate(steps):
            near = [self.steps[t] for t in steps[max(0, i - 1):i + 2] if abs(t - s) <= 1]
            mean = sum(v[1] for v in near) / sum(v[0] for v in near)
            mood = self.labels[int(np.argmax(mean))]
            start, end = s * TIMELINE_STEP, min((s + 1) * TIMELINE_STEP, self.analysed)
            if out and out[-1]["mood"] == mood:
                out[-1]["end_s"] = round(end, 2)
            else:
                out.append({"start_s": round(start, 2), "end_s": round(end, 2), "mood": mood})
        return out

    def to_json(self, name: str, duration: float | None, fps: float | None, error: str | None) -> dict:
        n = sum(f["n"] for f in self.faces.values())
        mood = self._shares(sum((f["sum"] for f in self.faces.values()), np.zeros(len(self.labels))), n)
        return {
            "file": name,
            "duration_s": round(duration or self.analysed, 2),
            "analysed_to_s": round(self.analysed, 2),
            "frames_analysed": self.frames,
            "fps_analysed": fps or "every frame",
            "faces_seen": len(self.faces),
            "face_observations": n,
            "mood": mood,
            "dominant": max(mood, key=mood.get) if n else None,
            "faces": [{"id": i, "first_s": round(f["first"], 2), "last_s": round(f["last"], 2), "frames": f["n"],
                       "mood": (m := self._shares(f["sum"], f["n"])), "dominant": max(m, key=m.get)}
                      for i, f in sorted(self.faces.items())],
            "segments": self.segments(),
            "timeline": [{"start_s": t, "mood": m} for t, m in self.timeline()],
            "error": error,
        }


def face_columns(face: Face, labels: tuple[str, ...]) -> dict:
    """A face as table columns: its box, its probabilities (6 decimals) and its label."""
    return {**dict(zip(("x", "y", "w", "h"), map(int, face.box))), **{k: round(face.scores[k], 6) for k in labels},
            "emotion": face.emotion}


def frame_rows(sampled: Sampled, tracked: list[Tracked], labels: tuple[str, ...]) -> list[dict]:
    """One row per face the frame's search found: time, frame, face id, box, the probabilities, the label."""
    return [{"time_s": round(sampled.time, 4), "frame": sampled.index, "face_id": t.id, **face_columns(t.found, labels)}
            for t in tracked if t.found is not None]


def follow(clip: Clip, detector: EmotionDetector, fps: float | None = DEFAULT_FPS,
           max_seconds: float | None = None) -> Iterator[tuple[Sampled, list[Tracked]]]:
    """Every sampled frame of `clip` with its tracked faces (ids stable across frames)."""
    tracker = FaceTracker(detector)
    for sampled in clip.frames(fps, max_seconds):
        yield sampled, tracker.track(sampled.image, sampled.time)


class AnnotatedVideo:
    """An H.264 MP4 (plays in every browser) written frame by frame, as large as its first frame."""

    def __init__(self, path: Path, fps: float):
        self._container = av.open(str(path), "w")
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"preset": "veryfast", "crf": "23"}
        self._started = False

    def write(self, image: np.ndarray) -> None:
        if not self._started:
            height, width = image.shape[:2]
            self._stream.width, self._stream.height = width - width % 2, height - height % 2  # yuv420p: even sides
            self._started = True
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:self._stream.height, :self._stream.width]),
                                           format="bgr24")
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        if self._started:
            self._container.mux(self._stream.encode(None))
        self._container.close()


def plot_timeline(summary: MoodSummary, path: Path) -> None:
    """Each emotion's share of the faces' mood over time, one fixed colour per emotion, as a PNG."""
    from matplotlib.figure import Figure  # not pyplot: no global state, safe in a server thread

    points = summary.timeline()
    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    times = [t + TIMELINE_STEP / 2 for t, _ in points]
    for k in summary.labels:
        ax.plot(times, [m[k] for _, m in points], color=hex_color(k), label=k, linewidth=1.8, marker="." if len(points) < 30 else None)
    ax.set(xlabel="time in the video (s)", ylabel="share of the mood", ylim=(0, 1),
           xlim=(0, max(summary.analysed, TIMELINE_STEP)), title="Mood over time (mean of the faces in view)")
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if not points:
        ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax.transAxes)
    fig.savefig(path)


@dataclass
class ClipResult:
    summary: dict  # summary.json's content
    error: str | None  # why the analysis stopped before the end, else None
    out: Path
    size: tuple[int, int] | None  # the frames' width and height, upright as shown (None: no frame)
    interrupted: bool = False  # stopped by Ctrl-C


def analyse_clip(source: str | Path | bytes, detector: EmotionDetector, out: Path, fps: float | None = DEFAULT_FPS,
                 annotated: bool = False, max_seconds: float | None = None, name: str | None = None,
                 progress: Callable[[float, float | None], None] | None = None,
                 annotate_side: int | None = None) -> ClipResult:
    """Analyse a video file into `out` (frames.csv, summary.json, timeline.png, with `annotated` annotated.mp4, at
    most `annotate_side` pixels on its longer side).

    `progress(done, total)` gets the seconds of video done after each frame, and of the whole (None: unknown).
    Raises ClipError when nothing can be analysed; a file that breaks off midway returns what was analysed, with
    the reason in `error`."""
    error, size, interrupted = None, None, False
    with Clip(source, name) as clip:
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        summary = MoodSummary(detector.labels)
        total = min(clip.duration or math.inf, max_seconds or math.inf)
        total = None if math.isinf(total) else total
        writer = AnnotatedVideo(out / "annotated.mp4", fps or clip.fps or 30.0) if annotated else None
        with open(out / "frames.csv", "w", newline="") as f:
            rows = csv.DictWriter(f, ["time_s", "frame", "face_id", "x", "y", "w", "h", *detector.labels, "emotion"])
            rows.writeheader()
            try:
                for sampled, tracked in follow(clip, detector, fps, max_seconds):
                    size = sampled.image.shape[1], sampled.image.shape[0]
                    rows.writerows(frame_rows(sampled, tracked, detector.labels))
                    summary.add(sampled.time, tracked)
                    if writer:
                        writer.write(annotate(sampled.image, [t.shown for t in tracked], max_side=annotate_side,
                                              numbers=[t.id for t in tracked]))
                    if progress:
                        progress(sampled.time, total)
            except ClipError as exc:
                error = str(exc)
            except KeyboardInterrupt:  # Ctrl-C: what was analysed is kept and summarized
                error, interrupted = f"{clip.name}: interrupted at {summary.analysed:.1f} s", True
            finally:
                if writer:
                    writer.close()
        if error and not summary.frames:  # nothing analysed: no outputs left behind that look like results
            for made in ("frames.csv", "annotated.mp4"):
                (out / made).unlink(missing_ok=True)
            if created:
                out.rmdir()
            if interrupted:
                raise KeyboardInterrupt
            raise ClipError(error)
    result = summary.to_json(clip.name, clip.duration, fps, error)
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    plot_timeline(summary, out / "timeline.png")
    return ClipResult(result, error, out, size, interrupted)
