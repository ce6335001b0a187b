"""It never oversells: 50 buyers ordering at the same moment against capacity for 10 orders get exactly 10
orders and 40 clear refusals (`insufficient_capacity`), on SQLite (no row locks: one writer at a time) and
on PostgreSQL (row locks, re-checked after the wait), with nothing else going wrong.

Two ways in, both with several processes sharing one database, as production does:
- through HTTP: 50 threads released together against `POST /api/v1/orders` of gunicorn with 4 sync
  workers, each buyer with its own API token (201 `{"orders": [...]}` or 409 `insufficient_capacity`);
- through the service: 4 processes × 12-13 threads, each thread in its own app context (its own session
  and connection) calling `orders.services.place_orders` once, all released together.

Scenarios: a capacity per month (10 a month, one unit each); stock on hand (10 units); two products
ordered together, listed in either order (PostgreSQL must not deadlock: lines are reserved in product
order). Afterwards the database holds exactly 10 orders and each product's CapacityUsage holds exactly 10.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace.accounts import services as accounts
from marketplace.catalog.models import CapacityPeriod
from marketplace.extensions import db
from marketplace.orders.models import CapacityUsage, Order, OrderLine
from tests import factories
from tests.support import BASE_CONFIG, gunicorn_server

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUYERS = 50
CAPACITY = 10
PROCESSES = 4
TIMEOUT = 120  # seconds for anything a test waits for: a hang fails, it does not block the run
SCENARIOS = {
    "month": [CapacityPeriod.MONTH],
    "stock": [CapacityPeriod.STOCK],
    "two_products_either_order": [CapacityPeriod.MONTH, CapacityPeriod.STOCK],
}


# ---------------------------------------------------------------- the data

def _buyers(count):
    """`count` verified enterprises, each with an owner and an API token: [(user id, token secret)]."""
    users = [factories.user(factories.organisation("enterprise", legal_name=f"Công ty Mua hàng số {n}"),
                            email=f"mua{n}@dn.example") for n in range(1, count + 1)]
    secrets = [accounts.create_api_token(user, "đặt hàng đồng thời")[1] for user in users]
    db.session.commit()
    return [(user.id, secret) for user, secret in zip(users, secrets)]


def _products(periods):
    """One verified cooperative's products with capacity for exactly CAPACITY orders of one unit each."""
    cooperative = factories.organisation("cooperative", legal_name="HTX Hồi Văn Quan")
    return [factories.product(cooperative, min_order_qty=1, order_increment=1, capacity_qty=CAPACITY,
                              capacity_period=period, lead_time_days=3, base_price_vnd=250_000)
            for period in periods]


def _requests(products):
    """One order request per buyer; with two products, every other buyer lists them the other way round."""
    requests = []
    for number in range(BUYERS):
        lines = [(product, 1) for product in products]
        if number % 2:
            lines.reverse()
        requests.append(factories.order_request(lines, po_number=f"PO-{number + 1}"))
    return requests


def _assert_exactly_capacity_held(products, rounds_done):
    """The round's products are in exactly CAPACITY orders, whose lines and CapacityUsage rows hold CAPACITY each;
    no other order exists than CAPACITY per round."""
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == CAPACITY * rounds_done
    ids = [product.id for product in products]
    orders = sa.select(sa.func.count(sa.distinct(OrderLine.order_id))).where(OrderLine.product_id.in_(ids))
    assert db.session.scalar(orders) == CAPACITY
    for product in products:
        ordered = db.session.scalar(sa.select(sa.func.sum(OrderLine.quantity)).filter_by(product_id=product.id))
        held = db.session.scalars(sa.select(CapacityUsage.reserved_qty).filter_by(product_id=product.id)).all()
        assert (ordered, held) == (CAPACITY, [CAPACITY])


# ---------------------------------------------------------------- through HTTP, gunicorn with 4 workers

