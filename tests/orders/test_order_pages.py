"""The order and payment pages through the test client: the product page's "Add to order", the cart, the
checkout, the list with its filters, an order's page with each side's actions, the bank transfer and card
pages, the cooperative's payment settings and the confirmation PDF. Service rules are tested in
test_order_services.py; these tests check the wiring: errors next to their fields, 404 for anyone who is not a
party, CSRF tokens on every form, and what buyers type printed escaped."""
import re
from datetime import date, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import OrganisationStatus
from marketplace.catalog.models import CapacityPeriod, Unit
from marketplace.catalog.services import today as local_today  # the app's date: Vietnam's, not the machine's
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import CartItem, Order, OrderStatus, PaymentMode
from marketplace.payments import services as payments
from marketplace.payments import stripe_gateway
from marketplace.payments.models import Payment, PaymentMethod, PaymentPurpose, PaymentSettings, PaymentStatus
from tests import factories
from tests.support import login_with_form, pdf_pages

SOON = date.today() + timedelta(days=14)
BANK = {"bank_bin": "970436", "account_number": "0011001932418", "account_name": "HTX THACH DEN TRANG DINH"}


@pytest.fixture
def thach(app):
    return factories.user(factories.organisation("cooperative", legal_name="HTX Thạch đen Tràng Định"),
                          email="thach@htx.example")


@pytest.fixture
def hoi(app):
    return factories.user(factories.organisation("cooperative", legal_name="HTX Hồi Văn Quan"),
                          email="hoi@htx.example")


@pytest.fixture
def buyer(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch Lạng Sơn",
                                                 street_address="Số 5 Lê Lợi"), email="mua@dn.example")


@pytest.fixture
def rival(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Đối thủ"), email="khac@dn.example")


@pytest.fixture
def products(thach, hoi):
    jelly = factories.product(thach.organisation, name="Thạch đen Tràng Định", unit=Unit.KG, base_price_vnd=60_000,
                              min_order_qty=10, order_increment=5, tiers=[(50, 55_000), (100, 50_000)],
                              lead_time_days=3)
    anise = factories.product(hoi.organisation, name="Hoa hồi khô Văn Quan", unit=Unit.KG, base_price_vnd=150_000,
                              min_order_qty=20, lead_time_days=7, capacity_qty=500,
                              capacity_period=CapacityPeriod.MONTH)
    return {"jelly": jelly, "anise": anise}


def login(client, user, language="en"):
    client.post("/logout")
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302, f"cannot log in as {user.email}"
    client.post("/language", data={"lang": language})


def client_of(app, user, language="en"):
    client = app.test_client()
    login(client, user, language)
    return client


def checkout_form(**overrides):
    data = {"province_code": "20", "commune_code": "6040", "street": "Số 12 đường Trần Đăng Ninh",
            "requested_date": SOON.isoformat(), "po_number": "PO-2026-77", "notes": "Giao buổi sáng",
            "agreement_id": ""}
    data.update(overrides)
    return data


def page(response):
    return response.get_data(as_text=True)


def place(buyer, lines, **fields):
    return services.place_orders(buyer, services.OrderRequest.from_mapping(factories.order_request(lines, **fields)))


def set_bank(cooperative, mode=PaymentMode.FULL, deposit_percent=30):
    db.session.add(PaymentSettings(organisation_id=cooperative.organisation_id, mode=mode,
                                   deposit_percent=deposit_percent, **BANK))
    db.session.commit()


def reload(order):
    db.session.expire_all()
    return db.session.get(Order, order.id)


# ---------------------------------------------------------------- the whole way through the pages

def test_the_whole_way_from_two_product_pages_to_a_completed_order(app, outbox, thach, hoi, buyer, products):
    jelly, anise = products["jelly"], products["anise"]
    shop = client_of(app, buyer)
    assert shop.post("/cart/items", data={"product_id": jelly.id, "quantity": "50"}).headers["Location"] == "/cart"
    assert shop.post("/cart/items", data={"product_id": anise.id, "quantity": "40"}).status_code == 302
    cart = page(shop.get("/cart"))
    assert "HTX Thạch đen Tràng Định" in cart and "HTX Hồi Văn Quan" in cart
    assert "2.750.000" in cart or "2,750,000" in cart  # 50 kg at the 50 kg tier: 55.000 ₫
    assert 'id="nav-cart"' in cart and 'class="nav-count"' in cart

    form = page(shop.get("/checkout"))
    assert 'name="province_code"' in form and 'value="Số 5 Lê Lợi"' in form  # the buyer's address to start from
    assert f'min="{(local_today() + timedelta(days=7)).isoformat()}"' in form  # the longest lead time: 7 days
    response = shop.post("/checkout", data=checkout_form())
    assert response.status_code == 302, page(response)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/orders"
    checkout_id = parse_qs(location.query)["checkout"][0]
    orders = db.session.scalars(sa.select(Order).order_by(Order.cooperative_id)).all()
    assert len(orders) == 2 and {o.checkout_id for o in orders} == {checkout_id}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CartItem)) == 0
    placed = page(shop.get(response.headers["Location"]))
    assert all(order.reference in placed for order in orders) and 'id="placed"' in placed
    order = next(o for o in orders if o.cooperative_id == thach.organisation_id)
    assert order.po_number == "PO-2026-77" and order.notes == "Giao buổi sáng"

    seller = client_of(app, thach)
    settings = seller.post("/workspace/payment-settings", data={"mode": "full", "deposit_percent": "", **BANK,
                                                                "password": factories.PASSWORD})
    assert settings.status_code == 302
    assert seller.post(f"/orders/{order.id}/confirm").status_code == 302
    assert reload(order).status == OrderStatus.CONFIRMED

    response = shop.post(f"/orders/{order.id}/payments", data={"method": "bank_transfer"})
    payment = db.session.scalar(sa.select(Payment).filter_by(order_id=order.id))
    assert response.headers["Location"] == f"/orders/{order.id}/payments/{payment.id}"
    transfer = page(shop.get(response.headers["Location"]))
    instructions = payments.transfer_instructions(payment)
    assert instructions.payload in transfer and payment.reference in transfer
    assert '<svg role="img"' in transfer and "<title>" in transfer
    assert "0011001932418" in transfer and 'id="cooperative-confirms"' in transfer

    amount = f"{payment.amount_vnd:,}".replace(",", ".")  # as people write đồng: 2.750.000
    response = seller.post(f"/orders/{order.id}/payments/{payment.id}/confirm",
                           data={f"transfer-{payment.id}-amount_vnd": amount})
    assert response.status_code == 302
    assert reload(order).status == OrderStatus.PAID and reload(order).paid_vnd == order.total_vnd

    line = order.lines[0]
    response = seller.post(f"/orders/{order.id}/ship", data={"ship-delivery_note": "Xe tải 12C-123.45, 5 thùng",
                                                             f"quantity-{line.id}": "50"})
    assert response.status_code == 302 and reload(order).status == OrderStatus.SHIPPED
    response = shop.post(f"/orders/{order.id}/deliver", data={f"quantity-{line.id}": "50"})
    assert response.status_code == 302 and reload(order).status == OrderStatus.COMPLETED
    detail = page(shop.get(f"/orders/{order.id}"))
    assert 'data-status="completed"' in detail and "Xe tải 12C-123.45, 5 thùng" in detail
    assert any(order.reference in m.subject and f"/orders/{order.id}" in m.body for m in outbox)


