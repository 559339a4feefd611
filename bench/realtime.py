"""Real-time benchmark: our live path vs. the `fer` package's `FER().detect_emotions`, same frames.

    python -m bench.realtime [--frames 300] [--runs 3] [--json] [--peer-python PATH]

Builds two pairs of 640x480 videos (1 and 4 faces): FER2013 val faces drifting over smooth backgrounds, and faces
from real photographs (a NASA portrait, ExpW faces) drifting, coming near, going far and tilting over real photos.
Then measures per-frame latency of the full live path (find + preprocess + classify + smooth + draw) with the model
the page runs on live video and with the other shipped model, per-frame face recall, false boxes,
faces labelled right, classification throughput, cold start (of the package and of the page) and resident memory,
as medians of --runs runs, prints them and writes them to bench/RESULTS.md, in the section of this
CPU's kind (with or without VNNI: int8 kernels are several times faster with it).
The peer runs in its own virtualenv (`fer` needs pkg_resources and its own TensorFlow stack), created on
first use at .venv-peer/ with `pip install --no-deps fer` plus what it imports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

FER_VAL = ROOT.parent / "shared" / "datasets" / "fer2013" / "val"
EXPW = ROOT.parent / "shared" / "datasets" / "expw" / "expw48.tar.gz"
EXPW_LABELS = ("angry", "neutral", "sad", "surprise")  # the real clip's other faces: not the portrait's happy
PEER_VENV = ROOT / ".venv-peer"
# Classification cost (ours and fer's alike): the median of this many timed windows, so that a burst of another
# process's work slows one window rather than the figure.
CLASSIFY_WINDOWS = 5
PEER_PACKAGES = ["tensorflow-cpu==2.21.0", "keras==3.15.1", "opencv-python-headless==4.14.0.94", "numpy==2.4.6",
                 "setuptools<81", "requests", "pillow", "pandas", "tqdm", "matplotlib"]


Clip = tuple[np.ndarray, list[list[tuple]], list[str]]  # frames (T x 480 x 640 x 3), true boxes per frame, labels


def fer_clip(n_faces: int, frames: int, seed: int) -> Clip:
    """FER2013 val faces (happy and neutral) drifting over smooth backgrounds (`synthetic.scenes.moving_faces`)."""
    from emotion.imageio import read_image
    from emotion.preprocess import preprocess_face
    from synthetic.scenes import moving_faces

    rng = np.random.default_rng(seed)
    files = sorted(FER_VAL.glob("happy/*.jpg"))[:40] + sorted(FER_VAL.glob("neutral/*.jpg"))[:40]
    chosen = [files[i] for i in rng.choice(len(files), n_faces, replace=False)]
    out, truth = zip(*moving_faces([preprocess_face(read_image(f)) for f in chosen], frames, rng))
    return np.stack(out), list(truth), [f.parent.name for f in chosen]


def real_clip(n_faces: int, frames: int, seed: int) -> Clip:
    """Faces from real photographs over real photos without people, drifting, coming near and going far and tilting
    (`synthetic.scenes.wandering_faces`): the NASA portrait of astronaut Eileen Collins (public domain, in
    scikit-image's wheel; smiling: happy) in colour, and for more than one face ExpW val faces (people of many ages
    and skin tones) of other emotions, over scikit-image's coffee, cat and rocket photos."""
    import tarfile

    import cv2
    import skimage.data

    from emotion.faces import iou, make_finder
    from emotion.imageio import read_image
    from synthetic.scenes import wandering_faces

    rng = np.random.default_rng(seed)
    finder = make_finder("photo")
    portrait = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    x, y, w, h = finder.find(portrait)[0].box  # her face, framed as training faces are
    faces, labels = [portrait[y:y + h, x:x + w]], ["happy"]
    with tarfile.open(EXPW, "r|gz") as archive:  # streamed: its val faces come last, after ~2 s
        val = {m.name: archive.extractfile(m).read() for m in archive
               if m.isfile() and m.name.split("/")[-3:-2] == ["val"] and m.name.split("/")[-2] in EXPW_LABELS}
    for label in rng.choice(EXPW_LABELS, n_faces - 1, replace=False):
        for name in rng.permutation(sorted(n for n in val if n.split("/")[-2] == label)):
            face = read_image(val[name])
            # A crop framed as training faces are (some of ExpW's are looser): the photo finder's framed box fills it,
            # so the crop's square is the face's true box.
            found = finder.find(cv2.resize(face, (192, 192), interpolation=cv2.INTER_CUBIC))
            if len(found) == 1 and iou(found[0].box, (0, 0, 192, 192)) >= 0.7:
                break
        faces.append(face)
        labels.append(str(label))
    backgrounds = [cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)
                   for photo in (skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket())]
    out, truth = zip(*wandering_faces(faces, frames, rng, backgrounds))
    return np.stack(out), list(truth), labels


