"""The MoU pages (marketplace/agreements/views.py): the list, the form to propose an MoU or change its terms,
the detail page with whose turn it is, the revisions and what changed, the actions wired to the services
(errors next to their fields), the PDFs and the evidence log. Rules are tested in test_agreement_services.py;
here, that the pages show them and pass what people enter."""
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.agreements import services, terms
from marketplace.agreements.models import Agreement, AgreementEvent, AgreementEventKind, AgreementState
from marketplace.extensions import db
from tests import factories

START = date.today() + timedelta(days=7)


@pytest.fixture
def seller(app):
    return factories.user(factories.organisation("cooperative", legal_name="HTX Na Đồng Bành"), email="chu@htx.example",
                          full_name="Vi Văn Thắng")


@pytest.fixture
def buyer(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                          email="mua@dn.example", full_name="Trần Quốc Bảo")


@pytest.fixture
def products(seller):
    return [factories.product(seller.organisation, name="Na dai Chi Lăng", base_price_vnd=60000, min_order_qty=100,
                              tiers=[(1000, 50000)]),
            factories.product(seller.organisation, name="Mật ong rừng", base_price_vnd=400000)]


def form_data(products, **changes):
    """What a person sends from the MoU form: the rows as the page names them."""
    data = {
        "lines-0-product_id": str(products[0].id), "lines-0-quantity": "2000", "lines-0-period": "month",
        "lines-0-price_basis": "tier",
        "lines-1-product_id": "", "lines-1-quantity": "", "lines-1-period": "month", "lines-1-price_basis": "tier",
        "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
        "delivery_place": "Kho Hà Nội", "delivery_frequency": "Hằng tuần", "payment_terms": "Chuyển khoản",
        "clauses": "Điều khoản một.\r\n\r\nĐiều khoản hai.",
    }
    data.update(changes)
    return data


def proposal(products, **changes):
    values = {"lines": [{"product_id": products[0].id, "quantity": 2000, "period": "month", "price_basis": "tier"}],
              "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
              "delivery_place": "Kho Hà Nội", "clauses": ["Điều khoản một."]}
    values.update(changes)
    return terms.TermsDetails.from_mapping(values)


def login(client, user):
    client.post("/logout")
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    client.post("/language", data={"lang": "en"})


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def kinds(agreement_id):
    return [e.kind for e in db.session.scalars(sa.select(AgreementEvent).filter_by(agreement_id=agreement_id)
                                               .order_by(AgreementEvent.id))]


# ---------------------------------------------------------------- the list

def test_the_list_has_an_empty_state_filters_and_pages(app, client, buyer, seller, products):
    login(client, buyer)
    html = page(client, "/agreements")
    assert "No MoU yet." in html and 'href="/agreements/new"' in html
    sent = services.send(buyer, services.draft(buyer, seller.organisation_id, proposal(products)).id)
    for _ in range(20):
        services.draft(buyer, seller.organisation_id, proposal(products))
    html = page(client, "/agreements")
    assert "21 MoUs" in html and sent.reference not in html  # newest first: the sent one is on page 2
    assert sent.reference in page(client, "/agreements?page=2")
    html = page(client, "/agreements?state=sent")
    assert sent.reference in html and "1 MoU" in html
    assert "No MoU matches these filters." in page(client, "/agreements?state=signed")
    assert "21 MoUs" in page(client, "/agreements?state=nonsense&page=-3")  # bad filters are dropped
    login(client, seller)
    html = page(client, "/agreements")
    assert "1 MoU" in html and sent.reference in html  # the buyer's drafts are its own


def test_the_navigation_links_to_the_mous(app, client, buyer):
    login(client, buyer)
    assert 'href="/agreements"' in page(client, "/account")


# ---------------------------------------------------------------- proposing an MoU

def test_an_enterprise_chooses_a_cooperative_first_or_starts_from_a_product_page(app, client, buyer, seller, products):
    login(client, buyer)
    html = page(client, "/agreements/new")
    assert 'name="counterparty_id"' in html and seller.organisation.legal_name in html and "lines-0-product_id" not in html
    product_page = page(client, f"/products/{products[0].id}/{products[0].slug}")
    assert f'href="/agreements/new?product_id={products[0].id}"' in product_page
    html = page(client, f"/agreements/new?product_id={products[0].id}")
    assert re.search(rf'<option selected value="{products[0].id}">Na dai Chi Lăng', html)
    assert 'name="lines-0-quantity" type="text" value="100"' in html  # the minimum order
    assert "lines-2-product_id" in html  # two blank rows below
    assert "Bank transfer within 15 days" in html  # the template, in the reader's language


