"""Keep every host's index in step with the database, through the search change log.

1. Recording, in the transaction of the change: SQLAlchemy session events collect what a flush
   changes (products, their price tiers, photos, certifications and OCOP certificates, and
   cooperatives whose status, name or type changed) and insert `SearchChange` rows through the same
   connection. A change and its change row commit together or not at all.
2. Applying, on each host: `catch_up` reads the committed changes its index has not applied yet,
   rebuilds those products' documents from the committed rows, and records what it applied. It runs
   right after a local commit (without waiting for the lock: the holder re-checks after releasing
   it), in the host's follower (`flask search follow`, about every second, for the changes of other
   hosts), and at start (`flask search sync`). A failure leaves the position where it was, so the
   changes stay in the log and are applied by the next attempt.
3. The catalogue's version (`versions.CATALOGUE`, what the page cache keys on): a transaction that recorded
   changes raises it just before it commits, in the same transaction (marketplace/versions.py).

What an index applied is a position and a set (index.Position). On PostgreSQL a change's txid is its
writing transaction's id, and a transaction that began earlier may commit later: so the position only
moves up to the horizon (the oldest transaction still running anywhere on the server, below which every
change is committed or gone), and committed changes beyond it are applied at once and remembered by
(txid, id) until the horizon passes them. A transaction left open elsewhere (an import, a session idle in
transaction, another application on the server) holds the position back, never the indexing; the set
stays as small as the changes committed since that transaction began. On SQLite, one writer at a time,
ids follow the commit order, there is no horizon and the set stays empty.

The database is the source of truth: an indexing failure is logged and never raised to the use case.
An index folder that is missing (or of an older schema) is rebuilt from the database; so is one
whose last check is older than the log's retention (its changes may have been pruned).
"""
import logging
import signal
import threading
import time
from datetime import timedelta
from itertools import chain

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event

from marketplace import versions
from marketplace.search import index
from marketplace.search.documents import load_records, product_ids_of_cooperatives, public_ids
from marketplace.search.models import SearchChange
from marketplace.sqltypes import utcnow

log = logging.getLogger("marketplace.search")

WRITTEN = "search_changes_written"
ORGANISATION_FIELDS = ("status", "legal_name", "cooperative_type")
CHUNK = 2000  # changes applied per index commit
RECHECK_SECONDS = 3600  # an idle index notes it is up to date at most this often
NO_HORIZON = 2**63 - 1


def install():
    """Listen to every SQLAlchemy session (idempotent)."""
    for name, listener in (("after_flush", _after_flush), ("after_commit", _after_commit),
                           ("after_rollback", _after_rollback), ("after_soft_rollback", _after_soft_rollback)):
        if not event.contains(sa.orm.Session, name, listener):
            event.listen(sa.orm.Session, name, listener)


# ---------------------------------------------------------------- recording changes

def _after_flush(session, _flush_context):
    # In after_flush the new objects have their ids, and attribute histories still show the changes.
    _note(session, *_touched(session))


def record_products(session, product_ids):
    """Note products changed without the ORM's unit of work (a bulk UPDATE: shipped stock leaving the warehouse),
    as a flush of them would: their change rows in this transaction, and the catalogue's version at commit."""
    _note(session, set(product_ids) - {None}, set())


def _note(session, products, cooperatives):
    recorded = session.info.setdefault(WRITTEN, {"products": set(), "cooperatives": set()})
    products -= recorded["products"]  # one row per product and transaction, however many flushes
    cooperatives -= recorded["cooperatives"]
    if products or cooperatives:
        _record(session.connection(), products, cooperatives)
        recorded["products"] |= products
        recorded["cooperatives"] |= cooperatives
        # Bumped just before the commit (versions.py), even if a savepoint holding these rows is rolled back: one
        # more is harmless, one fewer would leave pages stale.
        versions.changed(session, versions.CATALOGUE)


