"""The totals under MoUs that the orders' services keep (marketplace/orders/agreement_totals.py) and the follow-up
reads: after every kind of change to orders under an MoU they equal the aggregate over the orders themselves; a
change rolled back leaves them as they were; two checkouts under one MoU at once both count (PostgreSQL); the
migration's backfill computes the same rows."""
import importlib.util
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.orders import agreement_totals, queries
from marketplace.orders import services as orders
from marketplace.orders.models import AgreementOrderSummary, AgreementProductTotals
from marketplace.unit_of_work import unit_of_work
from tests.alliance.test_tracking import pay, place, ship_and_deliver
from tests.support import wait_for_a_lock_waiter

MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / \
    "fead37797cbb_totals_under_mous_kept_with_the_orders.py"


def kept():
    return sorted(queries.kept_totals()), queries.kept_last_orders()


def computed():
    return sorted(queries.totals_under_agreements()), queries.last_order_under_agreements()


def test_every_step_of_an_order_keeps_the_totals_equal_to_the_orders(mou, buyer, seller, products):
    jelly, bamboo, honey = products
    assert kept() == ([], {})
    first = place(buyer, [(jelly, 100), (bamboo, 40)], mou)
    assert kept() == computed() and len(kept()[0]) == 2
    pay(seller, first)
    assert kept() == computed()
    ship_and_deliver(seller, buyer, first, {jelly.id: 95})
    assert kept() == computed()
    second = place(buyer, [(jelly, 50), (honey, 5)], mou)
    orders.reject(seller, second.id, "Hết hàng mùa này")
    third = place(buyer, [(jelly, 30)], mou)
    orders.cancel(buyer, third.id, "Đổi kế hoạch")
    place(buyer, [(jelly, 20)])  # not under the MoU: no totals of its own
    assert kept() == computed()
    totals, last_orders = kept()
    assert {(t.product_id, t.ordered_qty, t.delivered_qty) for t in totals} == {(jelly.id, 100, 95),
                                                                                 (bamboo.id, 40, 40)}
    db.session.refresh(first)
    assert last_orders == {mou.id: first.placed_at}  # the rejected and cancelled orders do not count


def test_a_change_rolled_back_leaves_the_totals_as_they_were(mou, buyer, products):
    place(buyer, [(products[0], 10)], mou)
    before = kept()
    with pytest.raises(RuntimeError), unit_of_work():
        place(buyer, [(products[0], 500)], mou)
        raise RuntimeError("the use case fails after placing")
    assert kept() == before == computed()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AgreementOrderSummary)) == 1


def test_rebuild_restores_totals_written_around_the_orm(mou, buyer, products):
    place(buyer, [(products[0], 10), (products[1], 3)], mou)
    expected = kept()
    db.session.execute(sa.delete(AgreementProductTotals))
    db.session.execute(sa.update(AgreementOrderSummary).values(last_order_at=None))
    db.session.commit()
    assert kept() == ([], {})
    assert agreement_totals.rebuild() == 1
    db.session.commit()
    assert kept() == expected == computed()


def test_the_migration_backfill_computes_the_same_rows(mou, buyer, seller, products):
    spec = importlib.util.spec_from_file_location("totals_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    order = place(buyer, [(products[0], 100), (products[1], 40)], mou)
    pay(seller, order, 3_000_000)  # a part payment: shared pro rata between the lines
    delivered = place(buyer, [(products[0], 7)], mou)
    pay(seller, delivered)
    ship_and_deliver(seller, buyer, delivered, {products[0].id: 6})
    expected = kept()
    db.session.execute(sa.delete(AgreementProductTotals))
    db.session.execute(sa.delete(AgreementOrderSummary))
    db.session.execute(sa.text(migration.BACKFILL_TOTALS))
    db.session.execute(sa.text(migration.BACKFILL_SUMMARIES))
    db.session.commit()
    assert kept() == expected == computed()


@pytest.mark.postgresql_only
def test_two_checkouts_under_one_mou_at_once_both_count(app, mou, buyer, products, monkeypatch):
    """The first checkout holds the MoU's summary row lock while the second, in another transaction, reaches its
    own refresh and waits for it; once the first commits, the second's totals include the first's order."""
    jelly = products[0]
    lock = agreement_totals._lock_summaries
    buyer_id, others = buyer.id, []
    jelly_ref, mou_ref = SimpleNamespace(id=jelly.id), SimpleNamespace(id=mou.id)  # no object of this session

    def other_checkout():
        with app.app_context():
            place(db.session.get(User, buyer_id), [(jelly_ref, 20)], mou_ref)
            db.session.remove()

    def lock_then_let_the_other_checkout_wait(session, ids):
        lock(session, ids)
        if not others:
            others.append(threading.Thread(target=other_checkout))
            others[0].start()
            assert wait_for_a_lock_waiter(db.engine, others[0]), "the second checkout did not wait for the first's lock"

    monkeypatch.setattr(agreement_totals, "_lock_summaries", lock_then_let_the_other_checkout_wait)
    place(buyer, [(jelly, 10)], mou)
    others[0].join(timeout=30)
    db.session.expire_all()
    assert kept() == computed()
    assert [t.ordered_qty for t in kept()[0]] == [30]

