"""Memoranda of understanding between a cooperative (seller) and an enterprise (buyer), optionally
witnessed by the alliance: the agreement, its immutable revisions with their lines, the signatures,
the evidence log, and the alliance's conferences that MoUs are prepared for."""
import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import LABELS, Organisation, User, enum_column
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class AgreementKind(enum.StrEnum):
    MOU = "mou"  # a memorandum of understanding (thỏa thuận ghi nhớ)
    ADDENDUM = "addendum"  # a phụ lục changing a signed MoU; its terms replace the MoU's once signed


class AgreementState(enum.StrEnum):
    DRAFT = "draft"  # being written by the party that started it; only that party sees it
    SENT = "sent"  # sent to the other party, which answers: accept, decline or propose changes
    NEGOTIATING = "negotiating"  # changes were proposed; the party whose turn it is answers them
    AWAITING_SIGNATURES = "awaiting_signatures"  # terms accepted and rendered to PDF; nobody has signed
    PARTIALLY_SIGNED = "partially_signed"  # some of the signers have signed, not all
    SIGNED = "signed"  # every signer signed: in force from the start date to the end date
    DECLINED = "declined"  # the party whose turn it was declined, with a reason
    WITHDRAWN = "withdrawn"  # a party withdrew it before every signature was made
    VOIDED = "voided"  # ended after signing, by agreement of both parties, with a reason
    EXPIRED = "expired"  # the end date passed (before it was signed, or while it was in force)
    COMPLETED = "completed"  # a party or the alliance recorded it as carried out


OPEN_STATES = (AgreementState.DRAFT, AgreementState.SENT, AgreementState.NEGOTIATING)
SIGNING_STATES = (AgreementState.AWAITING_SIGNATURES, AgreementState.PARTIALLY_SIGNED)
FINAL_STATES = (AgreementState.DECLINED, AgreementState.WITHDRAWN, AgreementState.VOIDED,
                AgreementState.EXPIRED, AgreementState.COMPLETED)


class PartyRole(enum.StrEnum):
    BUYER = "buyer"  # the enterprise
    SELLER = "seller"  # the cooperative
    WITNESS = "witness"  # the provincial cooperative alliance


class Period(enum.StrEnum):
    """What an expected quantity is counted over."""

    WEEK = "week"
    MONTH = "month"
    SEASON = "season"
    YEAR = "year"
    TOTAL = "total"  # over the whole term of the agreement


class PriceBasis(enum.StrEnum):
    FIXED = "fixed"  # a unit price agreed in VND
    TIER = "tier"  # the product's volume tier at that quantity, as the catalogue says when agreed
    REFERENCE = "reference"  # a reference price in VND plus or minus a percentage


class AgreementEventKind(enum.StrEnum):
    CREATED = "created"
    REVISED = "revised"  # a new revision: the draft edited, or changes proposed
    SENT = "sent"
    VIEWED = "viewed"  # a party other than the author opened it (once per user and revision)
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    WITNESS_ADDED = "witness_added"
    SIGNED = "signed"
    VOID_REQUESTED = "void_requested"
    VOIDED = "voided"
    EXPIRED = "expired"
    COMPLETED = "completed"
    REMINDED = "reminded"  # the daily reminder was sent for the current step
    DOWNLOADED = "downloaded"
    # The follow-up of a signed MoU (marketplace/alliance: milestones, the follow-up log, nudges).
    MILESTONE_ADDED = "milestone_added"  # a party or the alliance added a milestone or obligation
    MILESTONE_CHANGED = "milestone_changed"  # its title, side, due date or repetition changed
    MILESTONE_DONE = "milestone_done"  # marked done by the responsible side or the alliance, with evidence
    MILESTONE_DELETED = "milestone_deleted"  # removed before it was done (the note keeps its title)
    FOLLOW_UP_RECORDED = "follow_up_recorded"  # alliance staff wrote a call, visit, meeting or other contact
    FOLLOW_UP_DELETED = "follow_up_deleted"  # alliance staff removed such an entry (the note keeps what it said)
    NUDGED = "nudged"  # alliance staff nudged one or both parties (notice and email)


