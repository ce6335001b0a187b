"""In-app notices to an organisation, and how far each person has read them."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Organisation, User
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class Notice(db.Model):
    """A message shown to every person of one organisation (for example a nudge of the alliance about an MoU).
    The text is written in the sender's words; `link` is a path inside the site."""

    __tablename__ = "notice"
    __table_args__ = (sa.Index("ix_notice_organisation_newest", "organisation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str] = mapped_column(sa.String(300), default="")  # a path on this site, e.g. /agreements/12
    sender_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(foreign_keys=[organisation_id])
    sender: Mapped[Organisation | None] = relationship(foreign_keys=[sender_id])


class NoticeCursor(db.Model):
    """The newest notice a person has seen: notices of their organisation with a larger id are unread.
    One row per person, moved forward when they open /notices."""

    __tablename__ = "notice_cursor"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    last_seen_id: Mapped[int] = mapped_column(default=0)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
