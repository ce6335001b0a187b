#!/usr/bin/env python
"""Search benchmark (issue 4): the marketplace's own search against PostgreSQL and SQLite FTS5.

    .venv/bin/python bench/search_bench.py [--products 50000] [--queries 240] [--seed 20261]
                                           [--json | --markdown] [--pg-url URL] [--skip-pg] [--skip-fts5]
                                           [--skip-engine] [--keep-index DIR] [--profile FILE]

One run generates N synthetic Vietnamese OCOP products (bench/corpus.py), builds the marketplace's
index and both peers from them (build times measured), runs warm-up queries, then the measured
mix (bench/queries.py: every query distinct, interleaved across engines so machine noise hits
all of them alike), and a labelled relevance table. It prints p50/p95/max/mean latency per
engine, the p95 ratios, build times and the peak RSS; --json prints one JSON document instead.

Latency is time.perf_counter_ns() around one call: for a search, the top 20 ids, the total and
the facet counts (category, province, stars, certification, cooperative type); for a prefix
query, up to 10 completions. Peers include the round trip to their database.

Run it from the repository root. See docs/benchmarks.md for results.
"""
import argparse
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, corpus, peers, queries  # noqa: E402
from bench.common import stats  # noqa: E402
from bench.engine import ENGINE_NAME, EngineUnavailable, MarketplaceEngine  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_P95_MS = 25.0
TARGET_REBUILD_S = 60.0
TARGET_PRODUCTS = 50000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=50000, help="corpus size (default 50000)")
    parser.add_argument("--queries", type=int, default=240,
                        help=f"measured queries, at least {queries.MIN_QUERIES} (default 240)")
    parser.add_argument("--seed", type=int, default=20261, help="seed of the corpus and the query mix")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one machine-readable JSON document")
    output.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs/benchmarks.md)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL") or DEFAULT_PG_URL,
                        help="PostgreSQL to use for the peer (env BENCH_PG_URL; a private schema is "
                             "created and dropped)")
    parser.add_argument("--skip-pg", action="store_true", help="leave out the PostgreSQL peer")
    parser.add_argument("--skip-fts5", action="store_true", help="leave out the SQLite FTS5 peer")
    parser.add_argument("--skip-engine", action="store_true", help="peers only (to measure them alone)")
    parser.add_argument("--profile", metavar="FILE", help="after measuring, replay the measured queries on the "
                        "marketplace engine under cProfile, save the stats to FILE and print the top functions "
                        "to stderr (timings are not affected)")
    parser.add_argument("--keep-index", metavar="DIR", help="build the marketplace index in DIR (must be "
                        "empty or absent) and keep it")
    args = parser.parse_args(argv)
    if args.products < 1:
        parser.error("--products must be at least 1")
    if args.queries < queries.MIN_QUERIES:
        parser.error(f"--queries must be at least {queries.MIN_QUERIES}")
    if args.keep_index and Path(args.keep_index).exists() and any(Path(args.keep_index).iterdir()):
        parser.error(f"--keep-index {args.keep_index} is not empty")
    return args


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def current_rss_mb():
    """Resident memory now (Linux), or None elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def run_query(engine, query):
    """(nanoseconds, answer) for one call; the answer is a Result or a list of completions."""
    if query.op == "suggest":
        started = time.perf_counter_ns()
        answer = engine.suggest(query)
        return time.perf_counter_ns() - started, answer
    started = time.perf_counter_ns()
    answer = engine.search(query)
    return time.perf_counter_ns() - started, answer


def relevance(engines, by_id):
    rows = []
    for label in queries.LABELS:
        row = {"query": label.text, "op": label.op, "expect": label.expect, "results": {}}
        query = queries.Query("label", label.text, op=label.op)
        for engine in engines:
            if label.op == "suggest":
                completions = engine.suggest(query)
                top = completions[0] if completions else None
                row["results"][engine.name] = {"top": top, "ok": bool(top and label.check(top))}
            else:
                result = engine.search(query)
                top = by_id.get(result.ids[0]) if result.ids else None
                row["results"][engine.name] = {"top": top["name"] if top else None,
                                               "ok": bool(top and label.check(top))}
        rows.append(row)
    return rows


def profile(engine, measured, path, log):
    """Replay the measured queries under cProfile (an unmeasured pass: only where the time goes)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for query in measured:
        run_query(engine, query)
    profiler.disable()
    profiler.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    log(out.getvalue())


