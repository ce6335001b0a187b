"""API v1 of bulk orders and their payments (issue 10), for ERP clients with a bearer token.

GET /orders (the token's organisation's orders, as buyer or cooperative; filters status, agreement_id, pages),
POST /orders (one order per cooperative, all or none; `Idempotency-Key` makes a retry return the first answer,
see idempotency.py), GET /orders/<id>, the actions POST /orders/<id>/confirm, /reject, /cancel, /ship,
/deliver, POST /orders/<id>/payments (start the payment that is due) and POST /payments/<id>/received (the
cooperative confirms a bank transfer). Handlers check only the JSON shape and types; orders/services.py and
payments/services.py decide the rest and their codes pass through: 409 `invalid_transition`,
`insufficient_capacity`, `payment_not_possible`, `cards_unavailable`; 403 for an organisation that may not
order or fulfil; 422 `validation_failed` per field (`lines.0.quantity`, `delivery.requested_date`); 404 for
anyone who is not a party to the order (another enterprise, another cooperative, the alliance).
"""
import sqlalchemy as sa
from flask import g, jsonify
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from marketplace.api import blueprint, token_required
from marketplace.api.agreements import DATE, _body, _list_args_none, _number, _optional_body, _reason, _string
from marketplace.api.catalog import _checked_args
from marketplace.api.idempotency import idempotent
from marketplace.errors import InvalidParameter, ValidationFailed
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import Order, OrderStatus, PaymentMode
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentMethod
from marketplace.querystring import MAX_PAGE, whole_number_arg
from marketplace.routing import MAX_ID
from marketplace.unit_of_work import unit_of_work

ORDER = "/orders/<id:order_id>"
MAX_PER_PAGE = 100
STATUSES = tuple(s.value for s in OrderStatus)
PLACE_FIELDS = frozenset({"lines", "delivery", "po_number", "agreement_id", "notes"})
DELIVERY_FIELDS = frozenset({"province_code", "commune_code", "street", "requested_date"})
LINE_FIELDS = frozenset({"product_id", "quantity"})


# ---------------------------------------------------------------- query parameters

def _list_args(args):
    errors = {name: _l("Unknown parameter.") for name in sorted(set(args) - {"status", "agreement_id", "page",
                                                                              "per_page"})}
    if "status" in args and args["status"] not in STATUSES:
        errors["status"] = _l("Use one of: %(values)s.", values=", ".join(STATUSES))
    agreement_id = whole_number_arg(args, "agreement_id", MAX_ID, strict=True, errors=errors)
    page = whole_number_arg(args, "page", MAX_PAGE, 1, strict=True, errors=errors)
    per_page = whole_number_arg(args, "per_page", MAX_PER_PAGE, 20, strict=True, errors=errors)
    if errors:
        raise InvalidParameter.for_parameters(errors)
    status = OrderStatus(args["status"]) if args.get("status") else None
    return services.OrderFilters(status=status, agreement_id=agreement_id), page, per_page


# ---------------------------------------------------------------- request bodies

def _lines(rows, errors):
    """`[{"product_id", "quantity"}]` with whole numbers, or None when not given; wrong JSON types go into
    `errors` (named like `lines.0.quantity`); ranges and products are the services' to check."""
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        errors["lines"] = _l("Give a list of products and quantities (objects).")
        return None
    lines = []
    for position, row in enumerate(rows):
        prefix = f"lines.{position}."
        for name in sorted(set(row) - LINE_FIELDS):
            errors[prefix + name] = _l("Unknown field.")
        lines.append({name: _number(row, name, errors, prefix) for name in sorted(LINE_FIELDS)})
    return lines


def _delivery(value, errors):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors["delivery"] = _l("Give an object with province_code, commune_code, street and requested_date.")
        return {}
    for name in sorted(set(value) - DELIVERY_FIELDS):
        errors[f"delivery.{name}"] = _l("Unknown field.")
    delivery = {name: _number(value, name, errors, "delivery.") for name in ("province_code", "commune_code")}
    for name in ("street", "requested_date"):
        text = value.get(name)
        if text is not None and not isinstance(text, str):
            errors[f"delivery.{name}"] = _l("Give a string.")
            text = None
        delivery[name] = text
    if delivery["requested_date"] is not None and not DATE.fullmatch(delivery["requested_date"]):
        errors["delivery.requested_date"] = _l("Enter a date as YYYY-MM-DD.")
    return delivery


