"""`python -m training publish`: the shipped file records its priors, and its card states them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from emotion.detector import EmotionDetector
from emotion.modelfile import read_meta
from training.cli import main
from training.priors import candidates, choose
from training.lineage import commands
from training.unsure import CANDIDATES

pytestmark = pytest.mark.slow  # training and publishing models


def test_published_model_records_its_training_shares_and_a_default_chosen_on_val(tmp_path, tiny_dataset, capsys):
    run, dest = tmp_path / "run", tmp_path / "shipped" / "mine.keras"
    dest.parent.mkdir()
    assert main(["train", "--data", str(tiny_dataset), "--out", str(run), "--arch", "tiny", "--epochs", "1"]) == 0
    assert main(["shifted-val", "--data", str(tiny_dataset), "--out", str(tmp_path / "shifted")]) == 0
    assert main(["publish", str(run), "--as", str(dest), "--shifted", str(tmp_path / "shifted")]) == 0
    meta = read_meta(dest)
    # tiny_dataset's train split has 12 faces of every class: equal shares
    np.testing.assert_allclose(list(meta["train_prior"].values()), 1 / 7, atol=1e-9)
    card = (dest.parent / "MINE_MODEL_CARD.md").read_text()
    assert "## Prior" in card and "| prior | accuracy | macro recall |" in card and "(default)" in card
    assert card.count("on 28 photos, a face found in") == 2  # the shifted val's 4 val faces per class, and val's own
    assert meta["unsure_below"] in CANDIDATES and f"under **{meta['unsure_below']:.0%}**" in card  # the unsure bar
    detector = EmotionDetector.load(dest, finder="live")  # its export was made after the priors and bar were written
    assert detector.backend.startswith("TFLite") and detector.prior is not None
    assert detector.unsure_below == meta["unsure_below"]


def test_the_default_prior_keeps_accuracy_and_then_maximizes_macro_recall():
    rows = [{"name": "training shares", "accuracy": 0.700, "macro_recall": 0.60},
            {"name": "at least 5% each", "accuracy": 0.699, "macro_recall": 0.64},
            {"name": "at least 10% each", "accuracy": 0.699, "macro_recall": 0.64},
            {"name": "equal shares", "accuracy": 0.680, "macro_recall": 0.66}]
    assert choose(rows)["name"] == "at least 5% each"  # equal shares recall more but lose 2 points of accuracy
    rows[1]["accuracy"] = rows[2]["accuracy"] = 0.69
    assert choose(rows)["name"] == "training shares"


def test_the_candidates_raise_only_the_rare_emotions_and_end_at_equal_shares():
    train = {"angry": 0.139, "disgust": 0.015, "happy": 0.251, "neutral": 0.595}
    priors = dict(candidates(train))
    np.testing.assert_allclose(list(priors["training shares"].values()), list(train.values()), rtol=1e-6)
    raised = priors["at least 5% each"]
    assert raised["disgust"] > train["disgust"] and raised["happy"] < train["happy"]  # scaled down to sum to 1
    assert raised["happy"] / raised["neutral"] == pytest.approx(train["happy"] / train["neutral"])  # common: as trained
    np.testing.assert_allclose(list(priors["equal shares"].values()), 0.25)
    assert all(sum(p.values()) == pytest.approx(1) for p in priors.values())


def test_the_card_gives_every_command_that_makes_the_model_once_each_sources_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # run folders are named relative to the working directory, as in runs/

    def record(name: str, **cfg) -> None:
        folder = Path("runs") / name
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"data": "DATA", **cfg}))
        (folder / "metrics.json").write_text(json.dumps({"epochs_done": 5, "epochs_planned": 5}))

    record("a", arch="vgg")
    record("b", arch="vgg", seed=2, init_from="runs/a")
    record("ens", arch="ensemble", members=["runs/a/model.keras", "runs/b/model.keras"])
    record("student", arch="vgg-live", init_from="runs/b", teacher=["runs/ens/model.keras", "runs/a/model.keras"])
    text = commands(Path("runs/student"))
    # an ensemble teacher is made from its members, each trained once however many runs name it
    assert re.findall(r"--out (runs/\w+)", text) == ["runs/a", "runs/b", "runs/ens", "runs/student"]
    assert "`python -m training ensemble runs/a/model.keras runs/b/model.keras --data DATA --out runs/ens`" in text


def test_a_model_of_two_sources_is_published_with_both_vals_and_a_prior_chosen_on_both(tmp_path, tiny_dataset,
                                                                                      second_source):
    run, dest = tmp_path / "run", tmp_path / "shipped" / "mine.keras"
    dest.parent.mkdir()
    assert main(["train", "--data", str(tiny_dataset), str(second_source), "--source-weights", "3", "1", "--out",
                 str(run), "--arch", "tiny", "--epochs", "1"]) == 0
    assert main(["publish", str(run), "--as", str(dest)]) == 0
    meta = read_meta(dest)
    # 3/4 of tiny_dataset's equal shares, 1/4 of the second source's (happy 12, sad 3 faces)
    assert meta["train_prior"]["happy"] == pytest.approx(0.75 / 7 + 0.25 * 12 / 15, abs=1e-4)
    assert meta["train_prior"]["angry"] == pytest.approx(0.75 / 7, abs=1e-4)
    card = (dest.parent / "MINE_MODEL_CARD.md").read_text()
    first, second = tiny_dataset.name, second_source.name
    assert f"`{first}` train split (84 faces;" in card and f"`{second}` train split (15 faces; sad 3, happy 12)" in card
    assert f"## Results — `{second}` val" in card and "within each source" in card
    assert f"| prior | `{first}` accuracy | `{first}` macro recall | `{second}` accuracy |" in card
    assert f"on `{first}` + `{second}` (shares of each epoch 3:1)" in card
