"""Spreadsheet import (CSV or XLSX, with a preview) and export of products.

One file format both ways: the columns of COLUMNS, one product per row, under a header row. The
alliance loads a provincial registry (cooperative columns required: unknown cooperatives are
created verified, an existing tax code is reused); a cooperative imports its own products (the
cooperative columns are ignored). Each row goes through services.cooperative_for_import and
services.import_product, so the rules of a product are those of the forms and the API.

An empty cell keeps an existing product's current value; only `ERASE` ("(xoá)") alone in an optional
column erases it. Updates are compared field by field for the preview (`changes`), and publishing
never touches a product its cooperative hid.

A run is all or nothing: every row is tried in one transaction and the errors of all rows are
collected as (line, column, message); the transaction is committed only when no row failed, or,
when the caller asks for the valid rows only, after a second pass over just those. A preview is
the same run, rolled back. Nothing a file says is trusted: catalog.spreadsheet reads it as a stream
under hard caps (rows, columns, cells, shared strings, unpacked size, line length: the IMPORT_*
settings), header names are checked against COLUMNS, and every exported field is quoted, with a
leading apostrophe before anything a spreadsheet could run as a formula (which the import removes).
"""
import contextlib
import csv
import io
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, format_number
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from marketplace import geo
from marketplace.accounts.authz import Permission, is_alliance_staff, require
from marketplace.accounts.models import (
    LABELS,
    CooperativeType,
    Organisation,
    OrganisationEvent,
    OrganisationKind,
    label,
)
from marketplace.accounts.services import TAX_CODE_HINT, clean_tax_code
from marketplace.catalog import services
from marketplace.catalog.models import (
    UNIT_NAMES_VI,
    CapacityPeriod,
    Category,
    Certification,
    Product,
    ProductStatus,
    Unit,
)
from marketplace.catalog.spreadsheet import Limits, Stats, csv_records, file_error, xlsx_records
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.i18n import grouped, short_date, vnd
from marketplace.routing import MAX_ID
from marketplace.text import fold, slugify
from marketplace.unit_of_work import unit_of_work

COOPERATIVE_COLUMNS = ("cooperative_name", "cooperative_tax_code", "cooperative_type")
COLUMNS = (
    *COOPERATIVE_COLUMNS, "name", "category", "description", "unit", "price_vnd", "min_order_qty",
    "ocop_stars", "ocop_certificate_no", "ocop_expiry", "province", "commune", "certifications",
    "harvest_months", "price_tiers", "capacity",
    # Beyond the registry's columns, so that an export can be edited and imported back losslessly.
    "name_en", "order_increment", "lead_time_days",
)
REQUIRED = ("name", "category", "unit", "price_vnd")
# An empty cell keeps the product's current value (a file is often a partial update, and a spreadsheet
# loses cells); erasing needs this mark, alone in the cell (its other spelling and "(erase)" also count).
# Only optional product columns can be erased: min_order_qty and order_increment go back to 1.
ERASE = "(xoá)"
ERASE_MARKS = {"(xoa)", "(erase)"}  # folded: "(xoá)", "(xóa)", "(XOÁ)", "(erase)"
ERASABLE = ("description", "name_en", "min_order_qty", "order_increment", "province", "commune", "certifications",
            "harvest_months", "price_tiers", "capacity", "lead_time_days")
REQUIRED_FOR_ALLIANCE = ("cooperative_name", "cooperative_tax_code")  # the type: for new cooperatives only
CERTIFICATE_COLUMNS = ("ocop_stars", "ocop_certificate_no", "ocop_expiry")

MAX_FILE_BYTES = 5 * 1024 * 1024
PREVIEW_SECONDS = 3600
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may start a cell: the start of a value, and after a "," or ";" inside it, since Excel
# splits a CSV line on the list separator of the computer's locale (";" in Vietnamese and most European
# locales) and may not honour the quotes around a value that contains it. The guard is an apostrophe
# at such a place before a formula character, or before an apostrophe (so the import can tell the two
# apart and gives back exactly what was exported). Quotes in between count for nothing: a reader that
# ignores quoting still sees a formula in `;"=1`.
GUARD_NEEDED = re.compile(r"""(^|[,;])(?="*[=+\-@\t\r'])""")
GUARD = re.compile(r"""(^|[,;])'(?="*[=+\-@\t\r'])""")
DEFAULT_CAPACITY_PERIOD = CapacityPeriod.YEAR  # a registry's capacity is yearly output
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Where the service's field names show up in the file.
FIELD_COLUMNS = {
    "base_price_vnd": "price_vnd", "tiers": "price_tiers", "province_code": "province", "commune_code": "commune",
    "capacity_qty": "capacity", "capacity_period": "capacity", "stars": "ocop_stars",
    "certificate_no": "ocop_certificate_no", "expires_on": "ocop_expiry", "decision_date": "ocop_expiry",
    "issuing_level": "ocop_stars",
}
# When the file lacks the column a message belongs to, the nearest column it has.
FALLBACK_COLUMNS = {"order_increment": "min_order_qty"}

