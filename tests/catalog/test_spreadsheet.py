"""Spreadsheets are read as streams under hard caps (issue 12, checklist row 36): catalog.spreadsheet.

Each hostile file is refused at the first cap it crosses, and the tests assert the work done before
the refusal (cells read, XML elements parsed, bytes unpacked: spreadsheet.Stats), never the time. The
reader also gives the values openpyxl gives, so the import reads workbooks as before.
"""
import io
import re
import struct
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from flask_babel import force_locale
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from bench import hostile_files
from marketplace.catalog import importing
from marketplace.catalog.spreadsheet import (
    ELEMENTS_PER_CELL,
    READ_CHUNK,
    Limits,
    Stats,
    csv_records,
    xlsx_records,
)
from marketplace.errors import ValidationFailed

PROBE_CELLS = 1_184_210
OLD_UNPACKED_CAP = 50 * 1024 * 1024  # the cap the probe's file was built under


def read(data, limits=None, **changes):
    """(rows, stats) of XLSX or CSV bytes, as the import reads them; raises ValidationFailed."""
    limits = limits or Limits(**changes)
    stats = Stats()
    reader = xlsx_records if data.startswith(b"PK") else csv_records
    return list(reader(data, limits, stats)), stats


def refusal(data, limits=None, **changes):
    """(message in English, stats) of a file that must be refused."""
    limits = limits or Limits(**changes)
    stats = Stats()
    reader = xlsx_records if data.startswith(b"PK") else csv_records
    with pytest.raises(ValidationFailed) as refused, force_locale("en"):
        for _row in reader(data, limits, stats):
            pass
    with force_locale("en"):
        return str(refused.value.errors["file"]), stats


# ---------------------------------------------------------------- the probe's file (issue 12)

@pytest.fixture(scope="module")
def probe():
    data = hostile_files.probe_xlsx(PROBE_CELLS)
    assert len(data) < 140_000, "about the 136 KB of the probe's file"
    unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert 40 * 1024 * 1024 < unpacked < OLD_UNPACKED_CAP, "45 MB unpacked, under the old 50 MB cap"
    return data


def test_the_probes_million_cell_row_is_refused_before_any_cell_is_read(app, probe):
    message, stats = refusal(probe, importing.import_limits(web=True))
    assert message == "The workbook is larger than 20 MB once unpacked. Split it into several files."
    assert stats.cells == 0 and stats.unpacked_bytes < 10_000  # only the workbook's small parts were read


def test_under_the_old_unpacked_cap_the_probe_stops_at_the_first_cell_beyond_the_columns(probe):
    """openpyxl built the whole row first: 1,184,210 cells, 1 GB. The stream stops at cell 61."""
    message, stats = refusal(probe, max_unpacked_bytes=OLD_UNPACKED_CAP)
    assert message == "A row has a value beyond column 60. A file may have at most 60 columns."
    assert stats.cells == 61
    assert stats.unpacked_bytes < 100_000, "the 45 MB sheet is not unpacked"


def test_a_row_of_empty_cells_stops_at_the_cell_cap(app):
    data = hostile_files.probe_xlsx(2_000_000, value=b"")  # 2 million <c/>: nothing beyond a column
    message, stats = refusal(data, max_cells=5000)
    assert message.startswith("The file has more than 5.000 cells (empty cells and blank rows count too).")
    assert stats.cells == 5001
    assert stats.unpacked_bytes < 200_000


def test_blank_rows_count_as_cells():
    data = hostile_files.xlsx([b"<row/>" * 100_000])
    message, stats = refusal(data, max_cells=1000)
    assert "more than 1.000 cells" in message and stats.cells == 1001


