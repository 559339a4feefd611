"""Archives and video files: `emotion batch` in one process, with `--jobs 2` and on a local Ray; `emotion video`.

    python -m bench.batch [--photos 2000] [--clip-seconds 60] [--long-minutes 10]

Photos: FER2013 val faces (every class) pasted one per 400x300 scene. Clip: 640x480 at 30 fps, two real faces
drifting over a background. Each batch path runs as its own `emotion batch` command (start-up included), watched
for the peak memory of every process it starts. Video speed and memory are measured in this process with
`analyse_clip`. Figures are printed and written to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
FER_VAL = ROOT.parent / "shared" / "datasets" / "fer2013" / "val"
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def make_photos(folder: Path, n: int) -> None:
    from emotion.imageio import read_image
    from emotion.preprocess import preprocess_face
    from synthetic.scenes import make_scene

    files = sorted(FER_VAL.glob("*/*.jpg"))
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i, k in enumerate(rng.choice(len(files), n, replace=False)):
        scene, _ = make_scene([preprocess_face(read_image(files[k]))], [int(rng.integers(100, 180))], (300, 400), seed=i)
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), scene, [cv2.IMWRITE_JPEG_QUALITY, 90])


def make_clip(path: Path, seconds: float) -> None:
    from emotion.imageio import read_image
    from emotion.preprocess import preprocess_face
    from synthetic.scenes import moving_faces, write_clip

    faces = [preprocess_face(read_image(f)) for f in (sorted(FER_VAL.glob("happy/*.jpg"))[0],
                                                        sorted(FER_VAL.glob("sad/*.jpg"))[0])]
    write_clip((f for f, _ in moving_faces(faces, int(seconds * 30), np.random.default_rng(0))), path)


class PeakMemory:
    """The peak resident memory of a process and of every process it starts, sampled every 0.2 s."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.peak: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    mb = p.memory_info().rss / 2**20
                    name = " ".join(p.cmdline()[:3])[-60:]
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if mb > self.peak.get(p.pid, ("", 0))[1]:
                    self.peak[p.pid] = (name, mb)
            time.sleep(0.2)

    def stop(self) -> tuple[float, float]:
        """(peak MB of the command itself, largest peak MB of a worker: a process that loaded a model)."""
        self._stop.set()
        self._thread.join()
        main = self.peak.get(self.root.pid, ("", 0.0))[1]
        workers = [mb for pid, (name, mb) in self.peak.items() if pid != self.root.pid and mb > 200]
        return main, max(workers, default=0.0)


def run_batch(inputs: list[Path], out: Path, options: list[str]) -> dict:
    """One `emotion batch` command: its wall time and peak memory, and its table."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "emotion", "batch", *map(str, inputs), "--out", str(out), "--json",
                             *options], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    memory = PeakMemory(proc.pid)
    proc.communicate()
    wall = time.perf_counter() - start
    main_mb, worker_mb = memory.stop()
    if proc.returncode not in (0, 2):
        raise SystemExit(f"emotion batch {' '.join(options)} failed with exit code {proc.returncode}")
    return {"wall": wall, "main_mb": main_mb, "worker_mb": worker_mb, "table": pd.read_parquet(out)}


def same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Identical rows: files, boxes and labels equal, probabilities within 1e-5, the finder's confidence within 1e-3.
    MTCNN runs on TensorFlow, whose sums depend on its thread count (a worker has its share of the cores): of 2,000
    photos, one confidence rounded to 0.9857 in one process and 0.9858 in a worker."""
    numbers = [*LABELS, "confidence"]
    return (len(a) == len(b) and a.drop(columns=numbers).astype(str).equals(b.drop(columns=numbers).astype(str))
            and bool(np.allclose(a[LABELS].to_numpy(float), b[LABELS].to_numpy(float), atol=1e-5, equal_nan=True))
            and bool(np.allclose(a["confidence"], b["confidence"], atol=1e-3, equal_nan=True)))


def video_speed(clip: Path, seconds: float) -> dict:
    """Seconds of video analysed per wall second, at the default sampling and at every frame (model loaded first)."""
    from emotion import EmotionDetector
    from emotion.clip import analyse_clip

    det = EmotionDetector.load(finder="live", tta=False)
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, fps in (("default", 10.0), ("every frame", None)):
            start = time.perf_counter()
            analyse_clip(clip, det, Path(folder) / name, fps=fps)
            out[name] = seconds / (time.perf_counter() - start)
    return out


