"""Publish a training run as the default model: copy its model file to models/emotion.keras, export
it to models/emotion.tflite (what inference runs on) and write models/MODEL_CARD.md from the run's
own metrics (no number typed by hand).

    python -m training publish runs/ens2 [--int8]

With --int8 the export computes in int8 (several times faster per face on CPUs with VNNI), and the card adds the val
accuracy measured through that export, which is what `emotion evaluate` and the app then run on.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path

import numpy as np

from emotion.detector import DEFAULT_MODEL, EmotionDetector
from emotion.evaluate import class_folders, evaluate_folder
from emotion.inference import TTA_VIEWS, export_paths
from emotion.modelfile import read_meta, write_meta
from emotion.prior import normalized

from .config import ARCHS
from .config import TrainConfig
from .data import concatenate, load_sources, load_split, source_name, source_shares
from .ensemble import ARCH as ENSEMBLE
from .export import export, representative_faces
from .priors import ACCURACY_TOLERANCE, choose, sweep
from .reports import read_history

CARD = """# Model card: `models/emotion.keras`

{status}

## What it is
- **Task**: facial expression classification, 7 classes in this order (stored inside the model
  file): {labels}.
- **Input**: one face, grayscale 48x48 uint8 (`emotion.preprocess.preprocess_face`: crop, turned upright by
  its eye line when the face finder gives eye landmarks (MTCNN) -> grayscale -> 48x48); scaling to [0, 1] and temperature calibration are layers of the model, which
  outputs calibrated logits (softmax gives the probabilities).
- **Architecture**: {architecture}.
  **{params:,} parameters**, file size {size_mb:.1f} MB.
- **Runtime**: inference runs on this file's TFLite exports: {runtime}; cost per face and per frame:
  `bench/RESULTS.md`.
- **Used for**: {role}
- **Code**: {commands}; this card: `python -m training publish {run}{int8_flag}`.

## Training
- **Data**: {data}
- **Recipe**: {recipe}
  Every stage: batch {batch}, label smoothing {ls}; augmentation: horizontal flip, rotation ±12°,
  shift ±10%, zoom ±15%, brightness ±25%, contrast ±35%, random erasing.
- **Progress**: {progress}.
- **Time and hardware**: {hours:.1f} h of training so far on {machine} (2 CPU cores, no GPU); numeric precision
  per stage above.

## Results — FER2013 `val` (PublicTest, 3,435 of its 3,589 faces; used for model selection)
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


def read_run(run: Path) -> tuple[dict, dict]:
    """A run folder's configuration and metrics (run.json, metrics.json)."""
    return tuple(json.loads((run / name).read_text()) for name in ("run.json", "metrics.json"))


def command(run: Path) -> str:
    """The command line that makes one run folder: its training (for a run stopped before its planned epochs, with
    the `--until` that stops it where it stopped), or an ensemble's averaging."""
    cfg, m = read_run(run)
    if cfg["arch"] == ENSEMBLE:
        return (f"`python -m training ensemble {' '.join(cfg['members'])} --data {' '.join(data_sources(cfg))} "
                f"--out {run.as_posix()}`")
    stopped = f" --until {m['epochs_done']}" if m.get("epochs_done", 0) < m.get("epochs_planned", 0) else ""
    return f"`{TrainConfig.read(run).command(run)}{stopped}`"


def data_sources(cfg: dict) -> list[str]:
    """A run's sources of faces (run.json's `data`: one path in runs from before several sources, else a list)."""
    return [cfg["data"]] if isinstance(cfg["data"], str) else list(cfg["data"])


def run_folder(path: str) -> Path:
    """The run folder a path in a run's record names: the folder itself, or the folder of a model or weights file."""
    return Path(path) if Path(path).is_dir() else Path(path).parent


def sources(cfg: dict) -> list[Path]:
    """The run folders a run is made from: the one it starts from, its teachers, an ensemble's members. Teachers
    outside a finished run folder are named by the run's own command only."""
    paths = [cfg.get("init_from"), *(cfg.get("teacher") or []), *(cfg.get("members") or [])]
    folders = dict.fromkeys(run_folder(p) for p in paths if p)
    return [f for f in folders if (f / "run.json").is_file() and (f / "metrics.json").is_file()]


