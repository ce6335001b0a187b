"""The alliance's dashboard and a conference's report in a real browser, in Vietnamese, on a phone (390×844) and
on a desktop, with the demo data: the signed MoUs of the 2024 conference are in several tracking states, every
chart is an inline SVG image with its table, axe finds no WCAG 2.1 A/AA violation, and nothing scrolls sideways
on the phone (the browser fixtures also fail the test on any CSP violation or console error)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ALLIANCE, DEVICES, check_page, header_link

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_the_dashboard_and_a_conference_report(new_context, login_states, device):
    phone = device == "phone"
    staff = new_context(storage_state=login_states(ALLIANCE, "vi"), **DEVICES[device]).new_page()
    staff.goto("/")
    header_link(staff, "/alliance/dashboard").click()
    staff.wait_for_url(re.compile(r"/alliance/dashboard$"))
    charts = staff.locator('main svg[role="img"]')
    expect(charts.first).to_be_visible()
    assert charts.count() >= 8
    assert staff.locator("main table").count() >= charts.count()
    box = charts.first.bounding_box()
    assert box["width"] <= DEVICES[device]["viewport"]["width"]
    # The demo's signed MoUs: on track, behind and stalled (the status table's second row of figures).
    status_table = staff.locator("section", has=staff.locator("h2#figure-2")).locator("table tbody tr")
    counts = [int(status_table.nth(i).locator("td").first.inner_text()) for i in range(status_table.count())]
    assert sum(1 for count in counts if count > 0) >= 3
    check_page(staff, phone)

    staff.locator("#conferences-heading + ul a").first.click()
    staff.wait_for_url(re.compile(r"/alliance/conferences/\d+$"))
    expect(staff.locator("#conference-summary")).to_contain_text("thỏa thuận được ký tại hội nghị")
    expect(staff.locator('main svg[role="img"]').first).to_be_visible()
    check_page(staff, phone)
    with staff.expect_download() as download:
        staff.locator('a[href$="/report.pdf"]').click()
    assert download.value.suggested_filename.endswith(".pdf")
