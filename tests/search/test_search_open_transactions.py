"""Indexing never waits for transactions that have nothing to do with it (marketplace/search/sync.py).

On PostgreSQL a change's position is its writing transaction's id, and a transaction that began earlier
may commit later, so the index's recorded position stays below the oldest transaction still running
anywhere on the server. A writing transaction left open elsewhere (an import, a session idle in
transaction, another test run on the same server) used to stall every index until it ended; now the
committed changes beyond that horizon are applied at once and remembered by the index until the horizon
passes them: none is skipped, none applied twice. The position file of the older format still reads."""
import json
import logging
import time

import pytest
import sqlalchemy as sa

from marketplace.catalog import services as catalog
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.search import index as search_index
from marketplace.search import query, sync
from marketplace.search.models import SearchChange
from tests import factories


@pytest.fixture(autouse=True)
def _close_searchers():
    yield
    search_index.close_searchers()


def found(app, q):
    return query.search(app.config["SEARCH_INDEX_DIR"], q, per_page=100).ids


def details(name):
    return catalog.ProductDetails.from_mapping({
        "name": name, "category": "processed_food", "unit": "kg", "province_code": 20, "base_price_vnd": 90000,
        "min_order_qty": 10, "order_increment": 1})


def recorded(app):
    return search_index.position(app.config["SEARCH_INDEX_DIR"])


@pytest.fixture
def applied_batches(monkeypatch):
    """The product ids of every batch the index applies from the change log."""
    batches, real_apply = [], search_index.apply

    def recording_apply(path, ids, fetch):
        real_apply(path, ids, fetch)
        batches.append(sorted(ids))

    monkeypatch.setattr(search_index, "apply", recording_apply)
    return batches


@pytest.fixture
def open_writer(app):
    """A transaction on another connection that has written (to a table search knows nothing of) and stays
    open until the test ends."""
    connection = db.engine.connect()
    connection.execute(sa.text("CREATE TEMPORARY TABLE unrelated_import (line text)"))
    connection.execute(sa.text("INSERT INTO unrelated_import VALUES ('not committed yet')"))
    yield connection
    connection.rollback()
    connection.close()


@pytest.mark.postgresql_only  # on SQLite a writing transaction left open blocks every other writer
def test_a_writing_transaction_left_open_elsewhere_does_not_delay_indexing(app, cooperative_owner, open_writer,
                                                                           applied_batches):
    product = factories.product(cooperative_owner.organisation, name="Miến dong Bình Liêu")
    assert found(app, "binh lieu") == [product.id]

    catalog.update_product(cooperative_owner, product.id, details("Miến dong Tân Yên"))
    assert found(app, "tan yen") == [product.id]  # at once, the other transaction still open
    assert sync.check(app) == {} and sync.lag(app) == 0  # `flask search check`: in step, 0 behind
    assert recorded(app).applied  # remembered beyond the position, which the open transaction holds back

    assert sync.catch_up(app) == 0  # what the follower does next: nothing again
    open_writer.rollback()
    assert sync.catch_up(app) == 0
    assert applied_batches == [[product.id]]  # the rename, once (the first commit built the index)
    assert sync.check(app) == {}


@pytest.mark.postgresql_only
def test_a_change_committed_later_with_a_smaller_id_is_applied_once(app, cooperative_owner, applied_batches):
    first = factories.product(cooperative_owner.organisation, name="Chè Shan tuyết")
    second = factories.product(cooperative_owner.organisation, name="Gạo Séng Cù")
    applied_batches.clear()

    # Transaction A changes the first product and stays open: its change row has the smaller txid and id.
    session_a = sa.orm.Session(db.engine)
    try:
        session_a.get(Product, first.id).name = "Chè Shan tuyết cổ thụ"
        session_a.flush()
        # B commits a change of the second product: applied at once, though A (older) is still running.
        catalog.update_product(cooperative_owner, second.id, details("Gạo Séng Cù Mường Khương"))
        assert found(app, "muong khuong") == [second.id]
        assert applied_batches == [[second.id]]

        app.config["SEARCH_SYNC"] = False  # A's commit leaves its change to the next catch-up (the follower)
        session_a.commit()
        app.config["SEARCH_SYNC"] = True
    finally:
        session_a.close()
    changes = db.session.execute(sa.select(SearchChange.txid, SearchChange.id, SearchChange.product_id)
                                 .order_by(SearchChange.id.desc()).limit(2)).all()
    late, early = changes  # by id: B's change came second
    assert (early.product_id, late.product_id) == (first.id, second.id)
    assert early.txid < late.txid  # committed later, with a smaller txid and id than one already applied

    assert sync.lag(app) == 1
    assert sync.check(app) == {"stale": [first.id], "behind": [first.id]}
    assert sync.catch_up(app) == 1
    assert found(app, "co thu") == [first.id]
    assert applied_batches == [[second.id], [first.id]]  # B was not applied again
    assert sync.check(app) == {} and sync.lag(app) == 0