# Everyday names found in registries, besides codes and the interface's labels in both languages.
ALIASES = {
    Category.FRESH_PRODUCE: ("nông sản tươi", "nông sản", "rau củ quả", "rau quả", "trái cây", "fresh"),
    Category.PROCESSED_FOOD: ("thực phẩm chế biến", "thực phẩm", "processed"),
    Category.BEVERAGES: ("đồ uống", "thức uống", "chè, đồ uống"),
    Category.SPICES_HERBS: ("gia vị", "spices", "spice"),
    Category.MEDICINAL_HERBS: ("dược liệu", "thảo dược", "cây thuốc"),
    Category.AQUATIC: ("thủy sản", "thuỷ sản", "aquatic", "seafood", "fish"),
    Category.HANDICRAFTS: ("thủ công mỹ nghệ", "thủ công", "handicraft"),
    Category.OTHER: ("khác", "sản phẩm khác", "other"),
    Unit.KG: ("kilogram", "kilo", "kí", "ki lô gam"),
    Unit.TAN: ("tonne", "ton", "tấn"),
    Unit.LIT: ("liter", "lít"),
    Unit.CAI: ("chiếc",),
    CapacityPeriod.STOCK: ("stock", "tồn kho", "có sẵn", "sẵn có"),
    CapacityPeriod.WEEK: ("week", "tuần"),
    CapacityPeriod.MONTH: ("month", "tháng"),
    CapacityPeriod.SEASON: ("season", "vụ", "mùa", "mùa vụ"),
    CapacityPeriod.YEAR: ("year", "năm"),
    CooperativeType.HOP_TAC_XA: ("hợp tác xã", "htx", "cooperative"),
    CooperativeType.TO_HOP_TAC: ("tổ hợp tác", "tht", "cooperative group"),
    CooperativeType.HO_KINH_DOANH: ("hộ kinh doanh", "hộ sản xuất kinh doanh", "hộ sản xuất", "household"),
    Certification.ORGANIC: ("hữu cơ",),
    Certification.GEOGRAPHICAL_INDICATION: ("chỉ dẫn địa lý", "cddl", "gi"),
    Certification.GLOBALGAP: ("global gap",),
    Certification.ISO_22000: ("iso22000",),
}
PROVINCE_PREFIXES = ("tinh ", "thanh pho ", "tp ")
COMMUNE_PREFIXES = ("xa ", "phuong ", "dac khu ", "thi tran ")


# ---------------------------------------------------------------- results

@dataclass
class Table:
    """A parsed file: normalised header names and the non-empty rows as (line, {column: text})."""

    columns: list
    rows: list
    filename: str = ""


@dataclass
class RowResult:
    line: int
    cells: dict
    errors: list = field(default_factory=list)  # [(column, message)]; column "" for the whole row
    action: str = ""  # "create" or "update" when the row is valid
    changes: list = field(default_factory=list)  # [(column, old text, new text)] of an update
    kept_status: str = ""  # "hidden" when an update leaves a product its cooperative hid hidden

    @property
    def ok(self):
        return not self.errors


@dataclass
class Report:
    rows: list = field(default_factory=list)
    created: int = 0
    updated: int = 0
    published: int = 0
    cooperatives_created: int = 0
    written: bool = False  # committed

    @property
    def errors(self):
        """Every problem as (line, column, message), in file order."""
        return [(row.line, column, message) for row in self.rows for column, message in row.errors]

    @property
    def valid_rows(self):
        return [row for row in self.rows if row.ok]

    @property
    def invalid_rows(self):
        return [row for row in self.rows if not row.ok]


# ---------------------------------------------------------------- reading files

def read_upload(upload):
    """The bytes of an uploaded file (werkzeug FileStorage), refusing empty and oversized files."""
    if upload is None or not getattr(upload, "filename", ""):
        raise file_error(_l("Choose a CSV or Excel (XLSX) file."))
    data = upload.stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise file_error(_l("The file is larger than 5 MB. Split it into several files."))
    return data


def import_limits(web=False, alliance=False):
    """The caps on a file from the configuration (IMPORT_*). Rows: the command line's; on the page
    (`web`), a file is tried within about a second: a cooperative's (IMPORT_WEB_MAX_ROWS), the alliance's
    registry (IMPORT_WEB_MAX_ROWS_ALLIANCE), which is pointed to the command line beyond."""
    if not web:
        return Limits.from_config(current_app.config)
    if alliance:
        return Limits.from_config(current_app.config, "IMPORT_WEB_MAX_ROWS_ALLIANCE", command_line_hint=True)
    return Limits.from_config(current_app.config, "IMPORT_WEB_MAX_ROWS")


def read_table(data, filename="", limits=None, stats=None):
    """Parse CSV (UTF-8, with or without BOM, "," or ";" separated) or XLSX (the first sheet) bytes,
    as a stream under `limits` (default: the configuration's, as for the command line).

    Raises ValidationFailed (field "file") for a file that is not a readable table or crosses a limit;
    `stats` (a spreadsheet.Stats) records the work done.
    """
    limits = limits or import_limits()
    if not data.strip():
        raise file_error(_l("The file is empty."))
    reader = xlsx_records if data.startswith(b"PK\x03\x04") else csv_records
    records = reader(data, limits, stats if stats is not None else Stats())
    header, rows = None, []
    with contextlib.closing(records):
        for line, cells in records:
            cells = [_unescape(_cell_text(c)) for c in cells]
            if header is None:
                header = _header(cells, limits)
                continue
            if not any(cells):
                continue  # spreadsheets leave blank rows behind
            if len(rows) == limits.max_rows:
                raise _too_many_rows(limits)
            rows.append((line, _row_cells(header, cells, line)))
    if header is None:
        raise file_error(_l("The file is empty."))
    return Table(columns=[name for name in header if name], rows=rows, filename=filename[:200])


