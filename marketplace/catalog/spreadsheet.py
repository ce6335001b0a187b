"""Reading CSV and XLSX files as streams under hard caps: the only code that parses an uploaded table.

A spreadsheet costs what it holds once unpacked, not what it weighs: a 136 KB XLSX can hold one row
of a million cells, and openpyxl (even read-only) loads the shared strings whole and builds a row
whole before handing it over (1 GB and 12 s for that file). So the XLSX parts are read here with a
streaming XML parser (defusedxml's expat reader: no DTD, no entities; SAX, so no tree is built),
cell by cell, counting as it goes, and the file is refused at the first cap it crosses:

- columns: a value beyond column `max_columns` (refused at that cell, not at the end of its row);
- cells: every cell read, empty ones and blank rows too (a blank row counts as one);
- XML elements: at most ELEMENTS_PER_CELL per allowed cell (shared strings alike), so no markup that
  the counts above ignore can cost time;
- shared strings: their declared count is checked before reading them, then every one is counted;
- unpacked bytes: the declared sizes of the parts read, before decompressing anything, and the
  bytes actually decompressed (a zip cannot lie about a size, zipfile stops at the declared one).

A CSV is read record by record with the same caps on columns and cells, plus `max_line_chars` for
one record (a quoted cell may span lines). The count of non-empty rows is the caller's (read_table),
which stops at `max_rows`. `Stats` records the work done, so tests can assert that a hostile file
was refused early.

Values come out as openpyxl would give them with data_only=True: shared and inline strings, numbers
(int or float), booleans, dates for numbers in a date format, the cached result of a formula.
"""
import csv
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

from defusedxml.expatreader import create_parser
from flask_babel import lazy_gettext as _l
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel, from_ISO8601

from marketplace.errors import ValidationFailed
from marketplace.i18n import grouped

