"""API v1 of orders and payments (marketplace/api/orders.py, marketplace/api/idempotency.py): the contract's field
names, every status code (201, 200, 400, 401, 403, 404, 409, 422), a whole order by token from placing it to
completed, Idempotency-Key (a retry, a reused key, two requests at once against a real server), and 404 for every
organisation that is not a party, on every route. Answers are checked against the OpenAPI document."""
import json
import threading
import time
from datetime import date, timedelta

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from marketplace.accounts import services as accounts
from marketplace.api import idempotency
from marketplace.catalog.models import CapacityPeriod, Unit
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import IdempotentRequest, Order, OrderStatus, PaymentMode
from marketplace.payments import stripe_gateway
from marketplace.payments.models import Payment, PaymentSettings
from marketplace.sqltypes import utcnow
from tests import factories
from tests.support import assert_documented, assert_json_error, statements_of

SOON = date.today() + timedelta(days=14)

ORDER_FIELDS = {"id", "reference", "status", "buyer", "cooperative", "agreement_id", "lines", "total_vnd", "paid_vnd",
                "payments", "events"}
LINE_FIELDS = {"product_id", "name", "unit", "quantity", "unit_price_vnd", "line_total_vnd"}
PAYMENT_FIELDS = {"id", "method", "amount_vnd", "status", "purpose", "reference"}
EVENT_FIELDS = {"kind", "status", "at", "organisation_id", "note"}


@pytest.fixture
def world(app, alliance_user):
    thach = factories.user(factories.organisation("cooperative", legal_name="HTX Thạch đen Tràng Định"),
                           email="thach@htx.example")
    hoi = factories.user(factories.organisation("cooperative", legal_name="HTX Hồi Văn Quan"), email="hoi@htx.example")
    buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                           email="mua@dn.example")
    rival = factories.user(factories.organisation("enterprise", legal_name="Công ty Đối thủ"), email="khac@dn.example")
    db.session.add(PaymentSettings(organisation_id=thach.organisation_id, mode=PaymentMode.FULL, bank_bin="970436",
                                   account_number="0011001932418", account_name="HTX THACH DEN TRANG DINH"))
    db.session.commit()
    products = {
        "thach": factories.product(thach.organisation, name="Thạch đen", unit=Unit.TAN, min_order_qty=1,
                                   base_price_vnd=40_000_000, tiers=[(5, 36_000_000)], capacity_qty=10,
                                   capacity_period=CapacityPeriod.MONTH, lead_time_days=3),
        "hoi": factories.product(hoi.organisation, name="Hồi khô", unit=Unit.KG, base_price_vnd=250_000),
    }
    users = {"thach": thach, "hoi": hoi, "buyer": buyer, "rival": rival, "alliance": alliance_user}
    tokens = {name: accounts.create_api_token(user, "ERP")[1] for name, user in users.items()}
    return {"users": users, "products": products, "tokens": tokens}


def call(client, world, who, method, path, json=None, headers=None, **kwargs):
    headers = {"Authorization": f"Bearer {world['tokens'][who]}", **(headers or {})}
    return client.open(f"/api/v1{path}", method=method, json=json, headers=headers, **kwargs)


def order_body(world, items=(("thach", 2),), **changes):
    body = factories.order_request([(world["products"][name], quantity) for name, quantity in items],
                                   requested_date=SOON)
    body.update(changes)
    return body


def place(client, world, items=(("thach", 2),), who="buyer", headers=None, **changes):
    return call(client, world, who, "POST", "/orders", order_body(world, items, **changes), headers=headers)


def orders_in_database():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Order))


# ---------------------------------------------------------------- placing orders

def test_a_checkout_over_two_cooperatives_answers_201_with_one_order_each(client, world):
    response = place(client, world, [("thach", 5), ("hoi", 30)], po_number="PO-778", notes="Giao buổi sáng")
    assert response.status_code == 201, response.json
    orders = assert_documented(response, "POST", "/orders")["orders"]
    assert sorted(o["cooperative"]["name"] for o in orders) == ["HTX Hồi Văn Quan", "HTX Thạch đen Tràng Định"]
    thach = next(o for o in orders if o["cooperative"]["id"] == world["users"]["thach"].organisation_id)
    assert set(thach) >= ORDER_FIELDS
    assert thach["status"] == "placed" and thach["reference"].startswith("DH-")
    assert thach["buyer"] == {"id": world["users"]["buyer"].organisation_id, "name": "Công ty Thực phẩm Sạch"}
    assert thach["cooperative"] == {"id": world["users"]["thach"].organisation_id, "name": "HTX Thạch đen Tràng Định"}
    assert thach["agreement_id"] is None and thach["po_number"] == "PO-778" and thach["notes"] == "Giao buổi sáng"
    line, = thach["lines"]
    assert set(line) >= LINE_FIELDS
    assert {k: line[k] for k in LINE_FIELDS} == {
        "product_id": world["products"]["thach"].id, "name": "Thạch đen", "unit": "tan", "quantity": 5,
        "unit_price_vnd": 36_000_000, "line_total_vnd": 180_000_000}
    assert (thach["total_vnd"], thach["paid_vnd"], thach["payments"]) == (180_000_000, 0, [])
    event, = thach["events"]
    assert set(event) == EVENT_FIELDS
    assert (event["kind"], event["status"], event["organisation_id"]) == \
        ("placed", "placed", world["users"]["buyer"].organisation_id)
    assert thach["delivery"] == {"province_code": 20, "commune_code": 6040, "street": "Số 12 đường Trần Đăng Ninh",
                                 "requested_date": SOON.isoformat(), "address": thach["delivery"]["address"]}
    assert thach["payment_terms"] == {"mode": "full", "deposit_percent": None, "before_shipping_vnd": 180_000_000}
    assert orders_in_database() == 2