LABELS.update({
    AgreementState.DRAFT: _l("Draft"),
    AgreementState.SENT: _l("Sent"),
    AgreementState.NEGOTIATING: _l("In negotiation"),
    AgreementState.AWAITING_SIGNATURES: _l("Awaiting signatures"),
    AgreementState.PARTIALLY_SIGNED: _l("Partially signed"),
    AgreementState.SIGNED: _l("Signed"),
    AgreementState.DECLINED: _l("Declined"),
    AgreementState.WITHDRAWN: _l("Withdrawn"),
    AgreementState.VOIDED: _l("Voided"),
    AgreementState.EXPIRED: _l("Expired"),
    AgreementState.COMPLETED: _l("Completed"),
})
LABELS.update({
    PartyRole.BUYER: _l("Buyer"),
    PartyRole.SELLER: _l("Seller"),
    PartyRole.WITNESS: _l("Witness"),
})
LABELS.update({
    Period.WEEK: _l("per week"),
    Period.MONTH: _l("per month"),
    Period.SEASON: _l("per season"),
    Period.YEAR: _l("per year"),
    Period.TOTAL: _l("in total"),
})
LABELS.update({
    PriceBasis.FIXED: _l("Fixed price"),
    PriceBasis.TIER: _l("Catalogue tier price"),
    PriceBasis.REFERENCE: _l("Reference price ± %"),
})
LABELS.update({
    AgreementEventKind.CREATED: _l("Created"),
    AgreementEventKind.REVISED: _l("Revised"),
    AgreementEventKind.SENT: _l("Sent"),
    AgreementEventKind.VIEWED: _l("Viewed"),
    AgreementEventKind.ACCEPTED: _l("Terms accepted"),
    AgreementEventKind.DECLINED: _l("Declined"),
    AgreementEventKind.WITHDRAWN: _l("Withdrawn"),
    AgreementEventKind.WITNESS_ADDED: _l("Alliance added as witness"),
    AgreementEventKind.SIGNED: _l("Signed"),
    AgreementEventKind.VOID_REQUESTED: _l("Voiding requested"),
    AgreementEventKind.VOIDED: _l("Voided"),
    AgreementEventKind.EXPIRED: _l("Expired"),
    AgreementEventKind.COMPLETED: _l("Completed"),
    AgreementEventKind.REMINDED: _l("Reminder sent"),
    AgreementEventKind.DOWNLOADED: _l("PDF downloaded"),
    AgreementEventKind.MILESTONE_ADDED: _l("Milestone added"),
    AgreementEventKind.MILESTONE_CHANGED: _l("Milestone changed"),
    AgreementEventKind.MILESTONE_DONE: _l("Milestone done"),
    AgreementEventKind.MILESTONE_DELETED: _l("Milestone deleted"),
    AgreementEventKind.FOLLOW_UP_RECORDED: _l("Follow-up recorded"),
    AgreementEventKind.FOLLOW_UP_DELETED: _l("Follow-up entry removed"),
    AgreementEventKind.NUDGED: _l("Parties nudged"),
})


class ConferenceEvent(db.Model):
    """A "connect and sell" conference of the alliance, which MoUs can be prepared for."""

    __tablename__ = "conference_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    held_on: Mapped[date]
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(default=False)