def score(found: list[list[tuple]], shown: list[list[str]], clip: Clip) -> dict[str, float]:
    """Face recall (share of true faces with a box at IoU >= 0.4 in that very frame), false boxes per frame (boxes
    at IoU < 0.2 with every true face) and faces labelled right (share of the true faces shown with their true label:
    a face without a box is not; among the found faces alone, a finder that misses the faces a model reads worst
    would look better)."""
    from emotion.faces import iou

    _, truth, labels = clip
    hits = right = false = 0
    for boxes, names, true_boxes in zip(found, shown, truth):
        for t, label in zip(true_boxes, labels):
            match = max(range(len(boxes)), key=lambda i: iou(boxes[i], t), default=None)
            if match is not None and iou(boxes[match], t) >= 0.4:
                hits += 1
                right += names[match] == label
        false += sum(all(iou(b, t) < 0.2 for t in true_boxes) for b in boxes)
    return {"face_recall": hits / sum(len(ts) for ts in truth), "false_boxes_per_frame": false / len(truth),
            "labelled_right": right / sum(len(ts) for ts in truth)}


def stats(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def models() -> dict[str, Path]:
    """The models to measure on the live path: "ours" is what the page's live video runs on with this CPU
    (emotion.detector.live_model), "other" the shipped model it does not run (the photo or the live model)."""
    from emotion.detector import DEFAULT_MODEL, LIVE_MODEL, live_model

    ours = live_model()
    others = [m for m in (LIVE_MODEL, DEFAULT_MODEL) if m.exists() and m != ours]
    return {"ours": ours, **({"other": others[0]} if others else {})}


def run_ours(frames: np.ndarray, model: Path) -> tuple[list[float], list[list[tuple]], list[list[str]]]:
    """ms per frame of the page's live path, and per frame the boxes found in it and their labels as shown."""
    from emotion import EmotionDetector
    from emotion.video import LiveProcessor

    det = EmotionDetector.load(model, finder="live", tta=False)  # as the page's live mode, TTA off
    LiveProcessor(det).process(frames[0])  # warm-up: graph tracing
    proc = LiveProcessor(det)
    times, boxes, shown = [], [], []
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        proc.process(frame, now=i / 30)
        times.append((time.perf_counter() - t0) * 1000)
        seen = [t for t in proc.tracks if t.seen == i / 30]
        boxes.append([t.box for t in seen])
        shown.append([det.labels[int(np.argmax(t.scores))] for t in seen])
    return times, boxes, shown


def classify_throughput(model: Path) -> dict:
    """ms per face at batch 1 and 32 with the kernels this CPU runs, and at batch 32 with the float32 export:
    what a CPU without VNNI runs, here on this CPU's own float32 kernels (a proxy, not that CPU's figure)."""
    from emotion import EmotionDetector

    faces = [np.random.default_rng(i).integers(0, 255, (48, 48), dtype=np.uint8) for i in range(32)]

    def ms_per_face(det: EmotionDetector, batch: int) -> float:
        det.classify(faces[:batch])
        reps = 200 if batch == 1 else 30
        windows = []
        for _ in range(CLASSIFY_WINDOWS):
            t0 = time.perf_counter()
            for _ in range(reps):
                det.classify(faces[:batch])
            windows.append((time.perf_counter() - t0) * 1000 / reps / batch)
        return float(np.median(windows))

    det = EmotionDetector.load(model, finder="live", tta=False)
    out = {batch: ms_per_face(det, batch) for batch in (1, 32)}
    with patch.dict(os.environ, {"EMOTION_KERNELS": "float32"}):
        out["float32"] = ms_per_face(EmotionDetector.load(model, finder="live", tta=False), 32)
    return out


def cold_start(python: str, code: str) -> tuple[float, float]:
    """Seconds to import and load, and peak RSS (MB), in a fresh process.

    Peak RSS is the child's own VmHWM: getrusage's ru_maxrss survives exec on Linux, so it would
    report this (larger) benchmark process's peak instead.
    """
    script = f"import re, time; t = time.perf_counter(); {code}; " \
             "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); " \
             "print(time.perf_counter() - t, int(hwm) / 1024)"
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return float(out[-2]), float(out[-1])


def page_cold_start() -> tuple[float, float] | None:
    """Seconds from `streamlit run app.py` to the page in headless Chromium (the browser already open) showing
    (1) its tabs and the photo uploader, ready for a photo, and (2) everything of its first run: the sidebar with
    the model's own settings and the films column's prompt, drawn last. None without Debian's chromium or
    Playwright."""
    import socket
    import urllib.request

    chromium = "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(chromium).exists():
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        t0 = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                   "--server.address", "127.0.0.1", "--server.headless", "true"],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                    break
                except OSError:
                    if time.perf_counter() - t0 > 120:
                        raise RuntimeError("streamlit did not start within 120 s") from None
                    time.sleep(0.05)
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("tab", name="🎥 Live webcam").wait_for(timeout=120_000)
            page.get_by_text("Upload one or more photos").wait_for(timeout=120_000)  # the first tab is usable
            usable = time.perf_counter() - t0
            page.get_by_text("Test-time augmentation").wait_for(timeout=120_000)  # drawn once the model is loaded
            page.get_by_text("then your films appear here").wait_for(timeout=120_000)
            return usable, time.perf_counter() - t0
        finally:
            browser.close()
            server.terminate()
            server.wait(timeout=20)


