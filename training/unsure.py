"""Choosing when a shipped model calls a face "unsure" (`emotion.detector.Face.unsure`): its top probability, as
inference runs it, under `unsure_below`.

The candidates are top probabilities from `CANDIDATES[0]` to `CANDIDATES[-1]`; for each, the faces of every val under
it and at or over it, and how often the model is right on each side. The bar is the highest candidate under which the
model's labels are wrong more often than right on the vals (the mean over them): the faces called unsure are, taken
together, worse guesses than a coin toss, and the faces over the bar are right more often than not.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

CANDIDATES = tuple(round(0.25 + 0.05 * k, 2) for k in range(10))  # 0.25, 0.30, ..., 0.70
RIGHT_UNDER = 0.5  # the share of right labels under the bar that it must stay below


def sweep(vals: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    """Each candidate bar scored on every val (name -> probabilities N x labels, true labels): the share of faces under
    it, and the accuracy under it and at or over it, per val (`by_val`) and as means over the vals."""
    rows = []
    for bar in CANDIDATES:
        by_val = {}
        for name, (probs, y) in vals.items():
            right, under = probs.argmax(1) == y, probs.max(1) < bar
            by_val[name] = {"share_under": float(under.mean()),
                            "accuracy_under": float(right[under].mean()) if under.any() else None,
                            "accuracy_over": float(right[~under].mean()) if (~under).any() else None}
        mean = lambda key: float(np.mean([v[key] for v in by_val.values() if v[key] is not None] or [np.nan]))  # noqa: E731
        rows.append({"bar": bar, "by_val": by_val, "share_under": mean("share_under"),
                     "accuracy_under": mean("accuracy_under"), "accuracy_over": mean("accuracy_over")})
    return rows


def choose(rows: list[dict]) -> dict:
    """The row of `sweep` whose bar ships (see the module's docstring); the lowest candidate when none qualifies."""
    qualified = [r for r in rows if r["accuracy_under"] < RIGHT_UNDER]
    return max(qualified, key=lambda r: r["bar"]) if qualified else rows[0]


def text(rows: list[dict], chosen: dict) -> str:
    """The model card's table of the sweep, the chosen bar in bold."""
    names = list(rows[0]["by_val"])
    head = "| top probability under | " + " | ".join(f"{n}: share of faces, right under / over" for n in names) + " |"
    lines = [head, "|---|" + "---|" * len(names)]
    for r in rows:
        cells = [f"{v['share_under']:.0%}, " + "/".join("-" if a is None else f"{a:.0%}" for a in
                                                         (v["accuracy_under"], v["accuracy_over"]))
                 for v in r["by_val"].values()]
        bar = f"**{r['bar']:.0%}**" if r is chosen else f"{r['bar']:.0%}"
        lines.append(f"| {bar} | " + " | ".join(cells) + " |")
    return (f"A face is shown as unsure when its top probability is under **{chosen['bar']:.0%}** (`unsure_below`): "
            f"the highest bar under which the label is right less than {RIGHT_UNDER:.0%} of the time on the vals "
            f"(their mean; `training/unsure.py`). Measured as inference runs it (default prior):\n\n" + "\n".join(lines))