def _too_many_rows(limits):
    if limits.command_line_hint:
        return file_error(_l("The file has more than %(max)s rows. Split it into several files (the alliance loads "
                             "larger registries with the command `flask catalog import`).",
                             max=grouped(limits.max_rows)))
    return file_error(_l("The file has more than %(max)s rows. Split it into several files.",
                         max=grouped(limits.max_rows)))


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\x00", "").strip()


def _unescape(text):
    """Undo the export's guard against formula injection (see `guard`): "'=x" is the text "=x", "a;'=x" is
    "a;=x", and "''x" is "'x"."""
    return GUARD.sub(r"\1", text) if "'" in text else text


def _header(cells, limits):
    names = [re.sub(r"[\s-]+", "_", cell.strip().lower()) for cell in cells]
    while names and not names[-1]:
        names.pop()
    if not any(names):
        raise file_error(_l("The first row must be the header row with the column names."))
    if len(names) > limits.max_columns:
        raise file_error(_l("The header has more than %(max)s columns.", max=limits.max_columns))
    problems = []
    unknown = [name for name in names if name and name not in COLUMNS]
    if unknown:
        problems.append(_l("Unknown columns: %(names)s. The columns are: %(columns)s.",
                           names=", ".join(unknown), columns=", ".join(COLUMNS)))
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        problems.append(_l("These columns appear twice: %(names)s.", names=", ".join(repeated)))
    if problems:
        raise file_error(*problems)
    return names


EXTRA_CELLS = "_extra_cells"  # marks a row with cells beyond the header (never a column name)


def _row_cells(header, cells, line):
    row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
    if any(cells[len(header):]) or any(c for c, name in zip(cells, header) if not name):
        row[EXTRA_CELLS] = "1"
    return row


def check_columns(table, for_alliance):
    """Raise ValidationFailed naming every required column the file lacks."""
    required = (*REQUIRED_FOR_ALLIANCE, *REQUIRED) if for_alliance else REQUIRED
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise file_error(_l("Required columns are missing: %(names)s.", names=", ".join(missing)))


# ---------------------------------------------------------------- reading values

def _key(text):
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(str(text))).split())


class Vocabulary:
    """Codes, labels in Vietnamese and English, and everyday names → enum members (folded)."""

    def __init__(self):
        self.lookup = {}
        for enum_class in (Category, Unit, CapacityPeriod, CooperativeType, Certification):
            table = self.lookup.setdefault(enum_class, {})
            for member in enum_class:
                names = {member.value, *ALIASES.get(member, ())}
                if enum_class is Unit:
                    names.add(UNIT_NAMES_VI[member])
                if member in LABELS:
                    for locale in ("vi", "en"):
                        with force_locale(locale):
                            names.add(str(LABELS[member]))
                for name in names:
                    table.setdefault(_key(name), member)
        self.provinces = {}
        for code, name in geo.provinces():
            for variant in (name, _strip_prefix(_key(name), PROVINCE_PREFIXES)):
                self.provinces.setdefault(_key(variant), code)

    def find(self, enum_class, text):
        return self.lookup[enum_class].get(_key(text))


def _strip_prefix(key, prefixes):
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _province(text, vocabulary):
    if text.isdigit():
        return int(text) if geo.province_name(int(text)) else None
    key = _key(text)
    return vocabulary.provinces.get(key) or vocabulary.provinces.get(_strip_prefix(key, PROVINCE_PREFIXES))


def _commune(text, province_code):
    """A commune of the province by code or name: exact name first, then without accents or the
    "Xã"/"Phường" prefix. Returns (code, None) or (None, message)."""
    if text.isdigit():
        ok = geo.is_valid_location(province_code, int(text))
        return (int(text), None) if ok else (None, _l("No commune with this code in the province."))
    communes = geo.communes(province_code)
    exact = [code for code, name in communes if name.casefold() == text.casefold()]
    if exact:
        return exact[0], None
    key = _key(text)
    for candidates in ([c for c, n in communes if _key(n) == key],
                       [c for c, n in communes if _strip_prefix(_key(n), COMMUNE_PREFIXES)
                        == _strip_prefix(key, COMMUNE_PREFIXES)]):
        if len(candidates) == 1:
            return candidates[0], None
        if len(candidates) > 1:
            return None, _l("Several communes of the province have this name: write it with its accents "
                            "and prefix (e.g. \"Xã Thất Khê\") or give its code.")
    return None, _l("No commune of this name in the province.")


def _list(text):
    return [part.strip() for part in re.split(r"[;,\n]", text) if part.strip()]


def _months(text):
    months = []
    for part in _list(text):
        match = re.fullmatch(r"(\d{1,2})\s*-\s*(\d{1,2})", part)
        if match:
            first, last = int(match[1]), int(match[2])
            months += list(range(first, last + 1)) if first <= last else [*range(first, 13), *range(1, last + 1)]
        else:
            months.append(part)  # the service says what is wrong with it
    return months


