"""Benchmarks, each printing its figures and writing its section of bench/RESULTS.md; run from the repository
root as `python -m bench.NAME` (e.g. `python -m bench.realtime`)."""
