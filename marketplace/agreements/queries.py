"""Read models for the MoU pages and the API: choices for the forms, the terms of a revision as form
values, and changes between two revisions in words. No rules: services.py decides."""
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import Organisation, OrganisationKind, OrganisationStatus, label
from marketplace.agreements import terms as agreement_terms
from marketplace.agreements.models import (
    Agreement,
    AgreementKind,
    AgreementState,
    ConferenceEvent,
    Period,
    PriceBasis,
)
from marketplace.catalog.models import Certification, Product, ProductStatus, Unit
from marketplace.errors import NotFound
from marketplace.extensions import db

# What each field of the terms is called on the pages (the keys of AgreementRevision.terms and of a line).
FIELD_LABELS = {
    "start_date": _l("Start date"),
    "end_date": _l("End date"),
    "delivery_place": _l("Place of delivery"),
    "delivery_frequency": _l("Delivery frequency"),
    "lead_time_days": _l("Lead time (days)"),
    "quality_standards": _l("Quality standards"),
    "quality_certifications": _l("Certifications required"),
    "sampling": _l("Sampling and inspection"),
    "payment_terms": _l("Payment terms"),
    "buyer_responsibilities": _l("Buyer's responsibilities"),
    "seller_responsibilities": _l("Seller's responsibilities"),
    "clauses": _l("Other clauses"),
    "quantity": _l("Expected quantity"),
    "period": _l("Period"),
    "price_basis": _l("Price basis"),
    "unit_price_vnd": _l("Unit price"),
    "reference_price_vnd": _l("Reference price"),
    "adjustment_percent": _l("Adjustment (%)"),
}


def counterparty_choices(organisation):
    """(id, legal name) of the verified organisations `organisation` may make an MoU with (the other kind)."""
    other = OrganisationKind.COOPERATIVE if organisation.is_enterprise else OrganisationKind.ENTERPRISE
    rows = db.session.execute(sa.select(Organisation.id, Organisation.legal_name).where(
        Organisation.kind == other, Organisation.status == OrganisationStatus.VERIFIED)
        .order_by(Organisation.legal_name, Organisation.id))
    return [(row.id, row.legal_name) for row in rows]


def verified_organisations(kind):
    """(id, legal name) of the verified organisations of a kind (OrganisationKind)."""
    rows = db.session.execute(sa.select(Organisation.id, Organisation.legal_name).where(
        Organisation.kind == kind, Organisation.status == OrganisationStatus.VERIFIED)
        .order_by(Organisation.legal_name, Organisation.id))
    return [(row.id, row.legal_name) for row in rows]


def public_product_choices():
    """(id, "cooperative — product (unit)") of every public product, for the alliance's batch form."""
    products = db.session.scalars(sa.select(Product).join(Product.cooperative).where(
        Product.status == ProductStatus.PUBLISHED, Organisation.status == OrganisationStatus.VERIFIED)
        .order_by(Organisation.legal_name, Product.name))
    return [(p.id, f"{p.cooperative.legal_name} — {p.name} ({label(p.unit)})") for p in products]


def verified_cooperative(cooperative_id):
    """A verified cooperative by id, or None."""
    organisation = db.session.get(Organisation, cooperative_id) if cooperative_id else None
    if organisation is None or not organisation.is_cooperative or not organisation.is_verified:
        return None
    return organisation


def public_product(product_id):
    """A published product of a verified cooperative, or None (for `?product_id=` links)."""
    product = db.session.get(Product, product_id) if product_id else None
    if product is None or not product.is_public:
        return None
    return product


def product_choices(seller_id):
    """(id, "name (unit)") of the seller's published products, which MoU lines may name."""
    products = db.session.scalars(sa.select(Product).where(
        Product.cooperative_id == seller_id, Product.status == ProductStatus.PUBLISHED).order_by(Product.name))
    return [(p.id, f"{p.name} ({label(p.unit)})") for p in products]


def event_choices():
    """(id, "name · date") of the alliance's conferences, newest first."""
    events = db.session.scalars(sa.select(ConferenceEvent).order_by(ConferenceEvent.held_on.desc(),
                                                                     ConferenceEvent.id.desc()))
    return [(e.id, f"{e.name} · {e.held_on.strftime('%d/%m/%Y')}") for e in events]


def period_choices():
    return [(p.value, label(p)) for p in Period]


def price_basis_choices():
    return [(b.value, label(b)) for b in PriceBasis]


def certification_choices():
    return [(c.value, label(c)) for c in Certification]


