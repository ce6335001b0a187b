"""The human side of following up a signed MoU: its milestones and obligations, and the alliance's follow-up
log (contacts, problems raised, help given, nudges). Progress computed from orders lives elsewhere
(tracking); nothing here is typed in place of it."""
import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import LABELS, Organisation, User, enum_column
from marketplace.agreements.models import PartyRole
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class MilestoneRepeat(enum.StrEnum):
    """How often an obligation comes back. Marking one occurrence done adds the next one (while the MoU runs)."""

    WEEKLY = "weekly"  # every 7 days after the due date
    MONTHLY = "monthly"  # the same day of the next month (the month's last day when it has fewer days)
    QUARTERLY = "quarterly"  # three months later
    YEARLY = "yearly"  # twelve months later


class MilestoneStatus(enum.StrEnum):
    """Where a milestone stands on a given day (computed, never stored: see Milestone.status)."""

    OPEN = "open"  # not done, due today or later
    OVERDUE = "overdue"  # not done, and its due date is before today (Vietnam's date)
    DONE = "done"  # the responsible side or the alliance marked it done, with evidence


class FollowUpKind(enum.StrEnum):
    """What an entry of the follow-up log records."""

    CALL = "call"  # a phone call with one or both parties
    VISIT = "visit"  # alliance staff visited a party (a cooperative's farm, an enterprise's warehouse)
    MEETING = "meeting"  # a meeting with both parties, or a conference session about this MoU
    OTHER = "other"  # anything else worth keeping: a letter, a message, help given by someone else
    NUDGE = "nudge"  # written by the nudge itself: an in-app notice and an email sent to one or both parties


LABELS.update({
    MilestoneRepeat.WEEKLY: _l("Every week"),
    MilestoneRepeat.MONTHLY: _l("Every month"),
    MilestoneRepeat.QUARTERLY: _l("Every quarter"),
    MilestoneRepeat.YEARLY: _l("Every year"),
})
LABELS.update({
    MilestoneStatus.OPEN: _l("To do"),
    MilestoneStatus.OVERDUE: _l("Overdue"),
    MilestoneStatus.DONE: _l("Done"),
})
LABELS.update({
    FollowUpKind.CALL: _l("Call"),
    FollowUpKind.VISIT: _l("Visit"),
    FollowUpKind.MEETING: _l("Meeting"),
    FollowUpKind.OTHER: _l("Other"),
    FollowUpKind.NUDGE: _l("Nudge"),
})


class Milestone(db.Model):
    """A milestone or obligation of an MoU ("first sample delivered by 15/07", "2 tấn every month"): which
    side must do it, by when, and once done, who said so, when, and the evidence (a note and/or a file)."""

    __tablename__ = "agreement_milestone"
    # An MoU's milestones, and the overdue count of many MoUs (overdue_milestones) read this index alone.
    __table_args__ = (sa.Index("ix_agreement_milestone_open", "agreement_id", "done_at", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    details: Mapped[str] = mapped_column(sa.Text, default="")
    responsible: Mapped[PartyRole] = enum_column(PartyRole)  # buyer or seller, never the witness
    due_on: Mapped[date]
    repeat: Mapped[MilestoneRepeat | None] = enum_column(MilestoneRepeat, nullable=True)
    # Which organisation added it: it (or the alliance) may change or delete it until it is done.
    created_by_organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    evidence_note: Mapped[str] = mapped_column(sa.Text, default="")
    evidence_file: Mapped[str | None] = mapped_column(sa.String(80))  # <32 hex>.pdf|.webp under UPLOAD_DIR/evidence

    created_by_organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])

    @property
    def is_done(self):
        return self.done_at is not None

    def is_overdue(self, today):
        """Not done and due before `today` (pass catalog.services.today(): Vietnam's date)."""
        return not self.is_done and self.due_on < today

    def status(self, today):
        if self.is_done:
            return MilestoneStatus.DONE
        return MilestoneStatus.OVERDUE if self.is_overdue(today) else MilestoneStatus.OPEN

    def may_be_changed_by(self, organisation_id, is_staff):
        """Edit or delete: the organisation that added it, or alliance staff; never once done.
        milestones.update / delete enforce the same rule."""
        return not self.is_done and (is_staff or organisation_id == self.created_by_organisation_id)

    def may_be_marked_done_by(self, role, is_staff):
        """The responsible side or alliance staff; milestones.mark_done enforces the same rule."""
        return not self.is_done and (is_staff or role == self.responsible)

    @property
    def evidence_is_pdf(self):
        return (self.evidence_file or "").endswith(".pdf")


class FollowUpEntry(db.Model):
    """One entry of an MoU's follow-up log, written by alliance staff (or by a nudge). Both parties read it."""

    __tablename__ = "follow_up_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FollowUpKind] = enum_column(FollowUpKind)
    happened_on: Mapped[date]
    # Whom it concerned: the buyer, the seller, or both (None).
    party: Mapped[PartyRole | None] = enum_column(PartyRole, nullable=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship()

    @property
    def is_nudge(self):
        return self.kind == FollowUpKind.NUDGE


class Nudge(db.Model):
    """A nudge sent to one organisation about one MoU: the rate limit reads these (one per organisation and
    MoU within NUDGE_INTERVAL_MINUTES), and the log entry tells the story."""

    __tablename__ = "follow_up_nudge"
    __table_args__ = (sa.Index("ix_follow_up_nudge_recent", "agreement_id", "organisation_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("follow_up_entry.id", ondelete="CASCADE"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()
