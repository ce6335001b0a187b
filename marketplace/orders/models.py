"""Bulk orders of a verified enterprise to one cooperative: the buyer's cart, the order with its lines
(a snapshot of what was sold), the capacity each order holds, and the order's event log."""
import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace import geo
from marketplace.accounts.models import LABELS, Organisation, User, enum_column
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class OrderStatus(enum.StrEnum):
    """Where an order stands. Happy path: placed → confirmed → awaiting_payment → paid → shipped →
    delivered → completed."""

    PLACED = "placed"  # sent by the buyer; capacity reserved; the cooperative confirms or rejects it
    CONFIRMED = "confirmed"  # accepted by the cooperative; the payment due before shipping is not started yet
    AWAITING_PAYMENT = "awaiting_payment"  # a payment was started (card or bank transfer) and has not arrived
    PAID = "paid"  # what is due before shipping arrived: the deposit or the full amount (paid_vnd says)
    SHIPPED = "shipped"  # the cooperative shipped it, with a delivery note and the quantities shipped
    DELIVERED = "delivered"  # the buyer confirmed receipt with the quantities received; a balance may be due
    COMPLETED = "completed"  # delivered and paid in full
    REJECTED = "rejected"  # the cooperative refused it, with a reason; capacity released
    CANCELLED = "cancelled"  # cancelled by either side before shipping, with a reason; capacity released