def commands(run: Path) -> str:
    """Every command that makes `run` from nothing: each run folder it is made from (`sources`, and theirs) once,
    before the runs made from it."""
    order: dict[Path, dict] = {}  # run folder -> its run.json, in the order the commands run

    def visit(folder: Path) -> None:
        if folder in order:
            return
        cfg = read_run(folder)[0]
        for source in sources(cfg):
            visit(source)
        order[folder] = cfg

    visit(run)
    code = dict.fromkeys("training/ensemble.py" if cfg["arch"] == ENSEMBLE else "training/fit.py" for cfg in order.values())
    return ", then ".join(command(folder) for folder in order) + " (" + ", ".join(f"`{c}`" for c in code) + ")"


def lineage(run: Path) -> list[tuple[Path, dict, dict]]:
    """`run` and the runs it was warm-started from (`--init-from`), oldest first: (folder, run.json, metrics.json)."""
    chain = []
    while run is not None:
        cfg, metrics = read_run(run)
        chain.insert(0, (run, cfg, metrics))
        source = cfg.get("init_from")
        run = run_folder(source) if source else None
        if run is not None and not (run / "metrics.json").is_file():
            raise SystemExit(f"{source}: started from weights outside a finished run folder; the card cannot describe them")
    return chain


def recipe(chain: list[tuple[Path, dict, dict]]) -> str:
    """One sentence per training stage."""
    stages = []
    for i, (run, cfg, m) in enumerate(chain):
        if i == 0:
            start = "from random weights"
        elif cfg["arch"] != chain[i - 1][1]["arch"]:
            start = (f"pruned from stage {i}'s best weights to `{cfg['arch']}`: the channels with the largest "
                     "BatchNorm scale, `training/prune.py`")
        else:
            start = f"warm restart from stage {i}'s best weights"
        # Runs before the metric existed trained on CPUs without AVX-512 BF16: float32.
        extras = f", {m.get('precision', 'float32').replace('_', ' ')}"
        if cfg.get("ema"):
            extras += f"; validated and kept: the weights' moving average (EMA, momentum {cfg['ema']})"
        if cfg.get("teacher"):
            teachers = " + ".join(f"`{t}`" for t in cfg["teacher"])
            extras += (f"; distilled from {teachers}: targets {1 - cfg['teacher_weight']:g} x label + "
                       f"{cfg['teacher_weight']:g} x {'their averaged log-' if len(cfg['teacher']) > 1 else 'its '}"
                       + ("probabilities for each augmented face, as the student saw it" if cfg.get("consistent")
                          else "probabilities (TTA)"))
        if len(data_sources(cfg)) > 1:
            weights = cfg.get("source_weights")
            extras += (f"; on {' + '.join(f'`{source_name(d)}`' for d in data_sources(cfg))}"
                       + (f" (shares of each epoch {':'.join(f'{w:g}' for w in weights)})" if weights else "")
                       + (f", {cfg['epoch_faces']:,} faces an epoch" if cfg.get("epoch_faces") else "")
                       + (", the kept epoch chosen by the mean of every source's val accuracy and macro recall"
                          if cfg.get("select") == "mean" else ""))
        if cfg.get("mixup"):
            extras += f"; mixup: pairs of faces and their targets blended, share ~ Beta({cfg['mixup']}, {cfg['mixup']})"
        if m.get("batchnorm_faces"):
            as_trained = read_history(run / "history.csv")["val_accuracy"].max()
            extras += (f"; then its BatchNorm statistics set from {m['batchnorm_faces']} clean train faces "
                       f"(`training/fit.py`; val {as_trained:.1%} with the training's moving averages)")
        stages.append(
            f"stage {i + 1} (`{run.as_posix()}`, `{cfg['arch']}`, {m['epochs_done']} epochs, {start}): AdamW (weight decay "
            f"{cfg['weight_decay']}), peak learning rate {cfg['learning_rate']}, {cfg['warmup_epochs']} warm-up "
            f"epoch(s), then cosine decay{extras}; best val accuracy {m['val_accuracy']:.1%}."
        )
    return "\n  ".join(stages)


