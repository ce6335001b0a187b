"""Use cases of bulk orders. Every state change is one function here, in one unit of work, recording an
OrderEvent and emailing the other side (outbox).

Who may do what:
- only the two parties see an order; anyone else (another enterprise, another cooperative, the alliance's
  pages) gets NotFound — the alliance's follow-up reads aggregates through marketplace/orders/queries.py;
- a verified enterprise places orders (Permission.PLACE_ORDERS); a checkout over several cooperatives
  becomes one order per cooperative, all or none;
- a verified cooperative confirms, rejects and ships (Permission.FULFIL_ORDERS);
- the buyer confirms delivery; either side cancels before shipping, with a reason.
Forbidden transitions raise InvalidTransition (a Conflict with code `invalid_transition`); capacity that
is short raises InsufficientCapacity (409 `insufficient_capacity`), and nothing is created.
"""
import functools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from marketplace import geo, notifications, textinput
from marketplace.accounts.authz import Permission, require
from marketplace.accounts.models import Organisation
from marketplace.agreements import queries as agreement_queries
from marketplace.catalog.models import UNIT_NAMES_VI, Product
from marketplace.catalog.services import today
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.i18n import grouped
from marketplace.orders import capacity
from marketplace.orders.models import (
    CartItem,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    PaymentMode,
)
from marketplace.querystring import whole_number
from marketplace.routing import MAX_ID
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

MAX_LINES = 50
MAX_QUANTITY = 10**9
MAX_TOTAL_VND = 10**14  # far above any real order, far below a BIGINT
MAX_STREET = 200
MAX_PO_NUMBER = 40
MAX_NOTES = 2000
MAX_REASON = 2000
MAX_DELIVERY_NOTE = 2000
MAX_DAYS_AHEAD = 366


class InvalidTransition(Conflict):
    code = "invalid_transition"


class InsufficientCapacity(Conflict):
    """Capacity is short for some lines; `errors` says which, with what is left. Nothing was created."""

    code = "insufficient_capacity"

    def __init__(self, errors):
        super().__init__(_l("The cooperative cannot supply these quantities for that date. Nothing was ordered."))
        self.errors = errors


# ---------------------------------------------------------------- reading

def get_order(actor, order_id):
    """An order the actor's organisation is a party to. Raises NotFound otherwise (also for staff)."""
    order = db.session.get(Order, order_id) if _is_id(order_id) else None
    if order is None or not _is_active(actor) or order.party_role(actor.organisation_id) is None:
        raise NotFound()
    return order


@dataclass
class OrderFilters:
    status: OrderStatus | None = None
    counterparty_id: int | None = None
    agreement_id: int | None = None
    placed_from: date | None = None
    placed_to: date | None = None


def list_orders(actor, filters=None, page=1, per_page=20):
    """The orders of the actor's organisation (as buyer or cooperative), newest first (a pagination)."""
    filters = filters or OrderFilters()
    own = actor.organisation_id
    statement = sa.select(Order).where(sa.or_(Order.buyer_id == own, Order.cooperative_id == own))
    if filters.status:
        statement = statement.where(Order.status == filters.status)
    if filters.counterparty_id:
        statement = statement.where(sa.or_(Order.buyer_id == filters.counterparty_id,
                                           Order.cooperative_id == filters.counterparty_id))
    if filters.agreement_id:
        statement = statement.where(Order.agreement_id == filters.agreement_id)
    if filters.placed_from:
        statement = statement.where(Order.placed_at >= _day_start(filters.placed_from))
    if filters.placed_to:
        statement = statement.where(Order.placed_at < _day_start(filters.placed_to + timedelta(days=1)))
    # Both parties in the same statement: the list shows the counterparty of each order (no query per order).
    statement = statement.order_by(Order.placed_at.desc(), Order.id.desc()).options(
        sa.orm.joinedload(Order.buyer), sa.orm.joinedload(Order.cooperative))
    return db.paginate(statement, page=page, per_page=per_page, error_out=False)


# What waits for a side of an order, by step: (the side, the statuses, an extra condition or None).
HOME_STEPS = {
    "to_confirm": ("cooperative", (OrderStatus.PLACED,), None),
    "to_ship": ("cooperative", (OrderStatus.PAID,), None),
    "to_pay": ("buyer", (OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT, OrderStatus.SHIPPED,
                         OrderStatus.DELIVERED), Order.total_vnd > Order.paid_vnd),
    "to_receive": ("buyer", (OrderStatus.SHIPPED,), None),
}


