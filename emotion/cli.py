"""`emotion` (or `python -m emotion`): label the emotions of faces in photos, or score a model on a labelled folder.

Training, export and publishing are `emotion-train` (`python -m training`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class CliError(Exception):
    """A user-facing problem: printed as one line, exit code 2."""


def _load_detector(args: argparse.Namespace):
    from .detector import EmotionDetector

    try:
        return EmotionDetector.load(args.model, finder=args.finder, tta=args.tta)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CliError(f"cannot load model: {exc}") from None


def _predict(args: argparse.Namespace) -> int:
    from .draw import annotate
    from .imageio import ImageError, read_image

    det = _load_detector(args)
    results, failed = [], False
    if args.annotate:
        Path(args.annotate).mkdir(parents=True, exist_ok=True)
    for path in args.images:
        try:
            image = read_image(path)
        except ImageError as exc:
            failed = True
            results.append({"image": path, "error": str(exc)})
            if not args.json:
                print(f"error: {exc}", file=sys.stderr)
            continue
        faces = det.detect(image)
        results.append({"image": path, "faces": [f.to_json() for f in faces]})
        if args.annotate:
            import cv2

            cv2.imwrite(str(Path(args.annotate) / f"{Path(path).stem}.png"), annotate(image, faces))
        if not args.json:
            print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
            for f in faces:
                top = sorted(f.scores.items(), key=lambda kv: -kv[1])[:3]
                print(f"  {f.emotion:<9} box {f.box}  " + "  ".join(f"{k} {v:.0%}" for k, v in top))
    if args.json:
        print(json.dumps(results, indent=2))
    return 2 if failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_folder, report_text

    det = _load_detector(args)
    try:
        result, notes = evaluate_folder(det, args.data_dir, find_faces=args.detect)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    for note in notes:
        print(note, file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report_text(result))
        if args.detect:
            print(f"\nno face found in {result['no_face']} of {result['n']} images (counted as wrong)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .faces import FINDERS
    from .inference import TTA_VIEWS

    parser = argparse.ArgumentParser(prog="emotion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", help="model file trained by this project (default: models/emotion.keras)")
        p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                       help=f"test-time augmentation, the mean over {TTA_VIEWS} (default: the model's own setting)")
        p.add_argument("--finder", choices=sorted(FINDERS), default="mtcnn",
                       help="face finder: mtcnn (accurate, default) or haar (fast)")
        p.add_argument("--json", action="store_true", help="print JSON on stdout")

    p = sub.add_parser("predict", help="find and label faces in images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--annotate", metavar="OUT_DIR", help="write copies with boxes and labels drawn")
    model_options(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("evaluate", help="accuracy on a folder with one sub-folder per emotion")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--detect", action="store_true", help="find faces first, label the largest (else each image is one face crop)")
    model_options(p)
    p.set_defaults(func=_evaluate)

    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None, errors: tuple[type[Exception], ...] = (CliError,)) -> int:
    """Parse `argv` and run the chosen subcommand: `errors` print as one line with exit code 2, no traceback."""
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
