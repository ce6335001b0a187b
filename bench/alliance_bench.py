#!/usr/bin/env python
"""Alliance follow-up benchmark (issue 11): the needs-attention list and an MoU's progress with 2,000 MoUs and
50,000 orders.

    .venv/bin/python bench/alliance_bench.py [--mous 2000] [--orders 50000] [--repeat 20]
                                             [--pg-url URL | --sqlite] [--seed 2026] [--json | --markdown]

One run:
1. builds the data in a PostgreSQL schema of its own (or a SQLite file with --sqlite), tables from the models,
   rows written in bulk (not through the services: only the reads are measured): 50 cooperatives with 2
   products each, 50 enterprises, the alliance and one staff member with an API token; MOUS MoUs (90% signed,
   5% expired, 5% waiting for signatures for weeks) of one or two lines over terms of one to three years started
   up to two years ago; ORDERS orders of one or two lines, 80% of them under an MoU (spread unevenly: some MoUs
   have none) in every status, paid and received as their status says;
2. measures, in process and after two unmeasured warm-up calls, with the start-up heap frozen (`gc.freeze()`, as
   gunicorn.conf.py does in each worker), REPEAT times each: `tracking.needs_attention`
   (page 1, what the page and the API compute), `tracking.progress_map` for every MoU, and through the Flask test
   client with the staff member's token `GET /api/v1/alliance/agreements` and `GET /api/v1/agreements/<id>/progress`
   (the MoU with the most orders), and `GET /alliance/follow-up` (the HTML page, logged in);
3. reports n, p50, p95 and max in milliseconds and the SQL statements of one call, against the target: p95
   under 300 ms for the list and the progress on PostgreSQL with 2,000 MoUs and 50,000 orders.

Everything stays on 127.0.0.1; the schema (or file) is dropped afterwards. See docs/benchmarks.md.
"""
import argparse
import gc
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, load  # noqa: E402
from bench.common import stats  # noqa: E402

TARGETS = {"mous": 2000, "orders": 50000, "p95_ms": 300.0}
COOPERATIVES = ENTERPRISES = 50
PASSWORD = "mật khẩu thử theo dõi của liên minh"
STAFF = "staff@bench.example"
MEASURED = ("needs_attention", "progress_all", "api_list", "api_progress", "page", "dashboard", "dashboard_page")
TARGETED = ("needs_attention", "api_list", "api_progress", "page", "dashboard", "dashboard_page")
CONFERENCES = 8
PROVINCES = (20, 4, 19)  # the cooperatives' provinces, for the dashboard's grouping


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mous", type=int, default=2000, help="MoUs (default 2000)")
    parser.add_argument("--orders", type=int, default=50000, help="orders (default 50000)")
    parser.add_argument("--repeat", type=int, default=20, help="measured calls of each operation (default 20)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the data (default 2026)")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL") or load.DEFAULT_PG_URL,
                          help="PostgreSQL server database to work in (env BENCH_PG_URL); a schema of its own "
                               "is created and dropped")
    database.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document")
    output.add_argument("--markdown", action="store_true", help="print the Markdown table (docs/benchmarks.md)")
    return parser.parse_args(argv)


def store_for(args):
    return load.Store(argparse.Namespace(sqlite=args.sqlite, keep=False, schema=f"bench_alliance_{secrets.token_hex(4)}",
                                         state_dir=None, pg_url=args.pg_url))


