"""The printable PDF summary of the alliance's reports (the dashboard, a conference) for the provincial People's
Committee, in Vietnamese. It builds on the page frame, fonts and text rules of the memorandum
(agreements/pdf.py: `document`, `plain`, `grid`), the one module that imports fpdf2; like orders/pdf.py it is
imported lazily (alliance/exports.py imports it inside `export`).

Titles and headings are Vietnamese here whatever the reader's language; enum labels are printed through the
Vietnamese catalogue (force_locale), tracking statuses with the words below. Users' text (names of cooperatives,
enterprises, conferences) is printed as plain text.
"""
import enum
from datetime import date

from flask_babel import force_locale

from marketplace.agreements.pdf import FONT, GREY, day, document, group, plain
from marketplace.alliance.reports import (
    COUNT,
    DATE,
    NO_CONFERENCE,
    NOT_CLASSIFIED,
    NOT_GIVEN,
    PERCENT,
    VND,
    text,
)
from marketplace.alliance.tracking_models import TrackingStatus

STATUS_VI = {
    TrackingStatus.ON_TRACK: "Đúng tiến độ", TrackingStatus.BEHIND: "Chậm tiến độ",
    TrackingStatus.STALLED: "Đình trệ", TrackingStatus.COMPLETED: "Hoàn thành", TrackingStatus.EXPIRED: "Hết hạn",
}
STATUS_VI_LOWER = {status: words.lower() for status, words in STATUS_VI.items()}
VALUES_VI = ["Cam kết (₫)", "Đã đặt (₫)", "Đã giao (₫)", "Đã thanh toán (₫)"]
MEASURES_VI = ["Giá trị cam kết", "Giá trị đã đặt hàng", "Giá trị đã giao", "Giá trị đã thanh toán"]
# Per table (Report.tables' keys): the Vietnamese title and headings.
TABLES_VI = {
    "mous_by_stage": ("Biên bản ghi nhớ (MoU) theo giai đoạn", ["Giai đoạn", "Số MoU"]),
    "mous_by_status": ("MoU đã ký theo tình trạng thực hiện", ["Tình trạng", "Số MoU", *VALUES_VI]),
    "committed_achieved": ("Giá trị cam kết và giá trị đã thực hiện của các MoU đã ký", ["Chỉ tiêu", "Giá trị (₫)"]),
    "mous_by_event": ("MoU đã ký theo hội nghị", ["Hội nghị", "Số MoU", *VALUES_VI]),
    "mous_by_province": ("MoU đã ký theo tỉnh của hợp tác xã", ["Tỉnh", "Số MoU", *VALUES_VI]),
    "mous_by_sector": ("MoU đã ký theo lĩnh vực của hợp tác xã", ["Lĩnh vực", "Số MoU", *VALUES_VI]),
    "ocop_by_stars": ("Sản phẩm OCOP theo số sao", ["Hạng sao", "Số sản phẩm"]),
    "certificates_expiring": ("Giấy chứng nhận OCOP hết hạn trong 90 ngày tới",
                              ["Sản phẩm", "Hợp tác xã", "Sao", "Số giấy chứng nhận", "Ngày hết hạn"]),
    "cooperatives_by_classification": ("Hợp tác xã đã xác minh theo xếp loại", ["Xếp loại", "Số hợp tác xã"]),
    "orders_by_month": ("Đơn hàng và giá trị đã thanh toán theo tháng",
                        ["Tháng", "Số đơn", "Giá trị đơn (₫)", "Đã thanh toán (₫)"]),
    "conference_by_status": ("MoU theo tình trạng thực hiện", ["Tình trạng", "Số MoU"]),
    "conference_values": ("Giá trị thực hiện theo các MoU của hội nghị từ khi ký", ["Chỉ tiêu", "Giá trị (₫)"]),
    "conference_mous": ("Chi tiết từng MoU", ["MoU", "Bên bán — bên mua", "Tình trạng", *VALUES_VI, "Tỷ lệ đặt"]),
}
# Tables too wide for an A4 page: the seller and the buyer share one column, and the widths are set by hand.
MERGED_PARTIES = {"conference_mous": (1, 2)}
WIDTHS = {"conference_mous": [3.5, 4.6, 2.4, 2.6, 2.6, 2.6, 2.6, 1.5]}
MEASURE_TABLES = ("committed_achieved", "conference_values")
PLACEHOLDERS_VI = ((NO_CONFERENCE, "Ngoài hội nghị"), (NOT_GIVEN, "Chưa khai báo"), (NOT_CLASSIFIED, "Chưa xếp loại"))


