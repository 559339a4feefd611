"""Choosing the prior a shipped model assumes by default (`emotion.prior`).

FER2013's class shares are partly how it was collected: it has 436 disgusted faces against 4,097 fearful ones,
while a user's disgust is unlikely to be ten times rarer than their fear. The candidates therefore raise the rare
emotions: each emotion is assumed at least `floor` of all faces (the others keep their training shares, then all are
scaled to sum to 1), from floor 0 (the model as trained) to FLOORS[-1], and last every emotion equally common.
Raising only the rare classes costs little accuracy; moving all shares towards equal also takes faces from happy and
neutral, the commonest and best recognised. The default is the candidate with the best val macro recall (mean recall
per class) among those that keep val accuracy within ACCURACY_TOLERANCE of the model as trained: FER2013's own test
split has the training shares, and its accuracy must hold. A model trained on several sources is scored on each one's
val, and compared by the means over them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from emotion.evaluate import score
from emotion.prior import logit_offset, normalized

FLOORS = tuple(k / 100 for k in range(15))  # 0%, 1%, ..., 14% (equal shares are 1/7 = 14.3%)
ACCURACY_TOLERANCE = 0.002  # 7 faces in 3,589 val faces: below what reruns of one training recipe vary by


def floored(train_prior: Mapping[str, float], floor: float) -> dict[str, float]:
    """`train_prior` with every share raised to at least `floor`, scaled to sum to 1."""
    return normalized({k: max(float(v), floor) for k, v in normalized(train_prior).items()})


def candidates(train_prior: Mapping[str, float]) -> list[tuple[str, dict[str, float]]]:
    """The priors `sweep` scores, named as the model card lists them, from the training shares to equal shares."""
    return ([(f"at least {f:.0%} each" if f else "training shares", floored(train_prior, f)) for f in FLOORS]
            + [("equal shares", normalized({k: 1.0 for k in train_prior}))])


def sweep(vals: Mapping[str, tuple[np.ndarray, np.ndarray]], labels: tuple[str, ...],
          train_prior: dict[str, float]) -> list[dict]:
    """Each candidate prior scored on every val (name -> calibrated logits and true labels): accuracy, macro recall
    and per-class recall per val (`by_val`), and the means over the vals (`accuracy`, `macro_recall`), which
    `choose` compares: a model trained on several sources is chosen on all of their vals alike."""
    meta = {"labels": list(labels), "train_prior": train_prior}
    rows = []
    for name, prior in candidates(train_prior):
        by_val = {}
        for val, (logits, y) in vals.items():
            result = score(y, (logits + logit_offset(prior, meta)).argmax(1), labels)
            by_val[val] = {"accuracy": result["accuracy"], "macro_recall": result["macro_recall"],
                           "recall": {n: result["per_class"][n]["recall"] for n in labels}}
        rows.append({"name": name, "prior": prior, "by_val": by_val,
                     "accuracy": float(np.mean([v["accuracy"] for v in by_val.values()])),
                     "macro_recall": float(np.mean([v["macro_recall"] for v in by_val.values()]))})
    return rows


def choose(rows: list[dict]) -> dict:
    """The row of `sweep` to ship by default (see the module's docstring); of equals, the one nearest the training
    shares (the earliest)."""
    bar = rows[0]["accuracy"] - ACCURACY_TOLERANCE
    return max((r for r in rows if r["accuracy"] >= bar), key=lambda r: (r["macro_recall"], -rows.index(r)))