PEER_WORKER = """
import json, sys, time, numpy as np
from fer.fer import FER
frames = np.load(sys.argv[1])["frames"]
det = FER()
det.detect_emotions(frames[0])
times, boxes, shown = [], [], []
for f in frames:
    t0 = time.perf_counter()
    res = det.detect_emotions(f)
    times.append((time.perf_counter() - t0) * 1000)
    boxes.append([list(map(int, r["box"])) for r in res])
    shown.append([max(r["emotions"], key=r["emotions"].get) for r in res])
per_face = {}
for b in (1, 32):  # fer's own classification call (its default TFLite model), faces as it prepares them
    x = np.random.default_rng(b).uniform(-1, 1, (b, 64, 64)).astype(np.float32)
    det._classify_emotions(x)
    reps, windows = (200 if b == 1 else 30), []
    for _ in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        for _ in range(reps):
            det._classify_emotions(x)
        windows.append((time.perf_counter() - t0) * 1000 / reps / b)
    per_face[b] = float(np.median(windows))
print(json.dumps({"times": times, "boxes": boxes, "shown": shown, "classify": per_face}))
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


def run_peer(python: str, frames: np.ndarray) -> tuple[list[float], list[list[tuple]], list[list[str]], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "frames.npz", frames=frames)
        out = subprocess.run([python, "-c", PEER_WORKER, str(Path(tmp) / "frames.npz"), str(CLASSIFY_WINDOWS)],
                             capture_output=True, text=True, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["times"], [[tuple(b) for b in fs] for fs in result["boxes"]], result["shown"], result["classify"]


def clip_figures(prefix: str, clip_name: str, n: int, times: list[float], found: list[list[tuple]],
                 shown: list[list[str]], clip: Clip) -> dict[str, float]:
    """One clip's figures under result keys: `prefix` (ours, other, peer), the clip ("" for FER2013's, "real_"), the
    measure and the number of faces."""
    faces = f"{n}face{'s' if n > 1 else ''}"
    p50, p95 = stats(times)
    out = {f"{prefix}_{clip_name}p50_ms_{faces}": p50, f"{prefix}_{clip_name}p95_ms_{faces}": p95}
    return out | {f"{prefix}_{clip_name}{k}_{n}": v for k, v in score(found, shown, clip).items()}


def measure(videos: dict, python: str | None) -> dict:
    """One run of every measurement on the same videos ({(clip name, faces): clip}); `python` runs the peer (None:
    skip it)."""
    r: dict = {}
    for who, model in models().items():
        for (clip_name, n), clip in videos.items():
            r |= clip_figures(who, clip_name, n, *run_ours(clip[0], model), clip)
        per_face = classify_throughput(model)
        r[f"{who}_classify_ms_per_face_b1"], r[f"{who}_classify_ms_per_face_b32"] = per_face[1], per_face[32]
        r[f"{who}_classify_f32_ms_per_face_b32"] = per_face["float32"]
        r[f"{who}_cold_start_s"], r[f"{who}_rss_mb"] = cold_start(
            sys.executable, f"from emotion import EmotionDetector; EmotionDetector.load({str(model)!r}, finder='live')")
    if (page := page_cold_start()) is not None:
        r["page_cold_start_s"], r["page_loaded_s"] = page
    if python:
        for (clip_name, n), clip in videos.items():
            times, boxes, shown, per_face = run_peer(python, clip[0])
            r["peer_classify_ms_per_face_b1"], r["peer_classify_ms_per_face_b32"] = per_face["1"], per_face["32"]
            r |= clip_figures("peer", clip_name, n, times, boxes, shown, clip)
        r["peer_cold_start_s"], r["peer_rss_mb"] = cold_start(python, "from fer.fer import FER; FER()")
    return r


CLIPS = {"": "FER2013 clip", "real_": "real-photo clip"}  # result key part -> name


def clip_rows(clip: str) -> list[tuple]:
    """A clip's rows: (label, key without ours_/other_/peer_, goal for ours: (">=" or "<=", value) or None)."""
    name = CLIPS[clip]
    return [(f"{name}: p50 ms, 1 face", f"{clip}p50_ms_1face", ("<=", 6)),
            (f"{name}: p95 ms, 1 face", f"{clip}p95_ms_1face", None),
            (f"{name}: p50 ms, 4 faces", f"{clip}p50_ms_4faces", ("<=", 12)),
            (f"{name}: p95 ms, 4 faces", f"{clip}p95_ms_4faces", None),
            (f"{name}: face recall, 1 face", f"{clip}face_recall_1", (">=", 0.95)),
            (f"{name}: face recall, 4 faces", f"{clip}face_recall_4", (">=", 0.85)),
            (f"{name}: false boxes a frame, 1 face", f"{clip}false_boxes_per_frame_1", None),
            (f"{name}: false boxes a frame, 4 faces", f"{clip}false_boxes_per_frame_4", None),
            (f"{name}: faces labelled right, 1 face", f"{clip}labelled_right_1", None),
            (f"{name}: faces labelled right, 4 faces", f"{clip}labelled_right_4", None)]


