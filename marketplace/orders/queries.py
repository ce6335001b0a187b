"""Read models of the order pages: filter choices, the orders of one checkout, what the cart and checkout
pages show beside the lines. Only the user's own organisation's orders are ever read here, except by the
aggregates under MoUs at the end (the alliance's follow-up reads sums per MoU, never an order)."""
from typing import NamedTuple

import sqlalchemy as sa

from marketplace.accounts.models import Organisation
from marketplace.agreements import queries as agreement_queries
from marketplace.agreements.models import Agreement
from marketplace.catalog.models import UNIT_NAMES_VI, Unit
from marketplace.extensions import db
from marketplace.orders.models import (
    AgreementOrderSummary,
    AgreementProductTotals,
    Order,
    OrderLine,
    OrderStatus,
)


def _own_orders(organisation_id):
    return sa.or_(Order.buyer_id == organisation_id, Order.cooperative_id == organisation_id)


def counterparty_choices(organisation_id):
    """[(id, legal name)] of the organisations on the other side of this organisation's orders."""
    sellers = sa.select(Order.cooperative_id).where(Order.buyer_id == organisation_id)
    buyers = sa.select(Order.buyer_id).where(Order.cooperative_id == organisation_id)
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.legal_name)
        .where(sa.or_(Organisation.id.in_(sellers), Organisation.id.in_(buyers)))
        .order_by(Organisation.legal_name, Organisation.id)).all()
    return [(row.id, row.legal_name) for row in rows]


def agreement_choices(organisation_id):
    """[(id, reference)] of the MoUs this organisation's orders were placed under."""
    used = sa.select(Order.agreement_id).where(_own_orders(organisation_id), Order.agreement_id.is_not(None))
    rows = db.session.execute(sa.select(Agreement.id, Agreement.reference).where(Agreement.id.in_(used))
                              .order_by(Agreement.reference)).all()
    return [(row.id, row.reference) for row in rows]


def checkout_orders(organisation_id, checkout_id):
    """The orders one checkout of this (buying) organisation created, by reference."""
    if not isinstance(checkout_id, str) or not checkout_id:
        return []
    return db.session.scalars(sa.select(Order).where(Order.buyer_id == organisation_id,
                                                     Order.checkout_id == checkout_id)
                              .order_by(Order.reference)).all()


def mous_in_cart(groups, on):
    """[(agreement, cooperative, number of the cart's products it prices)] of the MoUs in force with the
    cooperatives of the cart (`services.cart_of`), to choose one at checkout."""
    choices = []
    for group in groups:
        product_ids = {item.product_id for item in group.items}
        for agreement in group.agreements:
            priced = agreement_queries.agreed_unit_prices(agreement).keys() & product_ids
            choices.append((agreement, group.cooperative, len(priced)))
    return choices


def unit_name(code):
    """The Vietnamese unit of an order line ("tấn" for "tan"); the code itself if unknown."""
    try:
        return UNIT_NAMES_VI[Unit(code)]
    except ValueError:
        return code


# ---------------------------------------------------------------- aggregates under MoUs (alliance follow-up)

# Orders that count towards an MoU: every order under it but those the cooperative rejected or either side cancelled.
COUNTED = (OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID,
           OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)
# Orders whose goods the buyer confirmed receiving: their lines' quantity_received is what was delivered.
RECEIVED = (OrderStatus.DELIVERED, OrderStatus.COMPLETED)


class LineTotals(NamedTuple):
    """What was ordered, delivered and paid of one product under one MoU."""

    agreement_id: int
    product_id: int
    ordered_qty: int
    delivered_qty: int
    ordered_vnd: int
    paid_vnd: int


def _paid_share():
    """The part of the order's payments that falls to a line, pro rata to the line's total: exact when the order
    is paid in full, unpaid, or has this one line (most MoU orders); otherwise rounded down to the đồng (the
    product runs in floating point so two large amounts cannot overflow a bigint)."""
    return sa.case(
        (Order.paid_vnd <= 0, 0),
        (Order.paid_vnd >= Order.total_vnd, OrderLine.line_total_vnd),
        (OrderLine.line_total_vnd == Order.total_vnd, Order.paid_vnd),
        else_=sa.cast(sa.cast(OrderLine.line_total_vnd, sa.Float) * Order.paid_vnd / Order.total_vnd,
                      sa.BigInteger))


def totals_under_agreements(agreement_ids=None, session=None):
    """[LineTotals] per (MoU, product) of the counted orders placed under these MoUs (every MoU when None): one
    GROUP BY query over the orders (`agreement_totals` keeps its result; pages read `kept_totals`). Ordered:
    quantities of the counted orders; delivered: quantities received on delivered or
    completed orders; paid: what each order received (Order.paid_vnd, kept by payments) shared between its
    lines pro rata."""
    def total(expression):
        # Cast back to bigint: PostgreSQL sums bigints as numeric (Decimal in Python).
        return sa.cast(sa.func.coalesce(sa.func.sum(expression), 0), sa.BigInteger)

    received = sa.case((Order.status.in_(RECEIVED), sa.func.coalesce(OrderLine.quantity_received, 0)), else_=0)
    statement = (sa.select(Order.agreement_id, OrderLine.product_id, total(OrderLine.quantity), total(received),
                           total(OrderLine.line_total_vnd), total(_paid_share()))
                 .join(OrderLine, OrderLine.order_id == Order.id)
                 .where(Order.agreement_id.is_not(None), Order.status.in_(COUNTED),
                        OrderLine.product_id.is_not(None))
                 .group_by(Order.agreement_id, OrderLine.product_id))
    if agreement_ids is not None:
        statement = statement.where(Order.agreement_id.in_(list(agreement_ids)))
    return [LineTotals._make(row) for row in (session or db.session).execute(statement)]