def seed(app, args):
    """Create the tables and the rows (see the module's docstring). Returns {"token", "busiest_mou", counts}."""
    from marketplace.accounts import passwords
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import (
        AllianceClassification,
        CooperativeType,
        MemberRole,
        OrganisationKind,
        Sector,
        User,
    )
    from marketplace.agreements.models import ConferenceEvent
    from marketplace.alliance.tracking import today
    from marketplace.catalog.models import (
        Category,
        CertificateStatus,
        OcopCertificate,
        Product,
        ProductStatus,
        Unit,
    )
    from marketplace.extensions import db

    rng = random.Random(args.seed)

    organisation = common.verified_organisation

    with app.app_context():
        db.create_all()
        on = today()
        now = datetime.now(UTC)
        alliance = organisation(OrganisationKind.ALLIANCE, 1, "Liên minh HTX tỉnh (đo)")
        cooperatives = [organisation(OrganisationKind.COOPERATIVE, 10 + n, f"HTX Thử theo dõi {n}",
                                     cooperative_type=CooperativeType.HOP_TAC_XA, member_count=12, founded_year=2015,
                                     classification=rng.choice(list(AllianceClassification) + [None]))
                        for n in range(COOPERATIVES)]
        for cooperative in cooperatives:
            cooperative.province_code = rng.choice(PROVINCES)
            cooperative.sector = rng.choice(list(Sector))
        conferences = [ConferenceEvent(name=f"Hội nghị kết nối (đo) {n}", held_on=on - timedelta(days=90 * n))
                       for n in range(CONFERENCES)]
        db.session.add_all(conferences)
        enterprises = [organisation(OrganisationKind.ENTERPRISE, 100 + n, f"Công ty Thử theo dõi {n}")
                       for n in range(ENTERPRISES)]
        products = [Product(cooperative=c, name=f"Sản phẩm {i}-{k}", slug=f"san-pham-{i}-{k}", description="Đo.",
                            category=Category.FRESH_PRODUCE, unit=Unit.KG, province_code=20, commune_code=6040,
                            base_price_vnd=50_000 + 1_000 * k, min_order_qty=1, order_increment=1,
                            status=ProductStatus.PUBLISHED, published_at=now)
                    for i, c in enumerate(cooperatives) for k in range(2)]
        db.session.add_all(products)
        for product in products[::2]:  # half the products OCOP-rated, some expiring within 90 days
            product.certificates.append(OcopCertificate(
                stars=rng.choice((3, 4, 5)), certificate_no=f"DO-{product.slug}", status=CertificateStatus.VERIFIED,
                expires_on=on + timedelta(days=rng.randint(1, 720))))
        staff = User(email=STAFF, full_name="Cán bộ Liên minh", password_hash=passwords.hash_password(PASSWORD),
                     organisation=alliance, role=MemberRole.OWNER)
        db.session.add(staff)
        db.session.flush()
        _token, secret = accounts.create_api_token(staff, "đo theo dõi")
        by_cooperative = {}
        for product in products:
            by_cooperative.setdefault(product.cooperative_id, []).append(product)

        trade = trade_rows(rng, args.mous, args.orders, [c.id for c in cooperatives], [e.id for e in enterprises],
                           by_cooperative, [c.id for c in conferences], on, now)
        insert_trade(trade)
        mous, lines, orders, order_lines, signed, per_mou = (trade[k] for k in (
            "agreement", "agreement_line", "customer_order", "order_line", "signed", "per_mou"))
        data = {"token": secret, "busiest_mou": max(per_mou, key=per_mou.get),
                "counts": {"mous": len(mous), "signed_mous": len(signed), "mou_lines": len(lines),
                           "orders": len(orders), "order_lines": len(order_lines),
                           "orders_under_mous": sum(per_mou.values()),
                           "mous_without_orders": len(signed) - len(per_mou)}}
        db.session.remove()
    return data