def describe(run: Path, cfg: dict, m: dict) -> dict:
    """The card's architecture, recipe, hours and progress for a trained run or an ensemble of runs."""
    if m["arch"] != ENSEMBLE:
        chain = lineage(run)
        return {"architecture": ARCHS[m["arch"]].describe(m["arch"]), "recipe": recipe(chain),
                "hours": sum(stage.get("train_seconds") or 0 for _, _, stage in chain) / 3600,
                "progress": f"{m['epochs_done']} of {m['epochs_planned']} planned epochs of the last stage; "
                            "best-on-val weights (by val accuracy)",
                # A run stopped early on purpose keeps no checkpoint: it will not resume, and its model is final.
                "stages": [c for _, c, _ in chain],
                "unfinished": [(run, cfg["data"])] if m["epochs_done"] < m["epochs_planned"] and (run / "backup").exists() else [],
                "selection": "the best epoch",
                "batch": "/".join(dict.fromkeys(str(c["batch_size"]) for _, c, _ in chain)),
                "ls": "/".join(dict.fromkeys(str(c["label_smoothing"]) for _, c, _ in chain)),
                "curves": f"`{run.as_posix()}/curves.png` and `{run.as_posix()}/history.csv` (every epoch, with its "
                          "training time)"}
    members = [Path(member).parent for member in cfg["members"]]
    parts = [describe(member, *read_run(member)) for member in members]
    listing = "; ".join(f"member {i + 1}, `{member.as_posix()}`: {part['architecture']}"
                        for i, (member, part) in enumerate(zip(members, parts)))
    return {
        "architecture": (f"`ensemble` of {len(members)} CNNs in one model file (`training/ensemble.py`): {listing}. "
                         "Their calibrated log-probabilities are averaged and scaled by the ensemble's own temperature"),
        "recipe": "\n  ".join(f"Member {i + 1} (`{member.as_posix()}`): {part['recipe']}"
                              for i, (member, part) in enumerate(zip(members, parts))),
        "hours": sum(part["hours"] for part in parts),
        "progress": "every member's training run: " + "; ".join(
            f"`{member.as_posix()}` {part['progress']}" for member, part in zip(members, parts)),
        "selection": "the best epoch of each training run and the ensemble's members (`python -m training compare`)",
        "unfinished": [run for part in parts for run in part["unfinished"]],
        "stages": [stage for part in parts for stage in part["stages"]],
        "batch": "/".join(dict.fromkeys(part["batch"] for part in parts)),
        "ls": "/".join(dict.fromkeys(part["ls"] for part in parts)),
        "curves": "the members' training curves and histories are in their run folders ("
                  + ", ".join(f"`{member.as_posix()}/curves.png`" for member in members) + ")",
    }


def runtime_accuracy(model: Path, data: str, kernels: str) -> tuple[float, float]:
    """Val accuracy of `model` as inference runs it on its `kernels` ("int8", "float32") TFLite export: single
    pass, with TTA."""
    os.environ["EMOTION_KERNELS"] = kernels
    try:
        detector = EmotionDetector.load(model, finder="live", tta=False)
    finally:
        del os.environ["EMOTION_KERNELS"]
    val = load_split(data, "val", labels=detector.labels)
    faces = val.x[..., None].astype("float32")
    return tuple(float((d.logits(faces).argmax(1) == val.y).mean()) for d in (detector, detector.variant(tta=True)))