def video_memory(clip: Path, minutes: float) -> list[tuple[float, float]]:
    """This process's resident memory (MB) after every half minute of a long clip's analysis."""
    from emotion import EmotionDetector
    from emotion.clip import analyse_clip

    det = EmotionDetector.load(finder="live", tta=False)
    me = psutil.Process()
    marks: list[tuple[float, float]] = []

    def progress(done: float, total: float | None) -> None:
        if done >= 30 * (len(marks) + 1) - 0.2:
            marks.append((done / 60, me.memory_info().rss / 2**20))

    with tempfile.TemporaryDirectory() as folder:
        analyse_clip(clip, det, Path(folder), progress=progress)
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--clip-seconds", type=float, default=60)
    parser.add_argument("--long-minutes", type=float, default=10, help="the clip for the memory check (0: skip it)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md", help="'-' for none")
    args = parser.parse_args()
    from bench.report import busy_warning, cpu_kind, machine, write_section

    warning = busy_warning()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_photos(tmp / "photos", args.photos)
        make_clip(tmp / "clip.mp4", args.clip_seconds)
        paths = {"one process": [], "--jobs 2": ["--jobs", "2"], "Ray, local": ["--ray"]}
        rows, tables = [], {}
        for name, options in paths.items():
            photos = run_batch([tmp / "photos"], tmp / f"photos-{len(rows)}.parquet", options)
            clip = run_batch([tmp / "clip.mp4"], tmp / f"clip-{len(rows)}.parquet", options)
            tables[name] = pd.concat([photos["table"], clip["table"]], ignore_index=True)
            rows.append((name, args.photos / photos["wall"], args.clip_seconds / clip["wall"], photos["main_mb"],
                         photos["worker_mb"]))
            print(rows[-1], flush=True)
        base = rows[0][1]
        identical = {name: same(tables["one process"], t) for name, t in tables.items()}
        speed = video_speed(tmp / "clip.mp4", args.clip_seconds)
        print(speed, flush=True)
        marks = []
        if args.long_minutes:
            make_clip(tmp / "long.mp4", args.long_minutes * 60)
            marks = video_memory(tmp / "long.mp4", args.long_minutes)
            print(marks, flush=True)
    faces = int(tables["one process"]["emotion"].notna().sum())
    lines = [
        "| path | photos/s | x one process | video s per wall s | peak MB, command | peak MB, worker | identical to one process |",
        "|---|---:|---:|---:|---:|---:|---|",
        *[f"| {n} | {p:.1f} | {p / base:.2f} | {v:.2f} | {m:.0f} | {w:.0f} | {'yes' if identical[n] else 'NO'} |"
          for n, p, v, m, w in rows],
        "",
        f"{faces} face rows over {args.photos} photos and the clip. Targets: `--jobs 2` and Ray >= 1.6x one process "
        f"(photos/s): {'met' if min(r[1] for r in rows[1:]) >= 1.6 * base else 'NOT met'}; identical results: "
        f"{'met' if all(identical.values()) else 'NOT met'}.",
        "",
        f"`emotion video` ({args.clip_seconds:.0f} s clip, 640x480, 30 fps, 2 faces; model loaded first): "
        f"{speed['default']:.1f}x real time at the default 10 frames/s (target >= 3x: "
        f"{'met' if speed['default'] >= 3 else 'NOT met'}), {speed['every frame']:.1f}x analysing every frame "
        f"(target >= 1x: {'met' if speed['every frame'] >= 1 else 'NOT met'}).",
    ]
    if marks:
        lines += ["", f"Memory over a {args.long_minutes:.0f}-minute clip (resident MB after every half minute): "
                  + ", ".join(f"{mb:.0f}" for _, mb in marks)
                  + f"; growth from the first half minute to the end: {marks[-1][1] - marks[0][1]:+.0f} MB."]
    print("\n".join(lines))
    if str(args.results) != "-":
        title, flags = cpu_kind()
        write_section(args.results, f"Archives and video files ({title})", [
            f"{time.strftime('%Y-%m-%d')}, `python -m bench.batch --photos {args.photos} --clip-seconds "
            f"{args.clip_seconds:.0f} --long-minutes {args.long_minutes:.0f}`.",
            f"Machine: {machine()}; CPU flags: {flags}.",
            *([f"**Warning**: {warning}."] if warning else []),
            "Each path is one `emotion batch` command, start-up included (Ray's start, each worker loading the model); "
            "photos: 400x300 scenes of one FER2013 val face each, MTCNN finder, the model's TTA; the clip: the video "
            "path (Haar finder with tracking, 10 frames/s). A single video is one task: more workers do not speed it up.",
            "",
            *lines,
        ])


if __name__ == "__main__":
    main()
