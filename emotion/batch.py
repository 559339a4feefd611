"""Archives: every face in many photos and videos, one row each, in one Parquet (or CSV) table.

inputs (folders, globs, files) -> the files not yet in the output -> `analyse_file` per file, in this process,
in `--jobs` worker processes or on Ray Data actors (a cluster, or a local Ray) -> rows saved in parts as files
finish, so an interrupted run loses only the files in flight -> the parts merged into the output, sorted.

A row is one face (photo: its number in reading order; video: its track id, frame and time), or one row for a
file with no face or with an error: nothing is dropped silently.
"""

from __future__ import annotations

import glob
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from .clip import VIDEO_SUFFIXES, Clip, ClipError, face_columns, file_kind, follow, frame_rows
from .detector import DEFAULT_MODEL, Face
from .imageio import IMAGE_SUFFIXES, ImageError, read_image
from .modelfile import file_sha256
from .names import as_text
from .prior import resolve

FLUSH_SECONDS = 2.0  # finished files' rows are saved at least this often: what a killed run can lose
FLUSH_ROWS = 5000
# Files per Ray task: fewer, larger tasks keep Ray's per-task cost (scheduling, object store) small next to the
# analysis; they are also what an interrupted Ray run can lose.
BATCH_FILES = 16
# One reading task reads files far faster than this many actors analyse them; without a cap Ray Data ran 15
# reading tasks at once on 2 cores, each a new Ray worker process (bench/RESULTS.md).
ACTORS_PER_READER = 32


TEXT_COLUMNS = ("file", "kind", "emotion", "error")


@dataclass(frozen=True)
class Settings:
    """How every worker loads its detector: plain values, so they travel to processes and Ray actors."""

    model: str | None = None
    finder: str = "photo"  # for photos; videos use the live finder and tracking, as `emotion video`
    tta: bool | None = None  # for photos (None: the model's own setting); off for videos
    prior: str | None = None  # see emotion.prior.resolve (None: the model's own)
    fps: float | None = 10.0  # video frames analysed per second (None: every frame)
    threads: int | None = None  # inference threads per worker (None: the runtime's default)


def find_files(inputs: Iterable[str]) -> tuple[list[str], list[str]]:
    """The photo and video files named by `inputs` (files, folders searched recursively, globs), each once under the
    name it was found by (a link is not replaced by its target: its name says what it holds), and the inputs that
    named nothing. A file named directly is kept whatever its suffix or kind (it gets an error row if it is no photo
    or video); in folders and globs only photo and video names count. A search never enters a linked folder, so a
    link loop cannot make it endless."""
    wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    media = lambda f: Path(f).suffix.lower() in wanted and not os.path.isdir(f)  # noqa: E731
    files, missing = [], []
    for item in inputs:
        if os.path.isdir(item):
            found = [f for f in _glob(os.path.join(glob.escape(item), "**", "*"), hidden=True) if media(f)]
        elif os.path.lexists(item):  # a file, or a link, FIFO or device named directly: its row says what it is
            found = [item]
        else:
            found = [f for f in _glob(item) if media(f)]
        if not found:
            missing.append(item)
        files += [os.path.abspath(f) for f in found]
    return list(dict.fromkeys(files)), missing


def _glob(pattern: str, hidden: bool = False) -> list[str]:
    """What `pattern` matches (`**`: any depth), sorted; links to folders are not entered (wcmatch without FOLLOW),
    where Python's glob follows them into every loop."""
    from wcmatch import glob as wglob

    return sorted(wglob.glob(pattern, flags=wglob.GLOBSTAR | (wglob.DOTGLOB if hidden else 0)))


