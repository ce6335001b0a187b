"""Spreadsheet import of products (catalog.importing): parsing, row errors with line and column,
all-or-nothing writes, re-import, the alliance's registry rules, and the web preview → confirm flow."""
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from stdnum.vn import mst
from werkzeug.datastructures import FileStorage

from marketplace.accounts.models import CooperativeType, Organisation, OrganisationKind, OrganisationStatus
from marketplace.catalog import importing, services
from marketplace.catalog.models import (
    CapacityPeriod,
    CatalogEvent,
    CertificateStatus,
    IssuingLevel,
    OcopCertificate,
    Product,
    ProductStatus,
)
from marketplace.errors import Forbidden, ValidationFailed
from marketplace.extensions import db
from tests import factories
from tests.factories import REGISTRY_TAX_CODE, csv_bytes, registry_row, xlsx_bytes

OTHER_TAX_CODE = factories.valid_tax_code(700002)
FUTURE = (date.today() + timedelta(days=400)).isoformat()


def count(model, **filters):
    return db.session.scalar(db.select(db.func.count()).select_from(model).filter_by(**filters))


def run(actor, data, **options):
    return importing.run_import(actor, importing.read_table(data), **options)


def errors_of(report):
    return [(line, column) for line, column, _message in report.errors]


def products():
    db.session.expire_all()
    return db.session.scalars(db.select(Product).order_by(Product.id)).all()


# ---------------------------------------------------------------- the alliance loads a registry

def test_a_registry_creates_verified_cooperatives_and_their_products(app, alliance_user):
    data = csv_bytes([
        registry_row(ocop_stars="4", ocop_certificate_no="DEMO-OCOP-LS-2025-001", ocop_expiry=FUTURE),
        registry_row(name="Hoa hồi khô", category="spices_herbs", price_vnd="160.000", price_tiers="",
                     certifications="organic;geographical_indication", harvest_months="8-10", capacity="50000"),
    ])
    report = run(alliance_user, data)

    assert report.written and report.errors == []
    assert (report.created, report.updated, report.published, report.cooperatives_created) == (2, 0, 0, 1)
    cooperative = db.session.scalar(db.select(Organisation).filter_by(tax_code=REGISTRY_TAX_CODE))
    assert cooperative.kind == OrganisationKind.COOPERATIVE
    assert cooperative.status == OrganisationStatus.VERIFIED
    assert cooperative.cooperative_type == CooperativeType.HOP_TAC_XA
    assert (cooperative.province_code, cooperative.commune_code) == (20, 6040)
    tea, anise = products()
    assert tea.cooperative == anise.cooperative == cooperative
    assert tea.status == ProductStatus.DRAFT
    assert [(t.min_qty, t.unit_price_vnd) for t in tea.tiers] == [(20, 330000), (100, 300000)]
    assert tea.harvest_months == [3, 4, 5] and (tea.capacity_qty, tea.capacity_period) == (600, CapacityPeriod.SEASON)
    certificate = tea.certificates[0]
    assert (certificate.stars, certificate.status, certificate.reviewed_by) == (4, CertificateStatus.VERIFIED,
                                                                              alliance_user)
    assert certificate.expires_on.isoformat() == FUTURE and certificate.decision_date is None
    assert anise.base_price_vnd == 160000 and anise.harvest_months == [8, 9, 10]
    assert (anise.capacity_qty, anise.capacity_period) == (50000, CapacityPeriod.YEAR)
    assert {c.value for c in anise.certifications} == {"organic", "geographical_indication"}
    assert count(CatalogEvent, kind="imported") == 2


def test_the_same_file_twice_updates_instead_of_duplicating(app, alliance_user):
    run(alliance_user, csv_bytes([registry_row(), registry_row(name="Chè đen")]))
    report = run(alliance_user, csv_bytes([registry_row(price_vnd="340000", price_tiers="20:330000;100:300000"),
                                           registry_row(name="Chè đen")]))
    assert (report.created, report.updated) == (0, 2)
    assert len(products()) == 2
    assert products()[0].base_price_vnd == 340000
    assert count(Organisation, kind=OrganisationKind.COOPERATIVE) == 1


