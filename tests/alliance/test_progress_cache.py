"""Every signed MoU's progress and the needs-attention lists kept in each worker's memory (alliance/progress_cache.py,
issue 14), never stale: each test reads the follow-up list and the dashboard in one app (a worker, with its own
memory), checks that a second read comes from that memory (no query of the totals under MoUs), changes an input
through the services in a second app on the same database (another worker), and reads the pages again at once
from the first: an order placed, paid and delivered under an MoU, an MoU recorded as carried out, a milestone
added and marked done, and the day. Each fails if the follow-up's version is not bumped by that change."""
import re
from datetime import timedelta

import pytest

from marketplace import versions
from marketplace.agreements import services as agreement_services
from marketplace.alliance import milestones, tracking
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentMethod
from tests import factories
from tests.support import AuthActions, statements_of

FOLLOW_UP, DASHBOARD = "/alliance/follow-up", "/alliance/dashboard"
ACHIEVED = "Committed against achieved value of the signed MoUs"
BY_STATUS = "Signed MoUs by tracking status"


@pytest.fixture
def stalled(buyer, seller, products):
    """Signed 60 days ago for 361 days, no order yet: stalled. 1,000 kg of jelly at 90,000 ₫, 1,000 kg of bamboo
    shoots at 250,000 ₫."""
    today = tracking.today()
    return factories.signed_mou(buyer.organisation, seller.organisation, {products[0]: 90_000, products[1]: 250_000},
                                start=today - timedelta(days=60), end=today + timedelta(days=300))


@pytest.fixture
def reader(app, make_app, alliance_user):
    """(the other worker, its client logged in as alliance staff, in English); `app` is the worker that writes."""
    other = make_app()
    client = other.test_client()
    client.post("/language", data={"lang": "en"})
    assert AuthActions(client).login(alliance_user.email).status_code == 302
    return other, client


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True).replace("\xa0", " ")


def table(html, caption):
    """{row heading: [the row's numbers]} of the dashboard's table with this caption."""
    section = html.split(f"{caption}</caption>")[1].split("</table>")[0]
    return {name: [int(re.sub(r"\D", "", cell) or 0) for cell in re.findall(r"<td[^>]*>([^<]*)</td>", cells)]
            for name, cells in re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', section)}


def achieved(client):
    return {name: values[0] for name, values in table(page(client, DASHBOARD), ACHIEVED).items()}


def by_status(client):
    return {name: values[0] for name, values in table(page(client, DASHBOARD), BY_STATUS).items()}


def reasons(client, path=FOLLOW_UP):
    return re.findall(r"<li>([^<]+)</li>", page(client, path).split("<tbody", 1)[-1])


def assert_kept(reader):
    """The follow-up list and the dashboard, read again, come from the worker's memory: the version is read, the
    MoUs' totals are not (a stale page below could otherwise not be told from a recomputed one)."""
    other, client = reader
    for path in (FOLLOW_UP, DASHBOARD, "/home"):
        page(client, path)
        sent, _page = statements_of(other, lambda path=path: page(client, path))
        assert any("data_version" in s for s in sent), path
        assert not any("agreement_product_totals" in s or "agreement_order_summary" in s for s in sent), (path, sent)


def place(buyer, lines, mou):
    request = factories.order_request(lines, agreement_id=mou.id)
    order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(request))
    return order


def test_an_order_placed_paid_and_delivered_under_an_mou_shows_at_once(reader, stalled, buyer, seller, products):
    _other, client = reader
    assert "No order for 60 days" in reasons(client)
    assert achieved(client) == {"Committed": 340_000_000, "Ordered": 0, "Delivered": 0, "Paid": 0}
    assert_kept(reader)

    order = place(buyer, [(products[0], 250)], stalled)  # 22,500,000 ₫
    assert "No order for 60 days" not in reasons(client)
    assert achieved(client) == {"Committed": 340_000_000, "Ordered": 22_500_000, "Delivered": 0, "Paid": 0}
    assert "MoUs needing attention" in page(client, "/home") and "No order for 60 days" not in page(client, "/home")

    assert_kept(reader)
    orders.confirm(seller, order.id)
    payment = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
    payments.confirm_transfer(seller, payment.id, payment.amount_vnd)
    assert achieved(client)["Paid"] == 22_500_000

    assert_kept(reader)
    orders.ship(seller, order.id, "Xe tải 12C-045.67")
    orders.deliver(buyer, order.id, [{"product_id": products[0].id, "quantity": 35}])
    assert achieved(client) == {"Committed": 340_000_000, "Ordered": 22_500_000, "Delivered": 35 * 90_000,
                                "Paid": 22_500_000}


