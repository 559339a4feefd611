"""`recommend()`: movies for a mood, each with the reason it was chosen."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .catalog import DEFAULT_CATALOG, Catalog, load_catalog
from .rank import NEGATIVE, Filters, Ranker

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
    """An emotion label or a probability dict -> a probability dict."""
    if isinstance(scores_or_emotion, str):
        return {scores_or_emotion.strip().lower(): 1.0}
    return {k.strip().lower(): float(v) for k, v in scores_or_emotion.items()}


def reason(genres: tuple[str, ...], profile: dict[str, float], emotion: str, mode: str, mean: float, count: int) -> str:
    """'Comedy, Animation — to lift a sad mood; rated 4.1 by 212 viewers'."""
    matched = sorted((g for g in genres if profile.get(g, 0) > 0), key=lambda g: -profile[g])[:2]
    mood = ADJECTIVE.get(emotion, emotion)
    if mode == "lift":
        why = f"to lift a {mood} mood" if emotion in NEGATIVE else f"to keep a {mood} mood going"
    else:
        why = f"fits a {mood} mood"
    text = f"{', '.join(matched)} — {why}"
    if count > 0 and mean == mean:  # mean is NaN when the catalog has no ratings
        text += f"; rated {mean:.1f} by {count} viewer{'s' if count != 1 else ''}"
    return text


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
    scores = as_scores(scores_or_emotion)
    ranker = ranker_of(catalog) if isinstance(catalog, Catalog) else ranker_for(str(catalog or DEFAULT_CATALOG))
    movies = ranker.catalog.movies
    filters = filters or Filters()
    shown = set(movies.index[movies["title"].isin(exclude)]) if exclude else set()
    rows: list[int] = []
    for _ in range(page + 1):
        rows, profile = ranker.rank(scores, mode, filters, shown, n)
        shown.update(rows)
    emotion = max(scores, key=scores.get)
    out = []
    for i in rows:
        m = movies.loc[i]
        year = None if m["year"] != m["year"] else int(m["year"])
        out.append({
            "title": m["title"],
            "year": year,
            "genres": list(m["genres"]),
            "rating_mean": None if m["rating_mean"] != m["rating_mean"] else round(float(m["rating_mean"]), 2),
            "rating_count": int(m["rating_count"]),
            "score": round(float(ranker.rating[i]), 3),
            "reason": reason(m["genres"], profile, emotion, mode, float(m["rating_mean"]), int(m["rating_count"])),
        })
    return out