class Agreement(db.Model):
    __tablename__ = "agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)  # MOU-2026-000123, MOU-2026-000123-PL1
    kind: Mapped[AgreementKind] = enum_column(AgreementKind, default=AgreementKind.MOU)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agreement.id"), index=True)
    state: Mapped[AgreementState] = enum_column(AgreementState, default=AgreementState.DRAFT, index=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    witness_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    initiator_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))  # who drafted it
    # Who answers next (while sent or negotiating).
    turn_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("conference_event.id"), index=True)
    inquiry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("inquiry.id", ondelete="SET NULL"))  # drafted from
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    start_date: Mapped[date]
    end_date: Mapped[date] = mapped_column(index=True)
    # The PDF of the accepted revision: stored once, then only extended by signatures (incremental updates).
    agreed_revision_number: Mapped[int | None]
    document_name: Mapped[str | None] = mapped_column(sa.String(80))  # current file under UPLOAD_DIR/agreements
    original_sha256: Mapped[str | None] = mapped_column(sa.String(64))  # the PDF as rendered, before any signature
    document_sha256: Mapped[str | None] = mapped_column(sa.String(64))  # the PDF as it stands now
    state_reason: Mapped[str] = mapped_column(sa.Text, default="")  # why declined, withdrawn or voided
    void_requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(default=False)

    buyer: Mapped[Organisation] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[Organisation] = relationship(foreign_keys=[seller_id])
    witness: Mapped[Organisation | None] = relationship(foreign_keys=[witness_id])
    initiator: Mapped[Organisation] = relationship(foreign_keys=[initiator_id])
    turn: Mapped[Organisation | None] = relationship(foreign_keys=[turn_id])
    void_requested_by: Mapped[Organisation | None] = relationship(foreign_keys=[void_requested_by_id])
    event: Mapped[ConferenceEvent | None] = relationship()
    parent: Mapped["Agreement | None"] = relationship(remote_side=[id], back_populates="addenda")
    addenda: Mapped[list["Agreement"]] = relationship(back_populates="parent", order_by="Agreement.id")
    revisions: Mapped[list["AgreementRevision"]] = relationship(
        back_populates="agreement", order_by="AgreementRevision.number", cascade="all, delete-orphan")
    signatures: Mapped[list["Signature"]] = relationship(
        back_populates="agreement", order_by="Signature.id", cascade="all, delete-orphan")

    # ---------------------------------------------------------------- questions

    @property
    def latest_revision(self):
        return self.revisions[-1] if self.revisions else None

    @property
    def agreed_revision(self):
        if self.agreed_revision_number is None:
            return None
        return next(r for r in self.revisions if r.number == self.agreed_revision_number)

    def parties(self):
        """(role, organisation) of every party, signers in signing order: seller, buyer, witness."""
        parties = [(PartyRole.SELLER, self.seller), (PartyRole.BUYER, self.buyer)]
        if self.witness is not None:
            parties.append((PartyRole.WITNESS, self.witness))
        return parties

    def role_of(self, organisation_id):
        """The role of this organisation in the agreement, or None for a third party."""
        for role, organisation in self.parties():
            if organisation.id == organisation_id:
                return role
        return None

    def counterparty_of(self, organisation_id):
        """The other trading party (buyer ↔ seller)."""
        return self.buyer if organisation_id == self.seller_id else self.seller

    def is_party(self, organisation_id):
        return self.role_of(organisation_id) is not None

    def has_signed(self, organisation_id):
        return any(s.organisation_id == organisation_id for s in self.signatures)

    def waiting_signers(self):
        """Organisations that still have to sign (in signing order)."""
        if self.state not in SIGNING_STATES:
            return []
        return [organisation for _role, organisation in self.parties() if not self.has_signed(organisation.id)]

    def is_in_force(self, on):
        return self.state == AgreementState.SIGNED and self.start_date <= on <= self.end_date

    def can_answer(self, organisation_id):
        """Whether this organisation may accept, decline or propose changes now (its turn)."""
        return self.state in (AgreementState.SENT, AgreementState.NEGOTIATING) and self.turn_id == organisation_id

    def can_withdraw(self, organisation_id):
        if self.state == AgreementState.DRAFT:
            return organisation_id == self.initiator_id
        return self.state in (*OPEN_STATES, *SIGNING_STATES) and self.role_of(organisation_id) in (
            PartyRole.BUYER, PartyRole.SELLER)

    def can_sign(self, organisation_id):
        return self.state in SIGNING_STATES and self.is_party(organisation_id) and not self.has_signed(organisation_id)

    def can_change_terms(self, organisation_id):
        """The initiator edits its draft; afterwards the party whose turn it is proposes changes."""
        if self.state == AgreementState.DRAFT:
            return organisation_id == self.initiator_id
        return self.can_answer(organisation_id)

    def can_send(self, organisation_id):
        return self.state == AgreementState.DRAFT and organisation_id == self.initiator_id

    def can_add_witness(self, organisation_id):
        return (self.state in OPEN_STATES and self.witness_id is None
                and self.role_of(organisation_id) in (PartyRole.BUYER, PartyRole.SELLER))

    def can_request_void(self, organisation_id):
        return (self.state == AgreementState.SIGNED and self.void_requested_by_id is None
                and self.role_of(organisation_id) in (PartyRole.BUYER, PartyRole.SELLER))

    def can_confirm_void(self, organisation_id):
        return (self.state == AgreementState.SIGNED and self.void_requested_by_id not in (None, organisation_id)
                and self.role_of(organisation_id) in (PartyRole.BUYER, PartyRole.SELLER))

    def awaited(self):
        """The organisations whose action the agreement waits for now (the turn, or the missing signers)."""
        if self.state == AgreementState.DRAFT:
            return [self.initiator]
        if self.state in (AgreementState.SENT, AgreementState.NEGOTIATING):
            return [self.turn] if self.turn is not None else []
        if self.state == AgreementState.SIGNED and self.void_requested_by_id is not None:
            return [self.counterparty_of(self.void_requested_by_id)]
        return self.waiting_signers()

    def can_add_addendum(self, organisation_id):
        """A signed MoU (not an addendum) can be changed by an addendum, one at a time, by its buyer or seller."""
        return (self.kind == AgreementKind.MOU and self.state == AgreementState.SIGNED
                and self.role_of(organisation_id) in (PartyRole.BUYER, PartyRole.SELLER)
                and self.open_addendum() is None)

    def open_addendum(self):
        """The addendum being drafted, negotiated or signed now, if any."""
        return next((a for a in self.addenda if a.state in (*OPEN_STATES, *SIGNING_STATES)), None)

    def addendum_in_force(self):
        """The latest signed addendum, whose terms replace the MoU's, or None."""
        signed = [a for a in self.addenda if a.state in (AgreementState.SIGNED, AgreementState.COMPLETED)]
        return max(signed, key=lambda a: (a.signed_at, a.id)) if signed else None

    def revision_in_force(self):
        """The terms in force: those of the latest signed addendum, else the agreed ones (None before agreed)."""
        addendum = self.addendum_in_force() if self.kind == AgreementKind.MOU else None
        return addendum.agreed_revision if addendum is not None else self.agreed_revision

    def revision(self, number):
        """The revision with this number, or None."""
        return next((r for r in self.revisions if r.number == number), None)

    @property
    def has_document(self):
        return self.document_name is not None