@dataclass
class HomeStep:
    total: int
    orders: list  # the first `limit`, oldest first


def for_home(actor, limit=5):
    """{step: HomeStep} of the actor's organisation's orders waiting for its step (HOME_STEPS): a cooperative's
    orders to confirm and to ship, a buyer's payments due and deliveries to receive. One query counts every step,
    then one per step that has orders lists its first `limit` with both parties loaded. Only its own orders."""
    own = actor.organisation_id
    conditions = {}
    for step, (side, statuses, extra) in HOME_STEPS.items():
        column = Order.cooperative_id if side == "cooperative" else Order.buyer_id
        condition = sa.and_(column == own, Order.status.in_(statuses))
        conditions[step] = condition if extra is None else sa.and_(condition, extra)
    counts = db.session.execute(sa.select(*(
        sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0) for condition in conditions.values()))
        .where(sa.or_(Order.buyer_id == own, Order.cooperative_id == own))).one()
    steps = {}
    for (step, condition), total in zip(conditions.items(), counts, strict=True):
        orders = db.session.scalars(
            sa.select(Order).where(condition).options(selectinload(Order.buyer), selectinload(Order.cooperative))
            .order_by(Order.placed_at, Order.id).limit(limit)).all() if total else []
        steps[step] = HomeStep(int(total), orders)
    return steps


