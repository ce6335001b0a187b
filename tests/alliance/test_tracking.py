"""Issue 11, the tracking core (marketplace/alliance/tracking.py) as use cases, without HTTP: the figures of a
signed MoU come from the orders under it (the expected ones are added up here from the test's own orders, not
by the code under test); placing, delivering and paying move them by exactly that much; the status boundaries;
who may read them; the needs-attention order; the daily command sends once a day."""
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from marketplace.agreements.models import AgreementState, Period
from marketplace.alliance import tracking
from marketplace.alliance.tracking import LineProgress, Progress, TrackingStatus
from marketplace.alliance.tracking_models import AgreementTracking, FollowUpRun, TrackingEvent
from marketplace.errors import Forbidden, NotFound
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import OrderStatus, PaymentMode
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentMethod, PaymentSettings
from tests import factories

CONFIG = {"FOLLOW_UP_BEHIND_MARGIN": 0.15, "FOLLOW_UP_STALLED_DAYS": 30}


def place(buyer, lines, mou=None):
    request = factories.order_request(lines, agreement_id=mou.id if mou else None)
    order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(request))
    return order


def pay(seller, order, amount=None):
    if order.status == OrderStatus.PLACED:
        orders.confirm(seller, order.id)
    payment = payments.start_payment(order.placed_by, order.id, PaymentMethod.BANK_TRANSFER)
    payments.confirm_transfer(seller, payment.id, amount or payment.amount_vnd)


def ship_and_deliver(seller, buyer, order, received=None):
    orders.ship(seller, order.id, "Xe tải 12C-045.67")
    orders.deliver(buyer, order.id, [{"product_id": p, "quantity": q} for p, q in (received or {}).items()])


def expected(orders_placed, product_id):
    """What the MoU's line should show, added up from the orders themselves."""
    counted = [o for o in orders_placed if o.status not in (OrderStatus.REJECTED, OrderStatus.CANCELLED)]
    ordered = delivered = paid = 0
    for order in counted:
        for line in order.lines:
            if line.product_id != product_id:
                continue
            ordered += line.quantity
            if order.status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED):
                delivered += line.quantity_received
            paid += line.line_total_vnd * order.paid_vnd // order.total_vnd
    return ordered, delivered, paid


def line_of(progress, product):
    return next(line for line in progress.lines if line.product_id == product.id)


# ---------------------------------------------------------------- figures

def test_the_figures_are_those_of_the_orders_under_the_mou(mou, buyer, seller, products, stranger):
    jelly, bamboo, honey = products
    first = place(buyer, [(jelly, 100), (bamboo, 40)], mou)  # paid in full, delivered short
    pay(seller, first)
    ship_and_deliver(seller, buyer, first, {jelly.id: 95})
    second = place(buyer, [(jelly, 50), (honey, 5)], mou)  # honey is not in the MoU
    pay(seller, second)
    third = place(buyer, [(jelly, 30)], mou)
    orders.cancel(buyer, third.id, "Đổi kế hoạch")
    place(buyer, [(jelly, 20)])  # not under the MoU
    db.session.refresh(first)

    progress = tracking.progress_of(buyer, mou.id)
    for product in (jelly, bamboo):
        line = line_of(progress, product)
        assert (line.ordered_qty, line.delivered_qty, line.paid_vnd) == expected([first, second, third], product.id)
    assert [line.product_id for line in progress.lines] == [jelly.id, bamboo.id]
    jelly_line = line_of(progress, jelly)
    assert (jelly_line.ordered_qty, jelly_line.delivered_qty) == (150, 95)
    assert (jelly_line.committed_qty, jelly_line.committed_value_vnd) == (1000, 90_000_000)
    ordered_value = sum(line.line_total_vnd for o in (first, second) for line in o.lines
                        if line.product_id in (jelly.id, bamboo.id))
    assert progress.ordered_vnd == ordered_value
    assert progress.volume_ratio == round(ordered_value / (90_000_000 + 250_000_000), 4)
    assert progress.time_elapsed_ratio == round(30 / 365, 4)
    assert progress.status == TrackingStatus.ON_TRACK


