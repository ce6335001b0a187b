"""Benchmarks (run from the repository root, e.g. `.venv/bin/python bench/search_bench.py`)."""
