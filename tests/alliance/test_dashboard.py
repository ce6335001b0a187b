"""Issue 11, overview: the alliance's dashboard (/alliance/dashboard). Its figures are checked against sums made
here from the test's own orders, certificates and organisations (not by the code under test); the charts are
inline SVG without script or style, each with its table; only alliance staff see it."""
import re
from datetime import timedelta

import pytest

from marketplace.accounts.models import AllianceClassification, Sector
from marketplace.agreements.models import ConferenceEvent
from marketplace.alliance import reports, tracking
from marketplace.alliance.tracking_models import TrackingStatus
from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import OrderStatus
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentMethod
from tests import factories


def place(buyer, lines, mou=None):
    request = factories.order_request(lines, agreement_id=mou.id if mou else None)
    order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(request))
    return order


def pay(seller, order):
    orders.confirm(seller, order.id)
    payment = payments.start_payment(order.placed_by, order.id, PaymentMethod.BANK_TRANSFER)
    payments.confirm_transfer(seller, payment.id, payment.amount_vnd)


def rows_of(report, key):
    return {reports.text(row[0]): row[1:] for row in report.table(key).rows}


@pytest.fixture
def trade(mou, buyer, seller, products):
    """The `mou` fixture (1,000 kg jelly at 90,000 ₫ and 1,000 kg bamboo at 250,000 ₫) at a conference, with a
    paid order, a delivered one, a cancelled one and an order outside any MoU."""
    event = ConferenceEvent(name="Hội nghị kết nối cung cầu Lạng Sơn 2024", held_on=tracking.today() - timedelta(days=40))
    db.session.add(event)
    seller.organisation.sector = Sector.TOURISM
    seller.organisation.province_code = 20  # Lạng Sơn
    seller.organisation.classification = AllianceClassification.GOOD
    mou.event = event
    db.session.commit()
    jelly, bamboo, _honey = products
    paid = place(buyer, [(jelly, 100), (bamboo, 10)], mou)
    pay(seller, paid)
    delivered = place(buyer, [(jelly, 40)], mou)
    pay(seller, delivered)
    orders.ship(seller, delivered.id, "Xe tải 12C-045.67")
    orders.deliver(buyer, delivered.id, [{"product_id": jelly.id, "quantity": 35}])
    cancelled = place(buyer, [(bamboo, 5)], mou)
    orders.cancel(buyer, cancelled.id, "Đổi kế hoạch")
    outside = place(buyer, [(jelly, 20)])
    return {"event": event, "orders": [paid, delivered, cancelled, outside], "under_mou": [paid, delivered, cancelled]}


def counted(order_list):
    return [o for o in order_list if o.status not in (OrderStatus.REJECTED, OrderStatus.CANCELLED)]


def test_the_dashboard_figures_are_those_of_the_data(trade, mou, alliance_user, seller, products):
    for order in trade["orders"]:
        db.session.refresh(order)
    under = counted(trade["under_mou"])
    committed = 1000 * 90_000 + 1000 * 250_000
    ordered = sum(line.line_total_vnd for o in under for line in o.lines)
    delivered = sum((line.quantity_received or 0) * line.unit_price_vnd for o in under for line in o.lines
                    if o.status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED))
    paid = sum(o.paid_vnd for o in under)  # each order is paid in full: its lines share it exactly
    assert delivered == 35 * 90_000 and paid == ordered

    report = reports.dashboard(alliance_user)

    status_rows = rows_of(report, "mous_by_status")
    assert status_rows[str(reports.text(TrackingStatus.ON_TRACK))] == [1, committed, ordered, delivered, paid]
    assert sum(row[0] for row in status_rows.values()) == 1
    assert [row[1] for row in report.table("committed_achieved").rows] == [committed, ordered, delivered, paid]
    event_name = f"Hội nghị kết nối cung cầu Lạng Sơn 2024 ({trade['event'].held_on.strftime('%d/%m/%Y')})"
    assert rows_of(report, "mous_by_event") == {event_name: [1, committed, ordered, delivered, paid]}
    assert rows_of(report, "mous_by_province") == {"Lạng Sơn": [1, committed, ordered, delivered, paid]}
    assert list(rows_of(report, "mous_by_sector").values()) == [[1, committed, ordered, delivered, paid]]

    month = counted(trade["orders"])  # all placed this month (Vietnam), the order outside the MoU included
    this_month = report.table("orders_by_month").rows[-1]
    assert this_month == [tracking.today().strftime("%m/%Y"), len(month), sum(o.total_vnd for o in month),
                          sum(o.paid_vnd for o in month)]
    assert len(report.table("orders_by_month").rows) == reports.MONTHS_SHOWN


def test_ocop_stars_expiring_certificates_and_classifications(app, alliance_user):
    today = tracking.today()
    good = factories.organisation("cooperative", classification=AllianceClassification.GOOD)
    factories.organisation("cooperative", classification=AllianceClassification.GOOD)
    factories.organisation("cooperative", classification=AllianceClassification.WEAK)
    factories.organisation("cooperative")  # not classified
    factories.organisation("cooperative", status="pending", classification=AllianceClassification.GOOD)  # not counted
    factories.product(good, stars=3)
    factories.product(good, stars=4, expires_on=today + timedelta(days=90), name="Trà hoa vàng")  # expiring
    factories.product(good, stars=5, expires_on=today + timedelta(days=91))  # not within 90 days
    factories.product(good, stars=4, expires_on=today - timedelta(days=1))  # expired: no stars
    factories.product(good, stars=5, certificate_status="pending")  # not verified: no stars
    twice = factories.product(good, stars=3)  # rated 3 then 4 stars: counts once, as 4
    factories.product(twice.cooperative, stars=None)
    from marketplace.catalog.models import CertificateStatus, OcopCertificate
    db.session.add(OcopCertificate(product=twice, stars=4, certificate_no="LS-2", expires_on=today + timedelta(days=400),
                                   status=CertificateStatus.VERIFIED))
    db.session.commit()

    report = reports.dashboard(alliance_user)
    assert [(str(reports.text(r[0]))[0], r[1]) for r in report.table("ocop_by_stars").rows] == [
        ("3", 1), ("4", 2), ("5", 1)]
    expiring = report.table("certificates_expiring").rows
    assert [(r[0], r[4]) for r in expiring] == [("Trà hoa vàng", today + timedelta(days=90))]
    classes = {reports.text(r[0]): r[1] for r in report.table("cooperatives_by_classification").rows}
    assert list(classes.values()) == [2, 0, 1, 1]  # good, average, weak, not classified


