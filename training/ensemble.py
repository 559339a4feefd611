"""Several trained models as one model file: the average of their calibrated log-probabilities.

Averaging independently trained CNNs is the surest gain on FER2013 (the model card has the figures).
The members are nested inside one Keras model, so the app, the CLI and a TFLite export run the
ensemble as they run any model, in one call per batch. The average is calibrated again on val (its
own temperature), as a trained model is. `compare` picks the members: the val accuracy of every
subset of candidate models averaged.

    python -m training ensemble runs/teach2/model.keras runs/teach3/model.keras --data ../shared/datasets/fer2013 --out runs/ens2

Model files stay on the machine that trained them, so `unpack` writes a shipped ensemble's members back to their
paths (python -m training unpack runs/ens2), to compare or average with new candidates on another machine.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import keras
import numpy as np
from keras import layers

from emotion.evaluate import score
from emotion.modelfile import load_model, save_model

from .architectures import face_input
from .data import load_sources, load_split, source_name
from .distill import TEACHER_CACHE, label_order, teacher_log_probs
from .reports import finish_model

ARCH = "ensemble"
MEMBER = "member_"  # the nested members' names: member_0, member_1, ...


def member_log_probs(path: str | Path, labels: tuple[str, ...], name: str) -> keras.Model:
    """The model file at `path` as a sub-model giving its calibrated log-probabilities in `labels` order."""
    model, meta = load_model(path)
    order = label_order(path, meta["labels"], labels)
    # The file's model is nested whole, so its own layer names cannot clash with those added here: a member that
    # `unpack` wrote back already ends in these layers (log_softmax of log-probabilities leaves them as they are).
    face = face_input()
    x = layers.Activation("log_softmax", name="log_probabilities")(model(face))
    if order != list(range(len(labels))):
        # A fixed permutation matrix reorders the columns: a plain layer, so the file loads in safe mode.
        reorder = layers.Dense(len(labels), use_bias=False, trainable=False, name="label_order")
        x = reorder(x)
        reorder.set_weights([np.eye(len(labels), dtype=np.float32)[:, order]])
    return keras.Model(face, x, name=name)


def ensemble_logits(members: list[str | Path], labels: tuple[str, ...]) -> keras.Model:
    """One model averaging the members' calibrated log-probabilities (the logits of the ensemble)."""
    if len(members) < 2:
        raise ValueError("an ensemble needs two or more model files")
    face = face_input()
    outputs = [member_log_probs(path, labels, f"{MEMBER}{i}")(face) for i, path in enumerate(members)]
    return keras.Model(face, layers.Average(name="logits")(outputs), name=f"emotion_{ARCH}")


def build(members: list[str | Path], data: list[str], out: str | Path) -> dict:
    """Write the ensemble of `members` as a run folder `out` (model.keras, run.json, reports), calibrated on the vals
    of the sources in `data` (the first's is the run's val)."""
    out = Path(out)
    vals = {source_name(d): v for d, v in zip(data, load_sources(data, "val"))}
    model = ensemble_logits(members, next(iter(vals.values())).labels)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {"arch": ARCH, "members": [str(m) for m in members], "data": [str(d) for d in data]}
    (out / "run.json").write_text(json.dumps(cfg, indent=2))
    return finish_model(model, ARCH, vals, out, {"members": cfg["members"]})


def unpack(model: str | Path, run: str | Path) -> list[Path]:
    """Write the members nested in the ensemble file `model` to the paths its run folder `run` lists (run.json),
    each giving its calibrated log-probabilities in the ensemble's label order; paths that hold a file are kept.
    Returns the paths written."""
    members = [Path(m) for m in json.loads((Path(run) / "run.json").read_text())["members"]]
    ensemble, meta = load_model(model)
    nested = [layer for layer in ensemble.layers if layer.name.startswith(MEMBER)]
    if len(nested) != len(members):
        raise ValueError(f"{model} holds {len(nested)} members, but {run}/run.json lists {len(members)}: "
                         "give the run folder that built this ensemble")
    extra = {"train_prior": meta["train_prior"]} if "train_prior" in meta else {}
    written = []
    for member, path in zip(nested, members):
        if not path.exists():
            save_model(keras.Model(member.input, member.output, name=path.parent.name), path, tuple(meta["labels"]),
                       temperature=1.0, **extra)
            written.append(path)
    return written


def compare(models: list[str], data: str, split: str = "val", runs: Path = Path("runs")) -> list[tuple[dict, tuple[str, ...]]]:
    """Accuracy (TTA) of every subset of `models` averaged, as `build` and `--teacher` average them; the
    models' scores are cached in `runs/teacher-cache`, the cache training runs use."""
    faces = load_split(data, split)
    log_probs = {m: teacher_log_probs(m, faces, cache_dir=runs / TEACHER_CACHE) for m in models}
    return [(score(faces.y, np.mean([log_probs[m] for m in members], axis=0).argmax(1), faces.labels), members)
            for size in range(1, len(models) + 1) for members in itertools.combinations(models, size)]