def test_the_answer_of_a_checkout_is_the_orders_as_stored(client, world):
    """The answer is written from the orders in memory before the commit (not read again after it): it must be
    what reading each order back gives, field for field."""
    placed = place(client, world, [("thach", 5), ("hoi", 30)], po_number="PO-1", notes="Sáng").json["orders"]
    assert len(placed) == 2
    for order in placed:
        assert call(client, world, "buyer", "GET", f"/orders/{order['id']}").json == order


def test_a_checkout_answers_without_reading_its_orders_again(app, client, world):
    """Once the orders are written, nothing of them is read back for the answer (it used to take four more queries
    in a transaction of their own); on PostgreSQL their ids come from the sequence first, so they are inserted once
    with their references and never updated."""
    sent, response = statements_of(app, lambda: place(client, world, [("thach", 5), ("hoi", 30)]))
    assert response.status_code == 201
    written = next(n for n, statement in enumerate(sent) if statement.startswith("INSERT INTO customer_order"))
    tables = ("customer_order", "order_line", "order_event", "payment")
    assert not [s for s in sent[written:] if s.startswith("SELECT") and any(f"FROM {t}" in s for t in tables)]
    if db.engine.dialect.name == "postgresql":
        assert not [s for s in sent if s.startswith("UPDATE customer_order")]
        assert sum(s.startswith("INSERT INTO customer_order") for s in sent) == 1


def test_an_mou_in_force_sets_the_prices(client, world):
    mou = factories.signed_mou(world["users"]["buyer"].organisation, world["users"]["thach"].organisation,
                               {world["products"]["thach"]: 30_000_000})
    order, = place(client, world, agreement_id=mou.id).json["orders"]
    assert order["agreement_id"] == mou.id
    assert (order["lines"][0]["unit_price_vnd"], order["lines"][0]["price_source"]) == (30_000_000, "agreement")


def test_short_capacity_is_409_and_creates_nothing(client, world):
    assert place(client, world, [("thach", 8)]).status_code == 201
    response = place(client, world, [("hoi", 10), ("thach", 3)])
    error = assert_json_error(response, 409, "insufficient_capacity")
    assert_documented(response, "POST", "/orders")
    assert list(error["details"]["fields"]) == ["lines.1.quantity"] and "2" in error["details"]["fields"][
        "lines.1.quantity"]
    assert orders_in_database() == 1


def test_a_checkout_short_of_capacity_writes_no_order_it_must_take_back(app, client, world):
    """Capacity is held before the orders' rows are written: a refusal sends no INSERT of an order, a line or an
    event (on PostgreSQL; SQLite inserts the orders first to learn their ids)."""
    assert place(client, world, [("thach", 8)]).status_code == 201
    sent, response = statements_of(app, lambda: place(client, world, [("hoi", 10), ("thach", 3)]))
    assert_json_error(response, 409, "insufficient_capacity")
    if db.engine.dialect.name == "postgresql":
        tables = ("customer_order", "order_line", "order_event")
        assert not [s for s in sent if any(s.startswith(f"INSERT INTO {t} ") for t in tables)], sent
    assert orders_in_database() == 1


def test_bad_quantities_dates_and_addresses_are_422_per_field(client, world):
    body = order_body(world, [("thach", 0), ("hoi", 30)])
    body["lines"].append({"product_id": 2**40, "quantity": 1})
    body["delivery"].update(commune_code=1, street="  ", requested_date=(date.today() + timedelta(days=1)).isoformat())
    body["agreement_id"] = 999_999
    response = call(client, world, "buyer", "POST", "/orders", body)
    error = assert_json_error(response, 422, "validation_failed")
    assert_documented(response, "POST", "/orders")
    assert set(error["details"]["fields"]) == {"lines.0.quantity", "lines.2.product_id", "delivery.commune_code",
                                               "delivery.street", "delivery.requested_date", "agreement_id"}
    for date_value, message_part in (("2026-02-30", "YYYY-MM-DD"), ((date.today() + timedelta(days=800)).isoformat(),
                                                                    "")):
        response = place(client, world, delivery={**body["delivery"], "commune_code": 6040, "street": "Số 1",
                                                  "requested_date": date_value})
        assert set(assert_json_error(response, 422)["details"]["fields"]) == {"delivery.requested_date"}
        assert message_part in response.json["error"]["details"]["fields"]["delivery.requested_date"]
    empty = call(client, world, "buyer", "POST", "/orders", {})
    assert {"lines", "delivery.province_code", "delivery.street", "delivery.requested_date"} <= set(
        assert_json_error(empty, 422)["details"]["fields"])
    assert orders_in_database() == 0


