"""Use cases of memoranda of understanding. Every state change is one function here, in one unit of
work, recording an AgreementEvent (the evidence log) and emailing the other parties (outbox).

Who may do what:
- the parties (buyer, seller, witness) and alliance staff see an agreement; anyone else gets NotFound;
- a verified cooperative or enterprise drafts, answers and signs (Permission.SIGN_AGREEMENTS);
- only the party whose turn it is answers (accept, decline, propose changes);
- only an owner, or a member given the signing right, signs, after entering their password again.
Forbidden transitions raise InvalidTransition (a Conflict with code `invalid_transition`).
"""
import hashlib
import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from marketplace import notifications, textinput
from marketplace.accounts import services as accounts
from marketplace.accounts import throttle
from marketplace.accounts.authz import Permission, is_alliance_staff, require
from marketplace.accounts.models import Organisation, OrganisationKind, OrganisationStatus, label
from marketplace.agreements.models import (
    FINAL_STATES,
    OPEN_STATES,
    SIGNING_STATES,
    Agreement,
    AgreementEvent,
    AgreementEventKind,
    AgreementKind,
    AgreementLine,
    AgreementRevision,
    AgreementState,
    ConferenceEvent,
    PartyRole,
    Period,
    PriceBasis,
    Signature,
)
from marketplace.agreements.terms import clean_terms, plain
from marketplace.catalog.services import today
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.routing import MAX_ID
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

MAX_REASON = 2000
MAX_VERSIONS = 40  # `%%EOF` markers worth hashing: more updates than a document of ours ever has


class InvalidTransition(Conflict):
    code = "invalid_transition"


@dataclass
class Audit:
    """Where an action came from, for the evidence log."""

    ip_address: str = ""
    user_agent: str = ""


# ---------------------------------------------------------------- reading

def get_agreement(actor, agreement_id):
    """An agreement the actor may see: a party's member or alliance staff. Raises NotFound otherwise."""
    agreement = db.session.get(Agreement, agreement_id)
    if agreement is None or not _may_see(actor, agreement):
        raise NotFound()
    return agreement


def serialise_writers(agreement_id):
    """Make the caller's transaction the only one writing around this agreement until it commits: a no-op UPDATE
    of its row as the transaction's first write. PostgreSQL holds the row lock to the commit (a second writer
    waits, then reads what the first committed); SQLite takes its database write lock. For rules of the form
    "check what exists, then add" kept by other modules (a nudge at most once an hour)."""
    db.session.execute(sa.update(Agreement).where(Agreement.id == agreement_id).values(id=Agreement.id)
                       .execution_options(synchronize_session=False))


def _may_see(actor, agreement):
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if is_alliance_staff(actor):
        return True
    if agreement.state == AgreementState.DRAFT:
        return actor.organisation_id == agreement.initiator_id
    return agreement.is_party(actor.organisation_id)


def list_agreements(actor, state=None, event_id=None, organisation_id=None, page=1, per_page=20):
    """The agreements the actor sees, newest first (a Flask-SQLAlchemy pagination)."""
    statement = sa.select(Agreement)
    if not is_alliance_staff(actor):
        own = actor.organisation_id
        statement = statement.where(
            sa.or_(Agreement.buyer_id == own, Agreement.seller_id == own, Agreement.witness_id == own),
            sa.or_(Agreement.state != AgreementState.DRAFT, Agreement.initiator_id == own))
    if state:
        statement = statement.where(Agreement.state == AgreementState(state))
    if event_id:
        statement = statement.where(Agreement.event_id == event_id)
    if organisation_id:
        statement = statement.where(sa.or_(Agreement.buyer_id == organisation_id,
                                           Agreement.seller_id == organisation_id,
                                           Agreement.witness_id == organisation_id))
    # The parties in the same statement: the list names them (no query per MoU; the turn, the initiator and who
    # asked for a void are among them).
    statement = statement.order_by(Agreement.created_at.desc(), Agreement.id.desc()).options(
        sa.orm.joinedload(Agreement.seller), sa.orm.joinedload(Agreement.buyer), sa.orm.joinedload(Agreement.witness))
    return db.paginate(statement, page=page, per_page=per_page, error_out=False)


@dataclass
class HomeAgreements:
    """What an organisation's home lists of its MoUs: those waiting for its step, and those in force."""

    to_act: list  # [Agreement] its turn to answer, its signature awaited, a void to confirm, its drafts to send
    to_act_total: int
    in_force: list  # [Agreement] signed, end date not passed
    in_force_total: int


def for_home(actor, on=None, limit=5):
    """The actor's organisation's MoUs (and addenda) waiting for its step and those in force, at most `limit`
    of each, oldest wait / nearest end first (four queries: two counts, two lists with parties and signatures
    loaded). Only its own: a party's or, for a draft, its initiator's."""
    own = actor.organisation_id
    on = on or today()
    party = sa.or_(Agreement.buyer_id == own, Agreement.seller_id == own, Agreement.witness_id == own)
    signed_by_own = sa.select(Signature.id).where(Signature.agreement_id == Agreement.id,
                                                  Signature.organisation_id == own).exists()
    to_act = sa.or_(
        sa.and_(Agreement.state == AgreementState.DRAFT, Agreement.initiator_id == own),
        sa.and_(Agreement.state.in_([AgreementState.SENT, AgreementState.NEGOTIATING]), Agreement.turn_id == own),
        sa.and_(Agreement.state.in_(SIGNING_STATES), party, ~signed_by_own),
        sa.and_(Agreement.state == AgreementState.SIGNED, party, Agreement.void_requested_by_id.is_not(None),
                Agreement.void_requested_by_id != own),
    )
    in_force = sa.and_(party, Agreement.state == AgreementState.SIGNED, Agreement.end_date >= on)
    loads = (selectinload(Agreement.buyer), selectinload(Agreement.seller),
             selectinload(Agreement.witness), selectinload(Agreement.signatures))

    def count(condition):
        return db.session.scalar(sa.select(sa.func.count()).select_from(Agreement).where(condition)) or 0

    def rows(condition, order, total):
        if not total:
            return []
        return db.session.scalars(sa.select(Agreement).where(condition).options(*loads)
                                  .order_by(*order, Agreement.id).limit(limit)).all()

    acting, current = count(to_act), count(in_force)
    return HomeAgreements(rows(to_act, (Agreement.state_changed_at,), acting), acting,
                          rows(in_force, (Agreement.end_date,), current), current)