def test_the_order_emails_name_the_order_and_link_to_it(app, outbox, thach, buyer, products):
    order, = place(buyer, [(products["jelly"], 10)])
    message = next(m for m in outbox if m.to == [thach.email])
    assert order.reference in message.subject
    assert order.reference in message.body and order.buyer.legal_name in message.body
    assert re.search(rf"https?://\S+/orders/{order.id}\b", message.body)
    assert "{{" not in message.body and "None" not in message.body


# ---------------------------------------------------------------- the product page and the cart

def test_only_a_verified_buyer_sees_add_to_order_and_anonymous_visitors_a_hint(app, client, thach, buyer, products,
                                                                               rival):
    jelly = products["jelly"]
    path = f"/products/{jelly.id}/{jelly.slug}"
    anonymous = page(client.get(path))
    assert 'id="add-to-cart"' not in anonymous and 'id="order-hint"' in anonymous
    shop = page(client_of(app, buyer).get(path))
    assert 'id="add-to-cart"' in shop and 'data-tiers="50:55000 100:50000"' in shop
    assert 'min="10"' in shop and 'step="5"' in shop and "js/order-price.js" in shop
    assert 'id="add-to-cart"' not in page(client_of(app, thach).get(path))
    rival.organisation.status = OrganisationStatus.PENDING
    db.session.commit()
    assert 'id="add-to-cart"' not in page(client_of(app, rival).get(path))


def test_a_quantity_off_the_increment_is_shown_at_the_field_on_the_product_page(app, buyer, products):
    jelly, shop = products["jelly"], client_of(app, buyer)
    response = shop.post("/cart/items", data={"product_id": jelly.id, "quantity": "12"})
    body = page(response)
    assert response.status_code == 422
    assert 'id="quantity-error"' in body and "multiples of 5" in body and 'value="12"' in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CartItem)) == 0