@pytest.mark.parametrize(("changes", "fields"), [
    ({"lines": "thach"}, {"lines"}),
    ({"lines": [{"product_id": "1", "quantity": 1.5, "colour": "red"}]},
     {"lines.0.product_id", "lines.0.quantity", "lines.0.colour"}),
    ({"delivery": "Hà Nội"}, {"delivery"}),
    ({"delivery": {"province_code": "20", "commune_code": 6040, "street": 12, "requested_date": "14/07/2026",
                   "floor": 3}},
     {"delivery.province_code", "delivery.street", "delivery.requested_date", "delivery.floor"}),
    ({"po_number": 778, "notes": ["a"], "agreement_id": "3"}, {"po_number", "notes", "agreement_id"}),
])
def test_values_of_the_wrong_json_type_are_422(client, world, changes, fields):
    response = place(client, world, **changes)
    assert set(assert_json_error(response, 422, "validation_failed")["details"]["fields"]) == fields
    assert_documented(response, "POST", "/orders")


def test_whole_numbers_may_have_a_zero_fraction(client, world):
    response = place(client, world, lines=[{"product_id": float(world["products"]["thach"].id), "quantity": 2.0}])
    assert response.status_code == 201, response.json


def test_bodies_that_are_not_an_order_are_400(client, world):
    response = place(client, world, status="paid")
    assert set(assert_json_error(response, 400, "unknown_fields")["details"]["fields"]) == {"status"}
    assert_documented(response, "POST", "/orders")
    for data, content_type in (("not json", "application/json"), ("[1, 2]", "application/json"),
                               ("lines=1", "application/x-www-form-urlencoded")):
        response = client.post("/api/v1/orders", data=data, content_type=content_type,
                               headers={"Authorization": f"Bearer {world['tokens']['buyer']}"})
        assert_json_error(response, 400, "invalid_json")
    assert orders_in_database() == 0


def test_an_organisation_that_may_not_order_gets_403(client, world):
    pending = factories.user(factories.organisation("enterprise", status="pending"), email="cho@dn.example")
    world["tokens"]["pending"] = accounts.create_api_token(pending, "ERP")[1]
    for who, code in (("thach", "wrong_organisation_kind"), ("alliance", "wrong_organisation_kind"),
                      ("pending", "organisation_not_verified")):
        response = place(client, world, who=who)
        assert_json_error(response, 403, code)
        assert_documented(response, "POST", "/orders")
    assert orders_in_database() == 0


def test_no_token_no_cookie_is_401(client, world, auth):
    assert_json_error(client.post("/api/v1/orders", json=order_body(world)), 401, "unauthenticated")
    auth.login(world["users"]["buyer"].email)
    assert_json_error(client.post("/api/v1/orders", json=order_body(world)), 401, "unauthenticated")
    assert_json_error(client.get("/api/v1/orders"), 401, "unauthenticated")
    assert orders_in_database() == 0


# ---------------------------------------------------------------- Idempotency-Key

KEY = {"Idempotency-Key": "0b6c8a2e-6a55-4c1e-9d0c-6d0c3f7f1a2b"}


def test_a_retry_with_the_same_key_returns_the_first_answer_and_orders_once(client, world):
    first = place(client, world, [("thach", 2), ("hoi", 30)], headers=KEY)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    call(client, world, "thach", "POST", f"/orders/{first.json['orders'][1]['id']}/confirm")  # changes meanwhile
    # The same object written otherwise (key order, spacing) is the same request.
    body = order_body(world, [("thach", 2), ("hoi", 30)])
    rewritten = json.dumps(dict(reversed(list(body.items()))), indent=4)
    assert rewritten != json.dumps(body)
    again = client.post("/api/v1/orders", data=rewritten, content_type="application/json",
                        headers={"Authorization": f"Bearer {world['tokens']['buyer']}", **KEY})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json  # the first answer, as it was
    assert_documented(again, "POST", "/orders")
    assert orders_in_database() == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotentRequest)) == 1
    assert place(client, world, [("thach", 2), ("hoi", 30)]).status_code == 201  # no key: a new checkout
    assert orders_in_database() == 4


def test_the_same_key_with_another_request_is_422(client, world):
    assert place(client, world, headers=KEY).status_code == 201
    response = place(client, world, [("thach", 3)], headers=KEY)
    error = assert_json_error(response, 422, "idempotency_key_reused")
    assert_documented(response, "POST", "/orders")
    assert set(error["details"]["fields"]) == {"Idempotency-Key"}
    assert orders_in_database() == 1


