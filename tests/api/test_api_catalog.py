"""The catalogue's JSON API (issue 3): public reads without a token, a cooperative's own products with one."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from marketplace.catalog import services as catalog
from marketplace.catalog.models import (
    CatalogEvent,
    CertificateStatus,
    Certification,
    OcopCertificate,
    Product,
    ProductCertification,
    ProductImage,
    ProductStatus,
)
from marketplace.extensions import db
from tests import factories
from tests.factories import valid_body
from tests.support import assert_json_error, bearer, token_for

PRODUCT_FIELDS = {
    "id", "name", "name_en", "slug", "url", "category", "unit", "description", "origin", "base_price_vnd",
    "price_from_vnd", "min_order_qty", "order_increment", "price_tiers", "capacity", "harvest_months",
    "lead_time_days", "certifications", "ocop", "images", "cooperative", "published_at",
}


@pytest.fixture
def cooperative(cooperative_owner):
    return cooperative_owner.organisation


@pytest.fixture
def owner_headers(cooperative_owner):
    return bearer(token_for(cooperative_owner))


@pytest.fixture
def rival():
    """Another verified cooperative with a published and a draft product."""
    owner = factories.user(factories.organisation("cooperative", status="verified"), email="rival@htx.example")
    published = factories.product(owner.organisation, name="Hồi Văn Quan", base_price_vnd=150000)
    draft = factories.product(owner.organisation, status="draft", name="Quế Văn Yên")
    return {"owner": owner, "published": published, "draft": draft}


def snapshot(product_id):
    db.session.expire_all()
    product = db.session.get(Product, product_id)
    if product is None:
        return None
    return (product.name, product.status, product.base_price_vnd, product.published_at,
            [(t.min_qty, t.unit_price_vnd) for t in product.tiers], product.cooperative_id)


def ids(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [p["id"] for p in response.get_json()["results"]]


# ---------------------------------------------------------------- public list

def test_the_catalogue_lists_only_public_products(client, cooperative, pending_cooperative_owner):
    shown = factories.product(cooperative)
    factories.product(cooperative, status="draft")
    factories.product(cooperative, status="hidden")
    factories.product(pending_cooperative_owner.organisation)  # published, but its cooperative is not verified
    suspended = factories.organisation("cooperative", status="suspended")
    factories.product(suspended)
    response = client.get("/api/v1/products")
    assert ids(response) == [shown.id]
    body = response.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 24)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_product_in_json(client, cooperative):
    product = factories.product(
        cooperative, name="Mật ong rừng Bắc Sơn", name_en="Bac Son forest honey", slug="mat-ong-rung-bac-son",
        base_price_vnd=300000, min_order_qty=20, order_increment=10, tiers=[(100, 280000), (500, 250000)],
        capacity_qty=2000, capacity_period="year", harvest_month_mask=Product.month_mask([4, 5]),
        lead_time_days=5, stars=4, certification_rows=[ProductCertification(code=Certification.ORGANIC)],
    )
    db.session.add(ProductImage(product=product, stored_name="a" * 32, width=1200, height=900, alt_text="Mật ong"))
    db.session.commit()
    body = client.get(f"/api/v1/products/{product.id}").get_json()
    assert set(body) == PRODUCT_FIELDS
    assert body["id"] == product.id
    assert (body["name"], body["name_en"], body["slug"]) == ("Mật ong rừng Bắc Sơn", "Bac Son forest honey",
                                                             "mat-ong-rung-bac-son")
    assert body["url"] == f"http://localhost/products/{product.id}/mat-ong-rung-bac-son"
    assert body["category"]["code"] == "fresh_produce" and body["category"]["label"]
    assert body["unit"]["code"] == "kg" and body["unit"]["label"]
    assert body["origin"] == {"province": {"code": 20, "name": "Lạng Sơn"},
                              "commune": {"code": 6040, "name": body["origin"]["commune"]["name"]}}
    assert body["origin"]["commune"]["name"]
    assert (body["base_price_vnd"], body["price_from_vnd"]) == (300000, 250000)
    assert (body["min_order_qty"], body["order_increment"]) == (20, 10)
    assert body["price_tiers"] == [{"min_qty": 100, "unit_price_vnd": 280000},
                                   {"min_qty": 500, "unit_price_vnd": 250000}]
    assert body["capacity"] == {"quantity": 2000, "period": "year"}
    assert body["harvest_months"] == [4, 5]
    assert body["lead_time_days"] == 5
    assert body["certifications"] == ["organic"]
    certificate = product.certificates[0]
    assert body["ocop"] == {"stars": 4, "certificate_no": certificate.certificate_no, "issuing_level": "province",
                            "decision_date": certificate.decision_date.isoformat(),
                            "expires_on": certificate.expires_on.isoformat()}
    assert body["images"] == [{"url": f"http://localhost/media/products/{'a' * 32}.webp",
                               "thumbnail_url": f"http://localhost/media/products/{'a' * 32}/thumb.webp",
                               "width": 1200, "height": 900, "alt": "Mật ong"}]
    assert body["cooperative"] == {"id": cooperative.id, "name": cooperative.legal_name,
                                   "cooperative_type": "hop_tac_xa", "province": {"code": 20, "name": "Lạng Sơn"}}
    assert body["published_at"] == product.published_at.isoformat()
    # The list gives each product in the same shape.
    assert client.get("/api/v1/products").get_json()["results"] == [body]


def test_a_product_without_optional_data(client, cooperative):
    product = factories.product(cooperative, province_code=None, commune_code=None, description="")
    body = client.get(f"/api/v1/products/{product.id}").get_json()
    assert body["origin"] == {"province": None, "commune": None}
    assert (body["capacity"], body["ocop"], body["lead_time_days"]) == (None, None, None)
    assert (body["images"], body["price_tiers"], body["certifications"], body["harvest_months"]) == ([], [], [], [])
    assert body["price_from_vnd"] == body["base_price_vnd"]


def test_labels_are_vietnamese_by_default_and_english_on_request(client, cooperative):
    product = factories.product(cooperative, category="spices_herbs", unit="tan")
    with client.application.test_request_context():
        from flask_babel import force_locale

        from marketplace.accounts.models import LABELS
        from marketplace.catalog.models import Category, Unit
        with force_locale("vi"):
            vietnamese = str(LABELS[Category.SPICES_HERBS]), str(LABELS[Unit.TAN])
    default = client.get(f"/api/v1/products/{product.id}").get_json()
    assert (default["category"]["label"], default["unit"]["label"]) == vietnamese
    english = client.get(f"/api/v1/products/{product.id}?lang=en").get_json()
    assert (english["category"]["label"], english["unit"]["label"]) == ("Spices and herbs", "tonne")
    listed = client.get("/api/v1/products?lang=en").get_json()["results"][0]
    assert listed["category"]["label"] == "Spices and herbs"
    # A browser session that chose English does not change what the API answers.
    client.post("/language", data={"lang": "en"})
    assert client.get(f"/api/v1/products/{product.id}").get_json()["category"]["label"] == vietnamese[0]


def test_filters(client, cooperative):
    group = factories.organisation("cooperative", status="verified", cooperative_type="to_hop_tac")
    anise = factories.product(cooperative, category="spices_herbs", stars=4,
                              certification_rows=[ProductCertification(code=Certification.ORGANIC)])
    tea = factories.product(cooperative, category="beverages", province_code=19, commune_code=None, stars=3)
    honey = factories.product(group, category="processed_food", stars=5, certificate_status="pending")
    expired = factories.product(group, category="processed_food", stars=4,
                                expires_on=date.today() - timedelta(days=1))
    assert ids(client.get("/api/v1/products?category=spices_herbs")) == [anise.id]
    assert ids(client.get("/api/v1/products?province=19")) == [tea.id]
    assert ids(client.get("/api/v1/products?stars=4")) == [anise.id]  # the expired 4★ does not count
    assert ids(client.get("/api/v1/products?stars=5")) == []  # a pending certificate is no badge
    assert ids(client.get("/api/v1/products?certification=organic")) == [anise.id]
    assert set(ids(client.get("/api/v1/products?cooperative_type=to_hop_tac"))) == {honey.id, expired.id}
    assert set(ids(client.get(f"/api/v1/products?cooperative={cooperative.id}"))) == {anise.id, tea.id}
    assert ids(client.get("/api/v1/products?category=spices_herbs&province=19")) == []


def test_sorting(client, cooperative):
    cheap = factories.product(cooperative, name="B", base_price_vnd=50000)
    dear = factories.product(cooperative, name="A", base_price_vnd=90000, tiers=[(100, 40000)])
    middle = factories.product(cooperative, name="C", base_price_vnd=60000)
    assert ids(client.get("/api/v1/products?sort=price_asc")) == [dear.id, cheap.id, middle.id]
    assert ids(client.get("/api/v1/products?sort=price_desc")) == [middle.id, cheap.id, dear.id]
    assert ids(client.get("/api/v1/products?sort=name")) == [dear.id, cheap.id, middle.id]


def test_pagination(client, cooperative):
    for _ in range(5):
        factories.product(cooperative)
    first = client.get("/api/v1/products?per_page=2").get_json()
    third = client.get("/api/v1/products?per_page=2&page=3").get_json()
    assert (first["total"], first["page"], first["per_page"], len(first["results"])) == (5, 1, 2, 2)
    assert (third["page"], len(third["results"])) == (3, 1)
    beyond = client.get("/api/v1/products?per_page=2&page=99")
    assert beyond.status_code == 200
    assert beyond.get_json() == {"results": [], "total": 5, "page": 99, "per_page": 2}
    everything = client.get("/api/v1/products?per_page=100").get_json()
    assert (everything["per_page"], len(everything["results"])) == (100, 5)
    error = assert_json_error(client.get("/api/v1/products?per_page=101"), 400, "invalid_parameter")
    assert set(error["details"]["fields"]) == {"per_page"}


@pytest.mark.parametrize("query", [
    "per_page=101", "per_page=0", "page=0", "page=-1", "page=abc", "page=100001", "page=99999999999999999999",
    "category=vegetables", "province=99", "province=0", "stars=2", "stars=6", "certification=fairtrade",
    "cooperative_type=enterprise", "cooperative=0", "cooperative=2147483648", "sort=price", "lang=fr",
    "categry=beverages", "status=draft", "category=", "lang=", "=x", "sort=name%20desc;--",
])
def test_bad_or_unknown_parameters_are_400(client, query):
    error = assert_json_error(client.get(f"/api/v1/products?{query}"), 400, "invalid_parameter")
    name = query.split("=")[0]
    assert name in error["details"]["fields"], error


def test_every_bad_parameter_is_named_at_once(client):
    error = assert_json_error(client.get("/api/v1/products?stars=9&colour=red&lang=de"), 400, "invalid_parameter")
    assert set(error["details"]["fields"]) == {"stars", "colour", "lang"}


# ---------------------------------------------------------------- public product and cooperative

def test_a_product_that_is_not_public_is_404(client, cooperative, pending_cooperative_owner):
    not_public = [
        factories.product(cooperative, status="draft"),
        factories.product(cooperative, status="hidden"),
        factories.product(pending_cooperative_owner.organisation),
        factories.product(factories.organisation("cooperative", status="suspended")),
        factories.product(factories.organisation("cooperative", status="rejected")),
    ]
    unknown = client.get("/api/v1/products/999999").get_json()
    for product in not_public:
        response = client.get(f"/api/v1/products/{product.id}")
        assert_json_error(response, 404, "not_found")
        assert response.get_json() == unknown  # no difference to probe


@pytest.mark.parametrize("path", ["/api/v1/products/0", "/api/v1/products/2147483648",
                                  "/api/v1/products/99999999999999999999", "/api/v1/products/-1",
                                  "/api/v1/products/abc", "/api/v1/cooperatives/0",
                                  "/api/v1/cooperatives/2147483648", "/api/v1/cooperatives/99999999999999999999"])
def test_impossible_ids_are_404(client, path):
    assert_json_error(client.get(path), 404)


def test_a_product_takes_only_lang(client, cooperative):
    product = factories.product(cooperative)
    error = assert_json_error(client.get(f"/api/v1/products/{product.id}?category=x"), 400, "invalid_parameter")
    assert set(error["details"]["fields"]) == {"category"}


@pytest.mark.parametrize("status", ["pending", "revoked", "expired"])
def test_only_a_verified_unexpired_certificate_is_a_badge(client, cooperative, status):
    product = factories.product(cooperative, stars=5, certificate_status=status)
    assert client.get(f"/api/v1/products/{product.id}").get_json()["ocop"] is None


def test_a_verified_certificate_past_its_date_is_no_badge_even_before_the_expiry_job(client, cooperative):
    product = factories.product(cooperative, stars=4, expires_on=date.today() - timedelta(days=2))
    assert product.certificates[0].status == CertificateStatus.VERIFIED  # the daily job has not run
    assert client.get(f"/api/v1/products/{product.id}").get_json()["ocop"] is None
    assert client.get("/api/v1/products").get_json()["results"][0]["ocop"] is None


def test_the_best_valid_certificate_is_the_badge(client, cooperative):
    product = factories.product(cooperative, stars=3)
    db.session.add(OcopCertificate(product=product, stars=4, certificate_no="TEST-4", issuing_level="province",
                                   decision_date=None, expires_on=date.today() + timedelta(days=10),
                                   status=CertificateStatus.VERIFIED))
    db.session.commit()
    ocop = client.get(f"/api/v1/products/{product.id}").get_json()["ocop"]
    assert (ocop["stars"], ocop["certificate_no"], ocop["decision_date"]) == (4, "TEST-4", None)


def test_a_cooperative_in_json(client, cooperative):
    cooperative.classification = "weak"
    cooperative.status_reason = "ghi chú nội bộ của liên minh"
    db.session.commit()
    response = client.get(f"/api/v1/cooperatives/{cooperative.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "id": cooperative.id, "name": cooperative.legal_name, "cooperative_type": "hop_tac_xa",
        "tax_code": cooperative.tax_code, "province": {"code": 20, "name": "Lạng Sơn"},
        "commune": {"code": 6040, "name": body["commune"]["name"]}, "sector": "agriculture",
        "founded_year": 2018, "member_count": 10, "is_demo": False,
        "url": f"http://localhost/cooperatives/{cooperative.id}",
        "products_url": f"http://localhost/api/v1/products?cooperative={cooperative.id}",
    }
    text = response.get_data(as_text=True)
    assert "weak" not in text and "nội bộ" not in text and "classification" not in text


def test_the_products_url_of_a_cooperative_lists_its_products(client, cooperative, rival):
    own = factories.product(cooperative)
    products_url = client.get(f"/api/v1/cooperatives/{cooperative.id}").get_json()["products_url"]
    assert ids(client.get(products_url)) == [own.id]


def test_cooperatives_that_are_not_public_are_404(client, pending_cooperative_owner, enterprise_owner,
                                                   alliance_user):
    for organisation_id in (pending_cooperative_owner.organisation_id, enterprise_owner.organisation_id,
                            alliance_user.organisation_id, 999999):
        assert_json_error(client.get(f"/api/v1/cooperatives/{organisation_id}"), 404, "not_found")


# ---------------------------------------------------------------- writes: authentication and authorisation

WRITES = [
    ("post", "/api/v1/products"),
    ("put", "/api/v1/products/{id}"),
    ("delete", "/api/v1/products/{id}"),
    ("post", "/api/v1/products/{id}/publish"),
    ("post", "/api/v1/products/{id}/hide"),
    ("get", "/api/v1/me/products"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_writes_need_a_token(client, auth, cooperative_owner, method, path):
    product = factories.product(cooperative_owner.organisation)
    before = snapshot(product.id)
    url = path.format(id=product.id)
    assert_json_error(client.open(url, method=method.upper(), json=valid_body()), 401, "unauthenticated")
    auth.login(cooperative_owner.email)  # a browser session is not a token
    assert_json_error(client.open(url, method=method.upper(), json=valid_body()), 401, "unauthenticated")
    assert snapshot(product.id) == before
    assert db.session.scalar(db.select(db.func.count(Product.id))) == 1


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("who", ["enterprise", "alliance"])
def test_only_cooperatives_write_products(client, cooperative_owner, enterprise_owner, alliance_user, method, path,
                                          who):
    user = enterprise_owner if who == "enterprise" else alliance_user
    product = factories.product(cooperative_owner.organisation)
    before = snapshot(product.id)
    response = client.open(path.format(id=product.id), method=method.upper(), json=valid_body(),
                           headers=bearer(token_for(user)))
    if "{id}" in path:
        assert_json_error(response, 404, "not_found")  # not theirs: the same answer as an unknown id
    else:
        assert_json_error(response, 403, "wrong_organisation_kind")
    assert snapshot(product.id) == before
    assert db.session.scalar(db.select(db.func.count(Product.id))) == 1


@pytest.mark.parametrize(("method", "path"), [w for w in WRITES if "{id}" in w[1]])
def test_another_cooperatives_product_is_404_and_unchanged(client, owner_headers, rival, method, path):
    for product in (rival["published"], rival["draft"]):
        before = snapshot(product.id)
        response = client.open(path.format(id=product.id), method=method.upper(), json=valid_body(),
                               headers=owner_headers)
        assert_json_error(response, 404, "not_found")
        assert snapshot(product.id) == before
    unknown = client.open(path.format(id=999999), method=method.upper(), json=valid_body(), headers=owner_headers)
    assert unknown.get_json() == response.get_json()


def test_my_products_are_only_mine_in_every_status(client, cooperative, owner_headers, rival):
    published = factories.product(cooperative)
    draft = factories.product(cooperative, status="draft")
    hidden = factories.product(cooperative, status="hidden")
    response = client.get("/api/v1/me/products", headers=owner_headers)
    body = response.get_json()
    assert {p["id"] for p in body["results"]} == {published.id, draft.id, hidden.id}
    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 20)
    statuses = {p["id"]: p["status"] for p in body["results"]}
    assert statuses == {published.id: "published", draft.id: "draft", hidden.id: "hidden"}
    assert all(set(p) == PRODUCT_FIELDS | {"status", "updated_at"} for p in body["results"])
    assert ids(client.get("/api/v1/me/products?status=draft", headers=owner_headers)) == [draft.id]
    page = client.get("/api/v1/me/products?per_page=2&page=2", headers=owner_headers).get_json()
    assert (page["total"], len(page["results"])) == (3, 1)
    assert client.get("/api/v1/me/products?per_page=100", headers=owner_headers).status_code == 200


@pytest.mark.parametrize("query", ["status=deleted", "status=", "per_page=101", "page=0", "cooperative=1", "lang=de"])
def test_my_products_rejects_bad_parameters(client, owner_headers, query):
    error = assert_json_error(client.get(f"/api/v1/me/products?{query}", headers=owner_headers), 400,
                              "invalid_parameter")
    assert query.split("=")[0] in error["details"]["fields"]


# ---------------------------------------------------------------- create, update, publish, hide, delete

def test_create_a_product(client, cooperative, owner_headers):
    response = client.post("/api/v1/products", json=valid_body(), headers=owner_headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    product = db.session.get(Product, body["id"])
    assert response.headers["Location"] == f"http://localhost/api/v1/products/{product.id}"
    assert product.cooperative_id == cooperative.id
    assert product.status == ProductStatus.DRAFT and body["status"] == "draft"
    assert body["published_at"] is None
    assert (body["name"], body["slug"]) == ("Na sạch Đồng Bành", "na-sach-dong-banh")
    assert body["price_tiers"] == valid_body()["tiers"]
    assert body["capacity"] == {"quantity": 20000, "period": "season"}
    assert (body["harvest_months"], body["certifications"]) == ([7, 8, 9], ["vietgap"])
    assert (body["base_price_vnd"], body["price_from_vnd"], body["min_order_qty"]) == (60000, 50000, 100)
    assert body["origin"]["commune"]["code"] == 6040
    events = db.session.scalars(db.select(CatalogEvent.kind).filter_by(product_id=product.id)).all()
    assert [e.value for e in events] == ["created"]
    # A draft is not public until published.
    assert_json_error(client.get(response.headers["Location"]), 404)
    listed = client.get("/api/v1/me/products", headers=owner_headers).get_json()["results"]
    assert [p["id"] for p in listed] == [product.id]


def test_create_with_only_the_required_fields(client, owner_headers):
    body = {"name": "Thạch đen Tràng Định", "category": "processed_food", "unit": "thung", "base_price_vnd": 240000}
    response = client.post("/api/v1/products", json=body, headers=owner_headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert (created["min_order_qty"], created["order_increment"], created["price_tiers"]) == (1, 1, [])
    assert created["origin"] == {"province": None, "commune": None}
    # null means "not given", like a field left out.
    with_nulls = {**body, "name": "Thạch đen 2", "min_order_qty": None, "tiers": None, "description": None}
    assert client.post("/api/v1/products", json=with_nulls, headers=owner_headers).status_code == 201


def test_a_pending_cooperative_prepares_drafts_but_cannot_publish(client, pending_cooperative_owner):
    headers = bearer(token_for(pending_cooperative_owner))
    response = client.post("/api/v1/products", json=valid_body(), headers=headers)
    assert response.status_code == 201
    product_id = response.get_json()["id"]
    assert_json_error(client.post(f"/api/v1/products/{product_id}/publish", headers=headers), 403,
                      "organisation_not_verified")
    assert snapshot(product_id)[1] == ProductStatus.DRAFT


@pytest.mark.parametrize(("changes", "fields"), [
    ({"name": "   "}, {"name"}),
    ({"category": "vegetables", "unit": "gram"}, {"category", "unit"}),
    ({"base_price_vnd": 0}, {"base_price_vnd"}),
    ({"base_price_vnd": 10**13}, {"base_price_vnd"}),
    ({"min_order_qty": 100, "order_increment": 30}, {"order_increment"}),
    ({"tiers": [{"min_qty": 50, "unit_price_vnd": 55000}]}, {"tiers"}),  # below the minimum order
    ({"tiers": [{"min_qty": 500, "unit_price_vnd": 65000}]}, {"tiers"}),  # dearer than the base price
    ({"tiers": [{"min_qty": 500 + i, "unit_price_vnd": 59000 - i} for i in range(11)]}, {"tiers"}),
    ({"province_code": 99}, {"province_code"}),
    ({"province_code": 19, "commune_code": 6040}, {"commune_code"}),  # a Lạng Sơn commune, not Lai Châu's
    ({"capacity_period": None}, {"capacity_period"}),
    ({"harvest_months": [0, 13]}, {"harvest_months"}),
    ({"certifications": ["fairtrade"]}, {"certifications"}),
    ({"lead_time_days": 400}, {"lead_time_days"}),
    ({"name": "x" * 161, "description": "y" * 5001}, {"name", "description"}),
])
def test_invalid_products_are_422_with_a_message_per_field(client, owner_headers, changes, fields):
    error = assert_json_error(client.post("/api/v1/products", json=valid_body(**changes), headers=owner_headers),
                              422, "validation_failed")
    assert set(error["details"]["fields"]) == fields
    assert all(isinstance(m, str) and m for m in error["details"]["fields"].values())
    assert db.session.scalar(db.select(db.func.count(Product.id))) == 0


def test_missing_required_fields_are_named(client, owner_headers):
    error = assert_json_error(client.post("/api/v1/products", json={}, headers=owner_headers), 422)
    assert set(error["details"]["fields"]) == {"name", "category", "unit", "base_price_vnd"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": 12}, "name"),
    ({"category": ["fresh_produce"]}, "category"),
    ({"base_price_vnd": "60000"}, "base_price_vnd"),
    ({"base_price_vnd": 60000.5}, "base_price_vnd"),
    ({"min_order_qty": True}, "min_order_qty"),
    ({"province_code": {"code": 20}}, "province_code"),
    ({"harvest_months": "789"}, "harvest_months"),
    ({"harvest_months": ["7"]}, "harvest_months"),
    ({"certifications": "vietgap"}, "certifications"),
    ({"certifications": [1]}, "certifications"),
    ({"tiers": {"min_qty": 500, "unit_price_vnd": 55000}}, "tiers"),
    ({"tiers": [[500, 55000]]}, "tiers"),
    ({"tiers": [{"min_qty": 500}]}, "tiers"),
    ({"tiers": [{"min_qty": 500, "unit_price_vnd": 55000, "currency": "usd"}]}, "tiers"),
    ({"tiers": [{"min_qty": "500", "unit_price_vnd": 55000}]}, "tiers"),
])
def test_values_of_the_wrong_json_type_are_422(client, owner_headers, changes, field):
    error = assert_json_error(client.post("/api/v1/products", json=valid_body(**changes), headers=owner_headers),
                              422, "validation_failed")
    assert set(error["details"]["fields"]) == {field}


def test_whole_numbers_may_be_written_with_a_zero_fraction(client, owner_headers):
    # 60000.0 and 60000 are the same JSON number (JSON Schema calls both integers).
    response = client.post("/api/v1/products", json=valid_body(base_price_vnd=60000.0), headers=owner_headers)
    assert response.status_code == 201
    assert response.get_json()["base_price_vnd"] == 60000


@pytest.mark.parametrize(("data", "content_type"), [
    ('{"name": "x"', "application/json"),
    ("name=x", "application/x-www-form-urlencoded"),
    ('{"name": "x"}', "text/plain"),
    ("", "application/json"),
    ("[]", "application/json"),
    ('"a product"', "application/json"),
    ("null", "application/json"),
    ("[" * 100000 + "]" * 100000, "application/json"),
    (b"\xff\xfe{}", "application/json"),
])
def test_a_body_that_is_not_a_json_object_is_400(client, owner_headers, data, content_type):
    for method, url in (("POST", "/api/v1/products"), ("PUT", "/api/v1/products/1")):
        response = client.open(url, method=method, data=data, content_type=content_type, headers=owner_headers)
        error = assert_json_error(response, 400, "invalid_json")
        assert "JSON" in error["message"]
    assert db.session.scalar(db.select(db.func.count(Product.id))) == 0


def test_status_and_owner_cannot_be_written(client, cooperative, owner_headers, rival):
    body = valid_body(status="published", cooperative_id=rival["owner"].organisation_id, id=1, published_at=None,
                      price_tiers=[], colour="red")
    error = assert_json_error(client.post("/api/v1/products", json=body, headers=owner_headers), 400,
                              "unknown_fields")
    fields = error["details"]["fields"]
    assert set(fields) == {"status", "cooperative_id", "id", "published_at", "price_tiers", "colour"}
    assert "publish" in fields["status"]
    assert "tiers" in fields["price_tiers"]
    assert db.session.scalar(db.select(db.func.count(Product.id))) == 2  # the rival's two only

    product = factories.product(cooperative, status="draft")
    before = snapshot(product.id)
    for extra in ({"status": "published"}, {"cooperative_id": rival["owner"].organisation_id}):
        response = client.put(f"/api/v1/products/{product.id}", json=valid_body(**extra), headers=owner_headers)
        assert_json_error(response, 400, "unknown_fields")
    assert snapshot(product.id) == before


def test_update_replaces_the_whole_product(client, cooperative, owner_headers):
    product_id = client.post("/api/v1/products", json=valid_body(), headers=owner_headers).get_json()["id"]
    replacement = {"name": "Na dai Chi Lăng", "category": "fresh_produce", "unit": "thung", "base_price_vnd": 500000,
                   "min_order_qty": 5, "tiers": [{"min_qty": 50, "unit_price_vnd": 450000}]}
    response = client.put(f"/api/v1/products/{product_id}", json=replacement, headers=owner_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["id"], body["name"], body["slug"], body["unit"]["code"]) == (product_id, "Na dai Chi Lăng",
                                                                             "na-dai-chi-lang", "thung")
    assert body["price_tiers"] == [{"min_qty": 50, "unit_price_vnd": 450000}]
    # Left out: back to the defaults.
    assert (body["certifications"], body["harvest_months"], body["capacity"], body["description"]) == ([], [], None, "")
    assert body["status"] == "draft"
    db.session.expire_all()
    product = db.session.get(Product, product_id)
    assert (product.base_price_vnd, product.order_increment, product.province_code) == (500000, 1, None)


def test_an_invalid_update_changes_nothing(client, cooperative, owner_headers):
    product = factories.product(cooperative)
    before = snapshot(product.id)
    response = client.put(f"/api/v1/products/{product.id}", json=valid_body(base_price_vnd=-1), headers=owner_headers)
    assert_json_error(response, 422, "validation_failed")
    assert snapshot(product.id) == before


def test_publish_and_hide(client, cooperative, owner_headers):
    product_id = client.post("/api/v1/products", json=valid_body(), headers=owner_headers).get_json()["id"]
    published = client.post(f"/api/v1/products/{product_id}/publish", headers=owner_headers)
    assert published.status_code == 200
    assert published.get_json()["status"] == "published" and published.get_json()["published_at"]
    assert client.get(f"/api/v1/products/{product_id}").status_code == 200
    assert ids(client.get("/api/v1/products")) == [product_id]
    again = client.post(f"/api/v1/products/{product_id}/publish", headers=owner_headers)
    assert again.status_code == 200 and again.get_json()["published_at"] == published.get_json()["published_at"]

    hidden = client.post(f"/api/v1/products/{product_id}/hide", headers=owner_headers)
    assert hidden.status_code == 200 and hidden.get_json()["status"] == "hidden"
    assert_json_error(client.get(f"/api/v1/products/{product_id}"), 404)
    assert ids(client.get("/api/v1/products")) == []
    assert client.post(f"/api/v1/products/{product_id}/hide", headers=owner_headers).status_code == 200


def test_delete(client, cooperative, owner_headers):
    product_id = factories.product(cooperative, stars=4).id
    other_id = factories.product(cooperative).id
    response = client.delete(f"/api/v1/products/{product_id}", headers=owner_headers)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert snapshot(product_id) is None
    assert db.session.scalar(db.select(db.func.count(OcopCertificate.id))) == 0
    assert snapshot(other_id) is not None
    assert_json_error(client.get(f"/api/v1/products/{product_id}"), 404)
    assert_json_error(client.delete(f"/api/v1/products/{product_id}", headers=owner_headers), 404)


def test_a_member_manages_products_too(client, cooperative):
    member = factories.user(cooperative, email="member@htx.example", role="member")
    response = client.post("/api/v1/products", json=valid_body(), headers=bearer(token_for(member)))
    assert response.status_code == 201


def test_the_api_and_the_services_keep_the_same_rules(client, cooperative_owner, owner_headers):
    """What the API accepts is what the workspace service accepts: the API adds only JSON types."""
    catalog.create_product(cooperative_owner, catalog.ProductDetails.from_mapping(
        {**valid_body(), "tiers": [(t["min_qty"], t["unit_price_vnd"]) for t in valid_body()["tiers"]]}))
    response = client.post("/api/v1/products", json=valid_body(), headers=owner_headers)
    assert response.status_code == 201
    assert response.get_json()["slug"] == "na-sach-dong-banh-2"  # unique per cooperative, as in the service


def test_the_largest_possible_id_is_a_valid_filter(client, cooperative):
    # Ids go up to 2**31 - 1 (ten digits): found by schemathesis, the filter once stopped at nine digits.
    factories.product(cooperative)
    response = client.get("/api/v1/products?cooperative=2147483647")
    assert response.status_code == 200 and response.get_json()["total"] == 0


@pytest.mark.parametrize("product_id", ["0", "2147483648", "99999999999999999999"])
@pytest.mark.parametrize(("method", "path"), [w for w in WRITES if "{id}" in w[1]])
def test_impossible_ids_are_404_for_writes_too(client, owner_headers, product_id, method, path):
    # Not 405: GET, PUT and DELETE share the path on three endpoints (see PRODUCT in api/catalog.py).
    response = client.open(path.format(id=product_id), method=method.upper(), json=valid_body(),
                           headers=owner_headers)
    assert_json_error(response, 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/products?per_page=100", "/api/v1/me/products?per_page=100"])
def test_a_page_of_products_takes_a_fixed_number_of_queries(client, cooperative, owner_headers, path):
    def queries_for(count):
        for _ in range(count):
            factories.product(cooperative, stars=4, tiers=[(100, 90000)],
                              certification_rows=[ProductCertification(code=Certification.VIETGAP)])
        client.get(path, headers=owner_headers)  # the token's first use writes last_used_at: not counted
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            response = client.get(path, headers=owner_headers)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert response.status_code == 200
        return len(statements)

    assert queries_for(3) == queries_for(30)  # no query per product (N+1)


def test_a_cooperative_takes_no_parameters(client, cooperative):
    for query in ("lang=en", "page=2"):
        error = assert_json_error(client.get(f"/api/v1/cooperatives/{cooperative.id}?{query}"), 400,
                                  "invalid_parameter")
        assert set(error["details"]["fields"]) == {query.split("=")[0]}


def test_the_api_writes_every_field_of_the_product_details_and_nothing_else():
    # A field added to services.ProductDetails must be given a JSON type in the API (and in openapi.py).
    import dataclasses

    from marketplace.api import catalog as catalog_api
    from marketplace.api.openapi import SCHEMAS

    details = {f.name for f in dataclasses.fields(catalog.ProductDetails)}
    assert catalog_api.WRITABLE == details
    assert set(SCHEMAS["ProductInput"]["properties"]) == details