def _day_start(day):
    return datetime.combine(day, datetime.min.time(), ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


# ---------------------------------------------------------------- the cart

@dataclass
class CartGroup:
    """The cart's lines of one cooperative: what its order would be."""

    cooperative: object
    items: list
    total_vnd: int
    agreements: list  # MoUs in force with this cooperative, to order under


def cart_of(actor):
    """The actor's cart grouped by cooperative, with today's prices. Products no longer public are
    dropped from view (and from the checkout)."""
    items = db.session.scalars(sa.select(CartItem).filter_by(user_id=actor.id).order_by(CartItem.id)).all()
    visible = [item for item in items if item.product.is_public]
    groups = []
    key = lambda item: (item.product.cooperative.legal_name, item.product.cooperative_id)  # noqa: E731
    for _key, group in groupby(sorted(visible, key=key), key=key):
        group = list(group)
        cooperative = group[0].product.cooperative
        total = sum(item.product.line_total_for(item.quantity) for item in group)
        groups.append(CartGroup(cooperative, group, total,
                                agreement_queries.mous_in_force(actor.organisation_id, cooperative.id, today())))
    return groups


def cart_size(actor):
    return db.session.scalar(sa.select(sa.func.count()).select_from(CartItem).filter_by(user_id=actor.id)) or 0


@unit_of_work()
def put_in_cart(actor, product_id, quantity, add=True):
    """Add `quantity` of a public product to the cart (or set it, add=False). Raises Forbidden for an
    organisation that may not order, NotFound for a product that is not public, ValidationFailed for a
    quantity below the minimum or off the increment."""
    require(actor, Permission.PLACE_ORDERS)
    product = _public_product(product_id)
    if product is None:
        raise NotFound()
    amount = _quantity(quantity)
    if amount is None:
        raise ValidationFailed.for_fields({"quantity": _l("Give a whole number from %(min)s to %(max)s.",
                                                          min=1, max=MAX_QUANTITY)})
    item = db.session.scalar(sa.select(CartItem).filter_by(user_id=actor.id, product_id=product.id))
    if item is not None and add:
        amount = min(item.quantity + amount, MAX_QUANTITY)
    problem = product.quantity_problem(amount)
    if problem:
        raise ValidationFailed.for_fields({"quantity": problem})
    if item is None:
        item = CartItem(user_id=actor.id, product_id=product.id, quantity=amount)
        db.session.add(item)
    item.quantity = amount
    return item


@unit_of_work()
def remove_from_cart(actor, product_id):
    """Take a product out of the actor's cart (nothing happens when it is not there)."""
    db.session.execute(sa.delete(CartItem).filter_by(user_id=actor.id, product_id=product_id))


# ---------------------------------------------------------------- placing orders

@dataclass
class OrderRequest:
    """What a buyer asks for, as received (strings from a form, values from JSON)."""

    lines: list = field(default_factory=list)  # [{"product_id", "quantity"}]
    delivery: dict = field(default_factory=dict)  # province_code, commune_code, street, requested_date
    po_number: object = ""
    agreement_id: object = None
    notes: object = ""

    @classmethod
    def from_mapping(cls, data):
        data = data if isinstance(data, dict) else {}
        lines = data.get("lines")
        delivery = data.get("delivery")
        return cls(lines=lines if isinstance(lines, list) else [],
                   delivery=delivery if isinstance(delivery, dict) else {},
                   po_number=data.get("po_number") or "", agreement_id=data.get("agreement_id"),
                   notes=data.get("notes") or "")


@dataclass
class _Checked:
    lines: list  # [(Product, quantity)], in the request's order
    province_code: int
    commune_code: int
    street: str
    requested_date: date
    po_number: str
    notes: str
    agreement: object


@unit_of_work()
def place_orders(actor, request, from_cart=False):
    """Turn a request into one order per cooperative, all or none, reserving capacity.

    Raises Forbidden when the actor's organisation may not order, ValidationFailed (errors per field,
    named like `lines.0.quantity` and `delivery.requested_date`) for bad input, InsufficientCapacity when a
    line's capacity is short (nothing is created). With `from_cart`, the ordered products leave the cart.
    """
    require(actor, Permission.PLACE_ORDERS)
    checked = _check_request(actor, request)
    checkout_id = uuid.uuid4().hex
    by_cooperative = {}
    for product, quantity in checked.lines:
        by_cooperative.setdefault(product.cooperative_id, []).append((product, quantity))
    terms = _payment_terms(by_cooperative)
    orders = [_new_order(actor, lines, checked, checkout_id, terms[cooperative_id])
              for cooperative_id, lines in sorted(by_cooperative.items())]
    _number(orders)
    for order in orders:
        _record(order, OrderEventKind.PLACED, actor)
        _notify(order, order.cooperative, _l("New order %(reference)s", reference=order.reference),
                _l("%(buyer)s placed an order. Please confirm or reject it.", buyer=order.buyer.legal_name))
    if from_cart:
        db.session.execute(sa.delete(CartItem).where(
            CartItem.user_id == actor.id, CartItem.product_id.in_([p.id for p, _q in checked.lines])))
    # Last, so that the capacity rows stay locked (by PostgreSQL, until the commit) for the least time:
    # the emails above are rendered before, not while other buyers of the same products wait. Before the orders'
    # rows are written, though (no autoflush): a checkout refused for capacity then writes nothing it must take back
    # (on PostgreSQL; on SQLite _number has inserted the orders to learn their ids).
    with db.session.no_autoflush:
        _reserve_capacity(orders, checked)
    db.session.flush()
    return orders


def _check_request(actor, request):
    errors = {}
    lines, products = _check_lines(request.lines, errors)
    delivery = request.delivery or {}
    province, commune = delivery.get("province_code"), delivery.get("commune_code")
    province = _whole(province, 1, 10**6)
    commune = _whole(commune, 1, 10**7)
    if province is None:
        errors["delivery.province_code"] = _l("Choose a province.")
    elif commune is None:
        errors["delivery.commune_code"] = _l("Choose a commune or ward.")
    elif not geo.is_valid_location(province, commune):
        errors["delivery.commune_code"] = _l("This commune is not in the chosen province.")
    street = _text(delivery.get("street"), MAX_STREET, "delivery.street", errors, required=True,
                   missing=_l("Give the street address (house number, street, village)."))
    requested = _check_date(delivery.get("requested_date"), products, errors)
    po_number = _text(request.po_number, MAX_PO_NUMBER, "po_number", errors)
    notes = _text(request.notes, MAX_NOTES, "notes", errors)
    agreement = _check_agreement(actor, request.agreement_id, lines, errors)
    if requested is not None:
        _check_seasons(lines, requested, errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return _Checked(lines, province, commune, street, requested, po_number, notes, agreement)


def _check_lines(raw_lines, errors):
    """[(product, quantity)] of the valid lines, and every product named (for the lead time)."""
    if not raw_lines:
        errors["lines"] = _l("Add at least one product.")
        return [], []
    if len(raw_lines) > MAX_LINES:
        errors["lines"] = _l("An order holds at most %(max)s products.", max=MAX_LINES)
        return [], []
    raw_lines = [raw if isinstance(raw, dict) else {} for raw in raw_lines]
    candidates = _public_products(raw.get("product_id") for raw in raw_lines)
    lines, seen, products = [], set(), []
    for index, raw in enumerate(raw_lines):
        product = candidates.get(_whole(raw.get("product_id"), 1, MAX_ID))
        if product is None:
            errors[f"lines.{index}.product_id"] = _l("This product is not available for ordering.")
            continue
        if product.id in seen:
            errors[f"lines.{index}.product_id"] = _l("This product is already in the order.")
            continue
        seen.add(product.id)
        products.append(product)
        quantity = _quantity(raw.get("quantity"))
        if quantity is None:
            errors[f"lines.{index}.quantity"] = _l("Give a whole number from %(min)s to %(max)s.",
                                                   min=1, max=MAX_QUANTITY)
            continue
        problem = product.quantity_problem(quantity)
        if problem:
            errors[f"lines.{index}.quantity"] = problem
            continue
        lines.append((product, quantity))
    return lines, products


def _check_date(value, products, errors):
    requested = _iso_date(value)
    if requested is None:
        errors["delivery.requested_date"] = _l("Give the requested delivery date (YYYY-MM-DD).")
        return None
    lead = max((product.lead_time_days or 0 for product in products), default=0)
    earliest = today() + timedelta(days=lead)
    if requested < earliest:
        errors["delivery.requested_date"] = _l(
            "The earliest possible delivery is %(day)s (lead time %(days)s days).",
            day=earliest.strftime("%d/%m/%Y"), days=lead)
    elif requested > today() + timedelta(days=MAX_DAYS_AHEAD):
        errors["delivery.requested_date"] = _l("Choose a date within a year.")
    return requested


def _check_seasons(lines, requested, errors):
    for product, _quantity in lines:
        try:
            capacity.period_key(product, requested)
        except capacity.OutOfSeason:
            months = ", ".join(str(m) for m in product.harvest_months)
            errors["delivery.requested_date"] = _l(
                "%(product)s is harvested in months %(months)s only: choose a date in its season.",
                product=product.name, months=months)


def _check_agreement(actor, agreement_id, lines, errors):
    """The MoU the order is placed under (None when none is asked for)."""
    if agreement_id in (None, ""):
        return None
    agreement_id = _whole(agreement_id, 1, MAX_ID)
    cooperatives = {product.cooperative_id for product, _q in lines}
    if agreement_id is not None:
        for cooperative_id in cooperatives:
            for agreement in agreement_queries.mous_in_force(actor.organisation_id, cooperative_id, today()):
                if agreement.id == agreement_id:
                    return agreement
    errors["agreement_id"] = _l("Choose an MoU in force with the cooperative of these products.")
    return None


def _new_order(actor, lines, checked, checkout_id, settings):
    cooperative = lines[0][0].cooperative
    agreement = checked.agreement if checked.agreement and checked.agreement.seller_id == cooperative.id else None
    agreed = agreement_queries.agreed_unit_prices(agreement) if agreement else {}
    order = Order(
        reference=f"tmp-{uuid.uuid4().hex[:16]}", buyer=actor.organisation, cooperative=cooperative,
        agreement_id=agreement.id if agreement else None, placed_by=actor, checkout_id=checkout_id,
        province_code=checked.province_code, commune_code=checked.commune_code, street=checked.street,
        requested_date=checked.requested_date, po_number=checked.po_number, notes=checked.notes,
        payment_mode=settings[0], deposit_percent=settings[1], total_vnd=0, status=OrderStatus.PLACED,
        events=[], payments=[])  # a new order has none: its first event, and its answer, need no SELECT
    for position, (product, quantity) in enumerate(lines):
        price, source = (agreed[product.id], "agreement") if product.id in agreed else \
            (product.unit_price_for(quantity), "tier")
        order.lines.append(OrderLine(
            position=position, product_id=product.id, name=product.name, unit=product.unit.value,
            quantity=quantity, unit_price_vnd=price, line_total_vnd=price * quantity, price_source=source,
            capacity_key=capacity.period_key(product, checked.requested_date)))
    order.total_vnd = sum(line.line_total_vnd for line in order.lines)
    if order.total_vnd > MAX_TOTAL_VND:
        raise ValidationFailed.for_fields({"lines": _l("This order is too large: split it.")})
    db.session.add(order)
    return order


def _number(orders):
    """Give the new orders their ids and their references, which hold the ids. On PostgreSQL the ids are taken from
    the table's sequence in one statement, before anything is inserted: the orders, their lines and their events
    are then inserted by one flush, with their references. Elsewhere (SQLite: no sequence) one flush inserts the
    orders first, and their references are written by the next."""
    ids = _next_order_ids(len(orders))
    if ids is None:
        db.session.flush()
    else:
        for order, order_id in zip(orders, ids, strict=True):
            order.id = order_id
    year = today().year
    for order in orders:
        order.reference = f"DH-{year}-{order.id:06d}"


def _next_order_ids(count):
    """`count` new ids of orders from PostgreSQL's sequence of the table (ascending), or None on another database."""
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    with db.session.no_autoflush:  # the new orders are inserted later, with these ids
        return sorted(db.session.scalars(_NEXT_ORDER_IDS, {"count": count}))


# Built once (a statement's construction and cache key cost more CPU than its execution): `count` ids of orders.
_NEXT_ORDER_IDS = sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(Order.__tablename__, "id"))).select_from(
    sa.func.generate_series(1, sa.bindparam("count", type_=sa.Integer)))


