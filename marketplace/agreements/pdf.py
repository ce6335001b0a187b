"""The PDF of an agreed revision of a memorandum (thỏa thuận ghi nhớ), and its completion certificate.

Rendered with fpdf2 and the Noto Sans shipped in `fonts/` (embedded as a subset, so Vietnamese renders
the same in every reader). Importing fpdf2 costs a noticeable part of a second: web code must import
this module lazily (inside the view or service function that renders), never at the top of a module
that every request loads.

    render_agreement(content, *, verify_url, created_at=None) -> bytes
    render_completion_certificate(reference, *, signers, document_sha256_final, original_sha256,
                                  verify_url, created_at=None) -> bytes

Other PDFs of the platform (the order confirmation, orders/pdf.py) reuse `document(reference, running_title,
created_at)`, the page frame with its fonts and building blocks (heading, details, paragraph, grid), and
`plain(text)`, `vnd`, `day`, `vietnam_time`, so fpdf2 and the font setup live here alone.

`content` is the frozen snapshot of one agreed revision (`AgreementContent` below): services build it
once, hash it (`content_sha256`) and keep it; the PDF is a rendering of that snapshot and nothing
else. Everything in it that came from users is plain text: it is normalised to NFC, stripped of
control characters, and never interpreted as markup (no Markdown, no HTML, no page-number alias);
a character the font lacks prints as U+FFFD. Both functions raise `ValueError` on an unknown code
(kind, period, price basis, role), a malformed ISO date or a naive datetime, and `KeyError` on a
missing key; they never touch the database.

The PDF says honestly what its signature is: an electronic signature on the platform, with integrity
and an audit trail provided by the platform, *not* a "chữ ký số" (digital signature) from a licensed
certification service provider. Signatures themselves are invisible (signing.py adds them); the
signature blocks here are text.
"""
import unicodedata
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

import segno
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, XPos, YPos

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "NotoSans"
VIETNAM_TIME = timezone(timedelta(hours=7), "UTC+7")

# The page-count alias fpdf2 substitutes after the last page. A control character keeps users' text
# (from which _plain strips control characters) from ever containing it.
PAGE_COUNT_ALIAS = "\x1fNB\x1f"


# ------------------------------------------------------------------------------------------- content


class Party(TypedDict):
    """An organisation as it stood when the revision was agreed."""

    legal_name: str
    tax_code: str
    address: str
    representative: str
    phone: str
    email: str


class Event(TypedDict):
    """The trade event at which the memorandum is signed (hội chợ, hội nghị kết nối cung cầu)."""

    name: str
    date: str  # ISO date, e.g. "2026-12-05"
    place: str


class Line(TypedDict):
    """One product of the memorandum. Amounts are whole VND (integers), never floats."""

    product_id: int
    name: str
    unit_label: str  # Vietnamese unit label as shown to people: "kg", "tấn", "hộp"
    quantity: int  # per `period`
    period: Literal["week", "month", "season", "year", "total"]
    price_basis: Literal["fixed", "tier", "reference"]
    unit_price_vnd: int | None  # fixed: the price; tier: the base price ("from"), if known
    reference_price_vnd: int | None  # reference: the reference price
    adjustment_percent: int | None  # reference: the agreed band, ± this many percent


class Delivery(TypedDict):
    place: str
    frequency: str  # free text, e.g. "hai lần mỗi tuần"
    lead_time_days: int


class Quality(TypedDict):
    standards: str
    certifications: list[str]  # labels, e.g. ["OCOP 4 sao", "VietGAP"]
    sampling: str


class Responsibilities(TypedDict):
    buyer: str
    seller: str


