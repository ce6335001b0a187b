"""Issue 13, "A buyer can act, and each role starts where its work is": each role's home (/home) after login,
what a buyer can do from a product page, how to reach a cooperative, and a home page that promises only what
works. Pages are read in English (the `english` fixture) or by their links and ids."""
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.agreements.models import Agreement, AgreementRevision, AgreementState
from marketplace.alliance import tracking
from marketplace.catalog.models import Unit
from marketplace.catalog.services import today
from marketplace.extensions import db
from marketplace.inquiries import services as inquiries
from marketplace.main import homes
from marketplace.orders import services as orders
from marketplace.orders.models import OrderStatus
from tests import factories


def page(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def log_in(client, user, language="en"):
    client.post("/logout")
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    client.post("/language", data={"lang": language})
    return response


def client_of(app, user):
    client = app.test_client()
    log_in(client, user)
    return client


def links(html):
    """The site's own page links of a page (not its styles, scripts and icons)."""
    return [path.replace("&amp;", "&") for path in re.findall(r'<a [^>]*href="(/[^"]*)"', html)
            if not path.startswith("/static/")]


def place(buyer, product, quantity=10):
    return orders.place_orders(buyer, orders.OrderRequest.from_mapping(
        factories.order_request([(product, quantity)])))[0]


def sent_mou(buyer, seller, turn):
    """An MoU sent and waiting for `turn`'s answer, straight into the database."""
    agreement = Agreement(reference=f"MOU-2026-{turn.id:03d}{seller.id:03d}", buyer=buyer, seller=seller,
                          initiator=buyer if turn == seller else seller, state=AgreementState.SENT, turn=turn,
                          start_date=date.today(), end_date=date.today() + timedelta(days=365))
    agreement.revisions = [AgreementRevision(number=1, author=buyer, terms={}, content_sha256="1" * 64)]
    db.session.add(agreement)
    db.session.commit()
    return agreement


@pytest.fixture
def seller(app):
    return factories.user(factories.organisation("cooperative", legal_name="HTX Thạch đen Tràng Định",
                                                 street_address="Thôn Nà Lầu", phone="0205 3812 345",
                                                 email="lienhe@thachden.example", representative="Hoàng Văn Minh"),
                          email="thach@htx.example")


@pytest.fixture
def buyer(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                          email="mua@dn.example")


@pytest.fixture
def jelly(seller):
    return factories.product(seller.organisation, name="Thạch đen Tràng Định", unit=Unit.KG, min_order_qty=10)


# ---------------------------------------------------------------- landing after login

@pytest.mark.parametrize("role", ["cooperative_owner", "enterprise_owner", "alliance_user",
                                  "pending_cooperative_owner"])
def test_each_role_lands_on_its_own_home_after_login(client, request, role):
    user = request.getfixturevalue(role)
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/home"
    html = page(client.get("/home"))
    kind = homes.kind_of(user).value
    assert {"cooperative": 'id="orders-to-confirm"', "buyer": 'id="payments-due"',
            "alliance": 'id="needs-attention"', "waiting": 'id="waiting-for"'}[kind] in html
    # A logged-in person asking for the login page again goes home too.
    assert client.get("/login").headers["Location"] == "/home"


def test_login_still_honours_a_safe_next_and_refuses_another_host(client, enterprise_owner):
    data = {"email": enterprise_owner.email, "password": factories.PASSWORD}
    assert client.post("/login?next=/orders", data={**data, "next": "/orders"}).headers["Location"] == "/orders"
    client.post("/logout")
    for hostile in ("https://evil.example/home", "//evil.example", "/\\evil.example"):
        response = client.post("/login", data={**data, "next": hostile})
        assert response.headers["Location"] == "/home", hostile
        client.post("/logout")


def test_visitors_are_sent_to_log_in_for_a_home(client):
    response = client.get("/home")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# ---------------------------------------------------------------- the cooperative's home

def test_a_cooperative_sees_what_waits_for_it_and_each_item_links_to_where_it_acts(app, english, client, seller,
                                                                                   buyer, jelly):
    inquiry = inquiries.open_inquiry(buyer, jelly.id, inquiries.MessageDetails(body="Giá cho 500 kg?"))
    order = place(buyer, jelly)
    paid = place(buyer, jelly)
    paid.status = OrderStatus.PAID
    agreement = sent_mou(buyer.organisation, seller.organisation, turn=seller.organisation)
    draft = factories.product(seller.organisation, status="draft", name="Mật ong bạc hà", description="")
    expiring = factories.product(seller.organisation, name="Hồi khô", stars=4, expires_on=today() + timedelta(days=20))
    db.session.commit()
    # Another cooperative's work is not listed.
    other = factories.user(factories.organisation("cooperative"))
    others_order = place(buyer, factories.product(other.organisation))

    log_in(client, seller)
    html = page(client.get("/home"))
    for path in (f"/inquiries/{inquiry.id}", f"/orders/{order.id}", f"/orders/{paid.id}",
                 f"/agreements/{agreement.id}", f"/products/{draft.id}/edit", f"/products/{expiring.id}/edit",
                 f"/products/{expiring.id}/certificates/new"):
        assert f'href="{path}"' in html, path
    assert f'href="/orders/{others_order.id}"' not in html
    assert "Your answer is awaited" in html
    assert "Ready to publish; buyers also look for a photo, a description" in html
    for path in links(html):
        assert client.get(path).status_code == 200, path


def test_a_pending_cooperative_is_told_what_its_drafts_wait_for(app, english, client, pending_cooperative_owner):
    factories.product(pending_cooperative_owner.organisation, status="draft")
    log_in(client, pending_cooperative_owner)
    html = page(client.get("/home"))
    assert "The cooperative alliance checks your registration" in html
    assert "1 prepared" in html
    for path in links(html):
        assert client.get(path).status_code == 200, path


def test_empty_homes_say_there_is_nothing_to_do(app, english, client, cooperative_owner, enterprise_owner):
    log_in(client, cooperative_owner)
    html = page(client.get("/home"))
    assert "No order waits for your confirmation." in html
    assert "No buyer's question waits for your answer." in html
    assert "No MoU waits for your answer or signature." in html
    assert "Every product of yours is in the catalogue." in html
    log_in(client, enterprise_owner)
    html = page(client.get("/home"))
    assert "No payment is due." in html and "No MoU is in force yet" in html


# ---------------------------------------------------------------- the buyer's home

def test_a_buyer_sees_its_payments_due_its_mous_and_the_answers_it_got(app, english, client, seller, buyer, jelly):
    confirmed = place(buyer, jelly)
    orders.confirm(seller, confirmed.id)
    waiting = place(buyer, jelly)  # placed: nothing due yet
    mou = factories.signed_mou(buyer.organisation, seller.organisation, {jelly: 90_000})
    answer = sent_mou(buyer.organisation, seller.organisation, turn=buyer.organisation)
    inquiry = inquiries.open_inquiry(buyer, jelly.id, inquiries.MessageDetails(body="Có mẫu không?"))
    inquiries.reply(seller, inquiry.id, inquiries.MessageDetails(body="Có, gửi tuần sau."))

    log_in(client, buyer)
    html = page(client.get("/home"))
    due = html.split('id="payments-due"')[1].split("</section>")[0]
    assert f'href="/orders/{confirmed.id}"' in due and f'href="/orders/{waiting.id}"' not in due
    assert "1,000,000" in due or "1.000.000" in due  # 10 kg × 100,000 ₫ due before shipping
    assert f'href="/agreements/{mou.id}"' in html.split('id="mous-in-force"')[1]
    assert f'href="/agreements/{answer.id}"' in html.split('id="mous-to-act"')[1].split("</section>")[0]
    assert f'href="/inquiries/{inquiry.id}"' in html
    for path in links(html):
        assert client.get(path).status_code == 200, path


def test_the_home_reads_a_fixed_number_of_queries_whatever_the_number_of_rows(app, seller, buyer, jelly):
    def queries_for(user):
        statements = []
        record = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            db.session.expire_all()
            homes.home_for(db.session.get(type(user), user.id))
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        return len(statements)

    for _ in range(2):
        place(buyer, jelly)
        sent_mou(buyer.organisation, factories.organisation("cooperative"), turn=buyer.organisation)
    before = (queries_for(seller), queries_for(buyer))
    for _ in range(4):
        place(buyer, jelly)
        sent_mou(buyer.organisation, factories.organisation("cooperative"), turn=buyer.organisation)
    assert (queries_for(seller), queries_for(buyer)) == before


# ---------------------------------------------------------------- the alliance's home

def test_the_alliance_sees_its_queues_and_the_follow_up_list_of_tracking(app, english, client, alliance_user, seller,
                                                                         buyer, jelly):
    factories.organisation("cooperative", status="pending")
    stalled = factories.signed_mou(buyer.organisation, seller.organisation, {jelly: 90_000},
                                   start=today() - timedelta(days=120))
    summary = tracking.summary(alliance_user)
    expected = tracking.needs_attention(alliance_user, per_page=homes.LIMIT)
    assert [i.agreement_id for i in summary.attention.items] == [i.agreement_id for i in expected.items]
    assert summary.attention.total == expected.total and stalled.id in summary.attention.agreements

    log_in(client, alliance_user)
    html = page(client.get("/home"))
    assert 'href="/alliance/organisations"' in html and "1 organisation waits for verification" in html
    assert f'href="/agreements/{stalled.id}"' in html.split('id="needs-attention"')[1]
    assert 'href="/alliance/follow-up?status=stalled"' in html
    for path in links(html):
        assert client.get(path).status_code == 200, path


# ---------------------------------------------------------------- a buyer can act from a product page

def test_the_product_page_offers_each_role_its_next_step(app, client, seller, buyer, jelly):
    path = f"/products/{jelly.id}/{jelly.slug}"
    visitor = page(client.get(path))
    # Missing wholesale terms (capacity, lead time, season) link to the question form, through the login.
    assert visitor.count(f'href="/login?next=/inquiries/new?product_id%3D{jelly.id}"') == 3
    assert 'id="order-hint"' in visitor
    shop = page(client_of(app, buyer).get(path))
    for action in ('id="ask-cooperative"', 'id="propose-mou"', 'id="add-to-cart"'):
        assert action in shop
    assert shop.count(f'href="/inquiries/new?product_id={jelly.id}"') == 4  # the button and three missing terms
    waiting = factories.user(factories.organisation("enterprise", status="pending"))
    pending = page(client_of(app, waiting).get(path))
    assert 'id="order-waiting"' in pending and 'id="add-to-cart"' not in pending
    assert 'href="/home"' in pending


def test_the_question_form_is_where_the_missing_terms_lead(app, client, buyer, jelly):
    shop = client_of(app, buyer)
    assert shop.get(f"/inquiries/new?product_id={jelly.id}").status_code == 200


# ---------------------------------------------------------------- how to reach a cooperative

def test_the_cooperative_profile_shows_its_contact_only_to_verified_organisations(app, client, seller, buyer):
    path = f"/cooperatives/{seller.organisation_id}"
    secrets = ("0205 3812 345", "lienhe@thachden.example", "Hoàng Văn Minh", "Thôn Nà Lầu")
    visitor = page(client.get(path))
    assert not any(secret in visitor for secret in secrets)
    assert f'href="/login?next=/cooperatives/{seller.organisation_id}"' in visitor
    pending = factories.user(factories.organisation("enterprise", status="pending"))
    waiting = page(client_of(app, pending).get(path))
    assert not any(secret in waiting for secret in secrets)
    verified = page(client_of(app, buyer).get(path))
    assert all(secret in verified for secret in secrets)
    assert 'href="tel:02053812345"' in verified and 'href="mailto:lienhe@thachden.example"' in verified
    other_cooperative = page(client_of(app, factories.user(factories.organisation("cooperative"))).get(path))
    assert all(secret in other_cooperative for secret in secrets)


# ---------------------------------------------------------------- the home page promises only what works

PROMISE_BLOCKS = {"for-cooperatives": "cooperative", "for-enterprises": "enterprise", "for-alliance": "alliance"}


def test_every_promise_on_the_home_page_links_to_the_page_that_does_it(app, client, seller, buyer, alliance_user):
    users = {"cooperative": seller, "enterprise": buyer, "alliance": alliance_user}
    html = page(client.get("/"))
    for block in PROMISE_BLOCKS:
        section = html.split(f'aria-labelledby="{block}"')[1].split("</section>")[0]
        assert links(section), block  # every block shows where its promises are kept, also to visitors
    for role, user in [(None, None), *users.items()]:
        visitor = app.test_client()
        if user is not None:
            log_in(visitor, user, "vi")
        home = page(visitor.get("/"))
        for block, owner in PROMISE_BLOCKS.items():
            section = home.split(f'aria-labelledby="{block}"')[1].split("</section>")[0]
            if role == owner:  # for the people it is made to, every promise links to where they do it
                items = re.findall(r"<li>(.*?)</li>", section, re.S)
                assert items and all('href="/' in item for item in items), (block, items)
            if role in (None, owner):  # a promise's links work for the people it is made to (and visitors)
                for path in links(section):
                    response = visitor.get(path)
                    assert response.status_code == 200, (role, path, response.status_code)
        for path in links(home.split('<main')[1].split("</main>")[0]):
            response = visitor.get(path)
            assert response.status_code in (200, 302), (role, path)
            if user is not None:
                assert response.status_code == 200, (role, path)


def test_an_order_without_a_way_to_pay_links_to_the_cooperatives_contact(app, client, seller, buyer, jelly):
    order = place(buyer, jelly)
    orders.confirm(seller, order.id)
    log_in(client, buyer)
    html = page(client.get(f"/orders/{order.id}"))
    if 'id="pay-' in html:
        pytest.skip("a way to pay is configured in this environment")
    link = re.search(r'<a href="([^"]+)" id="reach-cooperative"', html).group(1)
    assert link == f"/cooperatives/{seller.organisation_id}#contact"
    assert "lienhe@thachden.example" in page(client.get(link.split("#")[0]))


def test_a_suspended_organisation_reads_why_and_what_it_types_is_escaped(app, english, client, cooperative_owner):
    from marketplace.accounts.models import OrganisationStatus

    factories.product(cooperative_owner.organisation, status="draft", name='"><script>alert(1)</script>')
    log_in(client, cooperative_owner)
    html = page(client.get("/home"))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    cooperative_owner.organisation.status = OrganisationStatus.SUSPENDED
    cooperative_owner.organisation.status_reason = "Hồ sơ <b>thiếu</b> giấy phép"
    db.session.commit()
    html = page(client.get("/home"))
    assert 'id="waiting-for"' in html and "Your organisation cannot trade at the moment." in html
    assert "Hồ sơ &lt;b&gt;thiếu&lt;/b&gt; giấy phép" in html


def test_the_alliance_sees_the_mous_awaiting_its_signature_as_witness(app, english, client, alliance_user, seller,
                                                                      buyer):
    agreement = sent_mou(buyer.organisation, seller.organisation, turn=seller.organisation)
    agreement.state, agreement.turn, agreement.witness = (AgreementState.AWAITING_SIGNATURES, None,
                                                          alliance_user.organisation)
    db.session.commit()
    log_in(client, alliance_user)
    html = page(client.get("/home"))
    listed = html.split('id="mous-to-act"')[1].split("</section>")[0]
    assert f'href="/agreements/{agreement.id}"' in listed and "Your signature is awaited" in listed
    assert seller.organisation.legal_name in listed and buyer.organisation.legal_name in listed
