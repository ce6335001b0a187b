"""Milestones and obligations of an MoU: use cases, each one unit of work writing one named event
(followup_events) and emailing those concerned (outbox).

Who may do what (the MoU's page shows the same through Milestone's questions):
- the buyer, the seller and alliance staff see an MoU's milestones; anyone else gets NotFound (404);
- either trading party or alliance staff add one, to a signed MoU; the organisation that added it, or
  alliance staff, change or delete it until it is done (a buyer's demand on the seller is not the seller's
  to delete);
- the responsible side or alliance staff mark it done, with evidence: a note, a file (PDF, JPEG, PNG), or both.
Overdue is computed from Vietnam's date (catalog.services.today()), never stored.
"""
import calendar
from dataclasses import dataclass, fields
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace.agreements import services as agreements
from marketplace.agreements.models import AgreementState, PartyRole
from marketplace.alliance import followup_common as common
from marketplace.alliance import followup_events as events
from marketplace.alliance.followup_models import Milestone, MilestoneRepeat
from marketplace.catalog import images
from marketplace.catalog.services import today
from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.routing import MAX_ID
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

MAX_TITLE = 200
MAX_TEXT = 2000


class NotSigned(Conflict):
    code = "not_signed"


@dataclass
class MilestoneDetails:
    """What a person enters about a milestone (plain values; the service checks them)."""

    title: str = ""
    responsible: str = ""  # "buyer" or "seller"
    due_on: object = ""  # a date or YYYY-MM-DD
    repeat: str = ""  # "" or a MilestoneRepeat value
    details: str = ""

    @classmethod
    def from_mapping(cls, values):
        return cls(**{f.name: values[f.name] for f in fields(cls) if values.get(f.name) is not None})


# ---------------------------------------------------------------- reading

def list_for(actor, agreement):
    """The MoU's milestones, those not done first, by due date. Raises NotFound for a third party."""
    common.agreement_for(actor, agreement.id)
    return db.session.scalars(sa.select(Milestone).filter_by(agreement_id=agreement.id).order_by(
        Milestone.done_at.is_not(None), Milestone.due_on, Milestone.id)).all()


def get(actor, agreement_id, milestone_id):
    """A milestone of an MoU the actor may follow. Raises NotFound otherwise (also for another MoU's milestone)."""
    common.agreement_for(actor, agreement_id)
    milestone = db.session.get(Milestone, milestone_id) if 1 <= milestone_id <= MAX_ID else None
    if milestone is None or milestone.agreement_id != agreement_id:
        raise NotFound()
    return milestone


def overdue_milestones(agreement_ids, on=None):
    """{agreement_id: number of its milestones not done and due before `on` (default: today in Vietnam)}, for the
    needs-attention list; MoUs without overdue milestones are left out. One SQL aggregate (no access check:
    the caller lists MoUs it may see)."""
    ids = sorted({int(i) for i in agreement_ids})
    if not ids:
        return {}
    on = on or today()
    counts = {}
    for start in range(0, len(ids), 5000):  # bounded IN lists
        rows = db.session.execute(
            sa.select(Milestone.agreement_id, sa.func.count(Milestone.id))
            .where(Milestone.agreement_id.in_(ids[start:start + 5000]), Milestone.done_at.is_(None),
                   Milestone.due_on < on)
            .group_by(Milestone.agreement_id)).all()
        counts.update({agreement_id: count for agreement_id, count in rows})
    return counts


def evidence(actor, agreement_id, milestone_id):
    """(path, download name, is_pdf) of a milestone's evidence file, for the MoU's parties and alliance staff.
    Raises NotFound for anyone else, or when there is no file."""
    milestone = get(actor, agreement_id, milestone_id)
    path = images.evidence_path(milestone.evidence_file)
    if path is None or not path.is_file():
        raise NotFound()
    return path, f"milestone-{milestone.id}-evidence{path.suffix}", milestone.evidence_is_pdf


# ---------------------------------------------------------------- changes

def _require_signed(agreement):
    if agreement.state != AgreementState.SIGNED:
        raise NotSigned(_l("Milestones are added and updated while the MoU is signed and in force."))


