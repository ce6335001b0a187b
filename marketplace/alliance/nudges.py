"""Nudges: from the MoU's page alliance staff remind one or both parties to carry out the MoU. Each nudge is an
in-app notice to the organisation, an email to the people who answer for it (outbox), an entry of the
follow-up log and one named event, in one unit of work. An organisation is nudged about one MoU at most once
within NUDGE_INTERVAL_MINUTES (default 60), whoever on the alliance's staff sends it."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from marketplace.agreements import services as agreement_services
from marketplace.agreements.models import FINAL_STATES, AgreementState, PartyRole
from marketplace.alliance import followup_common as common
from marketplace.alliance import followup_events as events
from marketplace.alliance.followup_models import FollowUpEntry, FollowUpKind, Nudge
from marketplace.catalog.services import today
from marketplace.errors import Conflict, ValidationFailed
from marketplace.extensions import db
from marketplace.i18n import short_datetime
from marketplace.notices import services as notices
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

MAX_MESSAGE = 2000
TARGETS = {"buyer": (PartyRole.BUYER,), "seller": (PartyRole.SELLER,), "both": (PartyRole.BUYER, PartyRole.SELLER)}


class NudgedRecently(Conflict):
    status = 429
    code = "nudged_recently"

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


def interval():
    return timedelta(minutes=current_app.config["NUDGE_INTERVAL_MINUTES"])


def _last_nudge(agreement, organisation):
    return db.session.scalar(sa.select(sa.func.max(Nudge.sent_at)).where(
        Nudge.agreement_id == agreement.id, Nudge.organisation_id == organisation.id))


def may_nudge(agreement):
    """Whether the MoU can be nudged about: sent and not ended (negotiation, signatures, carrying it out)."""
    return agreement.state != AgreementState.DRAFT and agreement.state not in FINAL_STATES


@unit_of_work()
def nudge(actor, agreement_id, target, message):
    """Alliance staff nudge the buyer, the seller or both ("buyer", "seller", "both") with a message.
    Returns the log entry. Raises NotFound (a third party), Forbidden (not staff), Conflict (a draft or an
    ended MoU), NudgedRecently (429: a party was nudged about this MoU within the interval; nothing is sent to
    anyone), ValidationFailed."""
    agreement, _role, _staff = common.agreement_for(actor, agreement_id)
    common.require_staff(actor)
    if not may_nudge(agreement):
        raise Conflict(_l("Only an MoU that has been sent and has not ended can be nudged about."),
                       code="not_nudgeable")
    errors = {}
    roles = TARGETS.get(target)
    if roles is None:
        errors["target"] = _l("Choose the buyer, the seller or both.")
    message = common.text(message, errors, "message", MAX_MESSAGE, required=True)
    if errors:
        raise ValidationFailed.for_fields(errors)
    organisations = [common.party_of(agreement, role) for role in roles]
    agreement_services.serialise_writers(agreement.id)  # two staff nudging at once: the second sees the first
    now = utcnow()
    for organisation in organisations:
        last = _last_nudge(agreement, organisation)
        if last is not None and now - last < interval():
            retry_after = int((last + interval() - now).total_seconds()) + 1
            raise NudgedRecently(_l("%(party)s was already nudged about this MoU at %(time)s. Nudge again later.",
                                    party=organisation.legal_name, time=short_datetime(last)), retry_after)
    entry = FollowUpEntry(agreement_id=agreement.id, kind=FollowUpKind.NUDGE, happened_on=today(),
                          party=roles[0] if len(roles) == 1 else None, note=message, author_id=actor.id)
    db.session.add(entry)
    db.session.flush()
    title = _l("The cooperative alliance asks about the MoU %(reference)s", reference=agreement.reference)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # a notice is read by a whole organisation
        notice_title = str(title)
    for organisation in organisations:
        db.session.add(Nudge(agreement_id=agreement.id, organisation_id=organisation.id, entry_id=entry.id,
                             sent_by_id=actor.id, sent_at=now))
        notices.post(organisation, notice_title, message, link=f"/agreements/{agreement.id}",
                     sender=actor.organisation)
    events.nudged(agreement, organisations, actor)
    common.email(agreement, organisations, title, message)
    return entry


def nudges_of(actor, agreement):
    """{entry_id: [organisations nudged]} for the MoU's log (NotFound for a third party)."""
    common.agreement_for(actor, agreement.id)
    rows = db.session.scalars(sa.select(Nudge).filter_by(agreement_id=agreement.id).order_by(Nudge.id)).all()
    result = {}
    for row in rows:
        result.setdefault(row.entry_id, []).append(row.organisation)
    return result