class AgreementRevision(db.Model):
    """One version of the terms, never changed once the agreement has been sent. `terms` holds
    everything but the lines, which are rows (AgreementLine) so follow-up can add them up in SQL;
    `content_sha256` is the hash of both in canonical JSON."""

    __tablename__ = "agreement_revision"
    __table_args__ = (sa.UniqueConstraint("agreement_id", "number", name="uq_agreement_revision_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    author_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    terms: Mapped[dict] = mapped_column(sa.JSON)
    note: Mapped[str] = mapped_column(sa.Text, default="")  # what the author says about this proposal
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agreement: Mapped[Agreement] = relationship(back_populates="revisions")
    author: Mapped[Organisation] = relationship()
    author_user: Mapped[User | None] = relationship()
    lines: Mapped[list["AgreementLine"]] = relationship(
        back_populates="revision", order_by="AgreementLine.position", cascade="all, delete-orphan")


class AgreementLine(db.Model):
    """A product of the agreement with its expected quantity and price, as agreed in one revision
    (a snapshot: the name, unit and unit price stay what was agreed whatever the catalogue says later)."""

    __tablename__ = "agreement_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement_revision.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("product.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(16))  # catalog.models.Unit value
    quantity: Mapped[int]
    period: Mapped[Period] = enum_column(Period)
    price_basis: Mapped[PriceBasis] = enum_column(PriceBasis)
    unit_price_vnd: Mapped[int]  # what a unit costs under this agreement (for "tier" and "reference": as agreed)
    reference_price_vnd: Mapped[int | None]
    adjustment_percent: Mapped[int | None]  # −50 … 50, with the reference price

    revision: Mapped[AgreementRevision] = relationship(back_populates="lines")


class Signature(db.Model):
    """One party's signature on the agreed PDF, with the document's hash before and after it."""

    __tablename__ = "agreement_signature"
    __table_args__ = (sa.UniqueConstraint("agreement_id", "organisation_id", name="uq_agreement_signature_party"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), index=True)
    revision_number: Mapped[int]
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    role: Mapped[PartyRole] = enum_column(PartyRole)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    certificate_serial: Mapped[str] = mapped_column(sa.String(64))
    sha256_before: Mapped[str] = mapped_column(sa.String(64))
    sha256_after: Mapped[str] = mapped_column(sa.String(64))
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agreement: Mapped[Agreement] = relationship(back_populates="signatures")
    organisation: Mapped[Organisation] = relationship()
    user: Mapped[User] = relationship()


class AgreementEvent(db.Model):
    """The evidence log of an agreement: append-only, one row per thing that happened to it."""

    __tablename__ = "agreement_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(sa.ForeignKey("agreement.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AgreementEventKind] = enum_column(AgreementEventKind)
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    revision_number: Mapped[int | None]
    document_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
    user: Mapped[User | None] = relationship()
