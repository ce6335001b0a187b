"""Ordering and paying in a real browser, in Vietnamese, on a phone (390×844): an enterprise orders 2 tấn of a
product from each of two cooperatives in one checkout; each cooperative confirms its order; the enterprise pays
one by card through Stripe.js served by the fake Stripe server (localstripe, with its 3-D Secure dialog) and the
other by bank transfer (VietQR), which the cooperative records as received. Both cooperatives then see their
order paid. axe finds no WCAG 2.1 A/AA violation on the cart, checkout, order, card and transfer pages, and
none of them scrolls sideways.
"""
import re

import pytest
from playwright.sync_api import expect

from marketplace import create_app
from marketplace.accounts import services as accounts
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Product
from marketplace.demo_orders import ADDRESSES, possible_date
from marketplace.extensions import db
from tests.browser.helpers import (
    ALLIANCE,
    ENTERPRISE_OWNER,
    assert_accessible,
    assert_fits_the_screen,
    expect_language,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CARD_COOPERATIVE = "trangdinh@demo.chohtx.vn"  # full payment before shipping; sells its rice by the tấn
CARD_PRODUCT = "Gạo Bao Thai Tràng Định"
TRANSFER_COOPERATIVE = "hoangtrung@demo.chohtx.vn"  # full payment before shipping, with a bank account
TRANSFER_PRODUCT = "Hồi tươi Hoàng Trung (theo tấn)"  # added here: the demo data has one product in tấn
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def order_data(live_server):
    """Product paths, a possible delivery date and address; adds a product in tấn to the second cooperative."""
    app = create_app({
        "MARKETPLACE_ENV": "development", "PUBLIC_BASE_URL": live_server.url, "SECRET_KEY": live_server.env["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": live_server.database_url, "UPLOAD_DIR": live_server.env["UPLOAD_DIR"],
        "SEARCH_INDEX_DIR": live_server.env["SEARCH_INDEX_DIR"], "MAIL_BACKEND": "locmem",
    })
    with app.test_request_context(base_url=live_server.url):
        seller = accounts.user_by_email(TRANSFER_COOPERATIVE)
        cooperative = seller.organisation
        product, _created = catalog.import_product(
            accounts.user_by_email(ALLIANCE), cooperative, catalog.ProductDetails(
                name=TRANSFER_PRODUCT, category="spices_herbs", unit="tan", province_code=cooperative.province_code,
                commune_code=cooperative.commune_code, base_price_vnd=25_000_000, min_order_qty=1,
                order_increment=1, capacity_qty=50, capacity_period="month", lead_time_days=3,
                description="Hồi tươi thu hái tại Văn Quan, giao theo tấn (dữ liệu thử nghiệm)."),
            publish=True)
        db.session.commit()
        rice = db.session.scalar(db.select(Product).where(
            Product.cooperative_id == accounts.user_by_email(CARD_COOPERATIVE).organisation_id,
            Product.name == CARD_PRODUCT))
        province, commune, _street = ADDRESSES[ENTERPRISE_OWNER]
        data = {
            "card": f"/products/{rice.id}/{rice.slug}",
            "transfer": f"/products/{product.id}/{product.slug}",
            "date": possible_date([rice, product]).isoformat(),
            "province": str(province),
            "card_cooperative": rice.cooperative.legal_name,
            "transfer_cooperative": cooperative.legal_name,
            "commune": str(commune),
        }
        db.session.remove()
    with app.app_context():
        db.engine.dispose()
    return data


def check(page):
    """Every page of the way: Vietnamese, accessible, within the phone's screen."""
    expect_language(page, "vi")
    assert_accessible(page)
    assert_fits_the_screen(page)


def add_two_tonnes(page, path, name):
    page.goto(path)
    expect(page.locator("main h1")).to_contain_text(name)
    page.locator("#quantity").fill("2")
    page.locator("#add-to-cart").tap()
    page.wait_for_url("**/cart")


def placed_order(buyer, cooperative):
    """(path, reference) of the order placed with `cooperative`, from the list of the orders just placed."""
    link = buyer.locator("#placed li", has_text=cooperative).locator("a")
    return link.get_attribute("href"), link.inner_text().strip()


def confirm(page, path):
    page.goto(path)
    page.locator("#confirm-order").tap()
    expect(page.locator("main .order-status")).to_have_attribute("data-status", "confirmed")


def expect_paid_in_list(page, reference):
    page.goto("/orders")
    row = page.locator("#orders-table tbody tr", has=page.get_by_role("link", name=reference, exact=True))
    expect(row.locator(".order-status")).to_have_attribute("data-status", "paid")
    expect(row.locator(".order-status")).to_have_text("Đã thanh toán")


def test_two_cooperatives_one_checkout_paid_by_card_and_by_bank_transfer(new_context, login_states, order_data):
    buyer = new_context(storage_state=login_states(ENTERPRISE_OWNER, "vi"), **PHONE).new_page()

    # 2 tấn from each cooperative, then the cart: one group per cooperative.
    add_two_tonnes(buyer, order_data["card"], CARD_PRODUCT)
    add_two_tonnes(buyer, order_data["transfer"], TRANSFER_PRODUCT)
    expect(buyer.locator("main .cart-group")).to_have_count(2)
    for name in (CARD_PRODUCT, TRANSFER_PRODUCT):
        expect(buyer.locator("main .cart-line", has_text=name)).to_contain_text("2 tấn")
    check(buyer)

    # Checkout: the province's communes load when it is chosen; a date after the lead time, in season.
    buyer.locator("#go-to-checkout").tap()
    buyer.wait_for_url("**/checkout")
    check(buyer)
    buyer.locator("#province_code").select_option(order_data["province"])
    buyer.locator("#commune_code").select_option(order_data["commune"])  # waits for communes.js to fill it
    buyer.locator("#street").fill("Kho số 3, đường Nguyễn Văn Linh")
    buyer.locator("#requested_date").fill(order_data["date"])
    buyer.locator("#po_number").fill("PO-THU-2T")
    buyer.locator("#place-order").tap()
    buyer.wait_for_url(re.compile(r"/orders\?checkout="))
    expect(buyer.locator("#placed li")).to_have_count(2)
    card_order, card_reference = placed_order(buyer, order_data["card_cooperative"])
    transfer_order, transfer_reference = placed_order(buyer, order_data["transfer_cooperative"])
    check(buyer)

    # Each cooperative confirms its order.
    card_seller = new_context(storage_state=login_states(CARD_COOPERATIVE, "vi"), **PHONE).new_page()
    transfer_seller = new_context(storage_state=login_states(TRANSFER_COOPERATIVE, "vi"), **PHONE).new_page()
    confirm(card_seller, card_order)
    confirm(transfer_seller, transfer_order)
    check(transfer_seller)

    # The card: Stripe.js from the fake Stripe server, its 3-D Secure dialog, back to the order, paid.
    buyer.goto(card_order)
    expect(buyer.locator("main .order-status")).to_have_attribute("data-status", "confirmed")
    check(buyer)
    buyer.locator("#pay-card").tap()
    buyer.wait_for_url(re.compile(r"/orders/\d+/payments/\d+$"))
    expect(buyer.locator("#card-pay")).to_be_enabled()  # card-payment.js ran with Stripe.js loaded
    check(buyer)
    card = buyer.locator("#card-element")
    card.locator("input[placeholder=number]").fill("4242424242424242")
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("2034")
    card.locator("input[placeholder=cvc]").fill("123")
    buyer.locator("#card-pay").tap()
    buyer.get_by_role("button", name="Complete authentication").click()
    buyer.wait_for_url(re.compile(r"/orders/\d+(#payments)?$"))
    expect(buyer.locator("main .alert-success")).to_be_visible()
    expect(buyer.locator("main .order-status")).to_have_attribute("data-status", "paid")
    expect(buyer.locator("main .order-status")).to_have_text("Đã thanh toán")
    check(buyer)

    # The bank transfer: the VietQR code and the message to use; the cooperative records the amount.
    buyer.goto(transfer_order)
    due = buyer.locator("#due-now").inner_text()
    buyer.locator("#pay-bank_transfer").tap()
    buyer.wait_for_url(re.compile(r"/orders/\d+/payments/\d+$"))
    expect(buyer.locator("main figure.vietqr svg")).to_be_visible()
    message = buyer.locator("#transfer-message").inner_text()
    amount = buyer.locator("#transfer-amount").inner_text()
    assert message.strip() and amount.strip().isdigit()
    assert int(amount) == int(re.sub(r"\D", "", due))
    check(buyer)

    transfer_seller.goto(transfer_order)
    payment = transfer_seller.locator("#payments li", has_text=message)
    payment.locator("summary").tap()
    payment.locator("input[name$=amount_vnd]").fill(amount)  # prefilled with what is due; the amount received
    payment.locator("button[type=submit]").tap()
    expect(transfer_seller.locator("main .alert-success")).to_be_visible()
    expect(transfer_seller.locator("main .order-status")).to_have_attribute("data-status", "paid")
    check(transfer_seller)

    # Both cooperatives see their order paid in their list.
    expect_paid_in_list(card_seller, card_reference)
    check(card_seller)
    expect_paid_in_list(transfer_seller, transfer_reference)
    buyer.goto(transfer_order)
    expect(buyer.locator("main .order-status")).to_have_attribute("data-status", "paid")

