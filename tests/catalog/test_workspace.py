"""The cooperative's workspace pages, through the test client: the product list, creating and editing
products with tiers, photos and certificates, publication, deletion, and that one cooperative can
neither see nor change another's products (checklist rows 17, 21, 22, 35)."""
import io
import re
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage

from marketplace.catalog import services
from marketplace.catalog.models import (
    CatalogEvent,
    CertificateStatus,
    OcopCertificate,
    Product,
    ProductStatus,
)
from marketplace.extensions import db
from tests import factories
from tests.factories import PDF, jpeg, png, product_form

XSS_NAME = '"><img src=x onerror=alert(1)>'


def login(app, user):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302, f"cannot log in as {user.email}"
    return client


def in_english(client):
    client.post("/language", data={"lang": "en"})
    return client


def tag_with_id(html, element_id):
    match = re.search(rf'<(input|select|textarea|fieldset)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert match, f"no control with id {element_id}"
    return match.group(0)


def is_marked(html, field_id):
    """The field carries aria-invalid and points at its error message."""
    tag = tag_with_id(html, field_id)
    return 'aria-invalid="true"' in tag and f"{field_id}-error" in tag and f'id="{field_id}-error"' in html


def assert_unique_ids(html):
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def product_count():
    return db.session.scalar(db.select(db.func.count(Product.id)))


def reload(product_id):
    db.session.expire_all()
    return db.session.get(Product, product_id)


@pytest.fixture
def owner(app, cooperative_owner):
    return in_english(login(app, cooperative_owner))


# ---------------------------------------------------------------- the list

def test_a_new_cooperative_sees_an_empty_state_with_a_call_to_action(owner):
    page = owner.get("/workspace/products").get_data(as_text=True)
    assert "You have no products yet." in page
    assert page.count('href="/products/new"') == 2
    assert 'href="/workspace/import"' in page
    assert 'href="/workspace/export.csv"' in page and 'href="/workspace/export.xlsx"' in page
    assert 'href="/workspace/products">My products</a>' in page  # the header link


def test_the_list_shows_status_price_from_and_what_is_missing(app, owner, cooperative_owner):
    bare = factories.product(cooperative_owner.organisation, status="draft", name="Hồi khô", description="",
                             tiers=[(50, 90000)])
    starred = factories.product(cooperative_owner.organisation, status="published", name="Mật ong rừng", stars=4)
    factories.product(factories.organisation("cooperative"), name="Quế của HTX khác")
    page = owner.get("/workspace/products").get_data(as_text=True)
    assert "Hồi khô" in page and "Mật ong rừng" in page
    assert "Quế của HTX khác" not in page
    assert f'href="/products/{bare.id}/edit"' in page and f'href="/products/{starred.id}/edit"' in page
    assert 'product-status-draft">Draft<' in page and 'product-status-published">Published<' in page
    assert "from ₫90,000 / kg" in page
    assert "OCOP 4 stars" in page
    assert "Recommended:" in page and "a description" in page and "a photo" in page
    assert "a verified OCOP certificate" in page  # only the bare product lacks one
    assert "To publish:" not in page  # a verified cooperative


def test_a_pending_cooperative_is_told_what_blocks_publication(app, pending_cooperative_owner):
    client = in_english(login(app, pending_cooperative_owner))
    factories.product(pending_cooperative_owner.organisation, status="draft")
    page = client.get("/workspace/products").get_data(as_text=True)
    assert "To publish:" in page and "the alliance's verification of your cooperative" in page
    assert "Products are published once the cooperative alliance has verified your cooperative." in page


def test_status_tabs_filter_and_pages_split_long_lists(app, owner, cooperative_owner):
    cooperative = cooperative_owner.organisation
    for number in range(21):
        factories.product(cooperative, status="draft", name=f"Bản nháp {number:02d}")
    factories.product(cooperative, status="hidden", name="Sản phẩm đã ẩn")
    hidden = owner.get("/workspace/products?status=hidden").get_data(as_text=True)
    assert "Sản phẩm đã ẩn" in hidden and "Bản nháp" not in hidden
    assert 'href="/workspace/products?status=hidden" aria-current="page"' in hidden
    first = owner.get("/workspace/products?status=draft").get_data(as_text=True)
    second = owner.get("/workspace/products?status=draft&page=2").get_data(as_text=True)
    assert first.count('class="product-row"') == 20 and second.count('class="product-row"') == 1
    assert 'href="/workspace/products?page=2&amp;status=draft"' in first
    assert "No product has this status." in owner.get("/workspace/products?status=published").get_data(as_text=True)
    for page_number in ("99999999999999999999999", "-5", "abc"):  # never a database error
        assert owner.get(f"/workspace/products?page={page_number}").status_code == 200
    # An unknown status is the "all" tab, not an error.
    assert owner.get("/workspace/products?status=evil'--").get_data(as_text=True).count('class="product-row"') == 20


@pytest.mark.parametrize("role", ["enterprise", "alliance"])
def test_only_cooperatives_have_a_product_workspace(app, enterprise_owner, alliance_user, role):
    client = login(app, enterprise_owner if role == "enterprise" else alliance_user)
    assert client.get("/workspace/products").status_code == 403
    assert client.get("/products/new").status_code == 403
    assert client.post("/products/new", data=product_form()).status_code == 403
    assert product_count() == 0
    assert 'href="/workspace/products"' not in client.get("/account").get_data(as_text=True)


# ---------------------------------------------------------------- creating

def test_the_new_product_form_is_accessible_and_offers_ten_tier_rows(owner):
    page = owner.get("/products/new").get_data(as_text=True)
    for row in range(10):
        assert f'<label class="form-label small mb-0" for="tiers-{row}-min_qty">' in page
        assert f'id="tiers-{row}-unit_price_vnd" name="tiers-{row}-unit_price_vnd"' in page
    assert 'id="tiers-10-min_qty"' not in page
    for field_id in ("base_price_vnd", "min_order_qty", "order_increment", "capacity_qty", "lead_time_days"):
        assert 'inputmode="numeric"' in tag_with_id(page, field_id)
    assert re.search(r'<fieldset id="harvest_months"[^>]*>\s*<legend', page)
    assert re.search(r'<fieldset id="certifications"[^>]*>\s*<legend', page)
    assert 'id="harvest_months-12"' in page and 'for="certifications-vietgap"' in page
    assert 'data-communes-url="/api/v1/geo/provinces"' in page and 'name="refresh_communes"' in page
    assert '<script src="/static/js/communes.js" defer></script>' in page
    assert_unique_ids(page)


def test_a_form_with_errors_marks_each_field_and_writes_nothing(owner):
    data = product_form(name="  ", base_price_vnd="sáu mươi nghìn", unit="", category="weapons",
                        **{"tiers-0-min_qty": "50", "tiers-0-unit_price_vnd": "55.000"})
    response = owner.post("/products/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field_id in ("name", "base_price_vnd", "unit", "category"):
        assert is_marked(page, field_id), field_id
    assert 'id="tiers-error"' in page  # the first tier is not above the minimum order
    assert 'role="alert"' in page and 'href="#base_price_vnd"' in page and 'href="#tiers"' in page
    assert "Enter a whole number." in page and "This field is required." in page
    # What was typed is kept, so nothing has to be typed again.
    assert 'value="sáu mươi nghìn"' in page and 'value="55.000"' in page
    assert product_count() == 0


def test_a_new_draft_keeps_vnd_written_with_dots_and_ignores_empty_tier_rows(app, owner, cooperative_owner):
    data = product_form(**{"tiers-3-min_qty": "500", "tiers-3-unit_price_vnd": "55.000",
                           "tiers-7-min_qty": "2000", "tiers-7-unit_price_vnd": "50000"})
    response = owner.post("/products/new", data=data)
    assert response.status_code == 302
    product = db.session.scalar(db.select(Product))
    assert response.headers["Location"] == f"/products/{product.id}/edit"
    assert product.cooperative_id == cooperative_owner.organisation_id
    assert product.status == ProductStatus.DRAFT
    assert (product.base_price_vnd, product.capacity_qty, product.min_order_qty) == (60000, 20000, 100)
    assert [(t.min_qty, t.unit_price_vnd) for t in product.tiers] == [(500, 55000), (2000, 50000)]
    assert product.harvest_months == [7, 8, 9] and [c.value for c in product.certifications] == ["vietgap"]
    assert (product.province_code, product.commune_code, product.name_en) == (20, 6463, "Chi Lang custard apple")


def test_privileged_fields_in_the_form_are_ignored(app, owner, cooperative_owner):
    other = factories.organisation("cooperative")
    response = owner.post("/products/new", data=product_form(status="published", cooperative_id=str(other.id),
                                                             published_at="2020-01-01", slug="x"))
    assert response.status_code == 302
    product = db.session.scalar(db.select(Product))
    assert product.status == ProductStatus.DRAFT and product.published_at is None
    assert product.cooperative_id == cooperative_owner.organisation_id and product.slug == "na-dai-chi-lang"


def test_without_javascript_the_communes_of_a_province_are_shown_without_saving(owner):
    data = product_form(province_code="20", commune_code="", refresh_communes="1", name="")
    response = owner.post("/products/new", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<option value="6463">' in page  # a commune of Lạng Sơn
    assert 'aria-invalid="true"' not in page  # a refresh is not a failed submission
    assert product_count() == 0


# ---------------------------------------------------------------- from empty to a published 4-star product

def test_from_an_empty_workspace_to_a_published_four_star_product(app, owner, cooperative_owner, alliance_user):
    assert owner.post("/products/new", data=product_form(base_price_vnd="65.000")).status_code == 302
    product = db.session.scalar(db.select(Product))
    edit_url = f"/products/{product.id}/edit"
    page = owner.get(edit_url).get_data(as_text=True)
    assert 'value="Na dai Chi Lăng"' in page and 'value="65000"' in page
    assert 'id="harvest_months-8" value="8" checked' in page

    # Tiers and a new price on the edit form.
    data = product_form(**{"tiers-0-min_qty": "500", "tiers-0-unit_price_vnd": "55.000",
                           "tiers-1-min_qty": "2.000", "tiers-1-unit_price_vnd": "50.000"})
    response = owner.post(edit_url, data=data)
    assert response.status_code == 302 and response.headers["Location"] == edit_url
    product = reload(product.id)
    assert product.base_price_vnd == 60000
    assert [(t.min_qty, t.unit_price_vnd) for t in product.tiers] == [(500, 55000), (2000, 50000)]
    page = owner.get(edit_url).get_data(as_text=True)
    assert 'name="tiers-1-min_qty" value="2000"' in page and 'name="tiers-2-min_qty" value=""' in page

    # Two photos at once; the first is the cover, the other can become it.
    response = owner.post(f"/products/{product.id}/photos", content_type="multipart/form-data",
                          data={"photos": [(io.BytesIO(jpeg()), "na-1.jpg"), (io.BytesIO(png()), "na-2.png")]})
    assert response.status_code == 302 and response.headers["Location"] == f"{edit_url}#photos-section"
    first, second = reload(product.id).images
    page = owner.get(edit_url).get_data(as_text=True)
    assert f'src="/media/products/{first.stored_name}/thumb.webp"' in page
    assert f'action="/products/{product.id}/photos/{second.id}/cover"' in page
    assert f'action="/products/{product.id}/photos/{first.id}/cover"' not in page  # already the cover
    assert owner.post(f"/products/{product.id}/photos/{second.id}/cover").status_code == 302
    assert [i.id for i in reload(product.id).images] == [second.id, first.id]
    assert owner.post(f"/products/{product.id}/photos/{first.id}/delete").status_code == 302
    assert [i.id for i in reload(product.id).images] == [second.id]

    # A 4-star certificate with its scan; pending until the alliance verifies it.
    form = owner.get(f"/products/{product.id}/certificates/new")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.get_data(as_text=True)
    decision = services.today() - timedelta(days=60)
    response = owner.post(f"/products/{product.id}/certificates/new", content_type="multipart/form-data", data={
        "stars": "4", "certificate_no": "Demo-2026-04", "issuing_level": "province",
        "decision_date": decision.isoformat(), "expires_on": "", "scan": (io.BytesIO(PDF), "giay.pdf")})
    assert response.status_code == 302 and response.headers["Location"] == f"{edit_url}#certificates-section"
    certificate = db.session.scalar(db.select(OcopCertificate))
    assert certificate.status == CertificateStatus.PENDING and certificate.stars == 4
    assert certificate.expires_on == services.add_months(decision, 36)
    page = owner.get(edit_url).get_data(as_text=True)
    assert "Waiting for the alliance" in page and f'href="/certificates/{certificate.id}/scan"' in page
    assert "OCOP 4 stars" not in page

    # Publish, then the alliance verifies: the stars count from then on.
    response = owner.post(f"/products/{product.id}/publish")
    assert response.status_code == 302 and reload(product.id).status == ProductStatus.PUBLISHED
    assert "The product is published" in owner.get(edit_url).get_data(as_text=True)
    services.verify_certificate(alliance_user, certificate.id, "Đối chiếu quyết định.")
    page = owner.get(edit_url).get_data(as_text=True)
    assert "OCOP 4 stars" in page and f'href="/products/{product.id}/na-dai-chi-lang"' in page
    assert_unique_ids(page)
    assert reload(product.id).ocop_stars(services.today()) == 4
    history = re.search(r'id="history-section".*', page, re.S).group(0)
    for kind in ("Product created", "Product updated", "OCOP certificate added", "Published",
                 "OCOP certificate verified"):
        assert kind in history, kind


def test_editing_with_errors_changes_nothing_and_marks_the_fields(app, owner, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, status="draft", base_price_vnd=70000)
    response = owner.post(f"/products/{product.id}/edit", data=product_form(
        base_price_vnd="50.000", min_order_qty="15", order_increment="10",
        **{"tiers-0-min_qty": "100", "tiers-0-unit_price_vnd": "60.000"}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert is_marked(page, "order_increment") and 'id="tiers-error"' in page
    assert reload(product.id).base_price_vnd == 70000


def test_a_refused_photo_keeps_the_details_form_as_saved(app, owner, cooperative_owner):
    """The page answering a bad upload shows the product's saved details, not the upload's empty fields."""
    product = factories.product(cooperative_owner.organisation, status="draft", tiers=[(50, 90000)],
                                harvest_month_mask=0b110000000)
    details = services.ProductDetails.of(product)
    details.certifications = ["organic"]
    services.update_product(cooperative_owner, product.id, details)
    response = owner.post(f"/products/{product.id}/photos", content_type="multipart/form-data",
                          data={"photos": (io.BytesIO(b"<html>"), "x.png")})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert is_marked(page, "photos")
    assert 'name="tiers-0-min_qty" value="50"' in page and 'name="tiers-0-unit_price_vnd" value="90000"' in page
    assert 'id="harvest_months-8" value="8" checked' in page and 'id="harvest_months-9" value="9" checked' in page
    assert 'id="certifications-organic" value="organic" checked' in page
    assert 'id="name"' in page and f'value="{product.name}"' in page


def test_hiding_a_draft_changes_nothing_and_says_nothing(app, owner, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, status="draft")
    response = owner.post(f"/products/{product.id}/hide")
    assert response.status_code == 302
    assert reload(product.id).status == ProductStatus.DRAFT
    assert "The product is hidden" not in owner.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("overrides, field_id", [
    ({"stars": "5", "issuing_level": "province"}, "issuing_level"),
    ({"stars": "4", "issuing_level": "central"}, "issuing_level"),
    ({"stars": "2"}, "stars"),
    ({"certificate_no": ""}, "certificate_no"),
    ({"decision_date": ""}, "decision_date"),
    ({"decision_date": "2020-01-01", "expires_on": "2019-01-01"}, "expires_on"),
])
def test_a_certificate_with_errors_is_not_recorded(app, owner, cooperative_owner, overrides, field_id):
    product = factories.product(cooperative_owner.organisation, status="draft")
    data = {"stars": "4", "certificate_no": "Demo-1", "issuing_level": "province",
            "decision_date": services.today().isoformat(), "expires_on": ""}
    data.update(overrides)
    response = owner.post(f"/products/{product.id}/certificates/new", data=data)
    assert response.status_code == 422
    assert is_marked(response.get_data(as_text=True), field_id)
    assert db.session.scalar(db.select(db.func.count(OcopCertificate.id))) == 0


def test_a_four_star_certificate_issued_centrally_is_explained_at_the_issuing_level(app, owner, cooperative_owner,
                                                                                  english):
    """Issue 13: a 4-star certificate "issued by Trung ương" was accepted, against the field's own hint."""
    product = factories.product(cooperative_owner.organisation, status="draft")
    data = {"stars": "4", "certificate_no": "Demo-1", "issuing_level": "central",
            "decision_date": services.today().isoformat(), "expires_on": ""}
    page = owner.post(f"/products/{product.id}/certificates/new", data=data).get_data(as_text=True)
    assert is_marked(page, "issuing_level")
    assert "Three- and four-star OCOP ratings are issued by the province." in page
    assert db.session.scalar(db.select(db.func.count(OcopCertificate.id))) == 0


def test_only_pending_certificates_can_be_withdrawn(app, owner, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, status="draft", stars=4)
    verified = product.certificates[0]
    pending = services.add_certificate(cooperative_owner, product.id, services.CertificateDetails(
        stars=3, certificate_no="Demo-3", decision_date=services.today()))
    page = owner.get(f"/products/{product.id}/edit").get_data(as_text=True)
    assert f'action="/certificates/{pending.id}/withdraw"' in page
    assert f'action="/certificates/{verified.id}/withdraw"' not in page
    response = owner.post(f"/certificates/{verified.id}/withdraw")
    assert response.status_code == 302
    assert "Only certificates waiting for the alliance can be withdrawn." in owner.get(
        response.headers["Location"]).get_data(as_text=True)
    assert owner.post(f"/certificates/{pending.id}/withdraw").status_code == 302
    db.session.expire_all()
    assert [c.id for c in db.session.scalars(db.select(OcopCertificate))] == [verified.id]


# ---------------------------------------------------------------- publication, hiding, deletion

def test_a_pending_cooperative_cannot_publish_and_is_told_why(app, pending_cooperative_owner):
    client = in_english(login(app, pending_cooperative_owner))
    product = factories.product(pending_cooperative_owner.organisation, status="draft")
    response = client.post(f"/products/{product.id}/publish")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The product is not published: Your organisation is waiting for verification by the cooperative " \
           "alliance." in page
    assert 'class="alert alert-danger"' in page
    assert reload(product.id).status == ProductStatus.DRAFT


def test_a_published_product_can_be_hidden_and_published_again(app, owner, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, status="published")
    page = owner.get(f"/products/{product.id}/edit").get_data(as_text=True)
    assert f'action="/products/{product.id}/hide"' in page and f'action="/products/{product.id}/publish"' not in page
    assert owner.post(f"/products/{product.id}/hide").status_code == 302
    assert reload(product.id).status == ProductStatus.HIDDEN
    page = owner.get(f"/products/{product.id}/edit").get_data(as_text=True)
    assert "The product is hidden" in page and f'action="/products/{product.id}/publish"' in page
    assert owner.post(f"/products/{product.id}/publish").status_code == 302
    assert reload(product.id).status == ProductStatus.PUBLISHED


def test_deleting_asks_for_confirmation_first(app, owner, cooperative_owner):
    product = factories.product(cooperative_owner.organisation, status="draft", name="Thạch đen")
    edit = owner.get(f"/products/{product.id}/edit").get_data(as_text=True)
    assert f'href="/products/{product.id}/delete"' in edit
    confirm = owner.get(f"/products/{product.id}/delete")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "Delete Thạch đen?" in page and f'action="/products/{product.id}/delete"' in page
    assert reload(product.id) is not None  # looking at the confirmation deletes nothing
    response = owner.post(f"/products/{product.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/workspace/products"
    assert reload(product.id) is None
    assert "The product is deleted." in owner.get("/workspace/products").get_data(as_text=True)


# ---------------------------------------------------------------- another cooperative's products (row 17)

@pytest.fixture
def victim_product(app):
    """A product of another cooperative, with tiers, two photos and a pending certificate with a scan."""
    victim = factories.user(factories.organisation("cooperative"), email="victim@htx.example")
    product = factories.product(victim.organisation, status="published", base_price_vnd=80000,
                                tiers=[(100, 75000)])
    services.add_photos(victim, product.id, [FileStorage(io.BytesIO(jpeg()), filename="a.jpg"),
                                             FileStorage(io.BytesIO(jpeg()), filename="b.jpg")])
    certificate = services.add_certificate(victim, product.id, services.CertificateDetails(
        stars=4, certificate_no="Victim-1", decision_date=services.today()),
        scan=FileStorage(io.BytesIO(PDF), filename="scan.pdf"))
    return reload(product.id), certificate


def state_of(product_id):
    product = reload(product_id)
    return {
        "product": (product.name, product.base_price_vnd, product.status, product.updated_at),
        "tiers": [(t.min_qty, t.unit_price_vnd) for t in product.tiers],
        "images": [(i.id, i.position, i.stored_name) for i in product.images],
        "certificates": [(c.id, c.status) for c in product.certificates],
        "events": db.session.scalar(db.select(db.func.count(CatalogEvent.id)).filter_by(product_id=product_id)),
    }


def test_another_cooperatives_product_answers_404_everywhere_and_stays_unchanged(app, owner, cooperative_owner,
                                                                                 victim_product):
    product, certificate = victim_product
    first, second = (image.id for image in product.images)
    before = state_of(product.id)
    own = factories.product(cooperative_owner.organisation, status="draft")
    requests = [
        ("GET", f"/products/{product.id}/edit", None),
        ("POST", f"/products/{product.id}/edit", product_form(base_price_vnd="1", name="Hijacked")),
        ("POST", f"/products/{product.id}/edit", product_form(refresh_communes="1")),
        ("POST", f"/products/{product.id}/publish", None),
        ("POST", f"/products/{product.id}/hide", None),
        ("GET", f"/products/{product.id}/delete", None),
        ("POST", f"/products/{product.id}/delete", None),
        ("POST", f"/products/{product.id}/photos", {"photos": (io.BytesIO(jpeg()), "x.jpg")}),
        ("POST", f"/products/{product.id}/photos/{second}/cover", None),
        ("POST", f"/products/{product.id}/photos/{first}/delete", None),
        ("POST", f"/products/{own.id}/photos/{second}/cover", None),  # own product, foreign photo
        ("POST", f"/products/{own.id}/photos/{first}/delete", None),
        ("GET", f"/products/{product.id}/certificates/new", None),
        ("POST", f"/products/{product.id}/certificates/new", {"stars": "5", "certificate_no": "X",
                                                              "issuing_level": "central",
                                                              "decision_date": "2026-01-01"}),
        ("POST", f"/certificates/{certificate.id}/withdraw", None),
        ("GET", f"/certificates/{certificate.id}/scan", None),
        ("GET", "/products/2147483648/edit", None),  # beyond PostgreSQL's integer: never reaches the database
    ]
    for method, url, data in requests:
        response = owner.open(url, method=method, data=data,
                              content_type="multipart/form-data" if data and "photos" in data else None)
        response.close()
        assert response.status_code == 404, (method, url, response.status_code)
    assert state_of(product.id) == before
    assert reload(own.id).images == []
    page = owner.get("/workspace/products").get_data(as_text=True)
    assert product.name not in page


# ---------------------------------------------------------------- output encoding (rows 21, 22)

def test_names_and_descriptions_are_shown_as_text(app, owner, cooperative_owner):
    response = owner.post("/products/new", data=product_form(name=XSS_NAME, description="{{7*7}} {% raw %}"))
    assert response.status_code == 302
    product = db.session.scalar(db.select(Product))
    services.add_photos(cooperative_owner, product.id, [FileStorage(io.BytesIO(jpeg()), filename="a.jpg")])
    for url in ("/workspace/products", f"/products/{product.id}/edit", f"/products/{product.id}/delete",
                f"/products/{product.id}/certificates/new"):
        page = owner.get(url).get_data(as_text=True)
        assert "<img src=x onerror" not in page, url
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page, url
    edit = owner.get(f"/products/{product.id}/edit").get_data(as_text=True)
    description = re.search(r'<textarea[^>]*id="description"[^>]*>(.*?)</textarea>', edit, re.S).group(1)
    assert description.strip() == "{{7*7}} {% raw %}"
    assert reload(product.id).description == "{{7*7}} {% raw %}"
