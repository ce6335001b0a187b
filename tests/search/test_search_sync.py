"""The index follows the database (marketplace/search/sync.py): every kind of change is searchable right after
its commit, a rollback changes nothing, an indexing failure never undoes a change, and `flask search
rebuild` / `check` repair and report. Runs on SQLite and PostgreSQL."""
import logging
import threading
from datetime import timedelta

import pytest

from marketplace.accounts import services as accounts
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


def found(app, q="", **filters):
    """Product ids the index returns for q (all pages)."""
    return query.search(app.config["SEARCH_INDEX_DIR"], q, filters=filters, per_page=100).ids


def in_step(app):
    """The index matches the database exactly (sync.check reports nothing)."""
    return sync.check(app) == {}


def details(name="Mật ong rừng Mẫu Sơn", **changes):
    values = {"name": name, "name_en": "Forest honey", "description": "Mật ong hoa rừng.", "category": "processed_food",
              "unit": "lit", "province_code": 20, "base_price_vnd": 450000, "min_order_qty": 5, "order_increment": 1}
    values.update(changes)
    return catalog.ProductDetails.from_mapping(values)


def test_a_product_is_searchable_once_published_and_follows_every_edit(app, cooperative_owner):
    product = catalog.create_product(cooperative_owner, details())
    assert found(app, "mat ong") == []  # a draft is not public
    assert in_step(app)

    catalog.publish_product(cooperative_owner, product.id)
    assert found(app, "mat ong") == [product.id]

    catalog.update_product(cooperative_owner, product.id, details("Mật ong hoa nhãn", tiers=[(20, 400000)]))
    assert found(app, "hoa nhan") == [product.id]
    assert found(app, "mau") == []  # the old name (Mẫu Sơn) is gone
    assert in_step(app)  # price "from" 400.000 ₫ now, among the rest

    catalog.hide_product(cooperative_owner, product.id)
    assert found(app, "mat ong") == []
    assert in_step(app)

    catalog.publish_product(cooperative_owner, product.id)
    catalog.delete_product(cooperative_owner, product.id)
    assert found(app, "mat ong") == []
    assert in_step(app)


def test_price_tiers_and_certifications_changes_reach_the_index(app, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, name="Gạo Séng Cù")
    catalog.update_product(cooperative_owner, product.id,
                           details("Gạo Séng Cù", category="fresh_produce", certifications=["organic"]))
    assert found(app, "gao", certification="organic") == [product.id]
    assert found(app, "huu co") == [product.id]  # the certification's words are searchable
    assert in_step(app)


def test_ocop_certificates_change_the_stars_when_verified_revoked_or_expired(app, cooperative_owner, alliance_user):
    product = factories.product(cooperative_owner.organisation, name="Chè Shan tuyết")
    today = catalog.today()
    certificate = catalog.add_certificate(cooperative_owner, product.id, catalog.CertificateDetails(
        stars=4, certificate_no="DEMO-1", decision_date=today - timedelta(days=10)))
    assert found(app, "che", stars=4) == []  # waiting for the alliance: no badge
    catalog.verify_certificate(alliance_user, certificate.id, "Đối chiếu quyết định.")
    assert found(app, "che", stars=4) == [product.id]
    catalog.revoke_certificate(alliance_user, certificate.id, "Số quyết định không khớp.")
    assert found(app, "che", stars=4) == []
    assert in_step(app)

    second = catalog.add_certificate(cooperative_owner, product.id, catalog.CertificateDetails(
        stars=3, certificate_no="DEMO-2", decision_date=today - timedelta(days=10)))
    catalog.verify_certificate(alliance_user, second.id, "Đối chiếu quyết định.")
    assert found(app, "che", stars=3) == [product.id]
    expires_on = db.session.get(type(second), second.id).expires_on
    catalog.expire_certificates(on=expires_on + timedelta(days=1))
    assert found(app, "che", stars=3) == []
    assert in_step(app)


