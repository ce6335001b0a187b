"""Use cases of inquiries. A verified enterprise asks about a public product; the buyer and the cooperative reply
in turn as they like; each message is emailed to the other side's active members (outbox) and recorded as an
InquiryEvent. Anyone but the two parties gets NotFound (the alliance does not read buyers' questions).
"""
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from marketplace import notifications
from marketplace.accounts.authz import Permission, require
from marketplace.agreements.models import Period
from marketplace.agreements.terms import MAX_PRICE_VND, MAX_QUANTITY, plain
from marketplace.catalog.models import Product
from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.inquiries.models import Inquiry, InquiryEvent, InquiryEventKind, InquiryMessage
from marketplace.querystring import whole_number
from marketplace.routing import MAX_ID
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

MAX_MESSAGE = 4000
MAX_PLACE = 200


@dataclass
class MessageDetails:
    """What a person writes: the message, and figures it proposes (text from a form, values from JSON)."""

    body: object = ""
    quantity: object = None
    period: object = None
    unit_price_vnd: object = None
    wants_samples: bool = False
    delivery_place: object = ""

    @classmethod
    def from_mapping(cls, data):
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in (data or {}).items() if key in known and value is not None})


@dataclass
class CleanMessage:
    body: str
    quantity: int | None
    period: Period | None
    unit_price_vnd: int | None
    wants_samples: bool
    delivery_place: str


def _clean(details):
    """Check a message; raises ValidationFailed with an error per field."""
    errors = {}
    body = plain(details.body)
    if body is None:
        errors["body"] = _l("Use only valid text characters.")
    elif not body:
        errors["body"] = _l("Write your message.")
    elif len(body) > MAX_MESSAGE:
        errors["body"] = _l("Use at most %(max)s characters.", max=MAX_MESSAGE)
    numbers = {}
    for name, maximum in (("quantity", MAX_QUANTITY), ("unit_price_vnd", MAX_PRICE_VND)):
        value = getattr(details, name)
        if value in (None, ""):
            numbers[name] = None
            continue
        readable = isinstance(value, (int, str)) and not isinstance(value, bool)
        numbers[name] = whole_number(str(value).strip(), 1, maximum) if readable else None
        if numbers[name] is None:
            errors[name] = _l("Give a whole number from %(min)s to %(max)s.", min=1, max=maximum)
    period = None
    if details.period not in (None, ""):
        try:
            period = Period(details.period)
        except ValueError:
            errors["period"] = _l("Choose one of the listed values.")
    place = plain(details.delivery_place)
    if place is None or len(place) > MAX_PLACE:
        errors["delivery_place"] = _l("Use at most %(max)s characters.", max=MAX_PLACE)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return CleanMessage(body, numbers["quantity"], period, numbers["unit_price_vnd"], bool(details.wants_samples),
                        place)


# ---------------------------------------------------------------- reading

def get_inquiry(actor, inquiry_id):
    """A thread of the actor's organisation (buyer or cooperative). Raises NotFound otherwise."""
    inquiry = db.session.get(Inquiry, inquiry_id) if isinstance(inquiry_id, int) and 1 <= inquiry_id <= MAX_ID else None
    if inquiry is None or not getattr(actor, "is_authenticated", False) or not inquiry.is_party(actor.organisation_id):
        raise NotFound()
    return inquiry


def inbox(actor, page=1, per_page=20):
    """The threads of the actor's organisation, latest message first (a Flask-SQLAlchemy pagination)."""
    own = actor.organisation_id
    statement = (sa.select(Inquiry).where(sa.or_(Inquiry.buyer_id == own, Inquiry.seller_id == own))
                 .order_by(Inquiry.last_message_at.desc(), Inquiry.id.desc()))
    return db.paginate(statement, page=page, per_page=per_page, error_out=False)


