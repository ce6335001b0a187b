"""The follow-up log of an MoU: alliance staff record contacts with the parties, problems raised and help given
(a call, a visit, a meeting, something else). Both parties read it on the MoU's page, as a timeline; nudges
(nudges.py) write their own entries. Each change is one unit of work writing one named event.

Entries are not emailed: they record what already happened with the parties; a nudge is how the alliance
reaches them."""
from dataclasses import dataclass, fields

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace.agreements.models import PartyRole
from marketplace.alliance import followup_common as common
from marketplace.alliance import followup_events as events
from marketplace.alliance.followup_models import FollowUpEntry, FollowUpKind
from marketplace.catalog.services import today
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.routing import MAX_ID
from marketplace.unit_of_work import unit_of_work

MAX_NOTE = 4000
RECORDED_KINDS = (FollowUpKind.CALL, FollowUpKind.VISIT, FollowUpKind.MEETING, FollowUpKind.OTHER)


@dataclass
class EntryDetails:
    kind: str = ""
    happened_on: object = ""  # a date or YYYY-MM-DD; not after today
    party: str = ""  # "buyer", "seller" or "" (both)
    note: str = ""

    @classmethod
    def from_mapping(cls, values):
        return cls(**{f.name: values[f.name] for f in fields(cls) if values.get(f.name) is not None})


def entries(actor, agreement):
    """The log, newest first. Raises NotFound for a third party."""
    common.agreement_for(actor, agreement.id)
    return db.session.scalars(sa.select(FollowUpEntry).filter_by(agreement_id=agreement.id).order_by(
        FollowUpEntry.happened_on.desc(), FollowUpEntry.id.desc())).all()


def _clean(details):
    errors = {}
    try:
        kind = FollowUpKind(details.kind)
        if kind not in RECORDED_KINDS:
            raise ValueError
    except ValueError:
        kind = None
        errors["kind"] = _l("Choose a call, a visit, a meeting or other.")
    happened_on = common.day(details.happened_on, errors, "happened_on")
    if happened_on is not None and happened_on > today():
        errors["happened_on"] = _l("Record what has happened: the date cannot be in the future.")
    try:
        party = PartyRole(details.party) if details.party else None
        if party == PartyRole.WITNESS:
            raise ValueError
    except ValueError:
        party = None
        errors["party"] = _l("Choose the buyer, the seller or both.")
    note = common.text(details.note, errors, "note", MAX_NOTE, required=True)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return {"kind": kind, "happened_on": happened_on, "party": party, "note": note}


@unit_of_work()
def record(actor, agreement_id, details):
    """Alliance staff record a contact, a problem raised or help given. Raises NotFound (a third party),
    Forbidden (a party: `alliance_only`), ValidationFailed."""
    agreement, _role, _staff = common.agreement_for(actor, agreement_id)
    common.require_staff(actor)
    entry = FollowUpEntry(agreement_id=agreement.id, author_id=actor.id, **_clean(details))
    db.session.add(entry)
    events.follow_up_recorded(agreement, entry, actor)
    return entry


@unit_of_work()
def delete(actor, agreement_id, entry_id):
    """Alliance staff remove an entry written by mistake; the evidence log keeps what it said. A nudge's entry
    stays (the notice and the email went out). Raises NotFound, Forbidden, Conflict (a nudge)."""
    agreement, _role, _staff = common.agreement_for(actor, agreement_id)
    common.require_staff(actor)
    entry = db.session.get(FollowUpEntry, entry_id) if 1 <= entry_id <= MAX_ID else None
    if entry is None or entry.agreement_id != agreement.id:
        raise NotFound()
    if entry.is_nudge:
        raise Conflict(_l("A nudge was sent to the parties: its entry stays in the log."), code="nudge_entry")
    events.follow_up_deleted(agreement, entry, actor)
    db.session.delete(entry)
