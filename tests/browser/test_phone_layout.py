"""The site on a phone (390×844, as issue 13 measures it), logged in as each role with the demo data: a compact
header (the menu folded behind its button), a demo banner that can be hidden for good, tap targets of at least
44 px in the header, and the alliance's tables showing each row's date and status without sideways scrolling.
axe finds no WCAG 2.1 A/AA violation on any page opened here; the fixtures fail a test on a console error."""
import re

import pytest
from playwright.sync_api import expect

from marketplace import geo
from tests.browser.helpers import (
    ALLIANCE,
    COOPERATIVE_OWNER,
    DEVICES,
    ENTERPRISE_OWNER,
    assert_accessible,
    assert_fits_the_screen,
    open_menu,
)

pytestmark = pytest.mark.browser

PHONE = DEVICES["phone"]
ROLES = {"cooperative": COOPERATIVE_OWNER, "enterprise": ENTERPRISE_OWNER, "alliance": ALLIANCE}
TAP_TARGET = 44  # CSS px, WCAG 2.5.5 (AAA) and both platforms' guidelines
# Where the page's own content may start at the latest on a phone, in CSS px from the top of the screen.
MAIN_TOP_WITH_BANNER = 185
MAIN_TOP_WITHOUT_BANNER = 130
FIRST_CARD_TOP = 460  # the catalogue's first product card, under the heading and the filters (which apply on change)


def phone_page(new_context, login_states, role):
    return new_context(storage_state=login_states(ROLES[role], "vi"), **PHONE).new_page()


def top(page, selector):
    return page.locator(selector).first.bounding_box()["y"]


def hide_demo_banner(page):
    page.locator("header .demo-banner button[type=submit]").click()
    expect(page.locator("header .demo-banner")).to_have_count(0)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_the_header_leaves_the_screen_to_the_page(new_context, login_states, role):
    page = phone_page(new_context, login_states, role)
    page.goto("/products")
    expect(page.locator("header .demo-banner")).to_be_visible()
    expect(page.locator("header #site-menu")).to_be_hidden()
    with_banner = top(page, "main")
    assert with_banner <= MAIN_TOP_WITH_BANNER, f"{role}: main starts at {with_banner}px"
    assert_accessible(page)
    assert_fits_the_screen(page)

    hide_demo_banner(page)
    page.wait_for_url("**/products")
    without_banner = top(page, "main")
    assert without_banner <= MAIN_TOP_WITHOUT_BANNER, f"{role}: main starts at {without_banner}px"
    card = top(page, "main .product-card")
    assert card <= FIRST_CARD_TOP, f"{role}: the first card starts at {card}px"
    print(f"{role}: main at {with_banner}px with the banner, {without_banner}px without; first card at {card}px")


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_tap_target_in_the_header_is_44_px_tall(new_context, login_states, role):
    page = phone_page(new_context, login_states, role)
    page.goto("/")
    targets = page.locator("header a, header button, header input:not([type=hidden]), header select")

    def too_small():
        small = []
        for index in range(targets.count()):
            target = targets.nth(index)
            if target.is_visible():
                box = target.bounding_box()
                if box["height"] < TAP_TARGET:
                    small.append(f"{target.evaluate('e => e.outerHTML.slice(0, 80)')}: {box['height']:.0f}px")
        return small

    assert too_small() == []  # folded: the brand, the menu button, the search box and the banner's button
    open_menu(page)
    links = page.locator("header #site-menu a")
    expect(links.first).to_be_visible()
    assert links.count() >= 5
    assert too_small() == []
    # The open menu is the links (two to a row) and the language button, with no empty space under them.
    menu, listed = (page.locator(selector).bounding_box() for selector in ("header #site-menu", "header #site-menu ul"))
    assert menu["height"] <= listed["height"] + TAP_TARGET + 16, (menu, listed)
    assert listed["height"] <= (links.count() + 1) / 2 * (TAP_TARGET + 8)
    assert_accessible(page)
    assert_fits_the_screen(page)


