"""Demo MoUs (loaded by demo.seed, idempotent): the alliance's 2024 conference "Hội nghị gặp mặt, kết nối tiêu thụ
sản phẩm HTX" with six memoranda between the demo cooperatives and enterprises, in different states (three
signed, whose orders in demo_orders.py make the alliance's follow-up show them on track, behind and stalled), and
one inquiry thread. Everything goes through the agreements and inquiries services as the demo users, so each rule,
event, PDF and signature is real; the rows are flagged is_demo and every page says "demo data". Signatures are
made (and dated) when the demo is loaded: they are never backdated to the conference.
"""
from datetime import date

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.agreements import services
from marketplace.agreements.models import Agreement, ConferenceEvent
from marketplace.agreements.terms import TermsDetails
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.inquiries import services as inquiries
from marketplace.inquiries.models import Inquiry
from marketplace.text import slugify

CONFERENCE = "Hội nghị gặp mặt, kết nối tiêu thụ sản phẩm HTX 2024"
CONFERENCE_DAY = date(2024, 11, 22)
CONFERENCE_PLACE = "Trung tâm Hội nghị tỉnh, TP Lạng Sơn (dữ liệu minh họa)"
START, END = date(2024, 12, 1), date(2027, 11, 30)

ALLIANCE = "lienminh@demo.chohtx.vn"
THU_DO = "muahang@demo-thucpham.vn"
HAI_PHONG = "purchasing@demo-export.vn"
TRANG_DINH = "trangdinh@demo.chohtx.vn"
LE_HONG_PHONG = "lehongphong@demo.chohtx.vn"
DONG_BANH = "dongbanh@demo.chohtx.vn"
HOANG_TRUNG = "hoangtrung@demo.chohtx.vn"
HA_DUNG = "hadung@demo.chohtx.vn"

COMMON = {
    "delivery_frequency": "Theo đơn đặt hàng, tối thiểu hai lần mỗi tháng trong mùa vụ.",
    "quality_standards": "Đúng tiêu chuẩn đã công bố; sản phẩm OCOP còn hiệu lực chứng nhận.",
    "sampling": "Bên mua lấy mẫu ngẫu nhiên mỗi lô khi nhận hàng; hai bên ký biên bản giao nhận.",
    "payment_terms": "Chuyển khoản trong vòng 15 ngày kể từ ngày nhận hàng và hóa đơn hợp lệ.",
    "buyer_responsibilities": "Đặt hàng trước 7 ngày; nhận hàng và thanh toán đúng hạn.",
    "seller_responsibilities": "Giao đủ số lượng, đúng chất lượng; báo sớm khi sản lượng thay đổi.",
    "clauses": ["Thỏa thuận ghi nhớ này là cơ sở để hai bên ký các hợp đồng mua bán cụ thể.",
                "Đây là dữ liệu minh họa của Chợ HTX, không phải thỏa thuận thật."],
}


