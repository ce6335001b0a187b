"""Files that cost as much as the upload limits allow, and the files of issue 12's probe.

Shared by bench/uploads_bench.py (which measures them) and the tests (which check they are refused
early, or read within the limits). Builders take the limits they aim at, so the benchmark's files
follow the configuration and the tests can use small ones.
"""
import io
import math
import struct
import zipfile
import zlib
from xml.sax.saxutils import escape

from PIL import Image

from marketplace.catalog.spreadsheet import ELEMENTS_PER_CELL

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
{shared}</Types>"""
SHARED_STRINGS_TYPE = ('<Override PartName="/xl/sharedStrings.xml" '
                       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1"
 Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>""".encode()
WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets><sheet name="products" sheetId="1" r:id="rId1"/></sheets>
</workbook>""".encode()
WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">
<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>""".encode()
WORKBOOK_RELS_WITHOUT_STRINGS = WORKBOOK_RELS.replace(
    f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>\n'.encode(), b"")

# The registry columns a valid header names (the reader refuses unknown ones at the first row).
HEADER = ("name", "category", "unit", "price_vnd", "description")


def xlsx(sheet_data, shared_strings=None, declared_strings=None):
    """A minimal workbook: `sheet_data` is the XML inside <sheetData> (bytes or an iterable of bytes),
    `shared_strings` the XML of the <si> elements, if any, and `declared_strings` their uniqueCount."""
    chunks = [sheet_data] if isinstance(sheet_data, bytes) else sheet_data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml",
                         CONTENT_TYPES.format(shared=SHARED_STRINGS_TYPE if shared_strings is not None else "").encode())
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels",
                         WORKBOOK_RELS if shared_strings is not None else WORKBOOK_RELS_WITHOUT_STRINGS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'.encode())
            for chunk in chunks:
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
        if shared_strings is not None:
            with archive.open("xl/sharedStrings.xml", "w") as part:
                count = f' uniqueCount="{declared_strings}"' if declared_strings is not None else ""
                part.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}"{count}>'.encode())
                for chunk in ([shared_strings] if isinstance(shared_strings, bytes) else shared_strings):
                    part.write(chunk)
                part.write(b"</sst>")
    return buffer.getvalue()


def inline_row(line, values):
    cells = "".join(f'<c t="inlineStr"><is><t>{escape(str(v))}</t></is></c>' for v in values)
    return f'<row r="{line}">{cells}</row>'.encode()


