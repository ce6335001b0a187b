"""Writing side effects into the outbox and delivering them after the commit.

A service calls `add(kind, payload)` inside its unit of work; the row commits with the change.
After the commit, the messages that commit wrote are dispatched:
- without REDIS_URL, delivered at once in this process (what `make run` and most tests do);
- with REDIS_URL, handed to the RQ queue (queue.py), whose workers deliver them.
A message is delivered by `deliver(id)`, which first claims the row (PENDING → RUNNING with a lease),
so two deliveries of one message never run at once and a delivered one is never delivered again.
A failure is recorded on the row and retried with back-off (RQ's Retry, or the next `sweep`); after
JOBS_MAX_ATTEMPTS the row is FAILED and listed by `flask jobs failed`. A crash between the commit
and the dispatch loses nothing: `sweep` (scheduled every minute) dispatches rows left pending.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event

from marketplace import unit_of_work
from marketplace.extensions import db
from marketplace.jobs.models import OutboxMessage, OutboxStatus
from marketplace.sqltypes import utcnow

log = logging.getLogger("marketplace.jobs")

NEW_MESSAGES = "outbox_new_messages"
LEASE = timedelta(minutes=5)  # a RUNNING row whose process died is claimable again after this
SWEEP_GRACE = timedelta(seconds=60)  # a pending row younger than this is still on its way to a worker

# kind → function(payload); filled by register(), e.g. notifications registers "email".
HANDLERS = {}


def register(kind):
    """Decorator: make `function(payload)` the handler of messages of this kind."""
    def decorate(function):
        HANDLERS[kind] = function
        return function
    return decorate


def add(kind, payload):
    """Write a side effect into the current unit of work; it runs only if the unit of work commits.

    Raises RuntimeError outside a unit of work (the row would not be committed with a change) and
    KeyError for a kind without a handler.
    """
    if kind not in HANDLERS:
        raise KeyError(f"no outbox handler for {kind!r}")
    if not unit_of_work.active():
        raise RuntimeError("outbox.add must run inside a unit of work")
    message = OutboxMessage(kind=kind, payload=payload)
    db.session.add(message)
    return message


def backoff(attempts):
    """Seconds to wait before attempt `attempts + 1`."""
    intervals = current_app.config["JOBS_RETRY_INTERVALS"]
    return intervals[min(attempts, len(intervals)) - 1] if attempts else 0


# ---------------------------------------------------------------- dispatch after commit

def install():
    """Listen to every SQLAlchemy session (idempotent)."""
    for name, listener in (("after_flush", _after_flush), ("after_commit", _after_commit),
                           ("after_rollback", _after_rollback)):
        if not event.contains(sa.orm.Session, name, listener):
            event.listen(sa.orm.Session, name, listener)


def _after_flush(session, _flush_context):
    new = [obj.id for obj in session.new if isinstance(obj, OutboxMessage)]
    if new:
        session.info.setdefault(NEW_MESSAGES, []).extend(new)


def _after_rollback(session):
    # Fired for a savepoint rolled back too: the outer transaction's messages still commit, so the list stays
    # (an id whose row the savepoint took back finds nothing to deliver).
    if session.in_nested_transaction():
        return
    session.info.pop(NEW_MESSAGES, None)


def _after_commit(session):
    # SQLAlchemy also fires after_commit when a savepoint is released; its rows commit (or not) with the
    # outer transaction, so they wait for it (delivering now would read uncommitted rows or, on SQLite,
    # wait for this transaction's own write lock).
    if session.in_nested_transaction():
        return
    ids = session.info.pop(NEW_MESSAGES, None)
    if ids and has_app_context():
        dispatch(ids)


def dispatch(ids):
    """Hand committed messages to the queue, or deliver them here when there is no queue.

    Never raises: a message that cannot be handed over stays PENDING for the next sweep.
    """
    from marketplace.jobs import queue

    for message_id in ids:
        try:
            if queue.configured():
                queue.enqueue_delivery(message_id)
            else:
                deliver(message_id)
        except Exception:  # noqa: BLE001 — the change is committed; the row keeps the side effect
            log.exception("outbox: message %s not delivered now; it stays in the outbox", message_id)


# ---------------------------------------------------------------- delivery

def _session():
    # A session of its own: the committing session cannot run SQL inside its after_commit event.
    return sa.orm.Session(db.engine)


def _claim(message_id):
    """PENDING (or RUNNING with an expired lease) → RUNNING; the claimed message, or None."""
    now = utcnow()
    with _session() as session:
        claimed = session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .where(sa.or_(OutboxMessage.status == OutboxStatus.PENDING,
                          sa.and_(OutboxMessage.status == OutboxStatus.RUNNING, OutboxMessage.locked_until < now)))
            .values(status=OutboxStatus.RUNNING, locked_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
        ).rowcount
        session.commit()
        if not claimed:
            return None
        message = session.get(OutboxMessage, message_id)
        session.expunge(message)
        return message


def deliver(message_id):
    """Run one message's side effect unless it is delivered, failed or being delivered elsewhere.

    Returns True when this call delivered it. Re-raises the handler's exception after recording it
    (RQ retries the job on that), so the row says PENDING with a later next_attempt_at, or FAILED
    after JOBS_MAX_ATTEMPTS.
    """
    message = _claim(message_id)
    if message is None:
        return False
    try:
        HANDLERS[message.kind](message.payload)
    except Exception as error:
        _record_failure(message, error)
        raise
    _record_success(message)
    return True


def _redacted(message):
    """What a delivered message keeps: an email's recipient and subject, not its body (it may hold a link)."""
    if message.kind == "email":
        return {key: message.payload.get(key) for key in ("to", "subject")}
    return message.payload