def test_a_cooperatives_status_and_name_change_its_products(app, cooperative_owner, alliance_user):
    cooperative = cooperative_owner.organisation
    product = factories.product(cooperative, name="Na dai Chi Lăng")
    accounts.review_organisation(alliance_user, cooperative.id, "suspend", "Kiểm tra hồ sơ.")
    assert found(app, "na dai") == []
    accounts.review_organisation(alliance_user, cooperative.id, "reinstate")
    assert found(app, "na dai") == [product.id]
    cooperative.legal_name = "HTX sản xuất na sạch Đồng Bành"
    db.session.commit()
    assert found(app, "dong banh") == [product.id]
    assert in_step(app)


def test_products_of_unverified_cooperatives_never_enter_the_index(app, pending_cooperative_owner):
    factories.product(pending_cooperative_owner.organisation, name="Cá suối khô")
    assert found(app, "ca suoi") == []
    assert in_step(app)


def change_count():
    return db.session.scalar(db.select(db.func.count()).select_from(SearchChange))


def test_a_rollback_leaves_no_change_in_the_log_and_indexes_nothing(app, cooperative_owner, monkeypatch):
    product = factories.product(cooperative_owner.organisation, name="Hồi khô")
    before = change_count()
    calls = []
    monkeypatch.setattr(search_index, "apply", lambda path, ids, fetch: calls.append(set(ids)))
    db.session.get(Product, product.id).name = "Hồi tươi"
    db.session.flush()
    db.session.rollback()
    factories.organisation("enterprise")  # an unrelated commit afterwards
    assert calls == []
    assert change_count() == before
    assert db.session.get(Product, product.id).name == "Hồi khô"


def test_an_indexing_failure_keeps_the_change_in_the_log_until_it_is_applied(app, cooperative_owner, monkeypatch,
                                                                            caplog):
    """The outside test's "dropped updates": indexing raised before the change was kept anywhere, so the
    commit stood, the API said 200 and the product was never indexed. Now the change is a row of the
    commit itself, and the next attempt applies it."""
    product = factories.product(cooperative_owner.organisation, name="Quế vỏ khô")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(search_index, "apply", broken)
    with caplog.at_level(logging.ERROR, logger="marketplace.search"):
        catalog.update_product(cooperative_owner, product.id, details("Quế thanh Văn Yên", category="spices_herbs"))
    db.session.expire_all()
    assert db.session.get(Product, product.id).name == "Quế thanh Văn Yên"  # committed all the same
    assert "stay in the log" in caplog.text and "disk full" in caplog.text
    monkeypatch.undo()
    assert sync.check(app) == {"stale": [product.id], "behind": [product.id]}
    assert sync.lag(app) == 1

    result = app.test_cli_runner().invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "1 change(s) applied" in result.output
    assert found(app, "van yen") == [product.id]
    assert in_step(app)


def test_the_first_change_builds_a_missing_index_from_the_database(app, cooperative_owner):
    path = app.config["SEARCH_INDEX_DIR"]
    app.config["SEARCH_SYNC"] = False
    first = factories.product(cooperative_owner.organisation, name="Măng khô")
    assert not search_index.exists(path)
    app.config["SEARCH_SYNC"] = True
    second = factories.product(cooperative_owner.organisation, name="Măng tươi")
    assert search_index.exists(path)
    assert sorted(found(app, "mang")) == sorted([first.id, second.id])


def test_check_reports_differences_and_rebuild_if_missing_keeps_an_existing_index(app, cooperative_owner):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code != 0 and "no search index" in result.output
    factories.organisation("enterprise")  # a commit that touches no product builds nothing

    kept = factories.product(cooperative_owner.organisation, name="Bí đỏ hồ lô")
    app.config["SEARCH_SYNC"] = False  # this process does not apply its changes: they wait in the log
    missing = factories.product(cooperative_owner.organisation, name="Bí xanh")
    db.session.get(Product, kept.id).status = "hidden"
    db.session.commit()
    app.config["SEARCH_SYNC"] = True

    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 1
    assert "is 2 change(s) behind the database" in result.output
    assert f"missing: 1 product(s) public in the database, not in the index: {missing.id}" in result.output
    assert f"extra: 1 product(s) in the index, not public in the database: {kept.id}" in result.output
    assert f"behind: 2 product(s) changed in the database, not applied to this index yet: {kept.id}, {missing.id}" \
        in result.output

    result = runner.invoke(args=["search", "rebuild", "--if-missing"])
    assert result.exit_code == 0 and "nothing to do" in result.output
    assert runner.invoke(args=["search", "check"]).exit_code == 1

    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0 and "2 change(s) applied" in result.output
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0 and "matches the database (0 changes behind)" in result.output
    assert found(app, "bi") == [missing.id]