ELEMENTS_PER_CELL = 4  # on average over the allowed cells: `<c><v>` is 2, an inline string 3
ELEMENTS_OVERHEAD = 10_000  # sheet views, column widths, merged cells, ... of an ordinary sheet
SMALL_PART_BYTES = 2 * 1024 * 1024  # workbook.xml, relationships, styles: small in every real workbook
MAX_PARTS = 1000  # zip members; a workbook has a dozen, a few hundred with pictures
MAX_CELL_STYLES = 64_000  # Excel's own limit on cell formats
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps on one table. The defaults are the application's; config.py's IMPORT_* settings override them."""

    max_rows: int = 5000  # non-empty rows under the header (counted by the caller)
    max_columns: int = 60
    max_cells: int = 120_000
    max_shared_strings: int = 120_000
    max_unpacked_bytes: int = 20 * 1024 * 1024
    max_line_chars: int = 100_000
    command_line_hint: bool = False  # the rows message points to `flask catalog import`, which takes more

    @classmethod
    def from_config(cls, config, rows_setting="IMPORT_MAX_ROWS", command_line_hint=False):
        return cls(max_rows=config[rows_setting],
                   max_columns=config["IMPORT_MAX_COLUMNS"], max_cells=config["IMPORT_MAX_CELLS"],
                   max_shared_strings=config["IMPORT_MAX_SHARED_STRINGS"],
                   max_unpacked_bytes=config["IMPORT_MAX_UNPACKED_BYTES"],
                   max_line_chars=config["IMPORT_MAX_LINE_CHARS"], command_line_hint=command_line_hint)


@dataclass
class Stats:
    """The work a read did: what tests assert to prove that a file was refused early."""

    cells: int = 0
    elements: int = 0
    shared_strings: int = 0
    unpacked_bytes: int = 0


def file_error(*messages):
    return ValidationFailed(messages[0], errors={"file": " ".join(str(m) for m in messages)})


def too_many_columns(limits):
    return file_error(_l("A row has a value beyond column %(max)s. A file may have at most %(max)s columns.",
                         max=limits.max_columns))


def too_many_cells(limits):
    return file_error(_l("The file has more than %(max)s cells (empty cells and blank rows count too). "
                         "Split it into several files.", max=grouped(limits.max_cells)))


# ---------------------------------------------------------------- CSV

def csv_records(data, limits, stats=None):
    """(line, [text]) for each record of UTF-8 CSV bytes ("," ";" or tab separated, with or without BOM)."""
    stats = stats if stats is not None else Stats()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise file_error(_l("The file is neither UTF-8 CSV nor XLSX. In Excel, use Save As → "
                            "\"CSV UTF-8 (comma delimited)\" or keep the .xlsx file.")) from None
    first_line = next(iter(io.StringIO(text, newline="")), "")
    delimiter = max((",", ";", "\t"), key=first_line.count)
    record = {"chars": 0}

    def lines():
        for line in io.StringIO(text, newline=""):
            record["chars"] += len(line)
            if record["chars"] > limits.max_line_chars:
                raise file_error(_l("A row of the file is longer than %(max)s characters.",
                                    max=grouped(limits.max_line_chars)))
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    start = 1
    try:
        for cells in reader:
            record["chars"] = 0
            stats.cells += max(len(cells), 1)
            if stats.cells > limits.max_cells:
                raise too_many_cells(limits)
            if len(cells) > limits.max_columns:
                if any(cell.strip() for cell in cells[limits.max_columns:]):
                    raise too_many_columns(limits)
                del cells[limits.max_columns:]
            yield start, cells
            start = reader.line_num + 1  # a quoted cell may span lines: report where the row starts
    except csv.Error as error:
        raise file_error(_l("The CSV file cannot be read near line %(line)s.", line=reader.line_num)) from error


# ---------------------------------------------------------------- XLSX

# What a damaged or foreign zip or XML raises (a SAXException for malformed XML, defusedxml's refusals
# are ValueErrors, a bad deflate stream is a zlib.error, an encrypted member a RuntimeError).
DAMAGED = (SAXException, ValueError, KeyError, IndexError, OSError, EOFError, RuntimeError, NotImplementedError,
           zipfile.BadZipFile, zlib.error)


def _unreadable():
    return file_error(_l("This file cannot be read as an Excel workbook (XLSX)."))


def _too_large(limits):
    return file_error(_l("The workbook is larger than %(max)s MB once unpacked. Split it into several files.",
                         max=max(1, round(limits.max_unpacked_bytes / (1024 * 1024)))))


def _too_complex():
    return file_error(_l("The workbook holds too much besides its values (formatting, hidden content) to be "
                         "imported. Copy the values into a new workbook, or save it as CSV UTF-8."))


def _too_many_strings(limits):
    return file_error(_l("The workbook has more than %(max)s different texts. Split it into several files.",
                         max=grouped(limits.max_shared_strings)))


def _local(name):
    """An element or attribute name without its prefix (namespaces are not processed: "x:c" is "c")."""
    return name.rpartition(":")[2]


class _Part(ContentHandler):
    """A SAX handler for one part: counts elements (`max_elements`), keeps the stack of element names,
    and collects text only while `text` is a list."""

    def __init__(self, stats, max_elements):
        super().__init__()
        self.stats, self.max_elements = stats, max_elements
        self.elements, self.stack, self.text = 0, [], None

    def startElement(self, name, attrs):  # noqa: N802 (SAX's names)
        self.elements += 1
        self.stats.elements += 1
        if self.elements > self.max_elements:
            raise _too_complex()
        name = _local(name)
        self.start(name, attrs)
        self.stack.append(name)

    def endElement(self, name):  # noqa: N802
        name = self.stack.pop()
        self.end(name)

    def characters(self, content):
        if self.text is not None:
            self.text.append(content)

    def start(self, name, attrs):
        pass

    def end(self, name):
        pass

    def in_string(self, container):
        """Whether a <t> just opened holds text of a string whose element is `container` (<si> or <is>):
        directly, or in a rich-text run <r> (not in <rPh>, a phonetic reading)."""
        return self.stack[-1:] == [container] or self.stack[-2:] == [container, "r"]


class _Relationships(_Part):
    def __init__(self, stats, max_elements):
        super().__init__(stats, max_elements)
        self.found = {}  # Id: (Type, Target)

    def start(self, name, attrs):
        if name == "Relationship":
            self.found[attrs.get("Id")] = (attrs.get("Type", ""), attrs.get("Target", ""))


class _WorkbookPart(_Part):
    first_sheet, date1904 = None, False

    def start(self, name, attrs):
        if name == "workbookPr" and attrs.get("date1904", "").lower() in ("1", "true"):
            self.date1904 = True
        elif name == "sheet" and self.first_sheet is None:
            self.first_sheet = next((value for key, value in attrs.items() if _local(key) == "id"), None)


class _Styles(_Part):
    def __init__(self, stats, max_elements):
        super().__init__(stats, max_elements)
        self.custom, self.formats = {}, []

    def start(self, name, attrs):
        if name == "numFmt":
            self.custom[attrs.get("numFmtId")] = attrs.get("formatCode", "")
        elif name == "xf" and self.stack[-1:] == ["cellXfs"]:
            self.formats.append(attrs.get("numFmtId", "0"))


class _SharedStrings(_Part):
    def __init__(self, stats, limits):
        super().__init__(stats, ELEMENTS_OVERHEAD + ELEMENTS_PER_CELL * limits.max_shared_strings)
        self.limits, self.strings, self.pieces = limits, [], None

    def start(self, name, attrs):
        if name == "sst" and not self.stack:
            declared = attrs.get("uniqueCount") or attrs.get("count") or "0"
            if declared.isdigit() and int(declared) > self.limits.max_shared_strings:
                raise _too_many_strings(self.limits)  # before reading any
        elif name == "si" and len(self.stack) == 1:
            if len(self.strings) == self.limits.max_shared_strings:
                raise _too_many_strings(self.limits)
            self.pieces = []
        elif name == "t" and self.pieces is not None and self.in_string("si"):
            self.text = self.pieces

    def end(self, name):
        if name == "t":
            self.text = None
        elif name == "si" and len(self.stack) == 1:
            self.strings.append("".join(self.pieces))
            self.stats.shared_strings += 1
            self.pieces = None


class _Sheet(_Part):
    """worksheet → sheetData → row → c: each cell's value is worked out when it ends, and forgotten."""

    def __init__(self, stats, limits, strings, dates, durations, epoch):
        super().__init__(stats, ELEMENTS_OVERHEAD + ELEMENTS_PER_CELL * limits.max_cells)
        self.limits, self.strings, self.dates, self.durations, self.epoch = limits, strings, dates, durations, epoch
        self.ready = []  # complete rows, taken by the reader after each chunk
        self.row, self.line, self.column, self.cells_in_row = None, 0, 0, 0
        self.cell, self.raw, self.inline = None, None, None

    def start(self, name, attrs):
        depth = len(self.stack)
        if name == "row" and depth == 2:
            reference = attrs.get("r", "")
            self.line = int(reference) if reference.isdigit() else self.line + 1
            self.row, self.column, self.cells_in_row = [], 0, 0
        elif name == "c" and depth == 3 and self.row is not None:
            self.cell = (attrs.get("t", "n"), attrs.get("s", ""), attrs.get("r"))
            self.raw, self.inline = None, None
        elif self.cell is not None:
            if name == "v" and depth == 4:
                self.raw = self.text = []
            elif name == "is" and depth == 4:
                self.inline = []
            elif name == "t" and self.inline is not None and self.in_string("is"):
                self.text = self.inline

    def end(self, name):
        if name in ("v", "t"):
            self.text = None
        elif name == "c" and self.cell is not None and len(self.stack) == 3:
            self._cell_ended()
        elif name == "row" and self.row is not None and len(self.stack) == 2:
            self.stats.cells += self.cells_in_row == 0  # a blank row costs a little too
            if self.stats.cells > self.limits.max_cells:
                raise too_many_cells(self.limits)
            self.ready.append((self.line, self.row))
            self.row = None

    def _cell_ended(self):
        limits = self.limits
        self.cells_in_row += 1
        self.stats.cells += 1
        if self.stats.cells > limits.max_cells:
            raise too_many_cells(limits)
        kind, style, reference = self.cell
        self.column = _column(reference) or self.column + 1
        value = _value(kind, style, self.raw, self.inline, self)
        self.cell = None
        if value is None or value == "":
            return
        if self.column > limits.max_columns:
            raise too_many_columns(limits)
        if self.column > len(self.row):
            self.row.extend([None] * (self.column - len(self.row)))
        self.row[self.column - 1] = value


