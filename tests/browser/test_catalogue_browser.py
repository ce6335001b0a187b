"""The public catalogue and the alliance's certificate queue in a real browser.

An enterprise buyer on a phone-sized screen finds a product through the catalogue's filters; axe (WCAG 2.1
A/AA) in Vietnamese and English on the catalogue, product, cooperative, label and certificate pages; every
one of them reflows at 320 CSS px. Pages are watched for CSP violations and console errors by `new_context`.
Data: the demo catalogue (`flask seed-demo`), plus one pending certificate made here so the queue never
depends on what other browser tests did to the demo's.
"""
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from marketplace import create_app
from marketplace.accounts import services as accounts
from marketplace.catalog import services
from marketplace.catalog.models import Product, ProductStatus
from marketplace.extensions import db
from tests.browser.helpers import (
    ALLIANCE,
    COOPERATIVE_OWNER,
    ENTERPRISE_OWNER,
    assert_accessible,
    assert_fits_the_screen,
    axe_report,
    expect_language,
    header_link,
    log_in,
    set_language_with_header_button,
    sideways_scroll,
)

pytestmark = pytest.mark.browser

LANGUAGES = ["vi", "en"]
PHONE = {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
NARROW = {"viewport": {"width": 320, "height": 640}}


@pytest.fixture(scope="module")
def catalogue_data(live_server):
    """Paths of demo pages with rich content, and a pending certificate of a demo product."""
    app = create_app({
        "MARKETPLACE_ENV": "development", "PUBLIC_BASE_URL": live_server.url, "SECRET_KEY": live_server.env["SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": live_server.database_url, "UPLOAD_DIR": live_server.env["UPLOAD_DIR"],
        "SEARCH_INDEX_DIR": live_server.env["SEARCH_INDEX_DIR"], "MAIL_BACKEND": "locmem",
    })
    with app.test_request_context(base_url=live_server.url):
        owner = accounts.user_by_email(COOPERATIVE_OWNER)
        published = db.session.scalars(db.select(Product).where(
            Product.cooperative_id == owner.organisation_id, Product.status == ProductStatus.PUBLISHED)).all()
        # The richest public product: tiers, a badge today, photos.
        rich = max(published, key=lambda p: (bool(p.ocop_stars(services.today())), len(p.tiers), len(p.images)))
        assert rich.tiers and rich.images, "the demo catalogue should have a product with tiers and photos"
        certificate = services.add_certificate(owner, published[-1].id, services.CertificateDetails(
            stars=3, certificate_no="DEMO-OCOP-BROWSER-1", decision_date=date.today() - timedelta(days=30)))
        data = {
            "product": f"/products/{rich.id}/{rich.slug}",
            "label": f"/products/{rich.id}/label",
            "cooperative": f"/cooperatives/{owner.organisation_id}",
            "certificate": f"/alliance/certificates/{certificate.id}",
            "category": rich.category.value,
        }
        db.session.remove()
    with app.app_context():
        db.engine.dispose()
    return data



# ---------------------------------------------------------------- the buyer's journey on a phone

def test_an_enterprise_finds_a_product_on_a_phone(new_context, catalogue_data):
    page = new_context(**PHONE).new_page()
    log_in(page, ENTERPRISE_OWNER)
    set_language_with_header_button(page, "vi")
    header_link(page, "/products").tap()
    page.wait_for_url("**/products")
    assert_fits_the_screen(page)
    everything = page.locator("main .product-card").count()
    assert everything > 1

    category = catalogue_data["category"]
    expect(page.locator("main form.catalog-filters button[type=submit]")).to_be_hidden()  # applies on change
    page.locator("#category").select_option(category)
    page.wait_for_url(re.compile(rf"/products\?.*category={category}"))
    expect(page.locator("#category")).to_have_value(category)
    expect(page.locator("#category")).to_be_focused()  # back where the buyer was
    cards = page.locator("main .product-card")
    expect(cards.first).to_be_visible()
    assert 0 < cards.count() <= everything
    assert_fits_the_screen(page)
    # Every card has its price from, minimum order and a sized, described (or decorative) cover.
    for index in range(cards.count()):
        card = cards.nth(index)
        expect(card.locator(".product-card-price")).to_contain_text("₫")
        expect(card.locator(".product-card-moq")).not_to_be_empty()
        image = card.locator("img.product-card-img")
        assert image.get_attribute("width") and image.get_attribute("height") and image.get_attribute("loading") == "lazy"

    product_path = catalogue_data["product"]
    link = page.locator(f"main .product-card-title a[href='{product_path}']")
    name = link.inner_text()
    link.tap()
    page.wait_for_url(f"**{product_path}")
    expect(page.locator("main h1")).to_have_text(name)
    tiers = page.locator("main table.tier-table")
    tiers.scroll_into_view_if_needed()
    expect(tiers).to_be_visible()
    assert tiers.locator("tbody tr").count() >= 2  # the base price and at least one volume tier
    expect(tiers.locator("tbody tr").last.locator("td")).to_contain_text("₫")
    expect(page.locator("main .product-gallery img.product-cover")).to_be_visible()
    expect(page.locator("main img[src$='/qr.svg']")).to_be_visible()
    assert_fits_the_screen(page)

    # The cooperative's card leads to its profile with the same product among its cards.
    page.locator("main .cooperative-card a").tap()
    page.wait_for_url(f"**{catalogue_data['cooperative']}")
    expect(page.locator(f"main .product-card-title a[href='{product_path}']")).to_have_count(1)
    assert_fits_the_screen(page)


def test_the_catalogue_works_without_javascript(new_context, catalogue_data):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/products")
    page.locator("#category").select_option(catalogue_data["category"])
    page.locator("#sort").select_option("price_asc")
    page.locator("main form.catalog-filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"sort=price_asc"))
    expect(page.locator("main .product-card").first).to_be_visible()
    page.goto(catalogue_data["label"])
    expect(page.locator("main button[data-print]")).to_be_hidden()  # shown only where JavaScript can print
    expect(page.locator("main .print-hint")).to_be_visible()


def test_the_label_prints_without_the_site_around_it(page, catalogue_data):
    page.goto(catalogue_data["label"])
    expect(page.locator("main button[data-print]")).to_be_visible()  # print.js revealed it
    page.emulate_media(media="print")
    expect(page.locator("header.site-header")).to_be_hidden()
    expect(page.locator("footer.site-footer")).to_be_hidden()
    expect(page.locator("main .no-print").first).to_be_hidden()
    expect(page.locator("main .product-label")).to_be_visible()
    expect(page.locator("main .product-label-qr")).to_be_visible()


# ---------------------------------------------------------------- accessibility and reflow

def public_paths(data):
    return ["/", "/products", f"/products?category={data['category']}&sort=price_asc",
            "/products?category=handicrafts&stars=5&certification=haccp",  # the empty state
            data["product"], data["cooperative"], data["label"]]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_public_catalogue_pages_are_accessible(new_context, catalogue_data, lang):
    page = new_context().new_page()
    page.goto("/")
    set_language_with_header_button(page, lang)
    for path in public_paths(catalogue_data):
        response = page.goto(path)
        assert response.status == 200, path
        expect_language(page, lang)
        assert_accessible(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_alliance_certificate_pages_are_accessible(new_context, catalogue_data, lang):
    page = new_context().new_page()
    page.goto("/login")
    set_language_with_header_button(page, lang)
    log_in(page, ALLIANCE)
    expect(page.locator("header a[href='/alliance/certificates'] .nav-count")).to_be_visible()
    for path in ("/alliance/certificates", "/alliance/certificates?status=", "/alliance/certificates?status=revoked",
                 catalogue_data["certificate"]):
        response = page.goto(path)
        assert response.status == 200, path
        expect_language(page, lang)
        assert_accessible(page)
    # The revoke form answering without a reason or a confirmation: errors tied to their fields.
    page.locator("main form[action$='/revoke'] button[type=submit]").click()
    expect(page.locator("main #reason")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main #confirm")).to_have_attribute("aria-describedby", "confirm-error")
    expect(page.locator("main [role=alert]")).to_be_visible()
    assert_accessible(page)
    # No scan: the page warns, and verifying without saying what was checked is refused at the note.
    expect(page.locator("main #no-scan-warning")).to_be_visible()
    page.locator("main form[action$='/verify'] button[type=submit]").click()
    expect(page.locator("main #note")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main #note")).to_have_attribute("aria-describedby", "note-hint note-error")
    assert_accessible(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_and_certificate_pages_reflow_at_320px(new_context, catalogue_data, lang):
    """WCAG 1.4.10: nothing but a data table scrolls sideways on a 320 px screen; axe again at that width."""
    problems = []

    def check(page, path):
        response = page.goto(path)
        assert response.status == 200, path
        expect_language(page, lang)
        overflow = sideways_scroll(page)
        if overflow > 0:
            problems.append(f"{page.url} scrolls sideways by {overflow}px")
        problems.append(axe_report(page))

    visitor = new_context(**NARROW).new_page()
    visitor.goto("/")
    set_language_with_header_button(visitor, lang)
    for path in public_paths(catalogue_data):
        check(visitor, path)
    staff = new_context(**NARROW).new_page()
    staff.goto("/login")
    set_language_with_header_button(staff, lang)
    log_in(staff, ALLIANCE)
    for path in ("/alliance/certificates?status=", catalogue_data["certificate"]):
        check(staff, path)
    problems = [problem for problem in problems if problem]
    assert not problems, "\n".join(problems)