def test_placing_delivering_and_paying_move_progress_by_exactly_that(mou, buyer, seller, products):
    jelly = products[0]

    def now():
        line = line_of(tracking.progress_of(seller, mou.id), jelly)
        return line.ordered_qty, line.delivered_qty, line.paid_vnd

    before = now()
    order = place(buyer, [(jelly, 120)], mou)
    assert now() == (before[0] + 120, before[1], before[2])
    pay(seller, order)
    assert now() == (before[0] + 120, before[1], before[2] + 120 * 90_000)
    orders.ship(seller, order.id, "Xe tải")
    assert now() == (before[0] + 120, before[1], before[2] + 120 * 90_000)
    orders.deliver(buyer, order.id, [{"product_id": jelly.id, "quantity": 110}])
    assert now() == (before[0] + 120, before[1] + 110, before[2] + 120 * 90_000)


def test_a_deposit_counts_as_paid_and_the_balance_adds_the_rest(mou, buyer, seller, products):
    settings = db.session.get(PaymentSettings, seller.organisation_id)
    settings.mode, settings.deposit_percent = PaymentMode.DEPOSIT, 30
    db.session.commit()
    bamboo = products[1]
    order = place(buyer, [(bamboo, 10)], mou)
    pay(seller, order)
    assert line_of(tracking.progress_of(buyer, mou.id), bamboo).paid_vnd == 750_000  # 30% of 2,500,000
    ship_and_deliver(seller, buyer, order)
    pay(seller, order)
    assert line_of(tracking.progress_of(buyer, mou.id), bamboo).paid_vnd == 2_500_000


# ---------------------------------------------------------------- periods and status boundaries

@pytest.mark.parametrize(("period", "start", "end", "periods"), [
    (Period.TOTAL, date(2024, 12, 1), date(2027, 11, 30), 1),
    (Period.MONTH, date(2024, 12, 1), date(2027, 11, 30), 36),
    (Period.YEAR, date(2024, 12, 1), date(2027, 11, 30), 3),
    (Period.SEASON, date(2024, 12, 1), date(2027, 11, 30), 3),
    (Period.WEEK, date(2026, 1, 1), date(2026, 1, 14), 2),
    (Period.WEEK, date(2026, 1, 1), date(2026, 1, 15), 3),
    (Period.MONTH, date(2026, 1, 1), date(2026, 1, 10), 1),
])
def test_periods_in_a_term(period, start, end, periods):
    assert tracking.periods_in_term(period, start, end) == periods


def figures(on, ordered_vnd=0, delivered=0, last_order=None, state=AgreementState.SIGNED, start=date(2026, 1, 1),
            end=date(2026, 12, 31)):
    """A Progress of one line (1,000 kg at 1,000 ₫ over 2026) on the day `on`."""
    line = LineProgress(product_id=1, name="Na", unit="kg", period=Period.TOTAL, quantity_per_period=1000,
                        periods=1, unit_price_vnd=1000, ordered_qty=ordered_vnd // 1000, delivered_qty=delivered,
                        ordered_vnd=ordered_vnd)
    return Progress(agreement_id=1, reference="MOU", state=state, start_date=start, end_date=end, on=on,
                    status=TrackingStatus.ON_TRACK, time_elapsed_ratio=tracking.time_elapsed_ratio(start, end, on),
                    last_order_at=last_order, lines=[line])


def at(day):
    return datetime(day.year, day.month, day.day, 3, tzinfo=UTC)  # 10:00 in Vietnam


def test_behind_is_below_the_elapsed_share_by_more_than_the_margin(app):
    on = date(2026, 7, 2)  # day 182 of 365: elapsed 0.4986
    recent = at(on - timedelta(days=1))
    elapsed = tracking.time_elapsed_ratio(date(2026, 1, 1), date(2026, 12, 31), on)
    assert elapsed == round(182 / 365, 4)
    boundary = round((elapsed - 0.15) * 1_000_000)  # ordered value whose ratio equals elapsed − margin
    assert tracking.status_of(figures(on, boundary, last_order=recent), CONFIG) == TrackingStatus.ON_TRACK
    assert tracking.status_of(figures(on, boundary - 1000, last_order=recent), CONFIG) == TrackingStatus.BEHIND
    assert tracking.status_of(figures(on, boundary - 1000, last_order=recent),
                              {**CONFIG, "FOLLOW_UP_BEHIND_MARGIN": 0.5}) == TrackingStatus.ON_TRACK


