"""Schemathesis against the WSGI app: every operation of /api/v1/openapi.json, with an alliance staff token and
with a cooperative owner's token, over a small demo-like catalogue; and the public operations without any token.
No 5xx; every response (status code, content type, headers, body) matches the document; the security scheme is
really enforced; wrong methods answer 405.

Deterministic (derandomize) and bounded (max_examples) so it stays a unit test, not a fuzzing campaign.
"""
import copy
from datetime import date, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from marketplace.accounts import services
from marketplace.api.openapi import openapi_document
from marketplace.catalog.models import Certification, Product, ProductCertification, ProductImage
from marketplace.extensions import db
from tests import factories


@pytest.fixture(params=["alliance", "cooperative"])
def api_user(request, alliance_user, cooperative_owner, enterprise_owner, pending_cooperative_owner):
    """The token's owner; the other fixtures give the alliance's queue real rows to return."""
    return alliance_user if request.param == "alliance" else cooperative_owner


@pytest.fixture
def api_token(api_user):
    _token, secret = services.create_api_token(api_user, "schemathesis")
    return secret


@pytest.fixture
def catalogue(cooperative_owner, pending_cooperative_owner):
    """A demo-like catalogue. The verified cooperative of `cooperative_owner` (the token's, in the cooperative
    runs) owns products 1 to 5 in every state (ids restart at 1 per test, and the coverage phase always tries
    id 1, so reads and writes meet real rows); a second verified cooperative and a pending one own the rest."""
    own = cooperative_owner.organisation
    factories.product(
        own, name="Na sạch Đồng Bành", name_en="Dong Banh custard apple", base_price_vnd=60000, min_order_qty=100,
        order_increment=50, tiers=[(500, 55000), (2000, 50000)], capacity_qty=20000, capacity_period="season",
        harvest_month_mask=Product.month_mask([7, 8, 9]), lead_time_days=3, stars=4,
        certification_rows=[ProductCertification(code=Certification.VIETGAP)],
        images=[ProductImage(stored_name="0" * 32, width=1600, height=1200, alt_text="Na")])
    factories.product(own, name="Thạch đen", category="processed_food", unit="thung", province_code=None,
                      commune_code=None, description="")
    factories.product(own, status="draft", name="Mật ong rừng")
    factories.product(own, status="hidden", name="Hồi khô", category="spices_herbs")
    factories.product(own, name="Chè shan tuyết", category="beverages", stars=3,
                      expires_on=date.today() - timedelta(days=1))
    rival = factories.organisation("cooperative", status="verified", cooperative_type="to_hop_tac", is_demo=True)
    factories.product(rival, name="Quế Văn Yên", category="spices_herbs", stars=5, certificate_status="pending")
    factories.product(pending_cooperative_owner.organisation, name="Cá suối")
    db.session.commit()


@pytest.fixture
def agreements(catalogue, cooperative_owner, enterprise_owner, alliance_user):
    """MoUs of the token's cooperative (ids 1 to 4, so the coverage phase meets real rows): sent and waiting for
    the cooperative, signed by both with the alliance as witness, a draft of the enterprise, and one between
    other organisations (a third party's: 404 for the cooperative)."""
    from marketplace.agreements import services as agreements_services
    from marketplace.agreements.terms import TermsDetails

    seller = cooperative_owner.organisation
    terms = TermsDetails.from_mapping({
        "lines": [{"product_id": 1, "quantity": 1000, "period": "month", "price_basis": "tier"},
                  {"product_id": 2, "quantity": 50, "period": "total", "price_basis": "fixed",
                   "unit_price_vnd": 90000}],
        "start_date": date.today().isoformat(), "end_date": (date.today() + timedelta(days=365)).isoformat(),
        "delivery_place": "Kho Hà Nội", "clauses": ["Tranh chấp giải quyết bằng thương lượng."]})
    sent = agreements_services.draft(enterprise_owner, seller.id, terms, witness=True)
    agreements_services.send(enterprise_owner, sent.id)
    signed = agreements_services.draft(enterprise_owner, seller.id, terms, witness=True)
    agreements_services.send(enterprise_owner, signed.id)
    agreements_services.accept(cooperative_owner, signed.id)
    for user in (cooperative_owner, enterprise_owner, alliance_user):
        agreements_services.sign(user, signed.id, factories.PASSWORD)
    agreements_services.draft(enterprise_owner, seller.id, terms)
    other_seller = factories.user(factories.organisation("cooperative"), email="khac@htx.example")
    other_product = factories.product(other_seller.organisation, name="Quế")
    agreements_services.draft(enterprise_owner, other_seller.organisation_id, TermsDetails.from_mapping({
        "lines": [{"product_id": other_product.id, "quantity": 10, "period": "year", "price_basis": "tier"}],
        "start_date": date.today().isoformat(), "end_date": (date.today() + timedelta(days=30)).isoformat(),
        "delivery_place": "Kho"}))