def _order_request(body):
    """services.OrderRequest from the body; wrong JSON types are 422 per field (the services check the rest)."""
    errors = {}
    values = {"lines": _lines(body.get("lines"), errors), "delivery": _delivery(body.get("delivery"), errors),
              "po_number": _string(body, "po_number", errors), "notes": _string(body, "notes", errors),
              "agreement_id": _number(body, "agreement_id", errors)}
    if errors:
        raise ValidationFailed.for_fields(errors)
    return services.OrderRequest.from_mapping(values)


def _checked(errors, value):
    if errors:
        raise ValidationFailed.for_fields(errors)
    return value


# ---------------------------------------------------------------- JSON shapes (documented in openapi.py)

def _moment(value):
    return value.isoformat() if value else None


def _party(organisation):
    return {"id": organisation.id, "name": organisation.legal_name}


def payment_json(payment):
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "method": payment.method.value,
        "purpose": payment.purpose.value,
        "amount_vnd": payment.amount_vnd,
        "status": payment.status.value,
        "reference": payment.reference,
        "created_at": _moment(payment.created_at),
        "paid_at": _moment(payment.paid_at),
    }


def started_payment_json(payment):
    """A payment just started: what the buyer needs to pay it (Stripe's client secret, or the VietQR code)."""
    vietqr = None
    if payment.method == PaymentMethod.BANK_TRANSFER:
        transfer = payments.transfer_instructions(payment)
        vietqr = {"payload": transfer.payload, "reference": transfer.reference, "bank_name": transfer.bank_name,
                  "account_number": transfer.account_number, "account_name": transfer.account_name,
                  "amount_vnd": transfer.amount_vnd}
    client_secret = payment.stripe_client_secret if payment.method == PaymentMethod.CARD else None
    return {**payment_json(payment), "client_secret": client_secret, "vietqr": vietqr}


def order_json(order):
    """An order as both parties see it: lines (a snapshot of what was sold), money, payments and timeline."""
    deposit = order.payment_mode == PaymentMode.DEPOSIT
    return {
        "id": order.id,
        "reference": order.reference,
        "status": order.status.value,
        "status_reason": order.status_reason or None,
        "buyer": _party(order.buyer),
        "cooperative": _party(order.cooperative),
        "agreement_id": order.agreement_id,
        "po_number": order.po_number or None,
        "notes": order.notes or None,
        "requested_date": order.requested_date.isoformat(),
        "delivery": {"province_code": order.province_code, "commune_code": order.commune_code,
                     "street": order.street, "requested_date": order.requested_date.isoformat(),
                     "address": order.address},
        "delivery_note": order.delivery_note or None,
        "placed_at": _moment(order.placed_at),
        "status_changed_at": _moment(order.status_changed_at),
        "lines": [{
            "product_id": line.product_id,
            "name": line.name,
            "unit": line.unit,
            "quantity": line.quantity,
            "unit_price_vnd": line.unit_price_vnd,
            "line_total_vnd": line.line_total_vnd,
            "price_source": line.price_source,
            "quantity_shipped": line.quantity_shipped,
            "quantity_received": line.quantity_received,
        } for line in order.lines],
        "total_vnd": order.total_vnd,
        "paid_vnd": order.paid_vnd,
        "refunded_vnd": order.refunded_vnd,
        "amount_due_vnd": order.amount_due_vnd(),
        "payment_terms": {"mode": order.payment_mode.value,
                          "deposit_percent": order.deposit_percent if deposit else None,
                          "before_shipping_vnd": order.deposit_vnd},
        "payments": [payment_json(payment) for payment in order.payments],
        "events": [{
            "kind": event.kind.value,
            "status": event.status.value,
            "at": _moment(event.created_at),
            "organisation_id": event.organisation_id,
            "note": event.note or None,
        } for event in order.events],
    }


