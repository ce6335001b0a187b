"""The cache of anonymous catalogue pages (marketplace/pagecache.py, issue 14).

A cached page never shows a price, capacity, badge or product that changed or was hidden: each test
renders the pages in one app (a worker, with its own cache), changes the product in a second app on the
same database (another worker or host, with its own connections and cache), and reads the pages again
at once from the first. Nothing private is cached; no CSRF token is ever in the cache.
"""
import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import render_template_string

from marketplace import pagecache, versions
from marketplace.accounts.models import Organisation, OrganisationStatus
from marketplace.catalog.models import CapacityPeriod, CertificateStatus, OcopCertificate, Product, ProductStatus
from marketplace.extensions import db
from marketplace.orders import capacity
from marketplace.search import sync
from marketplace.search.models import SearchChange
from tests import factories
from tests.support import BASE_CONFIG, csrf_token_from, login_with_form, statements_of

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


def test_stock_shipped_leaves_the_page_at_once(two_workers):
    """Shipping lowers a stock-on-hand product's stock with a bulk UPDATE (orders/capacity.take_from_stock),
    outside the ORM's flush: it must still reach the change log, or the page, its ETag and every 304 would keep
    the old stock (found in review)."""
    reader, writer, ids = two_workers
    change(writer, ids, lambda p: setattr(p, "capacity_period", CapacityPeriod.STOCK))
    client = reader.test_client()
    before = pages(client, ids)["product"]
    assert "1.200 kg" in text(before)
    with writer.app_context():
        capacity.take_from_stock(ids["product"], 300)
        db.session.commit()
    after = client.get(product_path(ids), follow_redirects=True)
    assert after.headers.get("X-Page-Cache") is None
    assert "900 kg" in text(after) and "1.200 kg" not in text(after)
    assert after.headers["ETag"] != before.headers["ETag"]
    with reader.app_context():
        assert ids["product"] in set(db.session.scalars(sa.select(SearchChange.product_id)))


CHANGE_IN_ANOTHER_PROCESS = """
import json, sys
from marketplace import create_app
from marketplace.catalog.models import Product
from marketplace.extensions import db

config, product_id, price = json.loads(sys.argv[1])
app = create_app(config)
with app.app_context():
    db.session.get(Product, product_id).tiers[0].unit_price_vnd = price
    db.session.commit()
"""


def test_a_change_committed_by_another_process_shows_at_once(two_workers, database):
    """Issue 14: 'on two processes'. The writer is another operating-system process (another gunicorn
    worker or host: its own interpreter, connections and cache), not a second app in this one."""
    reader, _writer, ids = two_workers
    client = reader.test_client()
    assert "250.000 ₫" in text(pages(client, ids)["product"])
    config = {**BASE_CONFIG, **{key: value for key, value in database.items() if key != "backend"},
              "UPLOAD_DIR": reader.config["UPLOAD_DIR"], "SEARCH_INDEX_DIR": reader.config["SEARCH_INDEX_DIR"]}
    subprocess.run([sys.executable, "-c", CHANGE_IN_ANOTHER_PROCESS, json.dumps([config, ids["product"], 230000])],
                   cwd=PROJECT_ROOT, check=True, timeout=120, capture_output=True)
    for response in (client.get("/products"), client.get(product_path(ids), follow_redirects=True)):
        assert response.headers.get("X-Page-Cache") is None
        assert "230.000 ₫" in text(response) and "250.000 ₫" not in text(response)


# ---------------------------------------------------------------- the catalogue's version

def test_a_cached_page_costs_one_read_of_one_row_however_long_the_log(two_workers):
    reader, writer, ids = two_workers
    with writer.app_context():  # a bulk import's worth of log rows, committed
        db.session.execute(sa.insert(SearchChange), [{"product_id": ids["product"]} for _ in range(3000)])
        db.session.commit()
    client = reader.test_client()
    client.get("/products")
    sent, _response = statements_of(reader, lambda: client.get("/products"))
    assert len(sent) == 1 and "data_version" in sent[0] and "search_change" not in sent[0], sent
    assert "count(" not in sent[0].lower()