def _tiers(text):
    tiers = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        quantity, colon, price = part.partition(":")
        if not colon:
            return None
        tiers.append((quantity.strip(), _money(price)))
    return tiers


def _money(text):
    return re.sub(r"\s*(đ|₫|vnd|vnđ|đồng|dong)\s*$", "", text.strip(), flags=re.IGNORECASE)


def _date(text):
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _stars(text):
    return int(text) if re.fullmatch(r"[345]", text) else None


# ---------------------------------------------------------------- one row

@dataclass
class ParsedRow:
    values: dict  # ProductDetails field → value, for the columns the file has
    certificate: services.CertificateDetails | None
    cooperative: dict  # name, tax_code, type (alliance only)
    errors: list  # [(column, message)]
    commune_text: str = ""  # a commune given without a province: looked up in the product's current province


def parse_row(cells, vocabulary, for_alliance):
    """Read the cells of one row into ProductDetails values. Messages name the column; the rules of
    a product are checked afterwards by the catalogue service."""
    values, errors = {}, []
    if cells.get(EXTRA_CELLS):
        errors.append(("", _l("This row has cells under no column name (a separator inside a value? Put the value "
                              "in quotes, e.g. \"12,5\").")))
    cells = _given_cells(cells, errors)

    def text(column):
        return cells.get(column, "").strip()

    def choose(column, enum_class, message, target=None):
        if column not in cells:
            return
        raw = text(column)
        member = vocabulary.find(enum_class, raw) if raw else None
        if raw and member is None:
            errors.append((column, message))
        values[target or column] = member.value if member else None

    for column in ("name", "name_en", "description"):
        if column in cells:
            values[column] = text(column)
    choose("category", Category, _l("Unknown category. Use a code (%(codes)s) or its Vietnamese or English name.",
                                    codes=", ".join(c.value for c in Category)))
    choose("unit", Unit, _l("Unknown unit. Use a code (%(codes)s) or its Vietnamese name.",
                            codes=", ".join(u.value for u in Unit)))
    if "price_vnd" in cells:
        values["base_price_vnd"] = _money(text("price_vnd")) or None
    for column in ("min_order_qty", "order_increment"):
        if column in cells:
            values[column] = text(column) or 1
    if "lead_time_days" in cells:
        values["lead_time_days"] = text("lead_time_days") or None
    commune_text = _origin(cells, vocabulary, values, errors)
    if "certifications" in cells:
        codes = [vocabulary.find(Certification, part) for part in _list(text("certifications"))]
        if None in codes:
            errors.append(("certifications", _l("Unknown certification. Use: %(codes)s (separated by \";\").",
                                                codes=", ".join(c.value for c in Certification))))
        values["certifications"] = [c.value for c in codes if c]
    if "harvest_months" in cells:
        values["harvest_months"] = _months(text("harvest_months"))
    if "price_tiers" in cells:
        tiers = _tiers(text("price_tiers"))
        if tiers is None:
            errors.append(("price_tiers", _l("Write tiers as quantity:unit price, separated by \";\" "
                                             "(e.g. 100:95000;1000:90000).")))
        values["tiers"] = tiers or []
    if "capacity" in cells:
        _capacity(text("capacity"), vocabulary, values, errors)
    certificate = _certificate(cells, errors)
    cooperative = _cooperative(cells, vocabulary, errors) if for_alliance else {}
    return ParsedRow(values, certificate, cooperative, errors, commune_text or "")


def is_erase_mark(text):
    return fold(text.strip()).lower() in ERASE_MARKS


def _given_cells(cells, errors):
    """The cells that say something: an empty cell is left out (the product keeps its value, as for a column
    the file lacks) and an erase mark in an optional column becomes "" (the value is cleared). An erase mark
    anywhere else is an error: required values, certificates and cooperatives are not erased by a file."""
    given = {}
    for column, value in cells.items():
        if column == EXTRA_CELLS or column in COOPERATIVE_COLUMNS or column in CERTIFICATE_COLUMNS:
            if is_erase_mark(value):
                errors.append((column, _l("This column cannot be erased by an import.")))
                continue
            given[column] = value  # read as before: certificate cells go together, cooperatives are named
        elif not value.strip():
            continue
        elif is_erase_mark(value):
            if column in ERASABLE:
                given[column] = ""
            else:
                errors.append((column, _l("A required value cannot be erased: leave the cell empty to keep it, "
                                          "or write the new value.")))
        else:
            given[column] = value
    return given


def _origin(cells, vocabulary, values, errors):
    """Province and commune codes into `values`; returns the text of a commune given without a province."""
    province_text, commune_text = cells.get("province", "").strip(), cells.get("commune", "").strip()
    if "province" in cells:
        values["province_code"] = _province(province_text, vocabulary) if province_text else None
        if not province_text:
            values["commune_code"] = None  # no province, no commune
        if province_text and values["province_code"] is None:
            errors.append(("province", _l("Unknown province. Use its name (e.g. Lạng Sơn) or its code.")))
    if commune_text:
        if "province" not in cells:
            return commune_text  # the province the product has (an empty cell keeps it): see _apply_row
        if not values.get("province_code"):
            if province_text == "":
                errors.append(("commune", _l("Give the province of the commune.")))
            return None
        values["commune_code"], problem = _commune(commune_text, values["province_code"])
        if problem:
            errors.append(("commune", problem))
    elif "commune" in cells:
        values["commune_code"] = None


