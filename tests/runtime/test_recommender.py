"""The mood recommender over the bundled MovieLens catalog, and every bad-catalog case."""

from __future__ import annotations

import itertools
import re
import json
from statistics import median

import numpy as np
import pytest

from recommender import CatalogError, Filters, load_catalog, recommend
from recommender.__main__ import main
from recommender.catalog import DEFAULT_CATALOG
from recommender.rank import MOODS, mood_profile, weighted_rating

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.mark.parametrize("mode", ["match", "lift"])
@pytest.mark.parametrize("emotion", EMOTIONS)
def test_lists_meet_quality_and_diversity_targets(emotion, mode):
    films = recommend(emotion, n=10, mode=mode)
    titles = [f["title"] for f in films]
    assert len(titles) == len(set(titles)) == 10
    mapped = set(MOODS[mode][emotion])
    assert all(mapped & set(f["genres"]) for f in films)
    assert median(f["rating_count"] for f in films) >= 50
    first = [f["genres"][0] for f in films]
    assert max(first.count(g) for g in first) <= 3
    for f in films:
        named = f["reason"].split(" — ")[0].split(", ")
        assert named and set(named) <= mapped & set(f["genres"])
        assert f"by {f['rating_count']} viewers" in f["reason"]


def test_match_lists_of_different_emotions_overlap_little():
    lists = {e: {f["title"] for f in recommend(e, mode="match")} for e in EMOTIONS}
    for a, b in itertools.combinations(EMOTIONS, 2):
        assert len(lists[a] & lists[b]) <= 3, (a, b, lists[a] & lists[b])


def test_reason_names_mood_and_mode():
    (film,) = recommend("sad", n=1, mode="lift")
    assert "to lift a sad mood" in film["reason"] and "rated" in film["reason"]
    (film,) = recommend("happy", n=1, mode="match")
    assert "fits a happy mood" in film["reason"]


def test_score_distribution_blends_genre_profiles():
    profile = mood_profile({"happy": 0.6, "surprise": 0.3, "neutral": 0.1}, "match")
    assert profile["Comedy"] == pytest.approx(0.6) and profile["Sci-Fi"] == pytest.approx(0.3)
    blended = {f["title"] for f in recommend({"happy": 0.5, "surprise": 0.5})}
    happy = {f["title"] for f in recommend("happy")}
    surprise = {f["title"] for f in recommend("surprise")}
    assert blended != happy and blended != surprise


def test_bayesian_rating_prefers_many_votes():
    import numpy as np

    few, many = weighted_rating(np.array([5.0, 4.3]), np.array([2, 300]), prior_mean=3.5)
    assert many > few


def test_pages_never_repeat_titles():
    pages = [{f["title"] for f in recommend("happy", page=p)} for p in range(3)]
    assert all(len(p) == 10 for p in pages)
    assert not (pages[0] & pages[1]) and not (pages[0] & pages[2]) and not (pages[1] & pages[2])


def test_exclude_titles_already_shown():
    first = [f["title"] for f in recommend("fear")]
    again = [f["title"] for f in recommend("fear", exclude=set(first[:5]))]
    assert not set(first[:5]) & set(again)


def test_filters_years_votes_genres():
    films = recommend("happy", filters=Filters(min_votes=100, year_from=1990, year_to=1999, exclude_genres=("Romance",)))
    assert films
    for f in films:
        assert 1990 <= f["year"] <= 1999 and f["rating_count"] >= 100 and "Romance" not in f["genres"]


def test_unknown_emotion_and_mode():
    with pytest.raises(ValueError, match="unknown emotion"):
        recommend("bored")
    with pytest.raises(ValueError, match="unknown mode"):
        recommend("sad", mode="wallow")


def test_bundled_catalog_is_clean():
    cat = load_catalog()
    assert len(cat.movies) > 9000 and not cat.skipped
    assert "The Matrix" in set(cat.movies["title"]) and "Matrix, The" not in set(cat.movies["title"])