def trade_rows(rng, mou_count, order_count, sellers, buyers, by_seller, conference_ids, on, now):
    """Rows of `mou_count` MoUs and `order_count` orders (see the module's docstring) between the cooperatives
    `sellers` and the enterprises `buyers` (ids), over the products `by_seller` {cooperative id: [objects with id,
    name and base_price_vnd]}: {table name: rows, "signed": the signed MoUs' ids, "per_mou": {MoU id: orders}}.
    Ids start at 1 (the tables must be empty). Also builds bench/load.py's data for the logged-in list pages."""
    from marketplace.agreements.models import AgreementKind, AgreementState, Period, PriceBasis
    from marketplace.orders.models import OrderStatus, PaymentMode

    mous, revisions, lines, mou_lines = [], [], [], {}
    for n in range(1, mou_count + 1):
        seller_id = rng.choice(sellers)
        buyer_id = rng.choice(buyers)
        start = on - timedelta(days=rng.randint(0, 730))
        end = start + timedelta(days=rng.choice((365, 730, 1095)) - 1)
        roll = rng.random()
        if roll < 0.05:
            state, signed_at, changed = AgreementState.AWAITING_SIGNATURES, None, now - timedelta(days=20)
        elif roll < 0.10 or end < on:
            state, signed_at, changed = AgreementState.EXPIRED, now - timedelta(days=700), now
        else:
            state, signed_at, changed = AgreementState.SIGNED, now - timedelta(days=rng.randint(1, 700)), now
        mous.append({"id": n, "reference": f"MOU-BENCH-{n:06d}", "kind": AgreementKind.MOU, "state": state,
                     "buyer_id": buyer_id, "seller_id": seller_id, "initiator_id": buyer_id,
                     "start_date": start, "end_date": end, "agreed_revision_number": 1, "signed_at": signed_at,
                     "state_changed_at": changed, "created_at": now,
                     "event_id": rng.choice(conference_ids) if rng.random() < 0.7 else None})
        revisions.append({"id": n, "agreement_id": n, "number": 1, "author_id": buyer_id, "terms": {},
                          "content_sha256": f"{n:064x}", "created_at": now})
        chosen = by_seller[seller_id][:rng.choice((1, 2))]
        for position, product in enumerate(chosen):
            lines.append({"revision_id": n, "position": position, "product_id": product.id, "name": product.name,
                          "unit": "kg", "quantity": rng.choice((200, 500, 1000, 2000)),
                          "period": rng.choice((Period.MONTH, Period.YEAR, Period.SEASON, Period.TOTAL)),
                          "price_basis": PriceBasis.FIXED, "unit_price_vnd": product.base_price_vnd})
        mou_lines[n] = (mous[-1], chosen)

    signed = [n for n, (mou, _p) in mou_lines.items() if mou["signed_at"] is not None]
    weights = [rng.choice((0, 0, 1, 2, 5, 10)) for _ in signed]  # uneven: a third of the MoUs get no order
    statuses = ([OrderStatus.PLACED] * 10 + [OrderStatus.CONFIRMED] * 5 + [OrderStatus.PAID] * 15
                + [OrderStatus.SHIPPED] * 10 + [OrderStatus.DELIVERED] * 10 + [OrderStatus.COMPLETED] * 40
                + [OrderStatus.CANCELLED] * 5 + [OrderStatus.REJECTED] * 5)
    orders, order_lines, per_mou = [], [], {}
    for n in range(1, order_count + 1):
        if signed and rng.random() < 0.8:
            mou_id = rng.choices(signed, weights)[0]
            mou, chosen = mou_lines[mou_id]
            buyer_id, cooperative_id = mou["buyer_id"], mou["seller_id"]
            first = datetime.combine(mou["start_date"], datetime.min.time(), UTC)
            per_mou[mou_id] = per_mou.get(mou_id, 0) + 1
        else:
            mou_id, cooperative_id = None, rng.choice(sellers)
            buyer_id, chosen = rng.choice(buyers), by_seller[cooperative_id]
            first = now - timedelta(days=730)
        placed_at = first + (min(now, first + timedelta(days=1095)) - first) * rng.random()
        status = rng.choice(statuses)
        quantities = [(p, rng.randint(1, 60)) for p in chosen[:rng.choice((1, 2))]]
        total = sum(p.base_price_vnd * q for p, q in quantities)
        paid = total if status in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED,
                                   OrderStatus.COMPLETED) else 0
        received = status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED)
        orders.append({"id": n, "reference": f"DH-B-{n:07d}", "status": status, "buyer_id": buyer_id,
                       "cooperative_id": cooperative_id, "agreement_id": mou_id, "checkout_id": f"c{n}",
                       "province_code": 20, "commune_code": 6040, "street": "Đường đo", "requested_date": on,
                       "total_vnd": total, "paid_vnd": paid, "refunded_vnd": 0, "payment_mode": PaymentMode.FULL,
                       "deposit_percent": 0, "placed_at": placed_at, "status_changed_at": placed_at})
        for position, (product, quantity) in enumerate(quantities):
            order_lines.append({"order_id": n, "position": position, "product_id": product.id,
                                "name": product.name, "unit": "kg", "quantity": quantity,
                                "unit_price_vnd": product.base_price_vnd,
                                "line_total_vnd": product.base_price_vnd * quantity,
                                "price_source": "agreement" if mou_id else "tier",
                                "quantity_shipped": quantity if received else None,
                                "quantity_received": quantity if received else None})
    return {"agreement": mous, "agreement_revision": revisions, "agreement_line": lines, "customer_order": orders,
            "order_line": order_lines, "signed": signed, "per_mou": per_mou}


