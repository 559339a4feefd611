"""Loading a movie catalog CSV: the bundled MovieLens one or any file a user points to.

A usable file has a title and a genres column (pipe- or comma-separated); year, mean rating and
vote count are optional. Unusable rows are skipped and counted by reason, never silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "data" / "movies.csv"

# Accepted column names (lower-case) for each field.
COLUMNS = {
    "title": ("title", "name", "movie", "movie_title", "original_title"),
    "genres": ("genres", "genre", "categories"),
    "year": ("year", "release_year"),
    "rating_mean": ("rating_mean", "rating", "mean_rating", "avg_rating", "vote_average", "score"),
    "rating_count": ("rating_count", "votes", "num_ratings", "vote_count", "n_ratings", "ratings"),
    "movie_id": ("movie_id", "movieid", "id"),
}


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file and the fix."""


@dataclass(eq=False)  # hashed by identity: its ranker is cached per loaded catalog
class Catalog:
    """Movies (title, year, genres tuple, rating_mean, rating_count) plus a genre indicator matrix."""

    movies: pd.DataFrame
    genres: list[str]
    genre_matrix: np.ndarray  # movies x genres, 0/1 float32
    path: str = ""
    skipped: dict[str, int] = field(default_factory=dict)


def _find_columns(header: list[str], path: Path) -> dict[str, str]:
    lower = {h.strip().lower(): h for h in header}
    found = {key: next((lower[n] for n in names if n in lower), None) for key, names in COLUMNS.items()}
    missing = [k for k in ("title", "genres") if found[k] is None]
    if missing:
        raise CatalogError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'}); "
            "a catalog needs at least 'title' and 'genres'"
        )
    return {k: v for k, v in found.items() if v is not None}


def _split_genres(value) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    parts = re.split(r"[|,;]", value)
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip() and p.strip() != "(no genres listed)"))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalog CSV; raises CatalogError with a one-line message."""
    path = Path(path or DEFAULT_CATALOG)
    if not path.is_file():
        raise CatalogError(f"{path}: no such catalog file; check the path")
    malformed: list[list[str]] = []
    try:
        raw = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", engine="python",
            on_bad_lines=lambda fields: malformed.append(fields),  # returns None: skip, but count it
        )
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text; save the CSV as UTF-8 and try again") from None
    except pd.errors.EmptyDataError:
        raise CatalogError(f"{path}: the file is empty; it needs a header row with 'title' and 'genres'") from None
    except pd.errors.ParserError as exc:
        raise CatalogError(f"{path}: not a readable CSV ({exc})") from None
    cols = _find_columns(list(raw.columns), path)
    movies = pd.DataFrame({
        "title": raw[cols["title"]].str.strip(),
        "genres": raw[cols["genres"]].map(_split_genres),
    })
    for key in ("year", "rating_mean", "rating_count"):
        movies[key] = pd.to_numeric(raw[cols[key]], errors="coerce") if key in cols else np.nan
    movies["movie_id"] = raw[cols["movie_id"]] if "movie_id" in cols else raw.index.astype(str)

    skipped = {
        "malformed": len(malformed),
        "no title": int((movies["title"] == "").sum()),
        "no genres": int(((movies["title"] != "") & (movies["genres"].map(len) == 0)).sum()),
    }
    movies = movies[(movies["title"] != "") & (movies["genres"].map(len) > 0)]
    before = len(movies)
    movies = movies.sort_values("rating_count", ascending=False, na_position="last")
    movies = movies.drop_duplicates(["title", "year"]).sort_index()
    skipped["duplicate"] = before - len(movies)
    skipped = {k: v for k, v in skipped.items() if v}
    if movies.empty:
        raise CatalogError(f"{path}: no usable rows (skipped: {_describe(skipped) or 'file has no data rows'})")
    movies["rating_count"] = movies["rating_count"].fillna(0).astype(int)
    movies = movies.reset_index(drop=True)

    genres = sorted({g for gs in movies["genres"] for g in gs})
    index = {g: i for i, g in enumerate(genres)}
    matrix = np.zeros((len(movies), len(genres)), np.float32)
    for row, gs in enumerate(movies["genres"]):
        matrix[row, [index[g] for g in gs]] = 1.0
    return Catalog(movies, genres, matrix, str(path), skipped)


def _describe(skipped: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in skipped.items())


def skipped_message(catalog: Catalog) -> str | None:
    """One line telling how many rows were skipped and why, or None when none were."""
    if not catalog.skipped:
        return None
    total = sum(catalog.skipped.values())
    return f"{catalog.path}: skipped {total} row{'s' if total != 1 else ''} ({_describe(catalog.skipped)})"