def _clean(details):
    errors = {}
    values = {
        "title": common.text(details.title, errors, "title", MAX_TITLE, required=True),
        "details": common.text(details.details, errors, "details", MAX_TEXT),
        "due_on": common.day(details.due_on, errors, "due_on"),
    }
    try:
        values["responsible"] = PartyRole(details.responsible)
        if values["responsible"] == PartyRole.WITNESS:
            raise ValueError
    except ValueError:
        errors["responsible"] = _l("Choose the buyer or the seller.")
    try:
        values["repeat"] = MilestoneRepeat(details.repeat) if details.repeat else None
    except ValueError:
        errors["repeat"] = _l("Choose how often it comes back.")
    if errors:
        raise ValidationFailed.for_fields(errors)
    return values


def _others(agreement, actor, staff):
    """Who hears about a change: the other trading party, or both when the alliance made it."""
    if staff:
        return [agreement.buyer, agreement.seller]
    return [agreement.counterparty_of(actor.organisation_id)]


@unit_of_work()
def add(actor, agreement_id, details):
    """Add a milestone or obligation to a signed MoU (either trading party or alliance staff).
    Raises NotFound (third party), Forbidden (an organisation that may not trade), NotSigned, ValidationFailed."""
    agreement, _role, staff = common.acting(actor, agreement_id)
    _require_signed(agreement)
    values = _clean(details)
    milestone = Milestone(agreement_id=agreement.id, created_by_organisation_id=actor.organisation_id,
                          created_by_id=actor.id, **values)
    db.session.add(milestone)
    db.session.flush()
    events.milestone_added(agreement, milestone, actor)
    common.email(agreement, _others(agreement, actor, staff),
                 _l("New milestone on the MoU %(reference)s", reference=agreement.reference),
                 _l("%(organisation)s added a milestone: %(title)s, for the %(side)s, due on %(day)s.",
                    organisation=actor.organisation.legal_name, title=milestone.title,
                    side=_side(milestone.responsible), day=milestone.due_on.strftime("%d/%m/%Y")))
    return milestone


def _side(role):
    return _l("buyer") if role == PartyRole.BUYER else _l("seller")


def _changeable(actor, agreement_id, milestone_id):
    agreement, _role, staff = common.acting(actor, agreement_id)
    milestone = get(actor, agreement_id, milestone_id)
    _require_signed(agreement)
    if milestone.is_done:
        raise Conflict(_l("This milestone is done: it can no longer be changed."), code="milestone_done")
    if not milestone.may_be_changed_by(actor.organisation_id, staff):
        raise Forbidden(_l("Only the organisation that added this milestone, or the alliance, can change it."),
                        code="not_your_milestone")
    return agreement, milestone, staff


@unit_of_work()
def update(actor, agreement_id, milestone_id, details):
    """Change a milestone not yet done (the organisation that added it, or alliance staff). Writes no event and
    sends nothing when nothing changes. Raises like add, and Conflict (done), Forbidden (not yours)."""
    agreement, milestone, staff = _changeable(actor, agreement_id, milestone_id)
    values = _clean(details)
    if all(getattr(milestone, name) == value for name, value in values.items()):
        return milestone
    for name, value in values.items():
        setattr(milestone, name, value)
    events.milestone_changed(agreement, milestone, actor)
    common.email(agreement, _others(agreement, actor, staff),
                 _l("A milestone of the MoU %(reference)s changed", reference=agreement.reference),
                 _l("%(organisation)s changed a milestone: %(title)s, for the %(side)s, due on %(day)s.",
                    organisation=actor.organisation.legal_name, title=milestone.title,
                    side=_side(milestone.responsible), day=milestone.due_on.strftime("%d/%m/%Y")))
    return milestone


@unit_of_work()
def delete(actor, agreement_id, milestone_id):
    """Delete a milestone not yet done (the organisation that added it, or alliance staff)."""
    agreement, milestone, staff = _changeable(actor, agreement_id, milestone_id)
    events.milestone_deleted(agreement, milestone, actor)
    common.email(agreement, _others(agreement, actor, staff),
                 _l("A milestone of the MoU %(reference)s was removed", reference=agreement.reference),
                 _l("%(organisation)s removed the milestone: %(title)s.", organisation=actor.organisation.legal_name,
                    title=milestone.title))
    db.session.delete(milestone)