def _touched(session):
    from marketplace.accounts.models import Organisation
    from marketplace.catalog.models import OcopCertificate, PriceTier, Product, ProductCertification, ProductImage

    products, cooperatives = set(), set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Product):
            products.add(obj.id)
        elif isinstance(obj, (PriceTier, ProductImage, ProductCertification, OcopCertificate)):
            products.update(_values(obj, "product_id"))
        elif isinstance(obj, Organisation) and obj.is_cooperative and obj in session.dirty:
            state = sa.inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in ORGANISATION_FIELDS):
                cooperatives.add(obj.id)
    products.discard(None)
    return products, cooperatives


def _values(obj, name):
    """The attribute's current value and, if it changed, its previous one (a photo moved away)."""
    history = sa.inspect(obj).attrs[name].history
    return {*history.added, *history.unchanged, *history.deleted} or {getattr(obj, name)}


def _txid(connection):
    """The writing transaction's id on PostgreSQL (see SearchChange); 0 elsewhere."""
    if connection.dialect.name == "postgresql":
        return sa.cast(sa.cast(sa.func.pg_current_xact_id(), sa.Text), sa.BigInteger)
    return 0


def _record(connection, products, cooperatives):
    rows = [{"product_id": i, "cooperative_id": None} for i in sorted(products)]
    rows += [{"product_id": None, "cooperative_id": i} for i in sorted(cooperatives)]
    connection.execute(sa.insert(SearchChange).values(txid=_txid(connection), created_at=utcnow()), rows)


def version(session):
    """The catalogue's version as committed now (0 before the first change): one primary-key read."""
    return versions.read(session, versions.CATALOGUE)


def _after_rollback(session):
    if session.in_nested_transaction():
        return  # a savepoint: _after_soft_rollback decides
    session.info.pop(WRITTEN, None)


def _after_soft_rollback(session, previous_transaction):
    # A savepoint rolled back may have taken change rows with it: record the products again if they change.
    if previous_transaction.nested and WRITTEN in session.info:
        session.info[WRITTEN] = {"products": set(), "cooperatives": set()}


def _after_commit(session):
    if session.in_nested_transaction():
        return  # a savepoint released (SQLAlchemy fires after_commit for it too): wait for the real commit
    recorded = session.info.pop(WRITTEN, None)
    if not recorded or not (recorded["products"] or recorded["cooperatives"]) or not has_app_context():
        return
    app = current_app._get_current_object()
    if not app.config.get("SEARCH_SYNC", True):
        return
    try:
        catch_up(app, timeout=0)
    except Exception:  # noqa: BLE001 — never fail or undo a committed change because of the index
        log.exception("search index: could not apply the change log now; the changes stay in the log "
                      "and the next commit, the follower or `flask search sync` applies them")


# ---------------------------------------------------------------- reading the log

def _session():
    from marketplace.extensions import db

    # A session of its own: the committing session cannot run SQL inside its after_commit event,
    # and a new transaction sees every commit made before the index lock was taken.
    return sa.orm.Session(db.engine)


