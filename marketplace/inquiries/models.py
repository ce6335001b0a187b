"""An inquiry thread about one product, between a buyer (enterprise) and the cooperative that sells it."""
import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import LABELS, Organisation, User, enum_column
from marketplace.agreements.models import Period
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class InquiryEventKind(enum.StrEnum):
    OPENED = "opened"  # the buyer asked its first question
    REPLIED = "replied"  # a message from either side after the first


LABELS.update({
    InquiryEventKind.OPENED: _l("Question asked"),
    InquiryEventKind.REPLIED: _l("Reply sent"),
})


class Inquiry(db.Model):
    """A thread. The figures discussed (quantity per period, a unit price, the place of delivery) are the latest
    ones either side gave; they prefill the MoU draft made from the thread."""

    __tablename__ = "inquiry"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("product.id", ondelete="SET NULL"), index=True)
    product_name: Mapped[str] = mapped_column(sa.String(200))  # kept if the product is deleted
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    quantity: Mapped[int | None]
    period: Mapped[Period | None] = enum_column(Period, nullable=True)
    unit_price_vnd: Mapped[int | None] = mapped_column(sa.BigInteger)
    wants_samples: Mapped[bool] = mapped_column(default=False)
    delivery_place: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))  # who wrote last
    is_demo: Mapped[bool] = mapped_column(default=False)

    buyer: Mapped[Organisation] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[Organisation] = relationship(foreign_keys=[seller_id])
    messages: Mapped[list["InquiryMessage"]] = relationship(
        back_populates="inquiry", order_by="InquiryMessage.id", cascade="all, delete-orphan")

    def is_party(self, organisation_id):
        return organisation_id in (self.buyer_id, self.seller_id)

    def other_side(self, organisation_id):
        return self.seller if organisation_id == self.buyer_id else self.buyer

    def awaits(self, organisation_id):
        """Whether the last message came from the other side (this side has not answered yet)."""
        return self.last_author_id is not None and self.last_author_id != organisation_id


class InquiryMessage(db.Model):
    __tablename__ = "inquiry_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(sa.ForeignKey("inquiry.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    quantity: Mapped[int | None]  # figures this message proposed, if any
    unit_price_vnd: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    inquiry: Mapped[Inquiry] = relationship(back_populates="messages")
    organisation: Mapped[Organisation] = relationship()
    author: Mapped[User | None] = relationship()


class InquiryEvent(db.Model):
    """The history of a thread (audit trail): who opened it, who replied, when."""

    __tablename__ = "inquiry_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(sa.ForeignKey("inquiry.id", ondelete="CASCADE"), index=True)
    kind: Mapped[InquiryEventKind] = enum_column(InquiryEventKind)
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