def test_publish_publishes_valid_products_of_verified_cooperatives_only(app, alliance_user):
    pending = factories.organisation("cooperative", status="pending", tax_code=OTHER_TAX_CODE)
    report = run(alliance_user, csv_bytes([registry_row(), registry_row(cooperative_tax_code=OTHER_TAX_CODE)]),
                 publish=True)
    assert report.published == 1
    statuses = {p.cooperative_id: p.status for p in products()}
    assert statuses[pending.id] == ProductStatus.DRAFT
    assert sorted(statuses.values()) == [ProductStatus.DRAFT, ProductStatus.PUBLISHED]
    again = run(alliance_user, csv_bytes([registry_row()]), publish=True)
    assert again.published == 0, "already published: not counted again"


def test_an_existing_tax_code_is_reused_and_its_name_kept(app, alliance_user):
    existing = factories.organisation("cooperative", legal_name="HTX Đăng ký gốc", tax_code=OTHER_TAX_CODE)
    formatted = OTHER_TAX_CODE[:4] + " " + OTHER_TAX_CODE[4:]
    report = run(alliance_user, csv_bytes([registry_row(cooperative_name="Tên khác trong sổ", cooperative_type="",
                                                        cooperative_tax_code=formatted)]))
    assert report.written and report.cooperatives_created == 0
    assert products()[0].cooperative_id == existing.id
    assert db.session.get(Organisation, existing.id).legal_name == "HTX Đăng ký gốc"


def test_a_tax_code_of_an_enterprise_is_refused(app, alliance_user):
    factories.organisation("enterprise", tax_code=OTHER_TAX_CODE)
    report = run(alliance_user, csv_bytes([registry_row(), registry_row(cooperative_tax_code=OTHER_TAX_CODE)]))
    assert errors_of(report) == [(3, "cooperative_tax_code")]
    assert not report.written and products() == []


def test_a_new_cooperative_needs_its_type(app, alliance_user):
    report = run(alliance_user, csv_bytes([registry_row(cooperative_type="")]))
    assert errors_of(report) == [(2, "cooperative_type")]
    assert count(Organisation, kind=OrganisationKind.COOPERATIVE) == 0


def test_thirteen_digit_tax_codes_and_lost_leading_zeros(app, alliance_user):
    digits = "010123456"
    leading_zero = digits + mst.calc_check_digit(digits)
    branch = f"{leading_zero}-002"  # a branch (13 digits)
    assert mst.is_valid(leading_zero) and mst.is_valid(branch)
    rows = [registry_row(cooperative_tax_code=branch, name="A"),
            registry_row(cooperative_tax_code=leading_zero[1:], name="B", cooperative_name="HTX B")]  # Excel ate the 0
    report = run(alliance_user, csv_bytes(rows))
    assert report.written, report.errors
    codes = {p.name: p.cooperative.tax_code for p in products()}
    assert codes == {"A": leading_zero + "002", "B": leading_zero}


def test_a_five_star_rating_is_central(app, alliance_user):
    run(alliance_user, csv_bytes([registry_row(ocop_stars="5", ocop_certificate_no="DEMO-TW-1", ocop_expiry=FUTURE)]))
    assert products()[0].certificates[0].issuing_level == IssuingLevel.CENTRAL


# ---------------------------------------------------------------- row errors

@pytest.mark.parametrize("overrides, column", [
    ({"category": "Rau muống"}, "category"),
    ({"unit": "bao tải"}, "unit"),
    ({"price_vnd": "12,5"}, "price_vnd"),
    ({"price_vnd": "-1"}, "price_vnd"),
    ({"price_vnd": ""}, "price_vnd"),
    ({"name": ""}, "name"),
    ({"price_tiers": "100-95000"}, "price_tiers"),
    ({"price_tiers": "20:360000"}, "price_tiers"),  # not below the base price
    ({"price_tiers": "2:300000"}, "price_tiers"),  # not above the minimum order
    ({"ocop_stars": "4"}, "ocop_certificate_no"),  # stars without a number
    ({"ocop_stars": "6", "ocop_certificate_no": "X", "ocop_expiry": FUTURE}, "ocop_stars"),
    ({"ocop_stars": "3", "ocop_certificate_no": "X", "ocop_expiry": "31.12.2027"}, "ocop_expiry"),
    ({"ocop_stars": "3", "ocop_certificate_no": "X", "ocop_expiry": "2020-01-01"}, "ocop_expiry"),
    ({"cooperative_tax_code": "0101234568"}, "cooperative_tax_code"),
    ({"cooperative_name": ""}, "cooperative_name"),
    ({"cooperative_type": "company"}, "cooperative_type"),
    ({"province": "Atlantis"}, "province"),
    ({"commune": "Xã Không Có"}, "commune"),
    ({"province": "", "commune": "Xã Thất Khê"}, "commune"),
    ({"certifications": "vietgap;iso9001"}, "certifications"),
    ({"harvest_months": "13"}, "harvest_months"),
    ({"capacity": "600/fortnight"}, "capacity"),
    ({"capacity": "lots"}, "capacity"),
    ({"min_order_qty": "15", "order_increment": "10", "price_tiers": ""}, "order_increment"),
])
def test_each_bad_cell_is_reported_with_its_line_and_column_and_nothing_is_written(app, alliance_user, overrides,
                                                                                   column):
    data = csv_bytes([registry_row(name="Hàng đúng"), registry_row(**overrides)],
                     columns=[*registry_row(), "order_increment"])
    report = run(alliance_user, data)
    assert (3, column) in errors_of(report), report.errors
    assert all(line == 3 for line, _c in errors_of(report))
    assert not report.written
    assert products() == [] and count(Organisation, kind=OrganisationKind.COOPERATIVE) == 0