def test_the_menu_opens_and_closes_with_the_keyboard(new_context, login_states):
    page = phone_page(new_context, login_states, "cooperative")
    page.goto("/")
    toggle = page.locator("header .menu-toggle")
    menu = page.locator("header #site-menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(menu).to_be_visible()
    for _ in range(3):  # the menu opens under the search box, after it in the focus order too
        page.keyboard.press("Tab")
    expect(menu.locator("a").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()
    page.keyboard.press("Space")
    expect(menu).to_be_visible()


def test_without_javascript_the_menu_stays_open(new_context, login_states):
    page = new_context(storage_state=login_states(COOPERATIVE_OWNER, "vi"), java_script_enabled=False,
                       **PHONE).new_page()
    page.goto("/")
    expect(page.locator("header .menu-toggle")).to_be_hidden()
    expect(page.locator("header #site-menu a[href='/workspace/products']")).to_be_visible()
    page.locator("header form[action='/logout'] button").scroll_into_view_if_needed()
    expect(page.locator("header form[action='/logout'] button")).to_be_visible()
    assert_fits_the_screen(page)


def test_the_hidden_demo_banner_stays_hidden(new_context, login_states):
    page = phone_page(new_context, login_states, "alliance")
    page.goto("/alliance/dashboard")
    banner = page.locator("header .demo-banner")
    expect(banner).to_be_visible()
    hide_demo_banner(page)
    page.wait_for_url("**/alliance/dashboard")  # back on the same page
    page.reload()
    expect(banner).to_have_count(0)
    page.goto("/products")
    expect(banner).to_have_count(0)
    assert_accessible(page)


@pytest.mark.parametrize("path, columns", [
    ("/alliance/organisations", ("registered", "status")),
    ("/alliance/certificates", ("expires", "status")),
    ("/alliance/follow-up", ("end-date", "status")),
])
def test_alliance_tables_show_date_and_status_without_sideways_scrolling(new_context, login_states, path, columns):
    page = phone_page(new_context, login_states, "alliance")
    page.goto(path)
    rows = page.locator("main table tbody tr")
    expect(rows.first).to_be_visible()
    width = PHONE["viewport"]["width"]
    for index in range(min(rows.count(), 3)):
        for column in columns:
            cell = rows.nth(index).locator(f"[data-column={column}]")
            expect(cell).to_be_visible()
            box = cell.bounding_box()
            assert 0 <= box["x"] and box["x"] + box["width"] <= width, (column, box)
    scrolls = page.evaluate("""() => [...document.querySelectorAll('main .table-responsive')]
        .map(box => box.scrollWidth - box.clientWidth)""")
    assert all(extra <= 0 for extra in scrolls), scrolls
    assert_fits_the_screen(page)
    assert_accessible(page)


def test_the_province_filter_applies_when_changed(new_context):
    """The catalogue's province filter lists the provinces with products, with counts, in Vietnamese order, and
    choosing one shows its products at once (apply-filters.js), with the focus back on the filter."""
    page = new_context(**PHONE).new_page()
    page.goto("/products")
    expect(page.locator("main form.catalog-filters button[type=submit]")).to_be_hidden()
    options = page.locator("#province option:not([value=''])")
    expect(options.first).to_be_attached()
    texts = options.all_inner_texts()
    names = [text.rsplit(" (", 1)[0] for text in texts]
    assert names == sorted(names, key=geo.sort_key)
    assert all(re.search(r" \(\d+\)$", text) for text in texts), texts
    value = options.first.get_attribute("value")
    count = int(re.search(r"\((\d+)\)$", texts[0]).group(1))

    page.locator("#province").select_option(value)
    page.wait_for_url(re.compile(rf"/products\?(.*&)?province={value}(&|$)"))
    expect(page.locator("#province")).to_be_focused()
    expect(page.locator("#province")).to_have_value(value)
    cards = page.locator("main .product-card")
    expect(cards.first).to_be_visible()
    assert cards.count() == min(count, 24)
    for index in range(cards.count()):
        expect(cards.nth(index).locator(".product-card-origin")).to_contain_text(names[0])
    assert_accessible(page)
    assert_fits_the_screen(page)
