"""The model card's template and the text of its parts, each made from the data and the runs' records: no number is
typed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emotion.detector import DEFAULT_MODEL, EmotionDetector
from emotion.evaluate import class_folders, evaluate_folder
from emotion.prior import normalized

from .data import load_split, source_name, source_shares
from .ensemble import ARCH as ENSEMBLE
from .lineage import data_sources, read_run, run_folder
from .priors import ACCURACY_TOLERANCE


CARD = """# Model card: `models/emotion.keras`

{status}

## What it is
- **Task**: facial expression classification, {n_labels} classes in this order (stored inside the model
  file): {labels}.
- **Input**: one face, grayscale {size}x{size} uint8 (`emotion.preprocess.preprocess_face`: crop, turned upright by
  its eye line (both face finders give the eyes) -> grayscale -> {size}x{size}); scaling to [0, 1] and temperature
  calibration are layers of the model, which outputs calibrated logits (softmax gives the probabilities).
- **Architecture**: {architecture}.
  **{params:,} parameters**, file size {size_mb:.1f} MB.
- **Runtime**: inference runs on this file's TFLite exports: {runtime}; cost per face and per frame:
  `bench/RESULTS.md`.
- **Used for**: {role}
- **Code**: {commands}; this card: `python -m training publish {run}{int8_flag}`.

## Training
- **Data**: {data}
- **Recipe**: {recipe}
  Every stage: batch {batch}, label smoothing {ls}.
- **Progress**: {progress}.
- **Time**: {hours:.1f} h of training so far; numeric precision and hardware per stage above.

## Results — `{first}` val ({val_faces:,} faces; used for model selection)
| | accuracy | macro recall |
|---|---|---|
| single pass | **{acc:.1%}** | {macro} |
| with test-time augmentation ({tta_views}) | {acc_tta:.1%} | {macro_tta} |
{runtime_rows}
TTA is {tta_state} by default (on only when it adds >= 0.5 points on val).

Per-class recall, single pass: {recall}; with TTA: {recall_tta}.

**Calibration** (temperature scaling fitted on val, T = {temperature:.3f}): expected calibration
error {ece_before:.3f} before, {ece_after:.3f} after (15 bins); with TTA (the views' calibrated logits
averaged) {ece_after_tta:.3f}. As T is fitted on the same val split that reports it, the "after"
figures are optimistic.

The run's reports are committed beside its configuration: `{run}/confusion_matrix.png`,
`{run}/report.txt` (per-class precision/recall/F1, with and without TTA), `{run}/metrics.json`;
{curves}.

{other_vals}## Results — val faces as photos (the face finder first, as for an uploaded photo)
{shifted}

How the photo finder searches, and what each of its steps adds: `models/FACE_FINDER.md`.

## Prior: how common each emotion is assumed to be
{prior}

## Unsure faces
{unsure}

## Not measured here
The held-out FER2013 PrivateTest split and other datasets are not available to this project; the
maintainers re-measure there. Numbers above are on val, which was used to pick {selection}, so
they are slightly optimistic for unseen data.

## Known weaknesses
- Disgust and fear are the hard classes (few training faces; fear is confused with sad and surprise).
- FER2013 is mostly frontal, low-resolution web faces; strongly turned faces, heavy occlusion and
  children are under-represented.
- Grayscale 48x48 input: no colour cues; very dark or saturated faces lose detail.
"""


def split_counts(data: str, split: str = "train") -> dict[str, int]:
    """Faces per class in a source's split (a folder's files are counted, not decoded)."""
    if Path(data).is_dir():
        classes, _ = class_folders(Path(data) / split)
        return {label: len(files) for label, files in classes.items()}
    faces = load_split(data, split)
    return {label: int(n) for label, n in zip(faces.labels, np.bincount(faces.y, minlength=len(faces.labels)))}


def epoch_shares(cfg: dict) -> dict[str, float]:
    """Each source's share of the faces a run trained on (its `source_weights`, else by size); an ensemble's, the
    mean of its members'."""
    if cfg["arch"] == ENSEMBLE:
        shares = [epoch_shares(read_run(run_folder(m))[0]) for m in cfg["members"]]
        return {d: float(np.mean([s.get(d, 0.0) for s in shares])) for d in dict.fromkeys(d for s in shares for d in s)}
    sources = data_sources(cfg)
    shares = source_shares(cfg.get("source_weights"), [sum(split_counts(d).values()) for d in sources])
    return dict(zip(sources, shares.tolist()))


def training_shares(cfg: dict, labels: tuple[str, ...]) -> dict[str, float]:
    """Each class's share of the faces a run trained on: its sources' class shares, mixed by `epoch_shares`."""
    mixed = dict.fromkeys(labels, 0.0)
    for data, share in epoch_shares(cfg).items():
        counts = split_counts(data)
        for label in labels:
            mixed[label] += share * counts.get(label, 0) / sum(counts.values())
    return normalized({k: max(v, 1e-6) for k, v in mixed.items()})


