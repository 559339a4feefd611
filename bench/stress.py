"""Stress test: one shared EmotionDetector used from many threads at once, as the page's viewers use it.

    python -m bench.stress [--threads 8] [--seconds 60]

Each thread loops for --seconds over real FER2013 faces pasted in scenes: the live path (the Haar face
finder, and a LiveProcessor of its own over a 30-frame clip, as each viewer has) and the photo path (MTCNN,
TTA). Two more photos take the photo finder down all its steps: a shifted-val photo whose face only its last one
(BlazeFace) finds, and a scene with no face. Every result must equal the single-thread result for the same input;
prints the calls, mismatches and exceptions per path. Exit code 1 on any mismatch or exception.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from emotion import EmotionDetector
from emotion.faces import make_finder
from emotion.imageio import read_image
from emotion.preprocess import preprocess_face
from emotion.video import LiveProcessor
from synthetic.scenes import background, make_scene
from training.shifted import shift_photo

FER_VAL = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fer2013" / "val"


def scenes(n: int) -> list[np.ndarray]:
    """`n` 640x480 scenes of 1-3 real val faces each, all different."""
    files = [sorted((FER_VAL / c).glob("*.jpg"))[:8] for c in ("happy", "sad", "surprise", "angry", "neutral", "fear")]
    out = []
    for i in range(n):
        k = 1 + i % 3
        faces = [preprocess_face(read_image(files[(i + j) % 6][i % 8])) for j in range(k)]
        out.append(make_scene(faces, [190, 150, 120][:k], seed=100 + i)[0])
    return out


def hard_photos() -> list[np.ndarray]:
    """A shifted-val photo whose face only the photo finder's last step finds (tests/runtime/test_faces.py), and a
    scene with no face: both run every step of the finder."""
    face = preprocess_face(read_image(sorted((FER_VAL / "disgust").glob("*.jpg"))[3]))
    return [shift_photo(face, np.random.default_rng(0))[0], background(480, 640, np.random.default_rng(1))]


def key(faces) -> list[tuple]:
    """A comparable summary of a result: boxes, labels and scores to 1e-5."""
    return [(f.box, f.emotion, tuple(round(v, 5) for v in f.scores.values())) for f in faces]


def clip_result(detector: EmotionDetector, frames: list[np.ndarray]) -> list[tuple]:
    """What one viewer's LiveProcessor holds after a clip: its face tracks (id, box, smoothed scores) and mood."""
    processor = LiveProcessor(detector)
    for i, frame in enumerate(frames):
        processor.process(frame, now=i / 30)
    mood = processor.mood() or {}
    return [(t.id, t.box, tuple(np.round(t.scores, 5))) for t in processor.tracks] + [
        tuple((k, round(v, 5)) for k, v in mood.items())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    photo = EmotionDetector.load(finder="photo")  # TTA as the model's own default
    live = photo.variant(make_finder("live"), tta=False)
    images = scenes(6) + hard_photos()
    clip = [images[0]] * 10 + [images[1]] * 10 + [images[2]] * 10
    reference = {
        "live": [key(live.detect(im)) for im in images],
        "photo": [key(photo.detect(im)) for im in images],
        "clip": clip_result(live, clip),
    }
    tally = {path: {"calls": 0, "mismatches": 0, "exceptions": 0} for path in reference}
    lock = threading.Lock()
    errors: list[str] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            path = rng.choice(["live", "live", "photo", "clip"])  # the live path is the busiest
            i = int(rng.integers(len(images)))
            try:
                if path == "clip":
                    same = clip_result(live, clip) == reference["clip"]
                else:
                    same = key((live if path == "live" else photo).detect(images[i])) == reference[path][i]
                outcome = "calls" if same else "mismatches"
            except Exception:  # counted and shown: the test is that there are none
                outcome = "exceptions"
                with lock:
                    errors.append(traceback.format_exc(limit=3))
            with lock:
                tally[path]["calls"] += 1
                if outcome != "calls":
                    tally[path][outcome] += 1

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(args.threads)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{args.threads} threads x {args.seconds:.0f} s on one shared detector ({time.monotonic() - start:.0f} s wall)")
    for path, t in tally.items():
        print(f"  {path:<6} {t['calls']:>6} calls, {t['mismatches']} results unlike the single-thread ones, "
              f"{t['exceptions']} exceptions")
    for error in errors[:3]:
        print(error, file=sys.stderr)
    from bench.report import cpu_kind, machine, write_section

    title, flags = cpu_kind()
    write_section(Path(__file__).resolve().parent / "RESULTS.md", f"One detector shared by threads ({title})", [
        f"{time.strftime('%Y-%m-%d')}, `python -m bench.stress --threads {args.threads} --seconds {args.seconds:.0f}`; "
        f"machine: {machine()}; CPU flags: {flags}.", "",
        "| path | calls | results unlike the single-thread ones | exceptions |", "|---|---:|---:|---:|",
        *[f"| {path} | {t['calls']} | {t['mismatches']} | {t['exceptions']} |" for path, t in tally.items()]])
    return 1 if any(t["mismatches"] or t["exceptions"] for t in tally.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
