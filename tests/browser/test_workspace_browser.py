"""The cooperative's workspace in a real browser: from an empty form to a published 4-star product whose
certificate the alliance verifies, then axe (WCAG 2.1 A/AA) in Vietnamese and English and reflow at
320 px on every workspace page. Pages are watched for CSP violations and console errors by `new_context`.
"""
import io
import re
from datetime import date, timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

from marketplace import create_app
from marketplace.accounts import services as accounts
from marketplace.catalog import services
from marketplace.extensions import db
from tests.browser.helpers import (
    ALLIANCE,
    COOPERATIVE_OWNER,
    PENDING_COOPERATIVE,
    assert_accessible,
    axe_report,
    expect_language,
    header_link,
    log_in,
    set_language_with_header_button,
    sideways_scroll,
    unique,
)

pytestmark = pytest.mark.browser

LANGUAGES = ["vi", "en"]
NARROW = {"viewport": {"width": 320, "height": 640}}


def photo_file(path, colour):
    Image.new("RGB", (800, 600), colour).save(path, "JPEG", quality=80)
    return str(path)


def jpeg_upload(name):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 140, 60)).save(buffer, "JPEG")
    buffer.seek(0)
    return FileStorage(buffer, filename=name)


# ---------------------------------------------------------------- the journey

def test_a_cooperative_publishes_a_four_star_product_the_alliance_verifies(new_context, tmp_path):
    page = new_context().new_page()
    log_in(page, COOPERATIVE_OWNER)
    set_language_with_header_button(page, "vi")
    header_link(page, "/workspace/products").click()
    page.wait_for_url("**/workspace/products")
    page.locator("main a[href='/products/new']").first.click()
    page.wait_for_url("**/products/new")

    name = f"Na dai Chi Lăng {unique('thử')}"
    page.locator("#name").fill(name)
    page.locator("#name_en").fill("Chi Lang custard apple")
    page.locator("#description").fill("Na dai chín cây, hái buổi sáng, đóng thùng 10 kg.")
    page.locator("#category").select_option("fresh_produce")
    page.locator("#certifications-vietgap").check()
    page.locator("#province_code").select_option(label="Lạng Sơn")
    page.locator("#commune_code").select_option(label="Xã Bắc Sơn")  # loaded by communes.js
    for month in (7, 8, 9):
        page.locator(f"#harvest_months-{month}").check()
    page.locator("#lead_time_days").fill("3")
    page.locator("#unit").select_option("kg")
    page.locator("#base_price_vnd").fill("60.000")
    page.locator("#min_order_qty").fill("100")
    page.locator("#order_increment").fill("10")
    page.locator("#capacity_qty").fill("20.000")
    page.locator("#capacity_period").select_option("season")
    page.locator("#tiers-0-min_qty").fill("500")
    page.locator("#tiers-0-unit_price_vnd").fill("55.000")
    page.locator("#tiers-1-min_qty").fill("2.000")
    page.locator("#tiers-1-unit_price_vnd").fill("50.000")
    page.locator("main form[action='/products/new'] > button[type=submit]").click()
    page.wait_for_url(re.compile(r"/products/\d+/edit$"))
    expect(page.locator("main .alert-success")).to_be_visible()
    expect(page.locator("main h1")).to_have_text(name)
    expect(page.locator("#tiers-1-min_qty")).to_have_value("2000")
    product_id = re.search(r"/products/(\d+)/edit", page.url).group(1)

    # Two photos chosen at once.
    page.locator("#photos").set_input_files([photo_file(tmp_path / "na-1.jpg", (200, 170, 60)),
                                             photo_file(tmp_path / "na-2.jpg", (90, 140, 50))])
    page.locator(f"main form[action='/products/{product_id}/photos'] button[type=submit]").click()
    expect(page.locator("main .photo-item")).to_have_count(2)
    expect(page.locator("main .photo-item img").first).to_have_js_property("complete", True)
    assert page.locator("main .photo-item img").first.evaluate("img => img.naturalWidth") > 0

    # A 4-star certificate, waiting for the alliance.
    certificate_no = unique("Demo-OCOP")
    page.locator(f"main a[href='/products/{product_id}/certificates/new']").click()
    page.locator("#stars").select_option("4")
    page.locator("#certificate_no").fill(certificate_no)
    page.locator("#decision_date").fill((date.today() - timedelta(days=30)).isoformat())
    page.locator(f"main form[action='/products/{product_id}/certificates/new'] button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/products/{product_id}/edit#certificates-section$"))
    expect(page.locator("main .certificate-item", has_text=certificate_no)
           .locator(".badge.certificate-status-pending")).to_be_visible()

    page.locator(f"main form[action='/products/{product_id}/publish'] button[type=submit]").click()
    expect(page.locator("main .badge.product-status-published")).to_be_visible()
    expect(page.locator(f"main form[action='/products/{product_id}/hide']")).to_have_count(1)

    # The alliance verifies the certificate from its queue.
    alliance = new_context().new_page()
    log_in(alliance, ALLIANCE)
    alliance.goto("/alliance/certificates")
    alliance.get_by_role("link", name=name, exact=True).click()
    alliance.wait_for_url(re.compile(r"/alliance/certificates/\d+$"))
    expect(alliance.locator("#no-scan-warning")).to_be_visible()  # no scan was uploaded: say what was checked
    alliance.locator("#note").fill("Đã đối chiếu quyết định công nhận OCOP của UBND tỉnh.")
    alliance.locator("main form[action$='/verify'] button[type=submit]").click()
    expect(alliance.locator("main form[action$='/verify']")).to_have_count(0)

    # The public product page shows the 4 stars; the workspace too.
    page.goto(f"/products/{product_id}")
    expect(page.locator("main .ocop-badge").first).to_contain_text("4")
    page.goto(f"/products/{product_id}/edit")
    expect(page.locator("main .certificate-item", has_text=certificate_no)
           .locator(".badge.certificate-status-verified")).to_be_visible()
    expect(page.locator("main #publication-section .ocop-stars")).to_be_visible()


