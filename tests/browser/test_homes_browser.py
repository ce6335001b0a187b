"""Each role on a phone (390×844), in Vietnamese, from logging in to its home (/home) and its main task (issue 13,
"each role starts where its work is"): a visitor finds a product and is asked to log in to ask the cooperative; a
buyer searches, opens a product, adds it to its cart and asks the cooperative a question; a cooperative opens an
order to confirm from its home and confirms it; the alliance opens an MoU needing attention; a pending
organisation sees what it waits for and prepares a product. axe finds no WCAG 2.1 A/AA violation on any page
of the way and none scrolls sideways.
"""
import re

import pytest
from playwright.sync_api import expect

from marketplace import create_app
from marketplace.accounts import services as accounts
from marketplace.demo_orders import possible_date
from marketplace.extensions import db
from marketplace.orders import services as orders
from tests.browser.helpers import (
    ALLIANCE,
    COOPERATIVE_OWNER,
    DEVICES,
    check_page,
    log_in,
    set_language_with_header_button,
)

pytestmark = pytest.mark.browser

PHONE = DEVICES["phone"]
BUYER = "purchasing@demo-export.vn"  # not the enterprise whose cart the orders journey checks out
PENDING_ENTERPRISE = "lienhe@demo-sieuthi.vn"
PRODUCT = "Cây thạch đen khô Tràng Định"


@pytest.fixture(scope="module")
def placed_order(live_server):
    """A new order from BUYER to the cooperative of COOPERATIVE_OWNER, waiting for its confirmation: its id."""
    app = create_app({
        "MARKETPLACE_ENV": "development", "PUBLIC_BASE_URL": live_server.url, "SECRET_KEY": live_server.env["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": live_server.database_url, "UPLOAD_DIR": live_server.env["UPLOAD_DIR"],
        "SEARCH_INDEX_DIR": live_server.env["SEARCH_INDEX_DIR"], "MAIL_BACKEND": "locmem",
    })
    with app.test_request_context(base_url=live_server.url):
        from marketplace.catalog.models import Product

        seller = accounts.user_by_email(COOPERATIVE_OWNER)
        product = db.session.scalar(db.select(Product).where(Product.cooperative_id == seller.organisation_id,
                                                             Product.name == PRODUCT))
        order, = orders.place_orders(accounts.user_by_email(BUYER), orders.OrderRequest.from_mapping({
            "lines": [{"product_id": product.id, "quantity": product.min_order_qty}],
            "delivery": {"province_code": 31, "commune_code": 11311, "street": "Số 8 Lạch Tray",
                         "requested_date": possible_date([product]).isoformat()}}))
        order_id = order.id
        db.session.remove()
    with app.app_context():
        db.engine.dispose()
    return order_id


def phone_page(new_context):
    page = new_context(**PHONE).new_page()
    page.goto("/login")
    set_language_with_header_button(page, "vi")
    return page


def log_in_to_home(page, email):
    log_in(page, email)
    page.wait_for_url("**/home")
    check_page(page, phone=True)


def test_a_visitor_finds_a_product_and_is_asked_to_log_in_to_ask_the_cooperative(new_context):
    page = phone_page(new_context)
    page.goto("/")
    check_page(page, phone=True)
    for block in ("for-cooperatives", "for-enterprises", "for-alliance"):
        expect(page.locator(f"section[aria-labelledby='{block}'] a").first).to_be_visible()
    page.locator("main a[href='/search']").first.tap()
    page.wait_for_url("**/search")
    page.locator("#q").fill("thach den")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=thach\+den"))
    page.locator("main .search-results .product-card-title a").first.tap()
    page.wait_for_url(re.compile(r"/products/\d+"))
    check_page(page, phone=True)
    expect(page.locator("#order-hint a")).to_be_visible()
    page.locator("#order-hint a").tap()
    page.wait_for_url(re.compile(r"/login\?next="))
    check_page(page, phone=True)


def test_a_buyer_searches_adds_to_its_cart_and_asks_the_cooperative(new_context):
    page = phone_page(new_context)
    log_in_to_home(page, BUYER)
    expect(page.locator("#payments-due")).to_be_visible()
    page.locator("main a[href='/search']").first.tap()
    page.wait_for_url("**/search")
    page.locator("#q").fill("thach den kho")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    page.locator("main .search-results .product-card-title a", has_text=PRODUCT).first.tap()
    page.wait_for_url(re.compile(r"/products/\d+"))
    check_page(page, phone=True)
    product_path = page.url
    product_id = re.search(r"/products/(\d+)", product_path).group(1)
    for action in ("#ask-cooperative", "#propose-mou", "#add-to-cart"):
        expect(page.locator(action)).to_be_visible()

    page.locator("#add-to-cart").tap()
    page.wait_for_url("**/cart")
    check_page(page, phone=True)
    expect(page.locator("main", has_text=PRODUCT)).to_be_visible()
    remove = page.locator(f"main form[action='/cart/items/{product_id}/remove']")
    remove.locator("button[type=submit]").tap()  # leave the demo cart as it was
    expect(remove).to_have_count(0)

    page.goto(product_path)
    page.locator("#ask-cooperative").tap()
    page.wait_for_url(re.compile(r"/inquiries/new\?product_id=\d+"))
    check_page(page, phone=True)
    page.locator("#body").fill("Hợp tác xã có thể gửi mẫu 2 kg trước không?")
    page.locator("main form button[type=submit]").tap()
    page.wait_for_url(re.compile(r"/inquiries/\d+$"))
    check_page(page, phone=True)


def test_a_cooperative_confirms_an_order_from_its_home(new_context, placed_order):
    page = phone_page(new_context)
    log_in_to_home(page, COOPERATIVE_OWNER)
    link = page.locator(f"#orders-to-confirm a[href='/orders/{placed_order}']")
    expect(link).to_be_visible()
    link.tap()
    page.wait_for_url(f"**/orders/{placed_order}")
    check_page(page, phone=True)
    page.locator("#confirm-order").tap()
    page.wait_for_url(re.compile(rf"/orders/{placed_order}"))
    expect(page.locator("#confirm-order")).to_have_count(0)
    check_page(page, phone=True)
    page.goto("/home")
    expect(page.locator(f"#orders-to-confirm a[href='/orders/{placed_order}']")).to_have_count(0)


def test_the_alliance_opens_an_mou_needing_attention_from_its_home(new_context):
    page = phone_page(new_context)
    log_in_to_home(page, ALLIANCE)
    expect(page.locator("#queue-organisations")).to_be_visible()
    expect(page.locator("#follow-up-figures a").first).to_be_visible()
    mou = page.locator("#needs-attention li a").first
    expect(mou).to_be_visible()
    reference = mou.inner_text()
    mou.tap()
    page.wait_for_url(re.compile(r"/agreements/\d+$"))
    expect(page.locator("main")).to_contain_text(reference)
    check_page(page, phone=True)


def test_a_pending_organisation_sees_what_it_waits_for(new_context):
    page = phone_page(new_context)
    log_in_to_home(page, PENDING_ENTERPRISE)
    expect(page.locator("#waiting-for")).to_be_visible()
    page.locator("#prepare a[href='/products']").tap()
    page.wait_for_url("**/products")
    page.locator("main .product-card-title a").first.tap()
    page.wait_for_url(re.compile(r"/products/\d+"))
    expect(page.locator("#order-waiting")).to_be_visible()
    expect(page.locator("#add-to-cart")).to_have_count(0)
    check_page(page, phone=True)
