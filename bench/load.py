#!/usr/bin/env python
"""Load benchmark (issue 8): the site under gunicorn, as `make serve` runs it, against N products.

    .venv/bin/python bench/load.py [--products 50000] [--users 20] [--seconds 10] [--workers 5]
                                   [--pg-url URL | --sqlite] [--schema NAME --keep] [--json | --markdown]
                                   [--client-processes 2] [--warmup 5] [--distinct-paths N] [--profile FILE]
                                   [--pages public,private] [--mous 2000] [--orders 50000]

One run:
1. builds the database: a schema of its own in PostgreSQL (or a SQLite file with --sqlite), migrated
   with `flask db upgrade`, filled with bench/corpus.py's products (bulk inserts: cooperatives,
   products, price tiers, certifications, OCOP certificates) and a buyer account per virtual user,
   then indexed with `flask search rebuild`; with --keep the schema and index are kept and reused;
   with `--pages private` (issue 14's logged-in list pages) also the alliance and a staff account per virtual
   user, a cooperative member account per virtual user (all members of one cooperative), more enterprises,
   pending organisations and OCOP certificates (the alliance's queues), conferences, and MOUS MoUs and
   ORDERS orders between 50 cooperatives and 50 enterprises (bench/alliance_bench.py's builder);
2. starts gunicorn with gunicorn.conf.py and WORKERS workers on 127.0.0.1 (bench/load_app.py: the
   real application plus an X-SQL-Queries header, a raised login limit and the trivial ceiling route);
3. drives it with U virtual users (threads in a few client processes, no think time: each sends its
   next request as soon as the last one is answered), for S seconds per phase: the ceiling
   (`/_bench/ping`), /healthz, then each page alone (home, catalogue, search, product page, login), then
   the realistic mix, then the ceiling again; with `--pages private`, each logged-in list page alone (a
   cooperative's products, orders and MoUs; the alliance's organisations and certificates queues, follow-up
   list and dashboard) and their mix: every virtual user logs in once as the cooperative member and once as
   alliance staff after the server starts, before any measured phase (no Argon2id in those phases), and
   each such answer must carry `Cache-Control: no-store` (else it counts as an error);
4. reports per page: throughput, p50/p95/max latency, SQL statements (from X-SQL-Queries), errors,
   and each page's throughput as a fraction of the ceiling's (the mean of its two measurements),
   against the targets: p95 < 100 ms at 20 users, at most 10 SQL statements, no error, each page
   at least 30 % of the ceiling (logged-in list pages: p95 < 150 ms, at least 15 %).

Requests look like a browser behind nginx: X-Forwarded-Proto https and X-Forwarded-For (one address
per user; the server runs with TRUST_PROXY_HOPS=1), Accept-Encoding gzip, the production profile.
Everything stays on 127.0.0.1; every loop ends at its phase's deadline. See docs/benchmarks.md.
"""
import argparse
import gzip
import http.client
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, corpus  # noqa: E402
from bench import queries as query_mix  # noqa: E402
from bench.common import free_port, percentile  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "mật khẩu thử tải của doanh nghiệp"
PUBLISHED_FROM = datetime(2025, 7, 1, tzinfo=UTC)
TARGETS = {"users": 20, "p95_ms": 100.0, "sql_queries": 10, "errors": 0, "ceiling_fraction": 0.30}
PAGES = ("home", "catalogue", "search", "product", "login_form", "login")
# Phases: (name, what each user does in a loop). "login" is two requests: the form, then the post.
PAGE_PHASES = ("home", "catalogue", "search", "product", "login")
# --cold-and-warm: the cached pages first measured cold (every request a miss: a parameter no page reads makes each
# URL new to the page cache, which renders and stores the page; the catalogue's province counts, kept per filter
# set, are not renewed by it), then warm.
COLD = {"home_cold": "home", "catalogue_cold": "catalogue", "search_cold": "search", "product_cold": "product"}
COLD_PAGES = tuple(COLD)
# A login costs a worker about 0.3 s of Argon2id (both cores): 5 % of the actions, 2 requests each.
MIX = (("catalogue", 0.3), ("search", 0.3), ("product", 0.35), ("login", 0.05))
# Issue 14's logged-in list pages (`--pages private`): page -> whose session asks for it.
PRIVATE = {"my_products": "cooperative", "my_orders": "cooperative", "my_agreements": "cooperative",
           "alliance_organisations": "alliance", "alliance_certificates": "alliance",
           "alliance_follow_up": "alliance", "alliance_dashboard": "alliance"}
PRIVATE_PAGES = tuple(PRIVATE)
PRIVATE_MIX = (("my_products", 0.2), ("my_orders", 0.25), ("my_agreements", 0.2), ("alliance_organisations", 0.1),
               ("alliance_certificates", 0.1), ("alliance_follow_up", 0.1), ("alliance_dashboard", 0.05))