def test_errors_of_every_row_are_collected_with_file_line_numbers(app, alliance_user):
    text = ("name,category,unit,price_vnd,cooperative_name,cooperative_tax_code,cooperative_type,description\r\n"
            f"Mật ong,processed_food,lít,450000,HTX A,{REGISTRY_TAX_CODE},hop_tac_xa,\"Hai\r\ndòng\"\r\n"
            "\r\n"
            f"Quế,gia vi,kg,abc,HTX A,{REGISTRY_TAX_CODE},hop_tac_xa,\r\n"
            f"Hồi,spices,hũ,-5,HTX A,{REGISTRY_TAX_CODE},,\r\n")
    report = run(alliance_user, text.encode())
    # Line 2 spans two lines of the file; line 4 is blank; the rows with errors start on lines 5 and 6.
    assert errors_of(report) == [(5, "price_vnd"), (6, "unit"), (6, "price_vnd")]
    messages = [str(m) for _l, _c, m in report.errors]
    assert all(messages)
    assert [row.line for row in report.rows] == [2, 5, 6]
    assert products() == []


def test_two_rows_for_one_product_are_an_error_on_the_second(app, alliance_user):
    report = run(alliance_user, csv_bytes([registry_row(), registry_row(price_vnd="1"),
                                           registry_row(name="CHÈ XANH MẪU SƠN", price_vnd="2")]))
    assert errors_of(report) == [(3, "name"), (4, "name")]
    assert "2" in str(report.errors[0][2])


def test_valid_rows_only(app, alliance_user):
    report = run(alliance_user, csv_bytes([registry_row(), registry_row(name="Lỗi", unit="?"),
                                           registry_row(name="Chè đen")]), valid_only=True)
    assert report.written
    assert (report.created, len(report.invalid_rows)) == (2, 1)
    assert [row.action for row in report.rows] == ["create", "", "create"]
    assert sorted(p.name for p in products()) == ["Chè xanh Mẫu Sơn", "Chè đen"]


def test_a_failed_row_does_not_leave_its_new_cooperative_behind(app, alliance_user):
    report = run(alliance_user, csv_bytes([registry_row(price_vnd="x"), registry_row(
        name="Chè đen", cooperative_tax_code=OTHER_TAX_CODE, cooperative_name="HTX Khác")]), valid_only=True)
    assert report.written
    assert db.session.scalar(db.select(Organisation).filter_by(tax_code=REGISTRY_TAX_CODE)) is None
    assert [p.name for p in products()] == ["Chè đen"]


def test_an_unexpected_error_rolls_back_the_whole_import(app, alliance_user, monkeypatch):
    real = services.import_product
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "import_product", failing)
    with pytest.raises(RuntimeError):
        run(alliance_user, csv_bytes([registry_row(), registry_row(name="Chè đen")]))
    assert products() == [] and count(Organisation, kind=OrganisationKind.COOPERATIVE) == 0


# ---------------------------------------------------------------- what the file may say