def test_the_probe_is_refused_through_the_page(client, auth, english, pending_cooperative_owner, probe):
    """A self-registered, still pending cooperative posted it to /workspace/import."""
    auth.login(pending_cooperative_owner.email)
    response = client.post("/workspace/import", data={"file": (io.BytesIO(probe), "probe.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "The workbook is larger than 20 MB once unpacked." in response.get_data(as_text=True)
    assert not list((Path(client.application.config["UPLOAD_DIR"]) / "imports").glob("*.json"))


# ---------------------------------------------------------------- the other caps, early

def test_markup_beyond_the_cells_allowance_is_refused():
    """Elements that are not cells (here empty <x/> inside a row) cannot make the parser work for free."""
    limits = Limits(max_cells=1000)
    data = hostile_files.xlsx([b'<row r="1">' + b"<x/>" * 50_000 + b"</row>"])
    message, stats = refusal(data, limits)
    assert message.startswith("The workbook holds too much besides its values")
    allowance = 10_000 + ELEMENTS_PER_CELL * limits.max_cells
    assert stats.elements <= allowance + 10  # the workbook's own parts add a few


def test_a_declared_shared_string_count_over_the_cap_is_refused_before_reading_them():
    strings = b"".join(b"<si><t>%d</t></si>" % n for n in range(50))
    data = hostile_files.xlsx(b'<row r="1"><c t="s"><v>0</v></c></row>', strings, declared_strings=50)
    message, stats = refusal(data, max_shared_strings=10)
    assert message == "The workbook has more than 10 different texts. Split it into several files."
    assert stats.shared_strings == 0


def test_undeclared_shared_strings_are_counted_as_they_come():
    strings = b"".join(b"<si><t>%d</t></si>" % n for n in range(50))
    data = hostile_files.xlsx(b'<row r="1"><c t="s"><v>0</v></c></row>', strings)
    message, stats = refusal(data, max_shared_strings=10)
    assert "more than 10 different texts" in message and stats.shared_strings == 10


def test_the_unpacked_size_is_checked_on_the_parts_read_before_any_is_unpacked():
    limits = Limits(max_cells=2000, max_shared_strings=2000, max_unpacked_bytes=4 * 1024 * 1024)
    data = hostile_files.shared_strings_xlsx(limits)  # 2 MB of shared strings
    message, stats = refusal(data, max_cells=2000, max_shared_strings=2000, max_unpacked_bytes=1024 * 1024)
    assert message == "The workbook is larger than 1 MB once unpacked. Split it into several files."
    assert stats.unpacked_bytes < 10_000 and stats.shared_strings == 0


def _understate_size(data, part, size):
    """Rewrite the zip so that `part` claims `size` unpacked bytes (local header and central directory)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo(part)
    patched = bytearray(data)
    struct.pack_into("<I", patched, info.header_offset + 22, size)
    for match in re.finditer(rb"PK\x01\x02", data):
        offset = match.start()
        name_length = struct.unpack_from("<H", data, offset + 28)[0]
        if data[offset + 46:offset + 46 + name_length] == part.encode():
            struct.pack_into("<I", patched, offset + 24, size)
    return bytes(patched)


def test_a_zip_that_understates_a_size_is_not_unpacked_further():
    data = hostile_files.probe_xlsx(200_000)  # 7.6 MB of sheet
    lying = _understate_size(data, "xl/worksheets/sheet1.xml", 1000)
    message, stats = refusal(lying, max_unpacked_bytes=OLD_UNPACKED_CAP)
    assert message == "This file cannot be read as an Excel workbook (XLSX)."
    assert stats.unpacked_bytes <= 1000 + 10_000


def test_a_document_type_definition_is_refused():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
              b'<row r="1"><c t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(hostile_files.xlsx(b""))) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info.filename, laughs if info.filename.endswith("sheet1.xml") else content)
    message, _stats = refusal(buffer.getvalue())
    assert message == "This file cannot be read as an Excel workbook (XLSX)."


def test_rows_stop_at_the_row_cap_while_reading(app):
    app.config["IMPORT_MAX_ROWS"] = 3
    data = hostile_files.xlsx([hostile_files.inline_row(1, hostile_files.HEADER)]
                              + [hostile_files.inline_row(n, ["Chè", "other", "kg", "1", ""]) for n in range(2, 1000)])
    stats = Stats()
    with pytest.raises(ValidationFailed) as refused, force_locale("en"):
        importing.read_table(data, stats=stats)
    assert "more than 3 rows" in str(refused.value.errors["file"])
    # Rows come out after each 64 KB of sheet: the reader stops within a chunk of the cap, not at the end.
    assert stats.unpacked_bytes <= 2 * READ_CHUNK and stats.cells < 999 * 5 / 2


# ---------------------------------------------------------------- CSV

def test_a_csv_row_longer_than_the_line_cap_is_refused():
    data = b"name,category,unit,price_vnd,description\r\nA,other,kg,1," + b"x" * 5000 + b"\r\n"
    message, _stats = refusal(data, max_line_chars=1000)
    assert message == "A row of the file is longer than 1.000 characters."


def test_a_quoted_cell_spanning_lines_counts_as_one_row():
    data = b'name,category,unit,price_vnd,description\r\nA,other,kg,1,"' + "dòng\r\n".encode() * 400 + b'"\r\n'
    message, _stats = refusal(data, max_line_chars=1000)
    assert "longer than 1.000 characters" in message
    rows, _stats = read(data, max_line_chars=10_000)
    assert len(rows) == 2


def test_csv_values_beyond_the_column_cap_are_refused_and_empty_ones_ignored():
    header = b"name,category,unit,price_vnd\r\n"
    message, _stats = refusal(header + b"A,other,kg,1" + b",x" * 100 + b"\r\n", max_columns=60)
    assert message == "A row has a value beyond column 60. A file may have at most 60 columns."
    rows, _stats = read(header + b"A,other,kg,1" + b"," * 100 + b"\r\n", max_columns=60)
    assert rows[1] == (2, ["A", "other", "kg", "1"] + [""] * 56)


def test_blank_csv_lines_count_as_cells():
    message, stats = refusal(b"name,category,unit,price_vnd\r\n" + b"\r\n" * 100_000, max_cells=1000)
    assert "more than 1.000 cells" in message and stats.cells == 1001


# ---------------------------------------------------------------- values as openpyxl reads them

def test_values_are_those_openpyxl_reads():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "price_vnd", "ocop_expiry", "min_order_qty", "description", None, "flag"])
    sheet.append(["Chè Shan tuyết", 350000, date(2027, 6, 30), 2.5, "=1+1", None, True])
    sheet.append(["Quế", 1.0, datetime(2026, 1, 2, 3, 4, 5), -7, "  có dấu cách  ", "F", False])
    sheet["B4"] = "=SUM(B2:B3)"  # a formula without a cached value: None for both
    sheet["A5"] = CellRichText("Mật ", TextBlock(InlineFont(b=True), "ong"), " rừng")
    sheet["AZ6"] = "far right"
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()

    expected = []
    reference = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    for line, row in enumerate(reference.worksheets[0].iter_rows(values_only=True), start=1):
        values = list(row)
        while values and values[-1] is None:
            values.pop()
        if values:
            expected.append((line, values))
    reference.close()

    rows, _stats = read(data)
    assert [(line, values) for line, values in rows if values] == expected
    assert rows[1][1][2] == datetime(2027, 6, 30)  # a date cell is a date, not a serial number


def test_a_workbook_with_prefixed_names_and_1904_dates_is_read():
    main = hostile_files.MAIN
    parts = {
        "[Content_Types].xml": hostile_files.CONTENT_TYPES.format(shared="").encode(),
        "_rels/.rels": hostile_files.ROOT_RELS,
        "xl/workbook.xml": (f'<x:workbook xmlns:x="{main}" xmlns:r="{hostile_files.RELATIONSHIPS}">'
                            '<x:workbookPr date1904="1"/><x:sheets><x:sheet name="a" sheetId="1" r:id="rId1"/>'
                            "</x:sheets></x:workbook>").encode(),
        "xl/_rels/workbook.xml.rels": hostile_files.WORKBOOK_RELS.replace(b'Target="sharedStrings.xml"',
                                                                         b'Target="styles.xml"').replace(
            b"/sharedStrings", b"/styles"),
        "xl/styles.xml": (f'<x:styleSheet xmlns:x="{main}"><x:cellXfs count="2"><x:xf numFmtId="0"/>'
                          '<x:xf numFmtId="14"/></x:cellXfs></x:styleSheet>').encode(),
        "xl/worksheets/sheet1.xml": (f'<x:worksheet xmlns:x="{main}"><x:sheetData><x:row r="3">'
                                     '<x:c r="B3" t="inlineStr"><x:is><x:t>Na dai</x:t></x:is></x:c>'
                                     '<x:c r="C3" s="1"><x:v>1</x:v></x:c></x:row></x:sheetData></x:worksheet>').encode(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    rows, _stats = read(buffer.getvalue())
    assert rows == [(3, [None, "Na dai", datetime(1904, 1, 2)])]


def test_the_worst_workbooks_within_the_limits_are_read_whole():
    limits = Limits(max_cells=3000, max_shared_strings=3000, max_unpacked_bytes=512 * 1024)
    for data in (hostile_files.widest_xlsx(limits), hostile_files.shared_strings_xlsx(limits)):
        rows, stats = read(data, limits)
        assert len(rows) == 3000 // 60 and stats.cells > 2900
        assert stats.unpacked_bytes <= limits.max_unpacked_bytes
    rows, stats = read(hostile_files.widest_csv(limits, max_bytes=300_000), limits)
    assert len(rows) == 3000 // 60 and stats.cells > 2900