def unit_label(code):
    try:
        return label(Unit(code))
    except ValueError:
        return code


def certification_label(code):
    try:
        return label(Certification(code))
    except ValueError:
        return code


def form_values(revision):
    """The terms of a revision as the form's field values (the draft edited, or changes proposed from it)."""
    terms = revision.terms
    values = {name: terms.get(name) or "" for name in agreement_terms.TEXT_FIELDS}
    values.update({
        "start_date": terms.get("start_date") or "",
        "end_date": terms.get("end_date") or "",
        "lead_time_days": "" if terms.get("lead_time_days") is None else str(terms["lead_time_days"]),
        "quality_certifications": list(terms.get("quality_certifications") or []),
        "clauses": "\n\n".join(terms.get("clauses") or []),
        "lines": [{
            "product_id": str(line.product_id or ""), "quantity": str(line.quantity), "period": line.period.value,
            "price_basis": line.price_basis.value,
            "unit_price_vnd": str(line.unit_price_vnd) if line.price_basis == PriceBasis.FIXED else "",
            "reference_price_vnd": "" if line.reference_price_vnd is None else str(line.reference_price_vnd),
            "adjustment_percent": "" if line.adjustment_percent is None else str(line.adjustment_percent),
        } for line in revision.lines],
    })
    return values


# ---------------------------------------------------------------- changes between revisions

@dataclass
class ChangeRow:
    """One change as the page shows it: what changed, before and after (in words), and for long texts the
    diff lines (each with a kind: "added", "removed" or "same")."""

    name: str
    before: str
    after: str
    diff: list


def change_rows(old, new):
    """The changes from revision `old` to revision `new`, in words, field by field."""
    names = {line.product_id: line.name for revision in (old, new) for line in revision.lines}
    rows = []
    for change in agreement_terms.compare(old, new):
        parts = change.field.split(".")
        if parts[0] == "lines":
            product = names.get(_int(parts[1]), _l("a product"))
            if len(parts) == 2:
                name = _l("Product %(name)s", name=product)
                before = str(_l("in the MoU")) if change.before else str(_l("not in the MoU"))
                after = str(_l("in the MoU")) if change.after else str(_l("not in the MoU"))
                rows.append(ChangeRow(str(name), before, after, []))
                continue
            name = f"{product}: {FIELD_LABELS.get(parts[2], parts[2])}"
            rows.append(ChangeRow(name, _words(parts[2], change.before), _words(parts[2], change.after), []))
            continue
        diff = [_diff_line(text) for text in change.diff]
        rows.append(ChangeRow(str(FIELD_LABELS.get(change.field, change.field)), _words(change.field, change.before),
                              _words(change.field, change.after), diff))
    return rows


def _int(text):
    try:
        return int(text)
    except ValueError:
        return None


def _words(name, value):
    from marketplace.i18n import short_date, vnd

    if value is None or value == "" or value == []:
        return "—"
    if name in ("start_date", "end_date"):
        from datetime import date

        return short_date(date.fromisoformat(value))
    if name in ("unit_price_vnd", "reference_price_vnd"):
        return vnd(value)
    if name == "quantity":
        from flask_babel import format_decimal

        return format_decimal(value)
    if name == "period":
        return str(label(Period(value)))
    if name == "price_basis":
        return str(label(PriceBasis(value)))
    if name == "quality_certifications":
        return ", ".join(str(certification_label(code)) for code in value)
    if name == "clauses":
        return "\n\n".join(value)
    if hasattr(value, "value"):
        return str(label(value))
    return str(value)


def _diff_line(text):
    if text.startswith("@@"):
        return {"kind": "gap", "text": "…"}
    kind = {"+": "added", "-": "removed"}.get(text[:1], "same")
    return {"kind": kind, "text": text[1:] if text[:1] in "+- " else text}


# ---------------------------------------------------------------- for orders

def mous_in_force(buyer_id, seller_id, on):
    """The signed MoUs between this enterprise and this cooperative whose term holds the date `on`
    (orders may be placed under them), newest first."""
    return db.session.scalars(
        sa.select(Agreement)
        .where(Agreement.kind == AgreementKind.MOU, Agreement.state == AgreementState.SIGNED,
               Agreement.buyer_id == buyer_id, Agreement.seller_id == seller_id,
               Agreement.start_date <= on, Agreement.end_date >= on)
        .order_by(Agreement.signed_at.desc(), Agreement.id.desc())).all()