def publish(run: Path, int8: bool = False, dest: Path = DEFAULT_MODEL, shifted: Path | None = None) -> None:
    """Copy `run`'s model file to `dest`, export it beside (int8 or float32) and write the model card there; with
    `shifted` (a folder from `emotion-train shifted-val`) the card also gives the shipped pipeline's score on it."""
    cfg, m = read_run(run)
    about = describe(run, cfg, m)
    shutil.copy(run / "model.keras", dest)
    live = dest.resolve() != DEFAULT_MODEL.resolve()  # the live model: the live path and videos run it single pass
    paths = export_paths(dest)
    for stale in paths.values():  # exports of the previous model file
        stale.unlink(missing_ok=True)
    # before exporting, as an export is tied to the file's final bytes; on the file's own graph, so that the default
    # does not depend on what this machine's CPU would run (int8 with VNNI)
    prior_rows = set_priors(dest, cfg, tta=False if live else None)
    export(dest, "tflite", paths[""])  # what EmotionDetector runs on: float32, or int8 below on CPUs with VNNI
    runtime = "float32, XNNPACK kernels"
    runtime_rows = ""
    if int8:
        representative = representative_faces(concatenate(load_sources(data_sources(cfg), "train")).x)
        export(dest, "tflite", paths["int8"], representative)
        runtime = (f"`{paths[''].name}` (float32) on CPUs without VNNI instructions, `{paths['int8'].name}` (int8, ranges "
                   f"set on {len(representative)} training faces) on CPUs with them (AVX-512 VNNI, AVX-VNNI), where "
                   "XNNPACK runs int8 several times faster; val accuracy through both in the table below")
        for kernels in ("float32", "int8"):
            single, tta = runtime_accuracy(dest, data_sources(cfg)[0], kernels)
            shown = (f"**{single:.1%}**", f"{tta:.1%}") if live else (f"{single:.1%}", f"**{tta:.1%}**")  # as it runs
            runtime_rows += (f"| as shipped: {kernels} export, single pass | {shown[0]} | |\n"
                             f"| as shipped: {kernels} export, with test-time augmentation | {shown[1]} | |\n")
    status = ("Final model of its training run(s)." if not about["unfinished"] else
              "**Interim model**: unfinished training runs resume across sessions with " + ", ".join(
                  f"`python -m training train --out {r.as_posix()} --resume`" for r, _ in about["unfinished"])
              + " (their checkpoints are committed), and this file is replaced when they finish.")
    macro = m.get("val_macro_recall"), m.get("val_macro_recall_tta")
    text = CARD.format(
        status=status, recipe=about["recipe"], commands=commands(run), architecture=about["architecture"],
        labels=", ".join(read_meta(dest)["labels"]),
        int8_flag=(" --int8" if int8 else "") + (f" --as {dest.parent.name}/{dest.name}" if live else ""),
        role=("photos, and live video on CPUs with VNNI (`emotion.detector.live_model`); the live video model for other "
              "CPUs: `models/LIVE_MODEL_CARD.md`" if not live else
              "live video on CPUs without VNNI (`emotion.detector.live_model`), a student of the photo model: "
              "`models/MODEL_CARD.md`"),
        params=m["parameters"], size_mb=dest.stat().st_size / 1e6, run=run.as_posix(), progress=about["progress"],
        batch=about["batch"], ls=about["ls"], curves=about["curves"], hours=about["hours"],
        selection=about["selection"],
        machine=f"{platform.machine()} {platform.processor() or 'CPU'}", acc=m["val_accuracy"],
        acc_tta=m["val_accuracy_tta"], tta_views=TTA_VIEWS, tta_state="on" if m["tta_default"] else "off",
        macro="-" if macro[0] is None else f"{macro[0]:.1%}", macro_tta="-" if macro[1] is None else f"{macro[1]:.1%}",
        recall=", ".join(f"{k} {v:.0%}" for k, v in m["per_class_recall"].items()),
        recall_tta=", ".join(f"{k} {v:.0%}" for k, v in m["per_class_recall_tta"].items()),
        temperature=m["temperature"], ece_before=m["ece_before"], ece_after=m["ece_after"],
        ece_after_tta=m["ece_after_tta"], runtime=runtime, runtime_rows=runtime_rows,
        prior=prior_text(prior_rows, read_meta(dest), "single pass, as the live path and videos run it" if live
                         else "with TTA as set above"),
        data=data_text(about["stages"]), other_vals=other_vals_text(run, m),
        shifted=(shifted_text(dest, shifted, data_sources(cfg)[0]) if shifted
                 else "Not measured for this card (`publish --shifted DIR`)."),
    )
    card = card_path(dest)
    card.write_text(text.replace("`models/emotion.keras`", f"`{dest.parent.name}/{dest.name}`", 1))
    print(f"published {run / 'model.keras'} -> {dest}; card: {card}")


def set_priors(model: Path, cfg: dict, tta: bool | None = None) -> list[dict]:
    """Record in `model` its training data's class shares (`training_shares`) and the default prior chosen on the vals
    of its sources (`training.priors`), measured as inference runs it (`tta`; None: the model's TTA setting); the
    sweep's rows, the chosen one marked."""
    labels = tuple(read_meta(model)["labels"])
    train_prior = training_shares(cfg, labels)
    detector = EmotionDetector.load(model, finder="live", prior="training", tta=tta)
    vals = {source_name(d): v for d, v in zip(data_sources(cfg), load_sources(data_sources(cfg), "val", labels))}
    rows = sweep({name: (detector.logits(v.x[..., None].astype("float32")), v.y) for name, v in vals.items()}, labels,
                 train_prior)
    chosen = choose(rows)
    write_meta(model, train_prior=train_prior, default_prior=chosen["prior"])
    return [{**r, "chosen": r is chosen} for r in rows]