def _payment_terms(cooperative_ids):
    """{cooperative id: (mode, deposit percent)} of the terms each cooperative accepts, payment in full when it set
    none: one query."""
    from marketplace.payments.models import PaymentSettings  # payments builds on orders, not the reverse

    terms = dict.fromkeys(cooperative_ids, (PaymentMode.FULL, 0))
    for settings in db.session.scalars(_deposit_terms_statement(PaymentSettings), {"ids": list(terms)}):
        terms[settings.organisation_id] = (PaymentMode.DEPOSIT, settings.deposit_percent)
    return terms


@functools.cache
def _deposit_terms_statement(settings_model):
    """The deposit terms of the cooperatives `ids` (built once: see _NEXT_ORDER_IDS)."""
    return sa.select(settings_model).where(settings_model.organisation_id.in_(sa.bindparam("ids", expanding=True)),
                                           settings_model.mode == PaymentMode.DEPOSIT)


def _reserve_capacity(orders, checked):
    """Hold every line's capacity, in product order (the same lock order in every transaction: no
    deadlock between two checkouts). Raises InsufficientCapacity naming every short line."""
    index_of = {product.id: index for index, (product, _q) in enumerate(checked.lines)}
    products = {product.id: product for product, _q in checked.lines}
    short = {}
    lines = sorted((line for order in orders for line in order.lines), key=lambda line: line.product_id)
    for line in lines:
        if line.capacity_key is None:
            continue
        product = products[line.product_id]
        if not capacity.reserve(product.id, line.capacity_key, line.quantity, product.capacity_qty):
            left = capacity.available(product, line.capacity_key)
            short[f"lines.{index_of[product.id]}.quantity"] = _short_message(product, left, checked.requested_date)
    if short:
        raise InsufficientCapacity(short)


