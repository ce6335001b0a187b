"""The search page is cached for anonymous visitors like the catalogue (marketplace/pagecache.py, issue 14).

Its result cards come from the database (prices, badges, the seller: rows the change log covers), its
results, totals and facets from this host's index, which applies the change log a moment after the commit
(search/sync.py). Each test renders the page in one app (a worker), changes the catalogue through a second app
on the same database (another worker, or another host with an index of its own), and reads the first app's
page again at once.
"""
import re

import pytest

from marketplace.accounts.models import Organisation, OrganisationStatus
from marketplace.catalog.models import CertificateStatus, Product, ProductStatus
from marketplace.extensions import db
from marketplace.search import index as search_index
from marketplace.search import sync
from tests import factories

SEARCH = "/search?q=che+tan+cuong"


@pytest.fixture(autouse=True)
def _close_searchers():
    yield
    search_index.close_searchers()


def text(response):
    assert response.status_code == 200
    return response.get_data(as_text=True).replace("\xa0", " ")


def titles(page):
    return re.findall(r'class="product-card-title"><a [^>]*>([^<]*)</a>', page)


def badges(page):
    return re.findall(r"OCOP (\d)★", page)


def total(page):
    """The number of results in the page's heading ("2 sản phẩm cho ...")."""
    return int(re.search(r'<h2 id="results-heading" class="h5">(\d+)', page).group(1))


def make_shop(app):
    with app.app_context():
        cooperative = factories.organisation("cooperative", legal_name="HTX Chè Tân Cương")
        product = factories.product(cooperative, name="Chè búp Tân Cương", base_price_vnd=300000,
                                    tiers=[(100, 250000)], stars=4)
        return {"product": product.id, "cooperative": cooperative.id}


@pytest.fixture
def two_workers(make_app):
    """(reader, writer, ids): two apps on one database and one index folder (one host)."""
    reader, writer = make_app(), make_app()
    return reader, writer, make_shop(writer)


def read_twice(client, path=SEARCH):
    """The page, read a second time: from the cache when nothing changed."""
    client.get(path)
    return client.get(path)


def change(writer, ids, apply):
    with writer.app_context():
        apply(db.session.get(Product, ids["product"]))
        db.session.commit()


def test_search_pages_are_served_from_the_cache_while_nothing_changes(two_workers):
    reader, _writer, _ids = two_workers
    client = reader.test_client()
    response = read_twice(client)
    assert response.headers.get("X-Page-Cache") == "hit"
    page = text(response)
    assert titles(page) == ["Chè búp Tân Cương"] and "250.000 ₫" in page and badges(page) == ["4"]
    assert text(client.get("/search?q=che+tan+cuong&sort=price_asc")) != page  # another URL, its own page


def revoke(product):
    product.certificates[0].status = CertificateStatus.REVOKED


@pytest.mark.parametrize("what, apply, before, after", [
    ("price", lambda p: setattr(p.tiers[0], "unit_price_vnd", 240000), "250.000 ₫", "240.000 ₫"),
    ("base price", lambda p: (p.tiers.clear(), setattr(p, "base_price_vnd", 310000)), "250.000 ₫", "310.000 ₫"),
    ("name", lambda p: setattr(p, "name", "Chè búp Tân Cương loại 1"), "Chè búp Tân Cương<",
     "Chè búp Tân Cương loại 1<"),
])
def test_a_change_shows_on_the_search_page_at_once(two_workers, what, apply, before, after):
    reader, writer, ids = two_workers
    client = reader.test_client()
    assert before in text(read_twice(client)), what
    change(writer, ids, apply)
    response = client.get(SEARCH)
    assert response.headers.get("X-Page-Cache") is None, what
    page = text(response)
    assert after in page and before not in page, what


