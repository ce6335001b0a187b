"""Capacity held by orders, without overselling under concurrent checkouts.

A product declares a capacity: stock on hand, or a quantity per week, month, season or year. An order
line holds its quantity in the row of the period that contains the requested delivery date
(`CapacityUsage`). The row is changed by one conditional UPDATE — "add q where reserved + q <= capacity" —
so the check and the change are one statement: PostgreSQL re-evaluates the condition on the latest row
version after waiting for a concurrent writer's row lock, and SQLite runs the statement under its
database write lock (pysqlite begins the transaction at the first write, so no stale read is involved).
Nothing is decided from a value read earlier in Python.
"""
import functools
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from marketplace.catalog.models import CapacityPeriod, Product
from marketplace.extensions import db
from marketplace.orders.models import CapacityUsage
from marketplace.search import sync

STOCK_KEY = "stock"


class OutOfSeason(Exception):
    """The requested date falls in a month the product is not harvested."""


def period_key(product, on):
    """The key of the capacity period of `product` that holds the date `on`, or None when the product
    declared no capacity (the cooperative decides when it confirms). Raises OutOfSeason for a seasonal
    capacity when `on` is outside the harvest months."""
    if product.capacity_qty is None or product.capacity_period is None:
        return None
    period = product.capacity_period
    if period == CapacityPeriod.STOCK:
        return STOCK_KEY
    if period == CapacityPeriod.WEEK:
        year, week, _weekday = on.isocalendar()
        return f"{year}-W{week:02d}"
    if period == CapacityPeriod.MONTH:
        return f"{on.year}-{on.month:02d}"
    if period == CapacityPeriod.YEAR:
        return f"{on.year}"
    start = season_start(product.harvest_months, on)
    return f"{start.year}-S{start.month:02d}"


def season_start(harvest_months, on):
    """The first day of the harvest season holding `on`: the first month of the run of consecutive
    harvest months (wrapping over the new year) that contains `on`'s month. Without harvest months the
    season is the calendar year. Raises OutOfSeason when `on`'s month is not a harvest month."""
    months = set(harvest_months)
    if not months or len(months) == 12:
        return date(on.year, 1, 1)
    if on.month not in months:
        raise OutOfSeason(on)
    year, month = on.year, on.month
    for _ in range(11):
        previous_year, previous = (year, month - 1) if month > 1 else (year - 1, 12)
        if previous not in months:
            break
        year, month = previous_year, previous
    return date(year, month, 1)


def period_bounds(product, on):
    """First and last day of the capacity period holding `on` (for messages), or None for stock."""
    period = product.capacity_period
    if period == CapacityPeriod.WEEK:
        monday = on - timedelta(days=on.weekday())
        return monday, monday + timedelta(days=6)
    if period == CapacityPeriod.MONTH:
        return date(on.year, on.month, 1), _next_month(on) - timedelta(days=1)
    if period == CapacityPeriod.YEAR:
        return date(on.year, 1, 1), date(on.year, 12, 31)
    if period == CapacityPeriod.SEASON:
        start = season_start(product.harvest_months, on)
        months = set(product.harvest_months)
        if not months or len(months) == 12:
            return start, date(start.year, 12, 31)
        end = start
        for _ in range(11):
            following = _next_month(end)
            if following.month not in months:
                break
            end = following
        return start, _next_month(end) - timedelta(days=1)
    return None


def _next_month(day):
    """The first day of the month after `day`'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _insert(dialect):
    return pg_insert if dialect == "postgresql" else sqlite_insert


def reserve(product_id, key, quantity, capacity):
    """Hold `quantity` of the period `key` if the capacity allows it; True when held, False when short.

    One statement: insert the period's row holding `quantity`, or, when it exists, add `quantity` where the sum
    stays within the capacity (PostgreSQL's ON CONFLICT DO UPDATE is atomic and evaluates the condition on the
    latest row version, after any concurrent writer's lock). Runs inside the caller's unit of work: the row
    stays locked until its commit.
    """
    if quantity > capacity:
        return False
    held = db.session.execute(_reserve_statement(db.session.get_bind().dialect.name), {
        "product_id": product_id, "period_key": key, "quantity": quantity, "capacity": capacity})
    return held.first() is not None  # no row when the condition refused the update (rowcount says -1 here)


@functools.cache
def _reserve_statement(dialect):
    """reserve()'s statement, built once per dialect, its values bound at each execution (building the statement
    and its cache key anew cost more CPU than executing it)."""
    table = CapacityUsage.__table__
    statement = _insert(dialect)(table).values(
        product_id=sa.bindparam("product_id", type_=table.c.product_id.type),
        period_key=sa.bindparam("period_key", type_=table.c.period_key.type),
        reserved_qty=sa.bindparam("quantity", type_=table.c.reserved_qty.type))
    total = table.c.reserved_qty + statement.excluded.reserved_qty
    return statement.on_conflict_do_update(
        index_elements=["product_id", "period_key"], set_={"reserved_qty": total},
        where=total <= sa.bindparam("capacity", type_=table.c.reserved_qty.type)).returning(table.c.id)


def release(product_id, key, quantity):
    """Give back what an order line held (rejected, cancelled, or stock that has left the warehouse)."""
    if key is None or product_id is None:
        return
    db.session.execute(
        sa.update(CapacityUsage)
        .where(CapacityUsage.product_id == product_id, CapacityUsage.period_key == key)
        .values(reserved_qty=sa.case((CapacityUsage.reserved_qty > quantity, CapacityUsage.reserved_qty - quantity),
                                     else_=0))
        .execution_options(synchronize_session=False))


def take_from_stock(product_id, quantity):
    """Shipped goods leave the stock on hand: lower the product's declared stock by what was shipped. Pages show
    the stock, so the change goes to the search change log like any product change (the page cache follows it)."""
    lowered = db.session.execute(
        sa.update(Product).where(Product.id == product_id, Product.capacity_period == CapacityPeriod.STOCK)
        .values(capacity_qty=sa.case((Product.capacity_qty > quantity, Product.capacity_qty - quantity), else_=0))
        .returning(Product.id)
        .execution_options(synchronize_session=False))
    sync.record_products(db.session, lowered.scalars().all())


def available(product, key):
    """What remains of the period's capacity now (for pages; never used to decide a reservation)."""
    if key is None:
        return None
    reserved = db.session.scalar(sa.select(CapacityUsage.reserved_qty)
                                 .filter_by(product_id=product.id, period_key=key)) or 0
    return max(product.capacity_qty - reserved, 0)