def test_the_cart_changes_and_removes_lines_and_has_an_empty_state(app, buyer, products):
    jelly, shop = products["jelly"], client_of(app, buyer)
    empty = page(shop.get("/cart"))
    assert "Your cart is empty." in empty and 'href="/products"' in empty
    shop.post("/cart/items", data={"product_id": jelly.id, "quantity": "10"})
    response = shop.post(f"/cart/items/{jelly.id}", data={"quantity": "7"})
    assert response.status_code == 422
    assert f'id="quantity-{jelly.id}-error"' in page(response) and 'value="7"' in page(response)
    assert shop.post(f"/cart/items/{jelly.id}", data={"quantity": "100"}).status_code == 302
    assert db.session.scalar(sa.select(CartItem.quantity)) == 100
    assert "5.000.000" in page(shop.get("/cart")) or "5,000,000" in page(shop.get("/cart"))  # 100 × 50.000
    assert shop.post(f"/cart/items/{jelly.id}/remove").headers["Location"] == "/cart"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CartItem)) == 0


def test_the_cart_and_checkout_are_for_buyers(app, thach, alliance_user):
    for user in (thach, alliance_user):
        client = client_of(app, user)
        assert client.get("/cart").status_code == 403
        assert client.get("/checkout").status_code == 403
        assert 'id="nav-cart"' not in page(client.get("/"))


def test_an_empty_cart_sends_the_checkout_back_to_the_cart(app, buyer):
    response = client_of(app, buyer).get("/checkout")
    assert response.status_code == 302 and response.headers["Location"] == "/cart"


# ---------------------------------------------------------------- checkout errors

def test_checkout_errors_are_shown_next_to_their_fields_and_nothing_is_ordered(app, buyer, products):
    shop = client_of(app, buyer)
    shop.post("/cart/items", data={"product_id": products["jelly"].id, "quantity": "10"})
    response = shop.post("/checkout", data=checkout_form(street="  ", commune_code="", notes="x" * 2001,
                                                         requested_date=date.today().isoformat()))
    body = page(response)
    assert response.status_code == 422
    for name in ("street", "commune_code", "notes", "requested_date"):
        assert f'id="{name}-error"' in body, name
    assert 'value="PO-2026-77"' in body  # what was typed stays
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_a_line_error_is_shown_at_its_line(app, buyer, products):
    jelly, shop = products["jelly"], client_of(app, buyer)
    shop.post("/cart/items", data={"product_id": jelly.id, "quantity": "10"})
    jelly.min_order_qty = 20  # the cooperative raised its minimum since
    db.session.commit()
    response = shop.post("/checkout", data=checkout_form())
    body = page(response)
    assert response.status_code == 422
    assert f'id="line-error-{jelly.id}"' in body and "minimum order is 20" in body
    assert f'href="/cart#item-{jelly.id}"' in body


def test_short_capacity_is_shown_at_each_short_line_and_everything_is_kept(app, buyer, rival, products):
    anise, jelly = products["anise"], products["jelly"]
    place(rival, [(anise, 480)])
    shop = client_of(app, buyer)
    shop.post("/cart/items", data={"product_id": jelly.id, "quantity": "10"})
    shop.post("/cart/items", data={"product_id": anise.id, "quantity": "40"})
    response = shop.post("/checkout", data=checkout_form(notes="Giữ nguyên ghi chú"))
    body = page(response)
    assert response.status_code == 409
    assert f'id="line-error-{anise.id}"' in body and "Only 20 kg" in body
    assert f'id="line-error-{jelly.id}"' not in body
    assert "Giữ nguyên ghi chú" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CartItem)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1  # the rival's


def test_an_mou_in_force_is_offered_at_checkout_and_sets_the_prices(app, thach, buyer, products):
    jelly = products["jelly"]
    mou = factories.signed_mou(buyer.organisation, thach.organisation, {jelly: 45_000})
    shop = client_of(app, buyer)
    shop.post("/cart/items", data={"product_id": jelly.id, "quantity": "10"})
    assert mou.reference in page(shop.get("/cart"))
    form = page(shop.get("/checkout"))
    assert f'value="{mou.id}"' in form and "agreed price for 1 product" in form
    assert shop.post("/checkout", data=checkout_form(agreement_id=str(mou.id))).status_code == 302
    order = db.session.scalar(sa.select(Order))
    assert order.agreement_id == mou.id and order.lines[0].unit_price_vnd == 45_000
    detail = page(shop.get(f"/orders/{order.id}"))
    assert f'href="/agreements/{mou.id}"' in detail and "MoU price" in detail


# ---------------------------------------------------------------- the list