def _capacity(raw, vocabulary, values, errors):
    values["capacity_qty"], values["capacity_period"] = None, None
    if not raw:
        return
    quantity, slash, period = raw.partition("/")
    if not slash:
        match = re.fullmatch(r"([\d.,\s]+?)\s*(?:per|mỗi|một|/)?\s*([^\d\s].*)?", raw, flags=re.IGNORECASE)
        quantity, period = (match[1], match[2] or "") if match else (raw, "")
    period = re.sub(r"^(per|mỗi|một|moi|mot)\s+", "", period.strip(), flags=re.IGNORECASE)
    member = vocabulary.find(CapacityPeriod, period) if period else DEFAULT_CAPACITY_PERIOD
    if member is None:
        errors.append(("capacity", _l("Write the capacity as a quantity per year, or quantity/period with the "
                                      "period stock, week, month, season or year (e.g. 20000/season).")))
        return
    values["capacity_qty"], values["capacity_period"] = quantity.strip(), member.value


def _certificate(cells, errors):
    given = {column: cells.get(column, "").strip() for column in CERTIFICATE_COLUMNS}
    if not any(given.values()):
        return None
    for column, value in given.items():
        if not value:
            errors.append((column, _l("Give the OCOP stars, the certificate number and its expiry date together.")))
    stars = _stars(given["ocop_stars"])
    if given["ocop_stars"] and stars is None:
        errors.append(("ocop_stars", _l("OCOP stars are 3, 4 or 5.")))
    expiry = _date(given["ocop_expiry"]) if given["ocop_expiry"] else None
    if given["ocop_expiry"] and expiry is None:
        errors.append(("ocop_expiry", _l("Write the date as yyyy-mm-dd (e.g. 2027-06-30).")))
    elif expiry and expiry < services.today():
        errors.append(("ocop_expiry", _l("This certificate has already expired.")))
    level = services.issuing_level_for(stars)
    return services.CertificateDetails(stars=stars, certificate_no=given["ocop_certificate_no"],
                                       issuing_level=level.value, decision_date=None, expires_on=expiry)


def _cooperative(cells, vocabulary, errors):
    name, raw_tax_code = cells.get("cooperative_name", "").strip(), cells.get("cooperative_tax_code", "").strip()
    raw_type = cells.get("cooperative_type", "").strip()
    if not name:
        errors.append(("cooperative_name", _l("This field is required.")))
    elif len(name) > 200:
        errors.append(("cooperative_name", _l("Use at most %(max)s characters.", max=200)))
    tax_code = _tax_code(raw_tax_code)
    if not raw_tax_code:
        errors.append(("cooperative_tax_code", _l("This field is required.")))
    elif tax_code is None:
        errors.append(("cooperative_tax_code", TAX_CODE_HINT))
    kind = vocabulary.find(CooperativeType, raw_type) if raw_type else None
    if raw_type and kind is None:
        errors.append(("cooperative_type", _l("Use hop_tac_xa, to_hop_tac or ho_kinh_doanh.")))
    return {"name": name, "tax_code": tax_code, "type": kind}


def _tax_code(raw):
    tax_code = clean_tax_code(raw)
    if tax_code is None and re.fullmatch(r"\d{9}|\d{12}", raw):
        tax_code = clean_tax_code("0" + raw)  # a spreadsheet read "0101234567" as a number
    return tax_code


# ---------------------------------------------------------------- running an import

def acting_for_alliance(actor):
    """Check the actor may import or export at all; True for alliance staff, False for a cooperative."""
    if is_alliance_staff(actor):
        require(actor, Permission.CURATE_CATALOG)
        return True
    require(actor, Permission.MANAGE_PRODUCTS)  # Forbidden for enterprises
    return False


def run_import(actor, table, publish=False, valid_only=False, dry_run=False):
    """Import the rows of `table` as `actor`; returns a Report.

    Writes nothing (rolls back) when `dry_run`, or when a row is invalid unless `valid_only`, in
    which case the valid rows are imported and the others reported. Unexpected errors roll back too.
    """
    alliance = acting_for_alliance(actor)
    check_columns(table, alliance)
    if not table.rows:
        raise file_error(_l("The file has a header row but no products."))
    vocabulary = Vocabulary()
    # The outermost use case: a dry run or a refused file is rolled back, and the unit of work then
    # commits nothing; valid rows only are applied again in a fresh transaction of the same unit.
    with unit_of_work():
        report = _apply(actor, table, table.rows, alliance, vocabulary, publish)
        if dry_run or not report.valid_rows or (report.errors and not valid_only):
            db.session.rollback()
            return report
        if report.errors:
            db.session.rollback()
            valid_lines = {row.line for row in report.valid_rows}
            second = _apply(actor, table, [r for r in table.rows if r[0] in valid_lines], alliance, vocabulary,
                            publish)
            if second.errors:
                db.session.rollback()
                return second
            by_line = {row.line: row for row in second.rows}
            second.rows = [by_line.get(row.line, row) for row in report.rows]
            report = second
    report.written = True
    return report


