"""`python -m emotion`: predict emotions in photos, evaluate a model on a labelled folder, export, train, ensemble."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class CliError(Exception):
    """A user-facing problem: printed as one line, exit code 2."""


def _load_detector(args: argparse.Namespace, detector: str = "mtcnn"):
    from .detector import EmotionDetector

    try:
        return EmotionDetector.load(args.model, detector=getattr(args, "detector", detector), tta=args.tta)
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
    import numpy as np

    from .data import class_folders
    from .evaluate import report_text, score
    from .imageio import ImageError, read_image

    det = _load_detector(args)
    try:
        classes, skipped = class_folders(args.data_dir, known=det.labels)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    for name in skipped:
        print(f"skipped folder '{name}': not a class this model knows ({', '.join(det.labels)})", file=sys.stderr)
    y_true, scores, no_face, unreadable = [], [], [], []
    for label, files in classes.items():
        for path in files:
            try:
                image = read_image(path)
            except ImageError as exc:
                unreadable.append(str(exc))
                continue
            if args.detect:
                faces = det.detect(image)
                if not faces:
                    no_face.append(str(path))
                    continue
                # The image's label belongs to its main subject: the largest face.
                scores.append(max(faces, key=lambda f: f.box[2] * f.box[3]).scores)
            else:
                scores.append(det.classify([image])[0])
            y_true.append(det.labels.index(label))
    for msg in unreadable:
        print(f"skipped {msg}", file=sys.stderr)
    y_pred = np.array([det.labels.index(max(s, key=s.get)) for s in scores], dtype=int)
    result = score(np.array(y_true, dtype=int), y_pred, det.labels)
    # Images where no face was found count as wrong answers.
    total = result["n"] + len(no_face)
    result.update(
        accuracy=round(float((y_pred == np.array(y_true)).sum()) / total, 4) if total else 0.0,
        n=total, no_face=len(no_face), no_face_files=no_face[:50], unreadable=len(unreadable),
        tta=det.tta, detect=bool(args.detect), data_dir=str(args.data_dir),
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report_text(result))
        if args.detect:
            print(f"\nno face found in {len(no_face)} of {total} images (counted as wrong)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .detector import DEFAULT_MODEL
    from .data import load_split
    from .export import calibration_faces, export
    from .model import sidecar_path

    model = Path(args.model or DEFAULT_MODEL)
    # A TFLite file beside its model is what EmotionDetector.load runs on (see model.lite_predictor).
    out = args.out or (model.with_suffix(".tflite") if args.format == "tflite" else f"models/export/{model.stem}_savedmodel")
    try:
        calibration = calibration_faces(load_split(args.int8, "train").x) if args.int8 else None
        path = export(model, args.format, out, calibration)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    print(f"wrote {path} (labels in {sidecar_path(path)})")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .train import train

    try:
        train(args.data, args.out, resume=args.resume, until=args.until, finalize_only=args.finalize,
              overwrite=args.overwrite,
              arch=args.arch, epochs=args.epochs,
              batch_size=args.batch_size, learning_rate=args.lr, weight_decay=args.weight_decay,
              warmup_epochs=args.warmup_epochs, seed=args.seed, init_from=args.init_from, ema=args.ema,
              teacher=args.teacher, teacher_weight=args.teacher_weight, consistent=args.consistent or None)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from .ensemble import build

    try:
        build(args.models, args.data, args.out)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .faces import DETECTORS

    parser = argparse.ArgumentParser(prog="python -m emotion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", help="model file trained by this project (default: models/emotion.keras)")
        p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                       help="average over the face mirrored and zoomed 0.9/1.1x (default: the model's own setting)")
        p.add_argument("--json", action="store_true", help="print JSON on stdout")

    p = sub.add_parser("predict", help="find and label faces in images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--annotate", metavar="OUT_DIR", help="write copies with boxes and labels drawn")
    p.add_argument("--detector", choices=sorted(DETECTORS), default="mtcnn", help="face detector (default mtcnn)")
    model_options(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("evaluate", help="accuracy on a folder with one sub-folder per emotion")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--detect", action="store_true", help="detect faces first (else each image is one face crop)")
    p.add_argument("--detector", choices=sorted(DETECTORS), default="mtcnn")
    model_options(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("export", help="export the model for deployment (TFLite or SavedModel)")
    p.add_argument("--format", choices=["tflite", "savedmodel"], default="tflite")
    p.add_argument("--model", help="model file (default: models/emotion.keras)")
    p.add_argument("--out", help="output file or folder (default: the .tflite beside the model, which inference "
                                 "then uses; models/export/ for a SavedModel)")
    p.add_argument("--int8", metavar="DATA", help="TFLite computing in int8, ~4x faster on CPU (val: -0.1 to -0.2 "
                                                  "points), calibrated on faces of DATA's train split")
    p.set_defaults(func=_export)

    p = sub.add_parser("train", help="train a model on FER2013-style data")
    p.add_argument("--data", required=True, help="folder with train/ and val/ (or test/) class folders, or fer2013.csv")
    p.add_argument("--out", default="runs/new", help="run folder (checkpoints, model, reports; default runs/new)")
    p.add_argument("--epochs", type=int, help="length of the schedule (default 40)")
    p.add_argument("--until", type=int, help="stop after this epoch (resume later with --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    p.add_argument("--overwrite", action="store_true", help="start the run in --out over, discarding it")
    p.add_argument("--finalize", action="store_true",
                   help="write the model and reports from the best weights so far, without training")
    p.add_argument("--arch", help="architecture: vgg-small (default), vgg, tiny")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="peak learning rate (default 0.002)")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.02)")
    p.add_argument("--warmup-epochs", type=int, help="epochs of linear learning-rate warmup (default 2)")
    p.add_argument("--ema", type=float, metavar="MOMENTUM",
                   help="validate and keep an exponential moving average of the weights, e.g. 0.999 (default off)")
    p.add_argument("--init-from", metavar="PATH",
                   help="start from trained weights (run folder, .weights.h5 or model file; same --arch, or a narrower one: pruned, see emotion/slim.py)")
    p.add_argument("--teacher", metavar="MODEL", nargs="+",
                   help="distill: train towards a mix of the labels and these models' probabilities (.keras files; "
                   "several act as one ensemble)")
    p.add_argument("--teacher-weight", type=float, help="the teacher's share of each target (default 0.5)")
    p.add_argument("--consistent", action="store_true",
                   help="the teachers score every augmented face as the student sees it, in every epoch (slower), "
                   "instead of each face once with TTA before training")
    p.add_argument("--seed", type=int, help="random seed (default 1337); give a warm restart a new one, "
                   "or it replays the shuffle and augmentations its source was trained on")
    p.set_defaults(func=_train)

    p = sub.add_parser("ensemble", help="average trained models into one model file, calibrated on val")
    p.add_argument("models", nargs="+", metavar="MODEL", help="model files trained by this project (two or more)")
    p.add_argument("--data", required=True, help="dataset whose val/ (or test/) split calibrates and scores the ensemble")
    p.add_argument("--out", required=True, help="run folder for the ensemble's model.keras and reports")
    p.set_defaults(func=_ensemble)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
