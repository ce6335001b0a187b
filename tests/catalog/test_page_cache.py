"""The cache of anonymous catalogue pages (marketplace/pagecache.py, issue 14).

A cached page never shows a price, capacity, badge or product that changed or was hidden: each test
renders the pages in one app (a worker, with its own cache), changes the product in a second app on the
same database (another worker or host, with its own connections and cache), and reads the pages again
at once from the first. Nothing private is cached; no CSRF token is ever in the cache.
"""
import re
from datetime import date, timedelta

import pytest

from marketplace import pagecache
from marketplace.accounts.models import Organisation, OrganisationStatus
from marketplace.catalog.models import CertificateStatus, OcopCertificate, Product, ProductStatus
from marketplace.extensions import db
from tests import factories
from tests.support import csrf_token_from, login_with_form


def text(response, status=200):
    assert response.status_code == status
    return response.get_data(as_text=True).replace("\xa0", " ")


@pytest.fixture
def two_workers(make_app):
    """(reader, writer): two apps on one database; a published 4-star product with a price tier."""
    reader, writer = make_app(), make_app()
    with writer.app_context():
        cooperative = factories.organisation("cooperative", legal_name="HTX Chè Tân Cương")
        product = factories.product(cooperative, name="Chè búp Tân Cương", base_price_vnd=300000,
                                    tiers=[(100, 250000)], stars=4, capacity_qty=1200)
        ids = {"product": product.id, "cooperative": cooperative.id}
    return reader, writer, ids


def product_path(ids):
    return f"/products/{ids['product']}"


def pages(client, ids):
    """The three cached pages as text, each read twice (the second from the cache when nothing changed)."""
    client.get("/"), client.get("/products"), client.get(product_path(ids), follow_redirects=True)
    found = {"home": client.get("/"), "catalogue": client.get("/products"),
             "product": client.get(product_path(ids), follow_redirects=True)}
    return found


def change(writer, ids, apply):
    with writer.app_context():
        product = db.session.get(Product, ids["product"])
        apply(product)
        db.session.commit()


def test_pages_are_served_from_the_cache_while_nothing_changes(two_workers):
    reader, _writer, ids = two_workers
    client = reader.test_client()
    for name, response in pages(client, ids).items():
        assert response.headers.get("X-Page-Cache") == "hit", name
        assert "250.000 ₫" in text(response), name


@pytest.mark.parametrize("what, apply, before, after", [
    ("price", lambda p: setattr(p.tiers[0], "unit_price_vnd", 240000), "250.000 ₫", "240.000 ₫"),
    ("base price", lambda p: (p.tiers.clear(), setattr(p, "base_price_vnd", 310000)), "250.000 ₫", "310.000 ₫"),
    ("capacity", lambda p: setattr(p, "capacity_qty", 900), "1.200 kg", "900 kg"),
])
def test_a_change_shows_at_once_on_every_worker(two_workers, what, apply, before, after):
    reader, writer, ids = two_workers
    client = reader.test_client()
    shown = pages(client, ids)
    assert before in text(shown["product"]), what
    change(writer, ids, apply)
    shown = {"catalogue": client.get("/products"), "product": client.get(product_path(ids), follow_redirects=True)}
    if what == "capacity":
        shown.pop("catalogue")  # cards do not show the capacity
    for name, response in shown.items():
        assert response.headers.get("X-Page-Cache") is None, (what, name)
        assert after in text(response) and before not in text(response), (what, name)


def badges(page):
    return re.findall(r"OCOP (\d)★", page)


