"""What the alliance's follow-up stores about signed MoUs (alliance/tracking.py computes the figures from the
orders each time; only the status last seen, its changes and the daily runs are kept)."""
import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.accounts.models import LABELS, enum_column
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class TrackingStatus(enum.StrEnum):
    """How a signed MoU is being carried out, judged from the orders under it (tracking.status_of)."""

    ON_TRACK = "on_track"  # ordered volume keeps up with the elapsed share of the term (or the term has not begun)
    BEHIND = "behind"  # ordered share of the committed value trails the elapsed share by more than the margin
    STALLED = "stalled"  # no order under it for FOLLOW_UP_STALLED_DAYS days (counted from the start of the term)
    COMPLETED = "completed"  # every committed quantity was delivered, or a party recorded it as carried out
    EXPIRED = "expired"  # the term ended without the committed quantities delivered


class TrackingEventKind(enum.StrEnum):
    STATUS_CHANGED = "status_changed"  # the daily follow-up found a new status (previous_status → status)


LABELS.update({
    TrackingStatus.ON_TRACK: _l("On track"),
    TrackingStatus.BEHIND: _l("Behind"),
    TrackingStatus.STALLED: _l("Stalled"),
    TrackingStatus.COMPLETED: _l("Completed"),
    TrackingStatus.EXPIRED: _l("Expired"),
})
LABELS.update({
    TrackingEventKind.STATUS_CHANGED: _l("Tracking status changed"),
})


class AgreementTracking(db.Model):
    """The tracking status of a signed MoU as the last daily follow-up saw it (to notice changes)."""

    __tablename__ = "agreement_tracking"

    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[TrackingStatus] = enum_column(TrackingStatus, index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackingEvent(db.Model):
    """The follow-up's history of an MoU: append-only, one row per status change."""

    __tablename__ = "tracking_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TrackingEventKind] = enum_column(TrackingEventKind)
    previous_status: Mapped[TrackingStatus | None] = enum_column(TrackingStatus, nullable=True)
    status: Mapped[TrackingStatus] = enum_column(TrackingStatus)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowUpRun(db.Model):
    """One day's run of `flask alliance follow-up` (Vietnam's date): its primary key is what makes a second run
    on the same day send nothing."""

    __tablename__ = "follow_up_run"

    day: Mapped[date] = mapped_column(primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest_count: Mapped[int] = mapped_column(default=0)  # MoUs in the alliance's digest
    reminder_count: Mapped[int] = mapped_column(default=0)  # emails to parties
