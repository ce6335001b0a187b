"""The follow-up of a signed MoU in a real browser, in Vietnamese, on a phone (390×844) and on a desktop: alliance
staff add an overdue milestone, record a visit and nudge a party; the party sees the notice in the header, opens
it, and the cooperative marks the milestone done with a photo as evidence. axe finds no WCAG 2.1 A/AA violation
at any step (forms opened), and no page scrolls sideways on the phone."""
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.helpers import ALLIANCE, COOPERATIVE_OWNER, DEVICES, ENTERPRISE_OWNER, check_page, open_menu, unique

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_milestone_visit_nudge_notice_and_evidence(new_context, login_states, device):
    phone = device == "phone"
    seller = new_context(storage_state=login_states(COOPERATIVE_OWNER, "vi"), **DEVICES[device]).new_page()
    staff = new_context(storage_state=login_states(ALLIANCE, "vi"), **DEVICES[device]).new_page()
    buyer = new_context(storage_state=login_states(ENTERPRISE_OWNER, "vi"), **DEVICES[device]).new_page()

    # The demo's signed MoU of HTX Nông sản sạch Tràng Định with the Thủ Đô food company (black jelly).
    seller.goto("/agreements?state=signed")
    seller.locator("main table a").first.click()
    seller.wait_for_url(re.compile(r"/agreements/\d+"))
    mou = re.search(r"/agreements/\d+", seller.url).group(0)
    expect(seller.locator("#follow-up")).to_be_visible()
    check_page(seller, phone)

    # Staff add a milestone already late, record a visit and nudge one party (each device nudges another party:
    # the same party is not nudged twice within an hour).
    title = unique("Giao mẫu thạch đen")
    staff.goto(f"{mou}#follow-up")
    staff.locator("#add-milestone summary").click()
    check_page(staff, phone)
    staff.locator("#milestone-title").fill(title)
    staff.locator("#milestone-responsible").select_option("seller")
    staff.locator("#milestone-due_on").fill((date.today() - timedelta(days=3)).isoformat())
    staff.locator("#milestone-repeat").select_option("monthly")
    staff.locator("#add-milestone button[type=submit]").click()
    milestone = staff.locator(".milestone", has_text=title)
    expect(milestone.locator(".status-overdue")).to_be_visible()
    check_page(staff, phone)

    staff.locator("#record-follow-up summary").click()
    staff.locator("#log-kind").select_option("visit")
    staff.locator("#log-note").fill("Thăm xưởng sơ chế; HTX cần thêm kho lạnh trước vụ thu hoạch.")
    check_page(staff, phone)
    staff.locator("#record-follow-up button[type=submit]").click()
    expect(staff.locator(".timeline-entry.kind-visit").first).to_be_visible()

    nudged, nudged_page = ("seller", seller) if phone else ("buyer", buyer)
    staff.locator("#nudge summary").click()
    staff.locator("#nudge-target").select_option(nudged)
    staff.locator("#nudge-message").fill(f"Đề nghị cập nhật kế hoạch giao hàng ({title}).")
    check_page(staff, phone)
    staff.locator("#nudge button[type=submit]").click()
    expect(staff.locator(".timeline-entry.kind-nudge", has_text=title)).to_be_visible()
    check_page(staff, phone)

    # The nudged party sees the notice in the header and opens it.
    nudged_page.goto("/")
    open_menu(nudged_page)
    expect(nudged_page.locator("#nav-notices .nav-count")).to_be_visible()
    nudged_page.locator("#nav-notices").click()
    notice = nudged_page.locator(".notice.unread", has_text=title)
    expect(notice).to_be_visible()
    check_page(nudged_page, phone)
    notice.get_by_role("link").click()
    nudged_page.wait_for_url(re.compile(r"/agreements/\d+"))

    # The cooperative marks the milestone done with a photo of the delivery note; the next month's is added.
    seller.goto(f"{mou}#follow-up")
    seller.reload()  # the page was already open: a new #fragment alone does not load it again
    milestone = seller.locator(".milestone", has_text=title).first
    milestone.locator("summary").first.click()
    check_page(seller, phone)
    milestone.locator("textarea").fill("Đã giao 5 kg mẫu, phiếu giao số 12.")
    milestone.locator("input[type=file]").set_input_files(
        {"name": "phieu-giao.png", "mimeType": "image/png", "buffer": factories.png((200, 150))})
    milestone.locator("button[type=submit]").first.click()
    done = seller.locator(".milestone.milestone-done", has_text=title)
    expect(done).to_be_visible()
    expect(done.locator("a[href$='/evidence']")).to_be_visible()
    expect(seller.locator(".milestone.milestone-open", has_text=title)).to_have_count(1)  # next month's
    check_page(seller, phone)
