"""Issue 11 over HTTP: the progress section of an MoU's page, the alliance's needs-attention page, and the API
(`GET /api/v1/agreements/<id>/progress`, `GET /api/v1/alliance/agreements`). Parties and alliance staff see an
MoU's progress, a third party gets 404; the list is the alliance's only (403 for others, as /alliance pages)."""
import re
from datetime import UTC, datetime, timedelta

import pytest

from marketplace.agreements.models import AgreementState
from marketplace.alliance import tracking
from marketplace.extensions import db
from marketplace.orders import services as orders
from tests import factories
from tests.support import assert_json_error, bearer, token_for


def place(buyer, lines, mou):
    request = factories.order_request(lines, agreement_id=mou.id)
    order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(request))
    return order


def progress_bars(html):
    return re.findall(r'<progress id="([^"]+)" max="100" value="(\d+)">', html)


# ---------------------------------------------------------------- the MoU page

@pytest.mark.parametrize("who", ["buyer", "seller", "alliance"])
def test_parties_and_the_alliance_see_the_progress_section(client, auth, english, mou, buyer, seller,
                                                           alliance_user, products, who):
    place(buyer, [(products[0], 250)], mou)  # 250 × 90,000 = 22,500,000 of 340,000,000
    auth.login({"buyer": buyer, "seller": seller, "alliance": alliance_user}[who].email)
    response = client.get(f"/agreements/{mou.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="progress-heading"' in html and "Progress per product" in html
    bars = dict(progress_bars(html))
    assert bars["progress-ordered"] == str(round(22_500_000 / 340_000_000 * 100))  # 7 %
    assert bars["ordered-1"] == "25" and bars["ordered-2"] == "0"  # 250 of 1,000 kg; no bamboo yet
    assert bars["progress-time"] == str(round(tracking.time_elapsed_ratio(mou.start_date, mou.end_date,
                                                                          tracking.today()) * 100))
    assert '<label for="progress-ordered">' in html  # every bar has its words


def test_a_third_party_gets_404_and_an_unsigned_mou_has_no_section(client, auth, mou, buyer, stranger):
    auth.login(stranger.email)
    assert client.get(f"/agreements/{mou.id}").status_code == 404
    auth.logout()
    mou.state, mou.signed_at = AgreementState.AWAITING_SIGNATURES, None
    db.session.commit()
    auth.login(buyer.email)
    html = client.get(f"/agreements/{mou.id}").get_data(as_text=True)
    assert 'id="progress-heading"' not in html


# ---------------------------------------------------------------- needs attention

def test_the_needs_attention_page_lists_stalled_mous_first_with_pages(client, auth, english, buyer, seller,
                                                                       products, alliance_user):
    today = tracking.today()
    stalled = [factories.signed_mou(buyer.organisation, seller.organisation, {products[0]: 90_000},
                                    start=today - timedelta(days=60 + i), end=today + timedelta(days=300))
               for i in range(21)]
    auth.login(alliance_user.email)
    html = client.get("/alliance/follow-up").get_data(as_text=True)
    references = re.findall(r">(MOU-2026-\d+)</a>", html)
    assert len(references) == 20 and "21 MoUs" in html
    assert "No order for 60 days" in html and "No order for 80 days" not in html  # same urgency and end: by id
    assert 'href="/alliance/follow-up?page=2' in html
    second = client.get("/alliance/follow-up?page=2").get_data(as_text=True)
    assert len(re.findall(r">(MOU-2026-\d+)</a>", second)) == 1 and "No order for 80 days" in second
    assert set(references) | set(re.findall(r">(MOU-2026-\d+)</a>", second)) == {m.reference for m in stalled}


def test_the_needs_attention_page_has_an_empty_state(client, auth, english, alliance_user, mou):
    auth.login(alliance_user.email)
    response = client.get("/alliance/follow-up")
    assert response.status_code == 200 and "No MoU needs attention today." in response.get_data(as_text=True)
    filtered = client.get("/alliance/follow-up?status=behind").get_data(as_text=True)
    assert "No signed MoU has this status." in filtered
    on_track = client.get("/alliance/follow-up?status=on_track").get_data(as_text=True)
    assert mou.reference in on_track


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_parties_cannot_open_the_needs_attention_page(client, auth, buyer, seller, who):
    auth.login({"buyer": buyer, "seller": seller}[who].email)
    assert client.get("/alliance/follow-up").status_code == 403


# ---------------------------------------------------------------- API

def test_the_progress_api_gives_the_documented_figures(client, mou, buyer, seller, products, alliance_user,
                                                       stranger):
    jelly = products[0]
    order = place(buyer, [(jelly, 120)], mou)
    for user in (buyer, seller, alliance_user):
        response = client.get(f"/api/v1/agreements/{mou.id}/progress", headers=bearer(token_for(user)))
        assert response.status_code == 200
        body = response.get_json()
        assert set(body) == {"agreement_id", "status", "time_elapsed_ratio", "volume_ratio", "last_order_at",
                             "lines"}
        assert body["agreement_id"] == mou.id and body["status"] == "on_track"
        assert body["volume_ratio"] == round(120 * 90_000 / 340_000_000, 4)
        assert datetime.fromisoformat(body["last_order_at"]) == order.placed_at
        assert body["lines"][0] == {"product_id": jelly.id, "committed_qty": 1000, "ordered_qty": 120,
                                    "delivered_qty": 0, "paid_vnd": 0, "committed_value_vnd": 90_000_000}
    assert_json_error(client.get(f"/api/v1/agreements/{mou.id}/progress", headers=bearer(token_for(stranger))),
                      404)
    assert client.get(f"/api/v1/agreements/{mou.id}/progress").status_code == 401


def test_the_progress_api_refuses_unknown_parameters_and_unsigned_mous(client, mou, buyer):
    headers = bearer(token_for(buyer))
    assert_json_error(client.get(f"/api/v1/agreements/{mou.id}/progress?x=1", headers=headers), 400,
                      "invalid_parameter")
    mou.state, mou.signed_at = AgreementState.SENT, None
    db.session.commit()
    assert_json_error(client.get(f"/api/v1/agreements/{mou.id}/progress", headers=headers), 404)


def test_the_alliance_list_is_for_staff_sorted_by_urgency(client, buyer, seller, products, alliance_user):
    today = tracking.today()
    behind = factories.signed_mou(buyer.organisation, seller.organisation, {products[1]: 250_000},
                                  start=today - timedelta(days=200), end=today + timedelta(days=165))
    place(buyer, [(products[1], 10)], behind)
    stalled = factories.signed_mou(buyer.organisation, seller.organisation, {products[0]: 90_000},
                                   start=today - timedelta(days=90), end=today + timedelta(days=275))
    waiting = factories.signed_mou(buyer.organisation, seller.organisation, {products[2]: 300_000})
    waiting.state, waiting.signed_at = AgreementState.PARTIALLY_SIGNED, None
    waiting.state_changed_at = datetime.now(UTC) - timedelta(days=9)
    db.session.commit()
    headers = bearer(token_for(alliance_user))

    body = client.get("/api/v1/alliance/agreements", headers=headers).get_json()
    assert [r["agreement_id"] for r in body["results"]] == [stalled.id, behind.id, waiting.id]
    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 20)
    assert [r["status"] for r in body["results"]] == ["stalled", "behind", None]
    assert body["results"][0]["reasons"][0]["code"] == "stalled"
    assert body["results"][2]["reasons"] == [{"code": "signatures_pending",
                                              "message": body["results"][2]["reasons"][0]["message"]}]
    only = client.get("/api/v1/alliance/agreements?status=behind&per_page=1", headers=headers).get_json()
    assert [r["agreement_id"] for r in only["results"]] == [behind.id] and only["total"] == 1
    assert_json_error(client.get("/api/v1/alliance/agreements?status=late", headers=headers), 400,
                      "invalid_parameter")
    for user in (buyer, seller):
        assert_json_error(client.get("/api/v1/alliance/agreements", headers=bearer(token_for(user))), 403,
                          "alliance_only")
