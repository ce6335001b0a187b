#!/usr/bin/env python
"""In-process cost of one checkout (`POST /api/v1/orders`) as gunicorn's workers run it: no server, no network.

    .venv/bin/python bench/checkout_profile.py [--pg-url URL | --sqlite] [--requests 500] [--rounds 5]
                                               [--profile FILE] [--top 40]

Builds orders_bench.py's data (3 cooperatives, 12 products of which 4 scarce, 20 buyers with API tokens) in a
schema of its own, then calls the application as gunicorn does (the WSGI callable with ProxyFix, the request log,
JSON access lines at INFO written to /dev/null, the production profile's settings) with orders_bench.py's
seeded checkouts, buyer after buyer, one at a time. It reports per checkout, as the median of --rounds rounds:
the CPU time of this process (the whole WSGI request: hooks, token, limiter, service, outbox, answer), the CPU
time of the PostgreSQL backend serving it (from /proc), the SQL statements and the Python function calls
(cProfile, load-independent), and the answers (201 placed, 409 refused). Every run starts from the same data
and sends the same checkouts, so two commits compare like for like. With --profile, a cProfile of --requests
checkouts (timed by CPU time, so waits for PostgreSQL are left out) is written to FILE and its top
lines printed (tottime, then cumulative).
"""
import argparse
import cProfile
import gc
import io
import json
import logging
import os
import pstats
import secrets
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import load, orders_bench  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="measured checkouts (default 500)")
    parser.add_argument("--warmup", type=int, default=60, help="unmeasured checkouts first (default 60)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds the measured checkouts are split in")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of --requests checkouts to FILE")
    parser.add_argument("--top", type=int, default=40, help="lines of the profile printed")
    parser.add_argument("--seed", type=int, default=2026)
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL") or load.DEFAULT_PG_URL)
    database.add_argument("--sqlite", action="store_true")
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL statements of one checkout")
    return parser.parse_args(argv)


def production_app(store):
    """The app as load_app.py builds it under gunicorn (environment of load.server_environment), its log
    lines formatted as JSON and written to /dev/null."""
    from marketplace import logging_setup

    env = load.server_environment(store)
    for name in ("MARKETPLACE_ENV", "SECRET_KEY", "PUBLIC_BASE_URL", "DATABASE_URL", "SEARCH_INDEX_DIR",
                 "UPLOAD_DIR", "TRUST_PROXY_HOPS", "MAIL_BACKEND"):
        os.environ[name] = env[name]
    os.environ["DATABASE_URL"] = load._sqlalchemy_url(store.url)
    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "LOG_FORMAT", "LOG_LEVEL"):
        os.environ.pop(name, None)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115 (the handler keeps it)
    try:
        logging_setup.configure("json", "INFO")
    finally:
        sys.stderr = stderr
    import importlib

    return importlib.import_module("bench.load_app").app


def environs(data, seed):
    """Endless WSGI environ factories: the buyers' seeded checkouts, one buyer after the other."""
    from werkzeug.test import EnvironBuilder

    product_ids = [pid for pid, _capacity in data["products"]]
    bodies = [orders_bench.checkouts(number, product_ids, seed) for number in range(len(data["buyers"]))]
    number = 0
    while True:
        _user, secret = data["buyers"][number % len(bodies)]
        body = next(bodies[number % len(bodies)])
        builder = EnvironBuilder(path=orders_bench.PATH, method="POST", base_url="http://cho-htx.example",
                                 data=json.dumps(body).encode(), headers=orders_bench.request_headers(secret))
        yield builder.get_environ()
        number += 1


def call(app, environ):
    """One request through the WSGI callable: (status, SQL statements)."""
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split(" ", 1)[0])
        answer["sql"] = dict(headers).get("X-SQL-Queries")
        return lambda data: None

    body = app(environ, start_response)
    try:
        for _chunk in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return answer["status"], int(answer["sql"] or 0)


