"""Totals under MoUs kept with the orders: what each MoU's counted orders add up to, per product, and its last order.

The alliance's follow-up shows every signed MoU's progress on each request; aggregating every order line under
every MoU each time cost most of the needs-attention list and the dashboard. Instead, the totals are rows
(`AgreementOrderSummary`, `AgreementProductTotals`) refreshed in the same transaction as every change to an order
placed under an MoU, so a change and the totals that follow from it commit together or not at all.

How: a session listener notes the MoU of every order, order line or order event flushed as new, changed or
deleted (every step of an order records an event); just
before the transaction commits, `refresh` recomputes those MoUs' totals from their orders with the aggregate
queries of `orders.queries` (restricted to those MoUs: cheap, by the index on `customer_order.agreement_id`)
and writes them. It first upserts each MoU's summary row, in id order: that row lock makes a second transaction
refreshing the same MoU wait for the first to commit, and PostgreSQL's next statement (READ COMMITTED) then sees
the first one's orders, so neither overwrites the other's totals with a stale sum. SQLite holds its database
write lock from the transaction's first write, so it reads the latest orders anyway.

Nothing outside the orders' own services writes orders, so this covers placing, every status step, payments and
received quantities; bulk writes that bypass the ORM (benchmarks' seeding) call `rebuild()` afterwards, as the
migration that created the tables did. Every refresh also bumps the follow-up's version (marketplace/versions.py),
which the alliance's kept progress keys on (alliance/progress_cache.py).
"""
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from marketplace import versions
from marketplace.extensions import db
from marketplace.orders import queries
from marketplace.orders.models import (
    AgreementOrderSummary,
    AgreementProductTotals,
    Order,
    OrderEvent,
    OrderLine,
)
from marketplace.sqltypes import utcnow

PENDING_AGREEMENTS = "agreement_totals_pending"  # session.info: MoU ids whose totals this transaction changed
PENDING_ORDERS = "agreement_totals_orders"  # session.info: ids of orders whose lines changed


def install():
    """Listen to every SQLAlchemy session (idempotent)."""
    for name, listener in (("after_flush", _after_flush), ("before_commit", _before_commit),
                           ("after_rollback", _after_rollback)):
        if not event.contains(sa.orm.Session, name, listener):
            event.listen(sa.orm.Session, name, listener)


def _after_flush(session, _flush_context):
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Order):
            if instance.agreement_id is not None:
                session.info.setdefault(PENDING_AGREEMENTS, set()).add(instance.agreement_id)
        elif isinstance(instance, (OrderLine, OrderEvent)):
            # A line's received quantity; an event, which every step records (a status claimed by a conditional
            # UPDATE leaves the order itself clean).
            order = instance.__dict__.get("order")  # loaded with it: no query to learn the MoU
            if order is not None:
                if order.agreement_id is not None:
                    session.info.setdefault(PENDING_AGREEMENTS, set()).add(order.agreement_id)
            elif instance.order_id is not None:
                session.info.setdefault(PENDING_ORDERS, set()).add(instance.order_id)


def _before_commit(session):
    # A savepoint's release also fires before_commit: its changes are refreshed with the outer transaction.
    if session.in_nested_transaction():
        return
    session.flush()
    agreement_ids = session.info.pop(PENDING_AGREEMENTS, set())
    order_ids = session.info.pop(PENDING_ORDERS, set())
    if order_ids:
        agreement_ids |= set(session.scalars(sa.select(Order.agreement_id).where(
            Order.id.in_(order_ids), Order.agreement_id.is_not(None))))
    if agreement_ids:
        refresh(agreement_ids, session)


def _after_rollback(session):
    if session.in_nested_transaction():
        return
    session.info.pop(PENDING_AGREEMENTS, None)
    session.info.pop(PENDING_ORDERS, None)


def refresh(agreement_ids, session=None):
    """Recompute and write the totals of these MoUs from their orders, in the current transaction (the caller
    commits), and note that the follow-up's version must change with them (versions.FOLLOW_UP: the alliance's
    kept progress is computed from these totals). Locks each MoU's summary row first, in id order (no deadlock
    between two refreshes)."""
    session = session or db.session
    ids = sorted(set(agreement_ids))
    versions.changed(session, versions.FOLLOW_UP)
    _lock_summaries(session, ids)
    totals = queries.totals_under_agreements(ids, session)
    last_orders = queries.last_order_under_agreements(ids, session)
    session.execute(sa.delete(AgreementProductTotals).where(AgreementProductTotals.agreement_id.in_(ids)))
    if totals:
        session.execute(sa.insert(AgreementProductTotals), [row._asdict() for row in totals])
    for agreement_id in ids:
        session.execute(sa.update(AgreementOrderSummary).where(AgreementOrderSummary.agreement_id == agreement_id)
                        .values(last_order_at=last_orders.get(agreement_id)))


def rebuild(session=None):
    """Recompute the totals of every MoU that has orders, from scratch, in the current transaction (after bulk
    writes that bypass the ORM). Returns the number of MoUs refreshed."""
    session = session or db.session
    versions.changed(session, versions.FOLLOW_UP)
    ids = set(session.scalars(sa.select(Order.agreement_id).where(Order.agreement_id.is_not(None)).distinct()))
    session.execute(sa.delete(AgreementProductTotals).where(AgreementProductTotals.agreement_id.not_in(ids)))
    session.execute(sa.delete(AgreementOrderSummary).where(AgreementOrderSummary.agreement_id.not_in(ids)))
    if ids:
        refresh(ids, session)
    return len(ids)


def _lock_summaries(session, ids):
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    for agreement_id in ids:
        statement = insert(AgreementOrderSummary).values(agreement_id=agreement_id, refreshed_at=now)
        session.execute(statement.on_conflict_do_update(index_elements=["agreement_id"],
                                                        set_={"refreshed_at": now}))