def _short_message(product, left, on):
    unit = UNIT_NAMES_VI.get(product.unit, product.unit)
    bounds = capacity.period_bounds(product, on)
    if bounds is None:
        return _l("Only %(qty)s %(unit)s of %(product)s are left in stock.", qty=left, unit=unit, product=product.name)
    return _l("Only %(qty)s %(unit)s of %(product)s are left for delivery between %(start)s and %(end)s.",
              qty=left, unit=unit, product=product.name, start=bounds[0].strftime("%d/%m/%Y"),
              end=bounds[1].strftime("%d/%m/%Y"))


# ---------------------------------------------------------------- the cooperative's answer

@unit_of_work()
def confirm(actor, order_id):
    """The cooperative accepts the order: the buyer may pay what is due before shipping.
    Raises NotFound, Forbidden, InvalidTransition."""
    order = _as_cooperative(actor, order_id)
    if not order.can_confirm():
        raise InvalidTransition(_l("Only a placed order can be confirmed."))
    _claim_status(order, OrderStatus.CONFIRMED)
    _record(order, OrderEventKind.CONFIRMED, actor)
    _notify(order, order.buyer, _l("Order %(reference)s confirmed", reference=order.reference),
            _l("%(cooperative)s confirmed your order. %(amount)s ₫ is due before shipping.",
               cooperative=order.cooperative.legal_name, amount=grouped(order.due_before_shipping_vnd)))
    return order