def test_stalled_after_the_configured_days_without_an_order(app):
    on = date(2026, 7, 2)
    plenty = 900_000
    assert tracking.status_of(figures(on, plenty, last_order=at(on - timedelta(days=30))), CONFIG) == \
        TrackingStatus.ON_TRACK
    assert tracking.status_of(figures(on, plenty, last_order=at(on - timedelta(days=31))), CONFIG) == \
        TrackingStatus.STALLED
    # Without any order, the days count from the start of the term.
    assert tracking.status_of(figures(date(2026, 1, 31)), CONFIG) == TrackingStatus.ON_TRACK
    assert tracking.status_of(figures(date(2026, 2, 1)), CONFIG) == TrackingStatus.STALLED
    # Before the term begins nothing is late.
    assert tracking.status_of(figures(date(2025, 6, 1)), CONFIG) == TrackingStatus.ON_TRACK


def test_completed_and_expired(app):
    on = date(2026, 7, 2)
    assert tracking.status_of(figures(on, 1_000_000, delivered=1000), CONFIG) == TrackingStatus.COMPLETED
    assert tracking.status_of(figures(on, 1_000_000, delivered=999), CONFIG) == TrackingStatus.STALLED
    assert tracking.status_of(figures(on, state=AgreementState.COMPLETED), CONFIG) == TrackingStatus.COMPLETED
    assert tracking.status_of(figures(date(2027, 1, 1), 1_000_000, delivered=999), CONFIG) == TrackingStatus.EXPIRED
    assert tracking.status_of(figures(date(2026, 12, 31), 1_000_000, delivered=999,
                                      last_order=at(date(2026, 12, 30))), CONFIG) == TrackingStatus.ON_TRACK
    assert tracking.status_of(figures(on, state=AgreementState.EXPIRED), CONFIG) == TrackingStatus.EXPIRED


def test_statuses_of_real_mous(buyer, seller, products):
    jelly = products[0]
    today = tracking.today()
    fresh = factories.signed_mou(buyer.organisation, seller.organisation, {jelly: 90_000},
                                 start=today - timedelta(days=10), end=today + timedelta(days=355))
    idle = factories.signed_mou(buyer.organisation, seller.organisation, {products[1]: 250_000},
                                start=today - timedelta(days=100), end=today + timedelta(days=265))
    ended = factories.signed_mou(buyer.organisation, seller.organisation, {products[2]: 300_000},
                                 start=today - timedelta(days=400), end=today - timedelta(days=35))
    ended.state = AgreementState.EXPIRED
    db.session.commit()
    place(buyer, [(jelly, 100)], fresh)
    statuses = {i: p.status for i, p in tracking.progress_map().items()}
    assert statuses == {fresh.id: TrackingStatus.ON_TRACK, idle.id: TrackingStatus.STALLED,
                        ended.id: TrackingStatus.EXPIRED}


# ---------------------------------------------------------------- who may read it

def test_parties_and_the_alliance_read_progress_others_get_not_found(mou, buyer, seller, stranger, alliance_user):
    for user in (buyer, seller, alliance_user):
        assert tracking.progress_of(user, mou.id).agreement_id == mou.id
    with pytest.raises(NotFound):
        tracking.progress_of(stranger, mou.id)
    with pytest.raises(NotFound):
        tracking.progress_of(buyer, 999_999)


def test_an_unsigned_mou_has_no_progress(mou, buyer):
    mou.state, mou.signed_at = AgreementState.AWAITING_SIGNATURES, None
    db.session.commit()
    with pytest.raises(NotFound):
        tracking.progress_of(buyer, mou.id)