def _horizon(session):
    """Changes of transactions below this id are all committed or gone (PostgreSQL); no limit elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return NO_HORIZON
    return session.scalar(sa.select(sa.cast(sa.cast(
        sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()), sa.Text), sa.BigInteger)))


def _unapplied(session, position, applied):
    """Conditions for the changes an index at (`position`, `applied`) has not applied."""
    conditions = [sa.tuple_(SearchChange.txid, SearchChange.id) > sa.tuple_(*position)]
    if applied:
        ids = sorted(change_id for _txid, change_id in applied)
        if session.get_bind().dialect.name == "postgresql":  # one array parameter, however many
            conditions.append(SearchChange.id != sa.all_(sa.literal(ids, sa.ARRAY(sa.BigInteger))))
        else:
            conditions.append(SearchChange.id.not_in(ids))
    return conditions


def pending(session, position, applied=frozenset(), limit=CHUNK):
    """(horizon, changes): the next committed changes not applied at (`position`, `applied`), in order,
    as rows (txid, id, product_id, cooperative_id), and the horizon read just before them."""
    # Read first: every transaction below it has ended before the changes are read, so the changes
    # below it that the read does not return do not exist (see _advance).
    horizon = _horizon(session)
    statement = (sa.select(SearchChange.txid, SearchChange.id, SearchChange.product_id, SearchChange.cooperative_id)
                 .where(*_unapplied(session, position, applied))
                 .order_by(SearchChange.txid, SearchChange.id).limit(limit))
    return horizon, session.execute(statement).all()


def _advance(position, applied, changes, horizon, complete):
    """The (position, applied) of an index at (`position`, `applied`) that has applied `changes`, read by
    `pending` with `horizon`; `complete` when they were all the changes pending then.

    Every change below the horizon was committed (or is gone) when they were read, so one that was
    neither applied before nor read is after the last change read: the position moves to the last
    applied change below the horizon (and, when the read was cut short, not after the last one read).
    Changes applied beyond it stay in the set until the horizon passes them."""
    applied = set(applied) | {(change.txid, change.id) for change in changes}
    end = None if complete else (changes[-1].txid, changes[-1].id)
    position = max([tuple(position), *(mark for mark in applied if mark[0] < horizon and (end is None or mark <= end))])
    return position, frozenset(mark for mark in applied if mark > position)


def now(session):
    """(position, applied) of an index that includes every change committed now (what a rebuild that reads
    the products next includes)."""
    horizon = _horizon(session)
    last = session.execute(sa.select(SearchChange.txid, SearchChange.id)
                           .where(SearchChange.txid < horizon)
                           .order_by(SearchChange.txid.desc(), SearchChange.id.desc()).limit(1)).first()
    beyond = session.execute(sa.select(SearchChange.txid, SearchChange.id).where(SearchChange.txid >= horizon)).all()
    return ((last.txid, last.id) if last else (0, 0)), frozenset((row.txid, row.id) for row in beyond)


def applied_version():
    """What changes whenever this host's index changes what a search finds (the search page's cache key,
    pagecache.py): the index's generation, which every writer's commit raises, and the change-log position
    it has recorded as applied (index.Position without checked_at), which also tells a rebuilt index (its
    generations start again) from the one before. Read from files: no SQL. Raises nothing (an unreadable
    position reads as none)."""
    path = current_app.config["SEARCH_INDEX_DIR"]
    position = index.position(path)
    return index.generation(path), position.change, position.applied


def lag(app):
    """How many committed changes this host's index has not applied yet."""
    position, applied, _checked = index.position(app.config["SEARCH_INDEX_DIR"])
    with _session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(SearchChange)
                              .where(*_unapplied(session, position, applied)))


def _products_of(session, changes):
    ids = {change.product_id for change in changes if change.product_id is not None}
    return ids | product_ids_of_cooperatives(session, {c.cooperative_id for c in changes if c.cooperative_id})


# ---------------------------------------------------------------- applying it

def fetch(ids):
    """{id: record} of the public products among `ids`, as committed now."""
    with _session() as session:
        return {record["id"]: record for record in load_records(session, ids)}


def _apply_pending(path):
    """Under the write lock: apply every committed change the index has not applied; returns how many."""
    position, applied, checked_at = recorded = index.position(path)
    count = 0
    while True:
        with _session() as session:
            horizon, changes = pending(session, position, applied)
            ids = _products_of(session, changes)
        if changes:
            index.apply(path, ids, fetch)
        position, applied = _advance(position, applied, changes, horizon, complete=len(changes) < CHUNK)
        count += len(changes)
        if len(changes) < CHUNK:
            break
        index.save_position(path, position, applied)
    if count or (position, applied) != recorded[:2] or time.time() - checked_at > RECHECK_SECONDS:
        # An idle index notes now and then that it is up to date: a later check knows nothing was pruned unseen.
        index.save_position(path, position, applied)
    return count


def _outdated(app):
    """The index was last known up to date before the oldest changes kept: some may have been pruned."""
    checked_at = index.position(app.config["SEARCH_INDEX_DIR"]).checked_at
    retention = timedelta(days=app.config["SEARCH_CHANGE_RETENTION_DAYS"]).total_seconds()
    return time.time() - checked_at > retention - RECHECK_SECONDS


