"""`emotion` (or `python -m emotion`): label the emotions of faces in photos and videos, analyse whole archives, or
score a model on a labelled folder.

Training, export and publishing are `emotion-train` (`python -m training`)."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from pathlib import Path

from .names import as_text


class CliError(Exception):
    """A user-facing problem: printed as one line, exit code 2."""


def frame_rate(text: str) -> float:
    """--fps: frames per second, a finite number >= 0 (0: every frame)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a frame rate; give frames per second, 0 or more (0: every "
                                         "frame)")
    return value


def worker_count(text: str) -> int:
    """--jobs: a whole number >= 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of workers; give 1 or more")
    return int(text)


def _load_detector(args: argparse.Namespace):
    from .detector import EmotionDetector
    from .prior import PriorError

    try:
        return EmotionDetector.load(args.model, finder=args.finder, tta=args.tta, prior=args.prior)
    except PriorError as exc:
        raise CliError(f"--prior: {exc}") from None
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CliError(f"cannot load model: {exc}") from None


def annotated_names(paths: list[str]) -> list[str]:
    """The file name of each image's annotated copy: its name as a PNG, numbered where names repeat (photos/a.jpg and
    others/a.jpg, or a.jpg and a.png), so that no copy overwrites another, even where a name's case does not count."""
    used: set[str] = set()
    names = []
    for path in paths:
        stem, n = Path(path).stem, 1
        name = f"{stem}.png"
        while name.lower() in used:  # a numbered name may be taken too (a.jpg, a.png and a-2.jpg)
            n += 1
            name = f"{stem}-{n}.png"
        used.add(name.lower())
        names.append(name)
    return names