def data_text(stages: list[dict]) -> str:
    """The card's line on the training data: each source's train split with its size and rarest and commonest
    class, counted from the data, and how classes were weighted."""
    sources = dict.fromkeys(d for cfg in stages for d in data_sources(cfg))
    parts = []
    for data in sources:
        counts = split_counts(data)
        rare, common = min(counts, key=counts.get), max(counts, key=counts.get)
        parts.append(f"`{source_name(data)}` train split ({sum(counts.values()):,} faces; {rare} {counts[rare]:,}, "
                     f"{common} {counts[common]:,})")
    how = {"sqrt": "by the inverse square root of their frequency", "inverse": "by their inverse frequency",
           "none": "equally"}
    weights = dict.fromkeys(cfg.get("class_weights", "sqrt") for cfg in stages)
    return (" + ".join(parts) + f"; classes weighted {' or '.join(how[w] for w in weights)}"
            + (" within each source" if len(sources) > 1 else ""))


def other_vals_text(run: Path, m: dict) -> str:
    """The card's sections on the vals of the sources after the first (scored as the run finished)."""
    text = ""
    for name, r in list(m.get("sources", {}).items())[1:]:
        recall = lambda key: ", ".join(f"{k} {v:.0%}" for k, v in r[key].items())  # noqa: E731
        text += (f"## Results — `{name}` val (used for model selection beside the first)\n"
                 "| | accuracy | macro recall |\n|---|---|---|\n"
                 f"| single pass | **{r['accuracy']:.1%}** | {r['macro_recall']:.1%} |\n"
                 f"| with test-time augmentation | {r['accuracy_tta']:.1%} | **{r['macro_recall_tta']:.1%}** |\n\n"
                 f"Per-class recall, single pass: {recall('per_class_recall')}; with TTA: {recall('per_class_recall_tta')}. "
                 f"Report: `{run.as_posix()}/report.txt`.\n\n")
    return text


def shifted_text(model: Path, folder: Path, data: str) -> str:
    """The card's lines on photos, through the whole pipeline as shipped (MTCNN, framing, TTA, default prior): the
    shifted val, and the val faces given as their own 48 px photos (tight crops, like CK+'s)."""
    detector = EmotionDetector.load(model)
    model = model.resolve().relative_to(Path.cwd()) if model.resolve().is_relative_to(Path.cwd()) else model
    val = Path(data) / "val"
    return (f"Shifted val, the val faces as camera photos (scenes, roll, light, blur, noise, JPEG): "
            f"`emotion evaluate {folder.as_posix()} --detect --model {model.as_posix()}` ({folder.as_posix()} made by "
            f"`emotion-train shifted-val --data DATA --out {folder.as_posix()}`): {photo_score(detector, folder)}\n\n"
            f"The val faces given as their own 48 px photos (tight crops, as CK+'s are), `emotion evaluate "
            f"{val.as_posix()} --detect --model {model.as_posix()}`: {photo_score(detector, val)}")


def photo_score(detector: EmotionDetector, folder: Path) -> str:
    """Accuracy, macro and per-class recall and the share of photos with a face found, of `detector` on photos in
    `folder/<class>/`, each scored by its largest face."""
    result, _ = evaluate_folder(detector, folder, find_faces=True)
    recall = ", ".join(f"{k} {v['recall']:.0%}" for k, v in result["per_class"].items())
    return (f"accuracy **{result['accuracy']:.1%}**, macro recall {result['macro_recall']:.1%} on {result['n']} "
            f"photos, a face found in {1 - result['no_face'] / result['n']:.1%} of them (no face counts as wrong). "
            f"Per-class recall: {recall}.")


def prior_text(rows: list[dict], meta: dict, how: str) -> str:
    """The card's section on the priors: the training shares, the default and the sweep over the vals that chose it."""
    shares = lambda prior: ", ".join(f"{k} {v:.1%}" for k, v in prior.items())  # noqa: E731
    vals = list(rows[0]["by_val"])
    several = len(vals) > 1
    head = " | ".join(f"`{v}` accuracy | `{v}` macro recall" for v in vals) if several else "accuracy | macro recall"
    table = "\n".join(f"| {r['name']}{' (default)' if r['chosen'] else ''} | "
                      + " | ".join(f"{r['by_val'][v]['accuracy']:.1%} | {r['by_val'][v]['macro_recall']:.1%}" for v in vals)
                      + " | " + ", ".join(f"{k} {x:.0%}" for k, x in r["by_val"][vals[-1]]["recall"].items()) + " |"
                      for r in rows)
    return (f"Trained on these class shares (`train_prior` in the model file: its sources' shares, mixed as it trained): "
            f"{shares(meta['train_prior'])}. "
            f"By default inference assumes (`default_prior`): {shares(meta['default_prior'])}, i.e. "
            "each emotion's probability is re-weighted by default / training share (`emotion/prior.py`); "
            "`--prior training|balanced|<shares>` or the page's \"Emotions to expect\" choose another. The default "
            "is, of the candidates below (the training shares with the rare emotions raised to a floor, and equal "
            f"shares), the one with the best {'mean ' if several else ''}val macro recall among those within "
            f"{ACCURACY_TOLERANCE:.1%} of the trained model's {'mean ' if several else ''}val accuracy "
            f"(`training/priors.py`); as inference runs, {how}:\n\n"
            f"| prior | {head} | per-class recall{f' (`{vals[-1]}`)' if several else ''} |\n"
            f"|---|{'---|' * (2 * len(vals) + 1)}\n" + table)


def card_path(model: Path) -> Path:
    """The model card of a shipped model file: MODEL_CARD.md for the photo model, LIVE_MODEL_CARD.md for live.keras."""
    return model.parent / ("MODEL_CARD.md" if model.stem == DEFAULT_MODEL.stem else f"{model.stem.upper()}_MODEL_CARD.md")
