"""Real-time benchmark: our live path vs. the `fer` package's `FER().detect_emotions`, same frames.

    python bench/realtime.py [--frames 300] [--json] [--peer-python PATH]

Builds 640x480 videos of real FER2013 val faces (1 and 4 faces) drifting over varied backgrounds,
then measures per-frame latency of the full live path (detect + preprocess + classify + smooth +
draw), per-frame face recall, classification throughput, cold start and resident memory. The peer
runs in its own virtualenv (`fer` needs pkg_resources and its own TensorFlow stack), created on
first use at .venv-peer/ with `pip install --no-deps fer` plus what it imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere without installing

import argparse
import json
import platform
import subprocess
import tempfile
import time

import numpy as np

FER_VAL = ROOT.parent / "shared" / "datasets" / "fer2013" / "val"
PEER_VENV = ROOT / ".venv-peer"
PEER_PACKAGES = ["tensorflow-cpu==2.21.0", "keras==3.15.1", "opencv-python-headless==4.14.0.94", "numpy==2.4.6",
                 "setuptools<81", "requests", "pillow", "pandas", "tqdm", "matplotlib"]


def make_video(n_faces: int, frames: int, seed: int) -> tuple[np.ndarray, list[list[tuple]]]:
    """Frames (T x 480 x 640 x 3) and the true face boxes per frame."""
    import cv2

    from emotion.imageio import read_image
    from emotion.preprocess import preprocess_face
    from emotion.scenes import background, paste_face

    rng = np.random.default_rng(seed)
    files = sorted(FER_VAL.glob("happy/*.jpg"))[:40] + sorted(FER_VAL.glob("neutral/*.jpg"))[:40]
    faces = [preprocess_face(read_image(files[i])) for i in rng.choice(len(files), n_faces, replace=False)]
    size = 200 if n_faces == 1 else 130
    slots = [(220, 140)] if n_faces == 1 else [(60, 40), (400, 40), (60, 290), (400, 290)]
    out, truth = [], []
    backgrounds = [background(480, 640, rng, brightness=b) for b in (0.7, 1.0, 1.2)]
    for t in range(frames):
        frame = backgrounds[(t // 100) % 3].copy()
        boxes = []
        for k, (face, (x, y)) in enumerate(zip(faces, slots)):
            box = (x + int(30 * np.sin(t / 15 + k)), y + int(15 * np.cos(t / 20 + k)), size, size)
            paste_face(frame, face, box)
            boxes.append(box)
        out.append(cv2.GaussianBlur(frame, (3, 3), 0))
        truth.append(boxes)
    return np.stack(out), truth


def recall(found: list[list[tuple]], truth: list[list[tuple]]) -> float:
    from emotion.faces import iou

    hits = sum(any(iou(f, t) >= 0.4 for f in fs) for fs, ts in zip(found, truth) for t in ts)
    return hits / sum(len(ts) for ts in truth)


def stats(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def run_ours(frames: np.ndarray) -> tuple[list[float], list[list[tuple]]]:
    from emotion import EmotionDetector
    from emotion.video import LiveProcessor

    det = EmotionDetector.load(detector="haar")
    LiveProcessor(det).process(frames[0])  # warm-up: graph tracing
    proc = LiveProcessor(det)
    times, boxes = [], []
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        proc.process(frame, now=i / 30)
        times.append((time.perf_counter() - t0) * 1000)
        boxes.append([t.box for t in proc.tracks if t.seen == i / 30])
    return times, boxes


def classify_throughput() -> dict:
    from emotion import EmotionDetector

    det = EmotionDetector.load(detector="haar")
    faces = [np.random.default_rng(i).integers(0, 255, (48, 48), dtype=np.uint8) for i in range(32)]
    out = {}
    for batch in (1, 32):
        det.classify(faces[:batch])
        t0 = time.perf_counter()
        reps = 200 if batch == 1 else 30
        for _ in range(reps):
            det.classify(faces[:batch])
        out[batch] = (time.perf_counter() - t0) * 1000 / reps / batch
    return out


def cold_start(python: str, code: str) -> tuple[float, float]:
    """Seconds to import and load, and max RSS (MB), in a fresh process."""
    script = f"import resource, time; t = time.perf_counter(); {code}; " \
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return float(out[-2]), float(out[-1])


PEER_WORKER = """
import json, sys, time, numpy as np
from fer.fer import FER
frames = np.load(sys.argv[1])["frames"]
det = FER()
det.detect_emotions(frames[0])
times, boxes = [], []
for f in frames:
    t0 = time.perf_counter()
    res = det.detect_emotions(f)
    times.append((time.perf_counter() - t0) * 1000)
    boxes.append([list(map(int, r["box"])) for r in res])
