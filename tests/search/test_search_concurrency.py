"""Several processes edit products and commit at the same time, sharing one database and one index directory:
afterwards the index matches the database (no stale or duplicate documents) and nobody logged a lock error.
First with plain worker processes calling the catalogue services, then through gunicorn with 4 workers and
the JSON API, searched while it is being edited."""
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from marketplace.accounts import services as accounts
from marketplace.catalog.models import Product, ProductStatus
from marketplace.extensions import db
from marketplace.search import index as search_index
from marketplace.search import query, sync
from tests import factories
from tests.support import BASE_CONFIG, database_url

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
ROUNDS = 12

WORKER = """
import json, logging, random, sys
import sqlalchemy as sa
from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.catalog import services
from marketplace.extensions import db

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
config, number, rounds, email, ids = json.loads(sys.argv[1])
app = create_app(config)
random.seed(number)
with app.app_context():
    actor = db.session.scalar(sa.select(User).filter_by(email=email))
    for round_ in range(rounds):
        product_id = random.choice(ids)
        action = random.choice(["rename", "rename", "price", "hide", "publish"])
        for attempt in range(20):  # SQLite allows one writer at a time: wait for the others
            try:
                if action in ("rename", "price"):
                    details = services.ProductDetails.of(services.get_own_product(actor, product_id))
                    if action == "rename":
                        details.name = f"Chè xanh w{number} r{round_} p{product_id}"
                    else:
                        details.base_price_vnd = 100000 + 1000 * round_ + number
                    services.update_product(actor, product_id, details)
                elif action == "hide":
                    services.hide_product(actor, product_id)
                else:
                    services.publish_product(actor, product_id)
                break
            except sa.exc.OperationalError as error:
                db.session.rollback()
                if "locked" not in str(error):
                    raise
        print(action, product_id, flush=True)
"""


SEARCHER = """
import json, sys, time
from pathlib import Path
from marketplace.search import index, query
path, stop_file = json.loads(sys.argv[1])
searches, errors, deadline = 0, [], time.monotonic() + 300
while not Path(stop_file).exists() and time.monotonic() < deadline:
    index.close_searchers()  # a fresh searcher each time, as a new worker opens one
    try:
        query.search(path, "che xanh", per_page=5)
        searches += 1
    except Exception as error:
        errors.append(repr(error))
print(json.dumps({"searches": searches, "errors": errors}), flush=True)
"""


@pytest.fixture
def catalogue(app, cooperative_owner):
    ids = [factories.product(cooperative_owner.organisation, name=f"Chè xanh số {n}").id for n in range(8)]
    return ids


def _worker_config(database, app):
    settings = {key: value for key, value in database.items() if key != "backend"}
    return {**BASE_CONFIG, **settings, "UPLOAD_DIR": app.config["UPLOAD_DIR"],
            "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"]}


def _problems_in(log):
    words = ("Traceback", "LockError", "search index:", "locked")
    return [line for line in log.splitlines() if any(word in line for word in words)]


def _searchable_names(app):
    """{product id: its name as the index finds it} for every public product of the database."""
    db.session.expire_all()
    path = app.config["SEARCH_INDEX_DIR"]
    public = db.session.scalars(db.select(Product).filter_by(status=ProductStatus.PUBLISHED)).all()
    return {p.id: p.id in query.search(path, p.name, per_page=100).ids for p in public}


def test_processes_editing_at_once_while_others_search_leave_the_index_in_step(app, database, cooperative_owner,
                                                                               catalogue, tmp_path):
    config = _worker_config(database, app)
    stop_file = tmp_path / "stop-searching"
    searchers = [
        subprocess.Popen([sys.executable, "-c", SEARCHER, json.dumps([app.config["SEARCH_INDEX_DIR"], str(stop_file)])],
                         cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER,
                          json.dumps([config, number, ROUNDS, cooperative_owner.email, catalogue])],
                         cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for number in range(PROCESSES)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    stop_file.touch()
    searched = [searcher.communicate(timeout=300) for searcher in searchers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
        assert len(out.splitlines()) == ROUNDS
        assert _problems_in(err) == [], err
    for searcher, (out, err) in zip(searchers, searched):
        assert searcher.returncode == 0, err
        report = json.loads(out)
        assert report["errors"] == [] and report["searches"] > 0, report
    search_index.close_searchers()
    assert sync.check(app) == {}  # no missing, extra, stale or duplicate document, no change left unapplied
    assert all(_searchable_names(app).values())


# ---------------------------------------------------------------- gunicorn, 4 workers

def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(base, method, path, token=None, body=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Accept", "application/json")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@pytest.fixture
def gunicorn(app, database, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url(database),
        "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "MAIL_BACKEND": "console",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "4", "--bind", f"127.0.0.1:{port}", "--timeout", "120",
             "--error-logfile", "-", "wsgi:app"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if _call(base, "GET", "/healthz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "gunicorn did not start:\n" + log_path.read_text()
            time.sleep(0.2)  # polling a process we do not control
        yield base, log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_with_four_workers_edited_and_searched_at_once(app, cooperative_owner, catalogue, gunicorn):
    base, log_path = gunicorn
    _token, secret = accounts.create_api_token(cooperative_owner, "concurrency test")
    failures, lock = [], threading.Lock()

    def editor(number):
        for round_ in range(ROUNDS):
            product_id = catalogue[(number * 3 + round_) % len(catalogue)]
            if round_ % 4 == 3:
                status, body = _call(base, "POST", f"/api/v1/products/{product_id}/hide", secret)
            elif round_ % 4 == 0:
                status, body = _call(base, "POST", f"/api/v1/products/{product_id}/publish", secret)
            else:
                status, body = _call(base, "PUT", f"/api/v1/products/{product_id}", secret, {
                    "name": f"Chè xanh w{number} r{round_} p{product_id}", "category": "beverages", "unit": "kg",
                    "base_price_vnd": 100000 + round_, "min_order_qty": 10})
            if status != 200:
                with lock:
                    failures.append((status, body))

    def searcher():
        for round_ in range(ROUNDS * 2):
            status, body = _call(base, "GET", f"/api/v1/search?q=che+xanh&page={1 + round_ % 2}&per_page=5")
            if status != 200:
                with lock:
                    failures.append((status, body))

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=searcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert failures == []
    log = log_path.read_text()
    assert "Booting worker" in log and _problems_in(log) == [], log

    search_index.close_searchers()
    assert sync.check(app) == {}
    assert all(_searchable_names(app).values())
    # Every worker answered searches with the latest documents: one more search through the server agrees.
    status, body = _call(base, "GET", "/api/v1/search?q=che+xanh&per_page=100")
    assert status == 200
    assert {r["id"] for r in body["results"]} == set(_searchable_names(app))