# Then the clip-free rows. Classify: the live model's budget (#21) is 0.6 ms/face, the photo ensemble's 1 ms/face
# (#20), whichever of them the live path runs on this CPU (a goal per model file name).
ROWS = [row for clip in CLIPS for row in clip_rows(clip)] + [
    ("classify ms/face, batch 1", "classify_ms_per_face_b1", None),
    ("classify ms/face, batch 32", "classify_ms_per_face_b32", {"live": ("<=", 0.6), "emotion": ("<=", 1.0)}),
    ("classify ms/face, batch 32, float32 export", "classify_f32_ms_per_face_b32", None),
    ("cold start s (import + load)", "cold_start_s", None),
    ("app cold start s (to ready page: tabs, photo uploader)", "page_cold_start_s", ("<=", 6)),
    ("app cold start s (to its first run drawn: models, catalog)", "page_loaded_s", None),
    ("peak RSS MB (import + load)", "rss_mb", None),
]


def table(r: dict) -> list[str]:
    """The results as Markdown table rows: ours (what the page's live video runs on here), the other shipped model,
    fer, ours/fer, goal; then per clip p95 / p50 and the speed-up over fer."""
    names = {who: model.stem for who, model in models().items()}
    lines = [f"| measure | ours ({names['ours']}) | {names.get('other', 'other')} | fer | ours/fer | target (ours) |",
             "|---|---:|---:|---:|---:|---|"]
    cell = lambda v: f"{v:.4g}" if v is not None else "-"  # noqa: E731
    for label, key, goal in ROWS:
        ours = r.get(f"ours_{key}", r.get(key))
        if ours is None:  # the page's cold start needs Chromium + Playwright
            continue
        peer = r.get(f"peer_{key}")
        goal = goal.get(names["ours"]) if isinstance(goal, dict) else goal
        met = goal and (ours <= goal[1] if goal[0] == "<=" else ours >= goal[1])
        lines.append(f"| {label} | {cell(ours)} | {cell(r.get(f'other_{key}'))} | {cell(peer)} | "
                     f"{f'{ours / peer:.2f}' if peer else '-'} | "
                     f"{f'{goal[0]} {goal[1]}: ' + ('met' if met else 'NOT met') if goal else '-'} |")
    for clip, name in CLIPS.items():
        for faces, shown in (("1face", "1 face"), ("4faces", "4 faces")):
            ratio = r[f"ours_{clip}p95_ms_{faces}"] / r[f"ours_{clip}p50_ms_{faces}"]
            lines.append(f"\n{name}, p95 / p50, {shown}: {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'}).")
        if f"peer_{clip}p50_ms_1face" in r:
            speedup = min(r[f"peer_{clip}p50_ms_{f}"] / r[f"ours_{clip}p50_ms_{f}"] for f in ("1face", "4faces"))
            lines.append(f"\n{name}, speed-up over fer (p50, the smaller of 1 and 4 faces): {speedup:.2f}x (target >= "
                         f"3x: {'met' if speedup >= 3 else 'NOT met'}).")
    return lines


