"""Export of products (catalog.export_products) in the import's columns: CSV with a BOM and XLSX,
attachment headers, who sees what, formula-injection guard, and export → import round trips."""
import csv
import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from marketplace.catalog import importing, services
from marketplace.catalog.models import UNIT_NAMES_VI, Product, Unit
from marketplace.extensions import db
from tests import factories


@pytest.fixture
def catalogue(app, cooperative_owner, alliance_user):
    """Two products of the owner's cooperative (one with a verified, one with a pending certificate)
    and one of another cooperative."""
    details = services.ProductDetails(
        name="Hoa hồi khô", name_en="Dried star anise", description="Hồi mùa, \"cánh đều\";\nsấy lò.",
        category="spices_herbs", unit="kg", province_code=20, commune_code=6040, base_price_vnd=160000,
        min_order_qty=50, order_increment=10, capacity_qty=50000, capacity_period="year", harvest_months=[8, 9, 10],
        lead_time_days=5, certifications=["organic", "geographical_indication"], tiers=[(500, 150000), (2000, 142000)])
    anise = services.create_product(cooperative_owner, details)
    services.add_certificate(cooperative_owner, anise.id, services.CertificateDetails(
        stars=4, certificate_no="DEMO-OCOP-LS-2025-021", decision_date=date.today() - timedelta(days=30)))
    services.verify_certificate(alliance_user, anise.certificates[0].id, "Đối chiếu quyết định.")
    honey = services.create_product(cooperative_owner, services.ProductDetails(
        name="Mật ong rừng", category="processed_food", unit="lit", base_price_vnd=450000))
    services.add_certificate(cooperative_owner, honey.id, services.CertificateDetails(
        stars=3, certificate_no="DEMO-PENDING", decision_date=date.today()))
    other = factories.organisation("cooperative", legal_name="HTX Láng giềng")
    services.import_product(alliance_user, other, services.ProductDetails(
        name="Cá trắm giòn", category="aquatic", unit="kg", base_price_vnd=180000))
    db.session.commit()
    return {"anise": anise, "honey": honey, "other": other}


def csv_rows(response):
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def details_of_all():
    db.session.expire_all()
    return {p.id: services.ProductDetails.of(p) for p in db.session.scalars(db.select(Product))}


def test_a_cooperative_exports_its_own_products_as_csv(client, auth, cooperative_owner, catalogue):
    auth.login(cooperative_owner.email)
    response = client.get("/workspace/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=san-pham-")
    assert "no-store" in response.headers["Cache-Control"]
    header = response.get_data().decode("utf-8-sig").split("\r\n", 1)[0]
    assert header == ",".join(f'"{name}"' for name in importing.COLUMNS), "every field is quoted"
    rows = csv_rows(response)
    assert [r["name"] for r in rows] == ["Hoa hồi khô", "Mật ong rừng"], "ordered by name, own products only"
    anise, honey = rows
    assert anise == {
        "cooperative_name": cooperative_owner.organisation.legal_name,
        "cooperative_tax_code": cooperative_owner.organisation.tax_code, "cooperative_type": "hop_tac_xa",
        "name": "Hoa hồi khô", "category": "spices_herbs", "description": "Hồi mùa, \"cánh đều\";\nsấy lò.",
        "unit": "kg", "price_vnd": "160000", "min_order_qty": "50", "ocop_stars": "4",
        "ocop_certificate_no": "DEMO-OCOP-LS-2025-021",
        "ocop_expiry": catalogue["anise"].certificates[0].expires_on.isoformat(),
        "province": "Lạng Sơn", "commune": "Xã Thất Khê", "certifications": "geographical_indication;organic",
        "harvest_months": "8;9;10", "price_tiers": "500:150000;2000:142000", "capacity": "50000/year",
        "name_en": "Dried star anise", "order_increment": "10", "lead_time_days": "5",
    }
    assert honey["ocop_stars"] == honey["ocop_certificate_no"] == "", "a pending certificate is not exported"
    assert honey["unit"] == "lít", "units as their Vietnamese names, not codes (lit)"