def test_each_commit_of_a_change_adds_one_to_the_version_and_other_commits_nothing(two_workers, stopped_clock):
    _reader, writer, ids = two_workers
    with writer.app_context():
        before = sync.version(db.session)
        product = db.session.get(Product, ids["product"])
        product.capacity_qty = 800
        db.session.flush()
        product.base_price_vnd = 320000  # a second flush in the same transaction: still one
        db.session.commit()
        assert sync.version(db.session) == before + 1
        factories.organisation("enterprise", legal_name="Công ty không thuộc danh mục")  # not a catalogue change
        assert sync.version(db.session) == before + 1


def test_the_version_never_counts_again_through_numbers_it_gave_after_a_restore(two_workers):
    """A database restored from a backup holds an older version; counting on from it would hand out numbers
    whose ETags browsers hold for other pages. The next change jumps past every number given (the clock)."""
    _reader, writer, ids = two_workers
    with writer.app_context():
        db.session.execute(sa.update(versions.DataVersion).where(versions.DataVersion.name == versions.CATALOGUE)
                           .values(value=5))  # as the backup had it
        db.session.commit()
        change(writer, ids, lambda p: setattr(p, "capacity_qty", 650))
        assert sync.version(db.session) > 1_700_000_000 * 10**6  # microseconds since 1970: past any count


def test_a_change_before_a_savepoint_rolled_back_still_changes_the_version(two_workers, stopped_clock):
    reader, writer, ids = two_workers
    client = reader.test_client()
    pages(client, ids)
    with writer.app_context():
        before = sync.version(db.session)
        product = db.session.get(Product, ids["product"])
        product.capacity_qty = 700
        db.session.flush()  # the change row is written here, outside the savepoint
        with db.session.begin_nested() as savepoint:
            product.name = "Không lưu"
            db.session.flush()
            savepoint.rollback()
        db.session.commit()
        assert sync.version(db.session) == before + 1
    assert "700 kg" in text(client.get(product_path(ids), follow_redirects=True))


@pytest.mark.postgresql_only  # on SQLite one writer at a time commits, in id order
def test_a_change_committed_later_with_a_lower_id_shows_at_once(two_workers):
    reader, writer, ids = two_workers
    with writer.app_context():
        other = factories.product(db.session.get(Organisation, ids["cooperative"]), name="Gạo Séng Cù",
                                  base_price_vnd=40000).id
    client = reader.test_client()
    pages(client, ids)
    with writer.app_context():
        late, early = sa.orm.Session(db.engine), sa.orm.Session(db.engine)
        try:
            late.get(Product, ids["product"]).capacity_qty = 600
            late.flush()  # its change row takes the lower id, and its transaction stays open
            # Another writer is not held up by the open one (it would wait for the version's row if the open
            # transaction had updated it at its flush): it fails within a second instead of waiting.
            early.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
            early.get(Product, other).base_price_vnd = 45000
            early.commit()
            assert "45.000 ₫" in text(client.get("/products"))  # read, and cached, with the late change not in
            assert "1.200 kg" in text(client.get(product_path(ids), follow_redirects=True))
            late.commit()
        finally:
            late.close(), early.close()
        changes = db.session.execute(sa.select(SearchChange.id, SearchChange.product_id)
                                     .order_by(SearchChange.id.desc()).limit(2)).all()
        assert [change.product_id for change in changes] == [other, ids["product"]]  # the late one: lower id
    response = client.get(product_path(ids), follow_redirects=True)
    assert response.headers.get("X-Page-Cache") is None and "600 kg" in text(response)


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

def test_anonymous_pages_carry_no_csrf_token_and_leave_the_session_alone(two_workers):
    reader, _writer, ids = two_workers
    reader.config["WTF_CSRF_ENABLED"] = True
    client = reader.test_client()
    for name, response in pages(client, ids).items():
        assert "csrf_token" not in text(response), name
        assert "Set-Cookie" not in response.headers, name
    stored = [body for _expiry, body in reader.extensions["page_cache"]._pages.values()]
    assert stored and not any(pagecache.CSRF_PLACEHOLDER in body or "csrf_token" in body for body in stored)


