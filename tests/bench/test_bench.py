"""Smoke test of the search benchmark (bench/search_bench.py): a small run in a subprocess.

It checks the shape of the JSON report, that the measured queries are at least 200 and all
distinct (even after folding), and that the marketplace's search passes every labelled relevance
check. Timings are never asserted here: speed is measured by the benchmark itself, on a quiet
machine, and recorded in docs/benchmarks.md.

The PostgreSQL peer runs when TEST_DATABASE_URL or CI is set, with conftest's rule: a missing
server fails in CI and skips elsewhere. The run without it always happens.
"""
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import corpus, peers, queries
from bench.search_bench import render, render_markdown
from marketplace.text import fold
from tests.support import IN_CI, POSTGRES_URL, require_postgres

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS, QUERIES = 300, 200
RUNS = ["without_postgresql"] + (["with_postgresql"] if (POSTGRES_URL or IN_CI) else [])


def run_bench(*arguments):
    completed = subprocess.run(
        [sys.executable, "-W", "error", "bench/search_bench.py", "--products", str(PRODUCTS),
         "--queries", str(QUERIES), "--json", *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module", params=RUNS)
def run(request, tmp_path_factory):
    index = tmp_path_factory.mktemp("bench") / "index"
    if request.param == "with_postgresql":
        require_postgres()
        report = run_bench("--pg-url", POSTGRES_URL, "--keep-index", str(index))
    else:
        report = run_bench("--skip-pg", "--keep-index", str(index))
    return {"name": request.param, "report": report, "index": index}


def expected_engines(run):
    return {"marketplace", "sqlite_fts5"} | ({"postgresql"} if run["name"] == "with_postgresql" else set())


def test_report_shape(run):
    report = run["report"]
    assert report["benchmark"] == "search"
    assert report["params"] == {"products": PRODUCTS, "queries": QUERIES, "seed": 20261, "warmup": queries.WARMUP}
    assert report["corpus"]["products"] == PRODUCTS
    assert set(report["engines"]) == expected_engines(run)
    for name, engine in report["engines"].items():
        assert engine["build_seconds"] > 0, name
        latency = engine["latency_ms"]
        assert latency["n"] == QUERIES
        assert 0 < latency["p50"] <= latency["p95"] <= latency["max"], name
        assert set(engine["by_op"]) == {"search", "suggest"}
        assert engine["by_op"]["search"]["n"] + engine["by_op"]["suggest"]["n"] == QUERIES
        assert set(engine["by_kind"]) == set(queries.KINDS)
        assert 0 <= engine["zero_result_searches"] <= report["queries"]["search"]
    peers = expected_engines(run) - {"marketplace"}
    assert set(report["ratios"]) == {f"p95_marketplace_over_{peer}" for peer in peers}
    assert all(ratio > 0 for ratio in report["ratios"].values())
    assert report["targets"]["applies"] is False  # the targets are for 50,000 products
    assert report["peak_rss_mb"] > 0 and report["rss_after_queries_mb"] > 0
    assert len(report["machine"]["load_average_start"]) == 3


def test_measured_queries_are_distinct_and_cover_every_kind(run):
    listed = run["report"]["queries"]["list"]
    assert len(listed) == run["report"]["queries"]["count"] == QUERIES >= 200
    keys = {(q["op"], " ".join(fold(q["text"]).split()), tuple(sorted(q["filters"].items()))) for q in listed}
    assert len(keys) == QUERIES  # distinct even after folding: no cache can answer one from another
    assert {q["kind"] for q in listed} == set(queries.KINDS)
    assert any(q["filters"] for q in listed) and any(q["op"] == "suggest" for q in listed)


def test_marketplace_passes_every_relevance_check(run):
    rows = run["report"]["relevance"]
    assert len(rows) == len(queries.LABELS) == run["report"]["relevance_total"]
    failed = [(row["query"], row["results"]["marketplace"]["top"]) for row in rows
              if not row["results"]["marketplace"]["ok"]]
    assert failed == []
    for row in rows:
        assert set(row["results"]) == expected_engines(run)


def test_index_is_kept_and_postgresql_schema_dropped(run):
    assert any(run["index"].iterdir())  # --keep-index
    if run["name"] == "with_postgresql":
        schema = run["report"]["engines"]["postgresql"]["schema"]
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            found = connection.execute(sa.text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                                       {"s": schema}).all()
        engine.dispose()
        assert schema.startswith("bench_") and found == []


def test_readable_table(run):
    text = render(run["report"])
    for name in expected_engines(run):
        assert name in text
    assert "p95" in text and "Relevance" in text and "dâu" in text
    markdown = render_markdown(run["report"])
    assert markdown.count("\n| `") == len(queries.LABELS)  # one relevance row per labelled query
    for name in expected_engines(run):
        assert f"| {name} (" in markdown


def test_corpus_is_deterministic_and_covers_every_base_product():
    products = corpus.generate(PRODUCTS, seed=5)
    assert products == corpus.generate(PRODUCTS, seed=5)
    assert products != corpus.generate(PRODUCTS, seed=6)
    assert [p["id"] for p in products] == list(range(1, PRODUCTS + 1))
    names = " | ".join(p["name"] for p in products)
    assert all(base.vi in names for base in corpus.BASES)
    assert all(20 <= len(p["description"].split()) <= 60 for p in products)
    assert {p["province_name"] for p in products} <= {name for _, name in corpus.geo.provinces()}
    assert any(p["stars"] is None for p in products) and any(p["name_en"] for p in products)


def test_query_mix_refuses_too_few_queries_and_repeats_nothing():
    vocabulary = corpus.vocabulary(corpus.generate(PRODUCTS))
    for seed in (1, 2, 3):
        measured, warmup = queries.build(QUERIES, seed, vocabulary)
        assert len({q.key for q in measured}) == QUERIES
        assert not {q.key for q in measured} & {q.key for q in warmup}
    with pytest.raises(ValueError):
        queries.build(queries.MIN_QUERIES - 1, 1)
    with pytest.raises(AssertionError):  # a "non-matching" word that the corpus contains
        queries.build(QUERIES, 1, vocabulary | {"freeship"})


def reference(products, query):
    """Total and facets of a query by brute force: every word (folded) in the product's text, the
    filters applied, each facet under every filter but its own."""
    fields = ("name", "name_en", "cooperative_name", "province_name", "description")
    wanted = set(re.findall(r"\w+", fold(query.text)))
    values = {"category": lambda p: [p["category"]], "province": lambda p: [p["province_code"]],
              "stars": lambda p: [p["stars"]] if p["stars"] else [], "certification": lambda p: p["certifications"],
              "cooperative_type": lambda p: [p["cooperative_type"]]}
    matched = [p for p in products if wanted <= set(re.findall(r"\w+", fold(" ".join(p[f] for f in fields))))]

    def passes(product, skip=None):
        return all(value in values[name](product) for name, value in query.filters if name != skip)

    facets = {}
    for name in peers.FACETS:
        counts = Counter()
        for product in matched:
            if passes(product, skip=name):
                counts.update(str(value) for value in values[name](product))
        facets[name] = dict(counts)
    return sum(passes(p) for p in matched), facets


@pytest.mark.parametrize("peer_name", ["sqlite_fts5"] + (["postgresql"] if (POSTGRES_URL or IN_CI) else []))
def test_peers_count_what_a_brute_force_reference_counts(peer_name):
    """The peers' SQL (filters, facets that ignore their own filter) does the same work as the engine's
    facets: checked against a plain Python count on every search query of the mix."""
    if peer_name == "postgresql":
        require_postgres()
        peer = peers.PostgresPeer(POSTGRES_URL)
    else:
        peer = peers.Fts5Peer()
    products = corpus.generate(PRODUCTS)
    measured, _ = queries.build(QUERIES, 20261, corpus.vocabulary(products))
    searches = [q for q in measured if q.op == "search"]
    assert any(q.filters for q in searches)
    try:
        peer.build(products)
        mismatches = []
        for query in searches:
            result = peer.search(query)
            if (result.total, result.facets) != reference(products, query):
                mismatches.append(query.text)
        assert mismatches == []
        assert any(peer.search(q).total for q in searches if q.filters)  # some filtered query finds something
    finally:
        peer.close()
