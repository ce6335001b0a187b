"""The memorandum PDF and the completion certificate (marketplace/agreements/pdf.py), read back with
poppler's pdftotext: Vietnamese with its diacritics, page numbers, the reference on every page, the
honest statement about what the signature is, pagination, and users' text printed as plain text."""
import re
import subprocess
from datetime import UTC, datetime

import pytest

from marketplace.agreements import pdf
from tests import factories
from tests.support import pdf_pages as pages_of
from tests.support import require_tool

VERIFY_URL = "https://chohtx.vn/agreements/verify/MOU-2026-000123"
CREATED = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def render(**fields):
    return pdf.render_agreement(factories.agreement_content(**fields), verify_url=VERIFY_URL, created_at=CREATED)


def test_memorandum_reads_in_vietnamese_with_english_subtitles():
    data = render()
    assert data.startswith(b"%PDF-")
    text = " ".join(pages_of(data))
    for words in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
        "THỎA THUẬN GHI NHỚ HỢP TÁC TIÊU THỤ SẢN PHẨM", "Memorandum of understanding on product sales cooperation",
        "BÊN MUA / The buyer", "BÊN BÁN / The seller", "BÊN LÀM CHỨNG / The witness",
        "Hợp tác xã Nông sản sạch Tràng Định", "Công ty Cổ phần Thực phẩm Sạch Hà Nội",
        "Liên minh Hợp tác xã tỉnh Lạng Sơn",
        "Mã số thuế / Tax code", "4900123456", "Nguyễn Thị Lan",
        "Hội nghị kết nối cung cầu nông sản Lạng Sơn 2026", "05/12/2026",
        "Mật ong rừng Bắc Sơn loại 1", "1.200 kg mỗi tháng", "per month", "giá cố định", "1.500.000 ₫/kg",
        "Thạch đen Tràng Định", "3 tấn mỗi vụ", "giá theo bậc số lượng", "42.000.000 ₫/tấn",
        "Hồi khô loại 1", "250 hộp mỗi tuần", "giá tham chiếu ± 5%", "250.000 ₫/hộp",
        "Từ ngày 15/12/2026 đến ngày 14/12/2027", "Hai lần mỗi tuần", "OCOP 4 sao, VietGAP",
        "Thỏa thuận ghi nhớ này là cơ sở", "Bản sửa đổi / Revision 2", "5d" * 32, VERIFY_URL,
        "ĐẠI DIỆN BÊN BÁN", "For the seller", "ĐẠI DIỆN BÊN MUA", "ĐẠI DIỆN BÊN LÀM CHỨNG", "Trần Văn Đức",
    ):
        assert words in text, words
    assert "Thỏa thuận" in text and "Hợp tác xã" in text


def test_every_page_has_the_reference_and_its_number():
    pages = pages_of(render(lines=[factories.agreement_line(n) for n in range(1, 16)]))
    total = len(pages)
    assert total >= 2
    for number, page in enumerate(pages, 1):
        assert "MOU-2026-000123" in page
        assert f"Trang {number}/{total} · Page {number} of {total}" in page


def test_the_signature_is_described_honestly_and_never_claimed_as_a_digital_signature():
    text = " ".join(pages_of(render()))
    assert pdf.HONEST_STATEMENT_VI in text
    assert pdf.HONEST_STATEMENT_EN in text
    folded = text.lower()
    # "chữ ký số" (a licensed digital signature) appears only inside "không phải chữ ký số" (not a ...).
    for match in re.finditer("chữ ký số", folded):
        assert folded[:match.start()].rstrip().endswith("không phải"), folded[match.start() - 40:match.end()]
    assert folded.count("chữ ký số") == 1


def test_many_lines_paginate_with_the_table_headings_repeated():
    lines = [factories.agreement_line(n, name=f"Sản phẩm số {n} của hợp tác xã") for n in range(1, 121)]
    pages = pages_of(render(lines=lines))
    assert len(pages) >= 5
    text = " ".join(pages)
    assert all(f"Sản phẩm số {n} của hợp tác xã" in text for n in (1, 60, 120))
    with_headings = [page for page in pages if "Cách tính giá Price basis" in page]
    assert len(with_headings) >= 3  # the headings row repeats on every page the table reaches
    assert pdf.HONEST_STATEMENT_VI in pages[-1] or pdf.HONEST_STATEMENT_VI in pages[-2]


def test_long_text_wraps_and_stays_whole():
    clause = "Điều khoản rất dài về chất lượng và giao nhận hàng hóa giữa các bên. " * 40
    unbroken = "https://example.vn/" + "a" * 300
    pages = pages_of(render(clauses=[clause, unbroken], payment_terms="Thanh toán " * 200))
    assert len(pages) >= 3
    squeezed = "".join(pages).replace(" ", "")
    assert squeezed.count("Điềukhoảnrấtdàivềchấtlượngvàgiaonhậnhànghóagiữacácbên.") == 40
    assert squeezed.count("Thanhtoán") == 200 + 1  # and the heading of article 5
    assert unbroken in squeezed  # a word wider than the page is broken across lines, not cut off


