"""Search in a real browser, on the demo catalogue (`flask seed-demo`, indexed by the sync hooks and `flask search
rebuild --if-missing` as in `make run`).

A buyer on a phone types "nong san" without diacritics in the header box, narrows the results by OCOP stars
and opens a product; suggestions appear as one types and are chosen with the keyboard; everything works as
plain forms without JavaScript; axe (WCAG 2.1 A/AA) in Vietnamese and English, and reflow at 320 CSS px.
"""
import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    assert_accessible,
    assert_fits_the_screen,
    expect_language,
    set_language_with_header_button,
    sideways_scroll,
)

pytestmark = pytest.mark.browser

LANGUAGES = ["vi", "en"]
PHONE = {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
NARROW = {"viewport": {"width": 320, "height": 640}}



def query_of(page):
    return parse_qs(urlparse(page.url).query)


def test_a_buyer_types_without_diacritics_on_a_phone_narrows_by_stars_and_opens_a_product(new_context):
    page = new_context(**PHONE).new_page()
    page.goto("/")
    set_language_with_header_button(page, "vi")
    box = page.locator("header #site-search-q")
    expect(box).to_be_visible()
    assert_fits_the_screen(page)
    box.tap()
    box.press_sequentially("nong san", delay=40)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=nong\+san"))
    assert_fits_the_screen(page)

    cards = page.locator("main .search-results .product-card")
    expect(cards.first).to_be_visible()
    everything = cards.count()
    assert everything >= 2
    # Found without diacritics: the cooperative "HTX Nông sản sạch Tràng Định" and the fresh produce ("nông sản").
    expect(page.locator("main .product-card-seller", has_text="Nông sản sạch").first).to_be_visible()
    expect(page.locator("#q")).to_have_value("nong san")

    stars = page.locator("#filter-stars")
    four = stars.locator("option[value='4']")
    expect(four).to_have_count(1)
    count = int(re.search(r"\((\d+)\)", four.inner_text()).group(1))
    stars.select_option("4")  # applies at once (apply-filters.js)
    page.wait_for_url(re.compile(r"stars=4"))
    assert query_of(page)["q"] == ["nong san"]
    expect(stars).to_have_value("4")
    expect(cards.first).to_be_visible()
    assert cards.count() == count < everything
    for index in range(cards.count()):
        expect(cards.nth(index).locator(".ocop-badge")).to_contain_text("4★")
    assert_fits_the_screen(page)

    link = cards.first.locator(".product-card-title a")
    name = link.inner_text()
    link.tap()
    page.wait_for_url(re.compile(r"/products/\d+"))
    expect(page.locator("main h1")).to_have_text(name)


def test_suggestions_appear_as_one_types_and_are_chosen_with_the_keyboard(page):
    page.goto("/products")
    box = page.locator("header #site-search-q")
    box.click()
    box.press_sequentially("thach d", delay=40)
    listbox = page.locator("#site-search-q-suggestions")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.locator("[role=option]")
    expect(options.first).to_contain_text("thạch đen")
    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    chosen = options.first.inner_text()
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press("ArrowDown")  # closed: nothing to move through
    box.press_sequentially("e", delay=40)  # "thach de": the list comes back
    expect(options.first).to_be_visible()
    box.press("ArrowDown")
    chosen = options.first.inner_text()
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    assert query_of(page)["q"] == [chosen]
    expect(page.locator("main .product-card-title a", has_text=chosen).first).to_be_visible()


def test_search_works_as_plain_forms_without_javascript(new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/")
    box = page.locator("header #site-search-q")
    expect(box).not_to_have_attribute("role", "combobox")  # no script, no pretend widget
    box.fill("mat ong")
    page.locator("header form.site-search button[type=submit]").click()
    page.wait_for_url(re.compile(r"/search\?q=mat\+ong"))
    expect(page.locator("main .product-card-title a", has_text="Mật ong").first).to_be_visible()
    page.locator("#q").fill("thach dden")
    page.locator("#sort").select_option("price_asc")
    page.locator("main form.search-form .search-row button[type=submit]").click()
    page.wait_for_url(re.compile(r"sort=price_asc"))
    did_you_mean = page.locator("main .did-you-mean a")
    expect(did_you_mean).to_have_text("thach den")
    did_you_mean.click()
    page.wait_for_url(re.compile(r"q=thach\+den"))
    expect(page.locator("main .search-results .product-card").first).to_be_visible()


# ---------------------------------------------------------------- accessibility and reflow

SEARCH_PATHS = [
    "/search",
    "/search?q=nong+san",
    "/search?q=che&stars=4&category=beverages",  # filters in use, with links to remove them
    "/search?q=thach+dden",  # "did you mean" and the partial-match notice
    "/search?q=xyzxyz",  # the empty state
    "/search?q=che&page=2",  # past the last page
]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_search_pages_are_accessible(new_context, lang):
    page = new_context().new_page()
    page.goto("/")
    set_language_with_header_button(page, lang)
    for path in SEARCH_PATHS:
        response = page.goto(path)
        assert response.status == 200, path
        expect_language(page, lang)
        assert_accessible(page)
    # With the suggestions open.
    page.goto("/products")
    page.locator("header #site-search-q").press_sequentially("mat o", delay=40)
    expect(page.locator("#site-search-q-suggestions [role=option]").first).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_search_pages_reflow_at_320px(new_context, lang):
    page = new_context(**NARROW).new_page()
    page.goto("/")
    set_language_with_header_button(page, lang)
    problems = []
    for path in SEARCH_PATHS:
        page.goto(path)
        overflow = sideways_scroll(page)
        if overflow > 0:
            problems.append(f"{path} scrolls sideways by {overflow}px")
    assert problems == []
    assert_accessible(page)
