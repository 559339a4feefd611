"""Ranking movies for a mood: genre affinity x Bayesian quality, then a diversity pass.

scores (emotion -> probability) -> blended genre profile (moods.toml) -> affinity per movie
-> x weighted rating -> greedy selection with maximal marginal relevance and a first-genre cap
-> pages that never repeat a title.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .catalog import Catalog

MOODS = tomllib.loads((Path(__file__).parent / "moods.toml").read_text())
MODES = tuple(MOODS)
NEGATIVE = {"angry", "disgust", "fear", "sad"}
PRIOR_VOTES = 50  # m in the IMDb weighted rating: a film needs ~this many votes to stand on its own
MIN_VOTES = 20
CANDIDATES = 200  # the diversity pass looks at this many top-scored films
QUALITY_FLOOR = 0.2  # films whose Bayesian rating is in the catalog's lowest fifth are never recommended
MMR_LAMBDA = 0.75  # relevance vs. novelty in the diversity pass
MAX_SAME_FIRST_GENRE = 3


@dataclass
class Filters:
    """What the user narrowed the list to."""

    min_votes: int = MIN_VOTES
    year_from: int | None = None
    year_to: int | None = None
    exclude_genres: tuple[str, ...] = ()


def mood_profile(scores: dict[str, float], mode: str) -> dict[str, float]:
    """Blend each emotion's genre weights by its probability (60% happy + 30% surprise blends both)."""
    if mode not in MOODS:
        raise ValueError(f"unknown mode '{mode}'; choose one of: {', '.join(MODES)}")
    unknown = set(scores) - set(MOODS[mode])
    if unknown:
        listed = ", ".join(sorted(unknown)[:5])[:200] + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ValueError(f"unknown emotion(s) {listed}; known: {', '.join(MOODS[mode])}")
    total = sum(max(p, 0.0) for p in scores.values())
    if total <= 0:
        raise ValueError("emotion scores must contain at least one positive probability")
    profile: dict[str, float] = {}
    for emotion, p in scores.items():
        for genre, w in MOODS[mode][emotion].items():
            profile[genre] = profile.get(genre, 0.0) + max(p, 0.0) / total * w
    return profile


def weighted_rating(mean: np.ndarray, count: np.ndarray, prior_mean: float) -> np.ndarray:
    """IMDb-style Bayesian rating: a 5.0 from 2 votes does not beat a 4.3 from 300."""
    v = count.astype(np.float64)
    return (v * np.nan_to_num(mean, nan=prior_mean) + PRIOR_VOTES * prior_mean) / (v + PRIOR_VOTES)


def franchise_key(title: str) -> str:
    """'Toy Story 3' and 'Toy Story 2' share 'toy story': one film per franchise per page."""
    words = [w for w in title.lower().replace(":", " ").split() if not w.isdigit() and w not in {"ii", "iii", "iv"}]
    return " ".join(words[:2]) if len(words) > 1 else " ".join(words)


class Ranker:
    """Precomputes what every call shares (weighted ratings, quality) for one catalog."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        movies = catalog.movies
        counts = movies["rating_count"].to_numpy()
        means = movies["rating_mean"].to_numpy(dtype=np.float64)
        has_ratings = np.isfinite(means).any() and counts.sum() > 0
        prior = float(np.nansum(means * counts) / counts.sum()) if has_ratings else 3.0
        self.rating = weighted_rating(means, counts, prior) if has_ratings else np.full(len(movies), prior)
        lo, hi = self.rating.min(), self.rating.max()
        self.quality = (self.rating - lo) / (hi - lo) if hi > lo else np.ones(len(movies))
        self.sorted_rating = np.sort(self.rating)  # where a film's rating stands in the catalog (`standing`)
        floor = np.quantile(self.rating, QUALITY_FLOOR) if has_ratings else -np.inf
        self.good_enough = self.rating >= floor
        self.counts = counts
        self.has_ratings = has_ratings  # without any (a catalog of titles and genres only), no vote floor applies
        self.years = movies["year"].to_numpy(dtype=np.float64)
        self.first_genre = [gs[0] for gs in movies["genres"]]
        self.franchise = [franchise_key(t) for t in movies["title"]]
        self.genre_sets = [frozenset(gs) for gs in movies["genres"]]


    def standing(self, row: int) -> float | None:
        """The share of the catalog's films rated at least as well as this one (0.05: in its top 5%); None without
        ratings."""
        if not self.has_ratings:
            return None
        return float(1 - np.searchsorted(self.sorted_rating, self.rating[row], side="left") / len(self.rating))
    def rank(self, scores: dict[str, float], mode: str, filters: Filters, exclude: set[int], n: int) -> tuple[list[int], dict]:
        """Row indices of the next `n` films, best first, skipping rows in `exclude`."""
        profile = mood_profile(scores, mode)
        genres = self.catalog.genres
        weights = np.array([profile.get(g, 0.0) for g in genres], np.float32)
        matrix = self.catalog.genre_matrix
        # Affinity: the mood's weight of the film's genres, diluted by genres off the mood.
        affinity = (matrix @ weights) / np.sqrt(np.maximum(matrix.sum(1), 1))
        ok = (affinity > 0) & self.good_enough
        if self.has_ratings:
            ok &= self.counts >= filters.min_votes
        if filters.year_from is not None:
            ok &= self.years >= filters.year_from
        if filters.year_to is not None:
            ok &= self.years <= filters.year_to
        banned = [genres.index(g) for g in filters.exclude_genres if g in genres]
        if banned:
            ok &= matrix[:, banned].sum(1) == 0
        if exclude:
            ok[list(exclude)] = False
        relevance = np.where(ok, affinity * (0.2 + self.quality), -np.inf)
        pool = np.argsort(-relevance)[:CANDIDATES]
        pool = [int(i) for i in pool if np.isfinite(relevance[i])]
        return self._diverse(pool, relevance, n), profile

    def _diverse(self, pool: list[int], relevance: np.ndarray, n: int) -> list[int]:
        """Greedy MMR over genre-set Jaccard similarity, max 3 per first genre, one per franchise."""
        if not pool:
            return []
        idx = np.array(pool)
        genres = self.catalog.genre_matrix[idx]
        sizes = genres.sum(1)
        gain = MMR_LAMBDA * relevance[idx] / relevance[idx[0]]
        max_sim = np.zeros(len(idx))
        allowed = np.ones(len(idx), bool)
        first = np.array([self.first_genre[i] for i in idx])
        franchise = np.array([self.franchise[i] for i in idx])
        chosen: list[int] = []
        per_first: dict[str, int] = {}
        while len(chosen) < n and allowed.any():
            k = int(np.argmax(np.where(allowed, gain - (1 - MMR_LAMBDA) * max_sim, -np.inf)))
            chosen.append(int(idx[k]))
            inter = genres @ genres[k]
            max_sim = np.maximum(max_sim, inter / (sizes + sizes[k] - inter))
            allowed &= franchise != franchise[k]
            per_first[first[k]] = per_first.get(first[k], 0) + 1
            if per_first[first[k]] >= MAX_SAME_FIRST_GENRE:
                allowed &= first != first[k]
        # Past the diversity caps, the page fills with the next best films: pages stay full until the films end.
        rest = [int(i) for i in idx if int(i) not in chosen]
        return chosen + rest[: n - len(chosen)]