def benchmark(args, log):
    report = {
        "benchmark": "search",
        "version": 1,
        "params": {"products": args.products, "queries": args.queries, "seed": args.seed,
                   "warmup": queries.WARMUP},
        "machine": common.machine(),
        "revision": common.revision(["marketplace/search"], "engine_modified"),
    }
    started = time.perf_counter()
    products = corpus.generate(args.products, args.seed)
    by_id = {p["id"]: p for p in products}
    report["corpus"] = {"seconds": round(time.perf_counter() - started, 2), "products": len(products),
                        "cooperatives": len({p["cooperative_id"] for p in products})}
    log(f"corpus: {len(products)} products in {report['corpus']['seconds']} s")
    measured, warmup = queries.build(args.queries, args.seed, corpus.vocabulary(products))
    kinds = {}
    for query in measured:
        kinds[query.kind] = kinds.get(query.kind, 0) + 1
    report["queries"] = {"count": len(measured), "distinct": len({q.key for q in measured}),
                         "warmup": len(warmup), "by_kind": kinds,
                         "search": sum(q.op == "search" for q in measured),
                         "suggest": sum(q.op == "suggest" for q in measured),
                         "with_filters": sum(bool(q.filters) for q in measured),
                         "list": [q.as_dict() for q in measured]}

    engines, built = [], {}
    keep_index = Path(args.keep_index) if args.keep_index else None
    index_dir = keep_index or Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        if not args.skip_engine:
            engines.append(MarketplaceEngine(index_dir))
        if not args.skip_pg:
            engines.append(peers.PostgresPeer(args.pg_url))
        if not args.skip_fts5:
            engines.append(peers.Fts5Peer())
        if not engines:
            raise SystemExit("nothing to measure: every engine was skipped")
        for engine in engines:
            gc.collect()
            log(f"{engine.name}: building ...")
            seconds = engine.build(products)
            built[engine.name] = round(seconds, 3)
            log(f"{engine.name}: built in {built[engine.name]} s")

        for engine in engines:
            for query in warmup:
                run_query(engine, query)

        timings = {e.name: [] for e in engines}
        per_kind = {e.name: {} for e in engines}
        per_op = {e.name: {"search": [], "suggest": []} for e in engines}
        zero = {e.name: 0 for e in engines}
        # The benchmark holds the whole corpus (about a million Python objects) that a web worker
        # would not: unfrozen, a full collection inside some engine's timed call would walk them all.
        # Servers do the same after loading (gc.freeze).
        gc.collect()
        gc.freeze()
        log(f"measuring {len(measured)} queries on {len(engines)} engines ...")
        for i, query in enumerate(measured):
            # Rotate the order so no engine always runs first (cache warmth, CPU frequency, noise).
            for engine in engines[i % len(engines):] + engines[:i % len(engines)]:
                ns, answer = run_query(engine, query)
                timings[engine.name].append(ns)
                per_kind[engine.name].setdefault(query.kind, []).append(ns)
                per_op[engine.name][query.op].append(ns)
                if query.op == "search" and answer.total == 0:
                    zero[engine.name] += 1
        rss_after_queries = current_rss_mb()
        report["relevance"] = relevance(engines, by_id)
        if args.profile and engines[0].name == ENGINE_NAME:
            profile(engines[0], measured, args.profile, log)

        report["engines"] = {}
        for engine in engines:
            report["engines"][engine.name] = {
                "version": engine.version,
                "notes": engine.notes,
                "build_seconds": built[engine.name],
                "latency_ms": stats(timings[engine.name]),
                "by_op": {op: stats(values) for op, values in per_op[engine.name].items()},
                "by_kind": {kind: stats(values) for kind, values in sorted(per_kind[engine.name].items())},
                "zero_result_searches": zero[engine.name],
                "relevance_ok": sum(row["results"][engine.name]["ok"] for row in report["relevance"]),
                **getattr(engine, "info", {}),
            }
    finally:
        for engine in engines:
            engine.close()
        if not keep_index:
            shutil.rmtree(index_dir, ignore_errors=True)

    names = list(report["engines"])
    report["relevance_total"] = len(queries.LABELS)
    report["ratios"] = {}
    if ENGINE_NAME in report["engines"]:
        mine = report["engines"][ENGINE_NAME]
        for peer in names:
            if peer != ENGINE_NAME:
                theirs = report["engines"][peer]["latency_ms"]["p95"]
                report["ratios"][f"p95_{ENGINE_NAME}_over_{peer}"] = round(mine["latency_ms"]["p95"] / theirs, 2)
        report["targets"] = {
            "products": TARGET_PRODUCTS, "p95_ms": TARGET_P95_MS, "rebuild_seconds": TARGET_REBUILD_S,
            "applies": args.products == TARGET_PRODUCTS,
            "p95_met": mine["latency_ms"]["p95"] <= TARGET_P95_MS,
            "rebuild_met": mine["build_seconds"] < TARGET_REBUILD_S,
        }
    report["machine"]["load_average_end"] = common.load_average()
    report["peak_rss_mb"] = peak_rss_mb()  # the engine's full build sets it (its writer's memory budget)
    report["rss_after_queries_mb"] = rss_after_queries
    return report


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


