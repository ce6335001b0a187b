"""Payments of orders (card through Stripe, or bank transfer with a VietQR code), the payment terms and
bank account of each cooperative, and the Stripe events already processed."""
import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import LABELS, Organisation, User, enum_column
from marketplace.extensions import db
from marketplace.orders.models import Order, PaymentMode
from marketplace.sqltypes import UTCDateTime, utcnow


class PaymentMethod(enum.StrEnum):
    CARD = "card"  # a card payment through Stripe (PaymentIntent in VND)
    BANK_TRANSFER = "bank_transfer"  # chuyển khoản: the buyer pays with the VietQR code; the cooperative confirms


class PaymentPurpose(enum.StrEnum):
    DEPOSIT = "deposit"  # the deposit percentage before shipping
    FULL = "full"  # the whole amount before shipping
    BALANCE = "balance"  # what remains after the deposit, on delivery


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # started: waiting for the card confirmation or for the transfer to arrive
    SUCCEEDED = "succeeded"  # the money arrived (Stripe said so, or the cooperative confirmed the transfer)
    FAILED = "failed"  # the card was declined, or the payment was abandoned for another one
    CANCELLED = "cancelled"  # the order was cancelled before the money arrived
    REFUNDING = "refunding"  # paid, order cancelled: the card refund is asked of Stripe
    REFUNDED = "refunded"  # paid back (Stripe confirmed the card refund)
    REFUND_DUE = "refund_due"  # paid by bank transfer, order cancelled: the cooperative pays it back by hand


LABELS.update({
    PaymentMethod.CARD: _l("Card"),
    PaymentMethod.BANK_TRANSFER: _l("Bank transfer"),
})
LABELS.update({
    PaymentPurpose.DEPOSIT: _l("Deposit"),
    PaymentPurpose.FULL: _l("Full payment"),
    PaymentPurpose.BALANCE: _l("Balance"),
})
LABELS.update({
    PaymentStatus.PENDING: _l("Pending"),
    PaymentStatus.SUCCEEDED: _l("Received"),
    PaymentStatus.FAILED: _l("Failed"),
    PaymentStatus.CANCELLED: _l("Cancelled"),
    PaymentStatus.REFUNDING: _l("Being refunded"),
    PaymentStatus.REFUNDED: _l("Refunded"),
    PaymentStatus.REFUND_DUE: _l("To be refunded by bank transfer"),
})


class PaymentSettings(db.Model):
    """What a cooperative accepts: its payment terms, and the bank account buyers transfer to."""

    __tablename__ = "payment_settings"

    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"),
                                                 primary_key=True)
    mode: Mapped[PaymentMode] = enum_column(PaymentMode, default=PaymentMode.FULL)
    deposit_percent: Mapped[int] = mapped_column(default=30)  # with PaymentMode.DEPOSIT: 1 … 99
    bank_bin: Mapped[str] = mapped_column(sa.String(6), default="")  # NAPAS bank identification number
    account_number: Mapped[str] = mapped_column(sa.String(19), default="")
    account_name: Mapped[str] = mapped_column(sa.String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship()

    @property
    def accepts_bank_transfer(self):
        return bool(self.bank_bin and self.account_number)


class Payment(db.Model):
    """One attempt to pay (part of) an order. Amounts are integer VND."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    method: Mapped[PaymentMethod] = enum_column(PaymentMethod)
    purpose: Mapped[PaymentPurpose] = enum_column(PaymentPurpose)
    status: Mapped[PaymentStatus] = enum_column(PaymentStatus, default=PaymentStatus.PENDING, index=True)
    amount_vnd: Mapped[int] = mapped_column(sa.BigInteger)
    # The transfer message (VietQR) and the Stripe metadata: unique, so a transfer is matched to one payment.
    reference: Mapped[str] = mapped_column(sa.String(25), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    stripe_client_secret: Mapped[str | None] = mapped_column(sa.String(255))
    failure_reason: Mapped[str] = mapped_column(sa.Text, default="")
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))  # bank transfers
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(backref=sa.orm.backref("payments", order_by="Payment.id"))
    started_by: Mapped[User | None] = relationship(foreign_keys=[started_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])


class StripeEvent(db.Model):
    """A Stripe event already processed: its id is the primary key, so a repeated delivery (even a
    concurrent one) cannot be processed twice."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
