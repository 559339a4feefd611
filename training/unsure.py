"""Choosing when a shipped model calls a face "unsure" (`emotion.detector.Face.unsure`): its top probability, as
inference runs it, under `unsure_below`.

The candidates are top probabilities from `CANDIDATES[0]` to `CANDIDATES[-1]`, 5 points apart; for each, the faces of
every val under it and at or over it, how often the model is right on each side, and how often in the band of 5 points
just under it. The bar is the highest candidate whose band is right less than half the time on the vals (the mean over
them): a face is called unsure when faces as sure as it are more often wrong than right, and not merely when it is
less sure than most (taken together, the faces under a bar of 65% were right 48% of the time on FER2013 val although
those between 55% and 65% were right more often than not).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

BAND = 0.05  # the candidates' spacing, and the band under each whose faces decide it
CANDIDATES = tuple(round(0.25 + BAND * k, 2) for k in range(10))  # 0.25, 0.30, ..., 0.70
RIGHT_UNDER = 0.5  # the share of right labels in the band under the bar that it must stay below


def sweep(vals: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    """Each candidate bar scored on every val (name -> probabilities N x labels, true labels): the share of faces under
    it, and the accuracy under it and at or over it, per val (`by_val`) and as means over the vals."""
    rows = []
    for bar in CANDIDATES:
        by_val = {}
        for name, (probs, y) in vals.items():
            right, top = probs.argmax(1) == y, probs.max(1)
            under, band = top < bar, (top < bar) & (top >= bar - BAND)
            by_val[name] = {"share_under": float(under.mean()),
                            "accuracy_under": float(right[under].mean()) if under.any() else None,
                            "accuracy_band": float(right[band].mean()) if band.any() else None,
                            "accuracy_over": float(right[~under].mean()) if (~under).any() else None}
        mean = lambda key: float(np.mean([v[key] for v in by_val.values() if v[key] is not None] or [np.nan]))  # noqa: E731
        rows.append({"bar": bar, "by_val": by_val, **{key: mean(key) for key in next(iter(by_val.values()))}})
    return rows


def choose(rows: list[dict]) -> dict:
    """The row of `sweep` whose bar ships (see the module's docstring); the lowest candidate when none qualifies."""
    qualified = [r for r in rows if r["accuracy_band"] < RIGHT_UNDER]
    return max(qualified, key=lambda r: r["bar"]) if qualified else rows[0]


def text(rows: list[dict], chosen: dict) -> str:
    """The model card's table of the sweep, the chosen bar in bold."""
    names = list(rows[0]["by_val"])
    head = ("| top probability under | " + " | ".join(f"{n}: share of faces under, right in the band / under / over"
                                                     for n in names) + " |")
    lines = [head, "|---|" + "---|" * len(names)]
    for r in rows:
        cells = [f"{v['share_under']:.0%}, " + " / ".join("-" if a is None else f"{a:.0%}" for a in
                                                           (v["accuracy_band"], v["accuracy_under"], v["accuracy_over"]))
                 for v in r["by_val"].values()]
        bar = f"**{r['bar']:.0%}**" if r is chosen else f"{r['bar']:.0%}"
        lines.append(f"| {bar} | " + " | ".join(cells) + " |")
    return (f"A face is shown as unsure when its top probability is under **{chosen['bar']:.0%}** (`unsure_below`): "
            f"the highest bar whose band of {BAND:.0%} just under it is right less than {RIGHT_UNDER:.0%} of the time "
            f"on the vals (their mean; `training/unsure.py`). Measured as inference runs it (default prior):\n\n"
            + "\n".join(lines))