@unit_of_work()
def reject(actor, order_id, reason):
    """The cooperative refuses the order, with a reason; its capacity is released.
    Raises NotFound, Forbidden, InvalidTransition, ValidationFailed (no reason)."""
    order = _as_cooperative(actor, order_id)
    reason = _reason(reason)
    if not order.can_reject():
        raise InvalidTransition(_l("Only a placed order can be rejected."))
    _claim_status(order, OrderStatus.REJECTED, reason)
    _release_capacity(order)
    _record(order, OrderEventKind.REJECTED, actor, note=reason)
    _notify(order, order.buyer, _l("Order %(reference)s rejected", reference=order.reference),
            _l("%(cooperative)s rejected your order: %(reason)s", cooperative=order.cooperative.legal_name,
               reason=reason))
    return order


@unit_of_work()
def cancel(actor, order_id, reason):
    """Either side cancels before shipping, with a reason: capacity is released, pending payments are
    cancelled, card payments refunded through Stripe, bank transfers marked to pay back.
    Raises NotFound, InvalidTransition, ValidationFailed (no reason)."""
    from marketplace.payments import services as payments  # payments builds on orders, not the reverse

    order = get_order(actor, order_id)
    reason = _reason(reason)
    if not order.can_cancel():
        raise InvalidTransition(_l("An order can be cancelled only before it is shipped."))
    _claim_status(order, OrderStatus.CANCELLED, reason)
    _release_capacity(order)
    order.cancelled_by = actor.organisation
    _record(order, OrderEventKind.CANCELLED, actor, note=reason)
    payments.settle_cancelled_order(order)
    other = order.counterparty_of(actor.organisation_id)
    _notify(order, other, _l("Order %(reference)s cancelled", reference=order.reference),
            _l("%(party)s cancelled the order: %(reason)s", party=actor.organisation.legal_name, reason=reason))
    return order


# ---------------------------------------------------------------- shipping and delivery

@unit_of_work()
def ship(actor, order_id, delivery_note, lines=None):
    """The cooperative ships a paid order, with a delivery note and the quantities shipped (default: all
    ordered). Stock leaves the stock on hand. Raises NotFound, Forbidden, InvalidTransition, ValidationFailed."""
    order = _as_cooperative(actor, order_id)
    note = _text(delivery_note, MAX_DELIVERY_NOTE, "delivery_note", errors := {}, required=True,
                 missing=_l("Write the delivery note: carrier, vehicle, packages."))
    if errors:
        raise ValidationFailed.for_fields(errors)
    if not order.can_ship():
        raise InvalidTransition(_l("An order is shipped once what is due before shipping is paid."))
    quantities = _quantities(order, lines, "quantity")
    _claim_status(order, OrderStatus.SHIPPED)
    for line in order.lines:
        line.quantity_shipped = quantities[line.product_id]
        if line.capacity_key == capacity.STOCK_KEY:
            capacity.release(line.product_id, line.capacity_key, line.quantity)
            capacity.take_from_stock(line.product_id, line.quantity_shipped)
    order.delivery_note = note
    _record(order, OrderEventKind.SHIPPED, actor, note=note)
    _notify(order, order.buyer, _l("Order %(reference)s shipped", reference=order.reference),
            _l("%(cooperative)s shipped your order. Delivery note: %(note)s",
               cooperative=order.cooperative.legal_name, note=note))
    return order


@unit_of_work()
def deliver(actor, order_id, lines=None):
    """The buyer confirms receipt with the quantities received (default: all shipped). The order is
    completed when it is paid in full, else the balance becomes due.
    Raises NotFound, Forbidden, InvalidTransition, ValidationFailed."""
    order = _as_buyer(actor, order_id)
    if not order.can_deliver():
        raise InvalidTransition(_l("Only a shipped order can be confirmed as delivered."))
    quantities = _quantities(order, lines, "quantity_shipped")
    _claim_status(order, OrderStatus.DELIVERED)
    differences = []
    for line in order.lines:
        line.quantity_received = quantities[line.product_id]
        if line.quantity_received != line.quantity_shipped:
            differences.append(f"{line.name}: {line.quantity_received}/{line.quantity_shipped}")
    _record(order, OrderEventKind.DELIVERED, actor, note="; ".join(differences))
    _notify(order, order.cooperative, _l("Order %(reference)s delivered", reference=order.reference),
            _l("%(buyer)s confirmed receipt of the order.", buyer=order.buyer.legal_name))
    _complete_if_paid(order)
    return order