@pytest.fixture
def page_with_a_form(make_app):
    """An app with a cached page that has a form, as a catalogue page may have one day."""
    app = make_app(WTF_CSRF_ENABLED=True)

    @pagecache.cached_page
    def form_page():
        return render_template_string('<form method="post" action="/language"><input type="hidden" '
                                      'name="csrf_token" value="{{ csrf_token() }}"><button name="lang" value="en">'
                                      'English</button></form>')

    app.add_url_rule("/test-form-page", "test_form_page", form_page)
    return app


def test_a_cached_page_with_a_form_holds_no_token_in_the_cache_and_each_visitor_gets_a_working_one(page_with_a_form):
    app = page_with_a_form
    first, second = app.test_client(), app.test_client()
    first.get("/test-form-page")
    cached = second.get("/test-form-page")
    assert cached.headers.get("X-Page-Cache") == "hit"
    stored = list(app.extensions["page_cache"]._pages.values())
    assert stored and all(pagecache.CSRF_PLACEHOLDER in body and 'value="' + pagecache.CSRF_PLACEHOLDER in body
                          for _expiry, body in stored)
    page = text(cached)
    assert pagecache.CSRF_PLACEHOLDER not in page
    token = csrf_token_from(page)
    assert token != csrf_token_from(text(first.get("/test-form-page")))  # masked afresh for each answer
    # The token served from the cache is the second visitor's own: the language form accepts it.
    assert second.post("/language", data={"lang": "en", "csrf_token": token}).status_code == 302
    assert second.post("/language", data={"lang": "en", "csrf_token": "x"}).status_code == 400
    # A page holding a token is this visitor's only: no shared cache keeps it, and there is no ETag to revalidate.
    for response in (first.get("/test-form-page"), second.get("/test-form-page")):
        assert response.cache_control.private and not response.cache_control.public, response.headers
        assert response.cache_control.no_cache and response.headers.get("ETag") is None


def signed_in_buyer(app):
    """A client logged in as a buyer of "Công ty Mua Sỉ"."""
    with app.app_context():
        buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Mua Sỉ"),
                               email="buyer@dn.example")
        email = buyer.email
    member = app.test_client()
    assert login_with_form(member, email).status_code == 302
    return member


def test_logged_in_pages_are_never_cached_nor_served_from_the_cache(make_app):
    app = make_app()
    visitor = app.test_client()
    for path in ("/", "/products"):
        visitor.get(path)
        assert visitor.get(path).headers.get("X-Page-Cache") == "hit"
    member = signed_in_buyer(app)
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


# ---------------------------------------------------------------- HTTP caching (ETag, 304, Cache-Control)

CACHED_PATHS = ("/", "/products", "/products?sort=price_asc")


def test_a_page_the_browser_holds_is_answered_304_without_rendering(two_workers):
    reader, _writer, ids = two_workers
    client = reader.test_client()
    for path in (*CACHED_PATHS, product_path(ids)):
        first = client.get(path, follow_redirects=True)
        tag = first.headers["ETag"]
        assert tag.startswith('W/"'), path
        assert first.cache_control.public and first.cache_control.no_cache, (path, first.headers)
        assert "Cookie" in first.vary, path
        reader.extensions["page_cache"].clear()  # neither rendered nor read from this worker's cache
        again, response = statements_of(
            reader, lambda p=first.request.full_path, t=tag: client.get(p, headers={"If-None-Match": t}))
        assert response.status_code == 304 and response.get_data() == b"", path
        assert response.headers["ETag"] == tag and response.cache_control.public and "Cookie" in response.vary
        assert len(again) == 1 and "data_version" in again[0], (path, again)
        assert not reader.extensions["page_cache"]._pages
        assert client.get(path, headers={"If-None-Match": 'W/"something-else"'}, follow_redirects=True) \
            .status_code == 200


def test_a_wildcard_tag_never_stands_for_a_page_that_is_gone(two_workers):
    """'If-None-Match: *' matches any tag: answered 304 before the view ran, a product that does not exist
    looked present (found in review). Only the page's own tag gets a 304."""
    reader, _writer, ids = two_workers
    client = reader.test_client()
    assert client.get("/products/999999", headers={"If-None-Match": "*"}).status_code == 404
    assert client.get("/products", headers={"If-None-Match": "*"}).status_code == 200


