#!/usr/bin/env python
"""Orders benchmark (issue 10): concurrent buyers place orders against gunicorn with 4 workers.

    .venv/bin/python bench/orders_bench.py [--users 20] [--seconds 10] [--warmup 2] [--workers 4]
                                           [--pg-url URL | --sqlite] [--service] [--products 12]
                                           [--think 0] [--seed 2026] [--json | --markdown]

One run:
1. builds the data in a PostgreSQL schema of its own (or a SQLite file with --sqlite), tables from the
   models: three verified cooperatives with PRODUCTS products (capacity per month, or stock on hand every
   fourth; every third product scarce, 60 units a period, so that capacity runs out during the run and
   checkouts are refused while others buy), one verified enterprise per virtual user with an owner and an
   API token;
2. starts gunicorn as `make serve` does (gunicorn.conf.py, sync workers; bench/load_app.py, which adds the
   X-SQL-Queries header) with WORKERS workers;
3. drives it with U virtual users (threads; by default without think time: each sends its next checkout as
   soon as the last one is answered) for the warm-up, then S measured seconds: `POST /api/v1/orders` with a bearer token,
   1 to 3 lines of 1 to 5 units, delivery to Lạng Sơn 3 to 40 days ahead (several months, so several
   capacity periods), all seeded;
   with --service, the same checkouts call `orders.services.place_orders` in WORKERS forked processes
   (threads inside, one app each, an app context per checkout), for a branch without the orders API;
4. compares, afterwards, what the orders hold per product and capacity period with the capacity (an
   oversell is a period holding more than the capacity: there must be none), and the CapacityUsage rows
   with the orders' lines;
5. reports p50/p95/max of placing an order (201) and of a refusal (409 insufficient_capacity), orders and
   checkouts per second, refusals, errors (anything else), SQL statements per checkout (HTTP only),
   oversells, against the target: p95 of a placement under 150 ms, no oversell, no error, for 20 users
   and 4 workers over HTTP on PostgreSQL.

Side effects (the cooperative's email) are delivered in-process after the commit, as without REDIS_URL.
Everything stays on 127.0.0.1; the schema (or file) is dropped afterwards. See docs/benchmarks.md.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, load  # noqa: E402
from bench.common import stats  # noqa: E402

TARGETS = {"users": 20, "workers": 4, "p95_ms": 150.0, "oversells": 0, "errors": 0}
COOPERATIVES = 3
SCARCE_UNITS = 60  # capacity of a scarce product per period (ample ones: 10**9)
PASSWORD = "mật khẩu thử đặt hàng của doanh nghiệp"
PATH = "/api/v1/orders"


class OrdersApiMissing(RuntimeError):
    """The server does not serve POST /api/v1/orders (run with --service)."""


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20, help="concurrent buyers (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured checkouts first (default 2 s)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a buyer waits after each answer before the next checkout (default 0)")
    parser.add_argument("--workers", type=int, default=4,
                        help="gunicorn workers, or processes with --service (default 4)")
    parser.add_argument("--products", type=int, default=12, help="products ordered from (default 12)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the checkouts (default 2026)")
    parser.add_argument("--service", action="store_true",
                        help="call orders.services.place_orders in worker processes instead of HTTP")
    parser.add_argument("--redis", metavar="URL", nargs="?", const=DEFAULT_REDIS_URL,
                        help="as production runs: side effects go through RQ on this Redis (a queue of the run's "
                             f"own; default {DEFAULT_REDIS_URL}) and one `flask jobs worker` works it beside "
                             "gunicorn, instead of being delivered in the web process after each commit")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL") or load.DEFAULT_PG_URL,
                          help="PostgreSQL server database to work in (env BENCH_PG_URL); a schema of its own "
                               "is created there and dropped afterwards")
    database.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document")
    output.add_argument("--markdown", action="store_true", help="print the Markdown table (docs/benchmarks.md)")
    args = parser.parse_args(argv)
    for name in ("users", "workers", "products"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.redis and args.service:
        parser.error("--redis applies to the HTTP run only")
    if args.seconds <= 0 or args.warmup < 0 or args.think < 0:
        parser.error("--seconds must be positive, --warmup and --think not negative")
    return args


# ---------------------------------------------------------------- the data

def store_for(args):
    """load.py's Store (a schema `bench_orders_<random>`, or a SQLite file) in a temporary state folder."""
    return load.Store(argparse.Namespace(sqlite=args.sqlite, keep=False, schema=f"bench_orders_{secrets.token_hex(4)}",
                                         state_dir=None, pg_url=args.pg_url))