def test_xlsx_export(client, auth, cooperative_owner, catalogue):
    auth.login(cooperative_owner.email)
    response = client.get("/workspace/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype == importing.XLSX_MIMETYPE
    assert response.headers["Content-Disposition"].endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    try:
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    assert list(rows[0]) == list(importing.COLUMNS)
    anise = dict(zip(rows[0], rows[1]))
    assert (anise["name"], anise["price_vnd"], anise["cooperative_tax_code"]) == (
        "Hoa hồi khô", 160000, cooperative_owner.organisation.tax_code)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_template_is_the_header_row(client, auth, cooperative_owner, catalogue, fmt):
    auth.login(cooperative_owner.email)
    response = client.get(f"/workspace/export.{fmt}?template=1")
    assert response.status_code == 200
    table = importing.read_table(response.get_data())
    assert table.columns == list(importing.COLUMNS) and table.rows == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(client, auth, cooperative_owner, catalogue, fmt):
    before = details_of_all()
    auth.login(cooperative_owner.email)
    data = client.get(f"/workspace/export.{fmt}").get_data()
    report = importing.run_import(cooperative_owner, importing.read_table(data))
    assert report.written and (report.created, report.updated) == (0, 2)
    assert details_of_all() == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_unit_is_exported_by_its_vietnamese_name_and_imported_back(client, auth, cooperative_owner, fmt):
    for unit in Unit:
        services.create_product(cooperative_owner, services.ProductDetails(
            name=f"Sản phẩm tính theo {UNIT_NAMES_VI[unit]}", category="other", unit=unit.value, base_price_vnd=1000))
    db.session.commit()
    before = details_of_all()
    auth.login(cooperative_owner.email)
    data = client.get(f"/workspace/export.{fmt}").get_data()
    table = importing.read_table(data)
    units = [cells["unit"] for _line, cells in table.rows]
    assert sorted(units) == sorted(UNIT_NAMES_VI.values()) and {"tấn", "hộp", "lít", "quả"} <= set(units)
    report = importing.run_import(cooperative_owner, table)
    assert report.written and (report.created, report.updated) == (0, len(Unit))
    assert details_of_all() == before


def test_the_alliance_round_trips_every_cooperative(client, auth, alliance_user, catalogue):
    before = details_of_all()
    auth.login(alliance_user.email)
    data = client.get("/workspace/export.xlsx").get_data()
    assert len(importing.read_table(data).rows) == 3
    report = importing.run_import(alliance_user, importing.read_table(data))
    assert report.written and (report.created, report.updated, report.cooperatives_created) == (0, 3, 0)
    assert details_of_all() == before


def test_formulas_are_defused_in_the_export_and_restored_by_the_import(client, auth, cooperative_owner):
    names = ["=HYPERLINK(\"http://evil.example\",\"Bấm\")", "+84 Chè", "-Quế-", "@SUM(A1)"]
    for name in names:
        services.create_product(cooperative_owner, services.ProductDetails(
            name=name, description="=1+1", category="other", unit="kg", base_price_vnd=1000))
    auth.login(cooperative_owner.email)
    csv_data = client.get("/workspace/export.csv").get_data()
    rows = csv_rows(client.get("/workspace/export.csv"))
    assert sorted(r["name"] for r in rows) == sorted("'" + n for n in names)
    assert {r["description"] for r in rows} == {"'=1+1"}
    xlsx_data = client.get("/workspace/export.xlsx").get_data()
    workbook = load_workbook(io.BytesIO(xlsx_data))
    cells = [row[3] for row in workbook.worksheets[0].iter_rows(min_row=2)]
    assert all(c.data_type == "s" and c.value.startswith("'") for c in cells), "never a formula"
    for data in (csv_data, xlsx_data):
        before = details_of_all()
        report = importing.run_import(cooperative_owner, importing.read_table(data))
        assert report.written and report.created == 0
        assert details_of_all() == before
    assert sorted(p.name for p in db.session.scalars(db.select(Product))) == sorted(names)


# Texts that Excel, with ";" as its list separator (Vietnamese locales), cut into cells, one of them a
# formula (issue 12: "mô tả;=1+1;" came out unguarded); with quotes, tabs and apostrophes around.
SPLIT_FORMULAS = ["mô tả;=1+1;", "Quế,@SUM(A1)", "giá;-2,+3", "x;\t=1", 'ghi chú,"=1+1', "'=không phải công thức",
                  "a;'b", "10.000, -5% cho đơn lớn"]


def excel_fragments(text):
    """Every piece Excel could make a cell of: each field cut at every "," and ";", and each raw line cut
    the same way without regard to quotes (a reader set to the other separator does not honour them),
    the quotes around a piece dropped."""
    for row in csv.reader(io.StringIO(text, newline="")):
        for field in row:
            yield from re.split("[,;]", field)
    for line in text.splitlines():
        yield from (piece.lstrip('"') for piece in re.split("[,;]", line))


def test_every_field_is_quoted_and_no_piece_of_a_cell_can_start_a_formula(client, auth, cooperative_owner):
    for number, text in enumerate(SPLIT_FORMULAS):
        services.create_product(cooperative_owner, services.ProductDetails(
            name=f"Sản phẩm {number} {text}", description=text, category="other", unit="kg", base_price_vnd=1000))
    auth.login(cooperative_owner.email)
    data = client.get("/workspace/export.csv").get_data()
    text = data.decode("utf-8-sig")

    rows = list(csv.reader(io.StringIO(text, newline="")))
    rewritten = io.StringIO(newline="")
    csv.writer(rewritten, lineterminator="\r\n", quoting=csv.QUOTE_ALL).writerows(rows)
    assert rewritten.getvalue() == text, "every field is quoted, numbers and empty ones too"

    pieces = list(excel_fragments(text))
    assert "'=1+1" in pieces and "'@SUM(A1)" in pieces and "'\t=1" in pieces
    assert [piece for piece in pieces if piece.startswith(importing.FORMULA_START)] == []
    descriptions = {row[importing.COLUMNS.index("description")] for row in rows[1:]}
    assert "mô tả;'=1+1;" in descriptions and "10.000, -5% cho đơn lớn" in descriptions  # a space: no formula

    before = details_of_all()
    report = importing.run_import(cooperative_owner, importing.read_table(data))
    assert report.written and report.created == 0
    assert details_of_all() == before, "the import removes exactly the guards the export added"
    assert sorted(p.description for p in db.session.scalars(db.select(Product))) == sorted(SPLIT_FORMULAS)


def test_the_alliance_exports_everything_or_one_cooperative(client, auth, alliance_user, cooperative_owner,
                                                            catalogue):
    auth.login(alliance_user.email)
    assert len(csv_rows(client.get("/workspace/export.csv"))) == 3
    one = csv_rows(client.get(f"/workspace/export.csv?cooperative={catalogue['other'].id}"))
    assert [r["name"] for r in one] == ["Cá trắm giòn"]
    assert client.get("/workspace/export.csv?cooperative=999999").status_code == 404
    # Not an id at all: refused (400), rather than read as "no cooperative", which exported everything.
    for value in (2**40, "abc", "-1", "1.5"):
        assert client.get(f"/workspace/export.csv?cooperative={value}").status_code == 400, value
    assert len(csv_rows(client.get("/workspace/export.csv?cooperative="))) == 3  # the form's "All cooperatives"
    assert client.get(f"/workspace/export.csv?cooperative={alliance_user.organisation_id}").status_code == 404
    page = client.get("/workspace/import").get_data(as_text=True)
    assert "HTX Láng giềng" in page, "the alliance picks a cooperative to export"


def test_a_cooperative_cannot_export_another_cooperatives_products(client, auth, cooperative_owner, catalogue):
    auth.login(cooperative_owner.email)
    rows = csv_rows(client.get(f"/workspace/export.csv?cooperative={catalogue['other'].id}"))
    assert "Cá trắm giòn" not in {r["name"] for r in rows}


def test_enterprises_and_anonymous_people_cannot_export(client, auth, enterprise_owner, catalogue):
    response = client.get("/workspace/export.csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login(enterprise_owner.email)
    assert client.get("/workspace/export.csv").status_code == 403
    assert client.get("/workspace/export.xlsx?template=1").status_code == 403
    assert client.get("/workspace/export.pdf").status_code == 404