def write(tmp_path, text, name="c.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_user_catalog_with_commas_and_other_column_names(tmp_path):
    path = write(tmp_path, 'Name,Genre,Release_Year,Votes,Rating\n"Up","Animation, Comedy",2009,500,4.1\n"Heat","Action, Crime",1995,300,4.0\n')
    cat = load_catalog(path)
    assert list(cat.movies["genres"][0]) == ["Animation", "Comedy"]
    films = recommend("sad", mode="lift", catalog=cat)
    assert [f["title"] for f in films] == ["Up"]


def test_catalog_without_ratings_still_recommends(tmp_path):
    path = write(tmp_path, "title,genres\nUp,Animation|Comedy\nHeat,Action|Crime\n")
    films = recommend("happy", catalog=load_catalog(path), filters=Filters(min_votes=0))
    assert [f["title"] for f in films] == ["Up"] and "rated" not in films[0]["reason"]


def test_missing_columns_named(tmp_path):
    with pytest.raises(CatalogError, match=r"missing column\(s\) genres \(its first line has 2 columns\)"):
        load_catalog(write(tmp_path, "title,year\nUp,2009\n"))


def test_a_file_that_is_not_a_catalog_is_never_quoted(tmp_path):
    secret = "root:x:0:0:root:/root:/bin/bash\nSECRET_TOKEN=abc123\n"
    with pytest.raises(CatalogError) as err:
        load_catalog(write(tmp_path, secret))
    assert "root:x" not in str(err.value) and "abc123" not in str(err.value)


@pytest.mark.parametrize("text, reason", [
    ("title,genres,rating_count\nUp,Comedy,inf\nHeat,Crime,300\n", "invalid rating count"),
    ("title,genres,year\nUp,Comedy,inf\nHeat,Crime,1995\n", "invalid year"),
    ("title,genres,rating_mean\nUp,Comedy,1e308\nHeat,Crime,4.0\n", "invalid rating mean"),
    ("title,genres,rating_count\nUp,Comedy,12.5\nHeat,Crime,300\n", "invalid rating count"),
    ("title,genres,year\nUp,Comedy,1999,surplus\nHeat,Crime,1995\n", "malformed"),
])
def test_absurd_numbers_and_extra_fields_skip_their_row_with_the_reason(tmp_path, text, reason):
    cat = load_catalog(write(tmp_path, text))
    assert list(cat.movies["title"]) == ["Heat"] and cat.skipped == {reason: 1}


def test_trailing_commas_do_not_shift_columns(tmp_path):
    cat = load_catalog(write(tmp_path, "title,genres,year\nUp,Comedy,2009,\nHeat,Crime,1995,\n"))
    assert list(cat.movies["title"]) == ["Up", "Heat"] and list(cat.movies["year"]) == [2009, 1995]


def test_unterminated_quote_and_genre_flood_are_named(tmp_path):
    with pytest.raises(CatalogError, match="line 3.*check its quotes"):
        load_catalog(write(tmp_path, 'title,genres\nUp,Comedy\n"Heat,Crime\nA,B\n'))
    flood = "title,genres\n" + "".join(f"Film {i},Genre{i}\n" for i in range(500))
    with pytest.raises(CatalogError, match="500 distinct genres"):
        load_catalog(write(tmp_path, flood, name="flood.csv"))


def test_seeded_malformed_catalogs_give_a_catalog_or_one_line(tmp_path):
    """Bytes of the bundled catalog's head flipped, cut, quoted and duplicated: never a traceback."""
    rng = np.random.default_rng(11)
    head = "".join(open(DEFAULT_CATALOG, encoding="utf-8").readlines()[:60]).encode()
    for i in range(40):
        data = bytearray(head)
        for _ in range(int(rng.integers(1, 12))):
            pos = int(rng.integers(0, len(data)))
            data[pos:pos + 1] = rng.choice([b'"', b",", b"\n", b"|", b"inf", b"-1", b"\xff", b""])
        path = tmp_path / f"fuzz{i}.csv"
        path.write_bytes(bytes(data))
        try:
            cat = load_catalog(path)
        except CatalogError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            continue
        assert len(cat.movies) and np.isfinite(cat.movies["rating_count"]).all()


def test_wrong_encoding(tmp_path):
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog(write(tmp_path, "title,genres\nAmélie,Comedy\n", encoding="utf-16"))


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(CatalogError, match="the file is empty"):
        load_catalog(write(tmp_path, ""))
    with pytest.raises(CatalogError, match="no usable rows"):
        load_catalog(write(tmp_path, "title,genres\n", name="h.csv"))


def test_junk_duplicate_and_malformed_rows_skipped_and_counted(tmp_path):
    text = (
        "title,genres,year,rating_count\n"
        "Up,Animation|Comedy,2009,500\n"
        ",Comedy,2000,3\n"  # no title
        "Nothing,,2001,4\n"  # no genres
        "Up,Animation|Comedy,2009,20\n"  # duplicate (fewer votes)
        "Bad,Comedy,2002,5,extra,fields\n"  # malformed
        "Heat,Action|Crime,1995,300\n"
    )
    cat = load_catalog(write(tmp_path, text))
    assert list(cat.movies["title"]) == ["Up", "Heat"]
    assert int(cat.movies["rating_count"][0]) == 500
    assert cat.skipped == {"malformed": 1, "no title": 1, "no genres": 1, "duplicate": 1}


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError, match="no such catalog file"):
        load_catalog(tmp_path / "none.csv")


