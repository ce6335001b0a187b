"""Spreadsheet import and export in a real browser: upload → preview with errors → import the valid
rows; axe (WCAG 2.1 A/AA) on each page, in Vietnamese and English, and reflow at 320 CSS px.

Imports go into the pending demo cooperative (HTX Thanh Xuân), whose products stay drafts, so the
public catalogue other browser tests look at does not change.
"""
import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    ALLIANCE,
    PENDING_COOPERATIVE,
    assert_accessible,
    assert_fits_the_screen,
    axe_report,
    log_in,
    set_language_with_header_button,
    unique,
)

pytestmark = pytest.mark.browser


def logged_in_page(new_context, email, lang, **options):
    page = new_context(**options).new_page()
    page.goto("/login")
    set_language_with_header_button(page, lang)
    log_in(page, email)
    return page


def registry_csv(good, bad):
    return ("name,category,unit,price_vnd,min_order_qty,price_tiers\r\n"
            f"{good},gia vị,kg,85.000,100,1000:78000\r\n"
            f"{bad},spices_herbs,bao,\"12,5\",10,\r\n").encode()



@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_cooperative_previews_and_imports_the_valid_rows(new_context, lang):
    page = logged_in_page(new_context, PENDING_COOPERATIVE, lang, viewport={"width": 320, "height": 640})
    page.goto("/workspace/import")
    assert_fits_the_screen(page)
    assert_accessible(page)

    good, bad = unique("Quế thanh"), unique("Quế vụn")
    page.locator("main input[type=file][name=file]").set_input_files(
        {"name": "san-pham.csv", "mimeType": "text/csv", "buffer": registry_csv(good, bad)})
    page.locator("main form[enctype='multipart/form-data'] button[type=submit]").click()
    expect(page.locator("main #errors-heading")).to_be_visible()
    expect(page.locator("main .transfer-errors li")).to_have_count(2)  # line 3: unit and price_vnd
    expect(page.locator("main .transfer-rows tbody tr")).to_have_count(2)
    assert_fits_the_screen(page)
    assert_accessible(page)

    page.locator("main form.confirm-import button[type=submit]").click()  # without the tick: refused
    expect(page.locator(".flash-messages .alert-danger")).to_be_visible()
    page.locator("main #valid_only").check()
    page.locator("main form.confirm-import button[type=submit]").click()
    page.wait_for_url("**/workspace/products")
    expect(page.locator(".flash-messages .alert-success")).to_be_visible()
    expect(page.locator("main .product-row", has_text=good)).to_be_visible()
    expect(page.locator("main .product-row", has_text=bad)).to_have_count(0)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_preview_of_an_update_lists_each_fields_old_and_new_value(new_context, lang):
    """Issue 13: for each product that will change, a table of its fields' current and new values."""
    page = logged_in_page(new_context, PENDING_COOPERATIVE, lang, viewport={"width": 320, "height": 640})
    name = unique("Hồi khô")
    header = "name,category,unit,price_vnd,min_order_qty,description,price_tiers\r\n"
    for row in (f"{name},gia vị,kg,85.000,100,Hồi phơi nắng,1000:78000\r\n",
                f"{name},gia vị,kg,90.000,100,,(xoá)\r\n"):
        page.goto("/workspace/import")
        page.locator("main input[type=file][name=file]").set_input_files(
            {"name": "san-pham.csv", "mimeType": "text/csv", "buffer": (header + row).encode()})
        page.locator("main form[enctype='multipart/form-data'] button[type=submit]").click()
        expect(page.locator("main form.confirm-import")).to_be_visible()
        if "90.000" in row:
            break
        page.locator("main form.confirm-import button[type=submit]").click()
        page.wait_for_url("**/workspace/products")
    diff = page.locator("main table.transfer-diff")
    expect(diff).to_have_count(1)
    expect(diff.locator("tbody tr")).to_have_count(2)  # price_vnd and price_tiers; the empty description stays
    expect(diff.locator("tbody th code")).to_have_text(["price_vnd", "price_tiers"])
    assert_fits_the_screen(page)
    assert_accessible(page)


def test_a_bad_file_is_explained_on_the_upload_form(new_context):
    page = logged_in_page(new_context, PENDING_COOPERATIVE, "en")
    page.goto("/workspace/import")
    page.locator("main input[type=file][name=file]").set_input_files(
        {"name": "sai.csv", "mimeType": "text/csv", "buffer": b"ten,gia\r\nA,1\r\n"})
    page.locator("main form[enctype='multipart/form-data'] button[type=submit]").click()
    expect(page.locator("main input[type=file][aria-invalid=true]")).to_be_visible()
    expect(page.locator("main [role=alert]")).to_contain_text("ten, gia")
    assert_accessible(page)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_alliance_page_and_export(new_context, lang):
    page = logged_in_page(new_context, ALLIANCE, lang, viewport={"width": 320, "height": 640}, accept_downloads=True)
    page.goto("/workspace/import")
    expect(page.locator("main #export-cooperative option")).not_to_have_count(1)
    assert_fits_the_screen(page)
    report = axe_report(page)
    assert not report, report
    page.locator("main #export-cooperative").select_option(label="HTX sản xuất na sạch Đồng Bành")
    with page.expect_download() as download:
        page.locator("main form.export-form button[formaction$='.xlsx']").click()
    assert download.value.suggested_filename.endswith(".xlsx")
