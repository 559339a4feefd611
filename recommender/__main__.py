"""`python -m recommender --emotion happy` or `--scores '{"happy": 0.6, "surprise": 0.3}'`."""

from __future__ import annotations

import argparse
import json
import sys

from .catalog import CatalogError, load_catalog, skipped_message
from .rank import MODES, Filters
from .recommend import recommend


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recommender", description="Movies for a mood.")
    mood = parser.add_mutually_exclusive_group(required=True)
    mood.add_argument("--emotion", help="angry, disgust, fear, happy, sad, surprise or neutral")
    mood.add_argument("--scores", help='probabilities as JSON, e.g. \'{"happy": 0.6, "surprise": 0.3}\'')
    parser.add_argument("--n", type=int, default=10, help="films per page (default 10)")
    parser.add_argument("--mode", choices=MODES, default="match", help="match the mood or lift it (default match)")
    parser.add_argument("--page", type=int, default=0, help="0 = first page; later pages never repeat titles")
    parser.add_argument("--catalog", help="a CSV with at least title and genres columns (default data/movies.csv)")
    parser.add_argument("--min-votes", type=int, default=Filters.min_votes)
    parser.add_argument("--year-from", type=int)
    parser.add_argument("--year-to", type=int)
    parser.add_argument("--exclude-genre", action="append", default=[], help="repeatable, e.g. Horror")
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    args = parser.parse_args(argv)

    try:
        scores = json.loads(args.scores) if args.scores else args.emotion
        if args.scores and not isinstance(scores, dict):
            raise ValueError("--scores must be a JSON object of emotion -> probability")
        catalog = load_catalog(args.catalog)
        if (note := skipped_message(catalog)):
            print(note, file=sys.stderr)
        filters = Filters(args.min_votes, args.year_from, args.year_to, tuple(args.exclude_genre))
        films = recommend(scores, n=args.n, mode=args.mode, page=args.page, filters=filters, catalog=catalog)
    except json.JSONDecodeError as exc:
        print(f"error: --scores is not valid JSON ({exc.msg}); e.g. '{{\"happy\": 0.6, \"sad\": 0.4}}'", file=sys.stderr)
        return 2
    except RecursionError:
        print("error: --scores is nested too deeply; give one JSON object of emotion -> probability", file=sys.stderr)
        return 2
    except (CatalogError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(films, indent=2, ensure_ascii=False))
    elif not films and args.page:
        print(f"no more films: page {args.page} is past the last page for this mood and these filters", file=sys.stderr)
    elif not films:
        print("no films match these filters; lower --min-votes or widen the years", file=sys.stderr)
    else:
        for i, f in enumerate(films, 1 + args.page * args.n):
            print(f"{i:>3}. {f['title']} ({f['year'] or '?'}) [{', '.join(f['genres'])}]\n     {f['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