def test_cli_json(capsys):
    assert main(["--scores", '{"happy": 0.6, "surprise": 0.3, "neutral": 0.1}', "--n", "5", "--json"]) == 0
    films = json.loads(capsys.readouterr().out)
    assert len(films) == 5
    for f in films:
        assert {"title", "year", "genres", "rating_mean", "rating_count", "score", "reason"} <= set(f)
        assert isinstance(f["genres"], list)


def test_cli_pages_and_text(capsys):
    assert main(["--emotion", "sad", "--mode", "lift", "--page", "1"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("11.") and "to lift a sad mood" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--scores", "{happy: 1}"], "not valid JSON"),
        (["--emotion", "bored"], "unknown emotion"),
        (["--scores", "[1, 2]"], "JSON object"),
        (["--scores", '{"happy": null}'], 'the score of "happy" must be a finite number, 0 or more, not null'),
        (["--scores", '{"happy": [1]}'], "not [1]"),
        (["--scores", '{"happy": {"a": 1}}'], 'not {"a": 1}'),
        (["--scores", '{"happy": NaN}'], "not NaN"),
        (["--scores", '{"happy": Infinity}'], "not Infinity"),
        (["--scores", '{"happy": 1e999}'], "not Infinity"),
        (["--scores", '{"happy": true}'], "not true"),
        (["--scores", "[" * 100000 + "]" * 100000], "nested too deeply"),
        (["--scores", json.dumps({f"k{i}": 1 for i in range(10000)})], "and 9995 more"),
        (["--emotion", "happy", "--n", "0"], "films a page must be 1 or more, not 0"),
        (["--emotion", "happy", "--n", "-1"], "films a page must be 1 or more, not -1"),
        (["--emotion", "happy", "--page", "-1"], "the page must be 0 (the first) or more, not -1"),
    ],
)
def test_cli_bad_input_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and len(err) < 400


def test_a_page_far_past_the_end_is_empty_at_once(capsys):
    import time

    started = time.monotonic()
    assert main(["--emotion", "happy", "--page", "1000000000"]) == 0
    assert "no more films: page 1000000000 is past the last page" in capsys.readouterr().err
    assert time.monotonic() - started < 5


def test_a_catalog_of_titles_and_genres_only_gets_films(tmp_path):
    catalog = write(tmp_path, "title,genres\nToy Story (1995),Animation|Comedy\nHeat (1995),Action|Crime\n")
    assert [f["title"] for f in recommend("happy", catalog=catalog)] == ["Toy Story (1995)"]


