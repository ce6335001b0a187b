"""The order confirmation PDF (xác nhận đơn hàng): parties, reference, dates, delivery address, lines, totals,
payment terms and what is paid so far, in Vietnamese with English subtitles.

It builds on the page frame, fonts and text rules of the memorandum (agreements/pdf.py: `document`, `plain`),
the one module that imports fpdf2; like it, this module must be imported lazily (inside the view that renders).

    content_of(order) -> OrderContent       a snapshot of the order (reads the order and its relations)
    render_confirmation(content, *, created_at=None) -> bytes

`render_confirmation` looks nothing up: everything it prints is in the snapshot, and users' text (names, notes,
the delivery note) is printed as plain text.
"""
from datetime import date, datetime
from typing import TypedDict

from marketplace.agreements.pdf import GREY, day, document, plain, vietnam_time, vnd
from marketplace.orders.models import OrderStatus, PaymentMode
from marketplace.orders.queries import unit_name

AGREED_PRICE = "\n(giá theo thỏa thuận / MoU price)"
STATUS_WORDS = {
    OrderStatus.PLACED: ("Đã đặt, chờ hợp tác xã xác nhận", "Placed, awaiting the cooperative's confirmation"),
    OrderStatus.CONFIRMED: ("Đã xác nhận, chờ thanh toán", "Confirmed, awaiting payment"),
    OrderStatus.AWAITING_PAYMENT: ("Đang chờ thanh toán", "Awaiting payment"),
    OrderStatus.PAID: ("Đã thanh toán trước khi giao", "Paid before shipping"),
    OrderStatus.SHIPPED: ("Đã giao cho vận chuyển", "Shipped"),
    OrderStatus.DELIVERED: ("Đã nhận hàng", "Delivered"),
    OrderStatus.COMPLETED: ("Hoàn tất", "Completed"),
    OrderStatus.REJECTED: ("Bị từ chối", "Rejected"),
    OrderStatus.CANCELLED: ("Đã hủy", "Cancelled"),
}


class Party(TypedDict):
    legal_name: str
    tax_code: str
    address: str
    phone: str
    email: str


class Line(TypedDict):
    name: str
    unit: str  # Vietnamese unit as people read it: "kg", "tấn"
    quantity: int
    unit_price_vnd: int
    line_total_vnd: int
    agreed_price: bool  # the MoU's price rather than the catalogue's tier
    quantity_shipped: int | None
    quantity_received: int | None


class OrderContent(TypedDict):
    reference: str
    status: str  # OrderStatus value
    placed_at: datetime  # timezone-aware
    placed_by: str
    requested_date: date
    buyer: Party
    cooperative: Party
    delivery_address: str
    po_number: str
    notes: str
    agreement_reference: str | None
    lines: list[Line]
    total_vnd: int
    payment_mode: str  # PaymentMode value
    deposit_percent: int
    due_before_shipping_vnd: int  # the deposit, or the full amount
    paid_vnd: int
    refunded_vnd: int
    delivery_note: str
    reason: str  # why rejected or cancelled


def _party(organisation):
    return {"legal_name": organisation.legal_name, "tax_code": organisation.display_tax_code,
            "address": organisation.address, "phone": organisation.phone or "", "email": organisation.email or ""}


def content_of(order) -> OrderContent:
    """The snapshot of an order that the confirmation prints (its lines are already snapshots)."""
    return {
        "reference": order.reference, "status": order.status.value, "placed_at": order.placed_at,
        "placed_by": order.placed_by.full_name if order.placed_by else "", "requested_date": order.requested_date,
        "buyer": _party(order.buyer), "cooperative": _party(order.cooperative), "delivery_address": order.address,
        "po_number": order.po_number, "notes": order.notes,
        "agreement_reference": order.agreement.reference if order.agreement else None,
        "lines": [{"name": line.name, "unit": unit_name(line.unit), "quantity": line.quantity,
                   "unit_price_vnd": line.unit_price_vnd, "line_total_vnd": line.line_total_vnd,
                   "agreed_price": line.price_source == "agreement", "quantity_shipped": line.quantity_shipped,
                   "quantity_received": line.quantity_received} for line in order.lines],
        "total_vnd": order.total_vnd, "payment_mode": order.payment_mode.value,
        "deposit_percent": order.deposit_percent, "due_before_shipping_vnd": order.deposit_vnd,
        "paid_vnd": order.paid_vnd, "refunded_vnd": order.refunded_vnd, "delivery_note": order.delivery_note,
        "reason": order.status_reason,
    }


def _quantity(number):
    return "—" if number is None else f"{int(number):,}".replace(",", ".")


def payment_terms_words(content):
    """The payment terms in Vietnamese and English."""
    if content["payment_mode"] == PaymentMode.DEPOSIT.value:
        percent = int(content["deposit_percent"])
        return (f"Đặt cọc {percent}% ({vnd(content['due_before_shipping_vnd'])}) trước khi giao, phần còn lại "
                f"khi nhận hàng",
                f"A {percent}% deposit ({vnd(content['due_before_shipping_vnd'])}) before shipping, the balance on "
                f"delivery")
    return "Thanh toán toàn bộ trước khi giao hàng", "Payment in full before shipping"


