"""Journeys through the site in a real browser, as people make them.

Every page these tests open is watched by the `new_context` fixture: a CSP violation, a console
error or an uncaught exception on any of them fails the test.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    ALLIANCE,
    NEW_PASSWORD,
    assert_accessible,
    assert_fits_the_screen,
    expect_language,
    fill_registration,
    finish_registration,
    header_link,
    log_in,
    log_out,
    mail_sent_to,
    register,
    set_language_with_header_button,
    submit_registration,
    unique,
)

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


def verify_as_alliance(page, legal_name):
    """From the alliance's queue of pending organisations, open one and press Verify."""
    header_link(page, "/alliance/organisations").click()
    page.wait_for_url("**/alliance/organisations")
    page.get_by_role("link", name=legal_name, exact=True).click()
    page.wait_for_url(re.compile(r"/alliance/organisations/\d+$"))
    expect(page.locator("main h1")).to_have_text(legal_name)
    expect(page.locator("main .badge.status-pending")).to_be_visible()
    page.locator("main button[formaction$='/verify']").click()
    expect(page.locator("main .badge.status-verified")).to_be_visible()
    expect(page.locator("main .alert-success")).to_be_visible()
    expect(page.locator("main button[formaction$='/verify']")).to_have_count(0)


def test_registration_verification_language_and_logout(new_context, live_server):
    cooperative = new_context().new_page()
    cooperative_name, cooperative_email = register(cooperative, "cooperative", live_server)
    # The owner is logged in and sees the notice that the alliance has not verified them yet.
    expect(cooperative.locator("main .alert-info")).to_be_visible()
    log_out(cooperative)

    enterprise = new_context().new_page()
    enterprise_name, _ = register(enterprise, "enterprise", live_server)

    alliance = new_context().new_page()
    log_in(alliance, ALLIANCE)
    set_language_with_header_button(alliance, "vi")
    verify_as_alliance(alliance, cooperative_name)
    verify_as_alliance(alliance, enterprise_name)
    # Verified organisations leave the pending queue.
    header_link(alliance, "/alliance/organisations").click()
    alliance.wait_for_url("**/alliance/organisations")
    expect(alliance.get_by_role("link", name="HTX Thanh Xuân", exact=True)).to_be_visible()  # still pending
    expect(alliance.get_by_role("link", name=cooperative_name, exact=True)).to_have_count(0)
    expect(alliance.get_by_role("link", name=enterprise_name, exact=True)).to_have_count(0)

    # The enterprise's open page shows the new status after a reload.
    enterprise.reload()
    expect(enterprise.locator("main .badge.status-verified")).to_be_visible()
    expect(enterprise.locator("main .alert-info")).to_have_count(0)

    # The cooperative logs in again and sees itself verified.
    log_in(cooperative, cooperative_email, NEW_PASSWORD)
    header_link(cooperative, "/organisation").click()
    cooperative.wait_for_url("**/organisation")
    expect(cooperative.locator("main h1")).to_have_text(cooperative_name)
    expect(cooperative.locator("main .badge.status-verified")).to_be_visible()
    expect(cooperative.locator("main .alert-info")).to_have_count(0)

    # Language: English and back, with the header button; the page stays the same.
    expect_language(cooperative, "vi")
    set_language_with_header_button(cooperative, "en")
    expect(cooperative).to_have_url(re.compile(r"/organisation$"))
    expect(cooperative.locator("header form.language-switch button[value=vi]")).to_have_attribute("lang", "vi")
    header_link(cooperative, "/account").click()
    expect_language(cooperative, "en")  # the choice holds on the next page
    set_language_with_header_button(cooperative, "vi")
    expect(cooperative).to_have_url(re.compile(r"/account$"))

    # Log out with the header button; the account page then asks to log in.
    log_out(cooperative)
    cooperative.goto("/account")
    expect(cooperative).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    expect(cooperative.locator("main #email")).to_be_visible()


def test_communes_load_without_reloading_the_form(page):
    page.goto("/register/cooperative")
    page.locator("#legal_name").fill("HTX giữ nguyên")
    expect(page.locator("#commune_code option")).to_have_count(1)  # only the placeholder
    # With JavaScript the no-JS fallback button is hidden.
    expect(page.locator("button[name=refresh_communes]")).to_be_hidden()
    page.locator("#province_code").select_option(label="Lạng Sơn")
    expect(page.locator("#commune_code option", has_text="Xã Bắc Sơn")).to_have_count(1)
    expect(page.locator("#commune_code option", has_text="Phường Ba Đình")).to_have_count(0)
    expect(page.locator("#legal_name")).to_have_value("HTX giữ nguyên")  # no reload lost the input
    # Another province replaces the list.
    page.locator("#province_code").select_option(label="Thành phố Hà Nội")
    expect(page.locator("#commune_code option", has_text="Phường Ba Đình")).to_have_count(1)
    expect(page.locator("#commune_code option", has_text="Xã Bắc Sơn")).to_have_count(0)


