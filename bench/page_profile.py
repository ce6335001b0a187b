#!/usr/bin/env python
"""In-process cost of the public pages and the logged-in list pages on demo data (issue 14): no server, no network.

    .venv/bin/python bench/page_profile.py [--requests 200] [--profile DIR] [--pages home,catalogue,...]
    .venv/bin/python bench/page_profile.py --pages private [--save-html DIR]

Builds a SQLite file with `flask seed-demo`'s data in a temporary folder, then for each page sends
`--requests` GETs through Flask's test client, one at a time, and reports the CPU time per request
(process time: less sensitive than wall time to other jobs on a shared machine) as median and mean
over 5 rounds, and the SQL statements of one request. The anonymous page cache (pagecache.py) is on, so
home, catalogue and product pages are measured warm; --cold turns it off. With --profile, a cProfile of each page is
written to DIR/<page>.prof and its top 25 lines (cumulative) are printed.

The logged-in list pages (`--pages private`, or their names) are asked for by a client logged in as the
demo cooperative (trangdinh@) or the demo alliance's staff member (PRIVATE_PAGES); `--save-html DIR` writes
each page's HTML (CSRF tokens blanked) to DIR/<page>.html, to compare a change's output with the last.
"""
import argparse
import cProfile
import io
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

PAGES = {
    "ceiling": "/healthz",
    "home": "/",
    "catalogue": "/products",
    "catalogue_page2_price": "/products?sort=price_asc&page=2",
    "search": "/search?q=tr%C3%A0",
    "product": None,  # the first published product, found after seeding
}
# Issue 14's logged-in list pages: page -> (whose session, path).
PRIVATE_PAGES = {
    "my_products": ("cooperative", "/workspace/products"),
    "my_orders": ("cooperative", "/orders"),
    "my_agreements": ("cooperative", "/agreements"),
    "buyer_orders": ("enterprise", "/orders"),
    "buyer_agreements": ("enterprise", "/agreements"),
    "alliance_organisations": ("alliance", "/alliance/organisations?status=verified"),
    "alliance_certificates": ("alliance", "/alliance/certificates?status=verified"),
    "alliance_follow_up": ("alliance", "/alliance/follow-up"),
    "alliance_agreements": ("alliance", "/agreements"),
    "alliance_dashboard": ("alliance", "/alliance/dashboard"),
}
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def build_app(folder, cold=False):
    from marketplace import create_app, demo
    from marketplace.extensions import db

    app = create_app({
        "SECRET_KEY": "page-profile-secret-key-0123456789-abcdefghijklmnop",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/demo.db",
        "SEARCH_INDEX_DIR": f"{folder}/index", "UPLOAD_DIR": f"{folder}/uploads", "SIGNING_DIR": f"{folder}/signing",
        "HTTPS": False, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False, "PUBLIC_BASE_URL": "https://cho-htx.example",
        "SIGNING_KEY_PASSPHRASE": "page-profile-signing-passphrase-0123456789-abcdef", "MAIL_BACKEND": "locmem",
        **({"PAGE_CACHE_SECONDS": 0, "PRIVATE_PAGE_CACHE_SECONDS": 0} if cold else {}),
        "PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_COST": 1024, "PASSWORD_HASH_PARALLELISM": 1,
    })
    with app.app_context():
        db.create_all()
        demo.seed()
        db.session.commit()
        from marketplace.search import index
        rebuild = getattr(index, "rebuild", None)
        if rebuild is not None:
            rebuild()
    return app


def logged_in_clients(app):
    """{side: a test client logged in as the demo cooperative, enterprise or alliance staff}."""
    from marketplace import demo

    emails = {"cooperative": demo.COOPERATIVES[0][0], "enterprise": demo.ENTERPRISES[0][0],
              "alliance": demo.ALLIANCE_EMAIL}
    clients = {}
    for side, email in emails.items():
        client = app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        answer = client.post("/login", data={"email": email, "password": demo.DEMO_PASSWORD, "csrf_token": token})
        assert answer.status_code == 302, (side, answer.status_code)
        clients[side] = client
    return clients


def count_statements(app, client, path):
    from marketplace.extensions import db

    counter = []
    with app.app_context():
        engine = db.engine
    listener = lambda *a, **k: counter.append(1)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        client.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return len(counter)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", metavar="DIR")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--lang", default="vi")
    parser.add_argument("--save-html", metavar="DIR", help="write each page's HTML (CSRF tokens blanked) to DIR")
    parser.add_argument("--cold", action="store_true",
                        help="the page caches off (PAGE_CACHE_SECONDS=0, PRIVATE_PAGE_CACHE_SECONDS=0): every"
                             " request renders its page")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="page-profile-") as folder:
        app = build_app(folder, cold=args.cold)
        from marketplace.catalog import queries
        from marketplace.catalog.public import product_url
        with app.test_request_context():
            first = queries.public_products(queries.CatalogQuery()).items[0]
            PAGES["product"] = product_url(first)
        public = app.test_client()
        names = args.pages.replace("private", ",".join(PRIVATE_PAGES)).split(",")
        clients = logged_in_clients(app) if any(name in PRIVATE_PAGES for name in names) else {}
        if args.lang != "vi":
            for each in (public, *clients.values()):
                each.post("/language", data={"lang": args.lang})
        print(f"{'page':<24}{'path':<40}{'status':>7}{'SQL':>5}{'median ms':>11}{'mean ms':>9}{'calls':>8}")
        for page in names:
            if page in PRIVATE_PAGES:
                side, path = PRIVATE_PAGES[page]
                client = clients[side]
            else:
                path, client = PAGES[page], public
            for _ in range(5):
                status = client.get(path).status_code  # warm: templates, caches, searcher
            rounds = []
            for _ in range(args.rounds):
                start = time.process_time()
                for _ in range(args.requests // args.rounds):
                    client.get(path)
                rounds.append((time.process_time() - start) * 1000 / (args.requests // args.rounds))
            statements = count_statements(app, client, path)
            counted = cProfile.Profile()  # function calls of one request: load-independent
            counted.enable()
            answer = client.get(path)
            counted.disable()
            calls = pstats.Stats(counted).total_calls
            print(f"{page:<24}{path:<40}{status:>7}{statements:>5}{statistics.median(rounds):>11.2f}"
                  f"{statistics.mean(rounds):>9.2f}{calls:>8}", flush=True)
            if args.save_html:
                Path(args.save_html).mkdir(parents=True, exist_ok=True)
                html = CSRF.sub('name="csrf_token" value=""', answer.get_data(as_text=True))
                Path(args.save_html, f"{page}.html").write_text(html)
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(50):
                    client.get(path)
                profile.disable()
                profile.dump_stats(f"{args.profile}/{page}.prof")
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
                print(out.getvalue())


if __name__ == "__main__":
    main()
