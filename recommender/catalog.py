"""Loading a movie catalog CSV: the bundled MovieLens one or any file a user points to.

A usable file has a title and a genres column (pipe- or comma-separated); year, mean rating and
vote count are optional. Unusable rows are skipped and counted by reason, never silently. Messages
name the file and the problem but never quote its content: a path typed by mistake may point at a
file that is not a catalog.
"""

from __future__ import annotations

import csv
import io
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
MOVIELENS_IDS = ("movie_id", "movieid")  # id columns named as MovieLens names them: its ids, linkable


MAX_BYTES = 50_000_000  # ~10x MovieLens' full 62k-film list; a larger file is refused before reading
MAX_GENRES = 100  # MovieLens has 20: thousands mean the genres column holds something else
# Plausible ranges of the numeric columns; a number outside (or inf, nan, text) skips its row.
RANGES = {"year": (1870, 2100), "rating_mean": (0.0, 10.0), "rating_count": (0, 1e9)}


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
    movielens_ids: bool = False  # movie_id holds MovieLens ids: https://movielens.org/movies/<id> is the film's page
    # movie_id -> the rows in `movies` of the films its viewers rated alike, likest first (`neighbours_path`, resolved
    # once at loading, so the page's cards look nothing up; empty without it)
    neighbours: dict[str, tuple[int, ...]] = field(default_factory=dict)


def neighbours_path(catalog: Path) -> Path:
    """Where a catalog's "more like this" table lies: CATALOG.neighbours.csv beside it (scripts/build_catalog.py)."""
    return catalog.with_suffix(".neighbours.csv")


def load_neighbours(path: Path) -> dict[str, tuple[str, ...]]:
    """A neighbour table (movie_id, neighbour_id, likeness) as movie_id -> neighbour ids, likest first; empty when
    there is none or it cannot be read (the films still work, without "more like this")."""
    try:
        table = pd.read_csv(path, dtype={"movie_id": str, "neighbour_id": str})
        table = table.sort_values(["movie_id", "likeness"], ascending=[True, False])
        return {movie: tuple(group["neighbour_id"]) for movie, group in table.groupby("movie_id", sort=False)}
    except (OSError, ValueError, KeyError):
        return {}


def _find_columns(header: list[str], path: Path) -> dict[str, int]:
    """Column index of each known field; CatalogError when title or genres is missing."""
    lower = {h.strip().lower(): i for i, h in enumerate(header)}
    found = {key: next((lower[n] for n in names if n in lower), None) for key, names in COLUMNS.items()}
    missing = [k for k in ("title", "genres") if found[k] is None]
    if missing:
        raise CatalogError(
            f"{path}: missing column(s) {', '.join(missing)} (its first line has {len(header)} column"
            f"{'s' if len(header) != 1 else ''}); a catalog is a CSV with at least 'title' and 'genres' columns"
        )
    return {k: v for k, v in found.items() if v is not None}


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], int]:
    """The header, the rows that fit it (trailing empty fields dropped, missing ones empty) and how many did not."""
    if path.stat().st_size > MAX_BYTES:
        raise CatalogError(f"{path}: {path.stat().st_size / 1e6:.0f} MB, over the {MAX_BYTES // 1_000_000} MB "
                           "a catalog may have")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text; save the CSV as UTF-8 and try again") from None
    if not text.strip():
        raise CatalogError(f"{path}: the file is empty; it needs a header row with 'title' and 'genres'")
    reader = csv.reader(io.StringIO(text), strict=True)
    rows, malformed, start = [], 0, 1
    try:
        header = next(reader)
        while True:
            start = reader.line_num + 1  # where the next record begins: an open quote runs on from there
            row = next(reader, None)
            if row is None:
                break
            if len(row) > len(header) and any(v.strip() for v in row[len(header):]):
                malformed += 1  # more fields than columns: which is which cannot be known
            elif any(v.strip() for v in row):
                rows.append((row + [""] * len(header))[: len(header)])
    except csv.Error as exc:
        raise CatalogError(f"{path}: not a readable CSV (line {start}: {exc}); check its quotes") from None
    return header, rows, malformed


def _numbers(values: pd.Series, key: str) -> tuple[pd.Series, pd.Series]:
    """A numeric column parsed (empty: NaN) and a mask of the rows whose value is not a plausible number."""
    numbers = pd.to_numeric(values.str.strip().replace("", np.nan), errors="coerce")
    lo, hi = RANGES[key]
    given = values.str.strip() != ""
    invalid = given & ~(numbers.between(lo, hi) & np.isfinite(numbers))
    if key == "rating_count":
        invalid |= given & (numbers % 1 != 0)
    return numbers.where(~invalid), invalid


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
    header, rows, malformed = _read_rows(path)
    cols = _find_columns(header, path)
    raw = pd.DataFrame(rows, columns=range(len(header)), dtype=str)
    genre_texts = raw[cols["genres"]]
    split = {text: _split_genres(text) for text in genre_texts.unique()}  # few distinct ones: each split once
    movies = pd.DataFrame({"title": raw[cols["title"]].str.strip(), "genres": genre_texts.map(split)})
    skipped = {"malformed": malformed, "no title": int((movies["title"] == "").sum()),
               "no genres": int(((movies["title"] != "") & (movies["genres"].map(len) == 0)).sum())}
    keep = (movies["title"] != "") & (movies["genres"].map(len) > 0)
    for key in RANGES:
        if key in cols:
            movies[key], invalid = _numbers(raw[cols[key]], key)
            skipped[f"invalid {key.replace('_', ' ')}"] = int((keep & invalid).sum())
            keep &= ~invalid
        else:
            movies[key] = np.nan
    movies["movie_id"] = raw[cols["movie_id"]] if "movie_id" in cols else raw.index.astype(str)
    movies = movies[keep]
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
    if len(genres) > MAX_GENRES:
        raise CatalogError(f"{path}: {len(genres)} distinct genres, more than the {MAX_GENRES} a catalog may have; "
                           "check that the genres column lists genres (e.g. Comedy|Drama)")
    index = {g: i for i, g in enumerate(genres)}
    matrix = np.zeros((len(movies), len(genres)), np.float32)
    for row, gs in enumerate(movies["genres"]):
        matrix[row, [index[g] for g in gs]] = 1.0
    movielens = "movie_id" in cols and header[cols["movie_id"]].strip().lower() in MOVIELENS_IDS
    neighbours = {}
    if "movie_id" in cols:
        row_of = {movie: row for row, movie in enumerate(movies["movie_id"])}
        neighbours = {movie: rows for movie, others in load_neighbours(neighbours_path(path)).items()
                      if (rows := tuple(row_of[o] for o in others if o in row_of))}
    return Catalog(movies, genres, matrix, str(path), skipped, movielens, neighbours)


def _describe(skipped: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in skipped.items())


def skipped_message(catalog: Catalog) -> str | None:
    """One line telling how many rows were skipped and why, or None when none were."""
    if not catalog.skipped:
        return None
    total = sum(catalog.skipped.values())
    return f"{catalog.path}: skipped {total} row{'s' if total != 1 else ''} ({_describe(catalog.skipped)})"
