"""Inquiries (marketplace/inquiries): a verified buyer asks the cooperative about a product from its page; each
message is emailed to the other side; both see their threads in one inbox; either side turns the thread into an
MoU draft prefilled with the product and the figures discussed."""
import pytest
import sqlalchemy as sa

from marketplace.agreements.models import Agreement
from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.inquiries import services
from marketplace.inquiries.models import Inquiry, InquiryEvent, InquiryEventKind
from tests import factories


@pytest.fixture
def seller(app):
    cooperative = factories.organisation("cooperative", legal_name="HTX Thủy sản Lê Hồng Phong")
    owner = factories.user(cooperative, email="chu@htx.example")
    factories.user(cooperative, email="banhang@htx.example", role="member")
    return owner


@pytest.fixture
def buyer(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Xuất khẩu Hải Phòng"),
                          email="mua@dn.example")


@pytest.fixture
def product(seller):
    return factories.product(seller.organisation, name="Cá suối nướng", base_price_vnd=300000, min_order_qty=20)


def login(client, user):
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": factories.PASSWORD}).status_code == 302
    client.post("/language", data={"lang": "en"})


def test_a_buyer_asks_from_the_product_page_and_the_cooperative_is_emailed(app, client, outbox, buyer, seller,
                                                                             product):
    login(client, buyer)
    product_page = client.get(f"/products/{product.id}/{product.slug}").get_data(as_text=True)
    assert f'href="/inquiries/new?product_id={product.id}"' in product_page
    form = client.get(f"/inquiries/new?product_id={product.id}").get_data(as_text=True)
    assert 'value="20"' in form  # the minimum order to start from
    response = client.post(f"/inquiries/new?product_id={product.id}", data={
        "body": "Giá cho 500 kg mỗi tháng? Có gửi mẫu không?", "quantity": "500", "period": "month",
        "wants_samples": "y", "delivery_place": "Hải Phòng"})
    inquiry = db.session.scalar(sa.select(Inquiry))
    assert response.status_code == 302 and response.headers["Location"] == f"/inquiries/{inquiry.id}"
    assert (inquiry.quantity, inquiry.period.value, inquiry.wants_samples) == (500, "month", True)
    assert sorted(m.to[0] for m in outbox) == ["banhang@htx.example", "chu@htx.example"]
    assert "Giá cho 500 kg mỗi tháng?" in outbox[0].body and f"/inquiries/{inquiry.id}" in outbox[0].body
    login(client, seller)
    inbox = client.get("/inquiries").get_data(as_text=True)
    assert "Cá suối nướng" in inbox and "Waiting for your answer" in inbox
    outbox.clear()
    response = client.post(f"/inquiries/{inquiry.id}/reply", data={"body": "280.000đ/kg, có mẫu.",
                                                                   "unit_price_vnd": "280000"})
    assert response.status_code == 302 and [m.to for m in outbox] == [[buyer.email]]
    db.session.expire_all()
    assert db.session.get(Inquiry, inquiry.id).unit_price_vnd == 280000
    assert "Answered" in client.get("/inquiries").get_data(as_text=True)
    assert [e.kind for e in db.session.scalars(sa.select(InquiryEvent).order_by(InquiryEvent.id))] == [
        InquiryEventKind.OPENED, InquiryEventKind.REPLIED]


def test_only_verified_enterprises_ask_and_only_the_two_sides_read(app, client, buyer, seller, product):
    details = services.MessageDetails(body="Còn hàng không?")
    with pytest.raises(Forbidden):
        services.open_inquiry(seller, product.id, details)
    pending = factories.user(factories.organisation("enterprise", status="pending"), email="cho@dn.example")
    with pytest.raises(Forbidden):
        services.open_inquiry(pending, product.id, details)
    draft = factories.product(seller.organisation, status="draft", name="Chưa bán")
    with pytest.raises(NotFound):
        services.open_inquiry(buyer, draft.id, details)
    inquiry = services.open_inquiry(buyer, product.id, details)
    stranger = factories.user(factories.organisation("enterprise"), email="khac@dn.example")
    with pytest.raises(NotFound):
        services.get_inquiry(stranger, inquiry.id)
    login(client, stranger)
    assert client.get(f"/inquiries/{inquiry.id}").status_code == 404
    assert client.post(f"/inquiries/{inquiry.id}/reply", data={"body": "x"}).status_code == 404
    assert "No inquiry yet." in client.get("/inquiries").get_data(as_text=True)
    alliance = factories.alliance_user()
    with pytest.raises(NotFound):
        services.get_inquiry(alliance, inquiry.id)


def test_bad_messages_are_refused_on_their_fields(app, client, buyer, product):
    with pytest.raises(ValidationFailed) as error:
        services.open_inquiry(buyer, product.id, services.MessageDetails(body=" \x00 ", quantity="-5",
                                                                        period="fortnight", unit_price_vnd="abc"))
    assert set(error.value.errors) == {"body", "quantity", "period", "unit_price_vnd"}
    login(client, buyer)
    response = client.post(f"/inquiries/new?product_id={product.id}", data={"body": ""})
    assert response.status_code == 422 and 'id="body-error"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Inquiry.id))) == 0


def test_either_side_turns_the_thread_into_a_prefilled_mou_draft(app, client, buyer, seller, product):
    inquiry = services.open_inquiry(buyer, product.id, services.MessageDetails(
        body="Giá cho 500 kg?", quantity="500", period="month", delivery_place="Cảng Hải Phòng"))
    services.reply(seller, inquiry.id, services.MessageDetails(body="280.000đ/kg", unit_price_vnd="280000"))
    login(client, seller)
    thread = client.get(f"/inquiries/{inquiry.id}").get_data(as_text=True)
    assert f'href="/agreements/new?inquiry_id={inquiry.id}"' in thread
    form = client.get(f"/agreements/new?inquiry_id={inquiry.id}").get_data(as_text=True)
    assert f'<option selected value="{product.id}">' in form and 'name="lines-0-quantity" type="text" value="500"' in form
    assert '<option selected value="fixed">' in form and 'value="280000"' in form and 'value="Cảng Hải Phòng"' in form
    assert f'<option selected value="{buyer.organisation_id}">' in form  # the counterparty: the inquiry's buyer
    data = {"counterparty_id": str(buyer.organisation_id), "inquiry_id": str(inquiry.id),
            "lines-0-product_id": str(product.id), "lines-0-quantity": "500", "lines-0-period": "month",
            "lines-0-price_basis": "fixed", "lines-0-unit_price_vnd": "280000", "start_date": "2030-01-01",
            "end_date": "2030-12-31", "delivery_place": "Cảng Hải Phòng"}
    assert client.post("/agreements/new", data=data).status_code == 302
    agreement = db.session.scalar(sa.select(Agreement))
    assert agreement.inquiry_id == inquiry.id and agreement.latest_revision.lines[0].unit_price_vnd == 280000
    other = factories.user(factories.organisation("enterprise"), email="khac@dn.example")
    response = client.post("/agreements/new", data={**data, "counterparty_id": str(other.organisation_id)})
    assert response.status_code == 422  # a draft from the inquiry is made with its other side
    stranger = factories.user(factories.organisation("cooperative"), email="khac@htx.example")
    login(client, stranger)
    assert client.get(f"/agreements/new?inquiry_id={inquiry.id}").status_code == 404
