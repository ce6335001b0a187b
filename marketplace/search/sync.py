"""Keep the index in step with the database, right after each commit.

SQLAlchemy session events collect what a flush changes: products, their price tiers, photos,
certifications and OCOP certificates, and cooperatives whose status, name or type changed (all
their products appear, disappear or change with them). After the commit, the documents of those
products are rebuilt from the committed rows (index.update reads them under the index lock, so
the last writer indexes the last data). A rollback forgets them.

The database is the source of truth: an indexing failure is logged and never raised, so it can
neither undo nor fail the change; `flask search check` finds the difference and `flask search
rebuild` repairs it. When the directory holds no index yet, the first change builds it whole.
"""
import logging
from itertools import chain

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event

from marketplace.search import index
from marketplace.search.documents import load_records, public_ids, product_ids_of_cooperatives

log = logging.getLogger("marketplace.search")

PENDING = "search_pending"
ORGANISATION_FIELDS = ("status", "legal_name", "cooperative_type")


def install():
    """Listen to every SQLAlchemy session (idempotent)."""
    for name, listener in (("after_flush", _after_flush), ("after_commit", _after_commit),
                           ("after_rollback", _after_rollback)):
        if not event.contains(sa.orm.Session, name, listener):
            event.listen(sa.orm.Session, name, listener)


# ---------------------------------------------------------------- collecting changes

def _after_flush(session, _flush_context):
    # In after_flush the new objects have their ids, and attribute histories still show the changes.
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
    if products or cooperatives:
        pending = session.info.setdefault(PENDING, {"products": set(), "cooperatives": set()})
        pending["products"] |= products
        pending["cooperatives"] |= cooperatives


def _values(obj, name):
    """The attribute's current value and, if it changed, its previous one (a photo moved away)."""
    history = sa.inspect(obj).attrs[name].history
    return {*history.added, *history.unchanged, *history.deleted} or {getattr(obj, name)}


def _after_rollback(session):
    session.info.pop(PENDING, None)


def _after_commit(session):
    pending = session.info.pop(PENDING, None)
    if not pending or not has_app_context():
        return
    app = current_app._get_current_object()
    if not app.config.get("SEARCH_SYNC", True):
        return
    try:
        refresh(app, pending["products"], pending["cooperatives"])
    except Exception:  # noqa: BLE001 — never fail or undo a committed change because of the index
        log.exception("search index: updating products %s (cooperatives %s) failed; "
                      "`flask search rebuild` repairs it", sorted(pending["products"]),
                      sorted(pending["cooperatives"]))


# ---------------------------------------------------------------- applying them

def _session():
    from marketplace.extensions import db

    # A session of its own: the committing session cannot run SQL inside its after_commit event,
    # and a new transaction sees every commit made before the index lock was taken.
    return sa.orm.Session(db.engine)


def fetch(ids):
    """{id: record} of the public products among `ids`, as committed now."""
    with _session() as session:
        return {record["id"]: record for record in load_records(session, ids)}


def refresh(app, product_ids=(), cooperative_ids=()):
    """Update the documents of these products and of every product of these cooperatives."""
    ids = set(product_ids)
    if cooperative_ids:
        with _session() as session:
            ids |= product_ids_of_cooperatives(session, cooperative_ids)
    path = app.config["SEARCH_INDEX_DIR"]
    try:
        index.update(path, ids, fetch)
    except index.IndexUnavailable:
        ensure_index(app)


def ensure_index(app):
    """Build the index from the database if the directory holds none (once, whoever gets there first)."""
    if not index.exists(app.config["SEARCH_INDEX_DIR"]):
        log.info("search index: none in %s; building it from the database", app.config["SEARCH_INDEX_DIR"])
        rebuild(app, if_missing=True)


def rebuild(app, progress=None, procs=1, limitmb=1024, if_missing=False):
    """Rebuild the whole index from the database; returns the number of products indexed."""
    with _session() as session:
        return index.build_index(app.config["SEARCH_INDEX_DIR"], load_records(session), procs=procs,
                                 limitmb=limitmb, fetch=fetch, progress=progress, if_missing=if_missing)


def count_public():
    with _session() as session:
        return len(public_ids(session))


def check(app):
    """Compare the index with the database. Returns {problem: sorted product ids} (empty when in step):
    missing (public, not indexed), extra (indexed, not public), stale (indexed data differs),
    duplicates (indexed twice), pending (changes waiting in the journal)."""
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
    report = {
        "missing": sorted(expected.keys() - indexed.keys()),
        "extra": sorted(indexed.keys() - expected.keys()),
        "stale": sorted(i for i in expected.keys() & indexed.keys() if expected[i] != indexed[i]),
        "duplicates": sorted(duplicates),
        "pending": sorted(index.pending_ids(path)),
    }
    return {problem: ids for problem, ids in report.items() if ids}