def seed(app, args):
    """Create the tables, the cooperatives' products and the buyers (one transaction); an empty search
    index for /healthz. Returns {"products": [(id, capacity)], "buyers": [(user id, token secret)]}."""
    from marketplace.accounts import passwords
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import (
        CooperativeType,
        MemberRole,
        OrganisationKind,
        User,
    )
    from marketplace.catalog.models import CapacityPeriod, Category, Product, ProductStatus, Unit
    from marketplace.extensions import db
    from marketplace.search import sync
    from marketplace.sqltypes import utcnow

    organisation = common.verified_organisation

    with app.app_context():
        db.create_all()
        now = utcnow()
        cooperatives = [organisation(OrganisationKind.COOPERATIVE, n, f"HTX Thử đặt hàng {n}",
                                     cooperative_type=CooperativeType.HOP_TAC_XA, member_count=12, founded_year=2015)
                        for n in range(1, COOPERATIVES + 1)]
        products = []
        for n in range(args.products):
            period = CapacityPeriod.STOCK if n % 4 == 3 else CapacityPeriod.MONTH
            products.append(Product(
                cooperative=cooperatives[n % COOPERATIVES], name=f"Sản phẩm đặt hàng {n + 1}",
                slug=f"san-pham-dat-hang-{n + 1}", description="Sản phẩm của phép đo đặt hàng.",
                category=Category.FRESH_PRODUCE, unit=Unit.KG, province_code=20, commune_code=6040,
                base_price_vnd=100_000 + 5_000 * n, min_order_qty=1, order_increment=1,
                capacity_qty=SCARCE_UNITS if n % 3 == 0 else 10**9, capacity_period=period, lead_time_days=2,
                status=ProductStatus.PUBLISHED, published_at=now))
        db.session.add_all(products)
        password_hash = passwords.hash_password(PASSWORD)
        users = []
        for n in range(1, args.users + 1):
            org = organisation(OrganisationKind.ENTERPRISE, 100 + n, f"Công ty Thử đặt hàng {n}")
            users.append(User(email=f"buyer{n}@bench.example", full_name=f"Người mua {n}",
                              password_hash=password_hash, organisation=org, role=MemberRole.OWNER))
        db.session.add_all(users)
        db.session.flush()
        secrets_ = [accounts.create_api_token(user, "đo đặt hàng")[1] for user in users]
        db.session.commit()
        data = {"products": [(p.id, p.capacity_qty) for p in products],
                "buyers": [(u.id, s) for u, s in zip(users, secrets_)]}
        sync.rebuild(app)
        db.session.remove()
        db.engine.dispose()
    return data


def checkouts(number, product_ids, seed_value):
    """The endless, seeded checkouts of buyer `number`: request bodies as the API takes them."""
    rng = random.Random(f"orders-{seed_value}-{number}")
    today = date.today()
    while True:
        chosen = rng.sample(product_ids, min(rng.choice((1, 1, 2, 3)), len(product_ids)))
        yield {
            "lines": [{"product_id": pid, "quantity": rng.randint(1, 5)} for pid in chosen],
            "delivery": {"province_code": 20, "commune_code": 6040, "street": f"Số {rng.randint(1, 200)} đường Bà Triệu",
                         "requested_date": (today + timedelta(days=rng.randint(3, 40))).isoformat()},
            "po_number": f"PO-{number}-{rng.randint(1, 10**6)}",
        }


# ---------------------------------------------------------------- the buyers

def run_buyer(send, bodies, think, start_at, measure_at, end_at, samples):
    """One buyer from start_at to end_at, waiting `think` seconds after each answer. A sample: (measured,
    ended at (monotonic), latency ns, outcome, orders, SQL statements or None, error text or None)."""
    time.sleep(max(0.0, start_at - time.monotonic()))  # every buyer starts at once
    while True:
        started = time.monotonic()
        if started >= end_at:
            return
        begin = time.perf_counter_ns()
        outcome, orders, sql, error = send(next(bodies))
        samples.append((started >= measure_at, time.monotonic(), time.perf_counter_ns() - begin,
                        outcome, orders, sql, error))
        if think:
            time.sleep(think)