def probe_xlsx(cells=1_184_210, value=b"a"):
    """Issue 12's file: one row of `cells` inline string cells (1,184,210: 45 MB unpacked, ~130 KB zipped).
    value=b"" makes the cells empty (no value at all, 4 bytes each)."""
    cell = b'<c t="inlineStr"><is><t>' + value + b"</t></is></c>" if value else b"<c/>"
    row = [b'<row r="1">'] + [cell * 10_000] * (cells // 10_000) + [cell * (cells % 10_000), b"</row>"]
    return xlsx(row)


def widest_xlsx(limits):
    """The costliest sheet to read within `limits`: a valid header, then `max_rows` rows (fewer if
    `max_cells` says so) of `max_columns` rich-text cells, each spending its share of the XML element
    allowance on runs and holding a distinct ASCII text (the most memory per byte), the texts sized so
    that the sheet fills `max_unpacked_bytes`."""
    columns = limits.max_columns
    rows = min(limits.max_rows, (limits.max_cells - 1) // columns)
    cells = rows * columns
    allowance = ELEMENTS_PER_CELL * limits.max_cells - 10 * (rows + 1) - 100  # rows and header's own
    runs = max(1, (allowance // cells - 2) // 2)  # <c><is> and a <r><t> per run
    markup = len('<c t="inlineStr"><is></is></c>') + runs * len("<r><t></t></r>")
    text = max(runs, (limits.max_unpacked_bytes - 400 - rows * 20) // cells - markup)
    piece = text // runs

    def cell(line, column):
        body = f"{line}x{column}".ljust(text, "e").encode()
        parts = [body[i * piece:(i + 1) * piece if i < runs - 1 else text] for i in range(runs)]
        return b'<c t="inlineStr"><is>' + b"".join(b"<r><t>" + p + b"</t></r>" for p in parts) + b"</is></c>"

    def chunks():
        yield inline_row(1, HEADER)
        for line in range(2, rows + 2):
            yield f'<row r="{line}">'.encode() + b"".join(cell(line, c) for c in range(columns)) + b"</row>"

    return xlsx(chunks())


def shared_strings_xlsx(limits):
    """`max_shared_strings` distinct texts filling half of `max_unpacked_bytes`, and a sheet whose cells
    (up to `max_cells`, `max_columns` a row) point at them."""
    count = limits.max_shared_strings
    text = max(8, (limits.max_unpacked_bytes // 2 - 200) // count - len("<si><t></t></si>"))
    strings = (b"".join(b"<si><t>" + f"{n}-".ljust(text, "s").encode() + b"</t></si>" for n in range(start, min(
        start + 1000, count))) for start in range(0, count, 1000))
    columns = limits.max_columns
    rows = min(limits.max_rows, (limits.max_cells - 1) // columns)

    def chunks():
        yield inline_row(1, HEADER)
        index = 0
        for line in range(2, rows + 2):
            cells = []
            for _column in range(columns):
                cells.append(f'<c t="s"><v>{index % count}</v></c>')
                index += 1
            yield f'<row r="{line}">{"".join(cells)}</row>'.encode()

    return xlsx(chunks(), strings)


def widest_csv(limits, max_bytes=5 * 1024 * 1024):
    """A CSV of `max_bytes` at most: the header, then rows of `max_columns` cells until `max_cells`."""
    columns = limits.max_columns
    rows = min(limits.max_rows, (limits.max_cells - len(HEADER)) // columns)
    width = max(1, min((max_bytes - 200) // (rows * columns) - 3, limits.max_line_chars // columns - 4))
    lines = [",".join(HEADER)]
    for line in range(rows):
        lines.append(",".join(f'"{line}-{column}"'.ljust(width + 2, " ")[:width + 2] for column in range(columns)))
    return ("\r\n".join(lines) + "\r\n").encode()


def valid_csv(rows):
    """A registry-like CSV of `rows` valid products for a cooperative (what a real big upload costs)."""
    lines = ["name,category,unit,price_vnd,min_order_qty,description,province,harvest_months,price_tiers"]
    for n in range(rows):
        lines.append(f'"Sản phẩm thử {n}",gia vị,kg,{100_000 + n},10,"Mô tả sản phẩm số {n}, sấy khô.",'
                     f'Lạng Sơn,8;9;10,"500:{90_000 + n};2000:{80_000 + n}"')
    return ("\r\n".join(lines) + "\r\n").encode()


def valid_registry_csv(rows, cooperatives=20):
    """The alliance's registry: `rows` valid products of `cooperatives` cooperatives new to the site."""
    from stdnum.vn import mst

    codes = []
    number = 800_000_000
    while len(codes) < cooperatives:
        number += 7
        check = mst.calc_check_digit(f"{number:09d}")
        if len(check) == 1:
            codes.append(f"{number:09d}{check}")
    lines = ["cooperative_name,cooperative_tax_code,cooperative_type,name,category,unit,price_vnd,min_order_qty,"
             "description,province,harvest_months,price_tiers"]
    for n in range(rows):
        c = n % cooperatives
        lines.append(f'"HTX Thử tải {c}",{codes[c]},hop_tac_xa,"Sản phẩm thử {n}",gia vị,kg,{100_000 + n},10,'
                     f'"Mô tả sản phẩm số {n}, sấy khô.",Lạng Sơn,8;9;10,"500:{90_000 + n};2000:{80_000 + n}"')
    return ("\r\n".join(lines) + "\r\n").encode()


# ---------------------------------------------------------------- images

def _png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width, height, alpha=True, row_filter=4):
    """A PNG of width x height that weighs almost nothing: every row Paeth-filtered (the slowest filter to
    undo) over zeros, RGBA 8-bit, so decoding costs the whole width x height x 4 bytes."""
    channels = 4 if alpha else 3
    row = bytes([row_filter]) + bytes(width * channels)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def square_side(pixels):
    return math.isqrt(pixels)


def jpeg(width, height, progressive=False, subsampling=2, noise=False, quality=90):
    """A JPEG: a smooth gradient (small file), or noise (the costliest to decode and re-encode per byte).
    Progressive 4:4:4 (subsampling=0) is what costs libjpeg the most memory per pixel."""
    if noise:
        image = Image.merge("RGB", [Image.effect_noise((width, height), sigma) for sigma in (90, 70, 110)])
    else:
        image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, progressive=progressive, subsampling=subsampling)
    return buffer.getvalue()


def noisy_jpeg_within(max_bytes, quality=75):
    """A square noisy JPEG just under `max_bytes` (noise costs the same bytes a pixel everywhere)."""
    sample = len(jpeg(512, 512, noise=True, quality=quality)) / 512 ** 2
    side = int(math.sqrt(max_bytes / sample))
    while True:
        data = jpeg(side, side, noise=True, quality=quality)
        if len(data) <= max_bytes:
            return data
        side = int(side * 0.98)


def webp(width, height, lossless=True):
    """A lossless RGBA WebP of width x height that weighs little (rows of one colour each)."""
    image = Image.linear_gradient("L").resize((width, height), Image.Resampling.NEAREST).convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=lossless, quality=80, method=4)  # 0 would not compress the rows
    return buffer.getvalue()


PROBE_PHOTO_SIDE = 6300  # 39.7 megapixels: just under the 40 the probe faced
NOT_AN_IMAGE = b"<!doctype html><script>alert(1)</script>"


def probe_photos():
    """Issue 12's photo upload: three 6300 x 6300 PNGs (115 KB each in the probe) and one invalid file."""
    big = png(PROBE_PHOTO_SIDE, PROBE_PHOTO_SIDE, alpha=False)
    return [(big, "a.png"), (big, "b.png"), (big, "c.png"), (NOT_AN_IMAGE, "d.png")]