def render_confirmation(content: OrderContent, *, created_at: datetime | None = None) -> bytes:
    """The A4 order confirmation. Raises KeyError on a missing key and ValueError on an unknown status."""
    status = OrderStatus(content["status"])
    status_vi, status_en = STATUS_WORDS[status]
    with document(content["reference"], "Xác nhận đơn hàng / Order confirmation", created_at) as doc:
        doc.set_subject("Order confirmation")
        doc.add_page()
        doc.centered("XÁC NHẬN ĐƠN HÀNG", 14, bold=True)
        doc.centered("Order confirmation", 10, color=GREY, gap=1.5)
        doc.centered(f"Số / No. {plain(content['reference'])}", 9.5, gap=3)
        rows = [
            ("Trạng thái / Status", f"{status_vi} / {status_en}"),
            ("Ngày đặt / Placed on", vietnam_time(content["placed_at"])),
            ("Người đặt / Placed by", plain(content["placed_by"]) or "—"),
            ("Ngày giao mong muốn / Requested delivery", day(content["requested_date"])),
            ("Địa chỉ giao hàng / Delivery address", plain(content["delivery_address"])),
        ]
        if content["po_number"]:
            rows.append(("Số đơn mua hàng / Purchase order No.", plain(content["po_number"])))
        if content["agreement_reference"]:
            rows.append(("Theo thỏa thuận ghi nhớ / Under the MoU", plain(content["agreement_reference"])))
        if content["notes"]:
            rows.append(("Ghi chú của bên mua / Buyer's notes", plain(content["notes"])))
        if content["delivery_note"]:
            rows.append(("Phiếu giao hàng / Delivery note", plain(content["delivery_note"])))
        if content["reason"] and status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            rows.append(("Lý do / Reason", plain(content["reason"])))
        doc.details(rows, label_width=0.34)

        for key, vietnamese, english in (("buyer", "BÊN MUA", "The buyer"),
                                         ("cooperative", "BÊN BÁN (HỢP TÁC XÃ)", "The seller (cooperative)")):
            party = content[key]
            doc.heading(vietnamese, english)
            doc.details([
                ("Tên / Name", plain(party["legal_name"])),
                ("Mã số thuế / Tax code", plain(party["tax_code"]) or "—"),
                ("Địa chỉ / Address", plain(party["address"]) or "—"),
                ("Điện thoại / Phone", plain(party["phone"]) or "—"),
                ("Thư điện tử / Email", plain(party["email"]) or "—"),
            ], label_width=0.34)

        doc.heading("SẢN PHẨM", "Products", keep=30)
        doc.grid(
            ("STT\nNo.", "Sản phẩm\nProduct", "Số lượng\nQuantity", "Đơn giá\nUnit price", "Thành tiền\nAmount",
             "Đã giao / Đã nhận\nShipped / Received"),
            [(str(number), plain(line["name"]) + (AGREED_PRICE if line["agreed_price"] else ""),
              f"{_quantity(line['quantity'])} {plain(line['unit'])}", vnd(line["unit_price_vnd"]),
              vnd(line["line_total_vnd"]),
              f"{_quantity(line['quantity_shipped'])} / {_quantity(line['quantity_received'])}")
             for number, line in enumerate(content["lines"], 1)],
            col_widths=(8, 52, 26, 26, 28, 34),
            text_align=("CENTER", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        )

        terms_vi, terms_en = payment_terms_words(content)
        remaining = max(content["total_vnd"] - content["paid_vnd"], 0)
        doc.heading("THANH TOÁN", "Payment")
        payment_rows = [
            ("Tổng giá trị đơn hàng / Order total", vnd(content["total_vnd"])),
            ("Điều kiện thanh toán / Payment terms", f"{terms_vi}\n{terms_en}"),
            ("Đã thanh toán / Paid so far", vnd(content["paid_vnd"])),
        ]
        if content["refunded_vnd"]:
            payment_rows.append(("Đã hoàn trả / Refunded", vnd(content["refunded_vnd"])))
        if status not in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            payment_rows.append(("Còn phải thanh toán / Still to pay", vnd(remaining)))
        doc.details(payment_rows, label_width=0.34)
        doc.ln(3)
        doc.paragraph("Đơn hàng được đặt và theo dõi trên sàn Chợ HTX. Giá, số lượng và điều kiện thanh toán là "
                      "những gì hai bên đã ghi nhận tại thời điểm đặt hàng.", 8.5, GREY)
        doc.paragraph("Placed and followed on the Chợ HTX marketplace. Prices, quantities and payment terms are "
                      "those recorded when the order was placed.", 8, GREY)
        return bytes(doc.output())
