"""API v1 of memoranda of understanding (marketplace/api/agreements.py): the list and detail shapes the issue
names, a whole negotiation and signature by token, the error codes (invalid_transition, superseded_revision,
already_signed, no_signing_right, 422 per field) and 404 for anyone who is not a party."""
from datetime import date, timedelta

import pytest

from marketplace.accounts import services as accounts
from marketplace.agreements.models import AgreementEventKind
from marketplace.extensions import db
from tests import factories

START = date.today() + timedelta(days=7)


@pytest.fixture
def world(app, alliance_user):
    seller = factories.user(factories.organisation("cooperative", legal_name="HTX Na Đồng Bành"), email="chu@htx.example")
    buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                           email="mua@dn.example")
    products = [factories.product(seller.organisation, name="Na dai", base_price_vnd=60000, tiers=[(1000, 50000)]),
                factories.product(seller.organisation, name="Mật ong", base_price_vnd=400000, unit="lit")]
    tokens = {name: accounts.create_api_token(user, "ERP")[1]
              for name, user in (("seller", seller), ("buyer", buyer), ("alliance", alliance_user))}
    return {"seller": seller, "buyer": buyer, "alliance": alliance_user, "products": products, "tokens": tokens}


def call(client, world, who, method, path, json=None, **kwargs):
    headers = {"Authorization": f"Bearer {world['tokens'][who]}"}
    return client.open(f"/api/v1{path}", method=method, json=json, headers=headers, **kwargs)


def body(world, **changes):
    values = {
        "counterparty_id": world["seller"].organisation_id,
        "lines": [{"product_id": world["products"][0].id, "quantity": 2000, "period": "month", "price_basis": "tier"},
                  {"product_id": world["products"][1].id, "quantity": 50, "period": "total", "price_basis": "reference",
                   "reference_price_vnd": 400000, "adjustment_percent": -5}],
        "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
        "delivery_place": "Kho Hà Nội", "quality_certifications": ["vietgap"], "clauses": ["Điều khoản một."],
        "witness": True, "note": "Đề xuất",
    }
    values.update(changes)
    return values


def test_a_negotiation_and_its_signatures_through_the_api(app, client, world):
    created = call(client, world, "buyer", "POST", "/agreements", body(world))
    assert created.status_code == 201, created.json
    agreement = created.json
    path = f"/agreements/{agreement['id']}"
    assert created.headers["Location"].endswith(f"/api/v1{path}")
    assert agreement["state"] == "draft" and agreement["reference"].startswith("MOU-")
    assert [(p["role"], p["name"]) for p in agreement["parties"]] == [
        ("seller", "HTX Na Đồng Bành"), ("buyer", "Công ty Thực phẩm Sạch"), ("witness", "Liên minh HTX tỉnh Lạng Sơn")]
    assert agreement["lines"] == [
        {"product_id": world["products"][0].id, "name": "Na dai", "unit": "kg", "quantity": 2000, "period": "month",
         "price_basis": "tier", "unit_price_vnd": 50000, "reference_price_vnd": None, "adjustment_percent": None},
        {"product_id": world["products"][1].id, "name": "Mật ong", "unit": "lit", "quantity": 50, "period": "total",
         "price_basis": "reference", "unit_price_vnd": 380000, "reference_price_vnd": 400000,
         "adjustment_percent": -5}]
    assert call(client, world, "seller", "GET", path).status_code == 404  # a draft is the buyer's own
    assert call(client, world, "buyer", "POST", f"{path}/send").json["state"] == "sent"

    countered = call(client, world, "seller", "POST", f"{path}/revisions",
                     {**{k: v for k, v in body(world).items() if k not in ("counterparty_id", "witness")},
                      "delivery_place": "Kho Hải Phòng"})
    assert countered.status_code == 200 and countered.json["state"] == "negotiating"
    assert [r["number"] for r in countered.json["revisions"]] == [1, 2]
    stale = call(client, world, "buyer", "POST", f"{path}/accept", {"revision_number": 1})
    assert (stale.status_code, stale.json["error"]["code"]) == (409, "superseded_revision")
    accepted = call(client, world, "buyer", "POST", f"{path}/accept", {"revision_number": 2})
    assert accepted.json["state"] == "awaiting_signatures" and accepted.json["document_url"]

    member = factories.user(world["seller"].organisation, email="tv@htx.example", role="member")
    world["tokens"]["member"] = accounts.create_api_token(member, "ERP")[1]
    refused = call(client, world, "member", "POST", f"{path}/sign", {"password": factories.PASSWORD})
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "no_signing_right")
    wrong = call(client, world, "seller", "POST", f"{path}/sign", {"password": "sai"})
    assert wrong.status_code == 422 and set(wrong.json["error"]["details"]["fields"]) == {"password"}
    superseded = call(client, world, "seller", "POST", f"{path}/sign", {"password": factories.PASSWORD,
                                                                        "revision_number": 1})
    assert (superseded.status_code, superseded.json["error"]["code"]) == (409, "superseded_revision")
    for who in ("seller", "buyer", "alliance"):
        signed = call(client, world, who, "POST", f"{path}/sign", {"password": factories.PASSWORD,
                                                                   "revision_number": 2})
        assert signed.status_code == 200, signed.json
    again = call(client, world, "buyer", "POST", f"{path}/sign", {"password": factories.PASSWORD})
    assert (again.status_code, again.json["error"]["code"]) == (409, "already_signed")
    detail = call(client, world, "buyer", "GET", path).json
    assert detail["state"] == "signed" and len(detail["signatures"]) == 3
    assert detail["signatures"][-1]["sha256_after"] == detail["document_sha256"]
    document = call(client, world, "buyer", "GET", f"{path}/document.pdf")
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    assert document.data.startswith(b"%PDF-")
    kinds = [e["kind"] for e in call(client, world, "buyer", "GET", path).json["events"]]
    assert kinds[-1] == AgreementEventKind.DOWNLOADED and kinds.count("signed") == 3

    asked = call(client, world, "buyer", "POST", f"{path}/void", {"reason": "Mất mùa"})
    assert asked.json["state"] == "signed" and asked.json["void_requested_by_id"] == world["buyer"].organisation_id
    assert call(client, world, "seller", "POST", f"{path}/void").json["state"] == "voided"