def _apply(actor, table, rows, alliance, vocabulary, publish):
    report, seen, known = Report(), {}, {}
    for line, cells in rows:
        row = RowResult(line=line, cells=cells)
        report.rows.append(row)
        with db.session.no_autoflush:
            _apply_row(actor, table, row, alliance, vocabulary, publish, report, seen, known)
    return report


def _apply_row(actor, table, row, alliance, vocabulary, publish, report, seen, known):
    """Try one row; `seen` maps (cooperative, slug) to the line that had it, `known` maps tax codes to the
    cooperatives earlier rows stored (a registry lists many products per cooperative)."""
    parsed = parse_row(row.cells, vocabulary, alliance)
    if parsed.errors:
        row.errors = _plain(parsed.errors + _more_errors(parsed, table.columns, row.cells))
        return
    cooperative = actor.organisation
    new_cooperative = False
    try:
        if alliance:
            info = parsed.cooperative
            cooperative = known.get(info["tax_code"]) or services.cooperative_for_import(
                actor, info["name"], info["tax_code"], info["type"].value if info["type"] else None,
                parsed.values.get("province_code"), parsed.values.get("commune_code"))
            new_cooperative = cooperative in db.session.new
            if new_cooperative and info["type"] is None:
                raise DomainError(_l("This cooperative is new: give its type (hop_tac_xa, to_hop_tac or "
                                     "ho_kinh_doanh)."), field="cooperative_type")
        name = (parsed.values.get("name") or "").replace("\x00", "").strip()
        identity = (parsed.cooperative.get("tax_code") if alliance else cooperative.id, slugify(name))
        if name and identity in seen:
            raise DomainError(_l("Line %(line)s already has this product of this cooperative.",
                                 line=seen[identity]), field="name")
        seen[identity] = row.line
        existing = _existing(cooperative, name)
        before = services.ProductDetails.of(existing) if existing else None
        details = services.ProductDetails.of(existing) if existing else services.ProductDetails()
        for key, value in parsed.values.items():
            setattr(details, key, value)
        if before and "commune_code" not in parsed.values and details.province_code != before.province_code:
            details.commune_code = None  # a new province without a commune: the old commune is not in it
        if parsed.commune_text:
            details.commune_code = _commune_of_current_province(parsed.commune_text, details.province_code)
        was_published = existing is not None and existing.status == ProductStatus.PUBLISHED
        certificates_before = {c.certificate_no for c in existing.certificates} if existing else set()
        product, created = services.import_product(actor, cooperative, details, parsed.certificate, publish=publish)
    except DomainError as error:
        if new_cooperative:
            _forget_new_cooperative(cooperative)
        row.errors = _plain(_error_columns(error, table.columns))
        return
    if alliance:
        known[parsed.cooperative["tax_code"]] = cooperative
    row.action = "create" if created else "update"
    if not created:
        row.changes = changes(before, services.ProductDetails.of(product))
        if parsed.certificate and parsed.certificate.certificate_no not in certificates_before:
            row.changes.append(("ocop_certificate_no", "", _certificate_text(parsed.certificate)))
        if product.status == ProductStatus.HIDDEN:
            row.kept_status = ProductStatus.HIDDEN.value
    report.created += created
    report.updated += not created
    report.published += product.status == ProductStatus.PUBLISHED and not was_published
    report.cooperatives_created += new_cooperative


# The columns of a product's fields, in the file's order, for the preview's list of changes.
CHANGE_COLUMNS = (
    ("name", "name"), ("name_en", "name_en"), ("category", "category"), ("description", "description"),
    ("unit", "unit"), ("base_price_vnd", "price_vnd"), ("min_order_qty", "min_order_qty"),
    ("order_increment", "order_increment"), ("tiers", "price_tiers"), ("capacity", "capacity"),
    ("province_code", "province"), ("commune_code", "commune"), ("certifications", "certifications"),
    ("harvest_months", "harvest_months"), ("lead_time_days", "lead_time_days"),
)


def changes(before, after):
    """What an update changes, as [(column, old text, new text)] in the reader's language; "" is no value.
    `before` and `after` are ProductDetails (cleaned values, as ProductDetails.of gives them)."""
    listed = []
    for name, column in CHANGE_COLUMNS:
        old, new = _shown(before, name), _shown(after, name)
        if old != new:
            listed.append((column, old, new))
    return listed


def _shown(details, name):
    if name == "capacity":
        if details.capacity_qty is None:
            return ""
        period = CapacityPeriod(details.capacity_period) if details.capacity_period else None
        return f"{format_number(details.capacity_qty)} / {label(period)}" if period else format_number(
            details.capacity_qty)
    value = getattr(details, name)
    if value in (None, "", []):
        return ""
    if name in ("category", "unit"):
        return str(label((Category if name == "category" else Unit)(value)))
    if name == "base_price_vnd":
        return vnd(value)
    if name == "tiers":
        return "; ".join(f"{format_number(q)}: {vnd(p)}" for q, p in value)
    if name == "province_code":
        return geo.province_name(value) or str(value)
    if name == "commune_code":
        return geo.commune_name(value) or str(value)
    if name == "certifications":
        return "; ".join(str(label(Certification(code))) for code in value)
    if name == "harvest_months":
        return "; ".join(str(m) for m in value)
    if isinstance(value, int):
        return format_number(value)
    return str(value)