def _quantities(order, lines, limit_attribute):
    """{product_id: quantity} from `[{"product_id", "quantity"}]`, each between 0 and the line's limit
    (ordered or shipped); missing lines take the limit. Raises ValidationFailed."""
    limits = {line.product_id: getattr(line, limit_attribute) or 0 for line in order.lines}
    if lines in (None, []):
        return limits
    if not isinstance(lines, list):
        raise ValidationFailed.for_fields({"lines": _l("Give a list of products and quantities.")})
    quantities, errors = dict(limits), {}
    for index, raw in enumerate(lines):
        raw = raw if isinstance(raw, dict) else {}
        product_id = raw.get("product_id")
        if not _is_id(product_id) or product_id not in limits:
            errors[f"lines.{index}.product_id"] = _l("This product is not in the order.")
            continue
        quantity = _whole(raw.get("quantity"), 0, limits[product_id])
        if quantity is None:
            errors[f"lines.{index}.quantity"] = _l("Give a whole number from %(min)s to %(max)s.",
                                                   min=0, max=limits[product_id])
            continue
        quantities[product_id] = quantity
    if not errors and not any(quantities.values()):
        errors["lines"] = _l("At least one quantity must be above zero.")
    if errors:
        raise ValidationFailed.for_fields(errors)
    return quantities


# ---------------------------------------------------------------- payments (called by payments.services)

def payment_started(order, actor, note):
    """A payment of the order was started (joins the payment's unit of work)."""
    if order.status == OrderStatus.CONFIRMED:
        _set_status(order, OrderStatus.AWAITING_PAYMENT)
    _record(order, OrderEventKind.PAYMENT_STARTED, actor, note=note)


def payment_failed(order, still_pending, note):
    """A payment failed; without another pending payment, the order waits for a new one."""
    if order.status == OrderStatus.AWAITING_PAYMENT and not still_pending:
        _set_status(order, OrderStatus.CONFIRMED)
    _record(order, OrderEventKind.PAYMENT_FAILED, None, note=note)


def payment_arrived(order, amount_vnd, actor, note, method_label):
    """Money arrived for the order: it becomes paid once the amount due before shipping is in, and
    completed once a delivered order is paid in full. Never moves an order backwards. Both sides are told."""
    order.paid_vnd += amount_vnd
    if order.status in (OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT) and order.paid_vnd >= order.deposit_vnd:
        _set_status(order, OrderStatus.PAID)
    _record(order, OrderEventKind.PAID, actor, note=note)
    message = _l("%(amount)s ₫ was received by %(method)s. Paid so far: %(paid)s ₫ of %(total)s ₫.",
                 amount=grouped(amount_vnd), method=method_label, paid=grouped(order.paid_vnd),
                 total=grouped(order.total_vnd))
    for party in (order.buyer, order.cooperative):
        _notify(order, party, _l("Payment received for order %(reference)s", reference=order.reference), message)
    _complete_if_paid(order)


def record_refund(order, kind, amount_vnd, note):
    """A refund was started, done, or left to do by hand (REFUND_STARTED, REFUNDED, REFUND_DUE)."""
    if kind == OrderEventKind.REFUNDED:
        order.refunded_vnd += amount_vnd
    _record(order, kind, None, note=note)


def record_mismatch(order, note):
    _record(order, OrderEventKind.PAYMENT_MISMATCH, None, note=note)


def _complete_if_paid(order):
    if order.status == OrderStatus.DELIVERED and order.paid_vnd >= order.total_vnd:
        _set_status(order, OrderStatus.COMPLETED)
        _record(order, OrderEventKind.COMPLETED, None)


# ---------------------------------------------------------------- helpers

def _as_cooperative(actor, order_id):
    order = get_order(actor, order_id)
    if order.cooperative_id != actor.organisation_id:
        raise InvalidTransition(_l("Only the cooperative can do this."))
    require(actor, Permission.FULFIL_ORDERS)
    return order


def _as_buyer(actor, order_id):
    order = get_order(actor, order_id)
    if order.buyer_id != actor.organisation_id:
        raise InvalidTransition(_l("Only the buyer can do this."))
    return order


