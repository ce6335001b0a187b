"""Demo orders (loaded by demo.seed after the MoUs, idempotent): orders between the demo enterprises and
cooperatives in every stage, three of them under two signed demo MoUs, paid by bank transfer and by card; the
alliance's follow-up shows one MoU on track, one behind, one stalled (no order at all).

Everything goes through the orders and payments services as the demo users, so capacity, prices, events
and emails are real. The card payment is settled by the same idempotent step a Stripe webhook runs, with a
PaymentIntent described by hand (no Stripe keys are needed for `make run`): its id says "demo".
"""
from datetime import timedelta

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.agreements.models import Agreement, AgreementState
from marketplace.catalog.models import Product
from marketplace.catalog.services import today
from marketplace.demo_agreements import DONG_BANH, HA_DUNG, HAI_PHONG, HOANG_TRUNG, LE_HONG_PHONG, THU_DO, TRANG_DINH
from marketplace.extensions import db
from marketplace.orders import capacity
from marketplace.orders import services as orders
from marketplace.orders.models import Order, PaymentMode
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentMethod
from marketplace.payments.stripe_gateway import Intent
from marketplace.text import slugify
from marketplace.unit_of_work import unit_of_work

# Demo bank accounts (Vietcombank and BIDV BINs; the account numbers are made up).
SETTINGS = {
    TRANG_DINH: (PaymentMode.FULL, 0, "970436", "1019283746", "HTX NONG SAN SACH TRANG DINH"),
    DONG_BANH: (PaymentMode.DEPOSIT, 30, "970418", "21510004567890", "HTX SAN XUAT NA SACH DONG BANH"),
    HOANG_TRUNG: (PaymentMode.FULL, 0, "970436", "1029384756", "HTX HOANG TRUNG"),
    HA_DUNG: (PaymentMode.DEPOSIT, 50, "970418", "21510009876543", "HTX NONG LAM THUY SAN HA DUNG"),
    LE_HONG_PHONG: (PaymentMode.FULL, 0, "970436", "1038475610", "HTX THUY SAN LE HONG PHONG"),
}
ADDRESSES = {
    THU_DO: (1, 167, "Kho số 3, đường Nguyễn Văn Linh (dữ liệu minh họa)"),
    HAI_PHONG: (31, 11311, "Kho lạnh cảng Đình Vũ (dữ liệu minh họa)"),
}


def seed_orders():
    """Add the demo orders unless there are some already."""
    if db.session.scalar(sa.select(Order.id).filter_by(is_demo=True).limit(1)) is not None:
        return
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(
        [THU_DO, HAI_PHONG, TRANG_DINH, LE_HONG_PHONG, DONG_BANH, HOANG_TRUNG, HA_DUNG])))}
    from marketplace.demo import DEMO_PASSWORD  # the same for every demo user; demo.py imports this module

    for email, (mode, percent, bank_bin, account, name) in SETTINGS.items():
        payments.save_settings(users[email], payments.SettingsDetails(
            mode=mode.value, deposit_percent=str(percent or 30), bank_bin=bank_bin, account_number=account,
            account_name=name), DEMO_PASSWORD)

    def place(buyer, seller, lines, mou=False, po=""):
        products = [_product(users[seller], name) for name, _quantity in lines]
        agreement = _signed_mou(users[buyer], users[seller]) if mou else None
        province, commune, street = ADDRESSES[buyer]
        request = orders.OrderRequest.from_mapping({
            "lines": [{"product_id": p.id, "quantity": q} for p, (_n, q) in zip(products, lines, strict=True)],
            "delivery": {"province_code": province, "commune_code": commune, "street": street,
                         "requested_date": possible_date(products).isoformat()},
            "po_number": po, "agreement_id": agreement.id if agreement else None,
            "notes": "Đơn hàng minh họa của Chợ HTX."})
        order, = orders.place_orders(users[buyer], request)
        order.is_demo = True
        return order

    def transfer(order, buyer, seller):
        payment = payments.start_payment(users[buyer], order.id, PaymentMethod.BANK_TRANSFER)
        payments.confirm_transfer(users[seller], payment.id, payment.amount_vnd)

    # 1. Under the signed black-jelly MoU: delivered and paid in full by bank transfer.
    jelly = place(THU_DO, TRANG_DINH, [("Cây thạch đen khô Tràng Định", 500)], mou=True, po="PO-TD-2025-001")
    orders.confirm(users[TRANG_DINH], jelly.id)
    transfer(jelly, THU_DO, TRANG_DINH)
    orders.ship(users[TRANG_DINH], jelly.id, "Xe tải 12C-045.67, 50 bao 10 kg (minh họa)")
    orders.deliver(users[THU_DO], jelly.id)

    # 2. Under the signed custard-apple MoU: the 30% deposit paid by card, shipped, balance due on delivery.
    apples = place(HAI_PHONG, DONG_BANH, [("Na dai Chi Lăng", 800)], mou=True, po="HP-EXP-0458")
    orders.confirm(users[DONG_BANH], apples.id)
    _card_paid(users[HAI_PHONG], apples)
    orders.ship(users[DONG_BANH], apples.id, "Xe lạnh 14C-223.19, 80 thùng (minh họa)")

    # 2b. Under the same MoU, a second order placed today, large enough to keep that MoU on track (the follow-up's
    # figures); the black-jelly MoU, with its one order, is behind, and the carton MoU, without any, is stalled.
    na = _product(users[DONG_BANH], "Na dai Chi Lăng")
    more = keep_on_track_qty(apples.agreement, na.id, 800, na.order_increment or 1)
    if more:
        place(HAI_PHONG, DONG_BANH, [("Na dai Chi Lăng", max(more, na.min_order_qty))], mou=True, po="HP-EXP-0459")

    # 3. Placed, waiting for the cooperative's answer.
    place(THU_DO, HOANG_TRUNG, [("Hoa hồi khô Lạng Sơn", 200), ("Quế vỏ khô", 300)])

    # 4. Confirmed; the deposit's bank transfer started, not yet received.
    tea = place(HAI_PHONG, HA_DUNG, [("Chè Shan tuyết cổ thụ Than Uyên", 50)])
    orders.confirm(users[HA_DUNG], tea.id)
    payments.start_payment(users[HAI_PHONG], tea.id, PaymentMethod.BANK_TRANSFER)

    # 5. Cancelled by the buyer before confirmation; 6. rejected by the cooperative.
    carp = place(THU_DO, LE_HONG_PHONG, [("Cá trắm giòn Bắc Sơn", 300)])
    orders.cancel(users[THU_DO], carp.id, "Kế hoạch nhập hàng thay đổi (minh họa).")
    rice = place(HAI_PHONG, TRANG_DINH, [("Măng khô Tràng Định", 150)])
    orders.reject(users[TRANG_DINH], rice.id, "Măng khô vụ này đã bán hết; hẹn vụ sau (minh họa).")


