"""`emotion-train` (or `python -m training`): train, average, compare, export and publish emotion models, and make
the shifted-val proxy they are chosen on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emotion.cli import CliError, run


def _train(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .fit import train

    cfg = TrainConfig.from_args(args) if args.data else None
    train(cfg, args.out, resume=args.resume, until=args.until, finalize_only=args.finalize, overwrite=args.overwrite)
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from .ensemble import build

    build(args.models, args.data, args.out)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .ensemble import compare

    print(f"{args.split}: TTA log-probabilities averaged over the members; accuracy, macro recall, disgust and fear recall")
    for result, members in compare(args.models, args.data, args.split):
        recall = "  ".join(f"{c} {result['per_class'][c]['recall']:.3f}" for c in ("disgust", "fear") if c in result["labels"])
        print(f"{result['accuracy']:.4f}  {result['macro_recall']:.4f}  {recall}  {' + '.join(members)}")
    return 0


def _unpack(args: argparse.Namespace) -> int:
    from emotion.detector import DEFAULT_MODEL

    from .ensemble import unpack

    for path in unpack(args.model or DEFAULT_MODEL, args.run):
        print(f"wrote {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from emotion.detector import DEFAULT_MODEL
    from emotion.inference import export_paths
    from emotion.modelfile import sidecar_path

    from .data import load_split
    from .export import export, representative_faces

    model = Path(args.model or DEFAULT_MODEL)
    # A TFLite file beside its model is what EmotionDetector.load runs on (emotion.inference.pick_export).
    beside = export_paths(model)["int8" if args.int8 else ""]
    out = args.out or (beside if args.format == "tflite" else f"models/export/{model.stem}_savedmodel")
    representative = representative_faces(load_split(args.int8, "train").x) if args.int8 else None
    path = export(model, args.format, out, representative)
    print(f"wrote {path} (labels in {sidecar_path(path)})")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from .publish import publish

    publish(args.run, int8=args.int8, shifted=args.shifted, **({"dest": args.dest} if args.dest else {}))
    return 0


def _shifted(args: argparse.Namespace) -> int:
    from .shifted import build

    val = Path(args.data) / "val"
    if not val.is_dir():
        raise CliError(f"{val}: no val/ folder with one sub-folder per class")
    n = build(val, Path(args.out), args.seed)
    print(f"wrote {n} photos to {args.out}; score a model with: emotion evaluate {args.out} --detect [--model PATH]")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from .runs_index import index_runs

    print(f"wrote {index_runs(args.folder)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .config import TrainConfig
    from .export import FORMATS

    parser = argparse.ArgumentParser(prog="emotion-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model on FER2013-style data (resumable)")
    TrainConfig.add_arguments(p)
    p.add_argument("--out", default="runs/new", help="run folder (checkpoints, model, reports; default runs/new)")
    p.add_argument("--until", type=int, help="stop after this epoch (resume later with --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    p.add_argument("--overwrite", action="store_true", help="start the run in --out over, discarding it")
    p.add_argument("--finalize", action="store_true",
                   help="write the model and reports from the best weights so far, without training")
    p.set_defaults(func=_train)

    p = sub.add_parser("ensemble", help="average trained models into one model file, calibrated on val")
    p.add_argument("models", nargs="+", metavar="MODEL", help="model files trained by this project (two or more)")
    p.add_argument("--data", required=True, nargs="+", metavar="SOURCE",
                   help="datasets whose val/ (or test/) splits calibrate and score the ensemble (the first's is its val)")
    p.add_argument("--out", required=True, help="run folder for the ensemble's model.keras and reports")
    p.set_defaults(func=_ensemble)

    p = sub.add_parser("compare", help="val accuracy (TTA) of every subset of models averaged: picks --teacher and "
                                       "ensemble members")
    p.add_argument("models", nargs="+", metavar="MODEL", help="model files trained by this project")
    p.add_argument("--data", required=True, help="dataset folder or fer2013.csv")
    p.add_argument("--split", default="val", help="split to score (default val)")
    p.set_defaults(func=_compare)

    p = sub.add_parser("unpack", help="write an ensemble file's members back to the model files its run lists, "
                                      "to compare or average them with new models")
    p.add_argument("run", type=Path, help="the ensemble's run folder (its run.json lists the members' paths)")
    p.add_argument("--model", type=Path, help="the ensemble's model file (default: models/emotion.keras)")
    p.set_defaults(func=_unpack)

    p = sub.add_parser("export", help="export a model for deployment (TFLite or SavedModel)")
    p.add_argument("--format", choices=FORMATS, default="tflite")
    p.add_argument("--model", help="model file (default: models/emotion.keras)")
    p.add_argument("--out", help="output file or folder (default: beside the model, NAME.tflite or with --int8 "
                                 "NAME.int8.tflite, which inference then uses; models/export/ for a SavedModel)")
    p.add_argument("--int8", metavar="DATA", help="TFLite computing in int8 (several times faster on CPUs with VNNI), "
                                                  "its ranges set on faces of DATA's train split")
    p.set_defaults(func=_export)

    p = sub.add_parser("publish", help="make a run the default model: models/emotion.keras, its export and the card")
    p.add_argument("run", type=Path, help="run folder (training or ensemble)")
    p.add_argument("--int8", action="store_true", help="ship an int8 TFLite export beside the float32 one (inference "
                                                       "picks int8 on CPUs with VNNI)")
    p.add_argument("--as", dest="dest", type=Path, help="model file to write (default models/emotion.keras; "
                                                        "models/live.keras for the live video model)")
    p.add_argument("--shifted", type=Path, metavar="DIR", help="also score the shipped file on a shifted val made by "
                                                               "`shifted-val` (face finder, framing, TTA, prior) for the card")
    p.set_defaults(func=_publish)

    p = sub.add_parser("shifted-val", help="val faces as camera photos (scenes, roll, light, blur, noise, JPEG): a "
                                           "proxy for real photos, scored with `emotion evaluate OUT --detect`")
    p.add_argument("--data", required=True, help="dataset folder with val/<class>/*.jpg")
    p.add_argument("--out", required=True, help="folder for the photos (outside the repository: they are FER2013)")
    p.add_argument("--seed", type=int, default=0, help="the same seed makes the same photos (default 0)")
    p.set_defaults(func=_shifted)

    p = sub.add_parser("runs", help="write runs/README.md: every run folder's architecture, origin and val results")
    p.add_argument("--folder", type=Path, default=Path("runs"))
    p.set_defaults(func=_runs)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv, (CliError, FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