def test_a_revoked_certificate_loses_its_badge_at_once(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    shown = pages(client, ids)
    assert badges(text(shown["catalogue"])) == ["4"] and badges(text(shown["home"])) == ["4"]

    def revoke(product):
        product.certificates[0].status = CertificateStatus.REVOKED

    change(writer, ids, revoke)
    for path in ("/", "/products", product_path(ids)):
        assert badges(text(client.get(path, follow_redirects=True))) == [], path


def test_a_new_certificate_shows_at_once(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    pages(client, ids)

    def certify(product):
        product.certificates.append(OcopCertificate(stars=5, certificate_no="TEST-5", decision_date=date.today(),
                                                    expires_on=date.today() + timedelta(days=365),
                                                    status=CertificateStatus.VERIFIED))

    change(writer, ids, certify)
    assert badges(text(client.get("/products"))) == ["5"]


def test_a_hidden_product_leaves_every_page_at_once(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    assert "Chè búp Tân Cương" in text(pages(client, ids)["catalogue"])
    change(writer, ids, lambda p: setattr(p, "status", ProductStatus.HIDDEN))
    assert "Chè búp Tân Cương" not in text(client.get("/products"))
    assert "Chè búp Tân Cương" not in text(client.get("/"))
    assert client.get(product_path(ids)).status_code == 404


def test_a_suspended_cooperative_leaves_the_catalogue_at_once(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    pages(client, ids)
    with writer.app_context():
        db.session.get(Organisation, ids["cooperative"]).status = OrganisationStatus.SUSPENDED
        db.session.commit()
    assert "Chè búp Tân Cương" not in text(client.get("/products"))


def test_each_language_has_its_own_page(two_workers):
    reader, _writer, ids = two_workers
    client = reader.test_client()
    assert 'lang="vi"' in text(client.get("/products"))
    client.post("/language", data={"lang": "en"})
    page = text(client.get("/products"))
    assert "Product catalogue" in page and "Danh mục" not in page.split("<main")[1]


# ---------------------------------------------------------------- privacy and CSRF

def test_no_csrf_token_is_cached_and_each_visitor_gets_a_working_one(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    first, second = app.test_client(), app.test_client()
    first.get("/products")
    cached = second.get("/products")
    assert cached.headers.get("X-Page-Cache") == "hit"
    stored = list(app.extensions["page_cache"]._pages.values())
    assert stored and all(pagecache.CSRF_PLACEHOLDER in body and 'value="' + pagecache.CSRF_PLACEHOLDER in body
                          for _expiry, body in stored)
    page = text(cached)
    assert pagecache.CSRF_PLACEHOLDER not in page
    token = csrf_token_from(page)
    assert token != csrf_token_from(text(first.get("/products")))  # masked afresh for each answer
    # The token served from the cache is the second visitor's own: the language form accepts it.
    assert second.post("/language", data={"lang": "en", "csrf_token": token}).status_code == 302
    assert second.post("/language", data={"lang": "en", "csrf_token": "x"}).status_code == 400


def test_logged_in_pages_are_never_cached_nor_served_from_the_cache(make_app):
    app = make_app()
    with app.app_context():
        buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Mua Sỉ"),
                               email="buyer@dn.example")
        email = buyer.email
    visitor, member = app.test_client(), app.test_client()
    for path in ("/", "/products"):
        visitor.get(path)
        assert visitor.get(path).headers.get("X-Page-Cache") == "hit"
    assert login_with_form(member, email).status_code == 302
    for path in ("/", "/products"):
        response = member.get(path)
        assert response.headers.get("X-Page-Cache") is None
        assert response.cache_control.no_store
        assert "/logout" in text(response)  # the member's own header, not the visitor's cached page
    with app.app_context():
        stored = [body for _expiry, body in app.extensions["page_cache"]._pages.values()]
    assert stored and not any("Công ty Mua Sỉ" in body or "/logout" in body for body in stored)


def test_flashed_messages_are_never_cached(make_app):
    app = make_app()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Một thông báo riêng")]
    assert "Một thông báo riêng" in text(client.get("/products"))
    assert "Một thông báo riêng" not in text(app.test_client().get("/products"))


def test_the_cache_can_be_turned_off(make_app):
    app = make_app(PAGE_CACHE_SECONDS=0)
    client = app.test_client()
    client.get("/products")
    assert client.get("/products").headers.get("X-Page-Cache") is None


# ---------------------------------------------------------------- the province counts kept between pages

def test_pages_of_one_filter_set_share_their_province_counts_until_the_catalogue_changes(two_workers):
    """queries.province_counts: the catalogue's facet and total, kept per filter set (not per page or order)."""
    reader, writer, ids = two_workers
    client = reader.test_client()
    for path in ("/products", "/products?sort=name", "/products?page=2", "/products?province=20"):
        assert re.search(r'<h2 id="results-heading" class="h5">1 ', text(client.get(path))), path
    assert len(reader.extensions["province_counts"]._pages) == 1  # one GROUP BY for the four pages
    with writer.app_context():
        cooperative = db.session.get(Organisation, ids["cooperative"])
        factories.product(cooperative, name="Chè móc câu", province_code=12, commune_code=None)
    page = text(client.get("/products?sort=price_asc"))  # a page not cached yet: the counts must be new too
    assert re.search(r'<h2 id="results-heading" class="h5">2 ', page)
    assert re.search(r'<option value="12"[^>]*>Lai Châu \(1\)</option>', page)