def _product(owner, name):
    return db.session.scalar(sa.select(Product).filter_by(cooperative_id=owner.organisation_id, slug=slugify(name)))


def _signed_mou(buyer, seller):
    """The first signed demo MoU between the two (for the custard apples: the one signed after a counter-offer)."""
    return db.session.scalars(sa.select(Agreement).filter_by(
        buyer_id=buyer.organisation_id, seller_id=seller.organisation_id, state=AgreementState.SIGNED, is_demo=True)
        .order_by(Agreement.id)).first()


def keep_on_track_qty(agreement, product_id, already, step):
    """How much more of a product to order under the MoU so that its ordered share of the committed quantity is
    five points above the elapsed share of the term today (rounded up to the product's order step), so the
    follow-up shows it on track whatever day the demo is loaded during the term; 0 outside the term."""
    from marketplace.alliance import tracking

    on = tracking.today()
    if not agreement.start_date <= on <= agreement.end_date:
        return 0
    line = next(line for line in agreement.revision_in_force().lines if line.product_id == product_id)
    committed = line.quantity * tracking.periods_in_term(line.period, agreement.start_date, agreement.end_date)
    share = min(tracking.time_elapsed_ratio(agreement.start_date, agreement.end_date, on) + 0.05, 1)
    missing = max(int(committed * share) - already, 0)
    return -(-missing // step) * step


def possible_date(products):
    """The first date after every product's lead time (plus a week) that falls in each one's season."""
    day = today() + timedelta(days=7 + max(p.lead_time_days or 0 for p in products))
    for _ in range(366):
        try:
            for product in products:
                capacity.period_key(product, day)
            return day
        except capacity.OutOfSeason:
            day += timedelta(days=1)
    return day


@unit_of_work()
def _record_card_payment(buyer, order):
    """A pending card payment with a demo PaymentIntent id (what start_payment records with Stripe keys)."""
    payment = Payment(order=order, method=PaymentMethod.CARD, purpose=payments.purpose_for(order),
                      amount_vnd=order.amount_due_vnd(), reference=payments.new_reference(), started_by=buyer)
    db.session.add(payment)
    db.session.flush()
    payment.stripe_payment_intent_id = f"pi_demo_{payment.reference.lower()}"
    orders.payment_started(order, buyer, payments.describe(payment))
    return payment


def _card_paid(buyer, order):
    payment = _record_card_payment(buyer, order)
    payments.apply_intent(Intent(id=payment.stripe_payment_intent_id, status="succeeded", amount=payment.amount_vnd,
                                 currency="vnd", client_secret=None, metadata={"demo": "true"}))


def demo_orders():
    """The demo orders (for tests)."""
    return db.session.scalars(sa.select(Order).filter_by(is_demo=True).order_by(Order.id)).all()