def seed_agreements():
    """Add the demo conference, its six MoUs and an inquiry, unless the conference is there already."""
    exists = db.session.scalar(sa.select(ConferenceEvent.id).filter_by(name=CONFERENCE, is_demo=True))
    if exists is not None:
        return
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(
        [ALLIANCE, THU_DO, HAI_PHONG, TRANG_DINH, LE_HONG_PHONG, DONG_BANH, HOANG_TRUNG, HA_DUNG])))}
    staff = users[ALLIANCE]
    event = services.create_conference(staff, CONFERENCE, CONFERENCE_DAY, CONFERENCE_PLACE)
    event.is_demo = True

    def product(owner, name):
        return db.session.scalar(sa.select(Product.id).filter_by(
            cooperative_id=users[owner].organisation_id, slug=slugify(name)))

    def terms(place, lines, **changes):
        values = {**COMMON, "start_date": START.isoformat(), "end_date": END.isoformat(), "delivery_place": place,
                  "lines": lines}
        values.update(changes)
        return TermsDetails.from_mapping(values)

    def line(owner, name, quantity, period, basis="tier", **prices):
        return {"product_id": product(owner, name), "quantity": quantity, "period": period, "price_basis": basis,
                **prices}

    def start(buyer, seller, details, witness=False):
        agreement = services.draft(users[buyer], users[seller].organisation_id, details, witness=witness,
                                   event_id=event.id, note="Thỏa thuận ký tại hội nghị (dữ liệu minh họa).")
        agreement.is_demo = True
        services.send(users[buyer], agreement.id)
        return agreement

    sign_as = _signer()

    # 1. Signed by both, witnessed by the alliance.
    black_jelly = start(THU_DO, TRANG_DINH, terms("Kho Công ty CP Thực phẩm Sạch Thủ Đô, Long Biên, Hà Nội", [
        line(TRANG_DINH, "Cây thạch đen khô Tràng Định", 1000, "season"),
        line(TRANG_DINH, "Măng khô Tràng Định", 200, "year", "fixed", unit_price_vnd=255000)]), witness=True)
    services.accept(users[TRANG_DINH], black_jelly.id)
    for email in (TRANG_DINH, THU_DO, ALLIANCE):
        sign_as(users[email], black_jelly)

    # 2. Signed by both, after a counter-proposal.
    custard_apple = start(HAI_PHONG, DONG_BANH, terms("Cảng Hải Phòng, kho lạnh của bên mua", [
        line(DONG_BANH, "Na dai Chi Lăng", 2000, "season")]))
    services.revise(users[DONG_BANH], custard_apple.id, terms("Cảng Hải Phòng, kho lạnh của bên mua", [
        line(DONG_BANH, "Na dai Chi Lăng", 1500, "season")]), note="Mùa này chỉ bảo đảm được 1,5 tấn.")
    services.accept(users[HAI_PHONG], custard_apple.id)
    for email in (DONG_BANH, HAI_PHONG):
        sign_as(users[email], custard_apple)

    # 3. Terms agreed, awaiting signatures.
    spices = start(THU_DO, HOANG_TRUNG, terms("Kho Công ty CP Thực phẩm Sạch Thủ Đô, Long Biên, Hà Nội", [
        line(HOANG_TRUNG, "Hoa hồi khô Lạng Sơn", 500, "year"),
        line(HOANG_TRUNG, "Quế vỏ khô", 1000, "year", "reference", reference_price_vnd=85000, adjustment_percent=-5)]),
        witness=True)
    services.accept(users[HOANG_TRUNG], spices.id)

    # 4. In negotiation: two revisions, the enterprise's turn.
    tea = start(HAI_PHONG, HA_DUNG, terms("Cảng Hải Phòng", [line(HA_DUNG, "Chè Shan tuyết cổ thụ Than Uyên", 100,
                                                                   "year", "fixed", unit_price_vnd=500000)]))
    services.revise(users[HA_DUNG], tea.id, terms("Cảng Hải Phòng", [
        line(HA_DUNG, "Chè Shan tuyết cổ thụ Than Uyên", 100, "year", "fixed", unit_price_vnd=540000)],
        payment_terms="Đặt cọc 30% khi ký hợp đồng, 70% khi nhận hàng."),
        note="Giá chè cổ thụ năm nay cao hơn; đề nghị đặt cọc 30%.")

    # 5. Declined by the cooperative.
    carp = start(THU_DO, LE_HONG_PHONG, terms("Kho Công ty CP Thực phẩm Sạch Thủ Đô, Long Biên, Hà Nội", [
        line(LE_HONG_PHONG, "Cá trắm giòn Bắc Sơn", 2000, "month")]))
    services.decline(users[LE_HONG_PHONG], carp.id,
                     "Mùa lạnh chưa bảo đảm được 2 tấn cá trắm giòn mỗi tháng; hẹn bàn lại vào mùa sau.")

    # 6. Signed by both, but no order was ever placed under it: the alliance's follow-up shows it stalled.
    cartons = start(HAI_PHONG, DONG_BANH, terms("Cảng Hải Phòng", [
        line(DONG_BANH, "Na Chi Lăng thùng 10 kg", 200, "season"),
        line(DONG_BANH, "Rượu na Chi Lăng", 600, "total")]))
    services.accept(users[DONG_BANH], cartons.id)
    for email in (DONG_BANH, HAI_PHONG):
        sign_as(users[email], cartons)

    # An inquiry thread, answered, which the buyer can turn into an MoU.
    inquiry = inquiries.open_inquiry(users[HAI_PHONG], product(HA_DUNG, "Thảo quả khô"), inquiries.MessageDetails(
        body="Bên tôi cần 2 tấn thảo quả khô mỗi năm để xuất khẩu. HTX có gửi mẫu được không?", quantity="2000",
        period="year", wants_samples=True, delivery_place="Cảng Hải Phòng"))
    inquiry.is_demo = True
    inquiries.reply(users[HA_DUNG], inquiry.id, inquiries.MessageDetails(
        body="HTX gửi 1 kg mẫu trong tuần này. Với 2 tấn mỗi năm, giá 240.000 đồng/kg.", unit_price_vnd="240000"))

    _follow_up(users, custard_apple)


def _follow_up(users, agreement):
    """The follow-up of the custard-apple MoU: a sample delivered (with its note), a first lot overdue, a yearly
    obligation of the buyer, and a visit of the alliance (demo data, said so in the words)."""
    from marketplace.alliance import followup_log, milestones

    staff, seller, buyer = users[ALLIANCE], users[DONG_BANH], users[HAI_PHONG]

    def milestone(author, title, responsible, due_on, repeat=""):
        return milestones.add(author, agreement.id, milestones.MilestoneDetails.from_mapping(
            {"title": title, "responsible": responsible, "due_on": due_on, "repeat": repeat}))

    sample = milestone(buyer, "Gửi 5 kg na dai mẫu cho bên mua", "seller", "2025-07-15")
    milestones.mark_done(seller, agreement.id, sample.id,
                         "Đã gửi 5 kg na dai mẫu ngày 12/07/2025, bên mua đã nhận (dữ liệu minh họa).")
    milestone(buyer, "Giao lô đầu tiên 500 kg na dai", "seller", "2025-08-20")
    milestone(staff, "Bên mua xác nhận kế hoạch thu mua mùa sau", "buyer", "2026-12-15", "yearly")
    followup_log.record(staff, agreement.id, followup_log.EntryDetails.from_mapping({
        "kind": "visit", "happened_on": "2025-08-28", "party": "seller",
        "note": "Thăm vườn na Chi Lăng: mưa kéo dài làm chậm thu hoạch; liên minh đề nghị hai bên thống nhất lại "
                "lịch giao lô đầu (dữ liệu minh họa)."}))


def _signer():
    """Sign as a demo user: the demo password is the same for everyone (demo.DEMO_PASSWORD)."""
    from marketplace.demo import DEMO_PASSWORD

    def sign(user, agreement):
        services.sign(user, agreement.id, DEMO_PASSWORD)

    return sign


def demo_agreements():
    """The demo MoUs (for tests and `flask agreements list`)."""
    return db.session.scalars(sa.select(Agreement).filter_by(is_demo=True).order_by(Agreement.id)).all()


def demo_inquiries():
    return db.session.scalars(sa.select(Inquiry).filter_by(is_demo=True).order_by(Inquiry.id)).all()