def model_line() -> str:
    """Which models were measured: architecture, the start of the file's SHA-256, and the kernels that ran."""
    from emotion import EmotionDetector
    from emotion.modelfile import file_sha256, read_meta

    return "; ".join(f"{who}: {model.relative_to(ROOT)} ({read_meta(model).get('arch', '?')}, sha256 "
                     f"{file_sha256(model)[:12]}, {EmotionDetector.load(model, finder='live').backend})"
                     for who, model in models().items())


def main() -> None:
    from bench.report import busy_warning, cpu_kind, machine, write_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3, help="repeat every measurement; medians are reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--peer-python", help="a Python with `fer` installed (default: .venv-peer, made on first use)")
    parser.add_argument("--no-peer", action="store_true", help="measure only our pipeline")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md",
                        help="where to write the Markdown report (default bench/RESULTS.md; '-' for none)")
    args = parser.parse_args()

    warning = busy_warning()
    videos = {(clip, n): make(n, args.frames, seed=n) for clip, make in (("", fer_clip), ("real_", real_clip))
              for n in (1, 4)}
    python = None if args.no_peer else peer_python(args.peer_python)
    runs = [measure(videos, python) for _ in range(args.runs)]
    r = {k: round(float(np.median([run[k] for run in runs])), 3) for k in runs[0]}
    if args.json:
        print(json.dumps({**r, "cpu": cpu_kind()[1]}, indent=2))
    else:
        print("\n".join(table(r)))
    if str(args.results) != "-":
        title, flags = cpu_kind()
        write_section(args.results, title, [
            f"{time.strftime('%Y-%m-%d')}, `python -m bench.realtime --frames {args.frames} --runs {args.runs}`; "
            f"medians of {args.runs} runs.",
            f"Machine: {machine()}; CPU flags: {flags}.",
            f"Models: {model_line()}.",
            *([f"**Warning**: {warning}."] if warning else []),
            f"Input: {args.frames} frames of 640x480 per video. FER2013 clip: 1 face of 200 px or 4 of 130 px (FER2013 "
            "val faces, happy and neutral) drifting over smooth backgrounds. Real-photo clip: the NASA portrait of "
            "astronaut Eileen Collins (smiling: happy), with 3 ExpW val faces (angry, neutral, sad or surprise) in "
            "the 4-face video, drifting, coming near and going far (80-220 px alone, 60-140 px in fours) and tilting "
            "up to 25 degrees, over scikit-image's coffee, cat and rocket photos. Latency is the full live path per "
            "frame: find + preprocess + classify + smooth + draw for ours (TTA off, as on the page); "
            "`FER().detect_emotions` for fer. Face recall: share of (frame, face) pairs with a box at IoU >= 0.4 in "
            "that very frame; false boxes: boxes at IoU < 0.2 with every true face; faces labelled right: share of "
            "the (frame, face) pairs shown with the face's true label. Cold start: a fresh "
            "Python importing the package and loading the model + the live face finder (fer: `FER()`); app cold start: from "
            "`streamlit run app.py` to the page's tabs and photo uploader in headless Chromium (ready for a photo), "
            "and to the last element of its first run (models and catalog loaded).",
            "",
            *table(r),
        ])


if __name__ == "__main__":
    main()