def test_registration_works_without_javascript(new_context, live_server):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/register/cooperative")
    refresh = page.locator("button[name=refresh_communes]")
    expect(refresh).to_be_visible()
    page.locator("#legal_name").fill("HTX không dùng JavaScript")
    page.locator("#province_code").select_option(label="Lạng Sơn")
    expect(page.locator("#commune_code option")).to_have_count(1)  # nothing fetches them
    refresh.click()
    # The form comes back with the province kept, its communes listed, the input kept, no errors.
    expect(page.locator("#commune_code option", has_text="Xã Bắc Sơn")).to_have_count(1)
    expect(page.locator("#province_code option:checked")).to_have_text("Lạng Sơn")
    expect(page.locator("#legal_name")).to_have_value("HTX không dùng JavaScript")
    expect(page.locator("main .invalid-feedback")).to_have_count(0)
    expect(page.locator("main .alert-danger")).to_have_count(0)

    email = f"{unique('nojs')}@example.vn"
    fill_registration(page, "cooperative", "HTX không dùng JavaScript", email, commune="Xã Chi Lăng")
    submit_registration(page)
    finish_registration(page, live_server, email)
    expect(page.locator("main h1")).to_have_text("HTX không dùng JavaScript")
    expect(page.locator("main .badge.status-pending")).to_be_visible()
    expect(page.locator("main #commune_code option:checked")).to_have_text("Xã Chi Lăng")


def test_form_errors_are_shown_and_tied_to_their_fields(page):
    page.goto("/register/enterprise")
    submit_registration(page)
    expect(page.locator("main [role=alert]")).to_be_visible()
    legal_name = page.locator("#legal_name")
    expect(legal_name).to_have_attribute("aria-invalid", "true")
    expect(legal_name).to_have_attribute("aria-describedby", re.compile(r"\blegal_name-error\b"))
    expect(page.locator("#legal_name-error")).not_to_be_empty()
    expect(page.locator("#password")).to_have_value("")  # a password is never sent back
    # The focus starts on the error summary (static/js/error-summary.js), not at the top of the page.
    summary = page.locator("main #error-summary")
    expect(summary).to_be_focused()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"



def test_phone_journey(new_context, live_server):
    page = new_context(**PHONE).new_page()
    page.goto("/")
    assert_fits_the_screen(page)
    # Skip link first in the tab order, and it moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    page.locator("main a[href='/register/enterprise']").tap()
    page.wait_for_url("**/register/enterprise")
    assert_fits_the_screen(page)
    email = f"{unique('phone')}@example.vn"
    name = f"Công ty {unique('Điện thoại')}"
    fill_registration(page, "enterprise", name, email)
    submit_registration(page)
    assert_fits_the_screen(page)  # the "check your email" page
    finish_registration(page, live_server, email)
    expect(page.locator("main h1")).to_have_text(name)
    assert_fits_the_screen(page)

    for link in ("/organisation/members", "/account"):
        header_link(page, link).tap()
        page.wait_for_url(f"**{link}")
        assert_fits_the_screen(page)
    set_language_with_header_button(page, "en")
    assert_fits_the_screen(page)
    set_language_with_header_button(page, "vi")
    log_out(page)
    assert_fits_the_screen(page)


def test_owner_invites_a_member_who_joins_and_is_removed(new_context, live_server):
    owner = new_context().new_page()
    organisation_name, _ = register(owner, "cooperative", live_server)
    header_link(owner, "/organisation/members").click()
    invited = f"{unique('thanhvien')}@example.vn"
    owner.locator("main #email").fill(invited)
    owner.locator("main #role").select_option("member")
    owner.locator("main form[action$='/invite'] button[type=submit]").click()
    expect(owner.locator("main .alert-success")).to_be_visible()
    expect(owner.locator("main li", has_text=invited)).to_be_visible()

    # The invitation arrives by email (the development server prints mail to its log).
    body = mail_sent_to(live_server.log(), invited)
    link = re.search(r"http://127\.0\.0\.1:\d+/invitations/\S+", body).group(0)
    member = new_context().new_page()
    member.goto(link)
    expect(member.locator("main h1")).to_contain_text(organisation_name)
    member.locator("#full_name").fill("Lương Văn Tâm")
    member.locator("#password").fill("một mật khẩu khác cũng rất dài")
    member.locator("main form button[type=submit]").click()
    member.wait_for_url("**/organisation")
    expect(member.locator("main h1")).to_have_text(organisation_name)
    # A member sees the profile but may not edit it.
    expect(member.locator("main #legal_name")).to_have_count(0)

    # The link is spent.
    spent = new_context().new_page()
    assert spent.goto(link).status == 404

    # The owner sees the member, and removes them after confirming.
    owner.reload()
    expect(owner.locator("main li", has_text=invited)).to_have_count(0)  # no longer an open invitation
    row = owner.locator("main tbody tr", has_text=invited)
    expect(row).to_be_visible()
    assert_accessible(owner)  # the table now has a remove control per member
    row.locator("summary").click()
    row.locator("form[action$='/remove'] button[type=submit]").click()
    expect(owner.locator("main .alert-success")).to_be_visible()
    expect(owner.locator("main tbody tr", has_text=invited)).to_have_count(0)

    # The removed member's session has ended.
    member.goto("/organisation")
    expect(member).to_have_url(re.compile(r"/login\?next=%2Forganisation$"))