def _record_success(message):
    with _session() as session:
        session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message.id).values(
            status=OutboxStatus.DONE, done_at=utcnow(), locked_until=None, last_error="", payload=_redacted(message)))
        session.commit()


def _record_failure(message, error):
    gave_up = message.attempts >= current_app.config["JOBS_MAX_ATTEMPTS"]
    status = OutboxStatus.FAILED if gave_up else OutboxStatus.PENDING
    log.warning("outbox: message %s (%s) failed on attempt %s%s: %r", message.id, message.kind, message.attempts,
                " and is given up" if gave_up else "", error)
    with _session() as session:
        session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message.id).values(
            status=status, locked_until=None, last_error=f"{type(error).__name__}: {error}"[:2000],
            next_attempt_at=utcnow() + timedelta(seconds=backoff(message.attempts))))
        session.commit()


# ---------------------------------------------------------------- operators

def sweep():
    """Dispatch what is due: pending rows past their next attempt (left by a crash, a queue outage or a
    failure) and running rows whose lease ran out. Returns the number dispatched. Scheduled every minute."""
    now = utcnow()
    due = sa.or_(
        sa.and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now,
                sa.or_(OutboxMessage.attempts > 0, OutboxMessage.created_at <= now - SWEEP_GRACE)),
        sa.and_(OutboxMessage.status == OutboxStatus.RUNNING, OutboxMessage.locked_until < now),
    )
    with _session() as session:
        ids = list(session.scalars(sa.select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(1000)))
    dispatch(ids)
    return len(ids)


def failed_messages():
    """Messages given up after JOBS_MAX_ATTEMPTS, oldest first."""
    with _session() as session:
        query = sa.select(OutboxMessage).filter_by(status=OutboxStatus.FAILED).order_by(OutboxMessage.id)
        messages = list(session.scalars(query))
        session.expunge_all()
        return messages


def retry(ids=None):
    """Give failed messages (these ids, or all when None) a new series of attempts and dispatch them.

    Returns the ids retried; ids that are not failed messages are left alone.
    """
    with _session() as session:
        query = sa.select(OutboxMessage.id).filter_by(status=OutboxStatus.FAILED)
        if ids is not None:
            query = query.where(OutboxMessage.id.in_(ids))
        chosen = list(session.scalars(query.order_by(OutboxMessage.id)))
        if chosen:
            session.execute(sa.update(OutboxMessage).where(OutboxMessage.id.in_(chosen)).values(
                status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow()))
            session.commit()
    dispatch(chosen)
    return chosen