def backend_cpu(pids):
    """CPU seconds used so far by these PostgreSQL backends (from /proc; 0 where unreadable)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def backend_pids(app, store):
    if store.sqlite:
        return []
    from marketplace.extensions import db

    with app.app_context():
        return list(db.session.scalars(db.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND query NOT ILIKE '%pg_stat_activity%'")).all()) + [
            db.session.scalar(db.text("SELECT pg_backend_pid()"))]


def statements_of(app, environ):
    """(status, [SQL statements]) of one checkout."""
    import sqlalchemy as sa

    from marketplace.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []
    listener = lambda _c, _cursor, statement, *_rest: seen.append(" ".join(statement.split())[:160])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        status, _count = call(app, environ)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return status, seen


def run(args):
    store = load.Store(argparse.Namespace(sqlite=args.sqlite, keep=False, state_dir=None, pg_url=args.pg_url,
                                          schema=f"bench_checkout_{secrets.token_hex(4)}"))
    try:
        store.create()
        seeder = load.loader_app(store)
        data = orders_bench.seed(seeder, argparse.Namespace(products=12, users=20))
        app = production_app(store)
        requests = environs(data, args.seed)
        statuses = Counter()
        for _ in range(args.warmup):
            call(app, next(requests))
        gc.freeze()  # as gunicorn.conf.py's post_worker_init does in each worker
        pids = backend_pids(app, store)
        per_round = max(1, args.requests // args.rounds)
        cpu, pg, sql = [], [], []
        for _ in range(args.rounds):
            batch = [next(requests) for _ in range(per_round)]
            pg_start, start = backend_cpu(pids), time.process_time()
            for environ in batch:
                status, statements = call(app, environ)
                statuses[status] += 1
                sql.append(statements)
            cpu.append((time.process_time() - start) * 1000 / per_round)
            pg.append((backend_cpu(pids) - pg_start) * 1000 / per_round)
        shown = statements_of(app, next(requests)) if args.show_sql else None
        counting = [next(requests) for _ in range(50)]
        profile = cProfile.Profile()
        profile.enable()
        for environ in counting:
            call(app, environ)
        profile.disable()
        calls = pstats.Stats(profile).total_calls / len(counting)
        report = {"checkouts": per_round * args.rounds, "statuses": dict(sorted(statuses.items())),
                  "cpu_ms": round(statistics.median(cpu), 2), "cpu_ms_rounds": [round(x, 2) for x in cpu],
                  "postgres_ms": round(statistics.median(pg), 2), "sql_median": statistics.median(sql),
                  "sql_max": max(sql), "python_calls": round(calls), "load_average": os.getloadavg()}
        if shown:
            report["sql_of_one_checkout"] = shown
        if args.profile:
            profile = cProfile.Profile(time.process_time)  # CPU time: waits for PostgreSQL left out
            profile.enable()
            for _ in range(args.requests):
                call(app, next(requests))
            profile.disable()
            profile.dump_stats(args.profile)
            for key in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats(key).print_stats(args.top)
                report[f"profile_{key}"] = out.getvalue()
        return report
    finally:
        try:
            from marketplace.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        except Exception:  # noqa: BLE001, S110 - the app may not exist yet
            pass
        store.drop()


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if not k.startswith("profile_")}))
        return 0
    if "sql_of_one_checkout" in report:
        status, statements = report.pop("sql_of_one_checkout")
        print(f"SQL of one checkout ({status}):", *statements, sep="\n  ")
    for key in ("profile_tottime", "profile_cumulative"):
        if key in report:
            print(report.pop(key))
    print(f"{report['checkouts']} checkouts {report['statuses']}: CPU per checkout {report['cpu_ms']} ms"
          f" (rounds {report['cpu_ms_rounds']}), PostgreSQL backend {report['postgres_ms']} ms,"
          f" SQL median {report['sql_median']} max {report['sql_max']}, Python calls {report['python_calls']};"
          f" load average {[round(x, 2) for x in report['load_average']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