def test_only_alliance_staff_read_the_needs_attention_list(mou, buyer, seller, alliance_user):
    for user in (buyer, seller):
        with pytest.raises(Forbidden):
            tracking.needs_attention(user)
    assert tracking.needs_attention(alliance_user).total == 0


# ---------------------------------------------------------------- needs attention

def test_needs_attention_sorts_by_urgency(buyer, seller, products, alliance_user):
    today = tracking.today()
    jelly, bamboo, honey = products
    stalled = factories.signed_mou(buyer.organisation, seller.organisation, {jelly: 90_000},
                                   start=today - timedelta(days=100), end=today + timedelta(days=20))
    behind = factories.signed_mou(buyer.organisation, seller.organisation, {bamboo: 250_000},
                                  start=today - timedelta(days=200), end=today + timedelta(days=165))
    place(buyer, [(bamboo, 10)], behind)  # 1% after 55% of the term, ordered today
    on_track = factories.signed_mou(buyer.organisation, seller.organisation, {honey: 300_000},
                                    start=today - timedelta(days=5), end=today + timedelta(days=360))
    waiting = factories.signed_mou(buyer.organisation, seller.organisation, {honey: 300_000})
    waiting.state, waiting.signed_at = AgreementState.AWAITING_SIGNATURES, None
    waiting.state_changed_at = datetime.now(UTC) - timedelta(days=10)
    db.session.commit()

    page = tracking.needs_attention(alliance_user)
    assert [item.agreement_id for item in page.items] == [stalled.id, behind.id, waiting.id]
    assert page.items[0].codes == ["stalled", "ending_soon"]
    assert page.items[1].codes == ["behind"] and page.items[2].codes == ["signatures_pending"]
    assert page.items[2].progress is None
    assert on_track.id not in [item.agreement_id for item in page.items]
    second = tracking.needs_attention(alliance_user, page=2, per_page=2)
    assert [item.agreement_id for item in second.items] == [waiting.id] and second.total == 3
    only = tracking.needs_attention(alliance_user, status="on_track")
    assert [item.agreement_id for item in only.items] == [on_track.id]


def test_an_overdue_milestone_puts_an_mou_on_the_list_until_it_is_done(mou, buyer, seller, products, alliance_user):
    from marketplace.alliance import milestones
    from marketplace.alliance.followup_models import Milestone

    place(buyer, [(products[0], 90)], mou)  # ordered today, early in the term: nothing else to say about it
    assert tracking.needs_attention(alliance_user).total == 0
    due = milestones.add(seller, mou.id, milestones.MilestoneDetails.from_mapping({
        "title": "Giao mẫu đầu tiên", "responsible": "seller", "repeat": "", "details": "",
        "due_on": (tracking.today() + timedelta(days=3)).isoformat()}))
    assert tracking.needs_attention(alliance_user).total == 0  # not due yet
    db.session.get(Milestone, due.id).due_on = tracking.today() - timedelta(days=1)
    db.session.commit()
    item, = tracking.needs_attention(alliance_user).items
    with force_locale("en"):
        assert (item.agreement_id, item.codes, str(item.reasons[0].text)) == (mou.id, ["milestones_overdue"],
                                                                              "Overdue milestones: 1")
    milestones.mark_done(seller, mou.id, due.id, note="Đã giao 2 kg mẫu")
    assert tracking.needs_attention(alliance_user).total == 0


def test_a_reason_provider_adds_reasons(mou, alliance_user, monkeypatch):
    def overdue(context):
        yield mou.id, tracking.Reason("milestone_overdue", 80, "Mẫu chưa giao")

    monkeypatch.setattr(tracking, "REASON_PROVIDERS", [*tracking.REASON_PROVIDERS, overdue])
    items = tracking.needs_attention(alliance_user).items
    assert [(item.agreement_id, item.codes) for item in items] == [(mou.id, ["milestone_overdue"])]


# ---------------------------------------------------------------- the daily follow-up