def test_an_mou_recorded_as_carried_out_shows_at_once(reader, stalled, alliance_user):
    _other, client = reader
    assert by_status(client)["Stalled"] == 1 and by_status(client)["Completed"] == 0
    assert_kept(reader)
    agreement_services.complete(alliance_user, stalled.id)
    assert by_status(client)["Stalled"] == 0 and by_status(client)["Completed"] == 1
    assert reasons(client) == []
    assert stalled.reference in page(client, f"{FOLLOW_UP}?status=completed")


def test_a_milestone_added_and_marked_done_shows_at_once(reader, stalled, alliance_user):
    _other, client = reader
    assert reasons(client) == ["No order for 60 days"]
    assert_kept(reader)
    details = milestones.MilestoneDetails(title="Giao mẫu thử", responsible="seller",
                                          due_on=tracking.today() - timedelta(days=1))
    milestone = milestones.add(alliance_user, stalled.id, details)
    assert reasons(client) == ["No order for 60 days", "Overdue milestones: 1"]

    assert_kept(reader)
    milestones.mark_done(alliance_user, stalled.id, milestone.id, note="Đã giao 5 kg mẫu")  # a conditional UPDATE
    assert reasons(client) == ["No order for 60 days"]


def test_the_next_day_shows_at_once(reader, stalled, buyer, seller, products, monkeypatch):
    """The day in the key: tomorrow the stalled MoU has waited a day longer, and an MoU ending today has expired.
    The Vietnamese day is patched where the follow-up and the kept pages read it (not the clock: sessions signed now
    would look as if from the future)."""
    _other, client = reader
    today = tracking.today()
    factories.signed_mou(buyer.organisation, seller.organisation, {products[2]: 280_000},
                         start=today - timedelta(days=100), end=today)
    assert set(reasons(client)) == {"No order for 60 days", "No order for 100 days", "The term ends in 0 days"}
    assert by_status(client)["Stalled"] == 2 and by_status(client)["Expired"] == 0
    assert_kept(reader)
    monkeypatch.setattr(tracking, "today", lambda: today + timedelta(days=1))
    monkeypatch.setattr(catalog_services, "today", lambda: today + timedelta(days=1))
    assert reasons(client) == ["No order for 61 days"]
    assert by_status(client)["Stalled"] == 1 and by_status(client)["Expired"] == 1


# ---------------------------------------------------------------- the follow-up's version

def version():
    return versions.read(db.session, versions.FOLLOW_UP)


def test_each_change_of_an_input_adds_one_to_the_version_and_other_changes_nothing(app, stalled, buyer, seller,
                                                                                     products, alliance_user,
                                                                                     stopped_clock):
    start = version()
    order = place(buyer, [(products[0], 10)], stalled)  # the order, its lines, events and the totals: one commit
    assert version() == start + 1
    orders.confirm(seller, order.id)
    assert version() == start + 2
    milestone = milestones.add(alliance_user, stalled.id, milestones.MilestoneDetails(
        title="Kiểm tra kho", responsible="seller", due_on=tracking.today() + timedelta(days=5)))
    assert version() == start + 3
    milestones.mark_done(alliance_user, stalled.id, milestone.id, note="Xong")
    assert version() == start + 4

    outside = factories.order_request([(products[2], 5)])  # no MoU: no total under an MoU changes
    orders.place_orders(buyer, orders.OrderRequest.from_mapping(outside))
    product = db.session.get(Product, products[2].id)
    product.base_price_vnd = 310_000  # a catalogue change, not the follow-up's
    db.session.commit()
    assert version() == start + 4
    assert versions.read(db.session, versions.CATALOGUE) > 0


def test_nothing_is_kept_from_a_transaction_that_changed_the_inputs_and_did_not_commit(app, stalled, alliance_user):
    assert tracking.progress_map()[stalled.id].state.value == "signed"
    stalled.end_date = tracking.today() - timedelta(days=1)  # not committed: the list computed now sees it ended
    assert tracking.progress_map()[stalled.id].status == tracking.TrackingStatus.EXPIRED
    db.session.rollback()
    assert tracking.progress_map()[stalled.id].status == tracking.TrackingStatus.STALLED


def test_the_cache_can_be_turned_off(make_app, alliance_user, stalled):
    other = make_app(FOLLOW_UP_CACHE=False, PRIVATE_PAGE_CACHE_SECONDS=0)
    client = other.test_client()
    AuthActions(client).login(alliance_user.email)
    page(client, FOLLOW_UP)
    sent, _page = statements_of(other, lambda: page(client, FOLLOW_UP))
    assert any("agreement_product_totals" in s for s in sent)