def agreed_unit_prices(agreement):
    """{product_id: unit price in VND} of the terms in force (a signed addendum's, else the MoU's)."""
    revision = agreement.revision_in_force()
    if revision is None:
        return {}
    return {line.product_id: line.unit_price_vnd for line in revision.lines if line.product_id is not None}


# ---------------------------------------------------------------- for the alliance's follow-up

# The MoUs whose fulfilment is followed: signed ones, in force or ended since (expired, or recorded as carried out).
TRACKED_STATES = (AgreementState.SIGNED, AgreementState.EXPIRED, AgreementState.COMPLETED)


class TrackedAgreement(NamedTuple):
    """What follow-up needs of a signed MoU (plain values: the list of every MoU loads no objects)."""

    id: int
    reference: str
    state: AgreementState
    buyer_id: int
    seller_id: int
    witness_id: int | None
    start_date: date
    end_date: date
    signed_at: datetime | None


class CommittedLine(NamedTuple):
    """A line of the terms in force (a signed addendum's, else the MoU's agreed revision)."""

    agreement_id: int
    product_id: int | None
    name: str
    unit: str
    quantity: int  # per period
    period: Period
    unit_price_vnd: int


def tracked_agreements(agreement_ids=None):
    """{id: TrackedAgreement} of the signed MoUs (kind MOU, signed, then in force, expired or completed), or of
    those among `agreement_ids`. One query."""
    statement = sa.select(Agreement.id, Agreement.reference, Agreement.state, Agreement.buyer_id,
                          Agreement.seller_id, Agreement.witness_id, Agreement.start_date, Agreement.end_date,
                          Agreement.signed_at).where(
        Agreement.kind == AgreementKind.MOU, Agreement.state.in_(TRACKED_STATES), Agreement.signed_at.is_not(None))
    if agreement_ids is not None:
        statement = statement.where(Agreement.id.in_(list(agreement_ids)))
    return {row.id: TrackedAgreement._make(row) for row in db.session.execute(statement)}


def committed_lines(agreement_ids=None):
    """{MoU id: [CommittedLine]} of the terms in force of these MoUs (all MoUs when None): a signed addendum's
    agreed lines replace the MoU's. Two queries, whatever the number of MoUs."""
    from marketplace.agreements.models import AgreementLine, AgreementRevision

    addendum = sa.orm.aliased(Agreement)
    latest = (sa.select(addendum.parent_id, addendum.id, addendum.signed_at)
              .where(addendum.kind == AgreementKind.ADDENDUM,
                     addendum.state.in_([AgreementState.SIGNED, AgreementState.COMPLETED]),
                     addendum.signed_at.is_not(None)))
    if agreement_ids is not None:
        latest = latest.where(addendum.parent_id.in_(list(agreement_ids)))
    source = {}  # MoU id → the agreement whose agreed lines are in force
    for row in db.session.execute(latest.order_by(addendum.signed_at, addendum.id)):
        source[row.parent_id] = row.id  # ordered: the latest signed addendum wins
    statement = (sa.select(Agreement.id, Agreement.parent_id, AgreementLine.product_id, AgreementLine.name,
                           AgreementLine.unit, AgreementLine.quantity, AgreementLine.period,
                           AgreementLine.unit_price_vnd)
                 .join(AgreementRevision, AgreementRevision.agreement_id == Agreement.id)
                 .join(AgreementLine, AgreementLine.revision_id == AgreementRevision.id)
                 .where(AgreementRevision.number == Agreement.agreed_revision_number)
                 .order_by(Agreement.id, AgreementLine.position))
    if agreement_ids is not None:
        ids = list(agreement_ids)
        statement = statement.where(sa.or_(Agreement.id.in_(ids), Agreement.id.in_(list(source.values()))))
    else:
        statement = statement.where(sa.or_(
            sa.and_(Agreement.kind == AgreementKind.MOU, Agreement.state.in_(TRACKED_STATES)),
            Agreement.id.in_(list(source.values()))))
    lines = {}
    for row in db.session.execute(statement):
        mou_id = row.parent_id if row.parent_id is not None else row.id
        if row.parent_id is None and mou_id in source:
            continue  # replaced by a signed addendum
        if row.parent_id is not None and source.get(mou_id) != row.id:
            continue  # an older addendum
        lines.setdefault(mou_id, []).append(CommittedLine(mou_id, row.product_id, row.name, row.unit, row.quantity,
                                                          row.period, row.unit_price_vnd))
    return lines