class FileAnalyser:
    """One loaded detector, and the rows of a file: what a worker process or a Ray actor holds."""

    def __init__(self, settings: Settings):
        if settings.threads:  # one worker of several: its share of the cores, for every library that spawns threads
            os.environ["EMOTION_THREADS"] = str(settings.threads)
            # TensorFlow (MTCNN) reads these when its runtime starts. tf.config.threading raises once the runtime has
            # started, which it had in workers spawned after the page's tests (cause not found); these never raise.
            os.environ["TF_NUM_INTRAOP_THREADS"] = str(settings.threads)
            os.environ["TF_NUM_INTEROP_THREADS"] = "1"
            import cv2

            cv2.setNumThreads(settings.threads)
        from .detector import EmotionDetector
        from .faces import make_finder

        self.settings = settings
        self.photos = EmotionDetector.load(settings.model, finder=settings.finder, tta=settings.tta,
                                           prior=settings.prior)
        self.videos = self.photos.variant(make_finder("live"), tta=False)
        self.labels = self.photos.labels

    def rows(self, path: str, data: bytes | None = None) -> list[dict]:
        """Every face of the photo or video at `path` (its content in `data`, if already read)."""
        kind = file_kind(path)
        try:
            rows = self._video(path, data) if kind == "video" else self._photo(path, data)
        except (ImageError, ClipError) as exc:
            return [{"file": path, "kind": kind, "error": str(exc)}]
        except Exception as exc:  # noqa: BLE001  one file's unexpected failure is its row; the run goes on
            return [{"file": path, "kind": kind, "error": f"{Path(path).name}: {type(exc).__name__}: {exc}"}]
        return rows or [{"file": path, "kind": kind}]  # no face: one row that says so (no box, no scores, no error)

    def _photo(self, path: str, data: bytes | None) -> list[dict]:
        return photo_rows(path, self.photos.detect(read_image(data if data is not None else path, name=Path(path).name)),
                          self.labels)

    def _video(self, path: str, data: bytes | None) -> list[dict]:
        rows: list[dict] = []
        with Clip(data if data is not None else path, name=Path(path).name) as clip:
            try:
                for sampled, tracked in follow(clip, self.videos, self.settings.fps):
                    rows += [{"file": path, "kind": "video", **r} for r in frame_rows(sampled, tracked, self.labels)]
            except ClipError as exc:  # broke off midway: the faces up to there, and the error on a row of its own
                if not rows:
                    raise
                rows.append({"file": path, "kind": "video", "error": str(exc)})
        return rows


def photo_rows(path: str, faces: list[Face], labels: tuple[str, ...]) -> list[dict]:
    """A photo's rows, one per face, numbered as drawn. The finder's confidence: faces.GUESS (0) marks a thumbnail
    with no face found, read whole as one face crop."""
    return [{"file": path, "kind": "photo", "face_id": i, **face_columns(f, labels), "confidence": round(f.confidence, 4)}
            for i, f in enumerate(faces, 1)]


def table(rows: list[dict], labels: tuple[str, ...]) -> pd.DataFrame:
    """Rows as the output's table: the same columns and types whichever way they were computed."""
    columns = ["file", "kind", "frame", "time_s", "face_id", "x", "y", "w", "h", *labels, "emotion", "confidence",
               "error"]
    text = list(TEXT_COLUMNS)
    # Names that are not UTF-8, as text a table can hold (pandas stores text as UTF-8 already when the frame is made).
    df = pd.DataFrame([{k: as_text(v) if k in TEXT_COLUMNS and isinstance(v, str) else v for k, v in r.items()}
                       for r in rows], columns=columns)
    ints = ["frame", "face_id", "x", "y", "w", "h"]
    df[ints] = df[ints].astype("Int64")
    df[["time_s", *labels, "confidence"]] = df[["time_s", *labels, "confidence"]].astype("float64")
    df[text] = df[text].astype("string")
    return df


def made_with(settings: Settings, meta: dict) -> dict:
    """What decides a file's rows, as plain JSON values: the runtime's version, the model file's bytes, the finder,
    TTA, the prior and the video frame rate, each as it takes effect (the model's own TTA and prior when none is
    given)."""
    from . import __version__

    model = Path(settings.model or DEFAULT_MODEL)
    prior = resolve(settings.prior, meta)
    return {"runtime": __version__, "model_sha256": file_sha256(model)[:12], "finder": settings.finder,
            "tta": meta.get("tta_default", False) if settings.tta is None else settings.tta,
            "prior": prior and {k: round(v, 6) for k, v in prior.items()}, "fps": settings.fps}