def catch_up(app, timeout=None):
    """Bring this host's index up to date with the change log; returns the number of changes applied.

    Builds the index first when it is missing or outdated. `timeout` is how long to wait for the
    write lock (None: as long as it takes); when another process holds it, that process applies
    the changes, because it looks at the log again after releasing the lock. Raises what indexing
    raises (the changes stay in the log).
    """
    path = app.config["SEARCH_INDEX_DIR"]
    if not index.exists(path) or _outdated(app):
        rebuild(app, if_needed=True)
    applied = 0
    while True:
        with index.write_lock(path, timeout=timeout) as locked:
            if not locked:
                return applied
            applied += _apply_pending(path)
        # Released: a commit that found the lock busy meanwhile left its change to us.
        if not lag(app):
            return applied
        timeout = 0


def follow(app, stop, interval=None):
    """Apply the change log to this host's index until `stop` (a threading.Event) is set."""
    interval = interval or app.config["SEARCH_FOLLOW_INTERVAL"]
    log.info("search index: following the change log into %s", app.config["SEARCH_INDEX_DIR"])
    while not stop.is_set():
        try:
            applied = catch_up(app, timeout=interval)
            if applied:
                log.info("search index: applied %s change(s)", applied)
        except Exception:  # noqa: BLE001 — the changes stay in the log: try again at the next tick
            log.exception("search index: applying the change log failed; retrying")
        stop.wait(interval)


def follow_until_terminated(app):
    """`flask search follow`: follow until SIGTERM or SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    follow(app, stop)


def rebuild(app, progress=None, procs=1, limitmb=1024, if_needed=False):
    """Rebuild the whole index from the database; returns the number of products indexed (None when
    `if_needed` and another process built it meanwhile). Changes after the rebuild's start are applied
    by the next catch_up."""
    path = app.config["SEARCH_INDEX_DIR"]
    needed = (lambda: not index.exists(path) or _outdated(app)) if if_needed else None
    if if_needed:
        log.info("search index: building %s from the database", path)
    with _session() as session:
        position, applied = now(session)  # read before the products: what they include is applied again, harmlessly
        return index.build_index(path, load_records(session), procs=procs, limitmb=limitmb, progress=progress,
                                 needed=needed, change_position=position, applied=applied)


def prune_changes():
    """Forget changes older than SEARCH_CHANGE_RETENTION_DAYS; returns how many. An index that has been
    away longer rebuilds itself (see _outdated)."""
    cutoff = utcnow() - timedelta(days=current_app.config["SEARCH_CHANGE_RETENTION_DAYS"])
    with _session() as session:
        deleted = session.execute(sa.delete(SearchChange).where(SearchChange.created_at < cutoff)).rowcount
        session.commit()
    return deleted


def count_public():
    with _session() as session:
        return len(public_ids(session))


def check(app):
    """Compare the index with the database. Returns {problem: sorted product ids} (empty when in step):
    missing (public, not indexed), extra (indexed, not public), stale (indexed data differs),
    duplicates (indexed twice), behind (changed in the log after the index's position)."""
    from marketplace.search.documents import document

    path = app.config["SEARCH_INDEX_DIR"]
    if not index.exists(path):
        raise index.IndexUnavailable(path)
    indexed, duplicates = {}, set()
    for _docnum, stored in index.stored_documents(path):
        product_id = int(stored["id"])
        if product_id in indexed:
            duplicates.add(product_id)
        indexed[product_id] = stored.get("fingerprint")
    with _session() as session:
        expected = {record["id"]: document(record)["fingerprint"] for record in load_records(session)}
        position, applied, _checked = index.position(path)
        behind = _products_of(session, pending(session, position, applied, limit=None)[1])
    report = {
        "missing": sorted(expected.keys() - indexed.keys()),
        "extra": sorted(indexed.keys() - expected.keys()),
        "stale": sorted(i for i in expected.keys() & indexed.keys() if expected[i] != indexed[i]),
        "duplicates": sorted(duplicates),
        "behind": sorted(behind),
    }
    return {problem: ids for problem, ids in report.items() if ids}