def awaiting_answer(actor, limit=5):
    """(count, [Inquiry]) of the actor's organisation's threads whose last message came from the other side,
    oldest wait first, at most `limit` listed (two queries; both parties loaded with the rows)."""
    own = actor.organisation_id
    condition = sa.and_(sa.or_(Inquiry.buyer_id == own, Inquiry.seller_id == own),
                        Inquiry.last_author_id.is_not(None), Inquiry.last_author_id != own)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Inquiry).where(condition)) or 0
    rows = db.session.scalars(sa.select(Inquiry).where(condition)
                              .options(joinedload(Inquiry.buyer), joinedload(Inquiry.seller))
                              .order_by(Inquiry.last_message_at, Inquiry.id).limit(limit)).all() if count else []
    return count, rows


def public_product(product_id):
    """The product a buyer asks about: published, of a verified cooperative. Raises NotFound."""
    product = db.session.get(Product, product_id) if isinstance(product_id, int) and 1 <= product_id <= MAX_ID else None
    if product is None or not product.is_public:
        raise NotFound()
    return product


def draft_values(actor, inquiry_id):
    """What an MoU drafted from the thread starts with: the counterparty, the product and the figures discussed."""
    inquiry = get_inquiry(actor, inquiry_id)
    return {
        "inquiry": inquiry,
        "counterparty_id": inquiry.other_side(actor.organisation_id).id,
        "product_id": inquiry.product_id,
        "quantity": inquiry.quantity,
        "period": inquiry.period.value if inquiry.period else None,
        "unit_price_vnd": inquiry.unit_price_vnd,
        "delivery_place": inquiry.delivery_place,
    }


# ---------------------------------------------------------------- writing

def _record(inquiry, kind, actor, note=""):
    db.session.add(InquiryEvent(inquiry_id=inquiry.id, kind=kind, organisation_id=actor.organisation_id,
                                actor_id=actor.id, note=note))


def _add_message(inquiry, actor, clean):
    message = InquiryMessage(organisation_id=actor.organisation_id, author=actor, body=clean.body,
                             quantity=clean.quantity, unit_price_vnd=clean.unit_price_vnd)
    inquiry.messages.append(message)
    inquiry.last_message_at = utcnow()
    inquiry.last_author_id = actor.organisation_id
    if clean.quantity is not None:
        inquiry.quantity = clean.quantity
    if clean.period is not None:
        inquiry.period = clean.period
    if clean.unit_price_vnd is not None:
        inquiry.unit_price_vnd = clean.unit_price_vnd
    if clean.delivery_place:
        inquiry.delivery_place = clean.delivery_place
    return message


def _notify(inquiry, actor, message):
    """Email the message to the other side's active members, each in their language (outbox)."""
    other = inquiry.other_side(actor.organisation_id)
    link = notifications.link("inquiries.thread", inquiry_id=inquiry.id)
    subject = _l("%(party)s about %(product)s", party=actor.organisation.legal_name, product=inquiry.product_name)
    for member in other.members:
        if member.is_active:
            notifications.send(member.email, subject, "inquiry_message", member.locale, user=member, inquiry=inquiry,
                               message=message, author=actor.organisation, link=link)


@unit_of_work()
def open_inquiry(actor, product_id, details):
    """A verified enterprise asks the cooperative about one of its public products.

    Raises Forbidden (not a verified enterprise), NotFound (no such public product), ValidationFailed.
    """
    require(actor, Permission.PLACE_ORDERS)
    product = public_product(product_id)
    clean = _clean(details)
    inquiry = Inquiry(buyer_id=actor.organisation_id, seller_id=product.cooperative_id, product_id=product.id,
                      product_name=product.name, created_by_id=actor.id, wants_samples=clean.wants_samples)
    db.session.add(inquiry)
    message = _add_message(inquiry, actor, clean)
    db.session.flush()
    _record(inquiry, InquiryEventKind.OPENED, actor, product.name)
    _notify(inquiry, actor, message)
    return inquiry


@unit_of_work()
def reply(actor, inquiry_id, details):
    """Either side writes in the thread, optionally proposing figures. Raises NotFound, ValidationFailed."""
    inquiry = get_inquiry(actor, inquiry_id)
    clean = _clean(details)
    message = _add_message(inquiry, actor, clean)
    if clean.wants_samples:
        inquiry.wants_samples = True
    _record(inquiry, InquiryEventKind.REPLIED, actor)
    _notify(inquiry, actor, message)
    return inquiry
