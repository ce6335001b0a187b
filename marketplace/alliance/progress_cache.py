"""Every signed MoU's progress and the needs-attention lists, kept in each worker's memory between requests.

The follow-up list, the alliance's home and the dashboard all start from `tracking.progress_map()`: every signed
MoU's lines, totals and status, about 100 ms of Python at 2,000 MoUs however cheap its five queries are. What it
and the needs-attention list are computed from is small: the MoUs (state, dates, terms in force, events), their
milestones, the totals under MoUs that the orders keep (orders/agreement_totals.py), the follow-up's settings,
and the day in Vietnam (behind, stalled and ending soon move with it). So a worker keeps what it computed under
a key holding all of them but the rows, and for the rows the follow-up's version (versions.FOLLOW_UP): one row,
read by primary key on every request, that every transaction changing any of those rows bumps just before it
commits, whichever process or host commits it. A cached value is never older than its key (the version is read
before the rows); a change committed anywhere shows on the next request of every worker.

What bumps it: a flush of an Agreement (any kind and state: signatures awaited and addenda count too), an
AgreementRevision, an AgreementLine, an AgreementEvent (every state change of an MoU or of its follow-up records
one: a milestone marked done by a conditional UPDATE included) or a Milestone (`_after_flush` below), and every
refresh of the totals under MoUs (orders/agreement_totals.py: placing, each status step, payments, received
quantities). Never kept: a value computed by a transaction that changed those rows and has not committed (what it
reads is not what others see), and anything when FOLLOW_UP_CACHE is off.

Values are shared between requests and threads: callers never change them (they get a new dict or list of the
same Progress and AttentionItem objects).
"""
from itertools import chain

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event

from marketplace import versions
from marketplace.extensions import db
from marketplace.pagecache import PageCache

# (kind, day) pairs kept per worker: the progress map, the list and a list per status, two days (about 3 MB a day's
# map and lists at 2,000 MoUs). Values of an older version are dropped when a newer one is kept: the version only
# grows, so no one asks for them again.
ENTRIES = 16
VERSION = 2  # where the follow-up's version is in a key


def kept(kind, on, compute):
    """compute() (a value of the day `on` from the follow-up's data), from this worker's memory while nothing it
    depends on has changed, else computed now and kept (see the module). `kind`: hashable, what is computed."""
    config = current_app.config
    if not config.get("FOLLOW_UP_CACHE", True):
        return compute()
    session = db.session
    version = versions.read(session, versions.FOLLOW_UP)  # first: it flushes this transaction's changes
    if versions.pending(session, versions.FOLLOW_UP):
        return compute()
    key = (kind, on, version, config["FOLLOW_UP_BEHIND_MARGIN"], config["FOLLOW_UP_STALLED_DAYS"],
           config["FOLLOW_UP_SIGNATURE_DAYS"], config["FOLLOW_UP_ENDING_DAYS"], config["BABEL_DEFAULT_TIMEZONE"])
    store = current_app.extensions.get("follow_up_cache")
    if store is None:
        store = current_app.extensions.setdefault("follow_up_cache", PageCache(ENTRIES))
    value = store.get(key)
    if value is None:
        value = compute()
        store.put(key, value, replaces=lambda kept: kept[VERSION] != version)
    return value


def install():
    """Listen to every SQLAlchemy session (idempotent); before versions.install (web.py)."""
    if not event.contains(sa.orm.Session, "after_flush", _after_flush):
        event.listen(sa.orm.Session, "after_flush", _after_flush)


def _after_flush(session, _flush_context):
    from marketplace.agreements.models import Agreement, AgreementEvent, AgreementLine, AgreementRevision
    from marketplace.alliance.followup_models import Milestone

    inputs = (Agreement, AgreementRevision, AgreementLine, AgreementEvent, Milestone)
    if any(isinstance(obj, inputs) for obj in chain(session.new, session.dirty, session.deleted)):
        versions.changed(session, versions.FOLLOW_UP)