def awaiting_signatures_since(before):
    """[(id, reference, state_changed_at)] of the MoUs waiting for signatures since before `before` (a datetime)."""
    rows = db.session.execute(sa.select(Agreement.id, Agreement.reference, Agreement.state_changed_at).where(
        Agreement.state.in_([AgreementState.AWAITING_SIGNATURES, AgreementState.PARTIALLY_SIGNED]),
        Agreement.state_changed_at < before).order_by(Agreement.state_changed_at, Agreement.id))
    return [tuple(row) for row in rows]


# ---------------------------------------------------------------- read models of the alliance's dashboard

def _signed_mous():
    return (Agreement.kind == AgreementKind.MOU, Agreement.state.in_(TRACKED_STATES),
            Agreement.signed_at.is_not(None))


def mous_by_state():
    """[(AgreementState, count)] of the MoUs (not addenda) by state, drafts left out (only their author sees a
    draft): one GROUP BY query."""
    statement = (sa.select(Agreement.state, sa.func.count()).where(
        Agreement.kind == AgreementKind.MOU, Agreement.state != AgreementState.DRAFT).group_by(Agreement.state))
    order = {state: i for i, state in enumerate(AgreementState)}
    return sorted((tuple(row) for row in db.session.execute(statement)), key=lambda row: order[row[0]])


class EventCount(NamedTuple):
    event_id: int
    name: str
    held_on: date
    mous: int  # signed MoUs prepared for it


SIGNED_MOU_DIMENSIONS = {"event": Agreement.event_id, "province": Organisation.province_code,
                         "sector": Organisation.sector}


def signed_mou_ids_by(dimension):
    """{value: [MoU id]} of the signed MoUs (TRACKED_STATES) by `dimension`: "event" (the conference it was
    prepared for, an id), or the selling cooperative's "province" (code) or "sector" (Sector); None for no
    value. One query (the dashboard adds up each group's progress from tracking.progress_map). Raises ValueError
    for another dimension."""
    return signed_mou_groups((dimension,))[dimension]


def signed_mou_groups(dimensions):
    """{dimension: {value: [MoU id]}} as signed_mou_ids_by for each of `dimensions`, from one query (the
    dashboard's three groupings). Raises ValueError for an unknown dimension."""
    unknown = set(dimensions) - set(SIGNED_MOU_DIMENSIONS)
    if unknown:
        raise ValueError(sorted(unknown)[0])
    statement = (sa.select(Agreement.id, *(SIGNED_MOU_DIMENSIONS[d] for d in dimensions))
                 .join(Organisation, Organisation.id == Agreement.seller_id)
                 .where(*_signed_mous()).order_by(Agreement.id))
    groups = {dimension: {} for dimension in dimensions}
    for agreement_id, *values in db.session.execute(statement):
        for dimension, value in zip(dimensions, values, strict=True):
            groups[dimension].setdefault(value, []).append(agreement_id)
    return groups


def conference_event(event_id):
    """A ConferenceEvent by id. Raises NotFound when there is none."""
    event = db.session.get(ConferenceEvent, event_id) if event_id else None
    if event is None:
        raise NotFound()
    return event


def conference_events():
    """[EventCount] of every conference, newest first, with its number of signed MoUs (one query)."""
    signed = sa.func.count(Agreement.id)
    statement = (sa.select(ConferenceEvent.id, ConferenceEvent.name, ConferenceEvent.held_on, signed)
                 .outerjoin(Agreement, sa.and_(Agreement.event_id == ConferenceEvent.id, *_signed_mous()))
                 .group_by(ConferenceEvent.id, ConferenceEvent.name, ConferenceEvent.held_on)
                 .order_by(ConferenceEvent.held_on.desc(), ConferenceEvent.id.desc()))
    return [EventCount._make(row) for row in db.session.execute(statement)]


class EventMou(NamedTuple):
    id: int
    reference: str
    seller_name: str
    buyer_name: str
    signed_at: datetime


def event_mous(event_id):
    """[EventMou] of the signed MoUs prepared for one conference, by reference (one query)."""
    seller = sa.orm.aliased(Organisation)
    buyer = sa.orm.aliased(Organisation)
    statement = (sa.select(Agreement.id, Agreement.reference, seller.legal_name, buyer.legal_name, Agreement.signed_at)
                 .join(seller, seller.id == Agreement.seller_id).join(buyer, buyer.id == Agreement.buyer_id)
                 .where(Agreement.event_id == event_id, *_signed_mous()).order_by(Agreement.reference))
    return [EventMou._make(row) for row in db.session.execute(statement)]
