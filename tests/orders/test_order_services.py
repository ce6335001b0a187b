"""Orders as use cases (marketplace/orders/services.py), without HTTP: a checkout split per cooperative,
all or none; prices from tiers or an MoU in force; capacity held and released per period; every state
change and who may make it; the timeline and the emails; another organisation gets NotFound."""
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import CapacityPeriod, Unit
from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.orders import capacity, services
from marketplace.orders.models import CapacityUsage, CartItem, Order, OrderEventKind, OrderStatus, PaymentMode
from marketplace.payments.models import PaymentSettings
from tests import factories

SOON = date.today() + timedelta(days=14)


@pytest.fixture
def cooperatives(app):
    return [factories.user(factories.organisation("cooperative", legal_name=name), email=email)
            for name, email in (("HTX Thạch đen Tràng Định", "thach@htx.example"),
                                ("HTX Hồi Văn Quan", "hoi@htx.example"))]


@pytest.fixture
def buyer(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                          email="mua@dn.example")


@pytest.fixture
def rival(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Đối thủ"), email="khac@dn.example")


def _product(owner, **fields):
    values = {"unit": Unit.TAN, "min_order_qty": 1, "base_price_vnd": 40_000_000, "tiers": [(5, 36_000_000)],
              "capacity_qty": 10, "capacity_period": CapacityPeriod.MONTH, "lead_time_days": 3}
    values.update(fields)
    return factories.product(owner.organisation, **values)


def _place(buyer, lines, **fields):
    return services.place_orders(buyer, services.OrderRequest.from_mapping(factories.order_request(lines, **fields)))


def test_a_checkout_over_two_cooperatives_makes_one_order_each(cooperatives, buyer, outbox):
    thach, hoi = _product(cooperatives[0]), _product(cooperatives[1], base_price_vnd=250_000, unit=Unit.KG,
                                                      capacity_qty=None, capacity_period=None, tiers=[])
    orders = _place(buyer, [(thach, 2), (hoi, 30)], po_number="PO-778", notes="Giao buổi sáng")
    assert [o.cooperative_id for o in orders] == sorted([thach.cooperative_id, hoi.cooperative_id])
    first = next(o for o in orders if o.cooperative_id == thach.cooperative_id)
    assert first.status == OrderStatus.PLACED and first.reference.startswith("DH-")
    assert first.checkout_id == orders[1].checkout_id
    line = first.lines[0]
    assert (line.name, line.unit, line.quantity, line.unit_price_vnd, line.line_total_vnd) == \
        (thach.name, "tan", 2, 40_000_000, 80_000_000)
    assert first.total_vnd == 80_000_000 and first.po_number == "PO-778"
    assert [e.kind for e in first.events] == [OrderEventKind.PLACED]
    assert {m.to[0] for m in outbox} == {"thach@htx.example", "hoi@htx.example"}


def test_the_tier_price_follows_the_quantity_and_the_snapshot_stays(cooperatives, buyer):
    thach = _product(cooperatives[0])
    order, = _place(buyer, [(thach, 5)])
    assert order.lines[0].unit_price_vnd == 36_000_000
    thach.base_price_vnd, thach.name = 1, "Tên mới"
    db.session.commit()
    db.session.refresh(order)
    assert order.lines[0].unit_price_vnd == 36_000_000 and order.lines[0].name != "Tên mới"


def test_an_mou_in_force_sets_the_price_and_is_recorded(cooperatives, buyer):
    thach, other = _product(cooperatives[0]), _product(cooperatives[0], capacity_qty=None, capacity_period=None)
    mou = factories.signed_mou(buyer.organisation, cooperatives[0].organisation, {thach: 30_000_000})
    order, = _place(buyer, [(thach, 2), (other, 1)], agreement_id=mou.id)
    assert order.agreement_id == mou.id
    prices = {line.product_id: (line.unit_price_vnd, line.price_source) for line in order.lines}
    assert prices == {thach.id: (30_000_000, "agreement"), other.id: (40_000_000, "tier")}


@pytest.mark.parametrize("which", ["other_buyer", "ended", "unknown"])
def test_only_an_mou_in_force_between_the_two_counts(cooperatives, buyer, rival, which):
    thach = _product(cooperatives[0])
    if which == "other_buyer":
        agreement_id = factories.signed_mou(rival.organisation, cooperatives[0].organisation, {thach: 1}).id
    elif which == "ended":
        agreement_id = factories.signed_mou(buyer.organisation, cooperatives[0].organisation, {thach: 1},
                                            start=date.today() - timedelta(days=90),
                                            end=date.today() - timedelta(days=1)).id
    else:
        agreement_id = 999_999
    with pytest.raises(ValidationFailed) as error:
        _place(buyer, [(thach, 2)], agreement_id=agreement_id)
    assert "agreement_id" in error.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_bad_input_is_named_per_field_and_nothing_is_created(cooperatives, buyer):
    thach = _product(cooperatives[0], min_order_qty=2, order_increment=2, lead_time_days=10)
    request = factories.order_request([(thach, 3)], requested_date=date.today() + timedelta(days=2))
    request["lines"].append({"product_id": 10**12, "quantity": 1})
    request["delivery"].update(commune_code=1, street="  ")
    with pytest.raises(ValidationFailed) as error:
        services.place_orders(buyer, services.OrderRequest.from_mapping(request))
    assert set(error.value.errors) == {"lines.0.quantity", "lines.1.product_id", "delivery.commune_code",
                                       "delivery.street", "delivery.requested_date"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("value", [True, 1.5, "2x", -1, 0, None, 10**10])
def test_quantities_are_whole_numbers_in_range(cooperatives, buyer, value):
    thach = _product(cooperatives[0])
    with pytest.raises(ValidationFailed) as error:
        _place(buyer, [(thach, value)])
    assert "lines.0.quantity" in error.value.errors


def test_only_a_verified_enterprise_orders(cooperatives, app):
    thach = _product(cooperatives[0])
    pending = factories.user(factories.organisation("enterprise", status="pending"))
    for actor in (pending, cooperatives[1]):
        with pytest.raises(Forbidden):
            _place(actor, [(thach, 2)])


def test_a_hidden_product_cannot_be_ordered(cooperatives, buyer):
    thach = _product(cooperatives[0], status="hidden")
    with pytest.raises(ValidationFailed) as error:
        _place(buyer, [(thach, 2)])
    assert "lines.0.product_id" in error.value.errors


def test_capacity_short_on_one_line_creates_nothing(cooperatives, buyer):
    thach, hoi = _product(cooperatives[0], capacity_qty=3), _product(cooperatives[1])
    _place(buyer, [(thach, 2)])
    with pytest.raises(services.InsufficientCapacity) as error:
        _place(buyer, [(hoi, 1), (thach, 2)])
    assert error.value.code == "insufficient_capacity" and error.value.status == 409
    assert list(error.value.errors) == ["lines.1.quantity"]
    assert "1" in str(error.value.errors["lines.1.quantity"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1
    assert _reserved(hoi) == 0


def _reserved(product):
    return db.session.scalar(sa.select(sa.func.sum(CapacityUsage.reserved_qty)).filter_by(product_id=product.id)) or 0


def test_capacity_per_month_is_counted_in_the_month_of_delivery(cooperatives, buyer):
    thach = _product(cooperatives[0], capacity_qty=4, lead_time_days=0)
    this_month = date.today() + timedelta(days=40)
    next_month = this_month + timedelta(days=31)
    _place(buyer, [(thach, 4)], requested_date=this_month)
    _place(buyer, [(thach, 4)], requested_date=next_month)
    with pytest.raises(services.InsufficientCapacity):
        _place(buyer, [(thach, 1)], requested_date=this_month)


def test_stock_is_held_then_leaves_with_the_shipment(cooperatives, buyer):
    thach = _product(cooperatives[0], capacity_qty=5, capacity_period=CapacityPeriod.STOCK)
    order, = _place(buyer, [(thach, 3)])
    assert capacity.available(thach, "stock") == 2
    _pay_in_full(cooperatives[0], order)
    services.ship(cooperatives[0], order.id, "Xe tải 12C-123.45, 3 bao")
    db.session.refresh(thach)
    assert thach.capacity_qty == 2 and _reserved(thach) == 0


def test_seasonal_capacity_refuses_a_date_outside_the_harvest(cooperatives, buyer):
    months = [m for m in range(1, 13) if m != SOON.month]
    thach = _product(cooperatives[0], capacity_period=CapacityPeriod.SEASON, harvest_month_mask=sum(1 << (m - 1) for m in months))
    with pytest.raises(ValidationFailed) as error:
        _place(buyer, [(thach, 1)])
    assert "delivery.requested_date" in error.value.errors


def test_rejecting_and_cancelling_release_capacity(cooperatives, buyer):
    thach = _product(cooperatives[0], capacity_qty=4)
    first, = _place(buyer, [(thach, 4)])
    services.reject(cooperatives[0], first.id, "Hết hàng do mưa lũ")
    second, = _place(buyer, [(thach, 4)])
    services.cancel(buyer, second.id, "Đổi kế hoạch")
    third, = _place(buyer, [(thach, 4)])
    assert third.status == OrderStatus.PLACED and _reserved(thach) == 4
    assert first.status_reason == "Hết hàng do mưa lũ" and second.cancelled_by_id == buyer.organisation_id


def test_the_whole_way_with_a_deposit(cooperatives, buyer, outbox):
    from marketplace.payments import services as payments
    from marketplace.payments.models import PaymentMethod

    db.session.add(PaymentSettings(organisation_id=cooperatives[0].organisation_id, mode=PaymentMode.DEPOSIT,
                                   deposit_percent=30, bank_bin="970436", account_number="0011001932418",
                                   account_name="HTX THACH DEN"))
    db.session.commit()
    thach = _product(cooperatives[0])
    order, = _place(buyer, [(thach, 2)])
    assert (order.payment_mode, order.deposit_percent, order.deposit_vnd) == (PaymentMode.DEPOSIT, 30, 24_000_000)
    services.confirm(cooperatives[0], order.id)
    deposit = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
    assert deposit.amount_vnd == 24_000_000 and order.status == OrderStatus.AWAITING_PAYMENT
    payments.confirm_transfer(cooperatives[0], deposit.id, 24_000_000)
    assert order.status == OrderStatus.PAID and order.paid_vnd == 24_000_000
    services.ship(cooperatives[0], order.id, "Phiếu giao 0457", lines=[{"product_id": thach.id, "quantity": 2}])
    services.deliver(buyer, order.id, lines=[{"product_id": thach.id, "quantity": 2}])
    assert order.status == OrderStatus.DELIVERED and order.amount_due_vnd() == 56_000_000
    balance = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
    payments.confirm_transfer(cooperatives[0], balance.id, 56_000_000)
    assert order.status == OrderStatus.COMPLETED
    kinds = [e.kind for e in order.events]
    assert kinds == [OrderEventKind.PLACED, OrderEventKind.CONFIRMED, OrderEventKind.PAYMENT_STARTED,
                     OrderEventKind.PAID, OrderEventKind.SHIPPED, OrderEventKind.DELIVERED,
                     OrderEventKind.PAYMENT_STARTED, OrderEventKind.PAID, OrderEventKind.COMPLETED]
    assert any(m.to == ["mua@dn.example"] and order.reference in m.subject for m in outbox)


def _pay_in_full(cooperative, order):
    from marketplace.payments import services as payments
    from marketplace.payments.models import PaymentMethod

    if db.session.get(PaymentSettings, cooperative.organisation_id) is None:
        db.session.add(PaymentSettings(organisation_id=cooperative.organisation_id, mode=PaymentMode.FULL,
                                       bank_bin="970436", account_number="0011001932418", account_name="HTX"))
        db.session.commit()
    services.confirm(cooperative, order.id)
    buyer = order.placed_by
    payment = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
    payments.confirm_transfer(cooperative, payment.id, payment.amount_vnd)


def test_forbidden_transitions(cooperatives, buyer):
    thach = _product(cooperatives[0])
    order, = _place(buyer, [(thach, 2)])
    with pytest.raises(services.InvalidTransition):
        services.ship(cooperatives[0], order.id, "Phiếu giao")  # not paid
    with pytest.raises(services.InvalidTransition):
        services.confirm(buyer, order.id)  # the buyer does not confirm
    with pytest.raises(services.InvalidTransition):
        services.deliver(buyer, order.id)
    _pay_in_full(cooperatives[0], order)
    services.ship(cooperatives[0], order.id, "Phiếu giao")
    with pytest.raises(services.InvalidTransition):
        services.cancel(buyer, order.id, "Quá muộn")
    with pytest.raises(ValidationFailed):
        services.reject(cooperatives[0], order.id, "   ")


def test_shipped_and_received_quantities_are_bounded(cooperatives, buyer):
    thach = _product(cooperatives[0])
    order, = _place(buyer, [(thach, 2)])
    _pay_in_full(cooperatives[0], order)
    for lines in ([{"product_id": thach.id, "quantity": 3}], [{"product_id": thach.id, "quantity": 0}],
                  [{"product_id": 999, "quantity": 1}]):
        with pytest.raises(ValidationFailed):
            services.ship(cooperatives[0], order.id, "Phiếu giao", lines=lines)
    services.ship(cooperatives[0], order.id, "Phiếu giao", lines=[{"product_id": thach.id, "quantity": 1}])
    services.deliver(buyer, order.id)
    assert order.lines[0].quantity_shipped == 1 and order.lines[0].quantity_received == 1
    assert order.status == OrderStatus.COMPLETED  # paid in full before shipping


def test_another_organisation_gets_not_found(cooperatives, buyer, rival, alliance_user):
    thach = _product(cooperatives[0])
    order, = _place(buyer, [(thach, 2)])
    for stranger in (rival, cooperatives[1], alliance_user):
        for call in (lambda s: services.get_order(s, order.id), lambda s: services.confirm(s, order.id),
                     lambda s: services.cancel(s, order.id, "Không"), lambda s: services.deliver(s, order.id)):
            with pytest.raises(NotFound):
                call(stranger)
        assert services.list_orders(stranger).total == 0
    assert services.list_orders(buyer).total == 1 and services.list_orders(cooperatives[0]).total == 1


def test_the_cart_respects_minimum_and_increment_and_checkout_empties_it(cooperatives, buyer):
    thach = _product(cooperatives[0], min_order_qty=2, order_increment=2)
    with pytest.raises(ValidationFailed):
        services.put_in_cart(buyer, thach.id, 3)
    services.put_in_cart(buyer, thach.id, 2)
    services.put_in_cart(buyer, thach.id, 2)
    groups = services.cart_of(buyer)
    assert groups[0].items[0].quantity == 4 and groups[0].total_vnd == 160_000_000
    request = factories.order_request([(thach, 4)])
    services.place_orders(buyer, services.OrderRequest.from_mapping(request), from_cart=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CartItem)) == 0


def test_season_start_wraps_over_the_new_year():
    assert capacity.season_start([11, 12, 1, 2], date(2027, 1, 15)) == date(2026, 11, 1)
    assert capacity.season_start([5, 6, 7], date(2026, 6, 1)) == date(2026, 5, 1)
    assert capacity.season_start([], date(2026, 6, 1)) == date(2026, 1, 1)
    with pytest.raises(capacity.OutOfSeason):
        capacity.season_start([5, 6, 7], date(2026, 9, 1))


def test_text_is_stored_without_nul_characters(cooperatives, buyer):
    # PostgreSQL text cannot hold NUL (a form's %00, a JSON "\u0000"): it is dropped, not a 500.
    thach = _product(cooperatives[0])
    request = factories.order_request([(thach, 2)], po_number="PO\x00-9", notes="\x00Sáng")
    request["delivery"]["street"] = "Số\x00 12"
    order, = services.place_orders(buyer, services.OrderRequest.from_mapping(request))
    assert (order.po_number, order.notes, order.street) == ("PO-9", "Sáng", "Số 12")
    services.cancel(buyer, order.id, "Đổi\x00 kế hoạch")
    assert order.status_reason == "Đổi kế hoạch"


def _the_other_side_acts_first(app, monkeypatch, step):
    """Run `step` (its own app context, session and commit) just before this session's step claims the order's
    status: after that step has checked the status it read, as two ERPs acting on one order at once would."""
    claim = services._claim_status
    pending = [step]  # once: the other side's own claim goes straight through

    def other_side_first(order, status, reason=None):
        if pending:
            def act():
                with app.app_context():
                    pending.pop()()
                    db.session.remove()
            thread = threading.Thread(target=act)
            thread.start()
            thread.join()
        return claim(order, status, reason)

    monkeypatch.setattr(services, "_claim_status", other_side_first)


def test_a_cancel_racing_a_shipment_is_refused_and_writes_nothing(app, cooperatives, buyer, monkeypatch):
    from marketplace.accounts.models import User
    from marketplace.orders.models import OrderEvent
    from marketplace.payments.models import Payment, PaymentStatus

    order, = _place(buyer, [(_product(cooperatives[0]), 2)])
    _pay_in_full(cooperatives[0], order)
    order_id, cooperative_id = order.id, cooperatives[0].id
    db.session.expire_all()
    _the_other_side_acts_first(app, monkeypatch, lambda: services.ship(
        db.session.get(User, cooperative_id), order_id, "Xe tải 12C-123.45, 2 bao"))
    with pytest.raises(services.InvalidTransition):
        services.cancel(buyer, order_id, "Đổi kế hoạch")
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == OrderStatus.SHIPPED
    kinds = db.session.scalars(sa.select(OrderEvent.kind).filter_by(order_id=order_id)).all()
    assert OrderEventKind.SHIPPED in kinds and OrderEventKind.CANCELLED not in kinds
    assert [p.status for p in db.session.scalars(sa.select(Payment).filter_by(order_id=order_id))] == [
        PaymentStatus.SUCCEEDED]


def test_a_confirmation_racing_a_cancel_is_refused(app, cooperatives, buyer, monkeypatch):
    from marketplace.accounts.models import User

    order, = _place(buyer, [(_product(cooperatives[0]), 2)])
    order_id, buyer_id = order.id, buyer.id
    db.session.expire_all()
    _the_other_side_acts_first(app, monkeypatch, lambda: services.cancel(
        db.session.get(User, buyer_id), order_id, "Đặt nhầm"))
    with pytest.raises(services.InvalidTransition):
        services.confirm(cooperatives[0], order_id)
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == OrderStatus.CANCELLED