def public_record(reference):
    """What anyone may learn from a reference printed on a PDF: the agreement once its terms are agreed
    (reference, parties, state, hashes), or None."""
    agreement = db.session.scalar(sa.select(Agreement).filter_by(reference=reference))
    if agreement is None or agreement.original_sha256 is None:
        return None
    return agreement


def events_of(actor, agreement):
    get_agreement(actor, agreement.id)
    return db.session.scalars(sa.select(AgreementEvent).filter_by(agreement_id=agreement.id)
                              .order_by(AgreementEvent.id)).all()


def record_follow_up(agreement, kind, actor, note=""):
    """Write one follow-up event (milestones, the follow-up log, nudges: marketplace/alliance) into the
    agreement's evidence log, inside the caller's unit of work. The alliance's services call this instead of
    writing the table themselves."""
    _record(agreement, kind, actor, note=note)


def alliance_organisation():
    """The provincial cooperative alliance (None before it exists)."""
    return _alliance()


# ---------------------------------------------------------------- helpers

def _record(agreement, kind, actor=None, audit=None, note="", organisation=None):
    audit = audit or Audit()
    db.session.add(AgreementEvent(
        agreement_id=agreement.id, kind=kind, user=actor,
        organisation=organisation or (actor.organisation if actor is not None else None),
        revision_number=agreement.latest_revision.number if agreement.revisions else None,
        document_sha256=agreement.document_sha256 or "", note=note,
        ip_address=(audit.ip_address or "")[:45], user_agent=(audit.user_agent or "")[:255]))


def _set_state(agreement, state, reason=None):
    agreement.state = state
    agreement.state_changed_at = utcnow()
    if reason is not None:
        agreement.state_reason = reason


def _set_turn(agreement, organisation):
    """Whose turn it is: the relationship and its id together, so questions asked before the next flush
    (another service in the same unit of work) see it."""
    agreement.turn = organisation
    agreement.turn_id = organisation.id if organisation is not None else None


def _reason(reason):
    reason = textinput.clean(reason)
    if not textinput.has_letter_or_digit(reason):
        raise ValidationFailed.for_fields({"reason": _l("Give a reason: the other party will read it.")})
    if len(reason) > MAX_REASON:
        raise ValidationFailed.for_fields({"reason": _l("Use at most %(max)s characters.", max=MAX_REASON)})
    return reason


def _as_party(actor, agreement_id, permission=Permission.SIGN_AGREEMENTS):
    """The agreement, for a member of a verified trading party. Raises NotFound / Forbidden."""
    agreement = get_agreement(actor, agreement_id)
    if not agreement.is_party(actor.organisation_id):
        raise NotFound()
    require(actor, permission)
    return agreement


def _parties_are_valid(buyer, seller):
    for organisation, kind in ((buyer, OrganisationKind.ENTERPRISE), (seller, OrganisationKind.COOPERATIVE)):
        if organisation.kind != kind or organisation.status != OrganisationStatus.VERIFIED:
            raise ValidationFailed.for_fields({"counterparty_id": _l(
                "MoUs are made between a verified cooperative and a verified enterprise.")})