def insert_trade(trade):
    """Bulk-insert `trade_rows`' rows (in an app context), rebuild the totals under MoUs (bulk inserts bypass the ORM
    flush that keeps them) and commit; on PostgreSQL, ANALYZE the tables."""
    import sqlalchemy as sa

    from marketplace.agreements.models import Agreement, AgreementLine, AgreementRevision
    from marketplace.extensions import db
    from marketplace.orders import agreement_totals
    from marketplace.orders.models import Order, OrderLine

    for model, name in ((Agreement, "agreement"), (AgreementRevision, "agreement_revision"),
                        (AgreementLine, "agreement_line"), (Order, "customer_order"), (OrderLine, "order_line")):
        rows = trade[name]
        for chunk in range(0, len(rows), 5000):
            db.session.execute(sa.insert(model), rows[chunk:chunk + 5000])
    agreement_totals.rebuild()
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:  # planner statistics of the bulk-loaded tables
            connection.exec_driver_sql("ANALYZE agreement, agreement_revision, agreement_line, customer_order,"
                                       " order_line, agreement_product_totals, agreement_order_summary")
            connection.commit()


def measure(app, data, repeat, log):
    """{operation: {"timings": stats, "sql": statements of one call}} and what the list holds."""
    from sqlalchemy import event

    from marketplace.accounts.models import User
    from marketplace.alliance import reports, tracking
    from marketplace.extensions import db

    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    results = {}
    headers = {"Authorization": f"Bearer {data['token']}", "Accept-Encoding": "identity"}
    mou_id = data["busiest_mou"]
    with app.app_context():
        staff = db.session.scalar(db.select(User).filter_by(email=STAFF))
        client = app.test_client()
        https = "https://localhost"  # the production settings redirect plain HTTP
        login = client.post("/login", data={"email": STAFF, "password": PASSWORD}, base_url=https)
        assert login.status_code == 302, login.status_code
        calls = {
            "needs_attention": lambda: tracking.needs_attention(staff, page=1),
            "progress_all": lambda: tracking.progress_map(),
            "api_list": lambda: _ok(client.get("/api/v1/alliance/agreements", headers=headers, base_url=https)),
            "api_progress": lambda: _ok(client.get(f"/api/v1/agreements/{mou_id}/progress", headers=headers,
                                                     base_url=https)),
            "page": lambda: _ok(client.get("/alliance/follow-up", base_url=https)),
            "dashboard": lambda: reports.dashboard(staff),
            "dashboard_page": lambda: _ok(client.get("/alliance/dashboard", base_url=https)),
        }
        engine = db.engine
        gc.collect()
        gc.freeze()  # what was allocated so far leaves the collector's reach, as gunicorn.conf.py does in a worker
        for name in MEASURED:
            call = calls[name]
            for _ in range(2):
                call()
            event.listen(engine, "before_cursor_execute", count)
            counter["n"] = 0
            call()
            event.remove(engine, "before_cursor_execute", count)
            statements = counter["n"]
            durations = []
            for _ in range(repeat):
                began = time.perf_counter_ns()
                call()
                durations.append(time.perf_counter_ns() - began)
            results[name] = {"timings": stats(durations), "sql": statements}
            log(f"{name}: p50 {results[name]['timings']['p50']} ms, {statements} statements")
        listed = tracking.needs_attention(staff, page=1, per_page=100)
        reasons = {}
        for item in tracking.attention_items():
            for code in item.codes:
                reasons[code] = reasons.get(code, 0) + 1
        statuses = {}
        for progress in tracking.progress_map().values():
            statuses[progress.status.value] = statuses.get(progress.status.value, 0) + 1
        db.session.remove()
    gc.unfreeze()
    return results, {"needing_attention": listed.total, "reasons": reasons, "statuses": statuses}


def _ok(response):
    assert response.status_code == 200, response.status_code
    return response.get_data()


