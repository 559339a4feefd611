"""runs/README.md: one row per run folder, from each run's records (`python -m training runs`)."""

from __future__ import annotations

import json
from pathlib import Path



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
        "Val is the first source's val split (FER2013's for every run here), used for model selection; a run on "
        "several sources also gives its second source's val (ExpW's), with TTA.\n\n"
        "| run | architecture | origin | epochs | val | val TTA | val macro recall | 2nd source's val TTA: accuracy / "
        "macro recall |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n")
    return path