def test_keys_belong_to_their_user(client, world):
    colleague = factories.user(world["users"]["buyer"].organisation, email="ke-toan@dn.example", role="member")
    world["tokens"]["colleague"] = accounts.create_api_token(colleague, "ERP")[1]
    assert place(client, world, headers=KEY).status_code == 201
    response = place(client, world, who="colleague", headers=KEY)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert orders_in_database() == 2


def test_a_refusal_is_stored_and_replayed_too(client, world):
    assert place(client, world, [("thach", 8)]).status_code == 201
    refused = place(client, world, [("thach", 3)], headers=KEY)
    assert_json_error(refused, 409, "insufficient_capacity")
    services.cancel(world["users"]["buyer"], db.session.scalar(sa.select(Order.id)), "Đổi kế hoạch")
    again = place(client, world, [("thach", 3)], headers=KEY)  # capacity is free now, but the key was answered
    assert_json_error(again, 409, "insufficient_capacity")
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == refused.json
    assert place(client, world, [("thach", 3)], headers={"Idempotency-Key": "new-key"}).status_code == 201
    invalid = place(client, world, [("thach", 0)], headers={"Idempotency-Key": "bad-quantity"})
    replayed = place(client, world, [("thach", 0)], headers={"Idempotency-Key": "bad-quantity"})
    assert (invalid.status_code, replayed.status_code, replayed.headers["Idempotent-Replayed"]) == (422, 422, "true")


def test_a_refusal_rolls_back_what_the_service_did_but_keeps_the_stored_answer(client, world):
    """The capacity of the first line was reserved before the second line was found short: the savepoint
    undoes it, the stored answer commits."""
    hoi = world["products"]["hoi"]
    hoi.capacity_qty, hoi.capacity_period = 100, CapacityPeriod.YEAR
    db.session.commit()
    assert place(client, world, [("thach", 8)]).status_code == 201
    response = place(client, world, [("hoi", 50), ("thach", 3)], headers=KEY)
    assert_json_error(response, 409, "insufficient_capacity")
    from marketplace.orders import capacity

    assert capacity.available(hoi, capacity.period_key(hoi, SOON)) == 100
    assert db.session.scalar(sa.select(IdempotentRequest.status_code)) == 409


def test_a_server_error_is_not_stored_and_the_retry_runs(client, world, monkeypatch):
    original = services.place_orders

    def broken(actor, request, **kwargs):
        original(actor, request, **kwargs)  # the orders are written, then something unexpected fails
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "place_orders", broken)
    with pytest.raises(RuntimeError):  # TESTING propagates it; in production it is a 500
        place(client, world, headers=KEY)
    assert orders_in_database() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotentRequest)) == 0
    monkeypatch.setattr(services, "place_orders", original)
    response = place(client, world, headers=KEY)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert orders_in_database() == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "khóa", "a b", "tab\there"])
def test_a_malformed_key_is_400_and_not_stored(client, world, key):
    response = place(client, world, headers={"Idempotency-Key": key})
    error = assert_json_error(response, 400, "invalid_parameter")
    assert_documented(response, "POST", "/orders")
    assert set(error["details"]["fields"]) == {"Idempotency-Key"}
    assert orders_in_database() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotentRequest)) == 0


def test_the_longest_key_is_accepted(client, world):
    key = {"Idempotency-Key": "k" * 255}
    assert place(client, world, headers=key).status_code == 201
    assert place(client, world, headers=key).headers["Idempotent-Replayed"] == "true"
    assert orders_in_database() == 1