def _release_capacity(order):
    for line in order.lines:
        capacity.release(line.product_id, line.capacity_key, line.quantity)


def _claim_status(order, status, reason=None):
    """Move the order from the status it was read in to `status` by one conditional UPDATE, the step's first
    write: of two steps racing from the same status (a cancel and a ship from two ERPs), one wins and the other
    raises InvalidTransition (409) with nothing written. PostgreSQL re-checks the condition after a concurrent
    writer's lock; on SQLite the UPDATE opens the write transaction, so it reads the latest committed status.
    Raises InvalidTransition."""
    values = {"status": status, "status_changed_at": utcnow()}
    if reason is not None:
        values["status_reason"] = reason
    claimed = db.session.execute(
        sa.update(Order).where(Order.id == order.id, Order.status == order.status)
        .values(**values).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise InvalidTransition(_l("The order changed meanwhile (the other side acted on it): reload it."))
    for name, value in values.items():  # what the UPDATE wrote, without a second UPDATE at the next flush
        set_committed_value(order, name, value)


def _set_status(order, status, reason=None):
    order.status = status
    order.status_changed_at = utcnow()
    if reason is not None:
        order.status_reason = reason


def _record(order, kind, actor, note=""):
    event = OrderEvent(kind=kind, user=actor, organisation=actor.organisation if actor is not None else None,
                       status=order.status, note=str(note))
    order.events.append(event)
    return event


def _notify(order, organisation, subject, message):
    """Email the active members of `organisation` about this step of the order (outbox)."""
    link = None  # built for the first recipient: an organisation without active members needs none
    for member in organisation.members:
        if member.is_active:
            link = link or notifications.link("orders.detail", order_id=order.id)
            notifications.send(member.email, subject, "order_step", member.locale, user=member,
                               order=order, message=message, link=link)


def _reason(reason):
    reason = _plain(reason)
    if not textinput.has_letter_or_digit(reason):
        raise ValidationFailed.for_fields({"reason": _l("Give a reason: the other side will read it.")})
    if len(reason) > MAX_REASON:
        raise ValidationFailed.for_fields({"reason": _l("Use at most %(max)s characters.", max=MAX_REASON)})
    return reason


def _plain(value):
    """Text as stored: cleaned, without NUL characters (which PostgreSQL text cannot hold)."""
    return textinput.clean(value.replace("\x00", "") if isinstance(value, str) else "")


def _text(value, maximum, name, errors, required=False, missing=None):
    text = _plain(value)
    if required and not textinput.has_letter_or_digit(text):
        errors[name] = missing
    elif len(text) > maximum:
        errors[name] = _l("Use at most %(max)s characters.", max=maximum)
    return text


def _public_product(product_id):
    product_id = _whole(product_id, 1, MAX_ID)
    product = db.session.get(Product, product_id) if product_id is not None else None
    return product if product is not None and product.is_public else None


def _public_products(product_ids):
    """{id: Product} of the public products among these ids (anything not a valid id is left out), each with its
    cooperative, the cooperative's members (the order's email) and its price tiers: three queries for the whole
    checkout instead of a few per line."""
    ids = {i for i in (_whole(product_id, 1, MAX_ID) for product_id in product_ids) if i is not None}
    if not ids:
        return {}
    products = db.session.scalars(_PRODUCTS_TO_ORDER, {"ids": sorted(ids)}).unique().all()
    return {product.id: product for product in products if product.is_public}


# Built once, the ids bound at each execution (see _NEXT_ORDER_IDS).
_PRODUCTS_TO_ORDER = sa.select(Product).where(Product.id.in_(sa.bindparam("ids", expanding=True))).options(
    sa.orm.joinedload(Product.cooperative).selectinload(Organisation.members), sa.orm.selectinload(Product.tiers))


def _quantity(value):
    return _whole(value, 1, MAX_QUANTITY)


def _whole(value, low, high):
    """An int within [low, high] from an int or a string of digits, else None (never a bool or float)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if low <= value <= high else None
    if isinstance(value, str):
        return whole_number(value.strip(), low, high)
    return None


def _iso_date(value):
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
    except ValueError:
        return None


def _is_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _is_active(actor):
    return getattr(actor, "is_authenticated", False) and actor.is_active