class AgreementContent(TypedDict):
    """The frozen snapshot of one agreed revision: everything the PDF shows, nothing it looks up."""

    reference: str  # e.g. "MOU-2026-000123"
    kind: Literal["mou", "addendum"]
    parent_reference: str | None  # the memorandum an addendum amends
    event: Event | None
    buyer: Party
    seller: Party
    witness: Party | None  # e.g. the provincial cooperative alliance
    lines: list[Line]
    start_date: str  # ISO date
    end_date: str  # ISO date
    delivery: Delivery
    quality: Quality
    payment_terms: str
    responsibilities: Responsibilities
    clauses: list[str]  # further clauses, one paragraph each
    revision_number: int
    content_sha256: str  # hex SHA-256 of the canonical snapshot (computed by services)


class CompletionSigner(TypedDict):
    """One signature, for the completion certificate."""

    role: Literal["buyer", "seller", "witness"]
    organisation: str
    person: str  # the user who signed for the organisation
    signed_at: datetime  # timezone-aware; printed in UTC+7
    certificate_serial: str  # hex
    sha256_before: str  # the document before this signature
    sha256_after: str  # the document after it
    field_name: NotRequired[str]


# ---------------------------------------------------------------------------------------- wording

PERIODS = {
    "week": ("mỗi tuần", "per week"),
    "month": ("mỗi tháng", "per month"),
    "season": ("mỗi vụ", "per season"),
    "year": ("mỗi năm", "per year"),
    "total": ("cả thời hạn thỏa thuận", "over the whole term"),
}
ROLES = {
    "buyer": ("BÊN MUA", "The buyer"),
    "seller": ("BÊN BÁN", "The seller"),
    "witness": ("BÊN LÀM CHỨNG", "The witness"),
}
SIGNER_ROLES = {
    "buyer": ("Đại diện bên mua", "For the buyer"),
    "seller": ("Đại diện bên bán", "For the seller"),
    "witness": ("Đại diện bên làm chứng", "For the witness"),
}
PARTY_FIELDS = (
    ("legal_name", "Tên tổ chức", "Legal name"),
    ("tax_code", "Mã số thuế", "Tax code"),
    ("address", "Địa chỉ", "Address"),
    ("representative", "Người đại diện", "Representative"),
    ("phone", "Điện thoại", "Phone"),
    ("email", "Thư điện tử", "Email"),
)
HONEST_STATEMENT_VI = (
    "Văn bản được ký điện tử trên nền tảng Chợ HTX (chữ ký điện tử có bảo đảm toàn vẹn và nhật ký kiểm "
    "chứng do nền tảng cấp; không phải chữ ký số của tổ chức cung cấp dịch vụ chứng thực được cấp phép)."
)
HONEST_STATEMENT_EN = (
    "Signed electronically on the Chợ HTX platform (an electronic signature with integrity protection and "
    "an audit trail provided by the platform; not a digital signature from a licensed certification "
    "service provider)."
)
NATION_VI = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_VI = "Độc lập - Tự do - Hạnh phúc"
NATION_EN = "Socialist Republic of Viet Nam · Independence - Freedom - Happiness"
TITLES = {
    "mou": ("THỎA THUẬN GHI NHỚ HỢP TÁC TIÊU THỤ SẢN PHẨM",
            "Memorandum of understanding on product sales cooperation"),
    "addendum": ("PHỤ LỤC SỬA ĐỔI, BỔ SUNG THỎA THUẬN GHI NHỚ HỢP TÁC TIÊU THỤ SẢN PHẨM",
                 "Addendum to the memorandum of understanding on product sales cooperation"),
}


def vnd(amount):
    """1500000 → "1.500.000 ₫" (Vietnamese grouping; VND has no minor unit)."""
    return f"{group(amount)} ₫"


def group(number):
    """1500000 → "1.500.000"."""
    sign = "-" if number < 0 else ""
    return sign + f"{abs(int(number)):,}".replace(",", ".")


def day(iso):
    """"2026-12-05" (or a date) → "05/12/2026"."""
    value = iso if isinstance(iso, date) else date.fromisoformat(iso)
    return value.strftime("%d/%m/%Y")


