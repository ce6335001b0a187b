"""The alliance's reports as files: CSV and XLSX of every table of a Report (the catalogue export's writers,
`catalog.importing.csv_bytes` / `xlsx_bytes`: every field quoted, formula guard, UTF-8 with a BOM), and the
printable PDF summary in Vietnamese (alliance/report_pdf.py, imported lazily: fpdf2 costs ~0.3 s to import)."""
import re
from datetime import date

from marketplace.alliance.reports import PERCENT, text
from marketplace.catalog import importing

XLSX_MIMETYPE = importing.XLSX_MIMETYPE
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _cell(value, kind, for_xlsx):
    value = text(value)
    if kind == PERCENT:
        return round(value * 100, 1)
    if isinstance(value, date) and not for_xlsx:
        return value.strftime("%d/%m/%Y")
    return value


def _rows(table, for_xlsx):
    return [[str(h) for h in table.headings],
            *([_cell(v, k, for_xlsx) for v, k in zip(row, table.kinds, strict=True)] for row in table.rows)]


def to_csv(report):
    """One CSV: each table's title, its header row and rows, a blank row between tables."""
    rows = [[str(report.title)], [report.on.strftime("%d/%m/%Y")]]
    if report.summary:
        rows.append([str(report.summary)])
    for table in report.tables:
        rows += [[], [str(table.title)], *_rows(table, False)]
    return importing.csv_bytes(rows)


def to_xlsx(report):
    """One sheet per table (named by the table's title, cut to Excel's 31 characters), a first sheet with the
    report's title, day and summary."""
    sheets = [("Báo cáo", [[str(report.title)], [report.on], *([[str(report.summary)]] if report.summary else [])])]
    used = set()
    for table in report.tables:
        name = SHEET_NAME_FORBIDDEN.sub(" ", str(table.title))[:28].strip() or table.key[:28]
        while name in used:
            name = f"{name[:26]}-{len(used)}"
        used.add(name)
        sheets.append((name, [[str(table.title)], *_rows(table, True)]))
    return importing.xlsx_bytes(sheets)


def export(report, fmt, stem):
    """(bytes, file name, MIME type) of a report as "csv", "xlsx" or "pdf". Raises ValueError for another
    format."""
    name = f"{stem}-{report.on.isoformat()}"
    if fmt == "csv":
        return to_csv(report), f"{name}.csv", "text/csv; charset=utf-8"
    if fmt == "xlsx":
        return to_xlsx(report), f"{name}.xlsx", XLSX_MIMETYPE
    if fmt == "pdf":
        from marketplace.alliance import report_pdf

        return report_pdf.render(report), f"{name}.pdf", "application/pdf"
    raise ValueError(fmt)
