"""The alliance's conferences (issue 9): staff record one ("Hội nghị gặp mặt, kết nối tiêu thụ sản phẩm HTX 2024",
date, place) and prepare its MoUs in a batch, one per cooperative–enterprise pair, from the form or a CSV file:
each a draft of the cooperative with the alliance as witness, attributed to the conference; all or nothing."""
import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from marketplace.accounts.models import OrganisationEvent, OrganisationEventKind
from marketplace.agreements import services
from marketplace.agreements.models import Agreement, AgreementEvent, AgreementEventKind, AgreementState
from marketplace.errors import Forbidden
from marketplace.extensions import db
from tests import factories

START = date.today() + timedelta(days=30)


@pytest.fixture
def world(app):
    staff = factories.alliance_user()
    cooperatives = [factories.user(factories.organisation("cooperative", legal_name=name), email=email)
                    for name, email in (("HTX Na Đồng Bành", "na@htx.example"), ("HTX Hồi Văn Quan", "hoi@htx.example"))]
    buyer = factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                           email="mua@dn.example")
    products = [factories.product(cooperatives[0].organisation, name="Na dai", base_price_vnd=60000),
                factories.product(cooperatives[0].organisation, name="Na bở", base_price_vnd=50000),
                factories.product(cooperatives[1].organisation, name="Hồi khô", base_price_vnd=120000)]
    return staff, cooperatives, buyer, products


def login(client, user):
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": factories.PASSWORD}).status_code == 302
    client.post("/language", data={"lang": "en"})


def test_staff_record_a_conference_and_prepare_its_mous_from_the_form(app, client, world):
    staff, cooperatives, buyer, products = world
    login(client, staff)
    response = client.post("/conferences", data={"name": "Hội nghị gặp mặt, kết nối tiêu thụ sản phẩm HTX 2024",
                                                 "held_on": "2024-11-20", "place": "TP Lạng Sơn"})
    event = services.list_conferences(staff)[0]
    assert response.status_code == 302 and response.headers["Location"] == f"/conferences/{event.id}"
    assert db.session.scalar(sa.select(OrganisationEvent.kind)) == OrganisationEventKind.CONFERENCE_CREATED
    rows = {"rows-0-seller_id": cooperatives[0].organisation_id, "rows-0-buyer_id": buyer.organisation_id,
            "rows-0-product_id": products[0].id, "rows-0-quantity": "1000", "rows-0-period": "month",
            "rows-1-seller_id": cooperatives[0].organisation_id, "rows-1-buyer_id": buyer.organisation_id,
            "rows-1-product_id": products[1].id, "rows-1-quantity": "200", "rows-1-period": "season",
            "rows-2-seller_id": cooperatives[1].organisation_id, "rows-2-buyer_id": buyer.organisation_id,
            "rows-2-product_id": products[2].id, "rows-2-quantity": "50", "rows-2-period": "year",
            "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
            "delivery_place": "Kho Hà Nội"}
    assert client.post(f"/conferences/{event.id}", data=rows).status_code == 302
    prepared = db.session.scalars(sa.select(Agreement).order_by(Agreement.id)).all()
    assert [(a.seller_id, len(a.latest_revision.lines)) for a in prepared] == [
        (cooperatives[0].organisation_id, 2), (cooperatives[1].organisation_id, 1)]
    for agreement in prepared:
        assert (agreement.state, agreement.initiator_id, agreement.event_id, agreement.witness_id) == (
            AgreementState.DRAFT, agreement.seller_id, event.id, staff.organisation_id)
    created = db.session.scalars(sa.select(AgreementEvent).filter_by(kind=AgreementEventKind.CREATED)).all()
    assert {(e.user_id, e.organisation_id, e.note) for e in created} == {(staff.id, staff.organisation_id, event.name)}
    page = client.get(f"/conferences/{event.id}").get_data(as_text=True)
    assert prepared[0].reference in page and "2 MoUs" in page
    # The cooperative sees its draft and sends it; the enterprise sees it only then.
    assert services.list_agreements(buyer).total == 0
    services.send(cooperatives[0], prepared[0].id)
    assert [a.id for a in services.list_agreements(buyer, event_id=event.id).items] == [prepared[0].id]


def test_a_batch_with_a_bad_row_prepares_nothing_and_says_where(app, client, world):
    staff, cooperatives, buyer, products = world
    event = services.create_conference(staff, "Hội nghị 2024", "2024-11-20")
    pending = factories.organisation("enterprise", status="pending")
    login(client, staff)
    response = client.post(f"/conferences/{event.id}", data={
        "rows-0-seller_id": cooperatives[0].organisation_id, "rows-0-buyer_id": buyer.organisation_id,
        "rows-0-product_id": products[0].id, "rows-0-quantity": "100",
        "rows-1-seller_id": cooperatives[1].organisation_id, "rows-1-buyer_id": pending.id,
        "rows-1-product_id": products[0].id, "rows-1-quantity": "0",
        "start_date": START.isoformat(), "end_date": (START + timedelta(days=365)).isoformat(),
        "delivery_place": "Kho"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Row 2: Choose a verified enterprise." in html
    assert db.session.scalar(sa.select(sa.func.count(Agreement.id))) == 0


def csv_upload(client, event, text):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(text.encode("utf-8-sig")), filename="hn.csv")})
    return client.post(f"/conferences/{event.id}/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_a_csv_file_prepares_one_mou_per_pair(app, client, world):
    staff, cooperatives, buyer, products = world
    event = services.create_conference(staff, "Hội nghị 2024", "2024-11-20", "TP Lạng Sơn")
    login(client, staff)
    end = (START + timedelta(days=365)).isoformat()
    head = "cooperative_tax_code;enterprise_tax_code;product;quantity;period;price_basis;unit_price_vnd;start_date;end_date;delivery_place\n"
    good = head + (
        f"{cooperatives[0].organisation.tax_code};{buyer.organisation.tax_code};Na dai;1000;month;tier;;{START};{end};Kho Hà Nội\n"
        f"{cooperatives[0].organisation.tax_code};{buyer.organisation.tax_code};{products[1].id};200;season;fixed;48000;{START};{end};Kho Hà Nội\n"
        f"{cooperatives[1].organisation.tax_code};{buyer.organisation.tax_code};Hồi khô;50;year;;;{START};{end};Kho Hà Nội\n")
    bad = good + f"{cooperatives[1].organisation.tax_code};0000000000;Quế;5;month;;;{START};{end};Kho\n"
    response = csv_upload(client, event, bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Line 5: Choose a verified enterprise." in html
    assert db.session.scalar(sa.select(sa.func.count(Agreement.id))) == 0
    assert "Missing columns" in csv_upload(client, event, "name;quantity\nx;1\n").get_data(as_text=True)
    assert csv_upload(client, event, good).status_code == 302
    prepared = db.session.scalars(sa.select(Agreement).order_by(Agreement.id)).all()
    assert [[line.unit_price_vnd for line in a.latest_revision.lines] for a in prepared] == [[60000, 48000], [120000]]
    assert {a.event_id for a in prepared} == {event.id}


def test_only_alliance_staff_prepare(app, client, world):
    staff, cooperatives, buyer, _products = world
    with pytest.raises(Forbidden):
        services.create_conference(cooperatives[0], "Hội nghị", "2024-11-20")
    event = services.create_conference(staff, "Hội nghị", "2024-11-20")
    login(client, buyer)
    assert client.get("/conferences").status_code == 403
    assert client.get(f"/conferences/{event.id}").status_code == 403
    assert client.post(f"/conferences/{event.id}", data={}).status_code == 403