def test_cli_bad_catalog(capsys, tmp_path):
    assert main(["--emotion", "sad", "--catalog", str(write(tmp_path, "foo\nx\n"))]) == 2
    assert "missing column(s) title, genres" in capsys.readouterr().err


def test_reasons_are_grammatical_and_name_the_emotion_a_film_is_for():
    assert all("an angry mood" in f["why"] and f["matched_genres"] for f in recommend("angry", n=5))
    mixed = recommend({"sad": 0.6, "fear": 0.4}, n=30)
    fearful = [f for f in mixed if "the fearful side of your mood" in f["why"]]
    sad = [f for f in mixed if "fits a sad mood" in f["why"]]
    assert fearful and sad and len(fearful) + len(sad) == len(mixed)
    assert all({"Horror", "Thriller", "Mystery"} >= set(f["matched_genres"]) for f in fearful)
    assert all({"Drama", "Romance"} >= set(f["matched_genres"]) for f in sad)


def test_pages_stay_full_until_the_films_end(tmp_path):
    rows = "".join(f"Film {i},Comedy|{'Drama' if i % 2 else 'Romance'},{1950 + i},{40 + i},4.0\n" for i in range(25))
    cat = load_catalog(write(tmp_path, "title,genres,year,rating_count,rating_mean\n" + rows))
    sizes = [len(recommend("happy", n=10, page=p, catalog=cat, filters=Filters(min_votes=0))) for p in range(4)]
    assert sizes == [10, 10, 5, 0]


def test_no_film_below_the_quality_floor_and_movielens_links():
    from recommender.recommend import ranker_for

    ranker = ranker_for(str(DEFAULT_CATALOG))
    floor = np.quantile(ranker.rating, 0.2)
    movies = ranker.catalog.movies[ranker.rating < floor]
    below = set(zip(movies["title"], movies["year"]))
    for emotion in EMOTIONS:
        films = [f for p in range(3) for f in recommend(emotion, n=10, page=p, filters=Filters(min_votes=0))]
        assert films and not below & {(f["title"], f["year"]) for f in films}
        assert all(re.fullmatch(r"https://movielens\.org/movies/\d+", f["url"]) for f in films)


def test_a_catalog_with_other_ids_gets_no_movielens_links(tmp_path):
    cat = load_catalog(write(tmp_path, "id,title,genres\n550,Fight Club,Drama\n"))
    assert recommend("sad", catalog=cat, filters=Filters(min_votes=0))[0]["url"] is None


def test_each_film_says_where_its_rating_stands_in_the_catalog(tmp_path):
    """The best rated of three films is in the catalog's best third; the middle one is in no top half and says
    nothing of it."""
    catalog = tmp_path / "three.csv"
    catalog.write_text("title,genres,rating_mean,rating_count\nTop,Comedy,4.8,500\nMiddle,Comedy,3.5,500\n"
                       "Low,Comedy,1.5,500\n")
    films = {f["title"]: f for f in recommend("happy", n=3, catalog=str(catalog), filters=Filters(min_votes=0))}
    assert films["Top"]["standing"] == "among the best 34% of this catalog" and "best 34%" in films["Top"]["reason"]
    assert films["Middle"]["standing"] == "" and "best" not in films["Middle"]["reason"]


def test_more_like_this_lists_what_the_same_viewers_rated_alike(tmp_path):
    from recommender import like_this

    assert [f["title"] for f in like_this("1", n=2)] == ["Toy Story 2", "Toy Story 3"]  # Toy Story's viewers
    assert all(f["url"].startswith("https://movielens.org/movies/") for f in like_this("1"))
    own = tmp_path / "own.csv"
    own.write_text("movie_id,title,genres\n1,Toy Story,Comedy\n")
    assert like_this("1", str(own)) == []  # a catalog without a neighbour table has none
    broken = tmp_path / "broken.csv"
    broken.write_text(own.read_text())
    (tmp_path / "broken.neighbours.csv").write_text("not,a\ntable")
    assert like_this("1", str(broken)) == []  # nor one with a broken table: the films still work