def test_changes_applied_beyond_the_horizon_are_forgotten_once_it_passes_them(app, cooperative_owner, monkeypatch,
                                                                             applied_batches):
    """Both backends: the horizon is set by hand, as if a transaction older than these changes stayed open
    until the end (on SQLite, where one writer at a time commits, there is none)."""
    factories.product(cooperative_owner.organisation, name="Bún gạo Khau Mang")  # builds the index
    app.config["SEARCH_SYNC"] = False
    products = [factories.product(cooperative_owner.organisation, name=f"Măng khô số {n}") for n in range(3)]
    app.config["SEARCH_SYNC"] = True
    changes = {tuple(row) for row in db.session.execute(sa.select(SearchChange.txid, SearchChange.id)
                                                        .where(SearchChange.product_id.in_(p.id for p in products)))}
    horizon = min(txid for txid, _id in changes)

    monkeypatch.setattr(sync, "_horizon", lambda session: horizon)
    assert sync.catch_up(app) == 3
    assert sorted(found(app, "mang kho")) == sorted(p.id for p in products)
    assert recorded(app).change < min(changes)  # held back below the "open" transaction
    assert recorded(app).applied == changes
    assert sync.lag(app) == 0 and sync.check(app) == {}
    assert sync.catch_up(app) == 0  # applied once

    monkeypatch.setattr(sync, "_horizon", lambda session: sync.NO_HORIZON)  # every transaction ended
    assert sync.catch_up(app) == 0
    assert recorded(app).change == max(changes)
    assert recorded(app).applied == frozenset()  # the set holds only what the position cannot
    assert applied_batches == [sorted(p.id for p in products)]


def test_a_position_file_of_the_older_format_still_reads(app, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, name="Hồi khô Văn Quan")
    path = app.config["SEARCH_INDEX_DIR"]
    change = db.session.execute(sa.select(SearchChange.txid, SearchChange.id)
                                .order_by(SearchChange.id.desc()).limit(1)).one()
    older = {"txid": change.txid, "id": change.id, "checked_at": time.time()}  # before `applied` existed
    (search_index.Path(path) / search_index.POSITION_FILE).write_text(json.dumps(older))
    assert recorded(app) == (tuple(change), frozenset(), older["checked_at"])

    app.config["SEARCH_SYNC"] = False
    catalog.update_product(cooperative_owner, product.id, details("Hồi khô Bình Gia"))
    app.config["SEARCH_SYNC"] = True
    assert sync.lag(app) == 1
    assert sync.catch_up(app) == 1
    assert found(app, "binh gia") == [product.id]
    assert sync.check(app) == {}


@pytest.mark.parametrize("content", ["{not json", '{"txid": 5}', '{"txid": 1, "id": 2, "applied": [[3]]}', "[]"])
def test_an_unreadable_position_file_rebuilds_the_index(app, cooperative_owner, caplog, content):
    product = factories.product(cooperative_owner.organisation, name="Quế vỏ Văn Yên")
    path = app.config["SEARCH_INDEX_DIR"]
    (search_index.Path(path) / search_index.POSITION_FILE).write_text(content)
    app.config["SEARCH_SYNC"] = False
    catalog.update_product(cooperative_owner, product.id, details("Quế thanh Yên Bái"))
    app.config["SEARCH_SYNC"] = True

    with caplog.at_level(logging.INFO, logger="marketplace.search"):
        assert recorded(app) == search_index.NO_POSITION
        sync.catch_up(app)
    assert "position file" in caplog.text and "building" in caplog.text
    assert found(app, "yen bai") == [product.id]
    assert recorded(app).checked_at > 0
    assert sync.check(app) == {} and sync.lag(app) == 0