def test_the_list_shows_each_sides_orders_with_filters(app, thach, hoi, buyer, rival, products):
    jelly, anise = products["jelly"], products["anise"]
    first, = place(buyer, [(jelly, 10)])
    second, = place(buyer, [(anise, 20)])
    third, = place(rival, [(jelly, 15)])
    services.confirm(thach, first.id)
    shop = client_of(app, buyer)
    listing = page(shop.get("/orders"))
    assert first.reference in listing and second.reference in listing and third.reference not in listing
    assert "HTX Hồi Văn Quan" in listing and 'data-status="confirmed"' in listing
    by_status = page(shop.get("/orders?status=confirmed"))
    assert first.reference in by_status and second.reference not in by_status
    by_cooperative = page(shop.get(f"/orders?counterparty={hoi.organisation_id}"))
    assert second.reference in by_cooperative and first.reference not in by_cooperative
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    assert "No order matches these filters." in page(shop.get(f"/orders?from={tomorrow}"))
    assert first.reference in page(shop.get(f"/orders?to={tomorrow}&from=not-a-date&status=nonsense"))
    seller = page(client_of(app, thach).get("/orders"))
    assert first.reference in seller and third.reference in seller and second.reference not in seller
    assert "Công ty Đối thủ" in seller  # the buyer column


def test_the_list_filters_by_mou(app, thach, buyer, products):
    jelly = products["jelly"]
    mou = factories.signed_mou(buyer.organisation, thach.organisation, {jelly: 45_000})
    under, = place(buyer, [(jelly, 10)], agreement_id=mou.id)
    outside, = place(buyer, [(jelly, 10)])
    shop = client_of(app, buyer)
    listing = page(shop.get("/orders"))
    assert f'<option value="{mou.id}">{mou.reference}</option>' in listing
    filtered = page(shop.get(f"/orders?agreement={mou.id}"))
    assert under.reference in filtered and outside.reference not in filtered


def test_the_list_pages_and_keeps_its_filters(app, monkeypatch, buyer, products):
    from marketplace.orders import views

    monkeypatch.setattr(views, "PER_PAGE", 2)
    made = [place(buyer, [(products["jelly"], 10)])[0] for _ in range(5)]
    shop = client_of(app, buyer)
    first_page = page(shop.get("/orders?status=placed"))
    assert made[-1].reference in first_page and made[0].reference not in first_page
    assert 'href="/orders?page=2&amp;status=placed"' in first_page
    last_page = page(shop.get("/orders?status=placed&page=3"))
    assert made[0].reference in last_page and made[-1].reference not in last_page


def test_the_list_has_empty_states(app, thach, buyer, alliance_user):
    assert 'href="/products"' in page(client_of(app, buyer).get("/orders"))
    assert 'id="no-orders"' in page(client_of(app, thach).get("/orders"))
    assert client_of(app, alliance_user).get("/orders").status_code == 403


def test_the_navigation_links_to_the_orders(app, thach, buyer):
    assert 'href="/orders"' in page(client_of(app, thach).get("/"))
    home = page(client_of(app, buyer).get("/"))
    assert 'href="/orders"' in home and 'href="/cart"' in home


# ---------------------------------------------------------------- one order: each side's actions

def test_each_side_sees_only_its_own_actions(app, thach, buyer, products):
    order, = place(buyer, [(products["jelly"], 10)])
    seller = page(client_of(app, thach).get(f"/orders/{order.id}"))
    assert 'id="confirm-order"' in seller and 'id="reject"' in seller and 'id="cancel"' in seller
    assert 'id="no-bank-account"' in seller and 'href="/workspace/payment-settings"' in seller
    shop = page(client_of(app, buyer).get(f"/orders/{order.id}"))
    assert 'id="confirm-order"' not in shop and 'id="reject"' not in shop and 'id="cancel"' in shop
    assert 'id="pay"' not in shop  # nothing is due before the cooperative confirms


def test_a_rejection_needs_a_reason_and_the_reason_is_escaped(app, thach, buyer, products):
    order, = place(buyer, [(products["jelly"], 10)])
    seller = client_of(app, thach)
    response = seller.post(f"/orders/{order.id}/reject", data={"reject-reason": "   "})
    assert response.status_code == 422
    body = page(response)
    assert 'id="reject-reason-error"' in body and '<details class="confirm" id="reject" open>' in body
    assert reload(order).status == OrderStatus.PLACED
    reason = '<script>alert("x")</script> hết hàng'
    assert seller.post(f"/orders/{order.id}/reject", data={"reject-reason": reason}).status_code == 302
    detail = page(client_of(app, buyer).get(f"/orders/{order.id}"))
    assert '<script>alert("x")</script>' not in detail and "&lt;script&gt;alert(" in detail