def test_names_in_vietnamese_and_english_are_understood(app, alliance_user):
    rows = [
        registry_row(name="A", category="Gia vị", unit="Tấn", province="Tỉnh Lạng Sơn", commune="that khe",
                     price_vnd="95.000 đ", price_tiers="", capacity="5 per month"),
        registry_row(name="B", category="gia vi", unit="tonne", province="lang son", commune="6040",
                     price_tiers="", capacity="", cooperative_type="Hợp tác xã"),
        registry_row(name="C", category="Spices and herbs", unit="tan", province="20", commune="Thất Khê",
                     price_tiers="", capacity="100/tháng", certifications="VietGAP; hữu cơ"),
    ]
    report = run(alliance_user, csv_bytes(rows))
    assert report.written, [(line, c, str(m)) for line, c, m in report.errors]
    for product in products():
        assert (product.category.value, product.unit.value) == ("spices_herbs", "tan")
        assert (product.province_code, product.commune_code) == (20, 6040)
    a, b, c = products()
    assert a.base_price_vnd == 95000 and (a.capacity_qty, a.capacity_period) == (5, CapacityPeriod.MONTH)
    assert b.capacity_qty is None
    assert {x.value for x in c.certifications} == {"vietgap", "organic"}


def test_headers_are_case_insensitive_and_semicolon_files_with_a_bom_work(app, alliance_user):
    row = registry_row(price_vnd="350.000")
    columns = list(row)
    data = csv_bytes([row], delimiter=";", bom=True)
    header = ";".join(f"  {c.upper().replace('_', ' ')} " for c in columns).encode("utf-8-sig")
    data = header + data[data.index(b"\r\n"):]
    assert data.startswith(b"\xef\xbb\xbf")
    report = run(alliance_user, data)
    assert report.written, report.errors
    assert products()[0].base_price_vnd == 350000


def test_xlsx_files_are_read_from_the_first_sheet(app, alliance_user):
    row = registry_row(price_vnd=350000, min_order_qty=5.0, ocop_stars=3, ocop_certificate_no="DEMO-1",
                       ocop_expiry=date.today() + timedelta(days=400))
    report = run(alliance_user, xlsx_bytes([row, registry_row(name="Chè đen", price_vnd=12.5)]))
    assert errors_of(report) == [(3, "price_vnd")]
    report = run(alliance_user, xlsx_bytes([row]))
    assert report.written
    product = products()[0]
    assert (product.base_price_vnd, product.min_order_qty) == (350000, 5)
    assert product.certificates[0].expires_on == date.today() + timedelta(days=400)


def test_a_formula_guard_apostrophe_is_removed(app, alliance_user):
    report = run(alliance_user, csv_bytes([registry_row(name="'=Chè (sạch)", description="'+84 giao tận nơi")]))
    assert report.written
    assert (products()[0].name, products()[0].description) == ("=Chè (sạch)", "+84 giao tận nơi")


def test_columns_left_out_keep_the_values_of_an_existing_product(app, alliance_user):
    run(alliance_user, csv_bytes([registry_row(name_en="Green tea", order_increment="5", lead_time_days="3")]))
    short = {k: registry_row()[k] for k in ("cooperative_name", "cooperative_tax_code", "name", "category", "unit")}
    short["price_vnd"] = "345000"
    run(alliance_user, csv_bytes([short]))
    product = products()[0]
    assert product.base_price_vnd == 345000
    assert (product.name_en, product.order_increment, product.lead_time_days) == ("Green tea", 5, 3)
    assert [(t.min_qty, t.unit_price_vnd) for t in product.tiers] == [(20, 330000), (100, 300000)]
    assert product.description == "Chè búp sao chảo gang."
    run(alliance_user, csv_bytes([{**short, "description": ""}]))
    assert products()[0].description == "Chè búp sao chảo gang.", "an empty cell keeps the value (issue 13)"


def test_an_empty_cell_keeps_the_current_value_and_the_erase_mark_clears_it(app, cooperative_owner):
    """Issue 13: a CSV import with an empty cell erased an existing description."""
    run(cooperative_owner, csv_bytes([registry_row(name_en="Green tea", order_increment="5", lead_time_days="3")]))
    empty = {column: "" for column in ("description", "name_en", "category", "unit", "price_vnd", "min_order_qty",
                                       "order_increment", "province", "commune", "certifications",
                                       "harvest_months", "price_tiers", "capacity", "lead_time_days")}
    report = run(cooperative_owner, csv_bytes([registry_row(**empty)]))
    assert report.written and report.errors == [] and report.updated == 1
    product = products()[0]
    assert product.description == "Chè búp sao chảo gang." and product.name_en == "Green tea"
    assert (product.base_price_vnd, product.min_order_qty, product.order_increment, product.lead_time_days) == (
        350000, 5, 5, 3)
    assert (product.province_code, product.commune_code) == (20, 6040)
    assert [(t.min_qty, t.unit_price_vnd) for t in product.tiers] == [(20, 330000), (100, 300000)]
    assert (product.capacity_qty, product.capacity_period) == (600, CapacityPeriod.SEASON)
    assert product.harvest_months == [3, 4, 5] and [c.value for c in product.certifications] == ["vietgap"]

    erase = {column: mark for column, mark in zip(
        ("description", "name_en", "commune", "certifications", "harvest_months", "price_tiers", "capacity",
         "lead_time_days", "order_increment"),
        ("(xoá)", "(xóa)", " (XOÁ) ", "(erase)", "(xoá)", "(xoá)", "(xoá)", "(xoá)", "(xoá)"))}
    report = run(cooperative_owner, csv_bytes([registry_row(**erase)]))
    assert report.written and report.errors == []
    product = products()[0]
    assert (product.description, product.name_en, product.commune_code, product.lead_time_days) == ("", "", None,
                                                                                                   None)
    assert product.tiers == [] and product.certifications == [] and product.harvest_months == []
    assert (product.capacity_qty, product.order_increment, product.province_code) == (None, 1, 20)


