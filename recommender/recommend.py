"""`recommend()`: movies for a mood, each with the reason it was chosen."""

from __future__ import annotations

import json
import math
import numbers
from functools import lru_cache
from pathlib import Path

from urllib.parse import quote

import numpy as np

from .catalog import DEFAULT_CATALOG, Catalog, load_catalog
from .rank import MOODS, NEGATIVE, Filters, Ranker, mood_profile

ADJECTIVE = {"angry": "angry", "disgust": "disgusted", "fear": "fearful", "happy": "happy", "sad": "sad",
             "surprise": "surprised", "neutral": "calm"}


@lru_cache(maxsize=4)
def ranker_for(path: str) -> Ranker:
    """Load a catalog once per process and keep its precomputed ranker."""
    return ranker_of(load_catalog(path))


@lru_cache(maxsize=4)
def ranker_of(catalog: Catalog) -> Ranker:
    """The precomputed ranker of an already loaded catalog, built once per catalog object."""
    return Ranker(catalog)


def as_scores(scores_or_emotion: str | dict[str, float]) -> dict[str, float]:
    """An emotion label or a probability dict -> a probability dict. ValueError names a score that is not a finite
    number >= 0 (null, a list, NaN, infinity)."""
    if isinstance(scores_or_emotion, str):
        return {scores_or_emotion.strip().lower(): 1.0}
    scores = {}
    for key, value in scores_or_emotion.items():
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not isinstance(key, str) or not number or not math.isfinite(value) or value < 0:
            shown = json.dumps(value, default=str)
            raise ValueError(f"the score of {json.dumps(str(key))[:40]} must be a finite number, 0 or more, not "
                             f"{shown[:40]}{'...' if len(shown) > 40 else ''}")
        scores[key.strip().lower()] = float(value)
    return scores


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def why(genres: tuple[str, ...], scores: dict[str, float], mode: str) -> tuple[list[str], str]:
    """(['Comedy', 'Animation'], 'to lift a sad mood'): the film's genres that the mood asks for, and the emotion
    whose genres weigh most in this film's score (the mood's main one, or 'the fearful side of' a mixed mood)."""
    main = max(scores, key=scores.get)
    weight = {e: sum(MOODS[mode][e].get(g, 0.0) for g in genres) * p for e, p in scores.items() if p > 0}
    emotion = max(weight, key=lambda e: (weight[e], e == main))
    matched = sorted((g for g in genres if MOODS[mode][emotion].get(g, 0) > 0), key=lambda g: -MOODS[mode][emotion][g])[:2]
    mood = ADJECTIVE.get(emotion, emotion)
    mood = f"{article(mood)} {mood} mood" if emotion == main else f"the {mood} side of your mood"
    if mode == "lift":
        return matched, f"to lift {mood}" if emotion in NEGATIVE else f"to keep {mood} going"
    return matched, f"fits {mood}"


def standing_text(share: float | None) -> str:
    """'among the best 5% of this catalog' for a film in its top half by rating, else ''."""
    if share is None or share > 0.5:
        return ""
    return f"among the best {max(1, int(np.ceil(share * 100)))}% of this catalog"


def rating_text(mean: float, count: int) -> str:
    """'rated 4.1 by 212 viewers', or '' when the catalog has no ratings for the film."""
    if count > 0 and mean == mean:  # mean is NaN when the catalog has no ratings
        return f"rated {mean:.1f} by {count} viewer{'s' if count != 1 else ''}"
    return ""


def recommend(
    scores_or_emotion: str | dict[str, float],
    n: int = 10,
    mode: str = "match",
    exclude: set[str] | None = None,
    page: int = 0,
    filters: Filters | None = None,
    catalog: str | Path | Catalog | None = None,
) -> list[dict]:
    """The `page`-th list of `n` films for a mood; pages never repeat a title, nor any title in `exclude`.

    `scores_or_emotion` is an emotion ("sad") or probabilities ({"happy": 0.6, "surprise": 0.3, ...}).
    """
    if n < 1:
        raise ValueError(f"films a page must be 1 or more, not {n}")
    if page < 0:
        raise ValueError(f"the page must be 0 (the first) or more, not {page}")
    scores = as_scores(scores_or_emotion)
    ranker = ranker_of(catalog) if isinstance(catalog, Catalog) else ranker_for(str(catalog or DEFAULT_CATALOG))
    movies = ranker.catalog.movies
    if page * n >= len(movies):  # past the catalog's end: no film left, without ranking every page before it
        mood_profile(scores, mode)  # the mood and mode are still checked
        return []
    filters = filters or Filters()
    shown = set(movies.index[movies["title"].isin(exclude)]) if exclude else set()
    rows: list[int] = []
    for _ in range(page + 1):
        rows, _ = ranker.rank(scores, mode, filters, shown, n)
        shown.update(rows)
    out = []
    for i in rows:
        m = movies.loc[i]
        year = None if m["year"] != m["year"] else int(m["year"])
        (matched, because), rated = why(m["genres"], scores, mode), rating_text(float(m["rating_mean"]), int(m["rating_count"]))
        standing = standing_text(ranker.standing(i))
        out.append({
            "title": m["title"],
            "year": year,
            "genres": list(m["genres"]),
            "rating_mean": None if m["rating_mean"] != m["rating_mean"] else round(float(m["rating_mean"]), 2),
            "rating_count": int(m["rating_count"]),
            "score": round(float(ranker.rating[i]), 3),
            "matched_genres": matched,
            "why": because,
            "standing": standing,
            "reason": f"{', '.join(matched)} — {because}" + (f"; {rated}" if rated else "")
            + (f", {standing}" if standing else ""),
            # Quoted: an id is text from the catalog file, and a `)` in it would end the page's link.
            "url": film_url(ranker.catalog, m["movie_id"]),
            "movie_id": m["movie_id"],
        })
    return out


def film_url(catalog: Catalog, movie_id: str) -> str | None:
    """The film's MovieLens page, when the catalog's ids are MovieLens'. Quoted: an id is text from the catalog file,
    and a `)` in it would end the page's link."""
    return f"https://movielens.org/movies/{quote(str(movie_id), safe='')}" if catalog.movielens_ids else None


def like_this(movie_id: str, catalog: str | Path | Catalog | None = None, n: int = 5) -> list[dict]:
    """Up to `n` films of the catalog that the viewers of `movie_id` rated alike (its neighbour table, built by
    scripts/build_catalog.py from MovieLens ratings), likest first: title, year, url. Empty without a table."""
    catalog = catalog if isinstance(catalog, Catalog) else ranker_for(str(catalog or DEFAULT_CATALOG)).catalog
    out = []
    for row in catalog.neighbours.get(str(movie_id), ())[:n]:
        m = catalog.movies.iloc[row]
        out.append({"title": m["title"], "year": None if m["year"] != m["year"] else int(m["year"]),
                    "url": film_url(catalog, m["movie_id"])})
    return out