@unit_of_work()
def mark_done(actor, agreement_id, milestone_id, note="", upload=None):
    """The responsible side or alliance staff mark a milestone done, with evidence: a note, a file (PDF, JPEG or
    PNG, validated and stored by catalog.images), or both. A repeating obligation gets its next occurrence
    while it falls within the MoU's term. The other party and the alliance are emailed (both parties when the
    alliance marks it). Raises NotFound, Forbidden (not the responsible side), Conflict (already done),
    NotSigned, ValidationFailed (no evidence, a bad file)."""
    agreement, role, staff = common.acting(actor, agreement_id)
    milestone = get(actor, agreement_id, milestone_id)
    _require_signed(agreement)
    if milestone.is_done:
        raise Conflict(_l("This milestone is already marked done."), code="milestone_done")
    if not milestone.may_be_marked_done_by(role, staff):
        raise Forbidden(_l("Only the side responsible for this milestone, or the alliance, marks it done."),
                        code="not_responsible")
    errors = {}
    note = common.text(note, errors, "note", MAX_TEXT)
    if errors:
        raise ValidationFailed.for_fields(errors)
    has_file = upload is not None and getattr(upload, "filename", "")
    if not note and not has_file:
        raise ValidationFailed.for_fields({"note": _l("Give the evidence: a note, a file, or both.")})
    stored = images.store_evidence(upload, "evidence") if has_file else None  # validates; raises ValidationFailed
    # Done once: two people marking it at the same moment must not both succeed (nor add two next occurrences).
    # A conditional UPDATE decides, under the row's lock on PostgreSQL and the write lock on SQLite.
    done = db.session.execute(sa.update(Milestone).where(Milestone.id == milestone.id, Milestone.done_at.is_(None))
                              .values(done_at=utcnow(), done_by_id=actor.id, evidence_note=note,
                                      evidence_file=stored).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        if stored:
            images.discard_files([], [], [stored])
        raise Conflict(_l("This milestone is already marked done."), code="milestone_done")
    db.session.refresh(milestone)
    following = _next_occurrence(agreement, milestone)
    events.milestone_done(agreement, milestone, actor)
    recipients = [agreement.buyer, agreement.seller] if staff else [agreement.counterparty_of(actor.organisation_id)]
    common.email(agreement, [*recipients, agreements.alliance_organisation()],
                 _l("Milestone done on the MoU %(reference)s", reference=agreement.reference),
                 _l("%(organisation)s marked the milestone done: %(title)s (due on %(day)s).",
                    organisation=actor.organisation.legal_name, title=milestone.title,
                    day=milestone.due_on.strftime("%d/%m/%Y"))
                 if following is None else
                 _l("%(organisation)s marked the milestone done: %(title)s (due on %(day)s). The next one is due on "
                    "%(next)s.", organisation=actor.organisation.legal_name, title=milestone.title,
                    day=milestone.due_on.strftime("%d/%m/%Y"), next=following.due_on.strftime("%d/%m/%Y")))
    return milestone


def next_due_date(due_on, repeat):
    """The due date of the occurrence after one due on `due_on`."""
    if repeat == MilestoneRepeat.WEEKLY:
        return due_on + timedelta(days=7)
    months = {MilestoneRepeat.MONTHLY: 1, MilestoneRepeat.QUARTERLY: 3, MilestoneRepeat.YEARLY: 12}[repeat]
    index = due_on.month - 1 + months
    year, month = due_on.year + index // 12, index % 12 + 1
    return date(year, month, min(due_on.day, calendar.monthrange(year, month)[1]))


def _next_occurrence(agreement, milestone):
    if milestone.repeat is None:
        return None
    due_on = next_due_date(milestone.due_on, milestone.repeat)
    if due_on > agreement.end_date:
        return None
    following = Milestone(agreement_id=agreement.id, title=milestone.title, details=milestone.details,
                          responsible=milestone.responsible, due_on=due_on, repeat=milestone.repeat,
                          created_by_organisation_id=milestone.created_by_organisation_id,
                          created_by_id=milestone.created_by_id)
    db.session.add(following)
    return following
