"""Signed-in list pages kept per worker (pagecache.kept_for_the_organisation, issue 14).

A page is kept for the members of one organisation with one role, under the version of every record a page shows
(versions.RECORDS); the person's own parts of the header (unread notices, cart) are filled in for each answer. The
tests read a page twice in one app (a worker, with its own cache), change a record in a second app on the same
database (another worker or host) or in another operating-system process, and read the page again at once.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from marketplace import pagecache, versions
from marketplace.accounts.models import OrganisationStatus
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.orders import services as orders
from tests import factories
from tests.support import BASE_CONFIG, csrf_token_from, login_with_form, statements_of

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def text(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True).replace("\xa0", " ")


def twice(client, path):
    """The page read twice: (the first answer, the second)."""
    return client.get(path), client.get(path)


@pytest.fixture
def trade(make_app):
    """(reader, writer, names): two apps on one database; a cooperative with its owner and two members and an
    order from an enterprise, another cooperative with its own owner, alliance staff."""
    reader, writer = make_app(), make_app()
    with writer.app_context():
        seller = factories.organisation("cooperative", legal_name="HTX Chè Tân Cương")
        other = factories.organisation("cooperative", legal_name="HTX Gạo Hải Hậu")
        buyer_org = factories.organisation("enterprise", legal_name="Công ty Mua Sỉ")
        factories.user(seller, email="owner@tancuong.example")
        factories.user(seller, email="member@tancuong.example", role="member")
        factories.user(seller, email="member2@tancuong.example", role="member")
        factories.user(other, email="owner@haihau.example")
        buyer = factories.user(buyer_org, email="buyer@muasi.example")
        factories.alliance_user()
        product = factories.product(seller, name="Chè búp Tân Cương", base_price_vnd=300000, capacity_qty=5000)
        factories.product(other, name="Gạo tám Hải Hậu", base_price_vnd=25000)
        placed = orders.place_orders(buyer, orders.OrderRequest.from_mapping(factories.order_request([(product, 100)])))
        names = {"product": product.id, "order": placed[0].reference, "buyer": buyer.id, "seller": seller.id}
    return reader, writer, names


def signed_in(app, email):
    client = app.test_client()
    assert login_with_form(client, email).status_code == 302
    return client


def test_a_list_page_is_kept_for_its_organisation_and_role_only(trade):
    reader, _writer, names = trade
    owner, member = signed_in(reader, "owner@tancuong.example"), signed_in(reader, "member@tancuong.example")
    colleague, stranger = signed_in(reader, "member2@tancuong.example"), signed_in(reader, "owner@haihau.example")
    first, second = twice(owner, "/orders")
    assert first.headers.get("X-Page-Cache") is None and second.headers.get("X-Page-Cache") == "hit"
    assert names["order"] in text(second)
    for response in (first, second):
        assert response.cache_control.no_store and not response.cache_control.public
        assert response.headers.get("ETag") is None
    # Another role of the same cooperative: its own page. Another member of that role: the same one.
    assert member.get("/orders").headers.get("X-Page-Cache") is None
    same_role = colleague.get("/orders")
    assert same_role.headers.get("X-Page-Cache") == "hit" and names["order"] in text(same_role)
    # Another cooperative's owner: never the first cooperative's page.
    foreign = stranger.get("/orders")
    assert foreign.headers.get("X-Page-Cache") is None and names["order"] not in text(foreign)
    again = stranger.get("/orders")
    assert again.headers.get("X-Page-Cache") == "hit" and names["order"] not in text(again)


def blanked(html):
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


@pytest.mark.parametrize("email, path", [
    ("member@tancuong.example", "/orders"), ("member@tancuong.example", "/workspace/products"),
    ("member@tancuong.example", "/agreements"), ("buyer@muasi.example", "/orders"),
    ("staff@lienminh.example", "/alliance/organisations"), ("staff@lienminh.example", "/alliance/certificates"),
    ("staff@lienminh.example", "/alliance/follow-up"), ("staff@lienminh.example", "/alliance/dashboard"),
])
def test_a_kept_page_is_what_the_member_would_be_shown_anyway(trade, make_app, email, path):
    """What another member of the organisation with the role gets from the cache is what rendering the page for
    them gives, byte for byte but the tokens (and the dashboard's random chart ids)."""
    reader, _writer, _names = trade
    kept = twice(signed_in(reader, email), path)[1]
    assert kept.headers.get("X-Page-Cache") == "hit"
    rendered = signed_in(make_app(PRIVATE_PAGE_CACHE_SECONDS=0), email).get(path)
    ids = re.compile(r'(chart|table)-[0-9a-f]{6,}')
    assert ids.sub("", blanked(text(kept))) == ids.sub("", blanked(text(rendered)))


def badge(link_id, html):
    """The count shown on the header's link `link_id`, or None."""
    found = re.search(rf'id="{link_id}">[^<]*<span class="nav-count" aria-hidden="true">(\d+)<', html)
    return found and found.group(1)


def test_each_person_sees_their_own_unread_notices_on_a_kept_page(trade):
    reader, writer, names = trade
    with writer.app_context():
        from marketplace.accounts.models import User
        from marketplace.notices.models import Notice, NoticeCursor

        first = Notice(organisation_id=names["seller"], title="Nhắc việc")
        db.session.add_all([first, Notice(organisation_id=names["seller"], title="Nhắc việc lần hai")])
        db.session.flush()
        reader_of_one = db.session.scalar(sa.select(User).filter_by(email="member2@tancuong.example"))
        db.session.add(NoticeCursor(user_id=reader_of_one.id, last_seen_id=first.id))
        db.session.commit()
    member, colleague = signed_in(reader, "member@tancuong.example"), signed_in(reader, "member2@tancuong.example")
    member.get("/orders")
    mine, theirs = member.get("/orders"), colleague.get("/orders")
    assert mine.headers.get("X-Page-Cache") == theirs.headers.get("X-Page-Cache") == "hit"
    assert badge("nav-notices", text(mine)) == "2" and badge("nav-notices", text(theirs)) == "1"
    assert pagecache.PERSON_PART not in text(mine) + text(theirs)
    kept = [body for _expiry, body in reader.extensions["private_page_cache"]._pages.values()]
    assert kept and not any(badge("nav-notices", body) for body in kept)


def test_a_buyers_cart_is_their_own_on_a_kept_page(trade):
    reader, writer, names = trade
    with writer.app_context():
        from marketplace.accounts.models import User

        buyer = db.session.get(User, names["buyer"])
        factories.user(buyer.organisation, email="buyer2@muasi.example", role="owner")
        orders.put_in_cart(buyer, names["product"], 100)
    buyer, colleague = signed_in(reader, "buyer@muasi.example"), signed_in(reader, "buyer2@muasi.example")
    buyer.get("/agreements")
    assert colleague.get("/agreements").headers.get("X-Page-Cache") == "hit"
    assert badge("nav-cart", text(buyer.get("/agreements"))) == "1"
    assert badge("nav-cart", text(colleague.get("/agreements"))) is None
    with writer.app_context():  # the colleague fills a cart: the kept pages stay, their own badge shows it
        colleague_user = db.session.scalar(sa.select(User).filter_by(email="buyer2@muasi.example"))
        orders.put_in_cart(colleague_user, names["product"], 100)
    answer = colleague.get("/agreements")
    assert answer.headers.get("X-Page-Cache") == "hit" and badge("nav-cart", text(answer)) == "1"


def test_each_answer_from_the_cache_has_its_own_token_and_the_cache_none(trade):
    reader, _writer, _names = trade
    owner = signed_in(reader, "owner@tancuong.example")
    first, second = twice(owner, "/workspace/products")
    tokens = {csrf_token_from(text(first)), csrf_token_from(text(second))}
    assert len(tokens) == 2 and pagecache.CSRF_PLACEHOLDER not in text(second)
    kept = [body for _expiry, body in reader.extensions["private_page_cache"]._pages.values()]
    assert kept and all(pagecache.CSRF_PLACEHOLDER in body for body in kept)
    assert not any(token in body for body in kept for token in tokens)
    # The token of an answer from the cache works: switching the language is a checked form for a signed-in person.
    answer = owner.post("/language", data={"lang": "en", "csrf_token": csrf_token_from(text(second)),
                                           "next": "/workspace/products"})
    assert answer.status_code == 302
    assert '<html lang="en"' in text(owner.get("/workspace/products"))


def rename(product_id, name):
    def apply():
        db.session.get(Product, product_id).name = name
    return apply


def bulk_rename(product_id, name):
    def apply():  # a bulk UPDATE through the session: no flush, no object
        db.session.execute(sa.update(Product).where(Product.id == product_id).values(name=name))
    return apply


def new_order(names):
    def apply():
        from marketplace.accounts.models import User

        buyer = db.session.get(User, names["buyer"])
        product = db.session.get(Product, names["product"])
        placed = orders.place_orders(buyer, orders.OrderRequest.from_mapping(factories.order_request([(product, 120)])))
        names["new order"] = placed[0].reference
    return apply


@pytest.mark.parametrize("email, path, how", [
    ("owner@tancuong.example", "/workspace/products", "rename"),
    ("owner@tancuong.example", "/workspace/products", "bulk rename"),
    ("owner@tancuong.example", "/orders", "new order"),
    ("buyer@muasi.example", "/orders", "new order"),
    ("staff@lienminh.example", "/alliance/dashboard", "new order"),
])
def test_a_change_committed_by_another_worker_shows_at_once(trade, email, path, how):
    reader, writer, names = trade
    client = signed_in(reader, email)
    _first, kept = twice(client, path)
    assert kept.headers.get("X-Page-Cache") == "hit"
    change = {"rename": rename(names["product"], "Chè móc câu Tân Cương"),
              "bulk rename": bulk_rename(names["product"], "Chè móc câu Tân Cương"),
              "new order": new_order(names)}[how]
    with writer.app_context():
        change()
        db.session.commit()
    after = client.get(path)
    assert after.headers.get("X-Page-Cache") is None
    expected = "Chè móc câu Tân Cương" if "rename" in how else names["new order"]
    if path != "/alliance/dashboard":  # the dashboard shows totals, not references
        assert expected in text(after)
    assert text(after) != text(kept)


def test_the_alliance_queues_show_a_new_registration_and_a_verification_at_once(trade):
    reader, writer, _names = trade
    staff = signed_in(reader, "staff@lienminh.example")
    twice(staff, "/alliance/organisations")
    with writer.app_context():
        waiting = factories.organisation("cooperative", status="pending", legal_name="HTX Mật ong Bắc Kạn")
        waiting_id = waiting.id
    assert "HTX Mật ong Bắc Kạn" in text(staff.get("/alliance/organisations"))
    assert staff.get("/alliance/organisations").headers.get("X-Page-Cache") == "hit"
    with writer.app_context():
        from marketplace.accounts.models import Organisation

        db.session.get(Organisation, waiting_id).status = OrganisationStatus.VERIFIED
        db.session.commit()
    assert "HTX Mật ong Bắc Kạn" not in text(staff.get("/alliance/organisations"))  # the queue holds pending ones


CHANGE_IN_ANOTHER_PROCESS = """
import json, sys
from marketplace import create_app
from marketplace.catalog.models import Product
from marketplace.extensions import db

config, product_id, name = json.loads(sys.argv[1])
app = create_app(config)
with app.app_context():
    db.session.get(Product, product_id).name = name
    db.session.commit()
"""


def test_a_change_committed_by_another_process_shows_at_once(trade, database):
    reader, _writer, names = trade
    owner = signed_in(reader, "owner@tancuong.example")
    assert twice(owner, "/workspace/products")[1].headers.get("X-Page-Cache") == "hit"
    config = {**BASE_CONFIG, **{key: value for key, value in database.items() if key != "backend"},
              "UPLOAD_DIR": reader.config["UPLOAD_DIR"], "SEARCH_INDEX_DIR": reader.config["SEARCH_INDEX_DIR"]}
    subprocess.run([sys.executable, "-c", CHANGE_IN_ANOTHER_PROCESS,
                    json.dumps([config, names["product"], "Chè đinh Tân Cương"])],
                   cwd=PROJECT_ROOT, check=True, timeout=120, capture_output=True)
    after = owner.get("/workspace/products")
    assert after.headers.get("X-Page-Cache") is None and "Chè đinh Tân Cương" in text(after)


def test_a_kept_page_costs_the_session_the_version_and_the_persons_notices(trade):
    reader, _writer, _names = trade
    owner = signed_in(reader, "owner@tancuong.example")
    owner.get("/orders")
    sent, response = statements_of(reader, lambda: owner.get("/orders"))
    assert response.headers.get("X-Page-Cache") == "hit"
    assert len(sent) == 3 and "data_version" in sent[1] and "notice" in sent[2], sent


def test_pages_with_flashed_messages_are_not_kept(trade):
    reader, _writer, _names = trade
    owner = signed_in(reader, "owner@tancuong.example")
    with owner.session_transaction() as session:
        session["_flashes"] = [("success", "Đã lưu sản phẩm")]
    assert "Đã lưu sản phẩm" in text(owner.get("/workspace/products"))
    response = owner.get("/workspace/products")
    assert response.headers.get("X-Page-Cache") is None and "Đã lưu sản phẩm" not in text(response)


def test_the_cache_can_be_turned_off(make_app, trade):
    _reader, _writer, _names = trade
    app = make_app(PRIVATE_PAGE_CACHE_SECONDS=0)
    owner = signed_in(app, "owner@tancuong.example")
    assert all(r.headers.get("X-Page-Cache") is None for r in twice(owner, "/orders"))


def test_records_change_with_shown_tables_and_not_with_a_session_touch(trade, stopped_clock):
    _reader, writer, names = trade
    with writer.app_context():
        before = versions.read(db.session, versions.RECORDS)
        from marketplace.accounts.models import AuthSession

        for record in db.session.scalars(sa.select(AuthSession)):
            record.ip_address = "192.0.2.7"  # a session's bookkeeping: no page shows it
        db.session.commit()
        assert versions.read(db.session, versions.RECORDS) == before
        rename(names["product"], "Chè xanh")()
        db.session.commit()
        assert versions.read(db.session, versions.RECORDS) == before + 1


@pytest.mark.postgresql_only
def test_a_change_committed_after_the_session_was_read_is_not_kept_under_the_newer_version(trade, monkeypatch):
    """The person and their organisation come with the session (accounts/sessions.py), before the version is read:
    a change committed between the two (PostgreSQL's next statement sees it) must not leave the page rendered from
    the organisation as it was kept under the version that includes the change."""
    reader, writer, names = trade
    member, colleague = signed_in(reader, "member@tancuong.example"), signed_in(reader, "member2@tancuong.example")
    assert 'href="/workspace/payment-settings"' in text(member.get("/workspace/products?verified"))  # verified
    read = versions.read
    suspended = []

    def suspend_then_read(session, name):
        if name == versions.RECORDS and not suspended:  # another worker commits, just before this one reads
            suspended.append(True)
            with writer.app_context():
                from marketplace.accounts.models import Organisation

                db.session.get(Organisation, names["seller"]).status = OrganisationStatus.SUSPENDED
                db.session.commit()
        return read(session, name)

    monkeypatch.setattr(versions, "read", suspend_then_read)
    member.get("/workspace/products")  # rendered from the organisation as it came with the session: verified
    assert suspended
    page = text(colleague.get("/workspace/products"))  # the same role: the page kept by the member's request
    assert 'href="/workspace/payment-settings"' not in page  # a link for verified cooperatives only


def test_a_login_leaves_the_kept_pages(trade):
    """A login notes its time on the account (a column no kept page shows): another member signing in does not
    retire the pages kept for the organisation (at a conference's start every login would)."""
    reader, _writer, _names = trade
    owner = signed_in(reader, "owner@tancuong.example")
    assert twice(owner, "/orders")[1].headers.get("X-Page-Cache") == "hit"
    signed_in(reader, "member@tancuong.example")
    assert owner.get("/orders").headers.get("X-Page-Cache") == "hit"


def test_a_change_of_a_shown_column_of_an_account_retires_the_kept_pages(trade):
    reader, writer, _names = trade
    owner = signed_in(reader, "owner@tancuong.example")
    assert twice(owner, "/orders")[1].headers.get("X-Page-Cache") == "hit"
    with writer.app_context():
        from marketplace.accounts.models import User

        member = db.session.scalar(sa.select(User).filter_by(email="member@tancuong.example"))
        member.full_name = "Nguyễn Thị Lan"
        db.session.commit()
    assert owner.get("/orders").headers.get("X-Page-Cache") is None