def test_only_verified_enterprises_see_the_button_on_the_product_page(app, client, seller, products,
                                                                       pending_cooperative_owner):
    url = f"/products/{products[0].id}/{products[0].slug}"
    assert "propose-mou" not in page(client, url)
    login(client, seller)
    assert "propose-mou" not in page(client, url)
    pending = factories.user(factories.organisation("enterprise", status="pending"), email="cho@dn.example")
    login(client, pending)
    assert "propose-mou" not in page(client, url)
    assert client.get("/agreements/new").status_code == 403


def test_a_proposal_is_saved_as_a_draft_from_the_form(app, client, buyer, seller, products):
    login(client, buyer)
    data = form_data(products, counterparty_id=str(seller.organisation_id), note="Đề xuất ban đầu", witness="y",
                     **{"lines-1-product_id": str(products[1].id), "lines-1-quantity": "50",
                        "lines-1-period": "total", "lines-1-price_basis": "fixed", "lines-1-unit_price_vnd": "380000"})
    response = client.post("/agreements/new", data=data)
    agreement = db.session.scalar(sa.select(Agreement))
    assert response.status_code == 302 and response.headers["Location"] == f"/agreements/{agreement.id}"
    revision = agreement.latest_revision
    assert [(line.name, line.quantity, line.unit_price_vnd) for line in revision.lines] == [
        ("Na dai Chi Lăng", 2000, 50000), ("Mật ong rừng", 50, 380000)]
    assert revision.terms["clauses"] == ["Điều khoản một.", "Điều khoản hai."] and revision.note == "Đề xuất ban đầu"
    assert agreement.witness is not None or agreement.witness_id is None  # no alliance in this world
    html = page(client, f"/agreements/{agreement.id}")
    assert "Your turn: check the terms" in html and f'action="/agreements/{agreement.id}/send"' in html


def test_a_cooperative_proposes_to_an_enterprise(app, client, buyer, seller, products):
    login(client, seller)
    html = page(client, f"/agreements/new?product_id={products[0].id}")
    assert 'id="counterparty_id"' in html and buyer.organisation.legal_name in html
    response = client.post("/agreements/new", data=form_data(products, counterparty_id=str(buyer.organisation_id)))
    assert response.status_code == 302
    agreement = db.session.scalar(sa.select(Agreement))
    assert (agreement.initiator_id, agreement.buyer_id) == (seller.organisation_id, buyer.organisation_id)