def test_a_commune_without_a_province_is_looked_up_in_the_products_current_province(app, cooperative_owner):
    run(cooperative_owner, csv_bytes([registry_row()]))
    report = run(cooperative_owner, csv_bytes([registry_row(province="", commune="Xã Đình Lập")]))
    assert report.written and report.errors == []
    assert (products()[0].province_code, products()[0].commune_name) == (20, "Xã Đình Lập")
    report = run(cooperative_owner, csv_bytes([registry_row(province="", commune="Xã Không Có")]))
    assert errors_of(report) == [(2, "commune")]
    report = run(cooperative_owner, csv_bytes([registry_row(name="Chè mới", province="", commune="Xã Đình Lập")]))
    assert errors_of(report) == [(2, "commune")], "a new product has no province to look in"


@pytest.mark.parametrize("column", ["name", "category", "unit", "price_vnd", "ocop_stars", "cooperative_name"])
def test_required_values_certificates_and_cooperatives_cannot_be_erased(app, alliance_user, column):
    run(alliance_user, csv_bytes([registry_row()]))
    report = run(alliance_user, csv_bytes([registry_row(**{column: importing.ERASE})]))
    assert not report.written and column in [c for _line, c in errors_of(report)]


def test_publishing_valid_rows_never_republishes_a_hidden_product(app, cooperative_owner):
    """Issue 13: "publish valid rows" re-published a product the cooperative had hidden out of season."""
    run(cooperative_owner, csv_bytes([registry_row(), registry_row(name="Chè đen")]), publish=True)
    green, black = products()
    assert green.status == black.status == ProductStatus.PUBLISHED
    services.hide_product(cooperative_owner, green.id)
    run(cooperative_owner, csv_bytes([registry_row(name="Chè vàng")]))  # a draft
    draft_id = products()[-1].id
    report = run(cooperative_owner, csv_bytes([registry_row(price_vnd="360000"), registry_row(name="Chè đen"),
                                               registry_row(name="Chè vàng")]), publish=True)
    assert report.written and report.updated == 3 and report.published == 1
    statuses = {p.id: p.status for p in products()}
    assert statuses[green.id] == ProductStatus.HIDDEN and products()[0].base_price_vnd == 360000
    assert statuses[black.id] == ProductStatus.PUBLISHED and statuses[draft_id] == ProductStatus.PUBLISHED
    assert [row.kept_status for row in report.rows] == ["hidden", "", ""]


# ---------------------------------------------------------------- whole-file problems

@pytest.mark.parametrize("data, expected", [
    (b"", "empty"),
    (b"\xef\xbb\xbf\r\n", "header"),
    (b"name;category;unit;price_vnd\r\n", "no products"),
    (b"name,category,unit\r\nA,other,kg\r\n", "price_vnd"),
    (b"name,category,unit,price_vnd,colour,weight\r\nA,other,kg,1,red,2\r\n", "colour, weight"),
    (b"name,name,category,unit,price_vnd\r\n", "name"),
    ("name,category,unit,price_vnd\r\nCà phê,other,kg,1\r\n".encode("cp1258"), "UTF-8"),
    (b"PK\x03\x04not really a zip", "Excel"),
])
def test_unreadable_files_get_one_clear_message(app, cooperative_owner, data, expected):
    with pytest.raises(ValidationFailed) as caught, force_locale("en"):
        importing.run_import(cooperative_owner, importing.read_table(data))
    assert expected in caught.value.errors["file"]
    assert products() == []