def last_order_under_agreements(agreement_ids=None, session=None):
    """{MoU id: when the latest counted order under it was placed} (one GROUP BY query over the orders)."""
    statement = (sa.select(Order.agreement_id, sa.func.max(Order.placed_at))
                 .where(Order.agreement_id.is_not(None), Order.status.in_(COUNTED))
                 .group_by(Order.agreement_id))
    if agreement_ids is not None:
        statement = statement.where(Order.agreement_id.in_(list(agreement_ids)))
    return {agreement_id: placed_at for agreement_id, placed_at in (session or db.session).execute(statement)}


def kept_totals(agreement_ids=None):
    """[LineTotals] per (MoU, product), as totals_under_agreements computes them, read from the rows that
    `agreement_totals` keeps with every change to an order (one query, no aggregation)."""
    statement = sa.select(AgreementProductTotals.agreement_id, AgreementProductTotals.product_id,
                          AgreementProductTotals.ordered_qty, AgreementProductTotals.delivered_qty,
                          AgreementProductTotals.ordered_vnd, AgreementProductTotals.paid_vnd)
    if agreement_ids is not None:
        statement = statement.where(AgreementProductTotals.agreement_id.in_(list(agreement_ids)))
    return [LineTotals._make(row) for row in db.session.execute(statement)]


def kept_last_orders(agreement_ids=None):
    """{MoU id: when the latest counted order under it was placed}, as last_order_under_agreements computes it,
    read from the rows `agreement_totals` keeps (one query)."""
    statement = sa.select(AgreementOrderSummary.agreement_id, AgreementOrderSummary.last_order_at).where(
        AgreementOrderSummary.last_order_at.is_not(None))
    if agreement_ids is not None:
        statement = statement.where(AgreementOrderSummary.agreement_id.in_(list(agreement_ids)))
    return {agreement_id: placed_at for agreement_id, placed_at in db.session.execute(statement)}


# ---------------------------------------------------------------- read models of the alliance's dashboard

class MonthTotals(NamedTuple):
    """Orders placed in one month (Vietnam's calendar): how many, their value and what they received so far."""

    month: str  # "2024-05"
    orders: int
    value_vnd: int
    paid_vnd: int


# Vietnam keeps UTC+7 all year (no daylight saving time), so its month of a UTC moment is that of the moment + 7 h.
VIETNAM_OFFSET_SQLITE = "+7 hours"
# The statuses COUNTED leaves out (rejected, cancelled): `status NOT IN` these is COUNTED (status is never NULL) with
# two comparisons a row instead of seven.
NOT_COUNTED = tuple(status for status in OrderStatus if status not in COUNTED)


def orders_by_month(since=None, agreement_ids=None):
    """[MonthTotals] of the counted orders (COUNTED: all but rejected and cancelled), by the month they were
    placed in Vietnam, oldest first: one GROUP BY query. `since`: a UTC datetime, the first moment counted;
    `agreement_ids`: only orders placed under these MoUs. Paid is Order.paid_vnd (kept by payments: a deposit
    counts), attributed to the month the order was placed.

    The dashboard's figure over every order of the last 12 months (issue 14). On PostgreSQL the month is the
    first moment of the month (date_trunc of the UTC time + 7 h, no time zone: cheap) rather than to_char's text,
    written as "YYYY-MM" here for the few months found, and the orders are grouped in a subquery the planner keeps
    as it is (OFFSET 0): it cannot estimate the months of an expression, so it would otherwise sort every order
    by month instead of adding them up in a hash of a dozen; the index on placed_at includes the summed columns,
    so the orders are read from it (docs/benchmarks.md, issue 14)."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    if postgresql:
        month = sa.func.date_trunc("month", sa.func.timezone("UTC", Order.placed_at) + sa.text("interval '7 hours'"))
    else:
        month = sa.func.strftime("%Y-%m", Order.placed_at, VIETNAM_OFFSET_SQLITE)
    rows = sa.select(month.label("month"), Order.total_vnd, Order.paid_vnd).where(Order.status.not_in(NOT_COUNTED))
    if since is not None:
        rows = rows.where(Order.placed_at >= since)
    if agreement_ids is not None:
        rows = rows.where(Order.agreement_id.in_(list(agreement_ids)))
    rows = rows.offset(0).subquery() if postgresql else rows.subquery()
    statement = (sa.select(rows.c.month, sa.func.count(),
                           sa.cast(sa.func.coalesce(sa.func.sum(rows.c.total_vnd), 0), sa.BigInteger),
                           sa.cast(sa.func.coalesce(sa.func.sum(rows.c.paid_vnd), 0), sa.BigInteger))
                 .group_by(rows.c.month).order_by(rows.c.month))
    result = db.session.execute(statement)
    if postgresql:
        return [MonthTotals(first.strftime("%Y-%m"), orders, value, paid) for first, orders, value, paid in result]
    return [MonthTotals._make(row) for row in result]
