"""Publish a training run as the default model: copy its model file to models/emotion.keras, export
it to models/emotion.tflite (what inference runs on) and write models/MODEL_CARD.md from the run's
own metrics (no number typed by hand).

    python -m training publish runs/ens2 [--int8]

With --int8 the export computes in int8 (several times faster per face on CPUs with VNNI), and the card adds the val
accuracy measured through that export, which is what `emotion evaluate` and the app then run on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from emotion.detector import DEFAULT_MODEL, EmotionDetector, softmax
from emotion.inference import TTA_VIEWS, export_paths
from emotion.modelfile import read_meta, write_meta
from emotion.preprocess import INPUT_SIZE
from emotion.prior import logit_offset

from . import unsure
from .card import CARD, card_path, data_text, other_vals_text, prior_text, shifted_text, split_counts, training_shares
from .data import concatenate, load_sources, load_split, source_name
from .export import export, representative_faces
from .lineage import commands, data_sources, describe, read_run
from .priors import choose, sweep


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
    logits = val_logits(dest, cfg, tta=False if live else None)
    prior_rows = set_priors(dest, cfg, logits)
    unsure_text = set_unsure(dest, logits)
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
        labels=", ".join(read_meta(dest)["labels"]), n_labels=len(read_meta(dest)["labels"]), size=INPUT_SIZE,
        int8_flag=(" --int8" if int8 else "") + (f" --as {dest.parent.name}/{dest.name}" if live else ""),
        role=("photos, and live video on CPUs with VNNI (`emotion.detector.live_model`); the live video model for other "
              "CPUs: `models/LIVE_MODEL_CARD.md`" if not live else
              "live video on CPUs without VNNI (`emotion.detector.live_model`), a student of the photo model: "
              "`models/MODEL_CARD.md`"),
        params=m["parameters"], size_mb=dest.stat().st_size / 1e6, run=run.as_posix(), progress=about["progress"],
        batch=about["batch"], ls=about["ls"], curves=about["curves"], hours=about["hours"],
        selection=about["selection"],
        first=source_name(data_sources(cfg)[0]), val_faces=sum(split_counts(data_sources(cfg)[0], "val").values()),
        acc=m["val_accuracy"],
        acc_tta=m["val_accuracy_tta"], tta_views=TTA_VIEWS, tta_state="on" if m["tta_default"] else "off",
        macro="-" if macro[0] is None else f"{macro[0]:.1%}", macro_tta="-" if macro[1] is None else f"{macro[1]:.1%}",
        recall=", ".join(f"{k} {v:.0%}" for k, v in m["per_class_recall"].items()),
        recall_tta=", ".join(f"{k} {v:.0%}" for k, v in m["per_class_recall_tta"].items()),
        temperature=m["temperature"], ece_before=m["ece_before"], ece_after=m["ece_after"],
        ece_after_tta=m["ece_after_tta"], runtime=runtime, runtime_rows=runtime_rows,
        prior=prior_text(prior_rows, read_meta(dest), "single pass, as the live path and videos run it" if live
                         else "with TTA as set above"),
        unsure=unsure_text,
        data=data_text(about["stages"]), other_vals=other_vals_text(run, m),
        shifted=(shifted_text(dest, shifted, data_sources(cfg)[0]) if shifted
                 else "Not measured for this card (`publish --shifted DIR`)."),
    )
    card = card_path(dest)
    card.write_text(text.replace("`models/emotion.keras`", f"`{dest.parent.name}/{dest.name}`", 1))
    print(f"published {run / 'model.keras'} -> {dest}; card: {card}")


def val_logits(model: Path, cfg: dict, tta: bool | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per source, its val faces' calibrated logits under the training prior, as inference runs them (`tta`; None: the
    model's TTA setting), and their true labels."""
    detector = EmotionDetector.load(model, finder="live", prior="training", tta=tta)
    vals = load_sources(data_sources(cfg), "val", detector.labels)
    return {source_name(d): (detector.logits(v.x[..., None].astype("float32")), v.y)
            for d, v in zip(data_sources(cfg), vals)}


def set_priors(model: Path, cfg: dict, logits: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    """Record in `model` its training data's class shares (`training_shares`) and the default prior chosen on the vals
    of its sources (`training.priors`) from their `logits` (`val_logits`); the sweep's rows, the chosen one marked."""
    labels = tuple(read_meta(model)["labels"])
    train_prior = training_shares(cfg, labels)
    rows = sweep(logits, labels, train_prior)
    chosen = choose(rows)
    write_meta(model, train_prior=train_prior, default_prior=chosen["prior"])
    return [{**r, "chosen": r is chosen} for r in rows]


def set_unsure(model: Path, logits: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """Record in `model` the top probability under which a face is shown as unsure, chosen by `training.unsure` on the
    vals' `logits` (`val_logits`) under the default prior `set_priors` recorded; the card's text."""
    meta = read_meta(model)
    offset = logit_offset(meta["default_prior"], meta)
    rows = unsure.sweep({name: (softmax(x + offset), y) for name, (x, y) in logits.items()})
    chosen = unsure.choose(rows)
    write_meta(model, unsure_below=chosen["bar"])
    return unsure.text(rows, chosen)