def test_the_alliance_must_name_the_cooperative_columns(app, alliance_user):
    with pytest.raises(ValidationFailed) as caught, force_locale("en"):
        run(alliance_user, b"name,category,unit,price_vnd\r\nA,other,kg,1\r\n")
    assert "cooperative_name, cooperative_tax_code" in caught.value.errors["file"]


def test_size_and_row_limits(app, alliance_user):
    big = FileStorage(io.BytesIO(b"x" * (importing.MAX_FILE_BYTES + 1)), filename="big.csv")
    with pytest.raises(ValidationFailed):
        importing.read_upload(big)
    app.config["IMPORT_MAX_ROWS"] = 2
    with pytest.raises(ValidationFailed):
        importing.read_table(csv_bytes([registry_row(name=str(n)) for n in range(3)]))
    assert len(importing.read_table(csv_bytes([registry_row(name=str(n)) for n in range(2)])).rows) == 2


def test_the_web_takes_fewer_rows_than_the_command_line(client, auth, english, cooperative_owner):
    client.application.config["IMPORT_WEB_MAX_ROWS"] = 1
    auth.login(cooperative_owner.email)
    response = upload(client, csv_bytes([registry_row(), registry_row(name="Chè đen")]))
    assert response.status_code == 422 and "more than 1 rows" in response.get_data(as_text=True)
    assert preview_files(client.application) == []