def _is_id(value):
    """A value that can be a row id (1 to MAX_ID): a larger number would overflow PostgreSQL's integer."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _alliance():
    return db.session.scalar(sa.select(Organisation).filter_by(kind=OrganisationKind.ALLIANCE))


def _new_revision(agreement, actor, clean, note, author=None):
    number = (agreement.latest_revision.number + 1) if agreement.revisions else 1
    revision = AgreementRevision(number=number, author=author or actor.organisation, author_user=actor,
                                 terms=clean.terms, note=textinput.clean(note)[:MAX_REASON],
                                 content_sha256=clean.sha256())
    # Enums, not their codes: the lines are read (PDF, comparisons) before any reload from the database when
    # one unit of work drafts and accepts (the demo data does).
    revision.lines = [AgreementLine(**{**line, "period": Period(line["period"]),
                                       "price_basis": PriceBasis(line["price_basis"])}) for line in clean.lines]
    agreement.revisions.append(revision)
    agreement.start_date = _iso(clean.terms["start_date"])
    agreement.end_date = _iso(clean.terms["end_date"])
    return revision


def _iso(value):
    return datetime.strptime(value, "%Y-%m-%d").date()


def _reference(agreement):
    year = datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).year
    if agreement.kind == AgreementKind.ADDENDUM:
        return f"{agreement.parent.reference}-PL{len(agreement.parent.addenda)}"
    return f"MOU-{year}-{agreement.id:06d}"


# ---------------------------------------------------------------- drafting and negotiating

@unit_of_work()
def draft(actor, counterparty_id, details, *, witness=False, event_id=None, note="", audit=None, inquiry_id=None):
    """Start an MoU with a verified organisation of the other kind, from the actor's verified one;
    `inquiry_id` links it to the inquiry thread it was drafted from (between the same two organisations).

    Raises ValidationFailed (bad terms, unknown or unsuitable counterparty), Forbidden (the actor's
    organisation may not trade), NotFound (an inquiry that is not the actor's).
    """
    require(actor, Permission.SIGN_AGREEMENTS)
    own = actor.organisation
    counterparty = db.session.get(Organisation, counterparty_id) if _is_id(counterparty_id) else None
    if counterparty is None:
        raise ValidationFailed.for_fields({"counterparty_id": _l("Choose the other party.")})
    buyer, seller = (own, counterparty) if own.kind == OrganisationKind.ENTERPRISE else (counterparty, own)
    _parties_are_valid(buyer, seller)
    event = db.session.get(ConferenceEvent, event_id) if _is_id(event_id) else None
    if event_id and event is None:
        raise ValidationFailed.for_fields({"event_id": _l("Choose one of the alliance's events.")})
    if inquiry_id is not None:
        from marketplace.inquiries import services as inquiries

        inquiry = inquiries.get_inquiry(actor, inquiry_id)
        if inquiry.other_side(own.id).id != counterparty.id:
            raise ValidationFailed.for_fields({"counterparty_id": _l(
                "An MoU drafted from an inquiry is made with the other side of that inquiry.")})
    clean = clean_terms(details, seller, today())
    return _create(actor, own, buyer, seller, clean, witness=_alliance() if witness else None, event=event,
                   note=note, audit=audit, inquiry_id=inquiry_id)


@unit_of_work()
def draft_addendum(actor, agreement_id, details, note="", audit=None):
    """Start an addendum (phụ lục) changing a signed MoU: a draft of the actor's organisation between the same
    parties (and witness), drafted, negotiated and signed like an MoU; once signed, its terms are the MoU's terms
    in force. Raises NotFound (not a party), InvalidTransition (the MoU is not signed, is itself an addendum, or
    another addendum is under way), ValidationFailed (bad terms)."""
    parent = _as_party(actor, agreement_id)
    if not parent.can_add_addendum(actor.organisation_id):
        raise InvalidTransition(_l("An addendum changes a signed MoU, one addendum at a time, by its buyer or seller."))
    clean = clean_terms(details, parent.seller, today())
    return _create(actor, actor.organisation, parent.buyer, parent.seller, clean, witness=parent.witness,
                   event=parent.event, note=note, audit=audit, parent=parent, record_note=parent.reference)


def _create(actor, initiator, buyer, seller, clean, *, witness, event, note="", audit=None, inquiry_id=None,
            record_note="", parent=None):
    """A new draft of `initiator` with its first revision (authored by the initiator, written by `actor`)."""
    agreement = Agreement(buyer=buyer, seller=seller, initiator=initiator, created_by_id=actor.id, event=event,
                          inquiry_id=inquiry_id, witness=witness, reference=f"NEW-{uuid.uuid4().hex}",
                          kind=AgreementKind.ADDENDUM if parent is not None else AgreementKind.MOU, parent=parent,
                          start_date=_iso(clean.terms["start_date"]), end_date=_iso(clean.terms["end_date"]))
    db.session.add(agreement)
    _new_revision(agreement, actor, clean, note, author=initiator)
    db.session.flush()
    agreement.reference = _reference(agreement)
    _record(agreement, AgreementEventKind.CREATED, actor, audit, note=record_note)
    return agreement


# ---------------------------------------------------------------- the alliance's conferences

MAX_CONFERENCE_TEXT = 200
MAX_BATCH = 50  # MoUs prepared at once


@dataclass
class BatchRow:
    """One MoU to prepare: a cooperative (seller), an enterprise (buyer) and the terms of its first revision."""

    seller_id: object
    buyer_id: object
    details: object  # terms.TermsDetails


def _require_staff(actor):
    if not is_alliance_staff(actor):
        raise Forbidden(_l("Only cooperative alliance staff can do this."), code="alliance_only")


def list_conferences(actor):
    """The alliance's conferences, newest first (alliance staff)."""
    _require_staff(actor)
    return db.session.scalars(sa.select(ConferenceEvent).order_by(ConferenceEvent.held_on.desc(),
                                                                   ConferenceEvent.id.desc())).all()


def get_conference(actor, conference_id):
    _require_staff(actor)
    event = db.session.get(ConferenceEvent, conference_id) if _is_id(conference_id) else None
    if event is None:
        raise NotFound()
    return event


@unit_of_work()
def create_conference(actor, name, held_on, place=""):
    """Alliance staff record a conference ("Hội nghị gặp mặt, kết nối tiêu thụ sản phẩm HTX 2024") that MoUs can
    be prepared for. Raises Forbidden (not staff), ValidationFailed (name and date required)."""
    _require_staff(actor)
    errors = {}
    name, place = plain(name), plain(place)
    if not name:
        errors["name"] = _l("This field is required.")
    elif len(name) > MAX_CONFERENCE_TEXT:
        errors["name"] = _l("Use at most %(max)s characters.", max=MAX_CONFERENCE_TEXT)
    if place is None or len(place) > MAX_CONFERENCE_TEXT:
        errors["place"] = _l("Use at most %(max)s characters.", max=MAX_CONFERENCE_TEXT)
    day = held_on if isinstance(held_on, date) else None
    if day is None:
        try:
            day = date.fromisoformat(str(held_on or "").strip()) if _ISO_DATE.fullmatch(str(held_on or "").strip()) \
                else None
        except ValueError:
            day = None
    if day is None:
        errors["held_on"] = _l("Enter a date as YYYY-MM-DD.")
    if errors:
        raise ValidationFailed.for_fields(errors)
    event = ConferenceEvent(name=name, held_on=day, place=place or "", created_by_id=actor.id)
    db.session.add(event)
    db.session.flush()
    from marketplace.accounts import events as organisation_events

    organisation_events.conference_created(actor, event.name)
    return event


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@unit_of_work()
def prepare_batch(actor, conference_id, rows, audit=None):
    """Alliance staff prepare MoUs for a conference, one per cooperative–enterprise pair (`rows`: BatchRow).

    Each is a draft of the cooperative (which reviews and sends it to the enterprise), with the alliance as
    witness and attributed to the conference. All or nothing: raises ValidationFailed with errors keyed
    "rows.<n>.<field>" (e.g. "rows.2.lines.0.quantity", "rows.1.buyer_id") so the caller can point at its rows,
    Forbidden (not staff), NotFound (no such conference).
    """
    event = get_conference(actor, conference_id)
    if not rows:
        raise ValidationFailed.for_fields({"rows": _l("Add at least one cooperative–enterprise pair.")})
    if len(rows) > MAX_BATCH:
        raise ValidationFailed.for_fields({"rows": _l("At most %(max)s MoUs at once.", max=MAX_BATCH)})
    alliance = actor.organisation
    errors, created, pairs = {}, [], set()
    for number, row in enumerate(rows):
        prefix = f"rows.{number}."
        seller = db.session.get(Organisation, row.seller_id) if _is_id(row.seller_id) else None
        buyer = db.session.get(Organisation, row.buyer_id) if _is_id(row.buyer_id) else None
        if seller is None or seller.kind != OrganisationKind.COOPERATIVE or not seller.is_verified:
            errors[prefix + "seller_id"] = _l("Choose a verified cooperative.")
        if buyer is None or buyer.kind != OrganisationKind.ENTERPRISE or not buyer.is_verified:
            errors[prefix + "buyer_id"] = _l("Choose a verified enterprise.")
        if (row.seller_id, row.buyer_id) in pairs:
            errors[prefix + "buyer_id"] = _l("This pair is already in the batch.")
        pairs.add((row.seller_id, row.buyer_id))
        if seller is None or (prefix + "seller_id") in errors:
            continue
        try:
            clean = clean_terms(row.details, seller, today())
        except ValidationFailed as error:
            errors.update({prefix + name: message for name, message in error.errors.items()})
            continue
        if any(name.startswith(prefix) for name in errors):
            continue
        created.append(_create(actor, seller, buyer, seller, clean, witness=alliance, event=event, audit=audit,
                               record_note=event.name))
    if errors:
        raise ValidationFailed.for_fields(errors)
    return created


@unit_of_work()
def revise(actor, agreement_id, details, note="", audit=None):
    """Change the terms: the initiator edits its draft (the draft's revision is replaced), or the party
    whose turn it is proposes changes (a new revision; the turn passes to the other party).

    Raises InvalidTransition when the actor may not change the terms now, ValidationFailed for bad terms.
    """
    agreement = _as_party(actor, agreement_id)
    clean = clean_terms(details, agreement.seller, today())
    if agreement.state == AgreementState.DRAFT:
        if actor.organisation_id != agreement.initiator_id:
            raise NotFound()
        agreement.revisions.clear()
        db.session.flush()
        _new_revision(agreement, actor, clean, note)
        _record(agreement, AgreementEventKind.REVISED, actor, audit)
        return agreement
    if not agreement.can_answer(actor.organisation_id):
        raise InvalidTransition(_l("It is not your turn to change the terms of this MoU."))
    if clean.sha256() == agreement.latest_revision.content_sha256:
        raise ValidationFailed(_l("These terms are the same as the current ones: accept them, or change something."))
    _new_revision(agreement, actor, clean, note)
    _set_state(agreement, AgreementState.NEGOTIATING)
    _set_turn(agreement, agreement.counterparty_of(actor.organisation_id))
    _record(agreement, AgreementEventKind.REVISED, actor, audit, note=textinput.clean(note)[:MAX_REASON])
    _notify(agreement, _l("Changes proposed to the MoU %(reference)s", reference=agreement.reference),
            _l("%(party)s proposes changes. It is your turn to accept them, decline, or propose others.",
               party=actor.organisation.legal_name), [agreement.turn])
    return agreement


def for_revision(actor, agreement_id):
    """The agreement whose terms the actor may change now: the initiator's draft, or the one whose turn it is.

    Raises NotFound (a third party, another party's draft), InvalidTransition (not the actor's turn).
    """
    agreement = _as_party(actor, agreement_id)
    if not agreement.can_change_terms(actor.organisation_id):
        raise InvalidTransition(_l("It is not your turn to change the terms of this MoU."))
    return agreement


@unit_of_work()
def send(actor, agreement_id, audit=None):
    """The initiator sends its draft to the other party, whose turn it is then."""
    agreement = _as_party(actor, agreement_id)
    if agreement.state != AgreementState.DRAFT or actor.organisation_id != agreement.initiator_id:
        raise InvalidTransition(_l("Only a draft can be sent, by the party that wrote it."))
    _set_state(agreement, AgreementState.SENT)
    _set_turn(agreement, agreement.counterparty_of(actor.organisation_id))
    _record(agreement, AgreementEventKind.SENT, actor, audit)
    _notify(agreement, _l("A proposed MoU from %(party)s", party=actor.organisation.legal_name),
            _l("%(party)s proposes an MoU. Accept it, decline it, or propose changes.",
               party=actor.organisation.legal_name), [agreement.turn])
    return agreement


@unit_of_work()
def accept(actor, agreement_id, revision_number=None, audit=None):
    """The party whose turn it is accepts the latest terms: they are rendered to PDF for signing.

    `revision_number`, when given, must be the latest (accepting terms that were changed meanwhile is
    refused). Raises InvalidTransition.
    """
    agreement = _as_party(actor, agreement_id)
    if not agreement.can_answer(actor.organisation_id):
        raise InvalidTransition(_l("It is not your turn to answer this MoU."))
    _check_latest(agreement, revision_number)
    agreement.agreed_revision_number = agreement.latest_revision.number
    _set_turn(agreement, None)
    _set_state(agreement, AgreementState.AWAITING_SIGNATURES)
    _store_rendered_pdf(agreement)
    _record(agreement, AgreementEventKind.ACCEPTED, actor, audit)
    _notify(agreement, _l("The MoU %(reference)s is ready to sign", reference=agreement.reference),
            _l("The terms are agreed. Each party now signs the PDF."), [o for _r, o in agreement.parties()])
    return agreement


def _check_latest(agreement, revision_number):
    if revision_number is not None and revision_number != agreement.latest_revision.number:
        raise InvalidTransition(_l("These terms were changed meanwhile: read the latest revision first."),
                                code="superseded_revision")


@unit_of_work()
def decline(actor, agreement_id, reason, audit=None):
    """The party whose turn it is declines, with a reason."""
    agreement = _as_party(actor, agreement_id)
    if not agreement.can_answer(actor.organisation_id):
        raise InvalidTransition(_l("It is not your turn to answer this MoU."))
    reason = _reason(reason)
    _set_turn(agreement, None)
    _set_state(agreement, AgreementState.DECLINED, reason)
    _record(agreement, AgreementEventKind.DECLINED, actor, audit, note=reason)
    _notify(agreement, _l("The MoU %(reference)s was declined", reference=agreement.reference),
            _l("%(party)s declined the MoU. Reason: %(reason)s", party=actor.organisation.legal_name, reason=reason),
            [agreement.counterparty_of(actor.organisation_id)])
    return agreement


@unit_of_work()
def withdraw(actor, agreement_id, reason, audit=None):
    """A trading party withdraws the MoU before every signature is made (the initiator its draft)."""
    agreement = _as_party(actor, agreement_id)
    if not agreement.can_withdraw(actor.organisation_id):
        raise InvalidTransition(_l("This MoU can no longer be withdrawn."))
    reason = _reason(reason)
    was_draft = agreement.state == AgreementState.DRAFT
    _set_turn(agreement, None)
    _set_state(agreement, AgreementState.WITHDRAWN, reason)
    _record(agreement, AgreementEventKind.WITHDRAWN, actor, audit, note=reason)
    if not was_draft:
        _notify(agreement, _l("The MoU %(reference)s was withdrawn", reference=agreement.reference),
                _l("%(party)s withdrew the MoU. Reason: %(reason)s", party=actor.organisation.legal_name,
                   reason=reason), [o for _r, o in agreement.parties() if o.id != actor.organisation_id])
    return agreement


@unit_of_work()
def add_witness(actor, agreement_id, audit=None):
    """Add the alliance as witness (a third signer), while the terms are still being agreed."""
    agreement = _as_party(actor, agreement_id)
    if agreement.state not in OPEN_STATES:
        raise InvalidTransition(_l("A witness can only be added before the terms are agreed."))
    if agreement.witness_id is None:
        agreement.witness = _alliance()
        _record(agreement, AgreementEventKind.WITNESS_ADDED, actor, audit)
    return agreement


# ---------------------------------------------------------------- the PDF and signatures

def _documents():
    folder = Path(current_app.config["UPLOAD_DIR"]) / "agreements"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def document_path(agreement):
    """The path of the agreement's current PDF, or None before the terms are agreed."""
    return _documents() / agreement.document_name if agreement.document_name else None


def _write_version(data):
    """Write a version of the PDF, named by its hash (versions are never overwritten); returns (name, hash).

    Written before the commit: a rolled-back use case leaves at most an unreferenced file, never a row
    pointing at nothing."""
    digest = hashlib.sha256(data).hexdigest()
    path = _documents() / f"{digest}.pdf"
    if not path.exists():
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        temporary.write_bytes(data)
        temporary.chmod(0o640)
        temporary.replace(path)
    return path.name, digest


def _store(agreement, data):
    """Write a version of the PDF and make it the agreement's current one; returns its hash."""
    agreement.document_name, agreement.document_sha256 = _write_version(data)
    return agreement.document_sha256


def verify_url(agreement):
    return notifications.link("agreements.verify_reference", reference=agreement.reference)


def _store_rendered_pdf(agreement):
    from marketplace.agreements import pdf  # fpdf2 is imported only when a PDF is made

    data = pdf.render_agreement(content_of(agreement, agreement.agreed_revision), verify_url=verify_url(agreement))
    agreement.original_sha256 = _store(agreement, data)


def content_of(agreement, revision):
    """The frozen content of a revision as pdf.render_agreement reads it."""
    def party(organisation):
        if organisation is None:
            return None
        return {"legal_name": organisation.legal_name, "tax_code": organisation.tax_code or "",
                "address": organisation.address,
                "representative": organisation.representative or "", "phone": organisation.phone or "",
                "email": organisation.email or ""}

    terms = revision.terms
    event = agreement.event
    return {
        "reference": agreement.reference, "kind": agreement.kind.value,
        "parent_reference": agreement.parent.reference if agreement.parent else None,
        "event": {"name": event.name, "date": event.held_on.isoformat(), "place": event.place} if event else None,
        "buyer": party(agreement.buyer), "seller": party(agreement.seller), "witness": party(agreement.witness),
        "lines": [{"product_id": line.product_id, "name": line.name, "unit_label": str(_unit_label(line.unit)),
                   "quantity": line.quantity, "period": line.period.value, "price_basis": line.price_basis.value,
                   "unit_price_vnd": line.unit_price_vnd, "reference_price_vnd": line.reference_price_vnd,
                   "adjustment_percent": line.adjustment_percent} for line in revision.lines],
        "start_date": terms["start_date"], "end_date": terms["end_date"],
        "delivery": {"place": terms["delivery_place"], "frequency": terms["delivery_frequency"],
                     "lead_time_days": terms["lead_time_days"]},
        "quality": {"standards": terms["quality_standards"], "sampling": terms["sampling"],
                    "certifications": [str(label(_certification(c))) for c in terms["quality_certifications"]]},
        "payment_terms": terms["payment_terms"],
        "responsibilities": {"buyer": terms["buyer_responsibilities"], "seller": terms["seller_responsibilities"]},
        "clauses": terms["clauses"], "revision_number": revision.number, "content_sha256": revision.content_sha256,
    }


def _unit_label(code):
    from marketplace.catalog.models import Unit

    return label(Unit(code))


def _certification(code):
    from marketplace.catalog.models import Certification

    return Certification(code)


def sign(actor, agreement_id, password, revision_number=None, audit=None, client=None):
    """Sign the agreed PDF in the name of the actor's organisation.

    The password is checked under the login throttle (accounts.services.check_password, `client`: the
    address and trusted-browser cookie; by default the audit's address), before the unit of work opens,
    so the unlock email of a wrong password that reaches the account's ceiling is not rolled back.

    Raises ValidationFailed (wrong password), throttle.TooManyAttempts (429: too many wrong passwords
    from this address, or at the account's ceiling), Forbidden (no signing right), InvalidTransition (not
    awaiting this party's signature, already signed, or `revision_number` is not the agreed one) and
    Conflict (`signed_meanwhile`: another signature was added at the same moment; sign again).
    """
    _check_signer(actor, get_agreement(actor, agreement_id))
    audit = audit or Audit()
    if not accounts.check_password(actor, password or "", client or throttle.Client(address=audit.ip_address)):
        raise ValidationFailed.for_fields({"password": _l("The password is wrong.")})
    with unit_of_work():
        return _sign(actor, agreement_id, revision_number, audit)


def _check_signer(actor, agreement):
    if not agreement.is_party(actor.organisation_id):
        raise NotFound()
    if agreement.role_of(actor.organisation_id) != PartyRole.WITNESS:
        require(actor, Permission.SIGN_AGREEMENTS)
    if not actor.may_sign:
        raise Forbidden(_l("Only the owner, or a member the owner allowed to sign, signs for the organisation."),
                        code="no_signing_right")


def _sign(actor, agreement_id, revision_number, audit):
    agreement = get_agreement(actor, agreement_id)
    _check_signer(actor, agreement)  # again, inside the transaction that signs
    if agreement.has_signed(actor.organisation_id):
        raise InvalidTransition(_l("Your organisation has already signed this MoU."), code="already_signed")
    if not agreement.can_sign(actor.organisation_id):
        raise InvalidTransition(_l("This MoU is not waiting for signatures."))
    if revision_number is not None and revision_number != agreement.agreed_revision_number:
        raise InvalidTransition(_l("This revision was replaced: only the agreed revision is signed."),
                                code="superseded_revision")
    _add_signature(agreement, actor, audit)
    signed_by_all = not agreement.waiting_signers()
    _set_state(agreement, AgreementState.SIGNED if signed_by_all else AgreementState.PARTIALLY_SIGNED)
    if signed_by_all:
        agreement.signed_at = utcnow()
    _record(agreement, AgreementEventKind.SIGNED, actor, audit)
    if signed_by_all:
        _notify(agreement, _l("The MoU %(reference)s is signed by every party", reference=agreement.reference),
                _l("Every party has signed. Download the signed PDF from the MoU's page."),
                [o for _r, o in agreement.parties()])
    else:
        _notify(agreement, _l("%(party)s signed the MoU %(reference)s", party=actor.organisation.legal_name,
                              reference=agreement.reference),
                _l("Your signature is awaited."), agreement.waiting_signers())
    return agreement


def _add_signature(agreement, actor, audit):
    from marketplace.agreements import signing  # pyHanko is imported only when something is signed

    before = agreement.document_sha256
    data = document_path(agreement).read_bytes()
    if hashlib.sha256(data).hexdigest() != before:
        raise Conflict(_l("The stored PDF does not match its record: signing is stopped."), code="document_mismatch")
    credentials = signing.credentials_for(actor.organisation)
    role = agreement.role_of(actor.organisation_id)
    signed = signing.sign(data, credentials, certify=not agreement.signatures,
                          field_name=f"{role.value}-{actor.organisation_id}",
                          signer_name=actor.full_name, reason=f"{label(role)} — {agreement.reference}")
    name, after = _write_version(signed)
    # Two parties signing at once both started from `before`: the second must start again from the first's file.
    changed = db.session.execute(sa.update(Agreement).where(Agreement.id == agreement.id,
                                                            Agreement.document_sha256 == before)
                                 .values(document_sha256=after, document_name=name)).rowcount
    if changed != 1:
        raise Conflict(_l("Another party signed at the same moment. Please sign again."), code="signed_meanwhile")
    set_committed_value(agreement, "document_sha256", after)
    set_committed_value(agreement, "document_name", name)
    agreement.signatures.append(Signature(
        revision_number=agreement.agreed_revision_number, organisation_id=actor.organisation_id, role=role,
        user_id=actor.id,
        certificate_serial=credentials.serial, sha256_before=before, sha256_after=after,
        ip_address=(audit.ip_address or "")[:45], user_agent=(audit.user_agent or "")[:255]))


# ---------------------------------------------------------------- evidence: views and downloads

@unit_of_work()
def record_view(actor, agreement_id, audit=None):
    """The agreement for its page, recording VIEWED once per user and revision when a member of a party
    other than the latest revision's author opens it. Raises NotFound like get_agreement."""
    agreement = get_agreement(actor, agreement_id)
    revision = agreement.latest_revision
    if revision is None or not agreement.is_party(actor.organisation_id) or actor.organisation_id == revision.author_id:
        return agreement
    seen = db.session.scalar(sa.select(AgreementEvent.id).filter_by(
        agreement_id=agreement.id, kind=AgreementEventKind.VIEWED, user_id=actor.id, revision_number=revision.number))
    if seen is None:
        _record(agreement, AgreementEventKind.VIEWED, actor, audit)
    return agreement


DOCUMENT = "document"
CERTIFICATE = "certificate"


@unit_of_work()
def download(actor, agreement_id, what=DOCUMENT, audit=None):
    """(file name, PDF bytes) of the agreement's current PDF (`what="document"`) or of its completion
    certificate (`"certificate"`), recording DOWNLOADED each time. Raises NotFound when there is none yet:
    no PDF before the terms are agreed, no certificate before every party signed."""
    agreement = get_agreement(actor, agreement_id)
    if what == DOCUMENT:
        path = document_path(agreement)
        if path is None:
            raise NotFound(_l("The PDF exists once the terms are agreed."))
        data = path.read_bytes()
        name = f"{agreement.reference}.pdf"
    elif what == CERTIFICATE:
        data = completion_certificate(agreement)
        name = f"{agreement.reference}-certificate.pdf"
    else:
        raise NotFound()
    _record(agreement, AgreementEventKind.DOWNLOADED, actor, audit, note=what)
    return name, data


def completion_certificate(agreement):
    """The completion certificate PDF of a fully signed agreement (rendered from the signatures on record;
    the same bytes every time). Raises NotFound before every party signed."""
    if agreement.signed_at is None:
        raise NotFound(_l("The completion certificate exists once every party has signed."))
    from marketplace.agreements import pdf  # fpdf2 is imported only when a PDF is made

    signers = [{"role": s.role.value, "organisation": s.organisation.legal_name, "person": s.user.full_name,
                "signed_at": s.signed_at, "certificate_serial": s.certificate_serial,
                "sha256_before": s.sha256_before, "sha256_after": s.sha256_after} for s in agreement.signatures]
    return pdf.render_completion_certificate(
        agreement.reference, signers=signers, document_sha256_final=agreement.signatures[-1].sha256_after,
        original_sha256=agreement.original_sha256, verify_url=verify_url(agreement), created_at=agreement.signed_at)


# ---------------------------------------------------------------- public verification

@dataclass
class RecordMatch:
    """How an uploaded PDF relates to the records: the agreement it belongs to (or None), and whether it
    is the current version on record, or an earlier one (the PDF as agreed, or after some signatures)."""

    agreement: Agreement | None = None
    is_current: bool = False
    signatures_included: int = 0  # for an earlier version: how many signatures it already had


def match_record(pdf_bytes):
    """Which agreement an uploaded PDF is a version of, from its hashes alone (never the file's claims).

    Signatures are incremental updates, so each earlier version of one of our PDFs is a prefix of it
    ending after a `%%EOF`: hashing every such prefix finds the agreement even in a file changed later.
    """
    prefixes, running, position = set(), hashlib.sha256(), 0
    for marker in itertools.islice(re.finditer(rb"%%EOF", pdf_bytes), MAX_VERSIONS):
        ends = [marker.end()]
        for extra in (1, 2):  # the end-of-line after %%EOF belongs to the version before it
            if pdf_bytes[marker.end() + extra - 1:marker.end() + extra] not in (b"\r", b"\n"):
                break
            ends.append(marker.end() + extra)
        for end in ends:  # one running hash: each byte is hashed once, however many versions there are
            running.update(pdf_bytes[position:end])
            position = end
            prefixes.add(running.copy().hexdigest())
    whole = hashlib.sha256(pdf_bytes).hexdigest()
    prefixes.add(whole)
    agreement = db.session.scalar(sa.select(Agreement).where(Agreement.original_sha256.in_(prefixes))
                                  .order_by(Agreement.id).limit(1))
    if agreement is None:
        return RecordMatch()
    if agreement.document_sha256 == whole:
        return RecordMatch(agreement, True, len(agreement.signatures))
    versions = [agreement.original_sha256, *(s.sha256_after for s in agreement.signatures)]
    included = max((number for number, digest in enumerate(versions) if digest in prefixes), default=0)
    return RecordMatch(agreement, False, included)


def verify_document(pdf_bytes):
    """(signing.Verification, RecordMatch) of an uploaded file: what its signatures say, and how it
    relates to the records. Never raises for a bad file (the Verification carries an error code)."""
    from marketplace.agreements import signing  # pyHanko is imported only when something is verified

    verification = signing.verify(pdf_bytes)
    if verification.error in ("too_large", "not_pdf"):
        return verification, RecordMatch()
    return verification, match_record(pdf_bytes)


# ---------------------------------------------------------------- after signing

@unit_of_work()
def request_void(actor, agreement_id, reason, audit=None):
    """A trading party asks to end a signed MoU; the other party confirms with confirm_void."""
    agreement = _as_party(actor, agreement_id)
    if agreement.state != AgreementState.SIGNED or agreement.role_of(actor.organisation_id) == PartyRole.WITNESS:
        raise InvalidTransition(_l("Only a signed MoU can be voided, by its buyer and seller together."))
    reason = _reason(reason)
    agreement.void_requested_by_id = actor.organisation_id
    agreement.state_reason = reason
    _record(agreement, AgreementEventKind.VOID_REQUESTED, actor, audit, note=reason)
    _notify(agreement, _l("%(party)s asks to void the MoU %(reference)s", party=actor.organisation.legal_name,
                          reference=agreement.reference),
            _l("Reason: %(reason)s. Confirm on the MoU's page if you agree.", reason=reason),
            [agreement.counterparty_of(actor.organisation_id)])
    return agreement


@unit_of_work()
def confirm_void(actor, agreement_id, audit=None):
    """The other trading party agrees to void the signed MoU."""
    agreement = _as_party(actor, agreement_id)
    requested_by = agreement.void_requested_by_id
    if (agreement.state != AgreementState.SIGNED or requested_by is None or requested_by == actor.organisation_id
            or agreement.role_of(actor.organisation_id) == PartyRole.WITNESS):
        raise InvalidTransition(_l("Voiding needs a request from the other party first."))
    _set_state(agreement, AgreementState.VOIDED)
    _record(agreement, AgreementEventKind.VOIDED, actor, audit, note=agreement.state_reason)
    _notify(agreement, _l("The MoU %(reference)s is voided", reference=agreement.reference),
            _l("Both parties agreed to void the MoU. Reason: %(reason)s", reason=agreement.state_reason),
            [o for _r, o in agreement.parties()])
    return agreement


def void(actor, agreement_id, reason=None, audit=None):
    """One action for "void" (the API's): confirm the other trading party's request to void the signed MoU,
    or else ask to void it with a reason. Raises like request_void / confirm_void."""
    agreement = get_agreement(actor, agreement_id)
    if agreement.can_confirm_void(actor.organisation_id):
        return confirm_void(actor, agreement_id, audit=audit)
    return request_void(actor, agreement_id, reason, audit=audit)


@unit_of_work()
def complete(actor, agreement_id, audit=None):
    """A trading party or alliance staff record a signed MoU as carried out."""
    agreement = get_agreement(actor, agreement_id)
    if not is_alliance_staff(actor):
        agreement = _as_party(actor, agreement_id)
    if agreement.state != AgreementState.SIGNED:
        raise InvalidTransition(_l("Only a signed MoU can be recorded as carried out."))
    _set_state(agreement, AgreementState.COMPLETED)
    _record(agreement, AgreementEventKind.COMPLETED, actor, audit)
    return agreement


@unit_of_work()
def expire_lapsed(on=None):
    """Mark agreements whose end date has passed as expired (daily; idempotent). Returns them."""
    on = on or today()
    lapsed = db.session.scalars(sa.select(Agreement).where(
        Agreement.end_date < on, Agreement.state.not_in(FINAL_STATES)).order_by(Agreement.id)).all()
    for agreement in lapsed:
        _set_turn(agreement, None)
        _set_state(agreement, AgreementState.EXPIRED)
        _record(agreement, AgreementEventKind.EXPIRED)
    return lapsed


def _step(agreement):
    """A key of the step an agreement waits at: a reminder is sent once per step."""
    return f"{agreement.state.value}:{len(agreement.revisions)}:{len(agreement.signatures)}"


def _awaited(agreement):
    """The organisations whose action the agreement waits for."""
    if agreement.state in (AgreementState.SENT, AgreementState.NEGOTIATING):
        return [agreement.turn] if agreement.turn else []
    return agreement.waiting_signers()


@unit_of_work()
def remind(on=None):
    """Daily: expire lapsed agreements, then remind the parties an agreement has waited for since
    AGREEMENT_REMINDER_DAYS (once per agreement and step). Returns (expired, reminded)."""
    expired = expire_lapsed(on)
    cutoff = utcnow() - timedelta(days=current_app.config["AGREEMENT_REMINDER_DAYS"])
    waiting = db.session.scalars(sa.select(Agreement).where(
        Agreement.state.in_([AgreementState.SENT, AgreementState.NEGOTIATING, *SIGNING_STATES]),
        Agreement.state_changed_at <= cutoff).order_by(Agreement.id)).all()
    reminded = []
    for agreement in waiting:
        step = _step(agreement)
        already = db.session.scalar(sa.select(AgreementEvent.id).filter_by(
            agreement_id=agreement.id, kind=AgreementEventKind.REMINDED, note=step))
        if already is not None:
            continue
        _notify(agreement, _l("Reminder: the MoU %(reference)s is waiting for you", reference=agreement.reference),
                _l("This MoU has been waiting for your answer or signature since %(day)s.",
                   day=agreement.state_changed_at.date().strftime("%d/%m/%Y")), _awaited(agreement))
        _record(agreement, AgreementEventKind.REMINDED, note=step)
        reminded.append(agreement)
    return expired, reminded


def _notify(agreement, subject, message, organisations):
    """Email the owners and signers of these organisations about this step (outbox)."""
    link = notifications.link("agreements.detail", agreement_id=agreement.id)
    for organisation in organisations:
        for member in organisation.members:
            if member.may_sign:
                notifications.send(member.email, subject, "agreement_step", member.locale, user=member,
                                   agreement=agreement, message=message, link=link)