def benchmark(args, log):
    report = {
        "benchmark": "alliance", "version": 1,
        "params": {"database": "sqlite" if args.sqlite else "postgresql", "mous": args.mous, "orders": args.orders,
                   "repeat": args.repeat, "seed": args.seed},
        "machine": common.machine(),
        "revision": common.revision(["marketplace", "templates"], "app_modified"),
        "targets": dict(TARGETS),
    }
    store = store_for(args)
    report["params"]["schema"] = store.schema
    try:
        store.create()
        app = load.loader_app(store)
        app.config["WTF_CSRF_ENABLED"] = False  # the benchmark logs in with a plain POST
        data = seed(app, args)
        report["data"] = data["counts"]
        log(f"{report['data']} in {store.schema or store.url}")
        report["results"], report["list"] = measure(app, data, args.repeat, log)
        with app.app_context():
            from marketplace.extensions import db

            db.engine.dispose()
    finally:
        store.drop()
    report["machine"]["load_average_end"] = common.load_average()
    p95s = [report["results"][name]["timings"]["p95"] for name in TARGETED]
    report["verdict"] = {
        "p95": all(p is not None and p < TARGETS["p95_ms"] for p in p95s),
        "applies": not args.sqlite and args.mous >= TARGETS["mous"] and args.orders >= TARGETS["orders"],
    }
    return report


LABELS = {
    "needs_attention": "`tracking.needs_attention`, page 1",
    "progress_all": "`tracking.progress_map()`, every MoU",
    "api_list": "`GET /api/v1/alliance/agreements`",
    "api_progress": "`GET /api/v1/agreements/<id>/progress`",
    "page": "`GET /alliance/follow-up` (HTML)",
    "dashboard": "`reports.dashboard` (every figure of the dashboard)",
    "dashboard_page": "`GET /alliance/dashboard` (HTML, 9 pygal charts)",
}


def _ms(value):
    return "-" if value is None else f"{value:.1f}"


def render(report):
    p, m, v = report["params"], report["machine"], report["verdict"]
    lines = [f"Alliance follow-up benchmark: {p['mous']} MoUs, {p['orders']} orders, {p['database']},"
             f" {p['repeat']} calls each",
             f"Machine: {m['cpus']} CPUs, load average {m['load_average_start']} at start, {m['load_average_end']} at end",
             f"Data: {report['data']}", f"List: {report['list']}", "",
             f"{'':<18} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'SQL':>4}"]
    for name in MEASURED:
        s, sql = report["results"][name]["timings"], report["results"][name]["sql"]
        lines.append(f"{name:<18} {s['n']:>4} {_ms(s['p50']):>8} {_ms(s['p95']):>8} {_ms(s['max']):>8} {sql:>4}")
    lines.append(f"target: p95 < {TARGETS['p95_ms']:.0f} ms {'met' if v['p95'] else 'MISSED'}"
                 + ("" if v["applies"] else " (the target is for 2,000 MoUs and 50,000 orders on PostgreSQL)"))
    return "\n".join(lines)


def render_markdown(report):
    p, m, v = report["params"], report["machine"], report["verdict"]
    rev = report["revision"] or {}
    lines = [
        f"{p['mous']} MoUs ({report['data']['signed_mous']} signed), {p['orders']} orders"
        f" ({report['data']['orders_under_mous']} under an MoU, {report['data']['order_lines']} order lines),"
        f" {p['database']}, {p['repeat']} calls each after 2 warm-up calls; load average"
        f" {m['load_average_start'][0]} at start, {m['load_average_end'][0]} at end ({m['cpus']} CPUs);"
        f" commit {rev.get('commit', '?')}{' (application modified)' if rev.get('app_modified') else ''}.",
        "",
        "| operation | n | p50 ms | p95 ms | max ms | SQL statements |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in MEASURED:
        s, sql = report["results"][name]["timings"], report["results"][name]["sql"]
        lines.append(f"| {LABELS[name]} | {s['n']} | {_ms(s['p50'])} | {_ms(s['p95'])} | {_ms(s['max'])} | {sql} |")
    lines += ["", f"Needing attention: {report['list']['needing_attention']} MoUs; reasons {report['list']['reasons']};"
              f" statuses {report['list']['statuses']}. Target p95 < {TARGETS['p95_ms']:.0f} ms (list, API, page):"
              f" {'met' if v['p95'] else '**missed**'}"
              + ("." if v["applies"] else " (it applies to 2,000 MoUs and 50,000 orders on PostgreSQL).")]
    return "\n".join(lines)


def main(argv=None):
    return common.main(argv, parse_args, benchmark, render, render_markdown, name="alliance_bench")


if __name__ == "__main__":
    sys.exit(main())