def _certificate_text(certificate):
    return str(_l("%(stars)s stars, no. %(number)s, valid until %(date)s", stars=certificate.stars,
                  number=certificate.certificate_no, date=short_date(certificate.expires_on)))


def _commune_of_current_province(text, province_code):
    """The commune a row names while its province cell is empty: one of the product's current province."""
    if not province_code:
        raise DomainError(_l("Give the province of the commune."), field="commune")
    code, problem = _commune(text, province_code)
    if problem:
        raise DomainError(problem, field="commune")
    return code


def _forget_new_cooperative(cooperative):
    """A cooperative created for a refused row is not written, nor is the event that recorded its creation."""
    for pending in list(db.session.new):
        if isinstance(pending, OrganisationEvent) and pending.organisation is cooperative:
            db.session.expunge(pending)
    db.session.expunge(cooperative)


def _plain(errors):
    """Messages as plain text in the reader's language: a lazy string carries __html__, so Jinja would
    print it unescaped."""
    return [(column, str(message)) for column, message in errors]


def _existing(cooperative, name):
    if cooperative.id is None or not name:
        return None
    return db.session.scalar(db.select(Product).where(Product.cooperative_id == cooperative.id,
                                                      Product.slug == slugify(name)))


def _more_errors(parsed, columns, cells):
    """The service's verdict on the cells that could be read, so one pass shows every problem of a row. An
    empty cell may keep an existing product's value, which is not known here: it is not blamed."""
    flagged = {column for column, _message in parsed.errors}
    flagged |= {column for column, value in cells.items() if column not in CERTIFICATE_COLUMNS and not value.strip()}
    details = services.ProductDetails()
    for key, value in parsed.values.items():
        setattr(details, key, value)
    more = []
    for check, argument in ((services.clean_product, details), (services.clean_certificate, parsed.certificate)):
        if argument is None:
            continue
        try:
            check(argument)
        except ValidationFailed as error:
            more += [(c, m) for c, m in _error_columns(error, columns) if c not in flagged]
    return more


def _error_columns(error, columns):
    fields = getattr(error, "errors", None) or {error.field or "": error.message}
    placed = []
    for name, message in fields.items():
        column = FIELD_COLUMNS.get(name, name)
        if column not in columns and column in FALLBACK_COLUMNS:
            column = FALLBACK_COLUMNS[column]
        placed.append((column if column in COLUMNS else "", message))
    return placed


# ---------------------------------------------------------------- web flow: preview, then confirm

def preview_upload(actor, upload, stats=None):
    """Read an uploaded file and try every row without writing. Returns (token, table, report); the
    parsed rows are kept under the token for one hour, for `confirm_upload`. `stats` (spreadsheet.Stats)
    records the reading's work (for bench/uploads_bench.py)."""
    alliance = acting_for_alliance(actor)
    table = read_table(read_upload(upload), upload.filename or "", limits=import_limits(web=True, alliance=alliance),
                       stats=stats)
    check_columns(table, alliance)
    report = run_import(actor, table, dry_run=True)
    return save_preview(actor, table), table, report


def preview_again(actor, token):
    """The stored preview of `token` tried again now (for the confirmation page after an error)."""
    table = _load_preview(actor, token)
    return table, run_import(actor, table, dry_run=True)


def confirm_upload(actor, token, valid_only=False, publish=False):
    """Import a previewed file. Raises NotFound for an unknown, expired or someone else's preview."""
    acting_for_alliance(actor)
    table = _load_preview(actor, token)
    report = run_import(actor, table, publish=publish, valid_only=valid_only)
    if report.written:
        _discard_preview(token)
    return table, report