class _Counted:
    """A zip member read in chunks, counting the unpacked bytes against the workbook's allowance."""

    def __init__(self, member, stats, limits):
        self.member, self.stats, self.limits = member, stats, limits

    def read(self, size=READ_CHUNK):
        data = self.member.read(min(size if size and size > 0 else READ_CHUNK, READ_CHUNK))
        self.stats.unpacked_bytes += len(data)
        if self.stats.unpacked_bytes > self.limits.max_unpacked_bytes:
            raise _too_large(self.limits)
        return data


class _Workbook:
    """The parts of an XLSX needed for its first sheet, each read once as a stream."""

    def __init__(self, data, limits, stats):
        self.limits, self.stats = limits, stats
        self.epoch, self.sheet, self.shared, self.styles = WINDOWS_EPOCH, None, None, None
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(data))
            infos = self.archive.infolist()
        except DAMAGED:
            raise _unreadable() from None
        if len(infos) > MAX_PARTS:
            raise _unreadable()
        self.parts = {info.filename: info for info in infos}
        self.lower = {name.lower(): name for name in self.parts}

    def close(self):
        self.archive.close()

    def name(self, path):
        path = (path or "").lstrip("/")
        return path if path in self.parts else self.lower.get(path.lower())

    def parse(self, name, handler):
        """Feed a part to `handler` through defusedxml's expat reader (no DTD, so no entities; namespaces
        not processed), 64 KB at a time; yields after each chunk, so the sheet's rows come out as they
        are read."""
        parser = create_parser(forbid_dtd=True)
        parser.setContentHandler(handler)
        with self.archive.open(self.parts[name]) as member:
            stream = _Counted(member, self.stats, self.limits)
            while chunk := stream.read(READ_CHUNK):
                parser.feed(chunk)
                yield
        parser.close()
        yield

    def read(self, name, handler):
        for _chunk in self.parse(name, handler):
            pass
        return handler

    def open(self):
        """Find the first worksheet, the shared strings and the styles; check their sizes before reading any."""
        workbook = self.name(self._target(self._relationships("_rels/.rels"), "/officeDocument")
                             or "xl/workbook.xml")
        if workbook is None:
            raise _unreadable()
        self._small(workbook)
        folder = posixpath.dirname(workbook)
        relationships = self._relationships(posixpath.join(folder, "_rels", posixpath.basename(workbook) + ".rels"))
        part = self.read(workbook, _WorkbookPart(self.stats, ELEMENTS_OVERHEAD))
        self.epoch = MAC_EPOCH if part.date1904 else WINDOWS_EPOCH
        kind, target = relationships.get(part.first_sheet, ("", ""))
        self.sheet = self._resolve(folder, target) if kind.endswith("/worksheet") else None
        if self.sheet is None:
            raise _unreadable()
        self.shared = self._resolve(folder, self._target(relationships, "/sharedStrings"))
        self.styles = self._resolve(folder, self._target(relationships, "/styles"))
        if self.styles:
            self._small(self.styles)
        read = {self.sheet, self.shared, self.styles} - {None}
        if sum(self.parts[name].file_size for name in read) > self.limits.max_unpacked_bytes:
            raise _too_large(self.limits)

    def _small(self, name):
        if self.parts[name].file_size > SMALL_PART_BYTES:
            raise _too_complex()

    def _resolve(self, folder, target):
        if not target:
            return None
        return self.name(target if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target)))

    @staticmethod
    def _target(relationships, type_suffix):
        return next((target for kind, target in relationships.values() if kind.endswith(type_suffix)), None)

    def _relationships(self, path):
        """{Id: (Type, Target)} of a .rels part; empty when the part is missing."""
        name = self.name(path)
        if name is None:
            return {}
        self._small(name)
        return self.read(name, _Relationships(self.stats, ELEMENTS_OVERHEAD)).found

    def date_styles(self):
        """(indexes of the cell styles that show a date, of those that show a duration)."""
        if self.styles is None:
            return set(), set()
        styles = self.read(self.styles, _Styles(self.stats, ELEMENTS_OVERHEAD + 4 * MAX_CELL_STYLES))
        dates, durations = set(), set()
        for index, format_id in enumerate(styles.formats):
            code = styles.custom.get(format_id)
            if code is None and format_id.isdigit():
                code = BUILTIN_FORMATS.get(int(format_id))
            if code and is_date_format(code):
                dates.add(index)
                if is_timedelta_format(code):
                    durations.add(index)
        return dates, durations

    def shared_strings(self):
        """The shared strings, counted against the cap (their declared count first, before reading any)."""
        if self.shared is None:
            return []
        return self.read(self.shared, _SharedStrings(self.stats, self.limits)).strings


