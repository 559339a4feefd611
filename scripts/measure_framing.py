"""Measure how each face finder's raw box relates to the FER2013 crop framing (emotion.faces.boxes.FRAMING).

FER2013 faces are pasted into scenes at known boxes; each finder's raw (unframed) box is compared
with the paste box. Prints, per finder, the share of faces found and the median scale and centre shift
that turn its raw box into the FER2013 crop.

    python scripts/measure_framing.py [--n 200]
"""

from __future__ import annotations

import argparse
import random

from pathlib import Path

import numpy as np

from emotion import faces
from emotion.imageio import read_image
from emotion.preprocess import preprocess_face
from synthetic.scenes import make_scene

FER_VAL = Path(__file__).resolve().parents[1].parent / "shared/datasets/fer2013/val"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="faces to paste")
    args = parser.parse_args()
    files = sorted(FER_VAL.rglob("*.jpg"))
    random.Random(0).shuffle(files)
    faces.boxes.FRAMING.update({net: (1.0, 0.0) for net in faces.boxes.FRAMING})  # raw boxes: what we estimate
    for name in faces.FINDERS:
        finder = faces.make_finder(name, min_face=20)
        scales, shifts, found = [], [], 0
        for i, path in enumerate(files[: args.n]):
            size = 60 + (i * 37) % 240
            scene, (truth,) = make_scene([preprocess_face(read_image(path))], [size], seed=i)
            hits = [d.box for d in finder.find(scene) if faces.iou(d.box, truth) > 0.3]
            if not hits:
                continue
            found += 1
            x, y, w, h = max(hits, key=lambda b: faces.iou(b, truth))
            side = (w + h) / 2
            scales.append(truth[2] / side)
            shifts.append(((truth[1] + truth[3] / 2) - (y + h / 2)) / truth[2])
        print(f"{name} finder: found {found}/{args.n}; scale median {np.median(scales):.3f} "
              f"(IQR {np.percentile(scales, 25):.3f}-{np.percentile(scales, 75):.3f}); "
              f"shift median {np.median(shifts):+.3f}")


if __name__ == "__main__":
    main()