# A spreadsheet runs a CSV cell that starts with one of these as a formula (=HYPERLINK(...) in a file name): such
# cells, and cells that start with the quote itself, are written after a quote, which spreadsheets show as text.
CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CSV_QUOTE = "'"


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every text cell a spreadsheet would run as a formula quoted (`CSV_FORMULA`); `Output` unquotes them
    when it reads the table back."""
    text = list(TEXT_COLUMNS)
    quoted = df.copy()
    quoted[text] = df[text].map(lambda v: CSV_QUOTE + v if isinstance(v, str) and v.startswith(
        (*CSV_FORMULA, CSV_QUOTE)) else v)
    return quoted


class Output:
    """The output table and its parts folder beside it (OUT.parts/): finished files are saved there as they come,
    and merged into OUT at the end. Rerunning reads both, so it skips every file already done; what the rows were
    made with (`made_with`) is kept beside them (OUT.settings.json), and a rerun made otherwise is refused, so that
    one table never mixes rows of two models or settings."""

    def __init__(self, path: Path, labels: tuple[str, ...]):
        if path.suffix.lower() not in (".parquet", ".csv"):
            raise ValueError(f"{path}: the output must end in .parquet or .csv")
        self.path, self.labels = path, labels
        self.parts = path.with_name(path.name + ".parts")
        self.settings = path.with_name(path.name + ".settings.json")
        self._pending: list[dict] = []
        self._saved = time.monotonic()

    def claim(self) -> None:
        """Make this process the output's only writer, until it exits: a second run on the same output is refused
        (two runs both wrote every row, or one died midway)."""
        from filelock import FileLock, Timeout

        self._lock = FileLock(self.path.with_name(self.path.name + ".lock"))
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise ValueError("another `emotion batch` run is writing it; wait for that run to end, or choose another "
                             "--out") from None

    def _read(self, path: Path) -> pd.DataFrame:
        if path.suffix.lower() != ".csv":
            return pd.read_parquet(path)
        text = list(TEXT_COLUMNS)
        df = pd.read_csv(path, dtype={c: "string" for c in text})
        df[text] = df[text].map(lambda v: v[1:] if isinstance(v, str) and v.startswith(CSV_QUOTE) else v)
        return table(df.to_dict("records"), self.labels)

    def _tables(self) -> list[pd.DataFrame]:
        found = [self._read(self.path)] if self.path.exists() else []
        # A part is written under a temporary name and renamed when complete: every *.parquet here is whole.
        return found + [pd.read_parquet(p) for p in sorted(self.parts.glob("*.parquet"))]

    def keep_settings(self, made: dict, done: set[str]) -> None:
        """Record `made` (see `made_with`) for a new output, or check that an existing one was made the same way;
        ValueError names each setting that differs. `done`: the files it has rows for (`done()`)."""
        if not self.settings.exists():
            if not done:  # else rows of a table from before settings were recorded: nothing to check them against
                self.settings.write_text(json.dumps(made, indent=2))
            return
        kept = json.loads(self.settings.read_text())
        if not isinstance(kept, dict):
            raise ValueError(f"{self.settings} holds no settings record; remove it together with the table, or "
                             "write to another --out")
        shown = lambda v: ",".join(f"{k}={x:.3g}" for k, x in v.items()) if isinstance(v, dict) else v  # noqa: E731
        differ = [f"{k}: {shown(kept[k]) if k in kept else 'not recorded'} there, {shown(v)} now"
                  for k, v in made.items() if kept.get(k) != v]
        if differ:
            raise ValueError("its rows were made with other settings (" + "; ".join(differ) + "); rerun with the "
                             "same model and options to go on, or write to another --out")

    def done(self) -> set[str]:
        """The files the output (and its saved parts) already has rows for."""
        return {f for df in self._tables() for f in df["file"].dropna().unique()}

    def add(self, rows: list[dict]) -> None:
        self._pending += rows
        if len(self._pending) >= FLUSH_ROWS or time.monotonic() - self._saved >= FLUSH_SECONDS:
            self.save()

    def save(self) -> None:
        """Write the rows so far as one more part."""
        self._saved = time.monotonic()
        if not self._pending:
            return
        self.parts.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        tmp = self.parts / f"{name}.tmp"
        table(self._pending, self.labels).to_parquet(tmp, index=False)
        tmp.rename(self.parts / f"{name}.parquet")
        self._pending = []

    def merge(self) -> pd.DataFrame:
        """Everything saved, as one table sorted by file, frame and face, written to the output; parts removed."""
        self.save()
        tables = [t for t in self._tables() if len(t)]
        df = pd.concat(tables, ignore_index=True) if tables else table([], self.labels)
        df = df.sort_values(["file", "frame", "face_id"], kind="stable", na_position="first").reset_index(drop=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        if self.path.suffix.lower() == ".csv":
            csv_safe(df).to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        tmp.rename(self.path)
        for part in self.parts.glob("*"):
            part.unlink()
        if self.parts.exists():
            self.parts.rmdir()
        return df


_worker: FileAnalyser | None = None


def _start_worker(settings: Settings) -> None:
    global _worker
    _worker = FileAnalyser(settings)


def _work(path: str) -> list[dict]:
    return _worker.rows(path)


def run_here(files: list[str], settings: Settings) -> Iterator[list[dict]]:
    """Each file's rows, analysed in this process."""
    analyser = FileAnalyser(settings)
    for path in files:
        yield analyser.rows(path)


