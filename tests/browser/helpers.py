"""Steps shared by the browser tests.

Selectors use ids, names, URLs and the lang attribute rather than visible text, because the
interface is translated (Vietnamese first, English second) and its wording may change.
"""
import itertools
import random
import re
import uuid
from email import message_from_string
from email import policy as email_policy

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from stdnum.vn import mst

DEMO_PASSWORD = "demo cho htx lang son"
ALLIANCE = "lienminh@demo.chohtx.vn"
COOPERATIVE_OWNER = "trangdinh@demo.chohtx.vn"
ENTERPRISE_OWNER = "muahang@demo-thucpham.vn"
PENDING_COOPERATIVE = "thanhxuan@demo.chohtx.vn"
NEW_PASSWORD = "mật khẩu rất dài của hợp tác xã"

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}

_serial = itertools.count(random.randrange(1000, 9000) * 1000)


def new_tax_code():
    """A checksum-valid 10-digit tax code (10xxxxxxxx range, distinct within a run)."""
    while True:
        digits = f"10{next(_serial):07d}"
        check = mst.calc_check_digit(digits)
        if len(check) == 1:
            assert mst.is_valid(digits + check)
            return digits + check


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expect_language(page, lang):
    expect(page.locator("html")).to_have_attribute("lang", lang)


def open_menu(page):
    """Open the header's menu when it is folded behind its "Menu" button (phones); nothing to do on a desktop.
    Waits for the page's DOMContentLoaded first: site-menu.js folds the menu as soon as the header is drawn but
    shows its button only then (right after a navigation, the button may not be shown yet)."""
    page.wait_for_load_state("domcontentloaded")
    toggle = page.locator("header .menu-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(page.locator("header #site-menu")).to_be_visible()


def header_link(page, href):
    """The header's link to `href`, with the menu opened on a phone so that it can be clicked or tapped."""
    open_menu(page)
    return page.locator(f"header a[href='{href}']")


def set_language_with_header_button(page, lang):
    """Use the header's language button (a plain form when logged in, a link otherwise) when the page is not
    in `lang` already."""
    if page.locator("html").get_attribute("lang") != lang:
        open_menu(page)
        page.locator(f"header .language-switch [lang={lang}]").click()
    expect_language(page, lang)


def log_in(page, email, password=DEMO_PASSWORD):
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("main form[action='/login'] button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("header form[action='/logout']")).to_have_count(1)


def log_out(page):
    open_menu(page)
    page.locator("header form[action='/logout'] button[type=submit]").click()
    expect(page.locator("header form[action='/logout']")).to_have_count(0)
    expect(header_link(page, "/login")).to_be_visible()


def fill_registration(page, kind, legal_name, owner_email, commune="Xã Bắc Sơn"):
    """Fill /register/<kind> like a person, choosing province Lạng Sơn and then one of its communes."""
    page.locator("#legal_name").fill(legal_name)
    if kind == "cooperative":
        page.locator("#cooperative_type").select_option("hop_tac_xa")
        page.locator("#member_count").fill("9")
        page.locator("#founded_year").fill("2019")
    page.locator("#tax_code").fill(new_tax_code())
    page.locator("#sector").select_option("agriculture" if kind == "cooperative" else "trade_services")
    page.locator("#representative").fill("Hoàng Thị Lan")
    page.locator("#province_code").select_option(label="Lạng Sơn")
    # communes.js fetches the province's communes; select_option waits until the option exists.
    page.locator("#commune_code").select_option(label=commune)
    page.locator("#street_address").fill("Thôn Nà Lầu")
    page.locator("#phone").fill("0205 3812 345")
    page.locator("#email").fill(f"lienhe.{owner_email}")
    page.locator("#full_name").fill("Hoàng Thị Lan")
    page.locator("#owner_email").fill(owner_email)
    page.locator("#password").fill(NEW_PASSWORD)


def submit_registration(page):
    page.locator("main form[action^='/register/'] > button[type=submit]").click()


def finish_registration(page, server, owner_email):
    """After the form: open the link emailed to the owner (the server prints mail to its log) and confirm."""
    page.wait_for_url("**/register/sent")
    body = mail_sent_to(server.log(), owner_email)
    page.goto(re.search(r"http://127\.0\.0\.1:\d+/register/confirm/\S+", body).group(0))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/organisation")


def register(page, kind, server, legal_name=None, owner_email=None):
    """Register an organisation through the form and the emailed link; returns (legal name, owner email)."""
    legal_name = legal_name or f"{'HTX' if kind == 'cooperative' else 'Công ty'} {unique('Thử nghiệm')}"
    owner_email = owner_email or f"{unique(kind)}@example.vn"
    page.goto("/register")
    page.locator(f"main a[href='/register/{kind}']").click()
    page.wait_for_url(f"**/register/{kind}")
    fill_registration(page, kind, legal_name, owner_email)
    submit_registration(page)
    finish_registration(page, server, owner_email)
    expect(page.locator("main h1")).to_have_text(legal_name)
    expect(page.locator("main .badge.status-pending")).to_be_visible()
    return legal_name, owner_email


def mail_sent_to(log, address):
    """The body of the last email to `address` that the console mail backend printed in the server log."""
    for chunk in reversed(log.split("-" * 79)):
        start = chunk.find("Content-Type:")  # request log lines come before the message
        if start < 0:
            continue
        message = message_from_string(chunk[start:], policy=email_policy.default)
        if message["To"] == address:
            return message.get_payload()  # printed decoded (notifications.ConsoleEmailBackend)
    raise AssertionError(f"no mail to {address} in the server log:\n{log[-3000:]}")


def sideways_scroll(page):
    """How many CSS px the page scrolls sideways (WCAG 1.4.10 reflow); 0 or less when it fits."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def assert_fits_the_screen(page):
    overflow = sideways_scroll(page)
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def axe_report(page):
    """axe's report of the WCAG 2.1 A/AA violations on the page, or "" when there are none."""
    page.wait_for_load_state("load")  # after a form post: contrast is judged with our stylesheets, not without
    results = Axe().run(page, options=AXE_OPTIONS)
    # An empty run (axe not injected, wrong tags) must not look like a clean page.
    assert results.response["passes"], f"axe checked nothing on {page.url}"
    return f"{page.url}\n{results.generate_report()}" if results.violations_count else ""


def assert_accessible(page):
    report = axe_report(page)
    if report:
        print(report)
    assert not report, report


# The two screens every journey is tried on: a phone (390×844, as the issues measure) and a desktop.
DEVICES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
              "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 900}},
}


def check_page(page, phone):
    """Every page of a journey: Vietnamese, accessible, and within the screen on a phone."""
    expect_language(page, "vi")
    assert_accessible(page)
    if phone:
        assert_fits_the_screen(page)