# ---------------------------------------------------------------- accessibility and reflow

@pytest.fixture(scope="module")
def server_app(live_server):
    """The application on the live server's database, to prepare data the checks need."""
    app = create_app({
        "MARKETPLACE_ENV": "development", "PUBLIC_BASE_URL": live_server.url,
        "SECRET_KEY": live_server.env["SECRET_KEY"], "SQLALCHEMY_DATABASE_URI": live_server.database_url,
        "UPLOAD_DIR": live_server.env["UPLOAD_DIR"], "SEARCH_INDEX_DIR": live_server.env["SEARCH_INDEX_DIR"],
        "MAIL_BACKEND": "locmem",
    })
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def workspace_products(server_app):
    """A full product of the verified demo cooperative (tiers, photos, a certificate with a scan) and a
    draft of the pending one: {"full": id, "pending": id}."""
    with server_app.test_request_context():
        owner = accounts.user_by_email(COOPERATIVE_OWNER)
        details = services.ProductDetails.from_mapping({
            "name": f"Hồi khô {unique('thử')}", "description": "Hồi khô phơi nắng.", "category": "spices_herbs",
            "unit": "kg", "province_code": 20, "base_price_vnd": 150000, "min_order_qty": 10,
            "order_increment": 5, "tiers": [(100, 140000), (500, 130000)], "harvest_months": [8, 9],
            "certifications": ["organic"],
        })
        full = services.create_product(owner, details)
        services.add_photos(owner, full.id, [jpeg_upload("a.jpg"), jpeg_upload("b.jpg")])
        services.add_certificate(owner, full.id, services.CertificateDetails(
            stars=3, certificate_no=unique("Demo-3"), decision_date=date.today() - timedelta(days=10)),
            scan=jpeg_upload("scan.jpg"))
        pending_owner = accounts.user_by_email(PENDING_COOPERATIVE)
        draft = services.create_product(pending_owner, services.ProductDetails.from_mapping(
            {**details.__dict__, "name": f"Thạch đen {unique('thử')}", "tiers": []}))
        ids = {"full": full.id, "pending": draft.id}
        db.session.remove()
    return ids


def workspace_pages(ids):
    """(user, path, what to do on the page before checking it) for every workspace page and state."""
    full, pending = ids["full"], ids["pending"]
    return [
        (COOPERATIVE_OWNER, "/workspace/products", None),
        (COOPERATIVE_OWNER, "/workspace/products?status=hidden", None),  # an empty tab
        (PENDING_COOPERATIVE, "/workspace/products", None),
        (COOPERATIVE_OWNER, "/products/new", None),
        (COOPERATIVE_OWNER, "/products/new", "submit-empty"),  # every error shown
        (COOPERATIVE_OWNER, f"/products/{full}/edit", None),
        (COOPERATIVE_OWNER, f"/products/{full}/edit", "bad-photo"),  # the upload error
        (COOPERATIVE_OWNER, f"/products/{full}/certificates/new", "submit-empty"),
        (COOPERATIVE_OWNER, f"/products/{full}/delete", None),
        (PENDING_COOPERATIVE, f"/products/{pending}/edit", "publish"),  # the refusal, explained
    ]


def act(page, action, tmp_path):
    if action == "submit-empty":
        page.locator("main form[method=post] button[type=submit]").last.click()
        expect(page.locator("main .error-summary")).to_be_visible()
        expect(page.locator("main [aria-invalid=true]").first).to_be_visible()
    elif action == "bad-photo":
        bad = tmp_path / "not-a-photo.jpg"
        bad.write_bytes(b"<?php echo 1; ?>")
        page.locator("#photos").set_input_files(str(bad))
        page.locator("main form[action$='/photos'] button[type=submit]").click()
        expect(page.locator("#photos")).to_have_attribute("aria-invalid", "true")
    elif action == "publish":
        page.locator("main form[action$='/publish'] button[type=submit]").click()
        expect(page.locator("main .alert-danger")).to_be_visible()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_workspace_pages_are_accessible(new_context, login_states, workspace_products, tmp_path, lang):
    pages = {}
    for email, path, action in workspace_pages(workspace_products):
        if email not in pages:
            pages[email] = new_context(storage_state=login_states(email, lang)).new_page()
        page = pages[email]
        response = page.goto(path)
        assert response.status == 200 and "/login" not in page.url, (path, response.status)
        act(page, action, tmp_path)
        expect_language(page, lang)
        assert_accessible(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_workspace_pages_reflow_on_a_320px_screen(new_context, login_states, workspace_products, tmp_path, lang):
    """WCAG 1.4.10: nothing scrolls sideways at 320 CSS px; axe again at that width."""
    pages, problems = {}, []
    for email, path, action in workspace_pages(workspace_products):
        if email not in pages:
            pages[email] = new_context(storage_state=login_states(email, lang), **NARROW).new_page()
        page = pages[email]
        page.goto(path)
        act(page, action, tmp_path)
        overflow = sideways_scroll(page)
        if overflow > 0:
            problems.append(f"{page.url} ({action}) scrolls sideways by {overflow}px")
        problems.append(axe_report(page))
    problems = [problem for problem in problems if problem]
    assert not problems, "\n".join(problems)