def test_errors_name_their_fields_and_codes(app, client, world):
    response = call(client, world, "buyer", "POST", "/agreements", body(world, lines=[
        {"product_id": world["products"][0].id, "quantity": 0, "period": "fortnight", "price_basis": "tier"},
        {"product_id": "7", "quantity": 5, "period": "month", "price_basis": "fixed"}], end_date="2020-01-01"))
    assert response.status_code == 422
    assert set(response.json["error"]["details"]["fields"]) == {"lines.1.product_id"}  # JSON types first
    response = call(client, world, "buyer", "POST", "/agreements", body(world, lines=[
        {"product_id": world["products"][0].id, "quantity": 0, "period": "fortnight", "price_basis": "tier"},
        {"product_id": world["products"][1].id, "quantity": 5, "period": "month", "price_basis": "fixed"}],
        end_date="2020-01-01"))
    assert response.status_code == 422
    assert set(response.json["error"]["details"]["fields"]) == {
        "lines.0.quantity", "lines.0.period", "lines.1.unit_price_vnd", "end_date"}
    unknown = call(client, world, "buyer", "POST", "/agreements", body(world, state="signed"))
    assert (unknown.status_code, unknown.json["error"]["code"]) == (400, "unknown_fields")
    bad_type = call(client, world, "buyer", "POST", "/agreements", body(world, start_date="07/12/2026", witness="yes"))
    assert set(bad_type.json["error"]["details"]["fields"]) == {"witness"}
    bad_date = call(client, world, "buyer", "POST", "/agreements", body(world, start_date="20261207"))
    assert set(bad_date.json["error"]["details"]["fields"]) == {"start_date"}
    huge = call(client, world, "buyer", "POST", "/agreements", body(world, counterparty_id=2**40))
    assert huge.status_code == 422 and "counterparty_id" in huge.json["error"]["details"]["fields"]
    not_trading = call(client, world, "alliance", "POST", "/agreements", body(world))
    assert (not_trading.status_code, not_trading.json["error"]["code"]) == (403, "wrong_organisation_kind")
    created = call(client, world, "buyer", "POST", "/agreements", body(world)).json
    turn = call(client, world, "buyer", "POST", f"/agreements/{created['id']}/accept")
    assert (turn.status_code, turn.json["error"]["code"]) == (409, "invalid_transition")
    reason = call(client, world, "buyer", "POST", f"/agreements/{created['id']}/withdraw", {"reason": " "})
    assert reason.status_code == 422 and set(reason.json["error"]["details"]["fields"]) == {"reason"}
    assert call(client, world, "buyer", "GET", "/agreements?state=nonsense&colour=red").json["error"]["details"][
        "fields"].keys() == {"state", "colour"}


def test_who_sees_what(app, client, world):
    created = call(client, world, "buyer", "POST", "/agreements", body(world)).json
    path = f"/agreements/{created['id']}"
    call(client, world, "buyer", "POST", f"{path}/send")
    stranger = factories.user(factories.organisation("enterprise"), email="khac@dn.example")
    world["tokens"]["stranger"] = accounts.create_api_token(stranger, "ERP")[1]
    for method, suffix, json in (("GET", "", None), ("GET", "/document.pdf", None), ("POST", "/send", None),
                                 ("POST", "/accept", {}), ("POST", "/decline", {"reason": "x"}),
                                 ("POST", "/withdraw", {"reason": "x"}), ("POST", "/sign", {"password": "x"}),
                                 ("POST", "/void", {"reason": "x"}), ("POST", "/revisions", body(world))):
        if suffix == "/revisions":
            json = {k: v for k, v in json.items() if k not in ("counterparty_id", "witness")}
        response = call(client, world, "stranger", method, f"{path}{suffix}", json)
        assert response.status_code == 404, (method, suffix, response.status_code)
    assert call(client, world, "stranger", "GET", "/agreements").json == {"results": [], "total": 0, "page": 1}
    listed = call(client, world, "seller", "GET", "/agreements").json
    assert [a["id"] for a in listed["results"]] == [created["id"]] and listed["total"] == 1
    assert set(listed["results"][0]) >= {"id", "reference", "state", "parties", "event_id", "start_date", "end_date",
                                         "lines"}
    staff = call(client, world, "alliance", "GET", f"/agreements?organisation_id={world['seller'].organisation_id}")
    assert staff.json["total"] == 1
    assert call(client, world, "alliance", "GET", path).status_code == 200  # witness and staff
    assert call(client, world, "buyer", "GET", "/agreements?state=draft").json["total"] == 0
    db.session.remove()