def test_buyer_notes_are_printed_escaped(app, thach, buyer, products):
    order, = place(buyer, [(products["jelly"], 10)], notes='"><img src=x onerror=alert(1)>', po_number="<b>PO</b>")
    for user in (thach, buyer):
        body = page(client_of(app, user).get(f"/orders/{order.id}"))
        assert "<img src=x" not in body and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in body
        assert "<b>PO</b>" not in body and "&lt;b&gt;PO&lt;/b&gt;" in body


def test_a_cancellation_by_the_buyer_is_recorded_with_its_reason(app, thach, buyer, products):
    order, = place(buyer, [(products["jelly"], 10)])
    shop = client_of(app, buyer)
    assert shop.post(f"/orders/{order.id}/cancel", data={"cancel-reason": "Đổi kế hoạch"}).status_code == 302
    order = reload(order)
    assert order.status == OrderStatus.CANCELLED and order.cancelled_by_id == buyer.organisation_id
    timeline = page(client_of(app, thach).get(f"/orders/{order.id}"))
    assert "Đổi kế hoạch" in timeline and 'id="cancel"' not in timeline


def test_a_refused_step_is_flashed_on_the_order_page(app, thach, buyer, products):
    order, = place(buyer, [(products["jelly"], 10)])
    seller = client_of(app, thach)
    response = seller.post(f"/orders/{order.id}/ship", data={"ship-delivery_note": "Xe tải"})
    assert response.status_code == 302 and response.headers["Location"] == f"/orders/{order.id}"
    assert "once what is due before shipping is paid" in page(seller.get(f"/orders/{order.id}"))
    shop = client_of(app, buyer)
    shop.post(f"/orders/{order.id}/confirm")
    assert reload(order).status == OrderStatus.PLACED


def test_shipping_and_delivery_quantities_are_checked_at_their_lines(app, thach, buyer, products):
    set_bank(thach)
    order, = place(buyer, [(products["jelly"], 10)])
    services.confirm(thach, order.id)
    payment = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
    payments.confirm_transfer(thach, payment.id, payment.amount_vnd)
    line = order.lines[0]
    seller = client_of(app, thach)
    response = seller.post(f"/orders/{order.id}/ship", data={"ship-delivery_note": "", f"quantity-{line.id}": "11"})
    body = page(response)
    assert response.status_code == 422
    assert 'id="ship-delivery_note-error"' in body or f'id="ship-quantity-{line.id}-error"' in body
    response = seller.post(f"/orders/{order.id}/ship", data={"ship-delivery_note": "Phiếu 12",
                                                             f"quantity-{line.id}": "11"})
    body = page(response)
    assert response.status_code == 422 and f'id="ship-quantity-{line.id}-error"' in body and 'value="11"' in body
    assert seller.post(f"/orders/{order.id}/ship", data={"ship-delivery_note": "Phiếu 12",
                                                         f"quantity-{line.id}": "8"}).status_code == 302
    shop = client_of(app, buyer)
    assert 'max="8"' in page(shop.get(f"/orders/{order.id}"))
    response = shop.post(f"/orders/{order.id}/deliver", data={f"quantity-{line.id}": "9"})
    assert response.status_code == 422 and f'id="deliver-quantity-{line.id}-error"' in page(response)
    assert shop.post(f"/orders/{order.id}/deliver", data={f"quantity-{line.id}": "8"}).status_code == 302
    order = reload(order)
    assert order.status == OrderStatus.COMPLETED and order.lines[0].quantity_received == 8


def test_a_deposit_and_the_balance_are_paid_from_the_order_page(app, thach, buyer, products):
    set_bank(thach, mode=PaymentMode.DEPOSIT, deposit_percent=30)
    order, = place(buyer, [(products["jelly"], 100)])  # 100 kg at 50.000: 5.000.000, deposit 1.500.000
    services.confirm(thach, order.id)
    shop = client_of(app, buyer)
    detail = page(shop.get(f"/orders/{order.id}"))
    assert 'id="pay-bank_transfer"' in detail and 'id="pay-card"' not in detail  # cards are off here
    shop.post(f"/orders/{order.id}/payments", data={"method": "bank_transfer"})
    deposit = db.session.scalar(sa.select(Payment))
    assert deposit.amount_vnd == 1_500_000
    seller = client_of(app, thach)
    response = seller.post(f"/orders/{order.id}/payments/{deposit.id}/confirm",
                           data={f"transfer-{deposit.id}-amount_vnd": "1,5"})
    assert response.status_code == 422 and f'id="transfer-{deposit.id}-amount_vnd-error"' in page(response)
    seller.post(f"/orders/{order.id}/payments/{deposit.id}/confirm",
                data={f"transfer-{deposit.id}-amount_vnd": "1 500 000"})
    assert reload(order).status == OrderStatus.PAID and reload(order).paid_vnd == 1_500_000