PRIVATE_TARGETS = {"p95_ms": 150.0, "ceiling_fraction": 0.15}
MIXES = {"mix": MIX, "mix_private": PRIVATE_MIX}
GROUPS = ("public", "private")
PRIVATE_MOU_SELLERS = PRIVATE_MOU_BUYERS = 50  # as bench/alliance_bench.py
PENDING_ORGANISATIONS, PENDING_CERTIFICATES, CONFERENCES = 30, 40, 8
CEILING = "ceiling"
HEALTH = "healthz"
ALL_PAGES = COLD_PAGES + PAGES + PRIVATE_PAGES + (CEILING, HEALTH)
EXPECTED_STATUS = {"login": 302}
MARKER_TABLE = "bench_load_info"
REQUEST_TIMEOUT = 30.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=50000, help="corpus size (default 50000)")
    parser.add_argument("--seed", type=int, default=20261, help="seed of the corpus and of the request mix")
    parser.add_argument("--cheap-passwords", action="store_true",
                        help="the buyers' passwords hashed at Argon2id's smallest cost (smoke tests; not for figures)")
    parser.add_argument("--users", type=int, default=20, help="concurrent virtual users (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured phase (default 10)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured mixed traffic first (default 5 s)")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default as make serve: WORKERS or 2 x CPUs + 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker: 1 (default) sync workers, more gthread workers (gunicorn.conf.py)")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="processes the virtual users are spread over (threads inside; default 2)")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL") or DEFAULT_PG_URL,
                          help="PostgreSQL server database to work in (env BENCH_PG_URL); a schema of its own "
                               "is created there")
    database.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    database.add_argument("--demo", action="store_true",
                          help="the demo data of `make run` (flask seed-demo) in a SQLite file instead of the corpus; "
                               "logins with the demo buyers' accounts")
    parser.add_argument("--schema", help="PostgreSQL schema name (default bench_load_<random>, dropped afterwards)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the schema (or SQLite file) and the index in --state-dir, and reuse them next "
                             "time when they hold the same corpus")
    parser.add_argument("--state-dir", help="where the index, uploads and SQLite file live (default: temporary; "
                                            "with --keep: /tmp/chohtx-bench-load-<schema or sqlite>)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document")
    output.add_argument("--markdown", action="store_true", help="print Markdown tables (docs/benchmarks.md)")
    parser.add_argument("--distinct-paths", type=int, default=0, metavar="N",
                        help="the users draw from the first N paths of each page (default: all, 400 catalogue "
                             "views, 212 searches, up to 2,000 products): a small N measures the page cache warm")
    parser.add_argument("--cold-and-warm", action="store_true",
                        help="measure the cached pages cold (each request a miss) and then warm (after the warm-up, "
                             "users keep to --distinct-paths, default 10) in one run")
    parser.add_argument("--pages", default="public",
                        help="which pages: public (default; home, catalogue, search, product, login), private (issue 14's "
                             "logged-in list pages, see above) or public,private")
    parser.add_argument("--mous", type=int, default=2000, help="with --pages private: MoUs (default 2000)")
    parser.add_argument("--orders", type=int, default=50000, help="with --pages private: orders (default 50000)")
    parser.add_argument("--profile", metavar="FILE",
                        help="afterwards, render each page 30 times in this process under cProfile (not timed), "
                             "save the stats to FILE and print the top functions per page to stderr")
    args = parser.parse_args(argv)
    args.groups = tuple(group for group in GROUPS if group in args.pages.split(","))
    if not args.groups or set(args.pages.split(",")) - set(GROUPS):
        parser.error("--pages must be public, private or public,private")
    if args.cold_and_warm and not args.distinct_paths:
        args.distinct_paths = 10
    if args.mous < 1 or args.orders < 0:
        parser.error("--mous must be at least 1 and --orders not negative")
    for name in ("products", "users", "client_processes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be positive and --warmup not negative")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.schema and (args.sqlite or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.schema)):
        parser.error("--schema must be a plain lower-case PostgreSQL name (and needs PostgreSQL)")
    return args


# ---------------------------------------------------------------- the database and the index

class Store:
    """Where the benchmark's data lives: a PostgreSQL schema or a SQLite file, the index, the uploads."""

    def __init__(self, args):
        self.sqlite = args.sqlite or getattr(args, "demo", False)
        self.keep = args.keep
        if self.sqlite:
            self.schema = None
            default_state = "/tmp/chohtx-bench-load-sqlite"
        else:
            self.schema = args.schema or f"bench_load_{secrets.token_hex(4)}"
            default_state = f"/tmp/chohtx-bench-load-{self.schema}"
        if args.state_dir:
            self.state = Path(args.state_dir)
        elif self.keep:
            self.state = Path(default_state)
        else:
            self.state = Path(tempfile.mkdtemp(prefix="bench-load-"))
        self.state.mkdir(parents=True, exist_ok=True)
        self.index_dir = self.state / "search_index"
        self.upload_dir = self.state / "uploads"
        if self.sqlite:
            self.url = f"sqlite:///{self.state / 'bench.sqlite3'}"
            self.admin_url = None
        else:
            self.admin_url = _libpq_url(args.pg_url)
            options = urllib.parse.quote(f"-csearch_path={self.schema}")
            self.url = f"{self.admin_url}{'&' if '?' in self.admin_url else '?'}options={options}"

    def admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True)

    def create(self):
        if self.sqlite:
            path = self.url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):  # a WAL left by a crash must not meet a new file
                Path(path + suffix).unlink(missing_ok=True)
        else:
            with self.admin() as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
                connection.execute(f'CREATE SCHEMA "{self.schema}"')
        shutil.rmtree(self.index_dir, ignore_errors=True)

    def drop(self):
        if not self.sqlite:
            with self.admin() as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        shutil.rmtree(self.state, ignore_errors=True)


def _libpq_url(url):
    """psycopg/libpq take postgresql://; SQLAlchemy's postgresql+psycopg:// is accepted too."""
    return re.sub(r"^postgres(ql)?(\+[a-z0-9]+)?://", "postgresql://", url)