def vietnam_time(moment):
    """A timezone-aware datetime → "05/12/2026 14:30:05 (UTC+7)". Naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    return moment.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M:%S") + " (UTC+7)"


def period_words(period):
    """"month" → ("mỗi tháng", "per month")."""
    try:
        return PERIODS[period]
    except KeyError:
        raise ValueError(f"unknown period {period!r}") from None


def price_basis_words(line):
    """How the price is set, in Vietnamese and English: "giá cố định", "giá tham chiếu ± 5%"..."""
    basis = line["price_basis"]
    if basis == "fixed":
        return "giá cố định", "fixed price"
    if basis == "tier":
        return "giá theo bậc số lượng", "volume tier price"
    if basis == "reference":
        percent = line.get("adjustment_percent") or 0
        return f"giá tham chiếu ± {percent}%", f"reference price ± {percent}%"
    raise ValueError(f"unknown price basis {basis!r}")


def unit_price_words(line):
    """The price column: "25.000 ₫/kg", "từ 25.000 ₫/kg", "tham chiếu 25.000 ₫/kg" or "—"."""
    unit = _plain(line["unit_label"])
    basis = line["price_basis"]
    if basis == "reference":
        amount = line.get("reference_price_vnd")
        return f"tham chiếu / reference {vnd(amount)}/{unit}" if amount is not None else "—"
    amount = line.get("unit_price_vnd")
    if amount is None:
        return "theo bảng giá bậc / per tier table" if basis == "tier" else "—"
    return f"từ / from {vnd(amount)}/{unit}" if basis == "tier" else f"{vnd(amount)}/{unit}"


# ------------------------------------------------------------------------------------------- text


@lru_cache(maxsize=1)
def _font_characters():
    from fontTools.ttLib import TTFont

    with TTFont(FONT_DIR / "NotoSans-Regular.ttf", lazy=True) as font:
        return frozenset(font.getBestCmap())


def _plain(value):
    """User text made safe to print: NFC, no control characters but newlines, glyphs the font has."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    known = _font_characters()
    out = []
    for character in text:
        if character == "\n":
            out.append(character)
        elif unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        elif ord(character) in known:
            out.append(character)
        else:
            out.append("\ufffd")
    return "".join(out)


# --------------------------------------------------------------------------------------- document

GREY = (90, 90, 90)
HASH_SIZE = 7.5  # 64 hexadecimal digits fit on one line of a value column
BLACK = (0, 0, 0)
LIGHT = (235, 239, 236)


