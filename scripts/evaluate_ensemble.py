"""Accuracy of several models averaged as one ensemble (with the default TTA), on a labelled split.

Used to pick distillation teachers (`python -m emotion train --teacher A B C` learns from exactly this
average of TTA log-probabilities) and the members of a shipped ensemble (`python -m emotion ensemble A B`). Every model is also scored alone, and every subset of two or more, so
one call shows which members earn their place. Scores are cached in runs/teacher-cache/ (the cache the
training runs use), so a second call with one new model only scores that one.

    python scripts/evaluate_ensemble.py runs/restart1/model.keras runs/slim2/model.keras runs/teach1/model.keras
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emotion.data import load_split  # noqa: E402
from emotion.evaluate import score  # noqa: E402
from emotion.train import TEACHER_CACHE, teacher_log_probs  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "fer2013"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model files trained by this project")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="dataset folder or fer2013.csv (default: ../shared)")
    parser.add_argument("--split", default="val", help="split to score (default val)")
    args = parser.parse_args()

    faces = load_split(args.data, args.split)
    log_probs = {m: teacher_log_probs(m, faces, cache_dir=ROOT / "runs" / TEACHER_CACHE) for m in args.models}
    print(f"{args.split}: {len(faces.y)} faces, TTA log-probabilities averaged over the members")
    for size in range(1, len(args.models) + 1):
        for members in itertools.combinations(args.models, size):
            result = score(faces.y, np.mean([log_probs[m] for m in members], axis=0).argmax(1), faces.labels)
            recall = "  ".join(f"{c} {result['per_class'][c]['recall']:.3f}" for c in ("disgust", "fear") if c in faces.labels)
            print(f"{result['accuracy']:.4f}  {recall}  {' + '.join(members)}")


if __name__ == "__main__":
    main()