def test_only_alliance_staff_read_the_figures(app, cooperative_owner, enterprise_owner):
    for user in (cooperative_owner, enterprise_owner):
        with pytest.raises(Forbidden):
            reports.dashboard(user)


@pytest.mark.parametrize("who, status", [("alliance", 200), ("cooperative", 403), ("enterprise", 403)])
def test_the_page_is_for_alliance_staff(client, auth, alliance_user, cooperative_owner, enterprise_owner, who,
                                        status):
    auth.login({"alliance": alliance_user, "cooperative": cooperative_owner, "enterprise": enterprise_owner}[who]
               .email)
    assert client.get("/alliance/dashboard").status_code == status
    for fmt in ("csv", "xlsx", "pdf"):
        assert client.get(f"/alliance/dashboard.{fmt}").status_code == status


def test_the_page_shows_accessible_charts_with_their_tables(client, auth, english, trade, alliance_user):
    trade["event"].name = '"><script>alert(1)</script> Hội nghị'
    db.session.commit()
    auth.login(alliance_user.email)
    response = client.get("/alliance/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 8
    for svg in svgs:
        assert 'role="img"' in svg and "<title " in svg and "<desc " in svg
        assert "<script" not in svg and "<style" not in svg and "style=" not in svg
        assert "width=" not in svg.split(">", 1)[0]  # scales with the page (viewBox, CSS width 100%)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert any("&lt;script&gt;alert(1)" in svg for svg in svgs)  # the chart's label and <desc>, escaped
    assert html.count("<table") == html.count("<caption")
    assert "Signed MoUs by tracking status" in html and 'href="/alliance/dashboard.xlsx"' in html
    assert f'href="/alliance/conferences/{trade["event"].id}"' in html
    assert "css/charts.css" in html
    assert 'href="/alliance/dashboard"' in html  # the alliance's menu links it
    ids = re.findall(r'<svg[^>]*\bid="([^"]+)"', html)
    assert len(ids) == len(svgs) == len(set(ids))  # each chart its own id (aria-labelledby points into it)
    again = client.get("/alliance/dashboard").get_data(as_text=True)
    assert re.findall(r"<svg\b.*?</svg>", again, flags=re.S) == svgs  # the same figures, the same charts


def test_a_chart_is_drawn_once_for_the_same_figures(app):
    from marketplace.alliance import charts

    charts._rendered.cache_clear()
    first = charts.bar_chart("MoU theo tỉnh", "Lạng Sơn: 4", ["Lạng Sơn"], [("MoU", [4])], whole_numbers=True)
    again = charts.bar_chart("MoU theo tỉnh", "Lạng Sơn: 4", ["Lạng Sơn"], [("MoU", [4])], whole_numbers=True)
    other = charts.bar_chart("MoU theo ngành", "Lạng Sơn: 4", ["Lạng Sơn"], [("MoU", [4])], whole_numbers=True)
    changed = charts.bar_chart("MoU theo tỉnh", "Lạng Sơn: 5", ["Lạng Sơn"], [("MoU", [5])], whole_numbers=True)
    assert again == first and charts._rendered.cache_info().hits == 1
    ids = [re.search(r'<svg[^>]*\bid="([^"]+)"', str(svg)).group(1) for svg in (first, other, changed)]
    assert len(set(ids)) == 3  # the same bars under another title are another chart


def test_orders_count_in_the_vietnamese_month_they_were_placed(mou, buyer, products):
    """31/01 at 18:00 UTC is already 01/02 in Vietnam (UTC+7): the SQL month is Vietnam's, on both databases."""
    from datetime import UTC, datetime

    from marketplace.orders import queries as order_queries

    late = place(buyer, [(products[0], 10)], mou)
    early = place(buyer, [(products[0], 20)], mou)
    late.placed_at = datetime(2026, 1, 31, 18, 0, tzinfo=UTC)  # 01:00 on 1 February in Vietnam
    early.placed_at = datetime(2026, 1, 31, 16, 59, tzinfo=UTC)  # 23:59 on 31 January in Vietnam
    db.session.commit()
    months = {m.month: (m.orders, m.value_vnd) for m in order_queries.orders_by_month(agreement_ids=[mou.id])}
    assert months == {"2026-01": (1, early.total_vnd), "2026-02": (1, late.total_vnd)}
    assert order_queries.orders_by_month(since=datetime(2026, 1, 31, 17, 0, tzinfo=UTC),
                                         agreement_ids=[mou.id])[0].month == "2026-02"


def test_a_label_with_a_control_character_is_drawn_without_it(app):
    from marketplace.alliance import charts

    svg = str(charts.bar_chart("Hội nghị\x0b 2024", "Lạng Sơn\x01: 4", ["Lạng\x1f Sơn\x00"], [("MoU\x08", [4])]))
    assert "Lạng Sơn" in svg and "Hội nghị 2024" in svg
    assert not any(ord(character) < 32 and character not in "\t\n\r" for character in svg)
