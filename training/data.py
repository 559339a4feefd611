"""Loading labelled faces: an image-folder dataset or the Kaggle `fer2013.csv`.

Both return uint8 faces already passed through `preprocess_face`, so training sees exactly what
inference sees. Class names come from the data; known classes keep FER2013's order.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from emotion.evaluate import class_folders
from emotion.imageio import ImageError, read_image
from emotion.labels import FER2013_LABELS
from emotion.preprocess import INPUT_SIZE, preprocess_face

CSV_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


@dataclass
class FaceSet:
    """Faces (N x 48 x 48 uint8), integer labels into `labels`, the files they came from, and for faces of several
    sources, which one each face came from (an index into the run's `--data`)."""

    x: np.ndarray
    y: np.ndarray
    labels: tuple[str, ...]
    paths: list[str]
    source: np.ndarray | None = None


def ordered_labels(names) -> tuple[str, ...]:
    """FER2013 classes in FER2013 order, then any others alphabetically."""
    names = set(names)
    return tuple(n for n in FER2013_LABELS if n in names) + tuple(sorted(names - set(FER2013_LABELS)))


def load_folder(root: str | Path, labels: tuple[str, ...] | None = None, progress: bool = True) -> FaceSet:
    """Load `root/<class>/*` images as already-cropped faces."""
    classes, _ = class_folders(root, known=labels)
    labels = labels or ordered_labels(classes)
    x, y, paths = [], [], []
    items = [(f, labels.index(c)) for c in labels for f in classes.get(c, [])]
    for path, label in tqdm(items, desc=f"loading {root}", disable=not progress, unit="img"):
        try:
            x.append(preprocess_face(read_image(path)))
        except ImageError as exc:
            tqdm.write(f"skipped {exc}")
            continue
        y.append(label)
        paths.append(str(path))
    return FaceSet(np.stack(x), np.asarray(y, np.int32), labels, paths)


def load_fer_csv(path: str | Path, split: str) -> FaceSet:
    """Load one split ("train", "val" or "test") of the Kaggle fer2013.csv (emotion,pixels,Usage)."""
    x, y = [], []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected emotion,pixels,Usage")
        for row in reader:
            if CSV_SPLITS.get(row["Usage"]) != split:
                continue
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            x.append(preprocess_face(pixels.reshape(INPUT_SIZE, INPUT_SIZE)))
            y.append(int(row["emotion"]))
    if not x:
        raise ValueError(f"{path}: no rows with Usage for split '{split}'")
    return FaceSet(np.stack(x), np.asarray(y, np.int32), FER2013_LABELS, [f"{path}:{split}:{i}" for i in range(len(x))])


def load_split(data: str | Path, split: str, labels: tuple[str, ...] | None = None) -> FaceSet:
    """Load `split` from a dataset folder (`train/`, `val/` or `test/`) or a fer2013.csv file."""
    data = Path(data)
    if data.is_file() and data.suffix.lower() == ".csv":
        return load_fer_csv(data, split)
    names = {"val": ("val", "validation", "test")}.get(split, (split,))
    for name in names:
        if (data / name).is_dir():
            return load_folder(data / name, labels, progress=os.isatty(2))
    raise FileNotFoundError(f"{data}: no '{names[0]}/' folder (expected {data}/{names[0]}/<class>/*.jpg)")


def source_name(data: str | Path) -> str:
    """A source's short name in logs and reports: its folder's (or CSV file's) name, e.g. "fer2013", "expw"."""
    return Path(data).stem


def load_sources(sources: list[str], split: str, labels: tuple[str, ...] | None = None) -> list[FaceSet]:
    """`split` of every source, all in the first source's class order (or `labels`); a later source's classes that the
    first lacks are left out."""
    sets = []
    for data in sources:
        sets.append(load_split(data, split, labels))
        labels = sets[0].labels
    return sets


def concatenate(sets: list[FaceSet]) -> FaceSet:
    """Several sources' faces as one set, each face marked with its source's index."""
    return FaceSet(np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets]), sets[0].labels,
                   [p for s in sets for p in s.paths],
                   np.concatenate([np.full(len(s.y), i, np.int32) for i, s in enumerate(sets)]))


def source_shares(weights: list[float] | None, sizes: list[int]) -> np.ndarray:
    """Each source's share of an epoch's faces: `weights` (a run's --source-weights) normalized, or in proportion to
    the sources' `sizes`."""
    shares = np.asarray(weights if weights else sizes, dtype=float)
    if len(shares) != len(sizes) or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError(f"--source-weights: give {len(sizes)} non-negative weights, one per --data source, "
                         "not all zero")
    return shares / shares.sum()
