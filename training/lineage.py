"""A run's lineage: the training stages behind a model file (warm starts, prunings, ensemble members), each stage's
recorded configuration and metrics, and the commands and sentences that describe them on its model card."""

from __future__ import annotations

import json
from pathlib import Path

from .config import ARCHS, TrainConfig, augment_text
from .data import source_name
from .ensemble import ARCH as ENSEMBLE
from .reports import read_history


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
        extras = (f", {m.get('precision', 'float32').replace('_', ' ')}, on {m.get('hardware', 'hardware not recorded')}"
                  f"; augmentation: {augment_text(cfg.get('augment', 'standard'))}")
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


SELECTED_BY = {"accuracy": "val accuracy",  # each `--select`, as the card says it
               "mean": "the mean of every source's val accuracy and macro recall"}


def describe(run: Path, cfg: dict, m: dict) -> dict:
    """The card's architecture, recipe, hours and progress for a trained run or an ensemble of runs."""
    if m["arch"] != ENSEMBLE:
        chain = lineage(run)
        return {"architecture": ARCHS[m["arch"]].describe(m["arch"]), "recipe": recipe(chain),
                "hours": sum(stage.get("train_seconds") or 0 for _, _, stage in chain) / 3600,
                "progress": f"{m['epochs_done']} of {m['epochs_planned']} planned epochs of the last stage; "
                            f"best-on-val weights (by {SELECTED_BY[cfg.get('select', 'accuracy')]})",
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