def test_users_text_is_plain_text():
    nasty = "**đậm** <b>thẻ</b> {nb} __gạch__ \x07chuông\x00 ☃ 𝔘 🍯 No\u0302ng sản"
    content = factories.agreement_content(payment_terms=nasty)
    content["seller"]["legal_name"] = "HTX <script>alert(1)</script> & **Bản Chu**"
    text = " ".join(pages_of(pdf.render_agreement(content, verify_url=VERIFY_URL)))
    assert "**đậm** <b>thẻ</b> {nb} __gạch__ chuông" in text  # markup shown as typed; control characters dropped
    assert "Nông sản" in text  # decomposed input (NFD) printed as the composed letter
    assert "\ufffd" in text  # characters the font lacks (snowman, emoji) print as U+FFFD, not as nothing
    assert "HTX <script>alert(1)</script> & **Bản Chu**" in text


def test_addendum_names_the_memorandum_it_amends_and_the_witness_is_optional():
    text = " ".join(pages_of(render(kind="addendum", reference="MOU-2026-000124", parent_reference="MOU-2026-000123",
                                    witness=None, event=None)))
    assert "PHỤ LỤC SỬA ĐỔI, BỔ SUNG THỎA THUẬN GHI NHỚ" in text
    assert "Amends memorandum No. MOU-2026-000123" in text
    assert "BÊN LÀM CHỨNG" not in text and "For the witness" not in text
    assert "Ký kết tại" not in text


def test_same_snapshot_renders_the_same_bytes():
    assert render() == render()


def test_unknown_codes_are_refused():
    with pytest.raises(ValueError):
        render(kind="contract")
    with pytest.raises(ValueError):
        render(lines=[factories.agreement_line(1, period="fortnight")])
    with pytest.raises(ValueError):
        render(lines=[factories.agreement_line(1, price_basis="auction")])


def test_formatting_helpers():
    assert pdf.vnd(1500000) == "1.500.000 ₫"
    assert pdf.vnd(0) == "0 ₫"
    assert pdf.day("2026-12-05") == "05/12/2026"
    assert pdf.vietnam_time(datetime(2026, 12, 5, 20, 30, tzinfo=UTC)) == "06/12/2026 03:30:00 (UTC+7)"
    assert pdf.period_words("season") == ("mỗi vụ", "per season")
    assert pdf.price_basis_words({"price_basis": "reference", "adjustment_percent": 10})[0] == "giá tham chiếu ± 10%"
    with pytest.raises(ValueError):
        pdf.vietnam_time(datetime(2026, 12, 5, 20, 30))


def completion_signers():
    roles = [("seller", "Hợp tác xã Nông sản sạch Tràng Định", "Hoàng Văn Minh"),
             ("buyer", "Công ty Cổ phần Thực phẩm Sạch Hà Nội", "Nguyễn Thị Lan"),
             ("witness", "Liên minh Hợp tác xã tỉnh Lạng Sơn", "Trần Văn Đức")]
    return [{"role": role, "organisation": organisation, "person": person,
             "signed_at": datetime(2026, 12, 5, 2, minute, 5, tzinfo=UTC),
             "certificate_serial": f"{minute:02x}" * 20, "sha256_before": f"{minute:x}a" * 32,
             "sha256_after": f"{minute:x}b" * 32} for minute, (role, organisation, person) in enumerate(roles, 1)]


def test_completion_certificate_lists_each_signer_and_the_hashes():
    data = pdf.render_completion_certificate(
        "MOU-2026-000123", signers=completion_signers(), document_sha256_final="cd" * 32,
        original_sha256="ab" * 32, verify_url=VERIFY_URL, created_at=CREATED)
    pages = pages_of(data)
    assert len(pages) <= 2
    text = " ".join(pages)
    for words in ("CHỨNG NHẬN HOÀN TẤT KÝ", "Certificate of completion", "MOU-2026-000123",
                  "Đại diện bên bán", "Đại diện bên mua", "Đại diện bên làm chứng",
                  "Hợp tác xã Nông sản sạch Tràng Định", "Nguyễn Thị Lan", "Trần Văn Đức",
                  "05/12/2026 09:01:05 (UTC+7)", "05/12/2026 09:03:05 (UTC+7)",
                  "01" * 20, "1a" * 32, "1b" * 32, "3b" * 32, "ab" * 32, "cd" * 32,
                  pdf.HONEST_STATEMENT_VI, "Trang 1/"):
        assert words in text, words


def test_qr_code_holds_the_verification_address(tmp_path):
    """Rasterise a drawn QR code (poppler's pdftoppm) and read its modules back: they are segno's."""
    import segno
    from PIL import Image

    pdftoppm = require_tool("pdftoppm", "poppler-utils")
    x, y, size = 20, 20, 80  # mm
    with pdf._document("MOU-2026-000123", "QR", CREATED) as document:
        document.add_page()
        document.qr_code(VERIFY_URL, x, y, size)
        data = bytes(document.output())
    (tmp_path / "qr.pdf").write_bytes(data)
    subprocess.run([pdftoppm, "-r", "200", "-png", "-singlefile", str(tmp_path / "qr.pdf"), str(tmp_path / "qr")],
                   check=True)
    matrix = [list(row) for row in segno.make(VERIFY_URL, error="m", micro=False).matrix]
    modules = len(matrix) + 8
    dots_per_mm = 200 / 25.4
    with Image.open(tmp_path / "qr.png") as image:
        grey = image.convert("L")
        read = [[grey.getpixel((round((x + (c + 4.5) * size / modules) * dots_per_mm),
                                round((y + (r + 4.5) * size / modules) * dots_per_mm))) < 128
                 for c in range(len(matrix))] for r in range(len(matrix))]
    assert read == [[bool(module) for module in row] for row in matrix]