def test_the_daily_follow_up_records_changes_and_sends_once_a_day(buyer, seller, products, alliance_user, outbox):
    today = tracking.today()
    factories.user(buyer.organisation, email="member@dn.example", role="member")  # no signing right: no email
    idle = factories.signed_mou(buyer.organisation, seller.organisation, {products[0]: 90_000},
                                start=today - timedelta(days=100), end=today + timedelta(days=265))
    fine = factories.signed_mou(buyer.organisation, seller.organisation, {products[1]: 250_000},
                                start=today - timedelta(days=5), end=today + timedelta(days=360))

    first = tracking.follow_up(today)
    assert not first.skipped and first.digest_count == 1 and first.reminder_count == 2
    assert sorted(first.changed) == [(idle.id, None, TrackingStatus.STALLED), (fine.id, None, TrackingStatus.ON_TRACK)]
    assert sorted(m.to[0] for m in outbox) == ["mua@dn.example", "staff@lienminh.example", "thach@htx.example"]
    digest = next(m for m in outbox if m.to[0] == "staff@lienminh.example")
    assert idle.reference in digest.body and fine.reference not in digest.body
    reminder = next(m for m in outbox if m.to[0] == "mua@dn.example")
    assert idle.reference in reminder.body

    again = tracking.follow_up(today)
    assert again.skipped and len(outbox) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrackingEvent)) == 2

    place(buyer, [(products[0], 500)], idle)
    tomorrow = tracking.follow_up(today + timedelta(days=1))
    assert tomorrow.changed == [(idle.id, TrackingStatus.STALLED, TrackingStatus.ON_TRACK)]
    assert db.session.get(AgreementTracking, idle.id).status == TrackingStatus.ON_TRACK
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpRun)) == 2


def test_the_command_runs_the_follow_up(app, mou):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["alliance", "follow-up"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["alliance", "follow-up"])
    assert second.exit_code == 0 and "already" in second.output


def test_the_follow_up_is_scheduled_daily():
    from marketplace.jobs import schedule

    job = schedule.find("alliance follow-up")
    assert job.function == "marketplace.alliance.tracking:follow_up"
    minute, hour, day, month, weekday = job.cron.split()
    assert (day, month, weekday) == ("*", "*", "*") and minute.isdigit() and hour.isdigit()



def test_a_signed_addendum_replaces_the_committed_lines(mou, buyer, products):
    import hashlib

    from marketplace.agreements.models import (
        Agreement,
        AgreementKind,
        AgreementLine,
        AgreementRevision,
        PriceBasis,
    )
    from marketplace.sqltypes import utcnow

    def addendum(number, quantity, state=AgreementState.SIGNED):
        row = Agreement(reference=f"{mou.reference}-PL{number}", kind=AgreementKind.ADDENDUM, parent_id=mou.id,
                        state=state, buyer_id=mou.buyer_id, seller_id=mou.seller_id, initiator_id=mou.buyer_id,
                        start_date=mou.start_date, end_date=mou.end_date, agreed_revision_number=1,
                        signed_at=utcnow() if state == AgreementState.SIGNED else None)
        db.session.add(row)
        revision = AgreementRevision(number=1, author_id=mou.buyer_id, terms={},
                                     content_sha256=hashlib.sha256(row.reference.encode()).hexdigest())
        revision.lines = [AgreementLine(position=0, product_id=products[2].id, name=products[2].name, unit="kg",
                                        quantity=quantity, period=Period.TOTAL, price_basis=PriceBasis.FIXED,
                                        unit_price_vnd=280_000)]
        row.revisions.append(revision)
        db.session.add(row)
        db.session.commit()
        return row

    addendum(1, 300)
    addendum(2, 400)  # the latest signed one is in force
    addendum(3, 999, state=AgreementState.NEGOTIATING)  # not signed: not in force
    place(buyer, [(products[2], 50)], mou)
    for progress in (tracking.progress_of(buyer, mou.id), tracking.progress_map()[mou.id]):
        assert [(line.product_id, line.committed_qty, line.ordered_qty) for line in progress.lines] == \
            [(products[2].id, 400, 50)]
        assert progress.committed_value_vnd == 400 * 280_000
    assert set(tracking.progress_map()) == {mou.id}  # addenda are followed through their MoU