def request_headers(secret):
    """What a buyer's ERP sends with a checkout, behind the proxy (bench/checkout_profile.py sends the same)."""
    return {"Host": "cho-htx.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "10.20.0.1",
            "Authorization": f"Bearer {secret}", "Content-Type": "application/json",
            "Accept": "application/json", "User-Agent": "cho-htx-bench/1"}


def http_sender(port, secret):
    headers = request_headers(secret)

    def send(body):
        try:
            status, (response, data) = load.one_request(port, "POST", PATH, headers, json.dumps(body).encode())
        except (OSError, http.client.HTTPException) as problem:
            return "error", 0, None, f"{type(problem).__name__}: {problem}"
        sql = response.getheader("X-SQL-Queries")
        sql = int(sql) if sql else None
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if status == 201 and isinstance(answer, dict):
            return "placed", len(answer.get("orders") or ()), sql, None
        code = (answer or {}).get("error", {}).get("code") if isinstance(answer, dict) else None
        if status == 409 and code == "insufficient_capacity":
            return "refused", 0, sql, None
        return "error", 0, sql, f"HTTP {status} {code or ''}".strip()

    return send


def _start_job_worker(env, store):
    """One `flask jobs worker` on the run's own queue, as production runs beside gunicorn (docs/deploy.md)."""
    out = open(store.state / "jobs-worker.log", "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker"], cwd=load.ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _jobs_waiting(env):
    """Jobs still queued when the buyers stop: how far the worker lags behind the web processes."""
    import redis

    return redis.Redis.from_url(env["REDIS_URL"]).llen(f"rq:queue:{env['JOBS_QUEUE']}")