def test_a_key_is_free_again_after_24_hours_and_old_answers_are_pruned(client, world):
    assert place(client, world, headers=KEY).status_code == 201
    db.session.execute(sa.update(IdempotentRequest).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    response = place(client, world, [("thach", 3)], headers=KEY)  # another body: fine, the key has expired
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert orders_in_database() == 2
    assert place(client, world, headers={"Idempotency-Key": "old"}).status_code == 201
    db.session.execute(sa.update(IdempotentRequest).where(IdempotentRequest.key == "old")
                       .values(created_at=utcnow() - timedelta(hours=24, seconds=1)))
    db.session.commit()
    assert idempotency.prune() == 1
    assert db.session.scalars(sa.select(IdempotentRequest.key)).all() == [KEY["Idempotency-Key"]]
    result = client.application.test_cli_runner().invoke(args=["api", "prune-idempotency-keys"])
    assert result.exit_code == 0 and "0" in result.output


def test_a_key_claimed_between_the_lookup_and_the_claim_is_replayed(client, world, monkeypatch):
    """The race simulated: the lookup misses a row that another request commits just before this one's
    claim; the claim fails on the unique constraint, the work is rolled back, the stored answer is given."""
    assert place(client, world, headers=KEY).status_code == 201
    stored = idempotency._stored
    misses = []

    def lookup_that_misses_once(user_id, key):
        if not misses:
            misses.append(key)
            return None
        return stored(user_id, key)

    monkeypatch.setattr(idempotency, "_stored", lookup_that_misses_once)
    response = place(client, world, headers=KEY)
    assert response.status_code == 201 and response.headers["Idempotent-Replayed"] == "true"
    assert orders_in_database() == 1 and misses
    other = place(client, world, [("thach", 1)], headers={"Idempotency-Key": "other"})
    assert other.status_code == 201


@pytest.fixture
def server(app):
    """The app behind a real threaded HTTP server (werkzeug), for requests that must run at the same time."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}/api/v1"
    http.shutdown()
    thread.join(timeout=10)


def test_two_requests_with_the_same_key_at_once_order_once(app, world, server, monkeypatch):
    """The first request holds its claim (inside its unit of work) until the second has looked the key up, found
    nothing committed, and gone on to claim it: the second waits for the first to commit, fails on the unique
    constraint, rolls back and answers with the first's answer."""
    headers = {"Authorization": f"Bearer {world['tokens']['buyer']}", **KEY}
    assert requests.get(f"{server}/me", headers=headers, timeout=10).status_code == 200  # token use noted now
    looked_up, lookups, placements = threading.Event(), [], []
    stored, place_orders = idempotency._stored, services.place_orders

    def counted_lookup(user_id, key):
        row = stored(user_id, key)
        lookups.append(row)
        if len(lookups) == 2:
            looked_up.set()
        return row

    def held_place_orders(actor, request, **kwargs):
        placements.append(threading.current_thread().name)
        assert looked_up.wait(20), "the second request never looked the key up"
        time.sleep(0.5)  # the second request is now waiting on the claim
        return place_orders(actor, request, **kwargs)

    monkeypatch.setattr(idempotency, "_stored", counted_lookup)
    monkeypatch.setattr(services, "place_orders", held_place_orders)
    answers, body = [None, None], order_body(world)

    def send(index):
        answers[index] = requests.post(f"{server}/orders", json=body, headers=headers, timeout=60)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    threads[0].start()
    deadline = time.monotonic() + 20
    while not placements and threads[0].is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)  # the first is inside place_orders before the second starts
    assert placements, answers[0] and answers[0].text
    threads[1].start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true"]
    assert len(placements) == 1  # the second never ran the service
    assert lookups[:2] == [None, None] and lookups[2] is not None  # it replayed after its claim failed
    db.session.expire_all()
    assert orders_in_database() == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotentRequest)) == 1