@pytest.fixture
def orders(catalogue, cooperative_owner, enterprise_owner):
    """Orders of the verified enterprise with the token's cooperative (ids 1 to 4, so the coverage phase meets real
    rows): placed; confirmed with a pending bank transfer (payment 1); paid (payment 2); shipped (payment 3). Order
    5 is with another cooperative (404 to the cooperative's token, the buyer's own)."""
    from marketplace.orders import services as order_services
    from marketplace.orders.models import PaymentMode
    from marketplace.payments import services as payment_services
    from marketplace.payments.models import PaymentMethod, PaymentSettings

    own = cooperative_owner.organisation
    db.session.add(PaymentSettings(organisation_id=own.id, mode=PaymentMode.FULL, bank_bin="970436",
                                   account_number="0011001932418", account_name="HTX NA DONG BANH"))
    db.session.commit()

    def place(product_id):
        request = factories.order_request([(db.session.get(Product, product_id), 20)], po_number="PO-1")
        order, = order_services.place_orders(enterprise_owner, order_services.OrderRequest.from_mapping(request))
        return order

    def pay(order):
        order_services.confirm(cooperative_owner, order.id)
        payment = payment_services.start_payment(enterprise_owner, order.id, PaymentMethod.BANK_TRANSFER)
        if order.id > 2:
            payment_services.confirm_transfer(cooperative_owner, payment.id, payment.amount_vnd)

    orders = [place(2) for _ in range(4)]
    for order in orders[1:]:
        pay(order)
    order_services.ship(cooperative_owner, orders[3].id, "Xe tải 12C-123.45")
    place(6)  # the rival cooperative's Quế


# The document states shapes; rules that relate fields (a minimum order that is a multiple of the increment,
# tiers above it with falling prices, a commune of the province, a capacity with its period) only the server
# checks, so a body valid for the document may still get 422 on the two operations that take one.
CONFIG = SchemathesisConfig.from_str("""
[[operations]]
include-operation-id = ["createProduct", "updateProduct"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# An agreement's rules relate its fields, rows and state (a product of the cooperative's published catalogue,
# the end after the start, whose turn it is, the password): a body valid for the document may be refused.
[[operations]]
include-operation-id = ["createAgreement", "reviseAgreement", "sendAgreement", "acceptAgreement",
                        "declineAgreement", "withdrawAgreement", "voidAgreement", "getAgreementDocument"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# Signing checks the password like a login: schemathesis's many wrong passwords meet the login throttle (429).
[[operations]]
include-operation-id = ["signAgreement"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

# An order's rules relate its fields, its rows and its state (a public product, its minimum and increment, a commune
# of the province, a date after the lead time and in season, capacity left, whose step it is, what is due): a body
# valid for the document may be refused.
[[operations]]
include-operation-id = ["placeOrders", "confirmOrder", "rejectOrder", "cancelOrder", "shipOrder", "deliverOrder",
                        "startPayment", "confirmPaymentReceived"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
""")

# Loaded from the same function that serves /api/v1/openapi.json (test_api.py checks they are equal). Not
# schemathesis.pytest.from_fixture: its lazy loader writes Node._nodeid, which pytest 9.2 no longer has.
schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi_document()), config=CONFIG)
public_schema = schema.exclude(func=lambda ctx: ctx.operation.definition.raw.get("security") != [])
# exclude, not include: include() did not narrow this schema, loaded with a config (schemathesis 4.32)
order_schema = schema.exclude(func=lambda ctx: not ctx.operation.path.startswith(("/orders", "/payments")))

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # The app, its database and the token are per test on purpose: each operation starts from the same rows,
    # and nothing an example does (e.g. last_used_at) matters to the next.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _bind(case, app):
    # The app is per test (fresh tables on each backend), so it is bound here rather than at load time. Passing
    # app= to call_and_validate alone is not enough: the ignored_auth check re-sends through schema.transport.
    case.operation.schema.app = app


@schema.parametrize()
@SETTINGS
def test_api_matches_its_openapi_document(case, app, api_token, catalogue, agreements, orders):
    # identity: schemathesis's WSGI transport does not undo Flask-Compress's brotli/gzip, as an HTTP client would.
    headers = {"Authorization": f"Bearer {api_token}", "Accept-Encoding": "identity"}
    _bind(case, app)
    case.call_and_validate(headers=headers, app=app)


@order_schema.parametrize()
@SETTINGS
def test_order_operations_match_the_document_with_the_buyers_token(case, app, enterprise_owner, catalogue, orders):
    """The other runs hold the cooperative's and the alliance's tokens: here the enterprise that placed orders 1 to 5
    places, pays, receives and cancels."""
    _token, secret = services.create_api_token(enterprise_owner, "schemathesis")
    _bind(case, app)
    case.call_and_validate(headers={"Authorization": f"Bearer {secret}", "Accept-Encoding": "identity"}, app=app)


@public_schema.parametrize()
@SETTINGS
def test_public_operations_match_the_document_without_a_token(case, app, catalogue):
    _bind(case, app)
    case.call_and_validate(headers={"Accept-Encoding": "identity"}, app=app)


def test_the_anonymous_run_covers_the_public_reads_and_only_them():
    operations = {result.ok().label for result in public_schema.get_all_operations()}
    assert operations >= {"GET /products", "GET /products/{product_id}", "GET /cooperatives/{cooperative_id}",
                          "GET /geo/provinces", "GET /openapi.json", "GET /search"}
    assert not operations & {"GET /me", "GET /me/products", "POST /products", "PUT /products/{product_id}",
                             "DELETE /products/{product_id}", "POST /products/{product_id}/publish"}


def test_the_buyers_run_covers_every_order_operation():
    operations = {result.ok().label for result in order_schema.get_all_operations()}
    assert operations == {
        "GET /orders", "POST /orders", "GET /orders/{order_id}", "POST /orders/{order_id}/confirm",
        "POST /orders/{order_id}/reject", "POST /orders/{order_id}/cancel", "POST /orders/{order_id}/ship",
        "POST /orders/{order_id}/deliver", "POST /orders/{order_id}/payments", "POST /payments/{payment_id}/received"}