def test_errors_are_shown_next_to_their_fields(app, client, buyer, seller, products):
    login(client, buyer)
    data = form_data(products, counterparty_id=str(seller.organisation_id), end_date="2001-01-01",
                     delivery_place="", **{"lines-1-product_id": str(products[1].id), "lines-1-quantity": "0"})
    response = client.post("/agreements/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'href="#lines-1-quantity"' in html and 'id="lines-1-quantity-error"' in html
    assert 'id="end_date-error"' in html and 'id="delivery_place-error"' in html
    assert 'value="2000"' in html  # what was entered stays
    assert db.session.scalar(sa.select(sa.func.count(Agreement.id))) == 0
    none = {key: value for key, value in data.items() if not key.startswith("lines-0")}
    none.update({"lines-1-product_id": "", "lines-1-quantity": "", "delivery_place": "Kho"})
    html = client.post("/agreements/new", data=none).get_data(as_text=True)
    assert 'id="lines-error"' in html and "Add at least one product." in html


def test_rows_are_added_and_removed_without_javascript(app, client, buyer, seller, products):
    login(client, buyer)
    data = form_data(products, counterparty_id=str(seller.organisation_id), add_line="1",
                     **{"lines-1-product_id": str(products[1].id), "lines-1-quantity": "5", "lines-0-remove": "y"})
    response = client.post("/agreements/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and db.session.scalar(sa.select(sa.func.count(Agreement.id))) == 0
    assert re.search(rf'<option selected value="{products[1].id}">', html)  # the kept row moved up
    assert "lines-3-product_id" in html and "lines-4-product_id" not in html  # one row kept, three blank
    assert f'<option selected value="{products[0].id}">' not in html  # the removed row is gone


# ---------------------------------------------------------------- negotiating on the detail page

@pytest.fixture
def sent(buyer, seller, products):
    return services.send(buyer, services.draft(buyer, seller.organisation_id, proposal(products)).id)


def test_the_page_says_whose_turn_it_is_and_only_that_side_can_answer(app, client, buyer, seller, sent):
    login(client, buyer)
    html = page(client, f"/agreements/{sent.id}")
    assert f"It is {seller.organisation.legal_name}'s turn to answer" in html
    assert "/accept" not in html and "/edit" not in html and "/withdraw" in html
    response = client.post(f"/agreements/{sent.id}/accept", data={"revision_number": "1"})
    assert response.status_code == 302
    assert "It is not your turn" in page(client, f"/agreements/{sent.id}")
    login(client, seller)
    html = page(client, f"/agreements/{sent.id}")
    assert "It is your turn" in html and f'action="/agreements/{sent.id}/accept"' in html
    assert f'href="/agreements/{sent.id}/edit"' in html and f'action="/agreements/{sent.id}/decline"' in html


def test_proposed_changes_make_a_revision_and_the_page_shows_what_changed(app, client, buyer, seller, products, sent):
    login(client, seller)
    html = page(client, f"/agreements/{sent.id}/edit")
    assert 'value="Kho Hà Nội"' in html and "Điều khoản một." in html
    data = form_data(products, delivery_place="Kho Hải Phòng", clauses="Điều khoản hai.\r\n\r\nĐiều khoản ba.",
                     note="Giao tại Hải Phòng", **{"lines-0-quantity": "1500"})
    assert client.post(f"/agreements/{sent.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    agreement = db.session.get(Agreement, sent.id)
    assert [r.number for r in agreement.revisions] == [1, 2] and agreement.turn_id == buyer.organisation_id
    login(client, buyer)
    html = page(client, f"/agreements/{sent.id}")
    changes = html[html.index('id="changes"'):]
    assert "Kho Hà Nội" in changes and "Kho Hải Phòng" in changes
    assert "Na dai Chi Lăng: Expected quantity" in changes and "1,500" in changes
    assert '<span class="added"><span class="visually-hidden">added: </span>Điều khoản ba.</span>' in changes
    assert '<span class="removed"><span class="visually-hidden">removed: </span>Điều khoản một.</span>' in changes
    assert "Choose two different revisions." in page(client, f"/agreements/{sent.id}?from=1&to=1")
    backwards = page(client, f"/agreements/{sent.id}?from=2&to=1")
    assert "From revision 2 to revision 1" in backwards
    html = page(client, f"/agreements/{sent.id}?rev=1")
    assert "Terms of revision 1" in html
    # An edit form for a party whose turn it is not: back to the page with the reason.
    login(client, seller)
    assert client.get(f"/agreements/{sent.id}/edit").status_code == 302


def test_a_decline_without_a_reason_is_shown_on_its_field(app, client, seller, sent):
    login(client, seller)
    response = client.post(f"/agreements/{sent.id}/decline", data={"decline-reason": " "})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="decline-reason-error"' in html and '<details class="confirm" id="decline" open>' in html
    response = client.post(f"/agreements/{sent.id}/decline", data={"decline-reason": "Giá chưa phù hợp"})
    assert response.status_code == 302
    html = page(client, f"/agreements/{sent.id}")
    assert "Declined. Reason: Giá chưa phù hợp" in html and "/accept" not in html


def test_viewing_is_recorded_once_per_user_and_revision_for_the_other_side(app, client, buyer, seller, sent):
    login(client, buyer)
    page(client, f"/agreements/{sent.id}")  # the author's own side: not a "viewed"
    login(client, seller)
    page(client, f"/agreements/{sent.id}")
    page(client, f"/agreements/{sent.id}")
    assert kinds(sent.id).count(AgreementEventKind.VIEWED) == 1
    colleague = factories.user(seller.organisation, email="phó@htx.example", role="member")
    login(client, colleague)
    page(client, f"/agreements/{sent.id}")
    assert kinds(sent.id).count(AgreementEventKind.VIEWED) == 2


# ---------------------------------------------------------------- signing, PDFs and the evidence log

def test_signing_needs_the_password_and_the_right_and_the_pdfs_are_logged(app, client, buyer, seller, sent):
    services.accept(seller, sent.id)
    member = factories.user(seller.organisation, email="thanhvien@htx.example", role="member")
    login(client, member)
    html = page(client, f"/agreements/{sent.id}")
    assert f'action="/agreements/{sent.id}/sign"' not in html
    assert "Only the owner of your organisation, or a member the owner gave the signing right" in html
    assert client.post(f"/agreements/{sent.id}/sign", data={"password": factories.PASSWORD}).status_code == 302
    assert "Only the owner, or a member the owner allowed to sign" in page(client, f"/agreements/{sent.id}")

    login(client, seller)
    html = page(client, f"/agreements/{sent.id}")
    assert f'action="/agreements/{sent.id}/sign"' in html and "not a digital signature" in html
    response = client.post(f"/agreements/{sent.id}/sign", data={"password": "sai mật khẩu", "revision_number": "1"})
    assert response.status_code == 422 and 'id="password-error"' in response.get_data(as_text=True)
    assert client.post(f"/agreements/{sent.id}/sign",
                       data={"password": factories.PASSWORD, "revision_number": "1"}).status_code == 302
    login(client, buyer)
    client.post(f"/agreements/{sent.id}/sign", data={"password": factories.PASSWORD, "revision_number": "1"})
    html = page(client, f"/agreements/{sent.id}")
    assert "Signed by every party on" in html and 'id="download-certificate"' in html
    response = client.get(f"/agreements/{sent.id}/document.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store" and response.data.startswith(b"%PDF-")
    assert "attachment" in response.headers["Content-Disposition"]
    certificate = client.get(f"/agreements/{sent.id}/certificate.pdf")
    assert certificate.status_code == 200 and certificate.data.startswith(b"%PDF-")
    assert kinds(sent.id)[-2:] == [AgreementEventKind.DOWNLOADED, AgreementEventKind.DOWNLOADED]
    log = page(client, f"/agreements/{sent.id}")
    log = log[log.index('id="log"'):]
    db.session.expire_all()
    assert "PDF downloaded" in log, log
    assert db.session.get(Agreement, sent.id).document_sha256 in log


def test_no_pdf_before_the_terms_are_agreed(app, client, buyer, sent):
    login(client, buyer)
    assert client.get(f"/agreements/{sent.id}/document.pdf").status_code == 404
    assert client.get(f"/agreements/{sent.id}/certificate.pdf").status_code == 404
    assert AgreementEventKind.DOWNLOADED not in kinds(sent.id)


def test_a_third_party_gets_404_everywhere(app, client, sent):
    stranger = factories.user(factories.organisation("enterprise"), email="khac@dn.example")
    login(client, stranger)
    for url in ("", "/edit", "/document.pdf", "/certificate.pdf"):
        assert client.get(f"/agreements/{sent.id}{url}").status_code == 404, url
    for action in ("send", "accept", "decline", "withdraw", "witness", "sign", "void", "void/confirm", "complete"):
        assert client.post(f"/agreements/{sent.id}/{action}", data={"reason": "x"}).status_code == 404, action
    db.session.expire_all()
    assert db.session.get(Agreement, sent.id).state == AgreementState.SENT


def test_user_text_is_escaped(app, client, buyer, seller, products):
    agreement = services.draft(buyer, seller.organisation_id, proposal(
        products, delivery_place="<script>alert(1)</script>", clauses=['"><img src=x onerror=alert(1)>']))
    login(client, buyer)
    html = page(client, f"/agreements/{agreement.id}")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_the_pages_never_call_the_signature_a_chu_ky_so(app, client, buyer, seller, sent):
    """It is an electronic signature with tamper evidence and an audit trail, issued by the platform: the
    Vietnamese pages name "chữ ký số" (a licensed digital signature) only to say that it is not one."""
    services.accept(seller, sent.id)
    login(client, seller)
    client.post("/language", data={"lang": "vi"})
    for url in (f"/agreements/{sent.id}", "/verify", f"/verify/{sent.reference}"):
        html = page(client, url)
        assert "chữ ký điện tử" in html, url
        assert "chữ ký số" not in html.replace("không phải chữ ký số", ""), url


def _statements(client, url):
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        page(client, url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    return len(statements)


def test_the_list_takes_the_same_statements_whatever_the_number_of_counterparties(app, client, seller, products,
                                                                                   monkeypatch):
    """Issue 14: the parties come with the MoUs (a cooperative with MoUs from many enterprises made one query
    per enterprise on each page of its list). The page is rendered each time (not kept for the person)."""
    monkeypatch.setitem(app.config, "PRIVATE_PAGE_CACHE_SECONDS", 0)
    login(client, seller)
    for n in range(2):
        factories.signed_mou(factories.organisation("enterprise", legal_name=f"Công ty {n}"), seller.organisation,
                             {products[0]: 55000})
    two = _statements(client, "/agreements")
    for n in range(2, 7):
        factories.signed_mou(factories.organisation("enterprise", legal_name=f"Công ty {n}"), seller.organisation,
                             {products[0]: 55000})
    html = page(client, "/agreements")
    assert "7 MoUs" in html and all(f"Công ty {n}" in html for n in range(7))
    assert _statements(client, "/agreements") == two