def _previews():
    folder = Path(current_app.config["UPLOAD_DIR"]) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def save_preview(actor, table):
    _sweep_previews()
    token = secrets.token_urlsafe(32)
    content = json.dumps({"user_id": actor.id, "created": time.time(), "filename": table.filename,
                          "columns": table.columns, "rows": table.rows}, ensure_ascii=False)
    handle = os.open(_previews() / f"{token}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(content)
    return token


def _load_preview(actor, token):
    if not TOKEN.match(token or ""):
        raise NotFound()
    path = _previews() / f"{token}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound() from None
    if stored.get("user_id") != actor.id:
        raise NotFound()
    if stored.get("created", 0) + PREVIEW_SECONDS < time.time():
        _discard_preview(token)
        raise NotFound()
    return Table(columns=stored["columns"], rows=[(line, cells) for line, cells in stored["rows"]],
                 filename=stored.get("filename", ""))


def _discard_preview(token):
    try:
        (_previews() / f"{token}.json").unlink()
    except FileNotFoundError:
        pass


def _sweep_previews():
    limit = time.time() - PREVIEW_SECONDS
    for path in _previews().glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------- command line

def import_file(actor, path, publish=False, skip_invalid=False):
    """The alliance's registry import from a file on disk (`flask catalog import`). Returns a Report;
    raises ValidationFailed for a file that cannot be read as a table."""
    if Path(path).stat().st_size > MAX_FILE_BYTES:
        raise file_error(_l("The file is larger than 5 MB. Split it into several files."))
    data = Path(path).read_bytes()
    return run_import(actor, read_table(data, Path(path).name), publish=publish, valid_only=skip_invalid)


# ---------------------------------------------------------------- export

def products_to_export(actor, cooperative_id=None):
    """The actor's products (a cooperative), or every product or one cooperative's (the alliance)."""
    statement = db.select(Product).join(Product.cooperative).options(
        selectinload(Product.tiers), selectinload(Product.certificates),
        selectinload(Product.certification_rows), selectinload(Product.cooperative))
    if acting_for_alliance(actor):
        if cooperative_id is not None:
            if not 1 <= cooperative_id <= MAX_ID:  # beyond PostgreSQL's integer: cannot exist
                raise NotFound()
            cooperative = db.session.get(Organisation, cooperative_id)
            if cooperative is None or cooperative.kind != OrganisationKind.COOPERATIVE:
                raise NotFound()
            statement = statement.where(Product.cooperative_id == cooperative.id)
    else:
        statement = statement.where(Product.cooperative_id == actor.organisation_id)
    return db.session.scalars(statement.order_by(Organisation.legal_name, Product.name, Product.id)).all()


def export_row(product, today):
    details = services.ProductDetails.of(product)
    certificate = product.valid_certificate(today)  # the rating buyers see; pending ones stay in the workspace
    cooperative = product.cooperative
    return {
        "cooperative_name": cooperative.legal_name,
        "cooperative_tax_code": _format_tax_code(cooperative.tax_code),
        "cooperative_type": cooperative.cooperative_type.value if cooperative.cooperative_type else "",
        "name": details.name,
        "category": details.category,
        "description": details.description,
        "unit": UNIT_NAMES_VI[Unit(details.unit)],  # "tấn", "hộp": what people write; the import reads both
        "price_vnd": details.base_price_vnd,
        "min_order_qty": details.min_order_qty,
        "ocop_stars": certificate.stars if certificate else "",
        "ocop_certificate_no": certificate.certificate_no if certificate else "",
        "ocop_expiry": certificate.expires_on.isoformat() if certificate else "",
        "province": geo.province_name(details.province_code) if details.province_code else "",
        "commune": geo.commune_name(details.commune_code) if details.commune_code else "",
        "certifications": ";".join(details.certifications),
        "harvest_months": ";".join(str(m) for m in details.harvest_months),
        "price_tiers": ";".join(f"{q}:{p}" for q, p in details.tiers),
        "capacity": f"{details.capacity_qty}/{details.capacity_period}" if details.capacity_qty is not None else "",
        "name_en": details.name_en,
        "order_increment": details.order_increment,
        "lead_time_days": details.lead_time_days if details.lead_time_days is not None else "",
    }


def _format_tax_code(tax_code):
    if not tax_code:
        return ""
    return f"{tax_code[:10]}-{tax_code[10:]}" if len(tax_code) == 13 else tax_code


def guard(value):
    """A spreadsheet must not run any part of a cell as a formula (CSV injection): wherever a cell could
    start (the start of the text, and after each "," or ";" in it), an = + - @ tab or carriage return gets
    an apostrophe before it, and so does an apostrophe; `_unescape` (the import) removes them again.
    "mô tả;=1+1;" is exported as "mô tả;'=1+1;"."""
    if isinstance(value, str):
        return GUARD_NEEDED.sub(r"\1'", value)
    return value


def csv_bytes(rows):
    """CSV of `rows` (lists of values, the header row included): UTF-8 with a BOM, so Excel reads the Vietnamese
    letters correctly; every field quoted and guarded (`guard`). Other exports (the alliance's reports) use it."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow([guard(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(sheets):
    """XLSX of `sheets`, [(sheet name, rows)] (rows: lists of values, the header row included): every text cell
    guarded (`guard`) and typed as a string, so no cell is ever a formula. Other exports use it too."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    for name, rows in sheets:
        sheet = workbook.create_sheet(name)
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=guard(value))
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_csv(rows):
    return csv_bytes([list(COLUMNS), *([row[column] for column in COLUMNS] for row in rows)])


def to_xlsx(rows):
    return xlsx_bytes([("products", [list(COLUMNS), *([row[column] for column in COLUMNS] for row in rows)])])


def export_file(actor, fmt, cooperative_id=None, template=False):
    """(bytes, file name, MIME type) of the products as CSV or XLSX; `template`: the header row only."""
    if template:
        acting_for_alliance(actor)  # who may import may have the template
    rows = [] if template else [export_row(p, services.today()) for p in products_to_export(actor, cooperative_id)]
    stem = "mau-nhap-san-pham" if template else f"san-pham-{services.today().isoformat()}"
    if fmt == "xlsx":
        return to_xlsx(rows), f"{stem}.xlsx", XLSX_MIMETYPE
    return to_csv(rows), f"{stem}.csv", "text/csv; charset=utf-8"


def cooperatives_for_export(actor):
    """(id, name) of the cooperatives that have products, for the alliance's export choice."""
    if not acting_for_alliance(actor):
        return []
    return db.session.execute(
        db.select(Organisation.id, Organisation.legal_name)
        .where(Organisation.id.in_(db.select(Product.cooperative_id)))
        .order_by(Organisation.legal_name)).all()