def test_a_revoked_certificate_loses_its_badge_on_the_search_page_at_once(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    assert badges(text(read_twice(client))) == ["4"]
    change(writer, ids, revoke)
    assert badges(text(client.get(SEARCH))) == []


def test_a_hidden_product_leaves_the_search_page_at_once(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    assert titles(text(read_twice(client))) == ["Chè búp Tân Cương"]
    change(writer, ids, lambda p: setattr(p, "status", ProductStatus.HIDDEN))
    page = text(client.get(SEARCH))
    assert titles(page) == [] and total(page) == 0  # this host's index applied the change with the commit


def test_a_suspended_cooperative_leaves_the_search_page_at_once(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    read_twice(client)
    with writer.app_context():
        db.session.get(Organisation, ids["cooperative"]).status = OrganisationStatus.SUSPENDED
        db.session.commit()
    assert titles(text(client.get(SEARCH))) == []


# ---------------------------------------------------------------- a host whose index follows a second late

@pytest.fixture
def two_hosts(make_app, tmp_path):
    """(reader, writer, ids): two apps on one database, each with an index folder of its own. The reader's
    index applies the other host's changes only when its follower runs (sync.catch_up here)."""
    reader = make_app(SEARCH_INDEX_DIR=str(tmp_path / "reader_index"))
    writer = make_app(SEARCH_INDEX_DIR=str(tmp_path / "writer_index"))
    return reader, writer, make_shop(writer)


def follow(app):
    """What the host's follower does about every second."""
    with app.app_context():
        assert sync.catch_up(app) > 0


def test_the_cards_follow_the_database_before_the_index_does(two_hosts):
    reader, writer, ids = two_hosts
    client = reader.test_client()
    assert titles(text(read_twice(client))) == ["Chè búp Tân Cương"]  # the reader's index built on first use
    change(writer, ids, lambda p: setattr(p.tiers[0], "unit_price_vnd", 240000))
    page = text(client.get(SEARCH))  # the index has not applied the change: the card reads the row
    assert "240.000 ₫" in page and "250.000 ₫" not in page
    change(writer, ids, revoke)
    assert badges(text(client.get(SEARCH))) == []
    change(writer, ids, lambda p: setattr(p, "status", ProductStatus.HIDDEN))
    assert titles(text(client.get(SEARCH))) == []


def test_a_new_product_shows_once_this_hosts_index_has_applied_it(two_hosts):
    reader, writer, _ids = two_hosts
    client = reader.test_client()
    assert titles(text(read_twice(client))) == ["Chè búp Tân Cương"]
    with writer.app_context():
        cooperative = db.session.scalar(db.select(Organisation).filter_by(legal_name="HTX Chè Tân Cương"))
        factories.product(cooperative, name="Chè móc câu Tân Cương", base_price_vnd=400000)
    assert titles(text(read_twice(client))) == ["Chè búp Tân Cương"]  # not in this host's index yet
    follow(reader)
    response = client.get(SEARCH)
    assert response.headers.get("X-Page-Cache") is None  # the index's new version: the page is rendered again
    page = text(response)
    assert sorted(titles(page)) == ["Chè búp Tân Cương", "Chè móc câu Tân Cương"] and total(page) == 2


def test_a_hidden_product_leaves_the_totals_and_facets_once_this_hosts_index_has_applied_it(two_hosts):
    reader, writer, ids = two_hosts
    client = reader.test_client()
    page = text(read_twice(client))
    assert total(page) == 1 and re.search(r'<option value="4">[^<]*\(1\)</option>', page)
    change(writer, ids, lambda p: setattr(p, "status", ProductStatus.HIDDEN))
    assert titles(text(read_twice(client))) == []  # at once: the database says it is hidden
    follow(reader)
    page = text(client.get(SEARCH))
    assert total(page) == 0 and not re.search(r'<option value="4">', page)


def test_the_index_version_changes_with_every_index_commit_and_rebuild(make_app):
    app = make_app()
    make_shop(app)
    with app.app_context():
        first = sync.applied_version()
        assert first[0] >= 0
        factories.product(factories.organisation("cooperative"), name="Mật ong bạc hà")  # applied with the commit
        second = sync.applied_version()
        assert second[0] > first[0] and second[1:] != first[1:]
        sync.rebuild(app)
        assert sync.applied_version() != second


def test_a_search_page_held_by_the_browser_is_answered_304_until_this_hosts_index_changes(two_hosts):
    """The ETag (pagecache.py) covers the index's version too: the database alone has not changed in between."""
    reader, writer, _ids = two_hosts
    client = reader.test_client()
    read_twice(client)
    with writer.app_context():
        cooperative = db.session.scalar(db.select(Organisation).filter_by(legal_name="HTX Chè Tân Cương"))
        factories.product(cooperative, name="Chè móc câu Tân Cương", base_price_vnd=400000)
    held = client.get(SEARCH)  # the database's new version, this host's index not yet
    assert held.cache_control.public and "csrf_token" not in text(held)
    assert client.get(SEARCH, headers={"If-None-Match": held.headers["ETag"]}).status_code == 304
    follow(reader)
    response = client.get(SEARCH, headers={"If-None-Match": held.headers["ETag"]})
    assert response.status_code == 200 and response.headers["ETag"] != held.headers["ETag"]
    assert sorted(titles(text(response))) == ["Chè búp Tân Cương", "Chè móc câu Tân Cương"]
