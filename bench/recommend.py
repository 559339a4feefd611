"""Recommender benchmark: time per `recommend` call and the list-quality targets, printed as a table.

    python -m bench.recommend [--json]
"""

from __future__ import annotations



import argparse
import itertools
import json
import statistics
import time

from recommender import recommend
from recommender.rank import MODES, MOODS
from recommender.recommend import ranker_for
from recommender.catalog import DEFAULT_CATALOG

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    ranker_for(str(DEFAULT_CATALOG))
    load_ms = (time.perf_counter() - t0) * 1000
    timings, rows = [], []
    for mode, emotion in itertools.product(MODES, EMOTIONS):
        for _ in range(5):
            t0 = time.perf_counter()
            films = recommend(emotion, mode=mode)
            timings.append((time.perf_counter() - t0) * 1000)
        first = [f["genres"][0] for f in films]
        rows.append({
            "mode": mode, "emotion": emotion, "distinct": len({f["title"] for f in films}),
            "all_mapped": all(set(MOODS[mode][emotion]) & set(f["genres"]) for f in films),
            "median_votes": statistics.median(f["rating_count"] for f in films),
            "max_same_first_genre": max(first.count(g) for g in first),
        })
    match = {e: {f["title"] for f in recommend(e)} for e in EMOTIONS}
    overlap = max(len(match[a] & match[b]) for a, b in itertools.combinations(EMOTIONS, 2))
    timings.sort()
    summary = {
        "catalog_load_ms": round(load_ms, 1),
        "recommend_p50_ms": round(statistics.median(timings), 2),
        "recommend_p95_ms": round(timings[int(0.95 * len(timings))], 2),
        "max_match_overlap": overlap,
        "lists": rows,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"catalog load {load_ms:.0f} ms; recommend p50 {summary['recommend_p50_ms']} ms, "
          f"p95 {summary['recommend_p95_ms']} ms (target <= 20 ms)")
    print(f"{'mode':<6} {'emotion':<9} distinct  mapped  median votes  max same 1st genre")
    for r in rows:
        print(f"{r['mode']:<6} {r['emotion']:<9} {r['distinct']:>8}  {str(r['all_mapped']):>6}  {r['median_votes']:>12}  {r['max_same_first_genre']:>18}")
    print(f"largest overlap between two emotions' match lists: {overlap} titles (target <= 3)")


if __name__ == "__main__":
    main()