def test_a_change_to_a_product_changes_the_etag(two_workers):
    reader, writer, ids = two_workers
    client = reader.test_client()
    held = {path: client.get(path, follow_redirects=True) for path in ("/products", product_path(ids))}
    change(writer, ids, lambda p: setattr(p.tiers[0], "unit_price_vnd", 240000))
    for path, before in held.items():
        response = client.get(before.request.full_path, headers={"If-None-Match": before.headers["ETag"]})
        assert response.status_code == 200 and "240.000 ₫" in text(response), path
        assert response.headers["ETag"] != before.headers["ETag"], path


def test_each_language_has_its_own_etag_and_the_link_switches_it(two_workers):
    reader, _writer, ids = two_workers
    client = reader.test_client()
    vietnamese = client.get("/products?sort=price_asc")
    assert 'href="/language?lang=en&amp;next=/products?sort%3Dprice_asc"' in text(vietnamese)
    switched = client.get("/language?lang=en&next=/products?sort%3Dprice_asc")
    assert switched.status_code == 302 and switched.location == "/products?sort=price_asc"
    assert switched.cache_control.no_store
    english = client.get("/products?sort=price_asc", headers={"If-None-Match": vietnamese.headers["ETag"]})
    assert english.status_code == 200 and 'lang="en"' in text(english)
    assert english.headers["ETag"] != vietnamese.headers["ETag"] and "Cookie" in english.vary
    assert 'href="/language?lang=vi&amp;next=' in text(english) and "csrf_token" not in text(english)
    assert client.get("/language?lang=fr&next=/products").status_code == 302
    assert 'lang="en"' in text(client.get("/products"))  # an unknown language changes nothing
    assert client.get("/language?lang=vi&next=https://evil.example/").location == "/"


def test_a_shared_cache_may_keep_anonymous_pages_as_long_as_the_operator_allows(make_app):
    app = make_app(PAGE_SHARED_CACHE_SECONDS=20)
    response = app.test_client().get("/products")
    control = response.cache_control
    assert control.public and control.max_age == 0 and control.s_maxage == 20 and not control.no_cache
    assert "csrf_token" not in text(response)


def test_logged_in_pages_never_get_an_etag_nor_public_caching(make_app):
    app = make_app()
    anonymous = app.test_client().get("/products")
    member = signed_in_buyer(app)
    for path in ("/", "/products"):
        response = member.get(path, headers={"If-None-Match": anonymous.headers["ETag"]})
        assert response.status_code == 200 and "/logout" in text(response)
        assert response.headers.get("ETag") is None and not response.cache_control.public
        assert response.cache_control.no_store


def test_a_signed_in_person_switches_language_only_with_the_checked_form(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        buyer = factories.user(factories.organisation("enterprise"), email="buyer@dn.example")
        email, user_id = buyer.email, buyer.id
    member = app.test_client()
    assert login_with_form(member, email).status_code == 302
    assert member.get("/language?lang=en&next=/products").location == "/products"  # a link from anywhere
    page = text(member.get("/products"))
    assert 'lang="vi"' in page and 'form class="language-switch" method="post"' in page
    with app.app_context():
        assert db.session.get(type(buyer), user_id).locale != "en"
    assert member.post("/language", data={"lang": "en", "csrf_token": csrf_token_from(page)}).status_code == 302
    assert 'lang="en"' in text(member.get("/products"))


def test_a_page_with_flashed_messages_is_neither_public_nor_tagged(make_app):
    app = make_app()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Một thông báo riêng")]
    response = client.get("/products")
    assert "Một thông báo riêng" in text(response)
    assert response.headers.get("ETag") is None and not response.cache_control.public


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


def test_a_catalogue_page_rendered_afresh_reads_the_catalogues_version_once(two_workers):
    """The page's key and the kept province counts both need the version: one read a request."""
    reader, _writer, _ids = two_workers
    client = reader.test_client()
    sent, response = statements_of(reader, lambda: client.get("/products?sort=name"))
    assert response.status_code == 200 and response.headers.get("X-Page-Cache") is None
    assert sum("data_version" in statement for statement in sent) == 1, sent