# Before shipping, either side may cancel; afterwards the goods are on their way.
CANCELLABLE = (OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID)
# Orders still going on (the buyer's and the cooperative's "open" filter).
OPEN_STATUSES = (*CANCELLABLE, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
# Orders whose quantities count against the capacity of their period.
HOLDING_CAPACITY = (*OPEN_STATUSES, OrderStatus.COMPLETED)


class PaymentMode(enum.StrEnum):
    """The payment terms a cooperative accepts (snapshotted on each order)."""

    FULL = "full"  # the whole amount before shipping
    DEPOSIT = "deposit"  # a percentage before shipping, the balance on delivery


class OrderEventKind(enum.StrEnum):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"  # note: the reason
    CANCELLED = "cancelled"  # note: the reason
    PAYMENT_STARTED = "payment_started"  # note: method and amount
    PAYMENT_FAILED = "payment_failed"  # a card payment was declined or abandoned (note: why)
    PAID = "paid"  # a payment arrived (note: method and amount)
    REFUND_STARTED = "refund_started"  # a cancelled order's card payment is being refunded through Stripe
    REFUNDED = "refunded"  # Stripe refunded it (note: amount)
    REFUND_DUE = "refund_due"  # a bank transfer to pay back by hand (note: amount)
    SHIPPED = "shipped"  # note: the delivery note
    DELIVERED = "delivered"  # note: quantities received, where they differ from those shipped
    COMPLETED = "completed"
    PAYMENT_MISMATCH = "payment_mismatch"  # Stripe reported an amount or currency that is not the payment's


LABELS.update({
    OrderStatus.PLACED: _l("Placed"),
    OrderStatus.CONFIRMED: _l("Confirmed"),
    OrderStatus.AWAITING_PAYMENT: _l("Awaiting payment"),
    OrderStatus.PAID: _l("Paid"),
    OrderStatus.SHIPPED: _l("Shipped"),
    OrderStatus.DELIVERED: _l("Delivered"),
    OrderStatus.COMPLETED: _l("Completed"),
    OrderStatus.REJECTED: _l("Rejected"),
    OrderStatus.CANCELLED: _l("Cancelled"),
})
LABELS.update({
    PaymentMode.FULL: _l("Payment in full before shipping"),
    PaymentMode.DEPOSIT: _l("Deposit before shipping, balance on delivery"),
})
LABELS.update({
    OrderEventKind.PLACED: _l("Order placed"),
    OrderEventKind.CONFIRMED: _l("Confirmed by the cooperative"),
    OrderEventKind.REJECTED: _l("Rejected by the cooperative"),
    OrderEventKind.CANCELLED: _l("Cancelled"),
    OrderEventKind.PAYMENT_STARTED: _l("Payment started"),
    OrderEventKind.PAYMENT_FAILED: _l("Payment failed"),
    OrderEventKind.PAID: _l("Payment received"),
    OrderEventKind.REFUND_STARTED: _l("Refund started"),
    OrderEventKind.REFUNDED: _l("Refunded"),
    OrderEventKind.REFUND_DUE: _l("Refund due by bank transfer"),
    OrderEventKind.SHIPPED: _l("Shipped"),
    OrderEventKind.DELIVERED: _l("Delivery confirmed"),
    OrderEventKind.COMPLETED: _l("Completed"),
    OrderEventKind.PAYMENT_MISMATCH: _l("Payment report did not match"),
})


class CartItem(db.Model):
    """A product a buyer's user means to order, with the quantity in the product's unit."""

    __tablename__ = "cart_item"
    __table_args__ = (sa.UniqueConstraint("user_id", "product_id", name="uq_cart_item_user_product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product")


class Order(db.Model):
    """One enterprise's order to one cooperative. Amounts are integer VND."""

    __tablename__ = "customer_order"
    # When orders were placed, with what the alliance's orders by month adds up (status, value, paid): PostgreSQL
    # reads that figure from the index alone instead of every order's row (issue 14, docs/benchmarks.md).
    __table_args__ = (sa.Index("ix_customer_order_placed_at", "placed_at",
                               postgresql_include=["status", "total_vnd", "paid_vnd"]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(24), unique=True)  # DH-2026-000123
    status: Mapped[OrderStatus] = enum_column(OrderStatus, default=OrderStatus.PLACED, index=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    cooperative_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    agreement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agreement.id"), index=True)
    placed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    checkout_id: Mapped[str] = mapped_column(sa.String(32), index=True)  # the orders of one checkout share it
    province_code: Mapped[int]
    commune_code: Mapped[int]
    street: Mapped[str] = mapped_column(sa.String(200))
    requested_date: Mapped[date]
    po_number: Mapped[str] = mapped_column(sa.String(40), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    total_vnd: Mapped[int] = mapped_column(sa.BigInteger)
    paid_vnd: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_vnd: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    payment_mode: Mapped[PaymentMode] = enum_column(PaymentMode, default=PaymentMode.FULL)
    deposit_percent: Mapped[int] = mapped_column(default=0)  # with PaymentMode.DEPOSIT: 1 … 99
    delivery_note: Mapped[str] = mapped_column(sa.Text, default="")
    status_reason: Mapped[str] = mapped_column(sa.Text, default="")  # why rejected or cancelled
    cancelled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # indexed: __table_args__
    is_demo: Mapped[bool] = mapped_column(default=False)

    buyer: Mapped[Organisation] = relationship(foreign_keys=[buyer_id])
    cooperative: Mapped[Organisation] = relationship(foreign_keys=[cooperative_id])
    cancelled_by: Mapped[Organisation | None] = relationship(foreign_keys=[cancelled_by_id])
    placed_by: Mapped[User | None] = relationship()
    agreement = relationship("Agreement")
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan")
    events: Mapped[list["OrderEvent"]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan")

    # ---------------------------------------------------------------- questions

    def party_role(self, organisation_id):
        """"buyer", "cooperative" or None."""
        if organisation_id == self.buyer_id:
            return "buyer"
        if organisation_id == self.cooperative_id:
            return "cooperative"
        return None

    def counterparty_of(self, organisation_id):
        return self.cooperative if organisation_id == self.buyer_id else self.buyer

    @property
    def deposit_vnd(self):
        """What is due before shipping: the deposit (rounded half up to whole đồng) or the full amount."""
        if self.payment_mode == PaymentMode.DEPOSIT:
            return (self.total_vnd * self.deposit_percent + 50) // 100
        return self.total_vnd

    @property
    def due_before_shipping_vnd(self):
        return max(self.deposit_vnd - self.paid_vnd, 0)

    @property
    def balance_vnd(self):
        """What remains to pay in all."""
        return max(self.total_vnd - self.paid_vnd, 0)

    def amount_due_vnd(self):
        """The payment the buyer may start now (deposit, full or balance), 0 when none is due."""
        if self.status in (OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT):
            return self.due_before_shipping_vnd
        if self.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            return self.balance_vnd
        return 0

    def can_confirm(self):
        return self.status == OrderStatus.PLACED

    def can_reject(self):
        return self.status == OrderStatus.PLACED

    def can_cancel(self):
        return self.status in CANCELLABLE

    def can_ship(self):
        return self.status == OrderStatus.PAID

    def can_deliver(self):
        return self.status == OrderStatus.SHIPPED

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def province_name(self):
        return geo.province_name(self.province_code)

    @property
    def commune_name(self):
        return geo.commune_name(self.commune_code)

    @property
    def address(self):
        return ", ".join(part for part in (self.street, self.commune_name, self.province_name) if part)


class OrderLine(db.Model):
    """What was sold, as it was when ordered: name, unit and unit price never follow the catalogue."""

    __tablename__ = "order_line"
    __table_args__ = (sa.UniqueConstraint("order_id", "product_id", name="uq_order_line_product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("product.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(16))  # catalog.models.Unit value
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    unit_price_vnd: Mapped[int] = mapped_column(sa.BigInteger)
    line_total_vnd: Mapped[int] = mapped_column(sa.BigInteger)
    price_source: Mapped[str] = mapped_column(sa.String(16))  # "tier" (the catalogue) or "agreement" (the MoU)
    # The capacity row this line holds (CapacityUsage.period_key), or None when the product declared no capacity.
    capacity_key: Mapped[str | None] = mapped_column(sa.String(16))
    quantity_shipped: Mapped[int | None] = mapped_column(sa.BigInteger)
    quantity_received: Mapped[int | None] = mapped_column(sa.BigInteger)

    order: Mapped[Order] = relationship(back_populates="lines")


class CapacityUsage(db.Model):
    """How much of a product's capacity open orders hold, per period ("stock", "2026-W48", "2026-11",
    "2026-S07" for the season starting in July 2026, "2026"). Changed only by a conditional UPDATE
    (never read-modify-write), which is what keeps concurrent checkouts from overselling."""

    __tablename__ = "capacity_usage"
    __table_args__ = (sa.UniqueConstraint("product_id", "period_key", name="uq_capacity_usage_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"))
    period_key: Mapped[str] = mapped_column(sa.String(16))
    reserved_qty: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class OrderEvent(db.Model):
    """The order's timeline: append-only, one row per thing that happened to it."""

    __tablename__ = "order_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    kind: Mapped[OrderEventKind] = enum_column(OrderEventKind)
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    status: Mapped[OrderStatus] = enum_column(OrderStatus)  # the order's status after the event
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")
    organisation: Mapped[Organisation | None] = relationship()
    user: Mapped[User | None] = relationship()


class IdempotentRequest(db.Model):
    """The first answer to an API request sent with an `Idempotency-Key`, replayed to retries of it."""

    __tablename__ = "idempotent_request"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotent_request_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    # Method, path and body: the same key sent with another request is refused.
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    body: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AgreementOrderSummary(db.Model):
    """Per MoU, what its counted orders add up to, kept by `orders.agreement_totals` in the transaction of every
    change to an order under it (the alliance's follow-up reads it instead of aggregating every order). Its row
    is also the lock that serialises two transactions refreshing the same MoU's totals."""

    __tablename__ = "agreement_order_summary"

    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), primary_key=True)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # latest counted order under the MoU
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgreementProductTotals(db.Model):
    """What was ordered, delivered and paid of one product under one MoU (counted orders only: not rejected or
    cancelled), as `orders.queries.totals_under_agreements` computes it; kept by `orders.agreement_totals`."""

    __tablename__ = "agreement_product_totals"

    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    ordered_qty: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    delivered_qty: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    ordered_vnd: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    paid_vnd: Mapped[int] = mapped_column(sa.BigInteger, default=0)