def render(report):
    """The readable table printed without --json."""
    p, m, q = report["params"], report["machine"], report["queries"]
    lines = [
        f"Search benchmark: {p['products']:,} products, {q['count']} measured queries "
        f"({q['search']} searches with facets, {q['suggest']} prefix completions, {q['with_filters']} with filters;"
        f" all distinct), {q['warmup']} warm-up, seed {p['seed']}",
        f"Machine: {m['cpus']} CPUs, load average {m['load_average_start']} at start, {m['load_average_end']} at end;"
        f" Python {m['python']}",
        "",
        f"{'engine':<13} {'version':<10} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'mean ms':>8}"
        f" {'zero-result':>12} {'relevance':>10}",
    ]
    for name, e in report["engines"].items():
        lat = e["latency_ms"]
        lines.append(f"{name:<13} {str(e['version'])[:10]:<10} {e['build_seconds']:>8.2f} {_ms(lat['p50']):>8}"
                     f" {_ms(lat['p95']):>8} {_ms(lat['max']):>8} {_ms(lat['mean']):>8}"
                     f" {e['zero_result_searches']:>12} {e['relevance_ok']:>5}/{report['relevance_total']}")
    for name, ratio in report["ratios"].items():
        lines.append(f"ratio {name}: {ratio:.2f}x")
    if "targets" in report:
        t, mine = report["targets"], report["engines"][ENGINE_NAME]
        scope = "" if t["applies"] else f" (targets are for {t['products']:,} products)"
        lines.append(f"targets{scope}: p95 <= {t['p95_ms']:.0f} ms: {'met' if t['p95_met'] else 'MISSED'}"
                     f" ({_ms(mine['latency_ms']['p95'])} ms); full rebuild < {t['rebuild_seconds']:.0f} s:"
                     f" {'met' if t['rebuild_met'] else 'MISSED'} ({mine['build_seconds']:.1f} s)")
    names = list(report["engines"])
    lines += ["", "p50 / p95 ms by kind of query"]
    lines.append(f"{'kind':<12} {'n':>4} " + " ".join(f"{n:>20}" for n in names))
    for kind in queries.KINDS:
        cells = []
        for name in names:
            s = report["engines"][name]["by_kind"].get(kind)
            cells.append(f"{_ms(s['p50']) + ' / ' + _ms(s['p95']):>20}" if s else f"{'-':>20}")
        lines.append(f"{kind:<12} {q['by_kind'].get(kind, 0):>4} " + " ".join(cells))
    lines += ["", "Relevance: is the top result (or first completion) right?"]
    lines.append(f"{'query':<24} {'expected':<46} " + " ".join(f"{n:>12}" for n in names))
    for row in report["relevance"]:
        cells = " ".join(f"{'yes' if row['results'][n]['ok'] else 'no':>12}" for n in names)
        lines.append(f"{row['query']:<24} {row['expect'][:46]:<46} {cells}")
    for name, e in report["engines"].items():
        for note in e["notes"]:
            lines.append(f"note ({name}): {note}")
    lines.append(f"corpus generated in {report['corpus']['seconds']} s; RSS of this process: peak"
                 f" {report['peak_rss_mb']} MB, {report['rss_after_queries_mb']} MB after the queries")
    return "\n".join(lines)