def server_environment(store, extra=None):
    """The environment of every process of the benchmarked host (flask commands, gunicorn)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "GUNICORN_"))}
    env.update({
        "MARKETPLACE_ENV": "production",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(48),
        "PUBLIC_BASE_URL": "https://cho-htx.example",
        "DATABASE_URL": store.url,
        "SEARCH_INDEX_DIR": str(store.index_dir),
        "UPLOAD_DIR": str(store.upload_dir),
        "TRUST_PROXY_HOPS": "1",
        "MAIL_BACKEND": "console",
        "FLASK_APP": "wsgi",
        "PYTHONUNBUFFERED": "1",
    })
    for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "LOG_FORMAT", "LOG_LEVEL"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def flask(env, *arguments, log):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", *arguments], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"`flask {' '.join(arguments)}` failed:\n{done.stdout}\n{done.stderr}")
    seconds = time.perf_counter() - started
    log(f"flask {' '.join(arguments)}: {seconds:.1f} s")
    return seconds


def corpus_key(args):
    key = f"products={args.products} seed={args.seed} users={max(args.users, TARGETS['users'])}"
    return key + (f" mous={args.mous} orders={args.orders}" if "private" in args.groups else "")


def reusable(store, args, app):
    """True when the kept store already holds this corpus and its index."""
    from marketplace.extensions import db
    from marketplace.search import index

    if not index.exists(store.index_dir):
        return False
    import sqlalchemy as sa

    with app.app_context():
        try:
            key = db.session.execute(sa.text(f"SELECT corpus FROM {MARKER_TABLE}")).scalar()
        except sa.exc.DatabaseError:
            return False
        finally:
            db.session.remove()
    return key == corpus_key(args)


def loader_app(store):
    from bench.common import password_settings
    from marketplace import create_app

    return create_app({**password_settings(),
        "TESTING": False, "SECRET_KEY": secrets.token_urlsafe(48), "PUBLIC_BASE_URL": "https://cho-htx.example",
        "SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(store.url), "SEARCH_INDEX_DIR": str(store.index_dir),
        "UPLOAD_DIR": str(store.upload_dir), "SEARCH_SYNC": False, "LOG_LEVEL": "WARNING",
    })


def _sqlalchemy_url(url):
    return url if url.startswith("sqlite") else url.replace("postgresql://", "postgresql+psycopg://", 1)


def tax_code(serial):
    """A checksum-valid 10-digit tax code (made up), distinct per serial."""
    from stdnum.vn import mst

    number = 400000000 + serial * 17
    while True:
        digits = f"{number:09d}"
        check = mst.calc_check_digit(digits)
        if len(check) == 1:
            return digits + check
        number += 1


def rows_for(products, users, password_hash, today):
    """{table name: rows} for the corpus: cooperatives, one buyer enterprise with `users` accounts,
    products with their tiers, certifications and OCOP certificates (as bench/engine.py indexes them)."""
    from marketplace.text import slugify

    rng = random.Random(f"load-{len(products)}")
    now = datetime.now(UTC)
    cooperatives = {}
    for p in products:
        cooperatives.setdefault(p["cooperative_id"], p)
    organisations = [{
        "id": cid, "kind": "cooperative", "cooperative_type": p["cooperative_type"], "legal_name": p["cooperative_name"],
        "tax_code": tax_code(cid), "province_code": p["province_code"], "commune_code": None,
        "street_address": "", "phone": "0205381234", "email": f"htx{cid}@bench.example", "representative": "Nguyễn Văn A",
        "sector": "agriculture", "member_count": 7 + cid % 40, "founded_year": 1995 + cid % 30,
        "classification": None, "status": "verified", "status_reason": "", "status_changed_at": now, "is_demo": False,
        "created_at": now, "updated_at": now,
    } for cid, p in sorted(cooperatives.items())]
    buyer_id = max(cooperatives) + 1
    organisations.append({**organisations[0], "id": buyer_id, "kind": "enterprise", "cooperative_type": None,
                          "legal_name": "Công ty TNHH Thử tải", "tax_code": tax_code(buyer_id),
                          "email": "buyer@bench.example", "member_count": None, "founded_year": None})
    accounts = [{"id": n, "email": f"buyer{n}@bench.example", "full_name": f"Người mua {n}",
                 "password_hash": password_hash, "organisation_id": buyer_id, "role": "member", "is_active": True,
                 "locale": None, "created_at": now, "last_login_at": None, "password_changed_at": None}
                for n in range(1, users + 1)]
    items, tiers, certifications, certificates, slugs = [], [], [], [], {}
    for p in products:
        base = slugify(p["name"])
        slug, counter = base, 2
        taken = slugs.setdefault(p["cooperative_id"], set())
        while slug in taken:
            slug, counter = f"{base}-{counter}", counter + 1
        taken.add(slug)
        minimum = rng.choice((1, 5, 10, 20, 50))
        published = PUBLISHED_FROM + timedelta(minutes=7 * p["id"])
        items.append({
            "id": p["id"], "cooperative_id": p["cooperative_id"], "name": p["name"], "name_en": p["name_en"],
            "slug": slug, "description": p["description"], "category": p["category"], "unit": p["unit"],
            "province_code": p["province_code"], "commune_code": None, "base_price_vnd": p["base_price_vnd"],
            "min_order_qty": minimum, "order_increment": minimum, "capacity_qty": rng.choice((None, 500, 2000, 10000)),
            "capacity_period": rng.choice(("month", "season", "year", "stock")), "lead_time_days": rng.randint(1, 14),
            "harvest_month_mask": rng.randint(0, 4095), "status": "published", "created_at": published,
            "updated_at": published, "published_at": published,
        })
        price = p["base_price_vnd"]
        for step in range(rng.choice((0, 0, 1, 2, 3))):
            price = max(1000, price * 9 // 10 // 1000 * 1000)
            if price >= (tiers[-1]["unit_price_vnd"] if step else p["base_price_vnd"]):
                break
            tiers.append({"product_id": p["id"], "min_qty": minimum * 10 ** (step + 1), "unit_price_vnd": price})
        certifications += [{"product_id": p["id"], "code": code} for code in p["certifications"]]
        if p["stars"]:
            certificates.append(_certificate(p, p["stars"], today + timedelta(days=30 + p["id"] % 700), now))
            if p["id"] % 7 == 0:  # an expired, better rating that must not show
                certificates.append(_certificate(p, 5 if p["stars"] < 5 else 4,
                                                 today - timedelta(days=1 + p["id"] % 300), now))
    return {"organisation": organisations, "user_account": accounts, "product": items, "price_tier": tiers,
            "product_certification": certifications, "ocop_certificate": certificates}


def _certificate(p, stars, expires_on, now):
    return {"product_id": p["id"], "stars": stars, "certificate_no": f"BENCH-{p['id']}-{stars}",
            "issuing_level": "central" if stars == 5 else "province", "decision_date": expires_on - timedelta(days=1095),
            "expires_on": expires_on, "scan_name": None, "status": "verified", "status_reason": "",
            "reviewed_by_id": None, "reviewed_at": now, "created_at": now}


def private_rows(tables, users, password_hash, today):
    """What issue 14's logged-in list pages need, added to `rows_for`'s `tables` in place: the alliance with a
    staff account per virtual user (staff<n>@bench.example), a member account per virtual user of the first
    cooperative (member<n>@bench.example; it sells under MoUs), enterprises to buy (the buyer enterprise and
    PRIVATE_MOU_BUYERS - 1 more), organisations waiting for verification and OCOP certificates waiting for review
    (the alliance's queues) and conferences. Returns (sellers, buyers, products by seller, conference ids) for
    bench/alliance_bench.trade_rows."""
    from types import SimpleNamespace

    now = datetime.now(UTC)
    organisations, accounts = tables["organisation"], tables["user_account"]
    cooperatives = [o["id"] for o in organisations if o["kind"] == "cooperative"]
    buyer_id = next(o["id"] for o in organisations if o["kind"] == "enterprise")
    next_id = max(o["id"] for o in organisations) + 1
    alliance_id = next_id
    organisations.append({**organisations[0], "id": alliance_id, "kind": "alliance", "cooperative_type": None,
                          "legal_name": "Liên minh HTX tỉnh (thử tải)", "tax_code": tax_code(alliance_id),
                          "email": "lienminh@bench.example", "member_count": None, "founded_year": None})
    buyers = [buyer_id]
    for n in range(1, PRIVATE_MOU_BUYERS):
        number = alliance_id + n
        organisations.append({**organisations[0], "id": number, "kind": "enterprise", "cooperative_type": None,
                              "legal_name": f"Công ty Thử tải {n}", "tax_code": tax_code(number),
                              "email": f"dn{number}@bench.example", "member_count": None, "founded_year": None})
        buyers.append(number)
    for n in range(PENDING_ORGANISATIONS):  # the verification queue
        number = alliance_id + PRIVATE_MOU_BUYERS + n
        organisations.append({**organisations[0], "id": number, "legal_name": f"HTX Chờ duyệt {n}",
                              "tax_code": tax_code(number), "email": f"cho{number}@bench.example",
                              "status": "pending", "status_changed_at": None,
                              "kind": "cooperative" if n % 2 else "enterprise"})
    next_account = max(a["id"] for a in accounts) + 1
    for n in range(1, users + 1):
        for email, organisation_id, name in ((f"staff{n}@bench.example", alliance_id, f"Cán bộ {n}"),
                                             (f"member{n}@bench.example", cooperatives[0], f"Thành viên {n}")):
            accounts.append({**accounts[0], "id": next_account, "email": email, "full_name": name,
                             "organisation_id": organisation_id, "role": "owner"})
            next_account += 1
    with_stars = {c["product_id"] for c in tables["ocop_certificate"]}
    waiting = [p for p in tables["product"] if p["id"] not in with_stars][:PENDING_CERTIFICATES]
    for p in waiting:  # the certificates' review queue
        tables["ocop_certificate"].append({**_certificate(p, 3 + p["id"] % 3, today + timedelta(days=400), now),
                                           "certificate_no": f"BENCH-CHO-{p['id']}", "status": "pending",
                                           "reviewed_at": None})
    tables["conference_event"] = [{"id": n, "name": f"Hội nghị kết nối (thử tải) {n}",
                                   "held_on": today - timedelta(days=90 * n), "place": "", "created_by_id": None,
                                   "created_at": now, "is_demo": False} for n in range(1, CONFERENCES + 1)]
    sellers = cooperatives[:PRIVATE_MOU_SELLERS]
    by_seller = {}
    for p in tables["product"]:
        if p["cooperative_id"] in sellers:
            by_seller.setdefault(p["cooperative_id"], []).append(
                SimpleNamespace(id=p["id"], name=p["name"], base_price_vnd=p["base_price_vnd"]))
    return sellers, buyers, by_seller, [c["id"] for c in tables["conference_event"]]


def load(app, products, users, log, trade=None):
    """Bulk-insert the corpus through SQLAlchemy Core (batches of 5,000 rows); with `trade` = (MoUs, orders), also
    `private_rows` and that many MoUs and orders (bench/alliance_bench.py's builder)."""
    import sqlalchemy as sa

    from bench import alliance_bench
    from marketplace.accounts import passwords
    from marketplace.extensions import db

    started = time.perf_counter()
    with app.app_context():
        password_hash = passwords.hash_password(PASSWORD)  # the served app's Argon2id parameters
        tables = rows_for(products, users, password_hash, date.today())
        if trade:
            parties = private_rows(tables, users, password_hash, date.today())
        metadata = db.metadata
        for name, rows in tables.items():
            table = metadata.tables[name]
            for start in range(0, len(rows), 5000):
                db.session.execute(sa.insert(table), rows[start:start + 5000])
        if trade:
            from marketplace.alliance.tracking import today

            built = alliance_bench.trade_rows(random.Random(f"trade-{len(products)}"), *trade, *parties, today(),
                                              datetime.now(UTC))
            alliance_bench.insert_trade(built)
            tables.update({name: built[name] for name in ("agreement", "agreement_line", "customer_order",
                                                          "order_line")})
        if db.engine.dialect.name == "postgresql":
            for name in ("organisation", "user_account", "product", "price_tier", "ocop_certificate",
                         *(("conference_event", "agreement", "agreement_revision", "customer_order")
                           if trade else ())):
                db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                           f"(SELECT coalesce(max(id), 1) FROM {name}))"))
            db.session.commit()
            db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    counts = {name: len(rows) for name, rows in tables.items()}
    log(f"loaded {counts} in {time.perf_counter() - started:.1f} s")
    return counts