def _load_details(orders):
    """Load the orders (expired by a commit, for instance), their parties, lines, payments and events in four
    queries, not six per order. The ids come from the identity map: reading `order.id` would reload each."""
    if orders:
        ids = [sa.inspect(order).identity[0] for order in orders]
        db.session.scalars(sa.select(Order).where(Order.id.in_(ids)).options(
            selectinload(Order.lines), selectinload(Order.payments), selectinload(Order.events),
            joinedload(Order.buyer), joinedload(Order.cooperative))).unique().all()


def _order(order):
    return jsonify(order_json(order))


# ---------------------------------------------------------------- reads

@blueprint.get("/orders")
@token_required
def orders():
    """The orders of the token's organisation, as buyer or cooperative, newest first."""
    filters, page, per_page = _checked_args(_list_args)
    pagination = services.list_orders(g.api_user, filters, page, per_page)
    _load_details(pagination.items)
    return jsonify({"results": [order_json(order) for order in pagination.items], "total": pagination.total,
                    "page": pagination.page})


@blueprint.get(ORDER)
@token_required
def order(order_id):
    _checked_args(_list_args_none)
    return _order(services.get_order(g.api_user, order_id))


# ---------------------------------------------------------------- placing orders

@blueprint.post("/orders")
@token_required
@idempotent
def place_orders():
    """One order per cooperative of the lines, all or none.

    The answer is written inside the checkout's unit of work, from the orders as the service left them (every
    column, line and event is in memory after its last flush; a new order has no payments): after the commit they
    would be expired and read again in a second transaction, which also ends in a rollback that makes psycopg
    forget its prepared statements. The commit writes nothing the answer does not already show."""
    order_request = _order_request(_body(PLACE_FIELDS))
    with unit_of_work():
        placed = services.place_orders(g.api_user, order_request)
        answer = {"orders": [order_json(order) for order in placed]}
    return jsonify(answer), 201


# ---------------------------------------------------------------- actions

@blueprint.post(f"{ORDER}/confirm")
@token_required
def confirm_order(order_id):
    _optional_body(frozenset())
    return _order(services.confirm(g.api_user, order_id))


@blueprint.post(f"{ORDER}/reject")
@token_required
def reject_order(order_id):
    return _order(services.reject(g.api_user, order_id, _reason(_optional_body({"reason"}))))


@blueprint.post(f"{ORDER}/cancel")
@token_required
def cancel_order(order_id):
    return _order(services.cancel(g.api_user, order_id, _reason(_optional_body({"reason"}))))


@blueprint.post(f"{ORDER}/ship")
@token_required
def ship_order(order_id):
    """Shipped with a delivery note; `lines` gives the quantities shipped (default: everything ordered)."""
    body, errors = _optional_body({"delivery_note", "lines"}), {}
    note, lines = _string(body, "delivery_note", errors), _lines(body.get("lines"), errors)
    return _order(services.ship(g.api_user, order_id, _checked(errors, note), lines))


@blueprint.post(f"{ORDER}/deliver")
@token_required
def deliver_order(order_id):
    """The buyer received it; `lines` gives the quantities received (default: everything shipped)."""
    body, errors = _optional_body({"lines"}), {}
    lines = _lines(body.get("lines"), errors)
    return _order(services.deliver(g.api_user, order_id, _checked(errors, lines)))


# ---------------------------------------------------------------- payments

@blueprint.post(f"{ORDER}/payments")
@token_required
def start_payment(order_id):
    """Start the payment that is due now (deposit, full or balance); a pending one of the same method and
    amount is given again rather than a second one."""
    body, errors = _optional_body({"method"}), {}
    method = _checked(errors, _string(body, "method", errors))
    return jsonify(started_payment_json(payments.start_payment(g.api_user, order_id, method))), 201


@blueprint.post("/payments/<id:payment_id>/received")
@token_required
def payment_received(payment_id):
    """The cooperative confirms that a bank transfer arrived, with the amount received."""
    body, errors = _optional_body({"amount_vnd"}), {}
    amount = _checked(errors, _number(body, "amount_vnd", errors))
    return jsonify(payment_json(payments.confirm_transfer(g.api_user, payment_id, amount)))
