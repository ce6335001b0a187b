"""Named versions of data that workers keep derived copies of in memory (issue 14).

A worker may keep something it computed from the database (a rendered catalogue page, every signed MoU's
progress) while nothing it was computed from has changed. To know that cheaply, from any process, each kind of
data has a version: one row of `data_version` (name → value), read by primary key (the same cost however much
data there is), raised in every transaction that changes that data, in that transaction (bump()). A cache keys its
entries on the version it read before computing, so an entry is never older than its key, and a commit from any
worker or host retires every worker's entries at once.

Recording: the module that knows what a flush or a statement changed calls `changed(session, NAME)` (from a
session event, or after a Core statement); the version is bumped once, by `_before_commit`, the last thing
before the transaction commits: concurrent writers then queue on the version's row (PostgreSQL holds the row
lock until the commit) only for the moment of their commits, not for their whole transactions. Names are bumped
in sorted order, so two transactions bumping the same names never deadlock. A change noted after that (another
listener's flush) bumps at once: one more is harmless, one fewer would leave caches stale. A change noted before
a savepoint that is rolled back still bumps, for the same reason. Nothing is bumped when the transaction rolls
back.

The names in use: CATALOGUE (search/sync.py: every transaction that writes the search change log; pagecache.py
and the catalogue's province counts key on it), FOLLOW_UP (alliance/tracking.py's kept progress and
needs-attention lists: MoUs and their revisions, lines, events and milestones, and the totals under MoUs) and
RECORDS (any row of any table but those in NOT_SHOWN: the signed-in list pages kept per organisation, pagecache.py;
noted here, by a flush or a bulk statement through the session, `_after_flush` and `_after_statement`).
A name without a row reads as 0; its first bump inserts it; the names of one commit are bumped in one statement.
"""
import functools
import time
from itertools import chain

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db

CATALOGUE = "catalogue"
FOLLOW_UP = "follow_up"
RECORDS = "records"

# Tables whose rows no kept page shows (pagecache.kept_for_the_organisation), written by requests that change
# nothing anyone sees there (a session's last activity, a delivered email, an API retry's stored answer, a processed
# Stripe event; a registration or password reset waiting for its link, and a login unlock: their paths must do the
# same work whether the email is known or not, tests/accounts/test_enumeration.py), or shown there only through the
# person's own header parts, filled in for each answer (a cart's items, a person's read notices), or written only
# beside a table that is shown (the search change log, with its product): writing them leaves RECORDS as it is.
NOT_SHOWN = frozenset({"data_version", "auth_session", "outbox_message", "idempotent_request", "stripe_event",
                       "pending_registration", "password_reset", "login_unlock", "cart_item", "notice_cursor",
                       "search_change"})

# Columns no kept page shows, in tables that are otherwise shown: a row changed only there leaves RECORDS as it is
# (a login notes its time on the account; a password is rehashed with new parameters): at a conference's start,
# every login would otherwise retire every kept page.
NOT_SHOWN_COLUMNS = {"user_account": frozenset({"last_login_at", "password_hash"})}

PENDING = "versions_pending"  # session.info: names this transaction changed, bumped just before it commits
BUMPED = "versions_bumped"  # session.info: names bumped already by _before_commit


class DataVersion(db.Model):
    """One kind of data's version: `value` grows by one in every transaction that changes that data (see the
    module)."""

    __tablename__ = "data_version"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


def read(session, name):
    """The version of `name` as committed now (as this transaction sees it), 0 before its first change: one
    primary-key read."""
    return session.scalar(sa.select(DataVersion.value).where(DataVersion.name == name)) or 0


def changed(session, name):
    """Note that this transaction changed the data `name` versions: its version is bumped just before the
    commit (at once if that moment has passed: a flush from another before-commit listener)."""
    if name in session.info.get(BUMPED, ()):
        bump(session.connection(), name)
    else:
        session.info.setdefault(PENDING, set()).add(name)


def pending(session, name):
    """True when this transaction has changed `name`'s data and not committed yet (what it reads of that data is
    not what other transactions see: not to be kept under the committed version)."""
    return name in session.info.get(PENDING, ()) or name in session.info.get(BUMPED, ())


def bump(connection, *names):
    """Raise each name's version in the connection's transaction (inserting its row if missing), in one statement
    and in sorted order (the rows' locks too): to the larger of its value plus one and the clock in microseconds.
    Never a number given before: after a restore from a backup the version would otherwise count again through
    values whose ETags browsers hold for other content."""
    names = tuple(sorted(set(names)))
    connection.execute(_bump_statement(connection.dialect.name, names), {"now": _clock_microseconds()})


@functools.cache
def _bump_statement(dialect, names):
    """The upsert of `names` (built once per process: a checkout bumps on every commit)."""
    table = DataVersion.__table__
    if dialect == "postgresql":
        insert, greatest = pg_insert, sa.func.greatest
    else:
        insert, greatest = sqlite_insert, sa.func.max  # SQLite's max() of several arguments
    now = sa.bindparam("now", type_=sa.BigInteger)
    statement = insert(table).values([{"name": name, "value": now} for name in names])
    return statement.on_conflict_do_update(
        index_elements=[table.c.name], set_={"value": greatest(table.c.value + 1, statement.excluded.value)})


def _clock_microseconds():
    return time.time_ns() // 1000


def install():
    """Listen to every SQLAlchemy session (idempotent). Installed after the other modules' listeners (web.py), so
    that their before-commit work (the totals under MoUs) notes its changes before the versions are bumped."""
    for name, listener in (("after_flush", _after_flush), ("do_orm_execute", _after_statement),
                           ("before_commit", _before_commit), ("after_commit", _forget),
                           ("after_rollback", _after_rollback)):
        if not event.contains(sa.orm.Session, name, listener):
            event.listen(sa.orm.Session, name, listener)


def _before_commit(session):
    if session.in_nested_transaction():
        return  # a savepoint released (it fires this too): wait for the real commit
    session.flush()
    names = session.info.pop(PENDING, set())
    if names:
        bump(session.connection(), *names)
        session.info.setdefault(BUMPED, set()).update(names)


def _after_flush(session, _flush_context):
    if RECORDS not in session.info.get(PENDING, ()):
        # Not an attribute set to what it was, nor a change only of columns no kept page shows.
        dirty = (obj for obj in session.dirty if session.is_modified(obj) and _shown_change(obj))
        for obj in chain(session.new, session.deleted, dirty):
            if obj.__table__.name not in NOT_SHOWN:
                changed(session, RECORDS)
                return


def _shown_change(obj):
    hidden = NOT_SHOWN_COLUMNS.get(obj.__table__.name)
    if hidden is None:
        return True
    return any(attr.key not in hidden and attr.history.has_changes() for attr in sa.inspect(obj).attrs)


def _after_statement(state):
    """An INSERT, UPDATE or DELETE through session.execute() (bulk statements skip the flush)."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) not in NOT_SHOWN:
            changed(state.session, RECORDS)


def _forget(session):
    if session.in_nested_transaction():
        return
    session.info.pop(PENDING, None)
    session.info.pop(BUMPED, None)


def _after_rollback(session):
    _forget(session)
