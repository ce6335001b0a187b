"""Memoranda of understanding in a real browser, in Vietnamese, on a phone (390×844) and on a desktop: an
enterprise proposes an MoU from a product page, the cooperative proposes changes, both sign with their password,
the enterprise downloads the signed PDF and checks it on the public verification page. axe finds no WCAG 2.1 A/AA
violation on any page of the way, and no page scrolls sideways on the phone.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    ALLIANCE,
    DEMO_PASSWORD,
    DEVICES,
    ENTERPRISE_OWNER,
    check_page,
)

pytestmark = pytest.mark.browser

COOPERATIVE = "hadung@demo.chohtx.vn"  # HTX nông lâm thủy sản Hà Dũng (demo)
PRODUCT = "Thảo quả khô"  # one of its published demo products


def state_of(page):
    return page.locator("#agreement-state").get_attribute("data-state")


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_draft_counter_proposal_signatures_download_and_verification(new_context, login_states, device, tmp_path):
    phone = device == "phone"
    buyer = new_context(storage_state=login_states(ENTERPRISE_OWNER, "vi"), **DEVICES[device]).new_page()
    seller = new_context(storage_state=login_states(COOPERATIVE, "vi"), **DEVICES[device]).new_page()

    # The enterprise finds the product and proposes an MoU from its page.
    buyer.goto(f"/search?q={PRODUCT}")
    buyer.locator("main").get_by_role("link", name=PRODUCT, exact=True).first.click()
    buyer.wait_for_url(re.compile(r"/products/\d+"))
    check_page(buyer, phone)
    buyer.locator("#propose-mou").click()
    buyer.wait_for_url(re.compile(r"/agreements/new\?product_id=\d+"))
    expect(buyer.locator("#lines-0-product_id option:checked")).to_contain_text(PRODUCT)
    check_page(buyer, phone)
    buyer.locator("#lines-0-quantity").fill("500")
    buyer.locator("#lines-0-period").select_option("year")
    buyer.locator("#delivery_place").fill("Kho Công ty CP Thực phẩm Sạch Thủ Đô, Long Biên, Hà Nội")
    buyer.locator("#save-terms").click()
    buyer.wait_for_url(re.compile(r"/agreements/\d+$"))
    detail = buyer.url
    assert state_of(buyer) == "draft"
    check_page(buyer, phone)
    buyer.locator("#send").click()
    expect(buyer.locator("#agreement-state")).to_have_attribute("data-state", "sent")

    # The cooperative sees whose turn it is and proposes changes: a second revision.
    seller.goto(detail)
    expect(seller.locator("#turn .yours")).to_be_visible()
    check_page(seller, phone)
    seller.locator("#change-terms").click()
    seller.wait_for_url(re.compile(r"/agreements/\d+/edit$"))
    check_page(seller, phone)
    seller.locator("#lines-0-quantity").fill("400")
    seller.locator("#note").fill("Năm nay HTX chỉ bảo đảm được 400 kg.")
    seller.locator("#save-terms").click()
    seller.wait_for_url(detail)
    assert state_of(seller) == "negotiating"

    # The enterprise reads what changed, accepts revision 2 and signs with its password.
    buyer.goto(detail)
    changes = buyer.locator("#changes table")
    expect(changes).to_contain_text("500")
    expect(changes).to_contain_text("400")
    check_page(buyer, phone)
    buyer.locator("#accept").click()
    expect(buyer.locator("#agreement-state")).to_have_attribute("data-state", "awaiting_signatures")
    buyer.locator("#password").fill(DEMO_PASSWORD)
    buyer.locator("#sign-button").click()
    expect(buyer.locator("#agreement-state")).to_have_attribute("data-state", "partially_signed")
    check_page(buyer, phone)

    # The cooperative signs too: a wrong password first is refused next to its field.
    seller.goto(detail)
    seller.locator("#password").fill("không phải mật khẩu")
    seller.locator("#sign-button").click()
    expect(seller.locator("#password-error")).to_be_visible()
    check_page(seller, phone)
    seller.locator("#password").fill(DEMO_PASSWORD)
    seller.locator("#sign-button").click()
    expect(seller.locator("#agreement-state")).to_have_attribute("data-state", "signed")

    # The enterprise downloads the signed PDF and checks it on the public verification page.
    buyer.goto(detail)
    check_page(buyer, phone)
    with buyer.expect_download() as download:
        buyer.locator("#download-pdf").click()
    path = tmp_path / "thoa-thuan.pdf"
    download.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF-")
    buyer.goto("/verify")
    check_page(buyer, phone)
    buyer.locator("#document").set_input_files(str(path))
    buyer.locator("#check").click()
    expect(buyer.locator("#verdict")).to_have_attribute("data-verdict", "valid")
    expect(buyer.locator("#record-match")).to_have_attribute("data-match", "current")
    expect(buyer.locator("main .signature-card")).to_have_count(2)
    check_page(buyer, phone)


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_the_other_mou_pages_are_accessible(new_context, login_states, device):
    phone = device == "phone"
    buyer = new_context(storage_state=login_states(ENTERPRISE_OWNER, "vi"), **DEVICES[device]).new_page()
    buyer.goto("/agreements")
    expect(buyer.locator("main table")).to_be_visible()
    check_page(buyer, phone)
    buyer.locator("#state").select_option("declined")
    buyer.locator("main form[action='/agreements'] button[type=submit]").click()
    expect(buyer.locator("main .badge.state-declined")).to_have_count(1)
    buyer.locator("main table a").first.click()
    expect(buyer.locator("#turn")).to_be_visible()
    check_page(buyer, phone)
    buyer.goto("/agreements?state=signed")
    buyer.locator("main table a").first.click()
    expect(buyer.locator("#log")).to_be_visible()
    check_page(buyer, phone)

    exporter = new_context(storage_state=login_states("purchasing@demo-export.vn", "vi"),
                           **DEVICES[device]).new_page()
    exporter.goto("/inquiries")
    check_page(exporter, phone)
    exporter.locator("main table a", has_text="Thảo quả khô").first.click()  # the demo's answered inquiry
    expect(exporter.locator("#draft-from-inquiry")).to_be_visible()
    check_page(exporter, phone)
    exporter.locator("#draft-from-inquiry").click()
    expect(exporter.locator("#lines-0-unit_price_vnd")).to_have_value("240000")
    check_page(exporter, phone)

    staff = new_context(storage_state=login_states(ALLIANCE, "vi"), **DEVICES[device]).new_page()
    staff.goto("/conferences")
    check_page(staff, phone)
    staff.locator("main ul a").first.click()
    expect(staff.locator("main h1")).to_contain_text("Hội nghị gặp mặt")
    check_page(staff, phone)
