"""Addenda (phụ lục): a signed MoU is changed by an addendum, drafted, negotiated and signed the same way and
linked to it; the MoU's terms in force are then the latest signed addendum's."""
from datetime import date, timedelta

import pytest

from marketplace.agreements import pdf, services, terms
from marketplace.agreements.models import AgreementKind, AgreementState
from marketplace.errors import NotFound
from marketplace.extensions import db
from tests import factories

START = date.today() + timedelta(days=7)


@pytest.fixture
def signed(app):
    seller = factories.user(factories.organisation("cooperative", legal_name="HTX Na Đồng Bành"), email="chu@htx.example")
    buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                           email="mua@dn.example")
    product = factories.product(seller.organisation, name="Na dai", base_price_vnd=60000)
    agreement = services.draft(buyer, seller.organisation_id, details(product, 1000))
    services.send(buyer, agreement.id)
    services.accept(seller, agreement.id)
    services.sign(seller, agreement.id, factories.PASSWORD)
    services.sign(buyer, agreement.id, factories.PASSWORD)
    return agreement, seller, buyer, product


def details(product, quantity):
    return terms.TermsDetails.from_mapping({
        "lines": [{"product_id": product.id, "quantity": quantity, "period": "month", "price_basis": "tier"}],
        "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
        "delivery_place": "Kho Hà Nội"})


def login(client, user):
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": factories.PASSWORD}).status_code == 302
    client.post("/language", data={"lang": "en"})


def test_an_addendum_is_signed_the_same_way_and_its_terms_are_then_in_force(app, client, signed):
    agreement, seller, buyer, product = signed
    assert agreement.revision_in_force() is agreement.agreed_revision
    login(client, seller)
    html = client.get(f"/agreements/{agreement.id}").get_data(as_text=True)
    assert f'href="/agreements/{agreement.id}/addendum"' in html
    form = client.get(f"/agreements/{agreement.id}/addendum").get_data(as_text=True)
    assert 'name="lines-0-quantity" type="text" value="1000"' in form  # from the terms in force
    response = client.post(f"/agreements/{agreement.id}/addendum", data={
        "lines-0-product_id": str(product.id), "lines-0-quantity": "1500", "lines-0-period": "month",
        "lines-0-price_basis": "tier", "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=365)).isoformat(), "delivery_place": "Kho Hà Nội"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    addendum = agreement.addenda[0]
    assert response.status_code == 302 and response.headers["Location"] == f"/agreements/{addendum.id}"
    assert (addendum.kind, addendum.parent_id, addendum.reference) == (
        AgreementKind.ADDENDUM, agreement.id, f"{agreement.reference}-PL1")
    assert f'href="/agreements/{agreement.id}/addendum"' not in client.get(
        f"/agreements/{agreement.id}").get_data(as_text=True)  # one at a time
    with pytest.raises(services.InvalidTransition):
        services.draft_addendum(buyer, agreement.id, details(product, 900))
    services.send(seller, addendum.id)
    services.accept(buyer, addendum.id)
    content = services.content_of(addendum, addendum.agreed_revision)
    assert (content["kind"], content["parent_reference"]) == ("addendum", agreement.reference)
    assert "PHỤ LỤC" in pdf.render_agreement.__globals__["TITLES"]["addendum"][0].upper()
    services.sign(seller, addendum.id, factories.PASSWORD)
    services.sign(buyer, addendum.id, factories.PASSWORD)
    assert addendum.state == AgreementState.SIGNED
    assert agreement.addendum_in_force() is addendum
    assert agreement.revision_in_force().lines[0].quantity == 1500
    html = client.get(f"/agreements/{agreement.id}").get_data(as_text=True)
    assert f"The terms in force are those of the addendum {addendum.reference}" in html
    assert services.draft_addendum(buyer, agreement.id, details(product, 900)).reference.endswith("-PL2")


def test_only_a_signed_mou_gets_an_addendum_and_only_from_its_parties(app, client, signed):
    agreement, seller, buyer, product = signed
    addendum = services.draft_addendum(seller, agreement.id, details(product, 1200))
    with pytest.raises(services.InvalidTransition):
        services.draft_addendum(seller, addendum.id, details(product, 1300))  # not of an addendum
    fresh = services.draft(buyer, seller.organisation_id, details(product, 10))
    with pytest.raises(services.InvalidTransition):
        services.draft_addendum(buyer, fresh.id, details(product, 20))  # not signed
    stranger = factories.user(factories.organisation("enterprise"), email="khac@dn.example")
    with pytest.raises(NotFound):
        services.draft_addendum(stranger, agreement.id, details(product, 20))
    login(client, stranger)
    assert client.get(f"/agreements/{agreement.id}/addendum").status_code == 404
    assert client.post(f"/agreements/{agreement.id}/addendum", data={}).status_code == 404