def render_markdown(report):
    """The results as Markdown tables, for docs/benchmarks.md."""
    p, m, q = report["params"], report["machine"], report["queries"]
    names = list(report["engines"])
    lines = [
        f"{p['products']:,} products, {q['count']} distinct measured queries ({q['search']} searches with facets,"
        f" {q['suggest']} prefix completions), {q['warmup']} warm-up, seed {p['seed']}; load average"
        f" {m['load_average_start'][0]} at start, {m['load_average_end'][0]} at end; RSS of the benchmark"
        f" process: peak {report['peak_rss_mb']:.0f} MB, {report['rss_after_queries_mb']} MB after the queries; commit {(report['revision'] or {}).get('commit', '?')}"
        f"{' (engine modified)' if (report['revision'] or {}).get('engine_modified') else ''}.",
        "",
        "| engine | build s | p50 ms | p95 ms | max ms | mean ms | searches with no result | relevance |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in report["engines"].items():
        lat = e["latency_ms"]
        lines.append(f"| {name} ({e['version']}) | {e['build_seconds']:.1f} | {_ms(lat['p50'])} | {_ms(lat['p95'])}"
                     f" | {_ms(lat['max'])} | {_ms(lat['mean'])} | {e['zero_result_searches']} of {q['search']}"
                     f" | {e['relevance_ok']}/{report['relevance_total']} |")
    if report["ratios"]:
        lines += ["", "p95 ratios: " + "; ".join(f"{name.removeprefix('p95_').replace('_over_', ' / ')} ="
                                                 f" {ratio:.2f}" for name, ratio in report["ratios"].items())]
    if "targets" in report:
        t, mine = report["targets"], report["engines"][ENGINE_NAME]
        if t["applies"]:
            lines.append(f"Targets: p95 ≤ {t['p95_ms']:.0f} ms: {'met' if t['p95_met'] else '**missed**'}"
                         f" ({_ms(mine['latency_ms']['p95'])} ms); full rebuild < {t['rebuild_seconds']:.0f} s:"
                         f" {'met' if t['rebuild_met'] else '**missed**'} ({mine['build_seconds']:.1f} s).")
        else:
            lines.append(f"(The targets apply at {t['products']:,} products.)")
    lines += ["", "| kind | n | " + " | ".join(f"{n} p50 / p95" for n in names) + " |",
              "|---|---:|" + "---:|" * len(names)]
    for kind in queries.KINDS:
        cells = []
        for name in names:
            s = report["engines"][name]["by_kind"].get(kind)
            cells.append(f"{_ms(s['p50'])} / {_ms(s['p95'])}" if s else "-")
        lines.append(f"| {kind} | {q['by_kind'].get(kind, 0)} | " + " | ".join(cells) + " |")
    lines += ["", "| query | right answer | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for row in report["relevance"]:
        cells = " | ".join("yes" if row["results"][n]["ok"] else f"no ({row['results'][n]['top'] or 'nothing'})"
                           for n in names)
        lines.append(f"| `{row['query']}` | {row['expect']} | {cells} |")
    return "\n".join(lines)


def main(argv=None):
    return common.main(argv, parse_args, benchmark, render, render_markdown,
                       unavailable=(peers.PeerUnavailable, EngineUnavailable), name="search_bench")


if __name__ == "__main__":
    sys.exit(main())