def _post(url, secret, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _fire_together(url, calls):
    """POST every (secret, body) of `calls` from its own thread, all released by one barrier: [(status, body)]."""
    answers = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def buyer(index, secret, body):
        barrier.wait(timeout=TIMEOUT)
        try:
            status, raw = _post(url, secret, body)
        except Exception as error:  # noqa: BLE001 - a refused or dropped connection is an answer to count
            status, raw = None, repr(error).encode()
        try:
            answers[index] = (status, json.loads(raw))
        except ValueError:
            answers[index] = (status, raw.decode(errors="replace"))

    threads = [threading.Thread(target=buyer, args=(n, *call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    return [answer or (None, "no answer") for answer in answers]


def _refused_for_capacity(answer):
    status, body = answer
    return status == 409 and isinstance(body, dict) and body.get("error", {}).get("code") == "insufficient_capacity"


def test_fifty_buyers_at_once_over_http_get_exactly_ten_orders(app, database, tmp_path):
    rounds = {name: _products(periods) for name, periods in SCENARIOS.items()}
    buyers = _buyers(BUYERS)
    with gunicorn_server(database, tmp_path, workers=4) as (base, log_path):
        for done, (name, products) in enumerate(rounds.items(), start=1):
            answers = _fire_together(base + "/api/v1/orders",
                                     [(secret, body) for (_id, secret), body in zip(buyers, _requests(products))])
            placed = [a for a in answers if a[0] == 201]
            refused = [a for a in answers if _refused_for_capacity(a)]
            others = [a for a in answers if a not in placed and a not in refused]
            assert (len(placed), len(refused), others) == (CAPACITY, BUYERS - CAPACITY, []), name
            assert all(len(body["orders"]) == 1 for _status, body in placed), name
            _assert_exactly_capacity_held(products, done)
        log = log_path.read_text(errors="replace")
    assert log.count("Booting worker") == 4, log
    assert "Traceback" not in log and "database is locked" not in log and "deadlock" not in log, log


# ---------------------------------------------------------------- through the service, 4 processes × threads

# One launcher process imports the application once and forks PROCESSES workers (each builds its own app, so
# its own engine and connections); every worker runs its share of each round's buyers in threads, each thread
# in its own app context (its own session), all released by one cross-process event. Forking after the imports
# keeps four cold starts of the application off a shared two-core machine.
LAUNCHER = """
import json, multiprocessing, queue, sys, threading, time
from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.orders import services

config, shares = json.loads(sys.argv[1])  # per process, per round: [[user id, request]]
with create_app(config).app_context():  # every import done once, before the fork; no connection kept
    db.engine.dispose()


def buyer(app, user_id, request, prepared, go, outcome, index):
    with app.app_context():
        try:
            actor = db.session.get(User, user_id)
            actor.organisation.status  # loaded before the start, as a request loads its user first
        finally:
            prepared.wait()
        go.wait()
        started = time.perf_counter()
        try:
            orders = services.place_orders(actor, services.OrderRequest.from_mapping(request))
            result = ["placed", len(orders)]
        except services.InsufficientCapacity as error:
            result = ["short", sorted(error.errors)]
        except Exception as error:
            result = ["error", repr(error)]
        outcome[index] = [*result, round(time.perf_counter() - started, 3)]
        db.session.remove()


def worker(number, rounds, ready, go, results):
    app = create_app(config)
    for calls, event in zip(rounds, go):
        outcome = [None] * len(calls)
        prepared = threading.Barrier(len(calls) + 1)
        threads = [threading.Thread(target=buyer, args=(app, user_id, request, prepared, event, outcome, n))
                   for n, (user_id, request) in enumerate(calls)]
        for thread in threads:
            thread.start()
        prepared.wait()
        ready.put(number)
        for thread in threads:
            thread.join()
        results.put([number, outcome])


def collect(source, processes, count):
    # A worker that delivered its last result exits 0 while the others still work: only a failed exit, or
    # nothing for the whole timeout, is a death.
    got, deadline = [], time.monotonic() + 120  # TIMEOUT
    while len(got) < count:
        try:
            got.append(source.get(timeout=0.5))
        except queue.Empty:
            assert all(p.exitcode in (None, 0) for p in processes), "a worker process died"
            assert time.monotonic() < deadline, "no answer from the worker processes"
    return got


context = multiprocessing.get_context("fork")
ready, results = context.Queue(), context.Queue()
go = [context.Event() for _ in shares[0]]
processes = [context.Process(target=worker, args=(n, rounds, ready, go, results), daemon=True)
             for n, rounds in enumerate(shares)]
for process in processes:
    process.start()
for event in go:
    collect(ready, processes, len(processes))
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    event.set()
    outcomes = dict(collect(results, processes, len(processes)))
    print(json.dumps([result for n in sorted(outcomes) for result in outcomes[n]]), flush=True)
for process in processes:
    process.join()
sys.exit(max(process.exitcode for process in processes))
"""


class Checkouts:
    """The launcher of the worker processes; runs one round of concurrent checkouts at a time."""

    def __init__(self, config, rounds, tmp_path):
        """`rounds`: per round, the [(user id, request)] of every buyer; buyers are dealt to the processes."""
        shares = [[calls[number::PROCESSES] for calls in rounds] for number in range(PROCESSES)]
        self.log = tmp_path / "checkouts.log"
        with open(self.log, "wb") as err:
            # A session of its own: close() can end the launcher and every worker it forked, whatever happened.
            self.process = subprocess.Popen([sys.executable, "-c", LAUNCHER, json.dumps([config, shares])],
                                            cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=err, text=True, start_new_session=True)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next_line(self):
        line = self.lines.get(timeout=TIMEOUT)
        assert line is not None, f"the checkouts ended:\n{self.log.read_text(errors='replace')}"
        return line

    def run_round(self):
        """Wait until every thread of every process is ready, release them all; [[outcome, detail, seconds]]."""
        assert self._next_line().strip() == "ready"
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        return json.loads(self._next_line())

    def close(self):
        """Wait for the launcher to end (after TIMEOUT it is killed), then kill whatever of its process group is
        left (workers of a launcher that failed); its exit status and log."""
        self.process.stdin.close()
        try:
            self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.reader.join(timeout=TIMEOUT)  # the pipe is at its end once every holder is gone
        self.process.stdout.close()
        return self.process.returncode, self.log.read_text(errors="replace")


def test_fifty_checkouts_at_once_from_four_processes_make_exactly_ten_orders(app, database, tmp_path):
    rounds = {name: _products(periods) for name, periods in SCENARIOS.items()}
    buyers = _buyers(BUYERS)
    settings = {key: value for key, value in database.items() if key != "backend"}
    config = {**BASE_CONFIG, **settings, "UPLOAD_DIR": app.config["UPLOAD_DIR"],
              "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"], "SIGNING_DIR": app.config["SIGNING_DIR"]}
    checkouts = Checkouts(config, [[(user_id, request) for (user_id, _secret), request
                                    in zip(buyers, _requests(products))] for products in rounds.values()], tmp_path)
    try:
        for done, (name, products) in enumerate(rounds.items(), start=1):
            results = checkouts.run_round()
            outcomes = sorted(kind for kind, _detail, _seconds in results)
            errors = [detail for kind, detail, _seconds in results if kind == "error"]
            slowest = f"{name}: the slowest checkout took {max(seconds for *_, seconds in results)} s"
            assert (outcomes.count("placed"), outcomes.count("short"), errors) == \
                (CAPACITY, BUYERS - CAPACITY, []), slowest
            # A refusal names each short line (`lines.N.quantity`, with what is left), as the API shows it.
            assert all(detail and all(key.endswith(".quantity") for key in detail)
                       for kind, detail, _seconds in results if kind == "short"), name
            _assert_exactly_capacity_held(products, done)
    finally:
        status, log = checkouts.close()
    assert status == 0 and "Traceback" not in log and "locked" not in log, log
