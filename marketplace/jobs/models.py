"""The outbox: side effects (emails today; Stripe calls and reminders later) stored as rows in the
transaction of the change they follow, so a change and its consequences commit together or not at all."""
import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.accounts.models import enum_column
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # committed, waiting to be delivered (or retried once next_attempt_at has passed)
    RUNNING = "running"  # claimed by one process until locked_until; a crash lets the lease run out
    DONE = "done"  # delivered; private parts of the payload (an email's body and its links) erased
    FAILED = "failed"  # gave up after JOBS_MAX_ATTEMPTS; `flask jobs failed` lists it, `flask jobs retry` retries


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # a key of outbox.HANDLERS, e.g. "email"
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[OutboxStatus] = enum_column(OutboxStatus, default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def summary(self):
        """One line for operators: what this message is about, without its private parts."""
        if self.kind == "email":
            return f"email to {self.payload.get('to')}: {self.payload.get('subject')}"
        return f"{self.kind} {self.payload}"