def test_starting_a_payment_that_is_not_possible_is_flashed(app, buyer, thach, products):
    order, = place(buyer, [(products["jelly"], 10)])
    shop = client_of(app, buyer)
    response = shop.post(f"/orders/{order.id}/payments", data={"method": "bank_transfer"})
    assert response.status_code == 302 and response.headers["Location"] == f"/orders/{order.id}#pay"
    assert "Nothing is due on this order now." in page(shop.get(f"/orders/{order.id}"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


# ---------------------------------------------------------------- the card page

def _card_payment(order, secret="pi_test_1_secret_abc"):
    payment = Payment(order=order, method=PaymentMethod.CARD, purpose=PaymentPurpose.FULL, amount_vnd=order.total_vnd,
                      reference="HTXCARD000001", stripe_payment_intent_id="pi_test_1", stripe_client_secret=secret)
    order.status = OrderStatus.AWAITING_PAYMENT
    db.session.add(payment)
    db.session.commit()
    return payment


def test_the_card_page_loads_stripe_js_with_a_csp_for_it_alone(app, thach, buyer, products):
    app.config.update(STRIPE_PUBLISHABLE_KEY="pk_test_demo", STRIPE_JS_URL="http://127.0.0.1:8420/js.stripe.com/v3/")
    order, = place(buyer, [(products["jelly"], 10)])
    payment = _card_payment(order)
    shop = client_of(app, buyer)
    response = shop.get(f"/orders/{order.id}/payments/{payment.id}")
    body = page(response)
    assert '<script src="http://127.0.0.1:8420/js.stripe.com/v3/"></script>' in body and "js/card-payment.js" in body
    assert 'data-publishable-key="pk_test_demo"' in body and 'data-client-secret="pi_test_1_secret_abc"' in body
    assert f'data-return-url="/orders/{order.id}/payments/{payment.id}/return"' in body
    assert "<script>" not in body  # no inline script
    csp = response.headers["Content-Security-Policy"]
    for directive in ("script-src", "connect-src", "frame-src"):
        assert re.search(rf"{directive} [^;]*http://127\.0\.0\.1:8420", csp), directive
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    other = shop.get(f"/orders/{order.id}").headers["Content-Security-Policy"]
    assert "127.0.0.1:8420" not in other and "connect-src" not in other
    # The cooperative sees the payment, never the card form and its client secret.
    seller = page(client_of(app, thach).get(f"/orders/{order.id}/payments/{payment.id}"))
    assert "pi_test_1_secret_abc" not in seller and "card-payment.js" not in seller


def test_the_card_page_with_the_real_stripe_allows_its_api_and_frames(app, buyer, products):
    app.config.update(STRIPE_PUBLISHABLE_KEY="pk_test_demo", STRIPE_JS_URL=None)
    order, = place(buyer, [(products["jelly"], 10)])
    payment = _card_payment(order)
    response = client_of(app, buyer).get(f"/orders/{order.id}/payments/{payment.id}")
    assert '<script src="https://js.stripe.com/v3/"></script>' in page(response)
    csp = response.headers["Content-Security-Policy"]
    assert re.search(r"connect-src 'self' https://api\.stripe\.com(;|$)", csp)
    assert re.search(r"frame-src [^;]*https://hooks\.stripe\.com", csp)
    assert re.search(r"script-src 'self' https://js\.stripe\.com(;|$)", csp)


@pytest.mark.parametrize(("status", "expected", "category"), [
    ("succeeded", PaymentStatus.SUCCEEDED, "The card payment is received."),
    ("processing", PaymentStatus.PENDING, "still being processed"),
    ("requires_payment_method", PaymentStatus.FAILED, "did not go through"),
])
def test_the_return_from_stripe_asks_how_the_payment_stands(app, monkeypatch, buyer, products, status, expected,
                                                           category):
    order, = place(buyer, [(products["jelly"], 10)])
    order.status = OrderStatus.CONFIRMED
    db.session.commit()
    payment = _card_payment(order)
    intent = SimpleNamespace(id="pi_test_1", status=status, currency="vnd", amount=payment.amount_vnd,
                             last_payment_error="card_declined" if status.startswith("requires") else None)
    monkeypatch.setattr(stripe_gateway, "retrieve_payment_intent", lambda _id: intent, raising=False)
    shop = client_of(app, buyer)
    response = shop.get(f"/orders/{order.id}/payments/{payment.id}/return")
    assert response.status_code == 302 and response.headers["Location"] == f"/orders/{order.id}#payments"
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == expected
    assert category in page(shop.get(f"/orders/{order.id}"))


# ---------------------------------------------------------------- payment settings

def test_the_cooperative_sets_its_terms_and_bank_with_errors_at_their_fields(app, thach, buyer):
    seller = client_of(app, thach)
    form = page(seller.get("/workspace/payment-settings"))
    assert 'value="970436"' in form and "Vietcombank" in form and 'name="mode"' in form
    response = seller.post("/workspace/payment-settings", data={"mode": "deposit", "deposit_percent": "150",
                                                                "bank_bin": "970436", "account_number": "12-34",
                                                                "account_name": ""})
    body = page(response)
    assert response.status_code == 422
    for name in ("deposit_percent", "account_number", "account_name"):
        assert f'id="{name}-error"' in body, name
    response = seller.post("/workspace/payment-settings", data={"mode": "deposit", "deposit_percent": "40", **BANK,
                                                                "password": factories.PASSWORD})
    assert response.status_code == 302
    settings = db.session.get(PaymentSettings, thach.organisation_id)
    assert (settings.mode, settings.deposit_percent, settings.account_number) == (PaymentMode.DEPOSIT, 40,
                                                                                  "0011001932418")
    again = page(seller.get("/workspace/payment-settings"))
    assert 'id="mode-deposit" value="deposit" checked' in again
    assert 'href="/workspace/payment-settings"' in page(seller.get("/organisation"))
    assert client_of(app, buyer).get("/workspace/payment-settings").status_code == 403


# ---------------------------------------------------------------- the confirmation PDF

def test_the_confirmation_pdf_reads_in_vietnamese(app, thach, buyer, products):
    set_bank(thach, mode=PaymentMode.DEPOSIT, deposit_percent=30)
    order, = place(buyer, [(products["jelly"], 100)], po_number="PO-2026-77", notes="Giao buổi sáng, cổng số 2")
    services.confirm(thach, order.id)
    response = client_of(app, buyer).get(f"/orders/{order.id}/confirmation.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert f'filename={order.reference}.pdf' in response.headers["Content-Disposition"]
    text = " ".join(pdf_pages(response.data))
    for words in ("XÁC NHẬN ĐƠN HÀNG", order.reference, "Công ty Thực phẩm Sạch Lạng Sơn", "HTX Thạch đen Tràng Định",
                  "Thạch đen Tràng Định", "100 kg", "50.000 ₫", "5.000.000 ₫", "Đặt cọc 30% (1.500.000 ₫)",
                  "Đã thanh toán / Paid so far 0", "PO-2026-77", "Giao buổi sáng, cổng số 2",
                  "Số 12 đường Trần Đăng Ninh", SOON.strftime("%d/%m/%Y"), "Đã xác nhận, chờ thanh toán"):
        assert words in text, words


# ---------------------------------------------------------------- every route: parties only, CSRF

def _routes(order, payment, product):
    return [
        ("get", f"/orders/{order.id}"), ("get", f"/orders/{order.id}/confirmation.pdf"),
        ("post", f"/orders/{order.id}/confirm"), ("post", f"/orders/{order.id}/reject"),
        ("post", f"/orders/{order.id}/cancel"), ("post", f"/orders/{order.id}/ship"),
        ("post", f"/orders/{order.id}/deliver"), ("post", f"/orders/{order.id}/payments"),
        ("get", f"/orders/{order.id}/payments/{payment.id}"),
        ("get", f"/orders/{order.id}/payments/{payment.id}/return"),
        ("post", f"/orders/{order.id}/payments/{payment.id}/confirm"),
    ]


def test_every_order_route_answers_404_to_anyone_who_is_not_a_party(app, thach, hoi, buyer, rival, alliance_user,
                                                                    products):
    set_bank(thach)
    order, = place(buyer, [(products["jelly"], 10)])
    services.confirm(thach, order.id)
    payment = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
    for stranger in (rival, hoi, alliance_user):
        client = client_of(app, stranger)
        for method, path in _routes(order, payment, products["jelly"]):
            data = {"reject-reason": "x", "cancel-reason": "x", "method": "bank_transfer",
                    f"transfer-{payment.id}-amount_vnd": "1"}
            response = client.open(path, method=method.upper(), data=data if method == "post" else None)
            assert response.status_code == 404, (stranger.email, method, path, response.status_code)
    order = reload(order)
    assert order.status == OrderStatus.AWAITING_PAYMENT and order.paid_vnd == 0
    other_order, = place(rival, [(products["jelly"], 10)])
    # A payment through another order's path is not found either, even for a party of both.
    assert client_of(app, thach).get(f"/orders/{other_order.id}/payments/{payment.id}").status_code == 404


def test_every_form_of_the_order_pages_carries_a_csrf_token(make_app, thach, buyer, products):
    app = make_app(WTF_CSRF_ENABLED=True)
    set_bank(thach)
    order, = place(buyer, [(products["jelly"], 10)])
    services.confirm(thach, order.id)
    payment = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
    pages = {buyer: [f"/products/{products['jelly'].id}/{products['jelly'].slug}", "/cart", f"/orders/{order.id}"],
             thach: [f"/orders/{order.id}", "/workspace/payment-settings"]}
    services.put_in_cart(buyer, products["jelly"].id, 10)
    pages[buyer].append("/checkout")
    for user, paths in pages.items():
        client = app.test_client()
        assert login_with_form(client, user.email).status_code == 302
        for path in paths:
            body = page(client.get(path))
            forms = re.findall(r'<form method="post".*?</form>', body, re.S)
            assert forms, path
            for form in forms:
                assert 'name="csrf_token"' in form, (path, form[:120])
        # and a POST without the token is refused
        assert client.post(f"/orders/{order.id}/cancel", data={"cancel-reason": "x"}).status_code == 400
    assert reload(order).status == OrderStatus.AWAITING_PAYMENT and payment.status == PaymentStatus.PENDING


def test_changing_the_bank_account_asks_for_the_password_and_tells_the_owners(app, thach, buyer, outbox):
    """ASVS 3.7.1 and 2.2.3 (checklist rows 13 and 5): where buyers' money goes is protected like a signature."""
    seller = client_of(app, thach)
    assert seller.post("/workspace/payment-settings", data={"mode": "full", **BANK,
                                                            "password": factories.PASSWORD}).status_code == 302
    outbox.clear()
    changed = {**BANK, "account_number": "9999888877776666"}
    for password, message in (("", "Enter your password to change the bank account."),
                              ("not the password", "The password is wrong.")):
        response = seller.post("/workspace/payment-settings", data={"mode": "full", **changed, "password": password})
        body = page(response)
        assert response.status_code == 422 and 'id="password-error"' in body and message in body, password
    assert db.session.get(PaymentSettings, thach.organisation_id).account_number == "0011001932418"
    assert outbox == []
    # The terms alone change without the password, and nobody is emailed about them.
    assert seller.post("/workspace/payment-settings", data={"mode": "deposit", "deposit_percent": "30",
                                                            **BANK}).status_code == 302
    assert outbox == []
    response = seller.post("/workspace/payment-settings", data={"mode": "full", **changed,
                                                                "password": factories.PASSWORD})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(PaymentSettings, thach.organisation_id).account_number == "9999888877776666"
    owners = {u.email for u in thach.organisation.members if u.is_owner and u.is_active} | {thach.email}
    assert {m.to[0] for m in outbox} == owners
    body = outbox[0].body
    assert "…6666" in body and "…2418" in body and thach.full_name in body and "/workspace/payment-settings" in body


def test_the_bank_account_password_is_held_to_the_login_throttle(app, thach):
    app.config["LOGIN_FREE_FAILURES"] = 2
    seller = client_of(app, thach)
    data = {"mode": "full", **BANK, "password": "wrong"}
    statuses = [seller.post("/workspace/payment-settings", data=data).status_code for _ in range(3)]
    assert statuses == [422, 422, 429], statuses
    refused = seller.post("/workspace/payment-settings", data={**data, "password": factories.PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert db.session.get(PaymentSettings, thach.organisation_id) is None


def test_the_list_takes_the_same_statements_whatever_the_number_of_buyers(app, thach, products, monkeypatch):
    """Issue 14: the buyers come with the orders (a cooperative's list made one query per buyer on each page). The
    page is rendered each time (not kept for the person: that is test_private_page_cache.py's)."""
    monkeypatch.setitem(app.config, "PRIVATE_PAGE_CACHE_SECONDS", 0)
    def statements():
        counted = []
        listener = lambda *args: counted.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            response = client.get("/orders")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert response.status_code == 200
        return len(counted)

    buyers = [factories.user(factories.organisation("enterprise", legal_name=f"Công ty Mua {n}"),
                             email=f"mua{n}@dn.example") for n in range(6)]
    client = client_of(app, thach)
    for buyer in buyers[:2]:
        place(buyer, [(products["jelly"], 10)])
    two = statements()
    for buyer in buyers[2:]:
        place(buyer, [(products["jelly"], 10)])
    html = page(client.get("/orders"))
    assert all(f"Công ty Mua {n}" in html for n in range(6))
    assert statements() == two