def test_rebuild_repairs_an_index_that_lost_documents(app, cooperative_owner):
    kept = factories.product(cooperative_owner.organisation, name="Bí đỏ hồ lô")
    with search_index.write_lock(app.config["SEARCH_INDEX_DIR"]):
        search_index.apply(app.config["SEARCH_INDEX_DIR"], [kept.id], lambda ids: {})  # lost, as by a bad disk
    runner = app.test_cli_runner()
    assert runner.invoke(args=["search", "check"]).exit_code == 1
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0 and "Indexing products" in result.output
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0 and "matches the database" in result.output


def test_rebuild_builds_from_nothing_and_counts_only_public_products(app, cooperative_owner,
                                                                    pending_cooperative_owner):
    app.config["SEARCH_SYNC"] = False
    for n in range(3):
        factories.product(cooperative_owner.organisation, name=f"Miến dong {n}")
    factories.product(cooperative_owner.organisation, name="Miến nháp", status="draft")
    factories.product(pending_cooperative_owner.organisation, name="Miến chờ")
    app.config["SEARCH_SYNC"] = True
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Indexed 3 public products" in result.output
    assert len(found(app, "mien")) == 3
    assert in_step(app)


def test_duplicates_are_reported_by_check(app, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, name="Thảo quả khô")
    path = app.config["SEARCH_INDEX_DIR"]
    # A document added twice (what two writers without the lock could do).
    from whoosh.writing import SegmentWriter

    from marketplace.search.documents import document, load_records

    record = next(load_records(db.session, [product.id]))
    with search_index.write_lock(path):
        writer = SegmentWriter(search_index._open(path), _lk=False, codec=search_index.Codec())
        writer.add_document(**document(record))
        writer.commit()
    assert sync.check(app) == {"duplicates": [product.id]}


def test_a_commit_that_finds_the_index_busy_leaves_its_change_to_the_lock_holder(app, cooperative_owner, monkeypatch):
    """The holder of the write lock looks at the log again after releasing it, so a change committed while
    it was writing (whose own catch-up gave up at once) is applied without waiting for the follower."""
    first = factories.product(cooperative_owner.organisation, name="Gạo nếp")
    second = factories.product(cooperative_owner.organisation, name="Gạo tẻ")
    writing, resume = threading.Event(), threading.Event()
    real_apply = search_index.apply

    def slow_apply(path, ids, fetch):
        if threading.current_thread() is not threading.main_thread():
            writing.set()
            assert resume.wait(30)
        real_apply(path, ids, fetch)

    monkeypatch.setattr(search_index, "apply", slow_apply)
    app.config["SEARCH_SYNC"] = False
    catalog.update_product(cooperative_owner, first.id, details("Gạo nếp cái hoa vàng", category="fresh_produce"))
    app.config["SEARCH_SYNC"] = True

    def holder():
        with app.app_context():
            sync.catch_up(app)

    thread = threading.Thread(target=holder)
    thread.start()
    assert writing.wait(30)  # the holder is inside the lock, applying the first change
    try:
        catalog.update_product(cooperative_owner, second.id, details("Gạo tẻ Séng Cù", category="fresh_produce"))
        # This commit's catch-up found the lock busy and left at once; the holder is still on the first.
        assert sync.check(app) == {"stale": [first.id, second.id], "behind": [first.id, second.id]}
    finally:
        resume.set()
        thread.join(30)
    assert in_step(app)
    assert found(app, "seng cu")[0] == second.id