class _Document(FPDF):
    """A4 with the platform's running header (reference) and footer (page numbers)."""

    def __init__(self, reference, running_title, created_at):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.reference = _plain(reference)
        self.running_title = running_title
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=20)
        self.alias_nb_pages(PAGE_COUNT_ALIAS)
        self.add_font(FONT, "", FONT_DIR / "NotoSans-Regular.ttf")
        self.add_font(FONT, "B", FONT_DIR / "NotoSans-Bold.ttf")
        self.set_lang("vi")
        self.set_author("Chợ HTX")
        self.set_creator("Chợ HTX")
        self.set_title(f"{self.reference} · {running_title}")
        self.set_creation_date(created_at or datetime.now(UTC))
        self.c_margin = 1

    def header(self):
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*GREY)
        self.set_y(8)
        self.cell(0, 4, "Chợ HTX · " + self.running_title, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, f"Số / No. {self.reference}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, 12.5, self.w - self.r_margin, 12.5)
        self.set_text_color(*BLACK)
        self.set_y(self.t_margin)

    def footer(self):
        self.set_y(-14)
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*GREY)
        self.cell(0, 6, f"Tham chiếu / Reference: {self.reference}", align="L")
        self.set_x(self.l_margin)
        pages = PAGE_COUNT_ALIAS
        self.cell(0, 6, f"Trang {self.page_no()}/{pages} · Page {self.page_no()} of {pages}", align="R")
        self.set_text_color(*BLACK)

    # ------------------------------------------------------------------------------ building blocks

    @property
    def width(self):
        return self.w - self.l_margin - self.r_margin

    def centered(self, text, size, bold=False, color=BLACK, gap=0.0):
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.45, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*BLACK)
        if gap:
            self.ln(gap)

    def heading(self, vietnamese, english, size=10.5, keep=22):
        """A bilingual heading: "BÊN MUA / The buyer", kept on one page with the next `keep` mm."""
        if self.will_page_break(keep):
            self.add_page()
        self.ln(2.5)
        self.set_font(FONT, "B", size)
        self.write(size * 0.5, vietnamese)
        self.set_font(FONT, "", size - 1.5)
        self.set_text_color(*GREY)
        self.write(size * 0.5, f"  /  {english}")
        self.set_text_color(*BLACK)
        self.ln(size * 0.5 + 1.5)

    def paragraph(self, text, size=9.5, color=BLACK, align="L"):
        self.set_font(FONT, "", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.48, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*BLACK)

    def details(self, rows, label_width=0.3):
        """Label / value rows (and an optional font size: hashes are smaller to fit on one line);
        labels bilingual, values plain user text (wrapped, paginated).

        Laid out by hand rather than with fpdf2's table(), which measures every cell twice and
        doubled the rendering time; a long value simply continues on the next page.
        """
        label_mm = self.width * label_width
        for label, value, *size in rows:
            if self.will_page_break(9):
                self.add_page()
            top = self.get_y()
            self.set_font(FONT, "", 8.5)
            self.set_text_color(*GREY)
            self.multi_cell(label_mm - 2, 4.4, label, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            label_bottom, label_page = self.get_y(), self.page
            self.set_text_color(*BLACK)
            self.set_font(FONT, "", size[0] if size else 9)
            self.set_xy(self.l_margin + label_mm, top)
            self.multi_cell(self.width - label_mm, 4.4, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            if self.page == label_page:
                self.set_y(max(self.get_y(), label_bottom))
            self.ln(0.9)

    def grid(self, headings, rows, col_widths, text_align, size=8.5):
        """A table of plain-text cells with a shaded heading row, repeated on every page it spans."""
        self.set_font(FONT, "", size)
        with self.table(col_widths=col_widths, text_align=text_align, line_height=4.2, padding=(1, 1.2, 1, 1.2),
                        headings_style=FontFace(emphasis="BOLD", size_pt=size - 0.5, fill_color=LIGHT),
                        v_align="TOP", width=self.width, repeat_headings=1) as table:
            heading = table.row()
            for text in headings:
                heading.cell(text)
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(value)

    def qr_code(self, url, x, y, size):
        """A vector QR code (no image): each run of dark modules in a row is one rectangle."""
        code = segno.make(url, error="m", micro=False)
        matrix = [list(row) for row in code.matrix]
        modules = len(matrix) + 8  # a quiet zone of 4 modules on each side
        step = size / modules
        self.set_fill_color(255, 255, 255)
        self.rect(x, y, size, size, style="F")
        self.set_fill_color(0, 0, 0)
        for r, row in enumerate(matrix):
            c = 0
            while c < len(row):
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    self.rect(x + (start + 4) * step, y + (r + 4) * step, (c - start) * step, step, style="F")
                else:
                    c += 1

    def verification_box(self, verify_url, lines):
        """The QR code to the public verification page, with the honest statement and hashes beside it."""
        size = 30
        if self.will_page_break(size + 6):
            self.add_page()
        top = self.get_y() + 1
        self.qr_code(verify_url, self.w - self.r_margin - size, top, size)
        text_width = self.width - size - 4
        self.set_y(top)
        for text, font_size, color in lines:
            self.set_font(FONT, "", font_size)
            self.set_text_color(*color)
            self.multi_cell(text_width, font_size * 0.47, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(0.8)
        self.set_text_color(*BLACK)
        self.set_y(max(self.get_y(), top + size) + 2)


@contextmanager
def _document(reference, running_title, created_at):
    """A _Document whose font files are closed afterwards (fpdf2 opens them lazily and keeps them open)."""
    document = _Document(reference, running_title, created_at)
    try:
        yield document
    finally:
        for font in document.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()


# The platform's other documents (orders/pdf.py) build on the same page frame, fonts and text rules through
# these two names, so that fpdf2 is still imported here alone (tests/agreements/test_signing.py checks it).
document = _document
plain = _plain


# ----------------------------------------------------------------------------------------- agreement


def render_agreement(content: AgreementContent, *, verify_url: str, created_at: datetime | None = None) -> bytes:
    """The A4 PDF of one agreed revision, Vietnamese with English subtitles.

    `verify_url` is the public verification page (built on PUBLIC_BASE_URL by the caller); the QR
    code links to it. `created_at` fixes the PDF's creation date (default: now), so the same snapshot
    can be rendered to the same bytes. Raises ValueError on an unknown kind, period or price basis.
    """
    kind = content["kind"]
    if kind not in TITLES:
        raise ValueError(f"unknown kind {kind!r}")
    title_vi, title_en = TITLES[kind]
    with _document(content["reference"], "Thỏa thuận ghi nhớ / Memorandum", created_at) as doc:
        doc.set_subject(title_en)
        doc.add_page()
        _front_matter(doc, content, title_vi, title_en)
        for role in ("buyer", "seller", "witness"):
            if content.get(role):
                _party(doc, role, content[role])
        _articles(doc, content)
        doc.heading("Điều 8. Ký kết và kiểm chứng", "Article 8. Signature and verification", keep=45)
        doc.verification_box(verify_url, [
            (HONEST_STATEMENT_VI, 9, BLACK),
            (HONEST_STATEMENT_EN, 8, GREY),
            (f"Kiểm chứng / Verify: {_plain(verify_url)}", 8, BLACK),
            (f"Bản sửa đổi số / Revision {int(content['revision_number'])} · Mã băm nội dung (SHA-256) / "
             f"Content hash: {_plain(content['content_sha256'])}", 7.5, GREY),
        ])
        _signature_blocks(doc, content)
        return bytes(doc.output())


def _front_matter(doc, content, title_vi, title_en):
    doc.centered(NATION_VI, 11, bold=True)
    doc.centered(MOTTO_VI, 11, bold=True)
    middle = doc.w / 2
    doc.set_draw_color(0, 0, 0)
    doc.line(middle - 22, doc.get_y() + 0.5, middle + 22, doc.get_y() + 0.5)
    doc.ln(1.5)
    doc.centered(NATION_EN, 8, color=GREY, gap=5)
    doc.centered(title_vi, 14, bold=True)
    doc.centered(title_en, 10, color=GREY, gap=1.5)
    doc.centered(f"Số / No. {_plain(content['reference'])} · Bản sửa đổi / Revision "
                 f"{int(content['revision_number'])}", 9)
    if content["kind"] == "addendum" and content.get("parent_reference"):
        doc.centered(f"Sửa đổi, bổ sung thỏa thuận số / Amends memorandum No. {_plain(content['parent_reference'])}", 9)
    event = content.get("event")
    if event:
        doc.ln(1)
        doc.centered(
            f"Ký kết tại / Signed at: {_plain(event['name'])} · {_plain(event['place'])} · {day(event['date'])}",
            9, color=GREY)
    doc.ln(3)
    doc.paragraph("Căn cứ nhu cầu và khả năng của mỗi bên, các bên dưới đây thống nhất ký thỏa thuận ghi nhớ "
                  "hợp tác tiêu thụ sản phẩm với các nội dung sau:", 9.5)
    doc.paragraph("Based on the needs and capacity of each party, the parties below agree on the following "
                  "cooperation on product sales:", 8.5, GREY)


def _party(doc, role, party):
    vietnamese, english = ROLES[role]
    doc.heading(vietnamese, english)
    doc.details([(f"{vi} / {en}", _plain(party.get(key, ""))) for key, vi, en in PARTY_FIELDS])


def _articles(doc, content):
    doc.heading("Điều 1. Sản phẩm, số lượng và giá", "Article 1. Products, quantities and prices")
    _lines_table(doc, content["lines"])

    doc.heading("Điều 2. Thời hạn", "Article 2. Term")
    doc.paragraph(f"Từ ngày {day(content['start_date'])} đến ngày {day(content['end_date'])}.")
    doc.paragraph(f"From {day(content['start_date'])} to {day(content['end_date'])}.", 8.5, GREY)

    delivery = content["delivery"]
    doc.heading("Điều 3. Giao hàng", "Article 3. Delivery")
    lead = delivery["lead_time_days"]  # None: not agreed
    doc.details([
        ("Địa điểm / Place", _plain(delivery["place"])),
        ("Tần suất / Frequency", _plain(delivery["frequency"]) or "—"),
        ("Thời gian chuẩn bị / Lead time",
         f"{group(int(lead))} ngày kể từ khi nhận đơn / {group(int(lead))} days after an order"
         if lead is not None else "—"),
    ])

    quality = content["quality"]
    doc.heading("Điều 4. Chất lượng", "Article 4. Quality")
    certifications = ", ".join(_plain(label) for label in quality.get("certifications") or []) or "—"
    doc.details([
        ("Tiêu chuẩn / Standards", _plain(quality["standards"]) or "—"),
        ("Chứng nhận / Certifications", certifications),
        ("Lấy mẫu, kiểm tra / Sampling", _plain(quality["sampling"]) or "—"),
    ])

    doc.heading("Điều 5. Thanh toán", "Article 5. Payment")
    doc.paragraph(_plain(content["payment_terms"]) or "—")

    responsibilities = content["responsibilities"]
    doc.heading("Điều 6. Trách nhiệm của các bên", "Article 6. Responsibilities of the parties")
    doc.details([
        ("Bên mua / The buyer", _plain(responsibilities["buyer"]) or "—"),
        ("Bên bán / The seller", _plain(responsibilities["seller"]) or "—"),
    ])

    doc.heading("Điều 7. Điều khoản khác", "Article 7. Other clauses")
    clauses = [_plain(clause) for clause in content.get("clauses") or []]
    if not clauses:
        doc.paragraph("Không có. / None.")
    for number, clause in enumerate(clauses, 1):
        doc.paragraph(f"{number}. {clause}")
        doc.ln(0.8)


def _lines_table(doc, lines):
    doc.set_font(FONT, "", 8.5)
    headings = ("STT\nNo.", "Sản phẩm\nProduct", "Số lượng\nQuantity", "Cách tính giá\nPrice basis",
                "Đơn giá\nUnit price")
    with doc.table(
        col_widths=(8, 52, 40, 36, 38),
        text_align=("CENTER", "LEFT", "LEFT", "LEFT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", size_pt=8, fill_color=LIGHT),
        line_height=4.2,
        padding=(1, 1.2, 1, 1.2),
        v_align="TOP",
        width=doc.width,
        repeat_headings=1,
    ) as table:
        heading = table.row()
        for text in headings:
            heading.cell(text)
        if not lines:
            row = table.row()
            row.cell("Chưa có sản phẩm. / No products.", colspan=5)
        for number, line in enumerate(lines, 1):
            period_vi, period_en = period_words(line["period"])
            basis_vi, basis_en = price_basis_words(line)
            unit = _plain(line["unit_label"])
            row = table.row()
            row.cell(str(number))
            row.cell(f"{_plain(line['name'])}\nMã / ID: {int(line['product_id'])}")
            row.cell(f"{group(line['quantity'])} {unit} {period_vi}\n{period_en}")
            row.cell(f"{basis_vi}\n{basis_en}")
            row.cell(unit_price_words(line))


def _signature_blocks(doc, content):
    roles = [role for role in ("seller", "buyer", "witness") if content.get(role)]
    if doc.will_page_break(48):
        doc.add_page()
    doc.ln(3)
    doc.set_font(FONT, "", 8.5)
    with doc.table(
        col_widths=tuple(1 for _ in roles),
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.NONE,
        text_align="CENTER",
        v_align="TOP",
        line_height=4.3,
        width=doc.width,
    ) as table:
        row = table.row()
        for role in roles:
            vietnamese, english = SIGNER_ROLES[role]
            row.cell(f"{vietnamese.upper()}\n{english}", style=FontFace(emphasis="BOLD", size_pt=9))
        row = table.row()
        for role in roles:
            row.cell(_plain(content[role]["legal_name"]))
        row = table.row()
        for _role in roles:
            row.cell("(Ký điện tử trên Chợ HTX, xem danh sách chữ ký của tệp PDF)\n"
                     "(Signed electronically on Chợ HTX; see the PDF's signature panel)",
                     style=FontFace(color=GREY, size_pt=7.5))
        row = table.row()
        for role in roles:
            row.cell(_plain(content[role]["representative"]), style=FontFace(emphasis="BOLD", size_pt=9))


# ------------------------------------------------------------------------------ completion certificate


def render_completion_certificate(reference: str, *, signers: list[CompletionSigner], document_sha256_final: str,
                                  original_sha256: str, verify_url: str, created_at: datetime | None = None) -> bytes:
    """A one- or two-page certificate of completion: who signed, when (UTC+7), with which certificate,
    and the document's SHA-256 before and after each signature, then the final hash.

    `original_sha256` is the hash of the unsigned PDF, `document_sha256_final` of the PDF after the
    last signature. Raises ValueError on an unknown role or a naive `signed_at`.
    """
    with _document(reference, "Chứng nhận hoàn tất ký / Certificate of completion", created_at) as doc:
        doc.set_subject("Certificate of completion")
        doc.add_page()
        doc.centered("CHỨNG NHẬN HOÀN TẤT KÝ", 14, bold=True)
        doc.centered("Certificate of completion", 10, color=GREY, gap=1.5)
        doc.centered(f"Thỏa thuận số / Memorandum No. {_plain(reference)}", 9.5, gap=3)
        doc.details([
            ("Mã băm bản gốc (SHA-256) / Original document hash", _plain(original_sha256), HASH_SIZE),
            ("Số chữ ký / Signatures", str(len(signers))),
        ], label_width=0.36)
        for number, signer in enumerate(signers, 1):
            _completion_signer(doc, number, signer)
        doc.heading("Kết quả", "Result", size=10)
        doc.details([("Mã băm cuối cùng (SHA-256) / Final document hash", _plain(document_sha256_final), HASH_SIZE)],
                    label_width=0.36)
        doc.ln(2)
        doc.verification_box(verify_url, [
            (HONEST_STATEMENT_VI, 9, BLACK),
            (HONEST_STATEMENT_EN, 8, GREY),
            (f"Kiểm chứng / Verify: {_plain(verify_url)}", 8, BLACK),
        ])
        return bytes(doc.output())


def _completion_signer(doc, number, signer):
    role = signer["role"]
    if role not in SIGNER_ROLES:
        raise ValueError(f"unknown role {role!r}")
    vietnamese, english = SIGNER_ROLES[role]
    doc.heading(f"{number}. {vietnamese}", english, size=10)
    doc.details([
        ("Tổ chức / Organisation", _plain(signer["organisation"])),
        ("Người ký / Signed by", _plain(signer["person"])),
        ("Thời điểm / Time", vietnam_time(signer["signed_at"])),
        ("Số sê-ri chứng thư / Certificate serial", _plain(signer["certificate_serial"])),
        ("Mã băm trước khi ký / Hash before", _plain(signer["sha256_before"]), HASH_SIZE),
        ("Mã băm sau khi ký / Hash after", _plain(signer["sha256_after"]), HASH_SIZE),
    ], label_width=0.36)