def mark(app, args):
    import sqlalchemy as sa

    from marketplace.extensions import db

    with app.app_context():
        db.session.execute(sa.text(f"CREATE TABLE {MARKER_TABLE} (corpus VARCHAR(200))"))
        db.session.execute(sa.text(f"INSERT INTO {MARKER_TABLE} VALUES (:key)"), {"key": corpus_key(args)})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def forget_logins(app):
    """Sessions left by a previous run of a kept store (each login writes one)."""
    import sqlalchemy as sa

    from marketplace.extensions import db

    with app.app_context():
        db.session.execute(sa.text("DELETE FROM auth_session"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- what the users ask for

def demo_logins():
    from marketplace import demo

    return demo.logins()


def demo_password():
    from marketplace import demo

    return demo.DEMO_PASSWORD


def demo_products(app):
    """The demo's public products as the plan needs them (their province codes)."""
    import sqlalchemy as sa

    from marketplace.extensions import db

    with app.app_context():
        rows = db.session.execute(sa.text("SELECT province_code FROM product WHERE status = 'published'")).all()
        db.session.remove()
    return [{"province_code": code} for (code,) in rows]


def request_plan(app, products, args):
    """{page: [paths]} the users draw from (seeded): varied filters, pages, queries, products."""
    import sqlalchemy as sa

    from marketplace.extensions import db

    rng = random.Random(f"plan-{args.seed}")
    with app.app_context():
        sample = db.session.execute(sa.text(
            "SELECT product.id, product.slug FROM product JOIN organisation ON organisation.id = product.cooperative_id"
            " WHERE product.status = 'published' AND organisation.status = 'verified' ORDER BY product.id")).all()
        db.session.remove()
        db.engine.dispose()
    products_sample = rng.sample(sample, min(len(sample), 2000))
    product_paths = [f"/products/{pid}/{slug}" for pid, slug in products_sample]

    provinces = sorted({p["province_code"] for p in products if p["province_code"] is not None})
    pages_available = max(1, len(products) // 24)
    catalogue = []
    for _ in range(400):
        params = {}
        roll = rng.random()
        if roll < 0.35:
            params["page"] = rng.randint(1, min(10, pages_available))
        elif roll < 0.55:
            params["category"] = rng.choice(corpus.CATEGORIES)
        elif roll < 0.7:
            params["province"] = rng.choice(provinces)
        elif roll < 0.8:
            params["stars"] = rng.choice((3, 4, 5))
        elif roll < 0.9:
            params["certification"] = rng.choice(corpus.CERTIFICATIONS)
            params["category"] = rng.choice(corpus.CATEGORIES)
        else:
            params["sort"] = rng.choice(("price_asc", "price_desc", "stars", "name"))
        if rng.random() < 0.2:
            params.setdefault("page", rng.randint(2, min(5, pages_available) + 1))
        catalogue.append("/products" + ("?" + urllib.parse.urlencode(params) if params else ""))

    measured, _ = query_mix.build(max(query_mix.MIN_QUERIES, 240), args.seed)
    search = []
    for query in measured:
        if query.op != "search":
            continue
        params = {"q": query.text, **query.filter_dict}
        search.append("/search?" + urllib.parse.urlencode(params))
    cold = {"home": ["/"], "catalogue": catalogue, "search": search, "product": product_paths}
    if args.distinct_paths:  # a warm page cache: the users keep to a few URLs per page
        catalogue, search = catalogue[:args.distinct_paths], search[:args.distinct_paths]
        product_paths = product_paths[:args.distinct_paths]
    plan = {"home": ["/"], "catalogue": catalogue, "search": search, "product": product_paths,
            "emails": ([email for email, description in demo_logins() if "(enterprise" in description] if args.demo
                       else [f"buyer{n}@bench.example" for n in range(1, max(args.users, TARGETS["users"]) + 1)]),
            "password": demo_password() if args.demo else PASSWORD,
            "cold": cold}
    if "private" in args.groups:
        plan.update(private_paths(args))
    # Warm-up: the mixes of the groups measured (before the logins, the private pages would all redirect).
    plan["warmup_mix"] = (MIX if "public" in args.groups else ()) + (PRIVATE_MIX if "private" in args.groups else ())
    return plan


def private_paths(args):
    """{page: [paths]} of the logged-in list pages: the first page mostly, filters and later pages too."""
    pages_of_orders = max(1, min(5, args.orders // 2 // PRIVATE_MOU_SELLERS // 20))
    paths = {
        "my_products": ["/workspace/products"] * 3 + ["/workspace/products?status=published"],
        "my_orders": ["/orders"] * 4 + ["/orders?status=completed", "/orders?status=placed"]
        + [f"/orders?page={n}" for n in range(2, pages_of_orders + 1)],
        "my_agreements": ["/agreements"] * 3 + ["/agreements?state=signed", "/agreements?state=expired"],
        "alliance_organisations": ["/alliance/organisations"] * 3 + ["/alliance/organisations?status=verified",
                                                                     "/alliance/organisations?status=verified&page=2"],
        "alliance_certificates": ["/alliance/certificates"] * 3 + ["/alliance/certificates?status=verified"],
        "alliance_follow_up": ["/alliance/follow-up"] * 3 + ["/alliance/follow-up?page=2",
                                                             "/alliance/follow-up?status=on_track"],
        "alliance_dashboard": ["/alliance/dashboard"],
    }
    if args.distinct_paths:
        paths = {page: listed[:args.distinct_paths] for page, listed in paths.items()}
    return paths


def log_in_users(port, args, log):
    """One session per virtual user and side, before any measured phase: {user number: {"cooperative": cookies,
    "alliance": cookies}} (member<n+1>@ and staff<n+1>@bench.example). Raises RuntimeError if a login fails."""
    from concurrent.futures import ThreadPoolExecutor

    def sessions_of(number):
        user = User(number, port, {"password": PASSWORD}, args.seed)
        jars = {}
        for side, email in (("cooperative", f"member{number + 1}@bench.example"),
                            ("alliance", f"staff{number + 1}@bench.example")):
            if not user.log_in(email):
                raise RuntimeError(f"logging in {email} failed: {user.samples[-1]}")
            jars[side], user.cookies = user.cookies, {}
        return number, jars

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        sessions = dict(pool.map(sessions_of, range(args.users)))
    log(f"logged in {2 * args.users} sessions in {time.perf_counter() - started:.1f} s")
    return sessions


# ---------------------------------------------------------------- the server

def stop_process(process, timeout=40):
    """SIGTERM a process started in a session of its own, and kill its whole group if it has not ended within
    `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Server:
    """gunicorn as make serve starts it (gunicorn.conf.py), on the benchmark's application module."""

    def __init__(self, env, workers, log_path, threads=1):
        self.port = free_port()
        self.env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port), "WORKERS": str(workers or ""),
                    "THREADS": str(threads)}
        self.log_path = log_path
        self.process = None

    def start(self, timeout=120):
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bench.load_app:app"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = one_request(self.port, "GET", "/healthz", {})
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)  # waiting for a server we started; it has no readiness signal
        raise RuntimeError("gunicorn did not become healthy:\n" + self.log_tail())

    def workers(self):
        text = self.log_path.read_text(errors="replace")
        return text.count("Booting worker")

    def worker_rss_mb(self):
        """Resident memory of each worker now (Linux /proc), or [] elsewhere."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            sizes = []
            for pid in children:
                status = Path(f"/proc/{pid}/status").read_text()
                sizes.append(round(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024, 1))
            return sorted(sizes)
        except (OSError, AttributeError):
            return []

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        if self.process is not None:
            stop_process(self.process)


def one_request(port, method, path, headers, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, (response, data)
    finally:
        connection.close()


# ---------------------------------------------------------------- the virtual users

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class User:
    """One browser: its own address behind the proxy, its own cookies, a seeded choice of pages."""

    def __init__(self, number, port, plan, seed):
        self.number = number
        self.port = port
        self.plan = plan
        self.rng = random.Random(f"user-{seed}-{number}")
        self.headers = {
            "Host": "cho-htx.example", "X-Forwarded-Proto": "https",
            "X-Forwarded-For": f"10.{20 + number // 250}.{number % 250}.{1 + number % 200}",
            "Accept": "text/html", "Accept-Encoding": "gzip", "Accept-Language": "vi",
            "User-Agent": "cho-htx-bench/1",
        }
        self.cookies = {}
        self.cold_requests = 0
        self.samples = []  # (page, ended at (monotonic ns), latency_ns, status, SQL statements or None, bytes, error)

    def send(self, page, method, path, body=None, extra=None, cookies=None):
        """One request; `cookies` (a dict kept up to date) instead of the user's own jar."""
        jar = self.cookies if cookies is None else cookies
        headers = dict(self.headers)
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if extra:
            headers.update(extra)
        started = time.perf_counter_ns()
        error, status, sql, data, hit = None, 0, None, b"", False
        try:
            status, (response, data) = one_request(self.port, method, path, headers, body)
            sql = response.getheader("X-SQL-Queries")
            hit = response.getheader("X-Page-Cache") == "hit"
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    jar[name] = rest.split(";", 1)[0]
            if response.getheader("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            cache_control = response.getheader("Cache-Control") or ""
        except (OSError, http.client.HTTPException) as problem:
            error = f"{type(problem).__name__}: {problem}"
        latency = time.perf_counter_ns() - started
        if error is None and status != EXPECTED_STATUS.get(page, 200):
            error = f"HTTP {status}"
        elif error is None and page in PRIVATE and "no-store" not in cache_control:
            error = "logged-in page without Cache-Control: no-store"
        self.samples.append((page, time.monotonic_ns(), latency, status, int(sql) if sql else None, len(data), error,
                             hit))
        return data

    def act(self, what):
        if what == CEILING:
            self.send(CEILING, "GET", "/_bench/ping")
        elif what == HEALTH:
            self.send(HEALTH, "GET", "/healthz")
        elif what == "login":
            self.log_in(self.rng.choice(self.plan["emails"]))
            self.cookies = {}
        elif what in COLD:
            path = self.rng.choice(self.plan["cold"][COLD[what]])
            self.cold_requests += 1
            self.send(what, "GET", f"{path}{'&' if '?' in path else '?'}_cold={self.number}-{self.cold_requests}")
        elif what in PRIVATE:
            self.send(what, "GET", self.rng.choice(self.plan[what]),
                      cookies=self.plan["sessions"][self.number][PRIVATE[what]])
        else:
            self.send(what, "GET", self.rng.choice(self.plan[what]))

    def log_in(self, email):
        """The login form, then its post, as a new browser; True when the post redirected (logged in: the session
        cookie is in self.cookies)."""
        self.cookies = {}
        form = self.send("login_form", "GET", "/login").decode(errors="replace")
        token = CSRF.search(form)
        body = urllib.parse.urlencode({"email": email, "password": self.plan["password"],
                                       "csrf_token": token.group(1) if token else ""})
        # Over HTTPS, Flask-WTF checks that the Referer is this site, as a browser sends it.
        self.send("login", "POST", "/login", body.encode(),
                  {"Content-Type": "application/x-www-form-urlencoded",
                   "Referer": f"https://{self.headers['Host']}/login", "Origin": f"https://{self.headers['Host']}"})
        return self.samples[-1][6] is None

    def run(self, phase, start_at, end_at):
        mix = self.plan["warmup_mix"] if phase == "warmup" else MIXES.get(phase)
        choices = [name for name, _ in mix or ()]
        weights = [weight for _, weight in mix or ()]
        while time.monotonic() < start_at:
            time.sleep(min(0.01, max(0.0, start_at - time.monotonic())))
        while time.monotonic() < end_at:
            self.act(self.rng.choices(choices, weights)[0] if mix else phase)


def client_process(numbers, port, plan, seed, phase, start_at, end_at, results):
    """A client process: one thread per virtual user, until `end_at`; sends back samples and CPU time."""
    users = [User(n, port, plan, seed) for n in numbers]
    cpu = time.process_time()
    threads = [threading.Thread(target=u.run, args=(phase, start_at, end_at)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put({"samples": [s for u in users for s in u.samples], "cpu_seconds": time.process_time() - cpu})


def run_phase(phase, args, port, plan, seconds, log):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    groups = [list(range(i, args.users, args.client_processes)) for i in range(args.client_processes)]
    groups = [group for group in groups if group]
    start_at = time.monotonic() + 0.3
    end_at = start_at + seconds
    seed = args.seed + zlib.crc32(phase.encode())
    processes = [context.Process(target=client_process,
                                 args=(group, port, plan, seed, phase, start_at, end_at, results), daemon=True)
                 for group in groups]
    load_before = os.getloadavg()[0]
    for process in processes:
        process.start()
    gathered = [results.get(timeout=seconds + REQUEST_TIMEOUT + 60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    samples = [s for g in gathered for s in g["samples"]]
    # Only requests answered inside the window count: the last ones end while the others have stopped.
    end_ns = end_at * 1e9
    summary = summarise(phase, [s for s in samples if s[1] <= end_ns], seconds)
    summary["unfinished_at_the_end"] = sum(s[1] > end_ns for s in samples)
    summary["client_cpu_seconds"] = round(sum(g["cpu_seconds"] for g in gathered), 2)
    summary["load_average_before"] = round(load_before, 2)
    log(f"{phase}: " + ", ".join(f"{page} {s['throughput']:.0f}/s p95 {s['p95_ms']:.1f} ms"
                                 for page, s in summary["pages"].items()))
    return summary


def summarise(phase, samples, seconds):
    pages = {}
    for page in sorted({s[0] for s in samples}, key=ALL_PAGES.index):
        mine = [s for s in samples if s[0] == page]
        latencies = sorted(s[2] / 1e6 for s in mine)
        sql = [s[4] for s in mine if s[4] is not None]
        errors = [s[6] for s in mine if s[6]]
        pages[page] = {
            "requests": len(mine),
            "throughput": round(len(mine) / seconds, 1),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "max_ms": round(latencies[-1], 1),
            "sql_max": max(sql) if sql else None,
            "sql_median": sorted(sql)[len(sql) // 2] if sql else None,
            "errors": len(errors),
            "error_examples": sorted(set(errors))[:3],
            "kb": round(sum(s[5] for s in mine) / len(mine) / 1024, 1),
            "from_cache": round(sum(1 for s in mine if s[7]) / len(mine), 3),  # X-Page-Cache: hit
        }
    return {"phase": phase, "seconds": seconds, "requests": len(samples),
            "throughput": round(len(samples) / seconds, 1), "pages": pages}


# ---------------------------------------------------------------- the whole run

def benchmark(args, log):
    report = {
        "benchmark": "load", "version": 1,
        "params": {"products": args.products, "seed": args.seed, "users": args.users, "seconds": args.seconds,
                   "warmup": args.warmup, "client_processes": args.client_processes,
                   "database": "sqlite" if args.sqlite or args.demo else "postgresql", "pages": list(args.groups),
                   "data": "demo" if args.demo else "corpus",
                   **({"mous": args.mous, "orders": args.orders} if "private" in args.groups else {})},
        "machine": common.machine(),
        "revision": common.revision(["marketplace", "templates"], "app_modified"),
        "targets": dict(TARGETS),
    }
    store = Store(args)
    report["params"]["schema"] = store.schema
    server = None
    try:
        products = [] if args.demo else corpus.generate(args.products, args.seed)
        if args.cheap_passwords:
            os.environ["BENCH_CHEAP_PASSWORDS"] = "1"  # read by loader_app here and bench/load_app.py in gunicorn
        app = loader_app(store)
        # The demo signs its MoUs (flask seed-demo): the signing keys live with the run's state.
        env = server_environment(store, {"SIGNING_DIR": str(store.state / "signing"),
                                         "SIGNING_KEY_PASSPHRASE": secrets.token_urlsafe(32)} if args.demo else None)
        accounts = max(args.users, TARGETS["users"])
        build = {}
        if args.demo:
            store.create()
            build["migrate_seconds"] = round(flask(env, "db", "upgrade", log=log), 1)
            build["demo_seconds"] = round(flask(env, "seed-demo", log=log), 1)
            build["index_seconds"] = round(flask(env, "search", "rebuild", log=log), 1)
            products = demo_products(app)
            report["params"]["products"] = len(products)
            build["reused"] = False
        elif store.keep and reusable(store, args, app):
            log(f"reusing the kept database and index in {store.schema or store.url}")
            flask(env, "db", "upgrade", log=log)  # the code may have new migrations since the data was kept
            forget_logins(app)
            build["reused"] = True
        else:
            store.create()
            build["migrate_seconds"] = round(flask(env, "db", "upgrade", log=log), 1)
            started = time.perf_counter()
            build["rows"] = load(app, products, accounts, log,
                                 trade=(args.mous, args.orders) if "private" in args.groups else None)
            build["load_seconds"] = round(time.perf_counter() - started, 1)
            build["index_seconds"] = round(flask(env, "search", "rebuild", "--procs", "2", log=log), 1)
            mark(app, args)
            build["reused"] = False
        report["build"] = build
        plan = request_plan(app, products, args)

        server = Server(env, args.workers, store.state / "gunicorn.log", threads=args.threads)
        server.start()
        workers = args.workers or 2 * (os.cpu_count() or 1) + 1  # gunicorn.conf.py's default
        report["server"] = {"workers": workers, "threads": args.threads, "log": str(server.log_path)}
        log(f"gunicorn with {workers} workers on 127.0.0.1:{server.port}")
        if "private" in args.groups:
            plan["sessions"] = log_in_users(server.port, args, log)
        if args.warmup:
            run_phase("warmup", args, server.port, plan, args.warmup, log)
        phases = phases_of(args.groups, args.cold_and_warm)
        report["phases"] = []
        for phase in phases:
            if phase == "warmup":
                run_phase(phase, args, server.port, plan, args.warmup, log)
                continue
            report["phases"].append(run_phase(phase, args, server.port, plan, args.seconds, log))
        if server.process.poll() is not None:
            raise RuntimeError("gunicorn died during the run:\n" + server.log_tail())
        report["server"]["worker_boots"] = server.workers()  # more than the workers: some were restarted
        report["server"]["worker_rss_mb"] = server.worker_rss_mb()
    finally:
        if server is not None:
            server.stop()
        if not store.keep:
            store.drop()
    report["machine"]["load_average_end"] = common.load_average()
    report["results"] = results(report)
    if args.profile:
        profile_pages(store, args, plan, log)
    return report


def phases_of(groups, cold_and_warm=False):
    """The measured phases, in order: the ceiling, /healthz, each page of the groups alone then their mix, the
    ceiling again. With `cold_and_warm`, the cached pages cold first, then "warmup" (an unmeasured warm-up of the
    paths the warm phases use), then the rest."""
    phases = [CEILING, HEALTH]
    if "public" in groups:
        phases += [*COLD_PAGES, "warmup"] if cold_and_warm else []
        phases += [*PAGE_PHASES, "mix"]
    if "private" in groups:
        phases += [*PRIVATE_PAGES, "mix_private"]
    return phases + [CEILING]


def results(report):
    """Per page: throughput alone, its fraction of the ceiling, latency in its group's mix, SQL, errors; targets
    (the logged-in list pages': p95 and the share of the ceiling)."""
    ceilings = [p["pages"][CEILING]["throughput"] for p in report["phases"] if p["phase"] == CEILING]
    ceiling = sum(ceilings) / len(ceilings)
    alone = {}
    for phase in report["phases"]:
        if phase["phase"] in COLD_PAGES + PAGE_PHASES + PRIVATE_PAGES or phase["phase"] == HEALTH:
            alone.update(phase["pages"])
    mixes = {p["phase"]: p for p in report["phases"] if p["phase"] in MIXES}
    errors = sum(page["errors"] for phase in report["phases"] for page in phase["pages"].values())
    rows = {}
    for page in (HEALTH, *COLD_PAGES, *PAGES, *PRIVATE_PAGES):
        if page not in alone:
            continue
        private = page in PRIVATE
        mix = mixes.get("mix_private" if private else "mix", {}).get("pages", {})
        row = {"alone": alone[page], "in_mix": mix.get(page),
               "ceiling_fraction": round(alone[page]["throughput"] / ceiling, 3) if ceiling else None}
        sql_values = [v for v in (alone[page]["sql_max"], (mix.get(page) or {}).get("sql_max")) if v is not None]
        row["sql_max"] = max(sql_values) if sql_values else None
        if page != HEALTH and page not in COLD:  # the cold pages are reported, the targets judged warm
            p95 = max(alone[page]["p95_ms"], (mix.get(page) or {}).get("p95_ms", 0))
            targets = PRIVATE_TARGETS if private else TARGETS
            row["targets"] = {"p95": p95 < targets["p95_ms"]}
            if not private:
                row["targets"]["sql"] = row["sql_max"] is not None and row["sql_max"] <= TARGETS["sql_queries"]
            row["targets"]["ceiling_fraction"] = row["ceiling_fraction"] >= targets["ceiling_fraction"]
        rows[page] = row
    return {"ceiling_throughput": round(ceiling, 1), "ceiling_measurements": ceilings, "pages": rows,
            "errors": errors, "applies": report["params"]["users"] == TARGETS["users"]
            and (report["params"].get("data") == "demo"
                 or (report["params"]["products"] == 50000 and report["params"]["database"] == "postgresql")),
            **{f"{name}_throughput": phase["throughput"] for name, phase in mixes.items()}}


def profile_pages(store, args, plan, log):
    """Where a page's time goes, inside the application (no server, no network): cProfile over 30 renders."""
    import cProfile
    import io
    import pstats

    from marketplace import create_app

    app = create_app({"SECRET_KEY": secrets.token_urlsafe(48), "PUBLIC_BASE_URL": "https://cho-htx.example",
                      "SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(store.url), "SEARCH_INDEX_DIR": str(store.index_dir),
                      "UPLOAD_DIR": str(store.upload_dir), "HTTPS": False, "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    rng = random.Random(args.seed)
    for page in ("home", "catalogue", "search", "product"):
        paths = [rng.choice(plan[page]) for _ in range(30)]
        for path in paths[:3]:
            client.get(path, buffered=True)  # warm: searcher, templates
        single = cProfile.Profile()
        single.enable()
        for path in paths:
            client.get(path, buffered=True)
        single.disable()
        out = io.StringIO()
        pstats.Stats(single, stream=out).sort_stats("cumulative").print_stats(25)
        log(f"---- profile of {page} (30 requests in-process) ----\n{out.getvalue()}")
        single.dump_stats(f"{args.profile}.{page}")


def _mixes(r, name="mix"):
    parts = []
    if "mix_throughput" in r:
        parts.append(f" {name}: {r['mix_throughput']:.0f} requests/s")
    if "mix_private_throughput" in r:
        parts.append(f" the logged-in pages' mix: {r['mix_private_throughput']:.0f} requests/s")
    return ";".join(parts)


def _rss(sizes):
    return f" ({min(sizes):.0f} to {max(sizes):.0f} MB resident each after the run)" if sizes else ""


def _workers(server):
    threads = server.get("threads", 1)
    return (f"{server['workers']} gthread workers of {threads} threads" if threads > 1
            else f"{server['workers']} sync workers")


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


def render(report):
    p, m, r = report["params"], report["machine"], report["results"]
    lines = [
        f"Load benchmark: {p['products']:,} products ({p['database']}), {p['users']} users without think time,"
        f" {p['seconds']:g} s per phase, gunicorn with {_workers(report['server'])}",
        f"Machine: {m['cpus']} CPUs, load average {m['load_average_start']} at start, {m['load_average_end']} at end;"
        f" worker RSS after the run {report['server'].get('worker_rss_mb')} MB",
        f"Ceiling (/_bench/ping): {r['ceiling_throughput']:.0f} requests/s (measured {r['ceiling_measurements']});"
        + _mixes(r),
        "",
        f"{'page':<22} {'alone/s':>8} {'of ceil':>8} {'p50 ms':>8} {'p95 ms':>8} {'mix p50':>8} {'mix p95':>8}"
        f" {'SQL max':>8} {'errors':>7} {'KB':>6}",
    ]
    for page, row in r["pages"].items():
        a, mix = row["alone"], row["in_mix"] or {}
        errors = a["errors"] + mix.get("errors", 0)
        lines.append(f"{page:<22} {a['throughput']:>8.1f} {row['ceiling_fraction']:>8.0%} {_ms(a['p50_ms']):>8}"
                     f" {_ms(a['p95_ms']):>8} {_ms(mix.get('p50_ms')):>8} {_ms(mix.get('p95_ms')):>8}"
                     f" {str(row['sql_max']):>8} {errors:>7} {a['kb']:>6}")
    lines.append("")
    lines.append(f"errors in all phases: {r['errors']}")
    for page, row in r["pages"].items():
        if "targets" in row:
            missed = [name for name, ok in row["targets"].items() if not ok]
            lines.append(f"targets {page}: {'met' if not missed else 'MISSED ' + ', '.join(missed)}")
    if not r["applies"]:
        lines.append("(the targets are for 50,000 products on PostgreSQL at 20 users)")
    for phase in report["phases"]:
        lines.append(f"phase {phase['phase']:<22} {phase['throughput']:>7.1f} requests/s, client CPU"
                     f" {phase['client_cpu_seconds']:.1f} s in {phase['seconds']:g} s")
    return "\n".join(lines)


def render_markdown(report):
    p, m, r = report["params"], report["machine"], report["results"]
    rev = report["revision"] or {}
    lines = [
        f"{'the demo data, ' if p.get('data') == 'demo' else ''}{p['products']:,} products on {p['database']},"
        f" {p['users']} users without think time, {p['seconds']:g} s per"
        f" phase after {p['warmup']:g} s of warm-up, gunicorn with {_workers(report['server'])}"
        f"{_rss(report['server'].get('worker_rss_mb'))}, the users"
        f" in {p['client_processes']} client processes on the same machine; load average {m['load_average_start'][0]}"
        f" at start, {m['load_average_end'][0]} at end; commit {rev.get('commit', '?')}"
        f"{' (application modified)' if rev.get('app_modified') else ''}.",
        "",
        f"Ceiling (`/_bench/ping`, a trivial route through the same server and middleware):"
        f" {r['ceiling_throughput']:.0f} requests/s (measured {' and '.join(f'{c:.0f}' for c in r['ceiling_measurements'])});"
        + _mixes(r, "the realistic mix") + ".",
        "",
        "| page | alone: requests/s | of the ceiling | p50 ms | p95 ms | in the mix: p50 ms | p95 ms | SQL statements (max) | errors | KB | from the cache (alone) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for page, row in r["pages"].items():
        a, mix = row["alone"], row["in_mix"] or {}
        errors = a["errors"] + mix.get("errors", 0)
        lines.append(f"| {page} | {a['throughput']:.1f} | {row['ceiling_fraction']:.0%} | {_ms(a['p50_ms'])} |"
                     f" {_ms(a['p95_ms'])} | {_ms(mix.get('p50_ms'))} | {_ms(mix.get('p95_ms'))} |"
                     f" {row['sql_max'] if row['sql_max'] is not None else '-'} | {errors} | {a['kb']} |"
                     f" {a.get('from_cache', 0):.0%} |")
    lines.append("")
    verdicts = []
    for page, row in r["pages"].items():
        if "targets" in row:
            missed = [name for name, ok in row["targets"].items() if not ok]
            verdicts.append(f"{page}: {'met' if not missed else '**missed** (' + ', '.join(missed) + ')'}")
    lines.append(f"Errors in all phases: {r['errors']}. Targets (p95 < {TARGETS['p95_ms']:.0f} ms alone and in the mix,"
                 f" ≤ {TARGETS['sql_queries']} SQL statements, ≥ {TARGETS['ceiling_fraction']:.0%} of the ceiling;"
                 f" logged-in list pages p95 < {PRIVATE_TARGETS['p95_ms']:.0f} ms,"
                 f" ≥ {PRIVATE_TARGETS['ceiling_fraction']:.0%}): " + "; ".join(verdicts) + "." + ("" if r["applies"] else " (They apply with 20 users, on the"
                                                                         " demo data or 50,000 products on PostgreSQL.)"))
    return "\n".join(lines)


def main(argv=None):
    return common.main(argv, parse_args, benchmark, render, render_markdown)


if __name__ == "__main__":
    sys.exit(main())