def test_a_burst_of_retries_with_one_key_orders_once(app, world, server):
    headers = {"Authorization": f"Bearer {world['tokens']['buyer']}", **KEY}
    requests.get(f"{server}/me", headers=headers, timeout=10)
    start, answers, body = threading.Barrier(6), [], order_body(world)

    def send():
        start.wait(10)
        answers.append(requests.post(f"{server}/orders", json=body, headers=headers, timeout=60))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [201] * 6, [a.text for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 5
    db.session.expire_all()
    assert orders_in_database() == 1


# ---------------------------------------------------------------- reading

def test_the_list_filters_and_pages(client, world):
    mou = factories.signed_mou(world["users"]["buyer"].organisation, world["users"]["thach"].organisation,
                               {world["products"]["thach"]: 30_000_000})
    first, = place(client, world, agreement_id=mou.id).json["orders"]
    place(client, world, [("thach", 1), ("hoi", 10)])
    call(client, world, "thach", "POST", f"/orders/{first['id']}/confirm")
    response = call(client, world, "buyer", "GET", "/orders")
    listed = assert_documented(response, "GET", "/orders")
    assert (listed["total"], listed["page"], len(listed["results"])) == (3, 1, 3)
    assert set(listed["results"][0]) >= ORDER_FIELDS
    assert [o["id"] for o in call(client, world, "buyer", "GET", "/orders?status=confirmed").json["results"]] == \
        [first["id"]]
    assert [o["id"] for o in call(client, world, "buyer", "GET", f"/orders?agreement_id={mou.id}").json["results"]] == \
        [first["id"]]
    second_page = call(client, world, "buyer", "GET", "/orders?per_page=2&page=2").json
    assert (second_page["total"], second_page["page"], len(second_page["results"])) == (3, 2, 1)
    assert call(client, world, "thach", "GET", "/orders").json["total"] == 2
    assert call(client, world, "hoi", "GET", "/orders").json["total"] == 1
    for who in ("rival", "alliance"):
        assert call(client, world, who, "GET", "/orders").json == {"results": [], "total": 0, "page": 1}
    detail = call(client, world, "thach", "GET", f"/orders/{first['id']}")
    assert assert_documented(detail, "GET", "/orders/{order_id}")["status"] == "confirmed"


@pytest.mark.parametrize("query", ["status=shipping", "agreement_id=0", "agreement_id=abc", f"agreement_id={2**31}",
                                   "page=0", "per_page=101", "per_page=", "colour=red", "lang=vi"])
def test_bad_or_unknown_list_parameters_are_400(client, world, query):
    response = call(client, world, "buyer", "GET", f"/orders?{query}")
    error = assert_json_error(response, 400, "invalid_parameter")
    assert query.split("=")[0] in error["details"]["fields"]
    assert_documented(response, "GET", "/orders")


def test_every_bad_parameter_is_named_at_once_and_the_detail_takes_none(client, world):
    error = assert_json_error(call(client, world, "buyer", "GET", "/orders?status=x&page=-1&colour=red"), 400)
    assert set(error["details"]["fields"]) == {"status", "page", "colour"}
    order, = place(client, world).json["orders"]
    assert_json_error(call(client, world, "buyer", "GET", f"/orders/{order['id']}?expand=lines"), 400,
                      "invalid_parameter")


def test_a_page_of_orders_takes_a_fixed_number_of_queries(app, client, world):
    def queries_for(per_page):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            response = call(client, world, "buyer", "GET", f"/orders?per_page={per_page}")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert len(response.json["results"]) == per_page
        return len(statements)

    for _ in range(3):
        place(client, world, [("thach", 1), ("hoi", 10)])
    order_id = call(client, world, "buyer", "GET", "/orders").json["results"][0]["id"]
    call(client, world, "thach", "POST", f"/orders/{order_id}/confirm")
    call(client, world, "buyer", "POST", f"/orders/{order_id}/payments", {"method": "bank_transfer"})
    assert queries_for(2) == queries_for(6)  # no query per order (N+1)


# ---------------------------------------------------------------- the whole way, and the actions' errors

def test_the_whole_way_through_the_api(client, world, outbox):
    order, = place(client, world, [("thach", 2)]).json["orders"]
    path = f"/orders/{order['id']}"
    confirmed = call(client, world, "thach", "POST", f"{path}/confirm")
    assert assert_documented(confirmed, "POST", "/orders/{order_id}/confirm")["status"] == "confirmed"
    assert confirmed.json["amount_due_vnd"] == 80_000_000

    started = call(client, world, "buyer", "POST", f"{path}/payments", {"method": "bank_transfer"})
    payment = assert_documented(started, "POST", "/orders/{order_id}/payments")
    assert started.status_code == 201 and set(payment) >= PAYMENT_FIELDS | {"vietqr", "client_secret"}
    assert (payment["method"], payment["purpose"], payment["amount_vnd"], payment["status"]) == \
        ("bank_transfer", "full", 80_000_000, "pending")
    assert payment["client_secret"] is None
    qr = payment["vietqr"]
    assert qr["reference"] == payment["reference"] and qr["payload"].startswith("000201")
    assert "970436" in qr["payload"] and "0011001932418" in qr["payload"] and payment["reference"] in qr["payload"]
    assert (qr["bank_name"], qr["account_number"], qr["amount_vnd"]) == (qr["bank_name"], "0011001932418", 80_000_000)
    again = call(client, world, "buyer", "POST", f"{path}/payments", {"method": "bank_transfer"})
    assert again.json["id"] == payment["id"]  # a retry gives the pending payment again

    received = call(client, world, "thach", "POST", f"/payments/{payment['id']}/received", {"amount_vnd": 80_000_000})
    assert assert_documented(received, "POST", "/payments/{payment_id}/received")["status"] == "succeeded"
    assert received.json["paid_at"] is not None and "vietqr" not in received.json
    # Confirmed twice, it counts once, and the answer says why (the payment is recorded), not "bad amount".
    twice = call(client, world, "thach", "POST", f"/payments/{payment['id']}/received", {"amount_vnd": 80_000_000})
    assert_json_error(twice, 409, "payment_not_possible")

    paid = call(client, world, "buyer", "GET", path).json
    assert (paid["status"], paid["paid_vnd"], paid["amount_due_vnd"]) == ("paid", 80_000_000, 0)
    assert [p["status"] for p in paid["payments"]] == ["succeeded"] and set(paid["payments"][0]) >= PAYMENT_FIELDS
    shipped = call(client, world, "thach", "POST", f"{path}/ship", {"delivery_note": "Xe tải 12C-123.45, 2 bao"})
    assert assert_documented(shipped, "POST", "/orders/{order_id}/ship")["status"] == "shipped"
    assert shipped.json["lines"][0]["quantity_shipped"] == 2 and shipped.json["delivery_note"].startswith("Xe tải")
    delivered = call(client, world, "buyer", "POST", f"{path}/deliver")
    assert assert_documented(delivered, "POST", "/orders/{order_id}/deliver")["status"] == "completed"
    assert delivered.json["lines"][0]["quantity_received"] == 2
    assert [(e["kind"], e["status"]) for e in delivered.json["events"]] == [
        ("placed", "placed"), ("confirmed", "confirmed"), ("payment_started", "awaiting_payment"),
        ("paid", "paid"), ("shipped", "shipped"), ("delivered", "delivered"), ("completed", "completed")]
    assert delivered.json["events"][1]["organisation_id"] == world["users"]["thach"].organisation_id
    assert any(order["reference"] in m.subject for m in outbox)


def test_a_deposit_partial_shipment_and_the_balance(client, world):
    settings = db.session.get(PaymentSettings, world["users"]["thach"].organisation_id)
    settings.mode, settings.deposit_percent = PaymentMode.DEPOSIT, 30
    db.session.commit()
    order, = place(client, world, [("thach", 2)]).json["orders"]
    path = f"/orders/{order['id']}"
    assert order["payment_terms"] == {"mode": "deposit", "deposit_percent": 30, "before_shipping_vnd": 24_000_000}
    call(client, world, "thach", "POST", f"{path}/confirm")
    deposit = call(client, world, "buyer", "POST", f"{path}/payments", {"method": "bank_transfer"}).json
    assert (deposit["purpose"], deposit["amount_vnd"]) == ("deposit", 24_000_000)
    call(client, world, "thach", "POST", f"/payments/{deposit['id']}/received", {"amount_vnd": 24_000_000})
    twice = call(client, world, "thach", "POST", f"/payments/{deposit['id']}/received", {"amount_vnd": 24_000_000})
    assert_json_error(twice, 409, "payment_not_possible")
    assert_documented(twice, "POST", "/payments/{payment_id}/received")
    assert call(client, world, "buyer", "GET", path).json["paid_vnd"] == 24_000_000
    product_id = world["products"]["thach"].id
    shipped = call(client, world, "thach", "POST", f"{path}/ship",
                   {"delivery_note": "Phiếu giao 0457", "lines": [{"product_id": product_id, "quantity": 1}]})
    assert shipped.json["lines"][0]["quantity_shipped"] == 1
    delivered = call(client, world, "buyer", "POST", f"{path}/deliver",
                     {"lines": [{"product_id": product_id, "quantity": 1}]}).json
    assert (delivered["status"], delivered["amount_due_vnd"]) == ("delivered", 56_000_000)
    balance = call(client, world, "buyer", "POST", f"{path}/payments", {"method": "bank_transfer"}).json
    assert (balance["purpose"], balance["amount_vnd"]) == ("balance", 56_000_000)
    too_much = call(client, world, "thach", "POST", f"/payments/{balance['id']}/received", {"amount_vnd": 56_000_001})
    assert set(assert_json_error(too_much, 422, "validation_failed")["details"]["fields"]) == {"amount_vnd"}
    call(client, world, "thach", "POST", f"/payments/{balance['id']}/received", {"amount_vnd": 56_000_000})
    assert call(client, world, "buyer", "GET", path).json["status"] == "completed"


def test_a_card_payment_gives_the_client_secret(client, world, monkeypatch):
    class Intent:
        id, client_secret = "pi_123", "pi_123_secret_456"

    monkeypatch.setattr(stripe_gateway, "cards_enabled", lambda: True, raising=False)
    monkeypatch.setattr(stripe_gateway, "create_payment_intent", lambda *args, **kwargs: Intent(), raising=False)
    order, = place(client, world).json["orders"]
    call(client, world, "thach", "POST", f"/orders/{order['id']}/confirm")
    response = call(client, world, "buyer", "POST", f"/orders/{order['id']}/payments", {"method": "card"})
    payment = assert_documented(response, "POST", "/orders/{order_id}/payments")
    assert (payment["method"], payment["client_secret"], payment["vietqr"]) == ("card", "pi_123_secret_456", None)


def test_refused_actions_answer_their_codes(client, world):
    order, = place(client, world).json["orders"]
    path = f"/orders/{order['id']}"
    for who, method, suffix, body, status, code in (
            ("thach", "POST", "/ship", {"delivery_note": "Phiếu giao"}, 409, "invalid_transition"),  # not paid
            ("buyer", "POST", "/confirm", None, 409, "invalid_transition"),  # the cooperative confirms
            ("buyer", "POST", "/deliver", None, 409, "invalid_transition"),
            ("buyer", "POST", "/payments", {"method": "bank_transfer"}, 409, "payment_not_possible"),  # nothing due
            ("thach", "POST", "/payments", {"method": "bank_transfer"}, 409, "invalid_transition"),
            ("thach", "POST", "/reject", {"reason": "  "}, 422, "validation_failed"),
            ("thach", "POST", "/reject", None, 422, "validation_failed"),
            ("buyer", "POST", "/cancel", {"reason": 5}, 422, "validation_failed"),
            ("thach", "POST", "/confirm", {"note": "x"}, 400, "unknown_fields"),
            ("thach", "POST", "/ship", {"delivery_note": "x", "lines": [{"product_id": 1, "quantity": "2"}]}, 422,
             "validation_failed"),
    ):
        response = call(client, world, who, method, f"{path}{suffix}", body)
        assert_json_error(response, status, code)
        assert_documented(response, method, "/orders/{order_id}" + suffix)
    call(client, world, "thach", "POST", f"{path}/confirm")
    card = call(client, world, "buyer", "POST", f"{path}/payments", {"method": "card"})
    assert_json_error(card, 409, "payment_not_possible")  # Stripe is not configured
    cash = call(client, world, "buyer", "POST", f"{path}/payments", {"method": "cash"})
    assert set(assert_json_error(cash, 422, "validation_failed")["details"]["fields"]) == {"method"}
    payment = call(client, world, "buyer", "POST", f"{path}/payments", {"method": "bank_transfer"}).json
    own = call(client, world, "buyer", "POST", f"/payments/{payment['id']}/received", {"amount_vnd": 1})
    assert_json_error(own, 404)  # the buyer does not confirm its own transfer
    rejected = call(client, world, "thach", "POST", f"{path}/reject", {"reason": "Hết hàng"})
    assert_json_error(rejected, 409, "invalid_transition")  # confirmed: too late to reject
    cancelled = call(client, world, "buyer", "POST", f"{path}/cancel", {"reason": "Đổi kế hoạch"})
    assert assert_documented(cancelled, "POST", "/orders/{order_id}/cancel")["status"] == "cancelled"
    assert cancelled.json["status_reason"] == "Đổi kế hoạch" and cancelled.json["payments"][0]["status"] == "cancelled"
    late = call(client, world, "thach", "POST", f"/payments/{payment['id']}/received", {"amount_vnd": 80_000_000})
    assert_json_error(late, 409, "payment_not_possible")
    rejected_order, = place(client, world).json["orders"]
    response = call(client, world, "thach", "POST", f"/orders/{rejected_order['id']}/reject", {"reason": "Mưa lũ"})
    assert assert_documented(response, "POST", "/orders/{order_id}/reject")["status"] == "rejected"


def test_a_pending_cooperative_cannot_fulfil(client, world):
    order, = place(client, world).json["orders"]
    cooperative = world["users"]["thach"].organisation
    cooperative.status = "suspended"
    db.session.commit()
    response = call(client, world, "thach", "POST", f"/orders/{order['id']}/confirm")
    assert_json_error(response, 403, "organisation_not_verified")
    assert_documented(response, "POST", "/orders/{order_id}/confirm")


# ---------------------------------------------------------------- third parties

ROUTES = [
    ("GET", "/orders/{order_id}", None),
    ("POST", "/orders/{order_id}/confirm", None),
    ("POST", "/orders/{order_id}/reject", {"reason": "Không"}),
    ("POST", "/orders/{order_id}/cancel", {"reason": "Không"}),
    ("POST", "/orders/{order_id}/ship", {"delivery_note": "Phiếu giao"}),
    ("POST", "/orders/{order_id}/deliver", {}),
    ("POST", "/orders/{order_id}/payments", {"method": "bank_transfer"}),
    ("POST", "/payments/{payment_id}/received", {"amount_vnd": 1000}),
]


@pytest.mark.parametrize("stranger", ["rival", "hoi", "alliance"])
def test_an_organisation_that_is_not_a_party_gets_404_on_every_route(client, world, stranger):
    order, = place(client, world).json["orders"]
    call(client, world, "thach", "POST", f"/orders/{order['id']}/confirm")
    payment = call(client, world, "buyer", "POST", f"/orders/{order['id']}/payments", {"method": "bank_transfer"}).json
    before = call(client, world, "buyer", "GET", f"/orders/{order['id']}").json
    for method, template, body in ROUTES:
        path = template.format(order_id=order["id"], payment_id=payment["id"])
        response = call(client, world, stranger, method, path, body)
        assert_json_error(response, 404, "not_found")
        assert_documented(response, method, template)
    for missing in (10**6, 2**31 - 1):  # an order that does not exist answers the same
        assert call(client, world, stranger, "GET", f"/orders/{missing}").status_code == 404
    assert order["id"] not in [o["id"] for o in call(client, world, stranger, "GET", "/orders").json["results"]]
    assert call(client, world, "buyer", "GET", f"/orders/{order['id']}").json == before
    assert db.session.get(Payment, payment["id"]).status.value == "pending"
    assert db.session.get(Order, order["id"]).status == OrderStatus.AWAITING_PAYMENT


def test_text_is_stored_without_nul_characters(client, world):
    """PostgreSQL text cannot hold NUL: it is dropped, as in the agreements' terms (it used to be a 500 there)."""
    order, = place(client, world, po_number="PO\x00-1", notes="Giao\x00 sáng",
                   delivery={**order_body(world)["delivery"], "street": "Số 1\x00 Trần Đăng Ninh"}).json["orders"]
    assert (order["po_number"], order["notes"], order["delivery"]["street"]) == \
        ("PO-1", "Giao sáng", "Số 1 Trần Đăng Ninh")
    cancelled = call(client, world, "buyer", "POST", f"/orders/{order['id']}/cancel", {"reason": "Đổi\x00 ý"}).json
    assert cancelled["status_reason"] == "Đổi ý"
    assert_json_error(call(client, world, "buyer", "POST", f"/orders/{order['id']}/cancel", {"reason": "\x00"}), 422)
