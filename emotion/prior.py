"""Priors: how common each emotion is assumed to be among the faces a detector sees.

A model's probabilities assume its training data's class shares (`train_prior` in the model file: FER2013 has
happy 25% of faces, disgust 1.5%). A user's faces come with other shares, so a detector can assume another prior:
by Bayes' rule the probabilities are re-weighted by prior / train_prior, i.e. log(prior / train_prior) is added to
the calibrated logits (logit adjustment). The shipped default (`default_prior` in the model file) is chosen on val
by `training.priors`; "balanced" assumes every emotion equally common.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .modelfile import is_prior

NAMED = ("default", "training", "balanced")  # the priors named by a word (CLI, page)


class PriorError(ValueError):
    """A prior that cannot be used; the message says what to write instead."""


def normalized(prior: Mapping[str, float]) -> dict[str, float]:
    """`prior` scaled to sum to 1."""
    total = float(sum(prior.values()))
    return {k: float(v) / total for k, v in prior.items()}


def resolve(prior: str | Mapping[str, float] | None, meta: dict) -> dict[str, float] | None:
    """The shares to assume for the model whose metadata is `meta`, from `prior`: None or "default" (the model file's
    default, else its training prior), "training" (its training data's shares), "balanced" (equal shares) or a share
    per label. None: the model file records no prior, and its probabilities are used as they are."""
    labels, train = meta["labels"], meta.get("train_prior")
    if prior in (None, "default", "training") and not train:
        return None
    if prior in (None, "default"):
        return normalized(meta.get("default_prior", train))
    if prior == "training":
        return normalized(train)
    if not train:
        raise PriorError("this model file records no training prior, so it cannot assume another one; "
                         "republish it (emotion-train publish)")
    if prior == "balanced":
        return {k: 1 / len(labels) for k in labels}
    if isinstance(prior, str):
        return parse(prior, labels)
    if not is_prior(dict(prior), labels):
        raise PriorError(f"a prior needs a positive share for each of {', '.join(labels)}")
    return normalized(prior)


def parse(text: str, labels: list[str]) -> dict[str, float]:
    """A prior written as "angry=1,disgust=1,...": a positive share for every label (any scale)."""
    shares = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            shares[name.strip()] = float(value)
        except ValueError:
            shares[name.strip()] = float("nan")
    if not is_prior(shares, labels):
        raise PriorError(f"prior {text!r}: write {', '.join(NAMED)} or a positive share for each emotion, "
                         f"e.g. {','.join(f'{k}=1' for k in labels)}")
    return normalized(shares)


def logit_offset(prior: Mapping[str, float] | None, meta: dict) -> np.ndarray | None:
    """What to add to the model's calibrated logits (in label order) to assume `prior` (see `resolve`) instead of
    the training prior; None for no change."""
    if prior is None:
        return None
    train = normalized(meta["train_prior"])
    return np.array([np.log(prior[k]) - np.log(train[k]) for k in meta["labels"]], np.float32)