def train_counts(data: str) -> dict[str, int]:
    """Faces per class in a source's train split (a folder's files are counted, not decoded)."""
    if Path(data).is_dir():
        classes, _ = class_folders(Path(data) / "train")
        return {label: len(files) for label, files in classes.items()}
    faces = load_split(data, "train")
    return {label: int(n) for label, n in zip(faces.labels, np.bincount(faces.y, minlength=len(faces.labels)))}


def epoch_shares(cfg: dict) -> dict[str, float]:
    """Each source's share of the faces a run trained on (its `source_weights`, else by size); an ensemble's, the
    mean of its members'."""
    if cfg["arch"] == ENSEMBLE:
        shares = [epoch_shares(read_run(run_folder(m))[0]) for m in cfg["members"]]
        return {d: float(np.mean([s.get(d, 0.0) for s in shares])) for d in dict.fromkeys(d for s in shares for d in s)}
    sources = data_sources(cfg)
    shares = source_shares(cfg.get("source_weights"), [sum(train_counts(d).values()) for d in sources])
    return dict(zip(sources, shares.tolist()))


def training_shares(cfg: dict, labels: tuple[str, ...]) -> dict[str, float]:
    """Each class's share of the faces a run trained on: its sources' class shares, mixed by `epoch_shares`."""
    mixed = dict.fromkeys(labels, 0.0)
    for data, share in epoch_shares(cfg).items():
        counts = train_counts(data)
        for label in labels:
            mixed[label] += share * counts.get(label, 0) / sum(counts.values())
    return normalized({k: max(v, 1e-6) for k, v in mixed.items()})


def data_text(stages: list[dict]) -> str:
    """The card's line on the training data: each source's train split with its size and rarest and commonest
    class, counted from the data, and how classes were weighted."""
    sources = dict.fromkeys(d for cfg in stages for d in data_sources(cfg))
    parts = []
    for data in sources:
        counts = train_counts(data)
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


def index_runs(runs: Path = Path("runs")) -> Path:
    """Write `runs/README.md`: one row per run folder with its architecture, origin and val results."""
    rows = []
    for run in sorted(p for p in runs.iterdir() if (p / "run.json").is_file()):
        cfg = json.loads((run / "run.json").read_text())
        m = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else {}
        origin = ", ".join(filter(None, [cfg.get("init_from") and f"from {cfg['init_from']}",
                                         cfg.get("teacher") and f"teachers {' + '.join(cfg['teacher'])}"
                                         + (" (consistent)" if cfg.get("consistent") else ""),
                                         cfg.get("members") and f"members {' + '.join(cfg['members'])}"]))
        epochs = f"{m['epochs_done']}/{m['epochs_planned']}" if "epochs_done" in m else ("-" if m else "unfinished")
        others = list(m.get("sources", {}).values())[1:]
        result = (f"{m['val_accuracy']:.1%} | {m['val_accuracy_tta']:.1%} | "
                  + (f"{m['val_macro_recall']:.1%}" if "val_macro_recall" in m else "-")
                  + (f" | {others[0]['accuracy_tta']:.1%} / {others[0]['macro_recall_tta']:.1%}" if others else " | -")
                  ) if m else "- | - | - | -"
        rows.append(f"| `{run.name}` | {cfg['arch']} | {origin or 'from random weights'} | {epochs} | {result} |")
    path = runs / "README.md"
    path.write_text(
        "# Training runs\n\nWritten by `python -m training runs`. Each folder keeps its records: run.json (the "
        "configuration; `--resume` reads it), history.csv, metrics.json, report.txt and plots. Weights in git are "
        "the published models in `models/` and nothing else: a run's model file and checkpoints stay on the machine "
        "that trained it, where `--resume` continues it; `python -m training unpack` recovers an ensemble's members "
        "from a published model. Checkpoints of earlier runs remain in the git history (e.g. "
        "`git log --all -- runs/small3/backup`).\n\n"
        "Val is the first source's (FER2013 PublicTest, 3,435 faces), used for model selection; a run on several "
        "sources also gives its second source's val (ExpW's), with TTA.\n\n"
        "| run | architecture | origin | epochs | val | val TTA | val macro recall | 2nd source's val TTA: accuracy / "
        "macro recall |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n")
    return path