COLUMN_REFERENCE = re.compile(r"^([A-Za-z]{1,3})[0-9]*$")


def _column(reference):
    """1 for "A1", 28 for "AB7"; None when `reference` is not a cell reference."""
    match = COLUMN_REFERENCE.match(reference or "")
    if not match:
        return None
    index = 0
    for letter in match.group(1).upper():
        index = index * 26 + ord(letter) - 64
    return index


def xlsx_records(data, limits, stats=None):
    """(line, [value]) for each row of the first worksheet of XLSX bytes; `line` is the sheet's row number."""
    stats = stats if stats is not None else Stats()
    workbook = _Workbook(data, limits, stats)
    try:
        try:
            workbook.open()
            dates, durations = workbook.date_styles()
            strings = workbook.shared_strings()
            sheet = _Sheet(stats, limits, strings, dates, durations, workbook.epoch)
            for _chunk in workbook.parse(workbook.sheet, sheet):
                rows, sheet.ready = sheet.ready, []
                yield from rows
        except ValidationFailed:
            raise
        except DAMAGED:
            raise _unreadable() from None
    finally:
        workbook.close()


def _value(kind, style, raw, inline, sheet):
    """A cell's value as openpyxl gives it with data_only=True (a formula's cached result): `raw` holds
    the pieces of its <v>, `inline` those of its inline string."""
    if kind == "inlineStr":
        return "".join(inline) if inline is not None else None
    raw = "".join(raw) if raw else ""
    if not raw:
        return None
    if kind == "s":
        index = int(raw)
        if not 0 <= index < len(sheet.strings):
            raise _unreadable()
        return sheet.strings[index]
    if kind == "b":
        return raw.strip() not in ("0", "false")
    if kind in ("str", "e"):
        return raw
    try:
        if kind == "d":
            return from_ISO8601(raw)
        value = float(raw) if any(c in raw for c in ".eE") else int(raw)
    except ValueError:
        return raw
    if style.isdigit() and int(style) in sheet.dates:
        try:
            return from_excel(value, sheet.epoch, timedelta=int(style) in sheet.durations)
        except (OverflowError, ValueError):
            return "#VALUE!"
    return value