def run_http(args, env, store, data, log):
    """gunicorn with WORKERS workers; the buyers are threads of this process. Returns (samples, the end of the
    measured window, server info). Raises OrdersApiMissing when the server has no POST /api/v1/orders."""
    server = load.Server(env, args.workers, store.state / "gunicorn.log")
    server.start()
    log(f"gunicorn with {args.workers} workers on 127.0.0.1:{server.port}")
    worker = _start_job_worker(env, store) if env.get("REDIS_URL") else None
    try:
        # An empty body is refused (422) by the route, and creates nothing; without the route: 404 or 405.
        status, _answer = load.one_request(server.port, "POST", PATH, {
            "Host": "cho-htx.example", "X-Forwarded-Proto": "https", "Content-Type": "application/json",
            "Authorization": f"Bearer {data['buyers'][0][1]}"}, b"{}")
        if status in (404, 405):
            raise OrdersApiMissing(f"the server answers {status} to POST {PATH} (no orders API on this branch):"
                                   " run with --service")
        product_ids = [pid for pid, _capacity in data["products"]]
        samples, threads = [], []
        start_at = time.monotonic() + 0.3
        measure_at = start_at + args.warmup
        end_at = measure_at + args.seconds
        for number, (_user_id, secret) in enumerate(data["buyers"]):
            mine = []
            samples.append(mine)
            threads.append(threading.Thread(target=run_buyer, args=(
                http_sender(server.port, secret), checkouts(number, product_ids, args.seed), args.think, start_at,
                measure_at, end_at, mine)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if server.process.poll() is not None:
            raise RuntimeError("gunicorn died during the run:\n" + server.log_tail())
        info = {"workers": args.workers, "worker_boots": server.workers(), "worker_rss_mb": server.worker_rss_mb()}
        if worker is not None:
            info["jobs_waiting_at_end"] = _jobs_waiting(env)
    finally:
        server.stop()
        if worker is not None:
            load.stop_process(worker)
    return [s for mine in samples for s in mine], end_at, info


def service_process(config, buyers, product_ids, args, ready, window, results):
    """A worker process of --service: its own app; one thread per buyer, each checkout in its own app context."""
    try:
        results.put(("samples", _service_buyers(config, buyers, product_ids, args, ready, window)))
    except BaseException as error:
        results.put(("failed", f"{type(error).__name__}: {error}"))
        raise


def _service_buyers(config, buyers, product_ids, args, ready, window):
    from marketplace import create_app
    from marketplace.accounts.models import User
    from marketplace.extensions import db
    from marketplace.orders import services

    app = create_app(config)
    ready.wait(timeout=APP_START_TIMEOUT)  # every process has built its app: the parent sets the window
    ready.wait(timeout=APP_START_TIMEOUT)
    start_at, measure_at, end_at = window[:]

    def sender(user_id):
        def send(body):
            with app.app_context():
                try:
                    actor = db.session.get(User, user_id)
                    orders = services.place_orders(actor, services.OrderRequest.from_mapping(body))
                    return "placed", len(orders), None, None
                except services.InsufficientCapacity:
                    return "refused", 0, None, None
                except Exception as error:  # noqa: BLE001 - counted and shown, as a 500 would be
                    return "error", 0, None, f"{type(error).__name__}: {str(error)[:200]}"
                finally:
                    db.session.remove()
        return send

    samples, threads = [], []
    for number, user_id in buyers:
        mine = []
        samples.append(mine)
        threads.append(threading.Thread(target=run_buyer, args=(
            sender(user_id), checkouts(number, product_ids, args.seed), args.think, start_at, measure_at, end_at,
            mine)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        db.engine.dispose()
    return [s for mine in samples for s in mine]


APP_START_TIMEOUT = 120  # seconds a --service process may take to build its app


def run_service(args, config, data):
    """WORKERS forked processes sharing the buyers. Returns (samples, the end of the measured window, info)."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    product_ids = [pid for pid, _capacity in data["products"]]
    buyers = [(number, user_id) for number, (user_id, _secret) in enumerate(data["buyers"])]
    shares = [buyers[n::args.workers] for n in range(args.workers)]
    shares = [share for share in shares if share]
    # The window opens once every process has built its app (however long that takes on a busy machine).
    ready, window = context.Barrier(len(shares) + 1), context.Array("d", 3)
    processes = [context.Process(target=service_process, daemon=True, args=(
        config, share, product_ids, args, ready, window, results)) for share in shares]
    for process in processes:
        process.start()
    ready.wait(timeout=APP_START_TIMEOUT)
    start_at = time.monotonic() + 0.1
    measure_at = start_at + args.warmup
    end_at = measure_at + args.seconds
    window[:] = [start_at, measure_at, end_at]
    ready.wait(timeout=APP_START_TIMEOUT)
    gathered = [results.get(timeout=args.warmup + args.seconds + 120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    failures = [detail for kind, detail in gathered if kind == "failed"]
    if failures or any(process.exitcode != 0 for process in processes):
        raise RuntimeError(f"a worker process failed: {failures}")
    return [s for _kind, samples in gathered for s in samples], end_at, {"workers": len(processes)}


# ---------------------------------------------------------------- after the run

def capacity_check(app):
    """Per product and capacity period: what the orders holding capacity hold, against the capacity and
    the CapacityUsage row. Oversells must be none."""
    import sqlalchemy as sa

    from marketplace.catalog.models import Product
    from marketplace.extensions import db
    from marketplace.orders.models import HOLDING_CAPACITY, CapacityUsage, Order, OrderLine

    with app.app_context():
        held = db.session.execute(
            sa.select(OrderLine.product_id, OrderLine.capacity_key, sa.func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.status.in_(HOLDING_CAPACITY), OrderLine.capacity_key.is_not(None))
            .group_by(OrderLine.product_id, OrderLine.capacity_key)).all()
        capacity = dict(db.session.execute(sa.select(Product.id, Product.capacity_qty)).all())
        usage = {(row.product_id, row.period_key): row.reserved_qty
                 for row in db.session.scalars(sa.select(CapacityUsage))}
        orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
        db.session.remove()
        db.engine.dispose()
    oversold = [{"product_id": pid, "period": key, "ordered": int(qty), "capacity": capacity[pid]}
                for pid, key, qty in held if qty > capacity[pid]]
    mismatches = [{"product_id": pid, "period": key, "ordered": int(qty), "reserved": usage.get((pid, key))}
                  for pid, key, qty in held if usage.get((pid, key)) != qty]
    full = sum(1 for pid, key, qty in held if capacity[pid] - qty < 5)  # no room left for a 5-unit line
    return {"periods": len(held), "periods_full": full, "oversells": len(oversold), "oversold": oversold[:5],
            "usage_mismatches": len(mismatches), "mismatch_examples": mismatches[:5], "orders_in_database": orders}


def summarise(samples, seconds, end_at):
    """Only checkouts started in the measured window and answered inside it count (the last ones end after
    the others have stopped); the orders answered count them all, to compare with the database."""
    measured = [s for s in samples if s[0]]
    kept = [s for s in measured if s[1] <= end_at]
    by = {outcome: [s for s in kept if s[3] == outcome] for outcome in ("placed", "refused", "error")}
    sql = sorted(s[5] for s in kept if s[5] is not None)
    errors = [s[6] for s in by["error"]]
    orders = sum(s[4] for s in by["placed"])
    return {
        "checkouts": len(kept),
        "placed": stats([s[2] for s in by["placed"]], digits=1),
        "refused": stats([s[2] for s in by["refused"]], digits=1),
        "all": stats([s[2] for s in kept], digits=1),
        "orders": orders,
        "orders_per_second": round(orders / seconds, 1),
        "checkouts_per_second": round(len(kept) / seconds, 1),
        "placements_per_second": round(len(by["placed"]) / seconds, 1),
        "refusals": len(by["refused"]),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "sql_max": sql[-1] if sql else None,
        "sql_median": sql[len(sql) // 2] if sql else None,
        "warmup_checkouts": len(samples) - len(measured),
        "unfinished_at_the_end": len(measured) - len(kept),
        "orders_answered": sum(s[4] for s in samples if s[3] == "placed"),
    }


# ---------------------------------------------------------------- the whole run

def benchmark(args, log):
    report = {
        "benchmark": "orders", "version": 1,
        "params": {"mode": "service" if args.service else "http", "database": "sqlite" if args.sqlite else "postgresql",
                   "users": args.users, "seconds": args.seconds, "warmup": args.warmup, "think": args.think,
                   "workers": args.workers, "side_effects": "rq" if args.redis else "in-process",
                   "products": args.products, "seed": args.seed},
        "machine": common.machine(),
        "revision": common.revision(["marketplace", "templates"], "app_modified"),
        "targets": dict(TARGETS),
    }
    store = store_for(args)
    report["params"]["schema"] = store.schema
    try:
        store.create()
        app = load.loader_app(store)
        data = seed(app, args)
        report["data"] = {"cooperatives": COOPERATIVES, "products": len(data["products"]),
                          "scarce_products": sum(1 for _pid, c in data["products"] if c == SCARCE_UNITS),
                          "scarce_units": SCARCE_UNITS, "buyers": len(data["buyers"])}
        log(f"{report['data']} in {store.schema or store.url}")
        if args.service:
            config = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                      "SECRET_KEY": secrets.token_urlsafe(48), "PUBLIC_BASE_URL": "https://cho-htx.example",
                      "SEARCH_INDEX_DIR": str(store.index_dir), "UPLOAD_DIR": str(store.upload_dir),
                      "MAIL_BACKEND": "locmem", "LOG_LEVEL": "WARNING"}
            samples, end_at, report["server"] = run_service(args, config, data)
        else:
            extra = {"REDIS_URL": args.redis, "JOBS_QUEUE": f"bench-{store.schema or 'sqlite'}"} if args.redis else {}
            samples, end_at, report["server"] = run_http(args, load.server_environment(store, extra), store, data,
                                                         log)
        report["results"] = summarise(samples, args.seconds, end_at)
        report["check"] = capacity_check(app)
    finally:
        store.drop()
    report["machine"]["load_average_end"] = common.load_average()
    r, c = report["results"], report["check"]
    report["verdict"] = {
        "p95": r["placed"]["p95"] is not None and r["placed"]["p95"] < TARGETS["p95_ms"],
        "oversells": c["oversells"] == TARGETS["oversells"] and c["usage_mismatches"] == 0,
        "errors": r["errors"] == TARGETS["errors"],
        "applies": report["params"]["mode"] == "http" and report["params"]["database"] == "postgresql"
        and args.users == TARGETS["users"] and args.workers == TARGETS["workers"] and not args.think,
    }
    log(f"{r['checkouts']} checkouts, {r['orders']} orders, {r['refusals']} refused, {r['errors']} errors,"
        f" {c['oversells']} oversells")
    return report


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


def _how(p, server):
    how = (f"`place_orders` in {server['workers']} processes (--service)" if p["mode"] == "service"
           else f"`POST {PATH}`, gunicorn with {server['workers']} sync workers")
    think = f"{p['think']:g} s of think time" if p["think"] else "without think time"
    effects = ("side effects through RQ (one `flask jobs worker`, "
               f"{server.get('jobs_waiting_at_end', 0)} jobs still queued at the end)"
               if p.get("side_effects") == "rq" else "side effects delivered in-process after each commit")
    return (f"{p['users']} buyers {think}, {p['seconds']:g} s measured after {p['warmup']:g} s of"
            f" warm-up, {how}, {p['database']}, {effects}")


def render(report):
    p, m, r, c, v = report["params"], report["machine"], report["results"], report["check"], report["verdict"]
    lines = [
        f"Orders benchmark: {_how(p, report['server'])}",
        f"Machine: {m['cpus']} CPUs, load average {m['load_average_start']} at start, {m['load_average_end']} at end",
        f"Data: {report['data']}",
        "",
        f"{'':<10} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}",
    ]
    for name in ("placed", "refused", "all"):
        s = r[name]
        lines.append(f"{name:<10} {s['n']:>6} {_ms(s['p50']):>8} {_ms(s['p95']):>8} {_ms(s['max']):>8}")
    lines += [
        "",
        f"{r['orders_per_second']} orders/s ({r['checkouts_per_second']} checkouts/s, {r['placements_per_second']}"
        f" placed); {r['refusals']} refused for capacity; {r['errors']} errors {r['error_examples'] or ''}",
        f"SQL statements per checkout: median {r['sql_median']}, max {r['sql_max']}",
        f"Capacity: {c['periods']} product periods ordered, {c['periods_full']} full; oversells {c['oversells']}"
        f" {c['oversold'] or ''}; CapacityUsage disagreeing with the orders: {c['usage_mismatches']};"
        f" orders in the database {c['orders_in_database']} (answered {r['orders_answered']})",
        f"targets: p95 < {TARGETS['p95_ms']:.0f} ms {'met' if v['p95'] else 'MISSED'}; oversells"
        f" {'none' if v['oversells'] else 'FOUND'}; errors {'none' if v['errors'] else 'FOUND'}"
        + ("" if v["applies"] else " (the targets are for 20 users without think time, 4 workers, HTTP, PostgreSQL)"),
    ]
    return "\n".join(lines)


def render_markdown(report):
    p, m, r, c, v = report["params"], report["machine"], report["results"], report["check"], report["verdict"]
    rev = report["revision"] or {}
    lines = [
        f"{_how(p, report['server'])}; {report['data']['products']} products of {report['data']['cooperatives']}"
        f" cooperatives ({report['data']['scarce_products']} scarce: {report['data']['scarce_units']} units per period);"
        f" load average {m['load_average_start'][0]} at start, {m['load_average_end'][0]} at end ({m['cpus']} CPUs);"
        f" commit {rev.get('commit', '?')}{' (application modified)' if rev.get('app_modified') else ''}.",
        "",
        "| checkouts | n | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (("placed", "placed (201)"), ("refused", "refused for capacity (409)"), ("all", "all")):
        s = r[name]
        lines.append(f"| {label} | {s['n']} | {_ms(s['p50'])} | {_ms(s['p95'])} | {_ms(s['max'])} |")
    lines += [
        "",
        f"{r['orders_per_second']} orders/s ({r['checkouts_per_second']} checkouts/s); {r['errors']} errors;"
        f" {c['oversells']} oversells in {c['periods']} product periods ({c['periods_full']} full);"
        f" CapacityUsage agrees with the orders: {'yes' if c['usage_mismatches'] == 0 else 'NO'}"
        + (f"; SQL statements per checkout: median {r['sql_median']}, max {r['sql_max']}" if r["sql_max"] else "")
        + f". Target p95 < {TARGETS['p95_ms']:.0f} ms: {'met' if v['p95'] else '**missed**'}"
        + ("." if v["applies"] else " (it applies over HTTP on PostgreSQL with 20 users without think time and 4"
                                  " workers)."),
    ]
    return "\n".join(lines)


def main(argv=None):
    return common.main(argv, parse_args, benchmark, render, render_markdown, unavailable=(OrdersApiMissing,),
                       name="orders_bench")


if __name__ == "__main__":
    sys.exit(main())