def test_the_alliances_registry_may_be_longer_on_the_page(client, auth, english, alliance_user):
    client.application.config.update(IMPORT_WEB_MAX_ROWS=1, IMPORT_WEB_MAX_ROWS_ALLIANCE=2)
    auth.login(alliance_user.email)
    assert upload(client, csv_bytes([registry_row(), registry_row(name="Chè đen")])).status_code == 200
    response = upload(client, csv_bytes([registry_row(name=str(n)) for n in range(3)]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "more than 2 rows" in page and "flask catalog import" in page


def test_an_xlsx_zip_bomb_is_refused_before_parsing(app, alliance_user):
    app.config["IMPORT_MAX_UNPACKED_BYTES"] = 1000
    with pytest.raises(ValidationFailed):
        importing.read_table(xlsx_bytes([registry_row()]))


def test_enterprises_cannot_import(app, enterprise_owner):
    with pytest.raises(Forbidden):
        run(enterprise_owner, csv_bytes([registry_row()]))


# ---------------------------------------------------------------- a cooperative imports its own products

def test_a_cooperative_imports_into_its_own_catalogue_whatever_the_file_says(app, cooperative_owner):
    victim = factories.organisation("cooperative", tax_code=OTHER_TAX_CODE)
    row = registry_row(cooperative_tax_code=OTHER_TAX_CODE, cooperative_name=victim.legal_name,
                       ocop_stars="4", ocop_certificate_no="DEMO-2", ocop_expiry=FUTURE)
    report = run(cooperative_owner, csv_bytes([row]), publish=True)
    assert report.written and report.cooperatives_created == 0
    product = products()[0]
    assert product.cooperative_id == cooperative_owner.organisation_id
    assert product.status == ProductStatus.PUBLISHED
    assert product.certificates[0].status == CertificateStatus.PENDING, "the alliance verifies it"
    assert count(Product, cooperative_id=victim.id) == 0


def test_cooperative_columns_are_optional_for_a_cooperative(app, pending_cooperative_owner):
    report = run(pending_cooperative_owner, b"name,category,unit,price_vnd\r\nQu\xe1\xba\xbf,other,kg,1\r\n",
                 publish=True)
    assert report.written and report.published == 0
    assert products()[0].status == ProductStatus.DRAFT, "an unverified cooperative cannot publish"


# ---------------------------------------------------------------- the web flow

def upload(client, data, filename="san-pham.csv"):
    return client.post("/workspace/import", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def token_of(html):
    match = re.search(r'action="/workspace/import/([A-Za-z0-9_-]{43})"', html)
    assert match, "the preview has no confirmation form"
    return match[1]


def preview_files(app):
    return sorted((Path(app.config["UPLOAD_DIR"]) / "imports").glob("*.json"))


def test_the_upload_page_explains_the_columns(client, auth, cooperative_owner, alliance_user, enterprise_owner):
    auth.login(cooperative_owner.email)
    page = client.get("/workspace/import").get_data(as_text=True)
    assert "price_tiers" in page and "cooperative_tax_code" in page
    assert 'enctype="multipart/form-data"' in page
    assert "/workspace/export.csv?template=1" in page
    auth.logout()
    auth.login(enterprise_owner.email)
    assert client.get("/workspace/import").status_code == 403
    assert upload(client, csv_bytes([registry_row()])).status_code == 403


def test_preview_then_confirm(client, auth, app, cooperative_owner):
    auth.login(cooperative_owner.email)
    response = upload(client, csv_bytes([registry_row(), registry_row(name="Chè đen")]))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Chè đen" in html and products() == [], "a preview writes nothing"
    token = token_of(html)
    [stored] = preview_files(app)
    assert json.loads(stored.read_text())["user_id"] == cooperative_owner.id
    assert stored.stat().st_mode & 0o077 == 0

    response = client.post(f"/workspace/import/{token}", data={"publish": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/workspace/products")
    assert [(p.name, p.status) for p in products()] == [("Chè xanh Mẫu Sơn", ProductStatus.PUBLISHED),
                                                        ("Chè đen", ProductStatus.PUBLISHED)]
    assert preview_files(app) == [], "a confirmed preview is spent"
    assert client.post(f"/workspace/import/{token}").status_code == 404


def test_the_upload_page_documents_the_erase_convention(client, auth, english, cooperative_owner):
    auth.login(cooperative_owner.email)
    page = client.get("/workspace/import").get_data(as_text=True)
    convention = re.search(r'<p id="erase-convention">(.*?)</p>', page, re.S)[1]
    assert "An empty cell also keeps the current value" in convention and "(xoá)" in convention
    assert "never publishes a product your cooperative hid" in convention
    assert "An empty cell clears the value" not in page


def test_the_preview_lists_old_and_new_values_per_field_and_keeps_a_hidden_product_hidden(
        client, auth, english, cooperative_owner):
    """Issue 13: the preview said only "✓ update"; an empty description cell erased it; a hidden product came back."""
    run(cooperative_owner, csv_bytes([registry_row(), registry_row(name="Chè đen")]), publish=True)
    green = products()[0]
    services.hide_product(cooperative_owner, green.id)
    auth.login(cooperative_owner.email)
    data = csv_bytes([registry_row(description="", price_vnd="360000", capacity="(xoá)", price_tiers="50:320000"),
                      registry_row(name="Chè đen")])
    response = upload(client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    diff = re.search(r'<table class="table table-sm transfer-diff">(.*?)</table>', html, re.S)[1]
    caption = re.search(r'<caption id="changes-2">(.*?)</caption>', diff, re.S)[1]
    assert "Line 2" in caption and "Chè xanh Mẫu Sơn" in caption
    assert '<th scope="col">Now</th>' in diff and '<th scope="col">After the import</th>' in diff
    cells = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", diff.split("<tbody>")[1], re.S)]
    rows = [tuple(cells[i:i + 3]) for i in range(0, len(cells), 3)]
    assert rows == [("price_vnd", "₫350,000", "₫360,000"),
                    ("price_tiers", "20: ₫330,000; 100: ₫300,000", "50: ₫320,000"),
                    ("capacity", "600 / per season", "(erased)")]
    assert "description" not in dict((r[0], r) for r in rows), "an empty cell changes nothing"
    assert 'href="#changes-2"' in html and "3 fields change" in html
    assert "nothing changes" in html  # line 3, the same values again
    assert "it stays hidden" in html
    assert len(re.findall(r'class="table table-sm transfer-diff"', html)) == 1

    response = client.post(f"/workspace/import/{token_of(html)}", data={"publish": "1"})
    assert response.status_code == 302
    green, black = products()
    assert green.status == ProductStatus.HIDDEN and black.status == ProductStatus.PUBLISHED
    assert green.description == "Chè búp sao chảo gang." and green.base_price_vnd == 360000
    assert green.capacity_qty is None


def test_the_preview_lists_errors_by_line_and_column(client, auth, english, cooperative_owner):
    auth.login(cooperative_owner.email)
    response = upload(client, csv_bytes([registry_row(), registry_row(name="Quế", unit="bao", price_vnd="12,5")]))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"Line 3, column <code>unit</code>: Unknown unit", html)
    assert re.search(r"Line 3, column <code>price_vnd</code>: ", html)
    assert 'name="valid_only"' in html
    token = token_of(html)

    refused = client.post(f"/workspace/import/{token}")
    assert refused.status_code == 422 and "Nothing was imported" in refused.get_data(as_text=True)
    assert products() == []

    accepted = client.post(f"/workspace/import/{token}", data={"valid_only": "1"})
    assert accepted.status_code == 302
    assert [p.name for p in products()] == ["Chè xanh Mẫu Sơn"]


def test_the_preview_escapes_what_the_file_says(client, auth, cooperative_owner):
    auth.login(cooperative_owner.email)
    attack = "<img src=x onerror=alert(1)>"
    html = upload(client, csv_bytes([registry_row(name=attack), registry_row(name=attack, unit=attack)]),
                  filename=f"{attack}.csv").get_data(as_text=True)
    assert attack not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    report = importing.run_import(cooperative_owner, importing.read_table(csv_bytes([registry_row(unit="?")])),
                                  dry_run=True)
    assert all(type(message) is str for _line, _column, message in report.errors), "never a lazy (markup) string"


def test_a_bad_file_is_shown_on_the_upload_form(client, auth, english, cooperative_owner):
    auth.login(cooperative_owner.email)
    response = upload(client, b"name,category,unit,prize\r\nA,other,kg,1\r\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Unknown columns: prize" in html and 'aria-invalid="true"' in html
    html = upload(client, b"name,category,unit,price_vnd,<b>x</b>\r\nA,other,kg,1,2\r\n").get_data(as_text=True)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert client.post("/workspace/import", data={}, content_type="multipart/form-data").status_code == 422


def test_an_expired_preview_cannot_be_confirmed(client, auth, app, cooperative_owner):
    auth.login(cooperative_owner.email)
    token = token_of(upload(client, csv_bytes([registry_row()])).get_data(as_text=True))
    [stored] = preview_files(app)
    content = json.loads(stored.read_text())
    content["created"] -= importing.PREVIEW_SECONDS + 1
    stored.write_text(json.dumps(content))
    response = client.post(f"/workspace/import/{token}")
    assert response.status_code == 404
    assert "/workspace/import" in response.get_data(as_text=True)
    assert products() == [] and preview_files(app) == []


def test_someone_elses_preview_is_not_found(client, auth, app, cooperative_owner):
    colleague = factories.user(cooperative_owner.organisation, email="colleague@htx.example", role="member")
    auth.login(cooperative_owner.email)
    token = token_of(upload(client, csv_bytes([registry_row()])).get_data(as_text=True))
    auth.logout()
    auth.login(colleague.email)
    assert client.post(f"/workspace/import/{token}").status_code == 404
    assert client.post("/workspace/import/..%2F..%2Fsecret").status_code == 404
    assert products() == [] and len(preview_files(app)) == 1


def test_a_cooperative_cannot_import_into_another_cooperative_through_the_web(client, auth, cooperative_owner):
    victim = factories.organisation("cooperative", tax_code=OTHER_TAX_CODE)
    auth.login(cooperative_owner.email)
    row = registry_row(cooperative_name=victim.legal_name, cooperative_tax_code=OTHER_TAX_CODE, cooperative_type="")
    html = upload(client, csv_bytes([row])).get_data(as_text=True)
    assert client.post(f"/workspace/import/{token_of(html)}").status_code == 302
    assert [p.cooperative_id for p in products()] == [cooperative_owner.organisation_id]
    assert count(Product, cooperative_id=victim.id) == 0


def test_the_alliance_imports_for_cooperatives_through_the_web(client, auth, alliance_user):
    auth.login(alliance_user.email)
    html = upload(client, xlsx_bytes([registry_row()]), filename="so-dang-ky.xlsx").get_data(as_text=True)
    assert "HTX Chè Mẫu Sơn" in html and "so-dang-ky.xlsx" in html
    response = client.post(f"/workspace/import/{token_of(html)}", data={"publish": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/workspace/import")
    product = products()[0]
    assert product.cooperative.tax_code == REGISTRY_TAX_CODE and product.status == ProductStatus.PUBLISHED


def test_imported_certificates_stay_pending_for_a_cooperative_even_when_re_imported(app, cooperative_owner,
                                                                                  alliance_user):
    row = registry_row(ocop_stars="3", ocop_certificate_no="DEMO-3", ocop_expiry=FUTURE)
    run(cooperative_owner, csv_bytes([row]))
    certificate = db.session.scalar(db.select(OcopCertificate))
    services.revoke_certificate(alliance_user, certificate.id, "Số không khớp")
    run(cooperative_owner, csv_bytes([row]))
    db.session.expire_all()
    assert db.session.scalar(db.select(OcopCertificate)).status == CertificateStatus.REVOKED