print(json.dumps({"times": times, "boxes": boxes}))
"""


def peer_python(path: str | None) -> str:
    if path:
        return path
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print("creating the peer's virtualenv at .venv-peer (one time) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "fer==25.10.3"], check=True)
    return str(python)


def run_peer(python: str, frames: np.ndarray) -> tuple[list[float], list[list[tuple]]]:
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "frames.npz", frames=frames)
        out = subprocess.run([python, "-c", PEER_WORKER, str(Path(tmp) / "frames.npz")],
                             capture_output=True, text=True, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["times"], [[tuple(b) for b in fs] for fs in result["boxes"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--peer-python", help="a Python with `fer` installed (default: .venv-peer, made on first use)")
    parser.add_argument("--no-peer", action="store_true", help="measure only our pipeline")
    args = parser.parse_args()

    videos = {n: make_video(n, args.frames, seed=n) for n in (1, 4)}
    r: dict = {}
    for n, (frames, truth) in videos.items():
        times, boxes = run_ours(frames)
        r[f"ours_p50_ms_{n}face{'s' if n > 1 else ''}"], r[f"ours_p95_ms_{n}face{'s' if n > 1 else ''}"] = stats(times)
        r[f"ours_face_recall_{n}"] = recall(boxes, truth)
    r["ours_face_recall"] = (r["ours_face_recall_1"] + 4 * r["ours_face_recall_4"]) / 5
    per_face = classify_throughput()
    r["classify_ms_per_face_b1"], r["classify_ms_per_face_b32"] = per_face[1], per_face[32]
    r["cold_start_s"], r["rss_mb"] = cold_start(sys.executable, "from emotion import EmotionDetector; EmotionDetector.load(detector='haar')")
    if not args.no_peer:
        python = peer_python(args.peer_python)
        for n, (frames, truth) in videos.items():
            times, boxes = run_peer(python, frames)
            r[f"peer_p50_ms_{n}face{'s' if n > 1 else ''}"], r[f"peer_p95_ms_{n}face{'s' if n > 1 else ''}"] = stats(times)
            r[f"peer_face_recall_{n}"] = recall(boxes, truth)
        r["peer_face_recall"] = (r["peer_face_recall_1"] + 4 * r["peer_face_recall_4"]) / 5
        r["peer_cold_start_s"], r["peer_rss_mb"] = cold_start(python, "from fer.fer import FER; FER()")
    r = {k: round(v, 3) for k, v in r.items()}
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"{platform.machine()}, {platform.python_version()}, {args.frames} frames of 640x480 per video")
    print(f"{'measure':<28}{'ours':>10}{'fer':>10}{'ours/fer':>10}")
    rows = [("p50 ms, 1 face", "p50_ms_1face"), ("p95 ms, 1 face", "p95_ms_1face"), ("p50 ms, 4 faces", "p50_ms_4faces"),
            ("p95 ms, 4 faces", "p95_ms_4faces"), ("face recall, 1 face", "face_recall_1"), ("face recall, 4 faces", "face_recall_4")]
    for label, key in rows:
        ours, peer = r.get(f"ours_{key}"), r.get(f"peer_{key}")
        ratio = f"{ours / peer:.2f}" if peer else "-"
        print(f"{label:<28}{ours:>10.3f}{peer if peer is not None else '-':>10}{ratio:>10}")
    print(f"{'classify ms/face, batch 1':<28}{r['classify_ms_per_face_b1']:>10.3f}")
    print(f"{'classify ms/face, batch 32':<28}{r['classify_ms_per_face_b32']:>10.3f}")
    print(f"{'cold start s':<28}{r['cold_start_s']:>10.2f}{r.get('peer_cold_start_s', '-'):>10}")
    print(f"{'max RSS MB':<28}{r['rss_mb']:>10.0f}{r.get('peer_rss_mb', '-'):>10}")


if __name__ == "__main__":
    main()