def run_jobs(files: list[str], settings: Settings, jobs: int) -> Iterator[list[dict]]:
    """Each file's rows as they finish, from `jobs` worker processes that each load the model once. A worker that
    dies (killed, e.g. by the out-of-memory killer) takes the files in flight with it: the others go on in new
    workers, and those files are tried again one at a time; one that stops its worker again gets an error row."""
    suspects = yield from _pool_rows(files, settings, jobs)
    for path in suspects:
        if (yield from _pool_rows([path], settings, 1)):
            yield [{"file": path, "kind": file_kind(path), "error": f"{as_text(Path(path).name)}: the worker analysing "
                    "it stopped (killed, e.g. out of memory); analyse it alone, or with more memory"}]


def _pool_rows(files: list[str], settings: Settings, jobs: int) -> Iterator[list[dict]]:
    """`run_jobs`' rows from as many pools as it takes: a broken pool is replaced; returns the files it lost."""
    queue, lost = iter(files), []
    while True:
        # spawn, not fork: TensorFlow and the TFLite runtime are not fork-safe once loaded.
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_start_worker,
                                 initargs=(settings,)) as pool:
            running = {pool.submit(_work, f): f for f in _take(queue, 2 * jobs)}  # a few ahead: workers never wait
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        rows = future.result()
                        del running[future]
                        yield rows
                    running |= {pool.submit(_work, f): f for f in _take(queue, len(finished))}
                return lost
            except BrokenProcessPool:
                lost += running.values()


def _take(items: Iterator[str], n: int) -> list[str]:
    return [item for _, item in zip(range(n), items)]


class _RayAnalyser:
    """A Ray Data actor: one loaded detector, a batch of files (path and bytes) in, their rows out."""

    def __init__(self, settings: Settings):
        self.analyser = FileAnalyser(settings)

    def __call__(self, batch: dict) -> pd.DataFrame:
        rows = [r for path, data in zip(batch["path"], batch["bytes"]) for r in self.analyser.rows(path, bytes(data))]
        return table(rows, self.analyser.labels)


def run_ray(files: list[str], settings: Settings, address: str | None, jobs: int | None) -> Iterator[list[dict]]:
    """Each file's rows, from Ray Data: the files read as a dataset, analysed by `jobs` actors (default: one per CPU
    of the cluster; one loaded detector each) on the cluster at `address` ("auto": the one RAY_ADDRESS or
    `ray start` names; None: a local Ray)."""
    import logging

    import ray

    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False,
             logging_level=logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the command draws one bar over files
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    jobs = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
    # Reading is I/O: its tasks take no CPU slot, else they would wait forever for the actors' slots (one each). Their
    # number is capped, since each concurrent one is a Ray worker process to start.
    dataset = ray.data.read_binary_files(files, include_paths=True, num_cpus=0,
                                         concurrency=max(1, jobs // ACTORS_PER_READER))
    results = dataset.map_batches(_RayAnalyser, fn_constructor_kwargs={"settings": settings}, batch_size=BATCH_FILES,
                                  batch_format="numpy", concurrency=jobs, num_cpus=1)
    for batch in results.iter_batches(batch_size=None, batch_format="pandas"):
        for _, rows in batch.groupby("file", sort=False):
            yield [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows.to_dict("records")]