def _words(value, kind):
    for words, vietnamese in PLACEHOLDERS_VI:
        if value is words:
            return vietnamese
    if isinstance(value, TrackingStatus):
        return STATUS_VI[value]
    if isinstance(value, enum.Enum):
        with force_locale("vi"):
            return plain(text(value))
    if kind in (COUNT, VND) and isinstance(value, int):
        return group(value)
    if kind == PERCENT:
        return f"{round(value * 100)}%"
    if kind == DATE and isinstance(value, date):
        return day(value)
    with force_locale("vi"):
        return plain(text(value))


def _heading(doc, words):
    """A bold heading kept on one page with the start of its table."""
    if doc.will_page_break(24):
        doc.add_page()
    doc.ln(2.5)
    doc.set_font(FONT, "B", 10.5)
    doc.multi_cell(0, 5, words, new_x="LMARGIN", new_y="NEXT")
    doc.ln(1)


def summary_vi(report):
    """"6 MoU ký tại hội nghị ngày 12/04/2024: 4 đúng tiến độ, 1 chậm tiến độ, 1 đình trệ" (a conference report),
    else ""."""
    if getattr(report, "event", None) is None:
        return ""
    counts = report.counts
    total = sum(counts.values())
    parts = [f"{counts[s]} {STATUS_VI_LOWER[s]}" for s in TrackingStatus if counts.get(s)]
    head = f"{total} MoU ký tại hội nghị ngày {day(report.event.held_on)}"
    return f"{head}: {', '.join(parts)}" if parts else head


def render(report, created_at=None):
    """The A4 PDF of a Report (reports.dashboard or reports.conference_report), in Vietnamese."""
    conference = getattr(report, "event", None)
    if conference is not None:
        title = "BÁO CÁO KẾT QUẢ THỰC HIỆN BIÊN BẢN GHI NHỚ SAU HỘI NGHỊ"
        subtitle = f"{plain(conference.name)} · {day(conference.held_on)}" + (
            f" · {plain(conference.place)}" if conference.place else "")
    else:
        title = "BÁO CÁO TỔNG HỢP KẾT NỐI CUNG CẦU SẢN PHẨM HỢP TÁC XÃ"
        subtitle = "Sàn Chợ HTX · Liên minh Hợp tác xã tỉnh"
    reference = f"BC-{report.on.strftime('%Y%m%d')}"
    with document(reference, "Báo cáo / Report", created_at) as doc:
        doc.set_subject("Báo cáo của Liên minh Hợp tác xã tỉnh")
        doc.add_page()
        doc.centered("Kính gửi: Ủy ban nhân dân tỉnh", 9.5, gap=2)
        doc.centered(title, 13, bold=True)
        doc.centered(subtitle, 9.5, color=GREY, gap=1)
        doc.centered(f"Số liệu tính đến ngày {day(report.on)}", 9.5, gap=3)
        summary = summary_vi(report)
        if summary:
            doc.paragraph(summary, size=10.5)
            doc.ln(2)
        for table in report.tables:
            vi_title, headings = TABLES_VI.get(table.key, (plain(str(table.title)), [str(h) for h in table.headings]))
            _heading(doc, vi_title)
            rows, kinds = [], list(table.kinds)
            for index, row in enumerate(table.rows):
                cells = [_words(v, k) for v, k in zip(row, table.kinds, strict=True)]
                if table.key in MEASURE_TABLES:
                    cells[0] = MEASURES_VI[index]
                if table.key in MERGED_PARTIES:
                    first, second = MERGED_PARTIES[table.key]
                    cells[first:second + 1] = [f"{cells[first]} — {cells[second]}"]
                rows.append(cells)
            if table.key in MERGED_PARTIES:
                first, second = MERGED_PARTIES[table.key]
                kinds[first:second + 1] = [kinds[first]]
            if not rows:
                doc.paragraph("Không có số liệu.", size=9)
                continue
            widths = WIDTHS.get(table.key) or [3 if k not in (COUNT, VND, PERCENT, DATE) else 2 for k in kinds]
            align = ["LEFT" if k not in (COUNT, VND, PERCENT) else "RIGHT" for k in kinds]
            doc.grid(headings, rows, widths, align, size=7.5 if len(headings) > 5 else 8.5)
        doc.ln(4)
        doc.paragraph("Số liệu tính từ các đơn hàng đặt theo từng MoU trên sàn (không tính đơn bị từ chối hoặc đã "
                      "hủy); giá trị đã giao theo số lượng bên mua xác nhận đã nhận.", size=8, color=GREY)
        return bytes(doc.output())
