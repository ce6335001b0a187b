"""What the follow-up services share: who may see and act on an MoU's follow-up, text and date checks, and
the emails they send (outbox, in the caller's unit of work)."""
from datetime import date

from flask_babel import lazy_gettext as _l

from marketplace import notifications, textinput
from marketplace.accounts.authz import Permission, is_alliance_staff, require
from marketplace.agreements import services as agreements
from marketplace.agreements.models import PartyRole
from marketplace.errors import Forbidden, NotFound

TRADING_ROLES = (PartyRole.BUYER, PartyRole.SELLER)


def agreement_for(actor, agreement_id):
    """(agreement, the actor's role or None, is_staff) for the MoU's buyer, seller or alliance staff.

    Raises NotFound for anyone else (a third party, and a draft's other party), as the MoU's page does."""
    agreement = agreements.get_agreement(actor, agreement_id)
    staff = is_alliance_staff(actor)
    role = agreement.role_of(actor.organisation_id)
    if not staff and role not in TRADING_ROLES:
        raise NotFound()
    return agreement, role if role in TRADING_ROLES else None, staff


def acting(actor, agreement_id):
    """agreement_for, for a change: a party must also be allowed to trade (a verified organisation)."""
    agreement, role, staff = agreement_for(actor, agreement_id)
    if not staff:
        require(actor, Permission.SIGN_AGREEMENTS)
    return agreement, role, staff


def require_staff(actor):
    if not is_alliance_staff(actor):
        raise Forbidden(_l("Only cooperative alliance staff can do this."), code="alliance_only")


def text(value, errors, name, max_length, required=False):
    """Text as stored: NFC, trimmed, without NUL; an error on `name` when required and empty, or too long."""
    value = textinput.clean(str(value or "")).replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors[name] = _l("This text is not valid.")
        return ""
    if required and not textinput.has_letter_or_digit(value):
        errors[name] = _l("This field is required.")
    elif len(value) > max_length:
        errors[name] = _l("Use at most %(max)s characters.", max=max_length)
    return value


def day(value, errors, name):
    """A date from a date or an ISO string (YYYY-MM-DD); an error on `name` otherwise."""
    if isinstance(value, date):
        return value
    try:
        parsed = date.fromisoformat(str(value or "").strip())
    except ValueError:
        parsed = None
    if parsed is None or not 2000 <= parsed.year <= 2100:
        errors[name] = _l("Enter a date.")
        return None
    return parsed


def party_of(agreement, role):
    return agreement.buyer if role == PartyRole.BUYER else agreement.seller


def email(agreement, organisations, subject, message):
    """Email the people who answer for each organisation about this MoU: owners and members with the signing
    right of a party, every active person of the alliance (outbox, sent after the commit)."""
    link = notifications.link("agreements.detail", agreement_id=agreement.id)
    seen = set()
    for organisation in organisations:
        if organisation is None or organisation.id in seen:
            continue
        seen.add(organisation.id)
        for member in organisation.members:
            if member.may_sign or (organisation.is_alliance and member.is_active):
                notifications.send(member.email, subject, "agreement_step", member.locale, user=member,
                                   agreement=agreement, message=message, link=link)