def _predict(args: argparse.Namespace) -> int:
    from .clip import file_kind
    from .draw import annotate
    from .imageio import ImageError, read_image

    det = None
    results, failed = [], False
    if args.annotate:
        Path(args.annotate).mkdir(parents=True, exist_ok=True)
    for path, copy in zip(args.images, annotated_names(args.images)):
        try:
            if file_kind(path) == "video":
                raise ImageError(f"{path}: is a video; analyse it with `emotion video {path}`")
            image = read_image(path)
        except ImageError as exc:
            failed = True
            results.append({"image": as_text(path), "error": as_text(str(exc))})
            if not args.json:
                print(f"error: {as_text(str(exc))}", file=sys.stderr)
            continue
        # Loaded with the first readable image: a mistyped path is told at once, not after the model and the
        # face finder (TensorFlow) have loaded.
        det = det or _load_detector(args)
        faces = det.detect(image)
        results.append({"image": as_text(path), "faces": [f.to_json() for f in faces]})
        if args.annotate:
            import cv2

            # Encoded here and written by Python, which keeps any name's bytes (cv2.imwrite takes UTF-8 names only).
            (Path(args.annotate) / copy).write_bytes(cv2.imencode(".png", annotate(image, faces))[1].tobytes())
        if not args.json:
            print(f"{as_text(path)}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
            for f in faces:
                top = sorted(f.scores.items(), key=lambda kv: -kv[1])[:3]
                print(f"  {f.emotion:<9} box {f.box}  " + "  ".join(f"{k} {v:.0%}" for k, v in top))
    if args.json:
        print(json.dumps(results, indent=2))
    return 2 if failed else 0


def _video(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .clip import ClipError, analyse_clip

    out = Path(args.out or f"{Path(args.video).stem}-emotion")
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {as_text(out)}: is a file, not a folder; name a folder for the results")
    det = _load_detector(args)
    with tqdm(unit="s", desc="video analysed", disable=args.json,
              bar_format="{l_bar}{bar}| {n:.1f}/{total_fmt} s of video [{elapsed}<{remaining}, {rate_fmt}]") as bar:
        def progress(seconds: float, total: float | None) -> None:
            bar.total = total and round(total, 1)
            bar.update(round(seconds - bar.n, 3))

        try:
            result = analyse_clip(args.video, det, out, fps=args.fps or None, annotated=args.annotate, progress=progress)
        except ClipError as exc:
            raise CliError(str(exc)) from None
    s = result.summary
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        mood = "  ".join(f"{k} {v:.0%}" for k, v in sorted(s["mood"].items(), key=lambda kv: -kv[1])[:3])
        print(f"{as_text(args.video)}: {s['frames_analysed']} frames analysed, {s['faces_seen']} face"
              f"{'s' if s['faces_seen'] != 1 else ''} seen; mood: {s['dominant'] or 'no face found'}  {mood}")
        for seg in s["segments"]:
            print(f"  {seg['start_s']:7.1f}-{seg['end_s']:7.1f} s  {seg['mood']}")
        print(f"results in {as_text(out)}/")
    if result.error:
        print(f"error: {as_text(result.error)} (results up to there are in {as_text(out)}/)", file=sys.stderr)
        return 130 if result.interrupted else 2
    return 0


def _batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .batch import Output, Settings, find_files, made_with, run_here, run_jobs, run_ray

    from .detector import DEFAULT_MODEL
    from .modelfile import read_meta
    from .prior import PriorError

    jobs = args.jobs or (None if args.ray else 1)
    settings = Settings(args.model, args.finder, args.tta, args.prior, args.fps or None,
                        threads=max(1, (os.cpu_count() or 1) // jobs) if jobs and jobs > 1 else (1 if args.ray else None))
    try:  # a bad model or prior fails here, once, before any worker starts; only the workers load the model
        meta = read_meta(Path(args.model or DEFAULT_MODEL))
        made = made_with(settings, meta)  # resolves the prior
        labels = tuple(meta["labels"])
    except PriorError as exc:
        raise CliError(f"--prior: {exc}") from None
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CliError(f"cannot load model: {exc}") from None
    files, missing = find_files(args.inputs)
    for item in missing:
        print(f"error: {as_text(item)}: no photo or video found there; check the path or pattern", file=sys.stderr)
    if not files:
        raise CliError("nothing to analyse: no photo or video found in the inputs")
    try:
        out = Output(Path(args.out), labels)
        out.claim()
        done = out.done()
        out.keep_settings(made, done)
    except (ValueError, OSError) as exc:
        raise CliError(f"cannot use the output {args.out}: {exc}") from None
    todo = [f for f in files if as_text(f) not in done]
    if done:
        print(f"{len(files) - len(todo)} of {len(files)} files are already in {args.out}: skipped", file=sys.stderr)
    if not todo:
        results = iter(())
    elif args.ray:
        results = run_ray(todo, settings, None if args.ray == "local" else args.ray, jobs)
    elif jobs > 1:
        results = run_jobs(todo, settings, jobs)
    else:
        results = run_here(todo, settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops as Ctrl-C does: finished files saved
    try:
        for rows in tqdm(results, total=len(todo), unit="file", desc="files analysed", disable=args.json):
            out.add(rows)
    except KeyboardInterrupt:
        out.save()
        print("interrupted: the finished files are saved; rerun the same command to go on", file=sys.stderr)
        return 130
    df = out.merge()
    per_file = df.assign(face=df["emotion"].notna(), failed=df["error"].notna()).groupby("file")[["face", "failed"]].any()
    failed = int(per_file["failed"].sum())
    summary = {"output": args.out, "files": len(per_file), "faces": int(df["emotion"].notna().sum()),
               "files_without_face": int((~per_file["face"] & ~per_file["failed"]).sum()), "files_failed": failed}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['files']} files: {summary['faces']} face rows, {summary['files_without_face']} files without "
              f"a face, {summary['files_failed']} failed -> {args.out}")
    return 2 if failed or missing else 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import class_folders, evaluate_folder, report_text

    try:
        # Checked before the model loads: a mistyped folder is told at once, not after TensorFlow has loaded.
        class_folders(args.data_dir)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    result, notes = evaluate_folder(_load_detector(args), args.data_dir, find_faces=args.detect)
    for note in notes:
        print(note, file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report_text(result))
        prior = ", ".join(f"{k} {v:.1%}" for k, v in result["prior"].items()) if result["prior"] else "as trained"
        print(f"\nTTA {'on' if result['tta'] else 'off'}; prior: {prior}")
        if args.detect:
            print(f"\nno face found in {result['no_face']} of {result['n']} images (counted as wrong)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .clip import DEFAULT_FPS
    from .faces import FINDERS
    from .inference import TTA_VIEWS

    parser = argparse.ArgumentParser(prog="emotion", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser, finder: str = "photo",
                      tta: str = "default: the model's own setting") -> None:
        p.add_argument("--model", help="model file trained by this project (default: models/emotion.keras)")
        p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                       help=f"test-time augmentation, the mean over {TTA_VIEWS} ({tta})")
        p.add_argument("--finder", choices=sorted(FINDERS), default=finder,
                       help="face finder: photo (accurate) or live (fast, follows faces from frame to frame in video); "
                            "default %(default)s")
        p.add_argument("--prior", metavar="PRIOR",
                       help="how common each emotion is assumed to be: default (the model's), training (as in its "
                            "training data: happy most, disgust least), balanced (all equally), or a share for each "
                            "emotion, e.g. angry=1,disgust=1,fear=1,happy=2,sad=1,surprise=1,neutral=2")
        p.add_argument("--json", action="store_true", help="print JSON on stdout")

    p = sub.add_parser("predict", help="find and label faces in images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--annotate", metavar="OUT_DIR", help="write copies with boxes and labels drawn")
    model_options(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("video", help="a video's faces over time: frames.csv, summary.json, timeline.png")
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--out", metavar="DIR", help="folder for the results (default: VIDEO's name + -emotion)")
    p.add_argument("--fps", type=frame_rate, default=DEFAULT_FPS,
                   help=f"frames analysed per second of video (default {DEFAULT_FPS:g}; 0: every frame)")
    p.add_argument("--annotate", action="store_true", help="also write annotated.mp4 with numbered, labelled boxes")
    # Video: the live finder, which follows faces from frame to frame; labels are smoothed over time, so
    # test-time augmentation (18x the model cost) is off unless asked for.
    model_options(p, finder="live", tta="default: off")
    p.set_defaults(func=_video, tta=False)

    p = sub.add_parser("batch", help="every face in many photos and videos, one row each, into Parquet or CSV",
                       description="Every face in many photos and videos, one row each, into Parquet or CSV. "
                       "--finder and --tta are for photos: videos run as `emotion video` does, with the live finder "
                       "following faces from frame to frame and without TTA.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders (searched recursively) or globs")
    p.add_argument("--out", required=True, metavar="TABLE", help="results.parquet or results.csv; rerunning skips "
                   "the files already in it")
    p.add_argument("--jobs", type=worker_count, metavar="N", help="worker processes (default 1; with --ray: one per CPU)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray: a cluster's address, 'auto' (RAY_ADDRESS or `ray start`), or none: a local Ray")
    p.add_argument("--fps", type=frame_rate, default=DEFAULT_FPS,
                   help=f"video frames analysed per second (default {DEFAULT_FPS:g}; 0: every frame)")
    model_options(p)
    p.set_defaults(func=_batch)

    p = sub.add_parser("evaluate", help="accuracy on a folder with one sub-folder per emotion")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--detect", action="store_true", help="find faces first, label the largest (else each image is one face crop)")
    model_options(p)
    p.set_defaults(func=_evaluate)

    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None, errors: tuple[type[Exception], ...] = (CliError,)) -> int:
    """Parse `argv` and run the chosen subcommand: `errors` print as one line with exit code 2, no traceback."""
    # A file name that is not UTF-8 (old archives, Samba shares) is printed with its odd bytes escaped, where a
    # strict stdout raised UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except errors as exc:
        print(f"error: {as_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
