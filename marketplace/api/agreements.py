"""API v1 of memoranda of understanding (issue 9), for token clients.

GET /agreements (a party sees its own, alliance staff every one; filters state, event_id, organisation_id,
pages), POST /agreements (create a draft), GET /agreements/<id> (with lines, revisions and the evidence log),
GET /agreements/<id>/document.pdf, and the actions POST /agreements/<id>/revisions, /send, /accept, /decline,
/withdraw, /sign (with the password), /void. Handlers check only the JSON shape and types; services.py decides
the rest and its errors keep their codes: 409 `invalid_transition`, `superseded_revision`, `already_signed`;
403 `no_signing_right`; 422 `validation_failed` with a message per field; 404 for anyone who is not a party.
"""
import io
import re

from flask import g, jsonify, request, send_file, url_for
from flask_babel import lazy_gettext as _l

from marketplace.agreements import services
from marketplace.agreements.models import AgreementState
from marketplace.agreements.terms import TermsDetails
from marketplace.api import blueprint, token_required
from marketplace.api.catalog import UnknownFields, _checked_args, _json_object, _whole
from marketplace.errors import InvalidParameter, ValidationFailed
from marketplace.querystring import MAX_PAGE, whole_number_arg
from marketplace.routing import MAX_ID

AGREEMENT = "/agreements/<id:agreement_id>"
MAX_PER_PAGE = 100
STATES = tuple(s.value for s in AgreementState)
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# The terms a client writes (terms.TermsDetails), with their JSON types.
TERM_TEXTS = ("delivery_place", "delivery_frequency", "quality_standards", "sampling", "payment_terms",
              "buyer_responsibilities", "seller_responsibilities")
TERM_FIELDS = frozenset((*TERM_TEXTS, "lines", "start_date", "end_date", "lead_time_days", "quality_certifications",
                         "clauses"))
CREATE_FIELDS = TERM_FIELDS | {"counterparty_id", "witness", "event_id", "note"}
REVISE_FIELDS = TERM_FIELDS | {"note"}
LINE_FIELDS = {"product_id", "quantity", "period", "price_basis", "unit_price_vnd", "reference_price_vnd",
               "adjustment_percent"}


def _audit():
    return services.Audit(ip_address=request.remote_addr or "", user_agent=request.user_agent.string or "")


# ---------------------------------------------------------------- query parameters

def _list_args(args):
    errors, values = {}, {}
    for name in sorted(set(args) - {"state", "event_id", "organisation_id", "page", "per_page"}):
        errors[name] = _l("Unknown parameter.")
    if "state" in args and args["state"] not in STATES:
        errors["state"] = _l("Use one of: %(values)s.", values=", ".join(STATES))
    values["state"] = args.get("state") or None
    for name in ("event_id", "organisation_id"):
        values[name] = whole_number_arg(args, name, MAX_ID, strict=True, errors=errors)
    values["page"] = whole_number_arg(args, "page", MAX_PAGE, 1, strict=True, errors=errors)
    values["per_page"] = whole_number_arg(args, "per_page", MAX_PER_PAGE, 20, strict=True, errors=errors)
    if errors:
        raise InvalidParameter.for_parameters(errors)
    return values


# ---------------------------------------------------------------- request bodies

def _body(allowed, required=()):
    """The JSON object, refusing fields a client may not write (400 unknown_fields)."""
    body = _json_object()
    unknown = {name: _l("Unknown field.") for name in sorted(set(body) - allowed)}
    if unknown:
        raise UnknownFields(_l("The body has fields that cannot be written."), errors=unknown)
    missing = {name: _l("This field is required.") for name in required if body.get(name) is None}
    if missing:
        raise ValidationFailed.for_fields(missing)
    return body


def _string(body, name, errors):
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        errors[name] = _l("Give a string.")
        return None
    return value


def _number(body, name, errors, prefix=""):
    value = body.get(name)
    if value is None:
        return None
    number = _whole(value)
    if number is None:
        errors[prefix + name] = _l("Give a whole number.")
    return number


def _terms(body):
    """terms.TermsDetails from the body's JSON values; wrong JSON types are 422 per field (the services
    check everything else)."""
    errors, values = {}, {}
    for name in TERM_TEXTS:
        values[name] = _string(body, name, errors) or ""
    for name in ("start_date", "end_date"):
        value = _string(body, name, errors)
        if value is not None and not DATE.fullmatch(value):
            errors[name] = _l("Enter a date as YYYY-MM-DD.")
        values[name] = value
    values["lead_time_days"] = _number(body, "lead_time_days", errors)
    for name in ("quality_certifications", "clauses"):
        value = body.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            errors[name] = _l("Give a list of strings.")
            value = None
        values[name] = value or []
    values["lines"] = _lines(body.get("lines"), errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return TermsDetails.from_mapping(values)


def _lines(rows, errors):
    if rows is None:
        return []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        errors["lines"] = _l("Give a list of product lines (objects).")
        return []
    lines = []
    for position, row in enumerate(rows):
        prefix = f"lines.{position}."
        unknown = sorted(set(row) - LINE_FIELDS)
        for name in unknown:
            errors[prefix + name] = _l("Unknown field.")
        line = {name: _number(row, name, errors, prefix)
                for name in ("product_id", "quantity", "unit_price_vnd", "reference_price_vnd", "adjustment_percent")}
        for name in ("period", "price_basis"):
            value = row.get(name)
            if value is not None and not isinstance(value, str):
                errors[prefix + name] = _l("Give a string.")
                value = None
            line[name] = value
        if line["adjustment_percent"] is not None:
            line["adjustment_percent"] = str(line["adjustment_percent"])  # the service reads a signed number
        lines.append(line)
    return lines


# ---------------------------------------------------------------- JSON shapes (documented in openapi.py)

def _day(value):
    return value.isoformat() if value else None


def _moment(value):
    return value.isoformat() if value else None


def line_json(line):
    return {"product_id": line.product_id, "name": line.name, "unit": line.unit, "quantity": line.quantity,
            "period": line.period.value, "price_basis": line.price_basis.value, "unit_price_vnd": line.unit_price_vnd,
            "reference_price_vnd": line.reference_price_vnd, "adjustment_percent": line.adjustment_percent}


def agreement_json(agreement):
    """An agreement as a list shows it: parties, state, term and the lines of its current terms."""
    revision = agreement.revision_in_force() or agreement.latest_revision  # a signed addendum's terms, if any
    return {
        "id": agreement.id,
        "reference": agreement.reference,
        "kind": agreement.kind.value,
        "parent_id": agreement.parent_id,
        "state": agreement.state.value,
        "parties": [{"organisation_id": organisation.id, "name": organisation.legal_name, "role": role.value}
                    for role, organisation in agreement.parties()],
        "event_id": agreement.event_id,
        "start_date": _day(agreement.start_date),
        "end_date": _day(agreement.end_date),
        "revision_number": revision.number if revision else None,
        "agreed_revision_number": agreement.agreed_revision_number,
        "awaiting": [organisation.id for organisation in agreement.awaited()],
        "lines": [line_json(line) for line in revision.lines] if revision else [],
        "is_demo": agreement.is_demo,
        "url": url_for("api.agreement", agreement_id=agreement.id, _external=True),
    }


def agreement_detail_json(agreement, events):
    return {
        **agreement_json(agreement),
        "state_reason": agreement.state_reason or None,
        "void_requested_by_id": agreement.void_requested_by_id,
        "original_sha256": agreement.original_sha256,
        "document_sha256": agreement.document_sha256,
        "document_url": (url_for("api.agreement_document", agreement_id=agreement.id, _external=True)
                         if agreement.has_document else None),
        "revisions": [{
            "number": revision.number,
            "author_organisation_id": revision.author_id,
            "created_at": _moment(revision.created_at),
            "note": revision.note,
            "content_sha256": revision.content_sha256,
            "terms": revision.terms,
            "lines": [line_json(line) for line in revision.lines],
        } for revision in agreement.revisions],
        "signatures": [{
            "organisation_id": signature.organisation_id,
            "role": signature.role.value,
            "revision_number": signature.revision_number,
            "signed_at": _moment(signature.signed_at),
            "certificate_serial": signature.certificate_serial,
            "sha256_before": signature.sha256_before,
            "sha256_after": signature.sha256_after,
        } for signature in agreement.signatures],
        "events": [{
            "kind": event.kind.value,
            "created_at": _moment(event.created_at),
            "organisation_id": event.organisation_id,
            "user": event.user.full_name if event.user else None,
            "revision_number": event.revision_number,
            "document_sha256": event.document_sha256 or None,
            "ip_address": event.ip_address or None,
            "user_agent": event.user_agent or None,
            "note": event.note or None,
        } for event in events],
    }


def _one(agreement, status=200, headers=None):
    agreement = services.get_agreement(g.api_user, agreement.id)
    return jsonify(agreement_detail_json(agreement, services.events_of(g.api_user, agreement))), status, headers or {}


# ---------------------------------------------------------------- reads

@blueprint.get("/agreements")
@token_required
def agreements():
    args = _checked_args(_list_args)
    pagination = services.list_agreements(g.api_user, **args)
    return jsonify({"results": [agreement_json(a) for a in pagination.items], "total": pagination.total,
                    "page": pagination.page})


@blueprint.get(AGREEMENT)
@token_required
def agreement(agreement_id):
    _checked_args(_list_args_none)
    return _one(services.get_agreement(g.api_user, agreement_id))


def _list_args_none(args):
    errors = {name: _l("Unknown parameter.") for name in sorted(args)}
    if errors:
        raise InvalidParameter.for_parameters(errors)


@blueprint.get(f"{AGREEMENT}/document.pdf")
@token_required
def agreement_document(agreement_id):
    """The current PDF (with the signatures made so far); recorded in the evidence log."""
    _checked_args(_list_args_none)
    name, data = services.download(g.api_user, agreement_id, services.DOCUMENT, audit=_audit())
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name)


# ---------------------------------------------------------------- writes

@blueprint.post("/agreements")
@token_required
def create_agreement():
    body = _body(CREATE_FIELDS, required=("counterparty_id",))
    errors = {}
    counterparty_id = _number(body, "counterparty_id", errors)
    event_id = _number(body, "event_id", errors)
    note = _string(body, "note", errors)
    witness = body.get("witness", False)
    if not isinstance(witness, bool):
        errors["witness"] = _l("Give true or false.")
    if errors:
        raise ValidationFailed.for_fields(errors)
    details = _terms(body)
    agreement = services.draft(g.api_user, counterparty_id, details, witness=witness, event_id=event_id,
                               note=note or "", audit=_audit())
    return _one(agreement, 201, {"Location": url_for("api.agreement", agreement_id=agreement.id, _external=True)})


@blueprint.post(f"{AGREEMENT}/revisions")
@token_required
def revise_agreement(agreement_id):
    body = _body(REVISE_FIELDS)
    errors = {}
    note = _string(body, "note", errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return _one(services.revise(g.api_user, agreement_id, _terms(body), note=note or "", audit=_audit()))


def _optional_body(allowed):
    """An action's JSON object; an empty body counts as {} (the actions without fields)."""
    if not request.get_data():
        return {}
    return _body(allowed)


def _revision_number(body):
    errors = {}
    number = _number(body, "revision_number", errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return number


def _reason(body):
    errors = {}
    reason = _string(body, "reason", errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return reason


@blueprint.post(f"{AGREEMENT}/send")
@token_required
def send_agreement(agreement_id):
    _optional_body(frozenset())
    return _one(services.send(g.api_user, agreement_id, audit=_audit()))


@blueprint.post(f"{AGREEMENT}/accept")
@token_required
def accept_agreement(agreement_id):
    number = _revision_number(_optional_body({"revision_number"}))
    return _one(services.accept(g.api_user, agreement_id, number, audit=_audit()))


@blueprint.post(f"{AGREEMENT}/decline")
@token_required
def decline_agreement(agreement_id):
    reason = _reason(_optional_body({"reason"}))
    return _one(services.decline(g.api_user, agreement_id, reason, audit=_audit()))


@blueprint.post(f"{AGREEMENT}/withdraw")
@token_required
def withdraw_agreement(agreement_id):
    reason = _reason(_optional_body({"reason"}))
    return _one(services.withdraw(g.api_user, agreement_id, reason, audit=_audit()))


@blueprint.post(f"{AGREEMENT}/sign")
@token_required
def sign_agreement(agreement_id):
    body = _optional_body({"password", "revision_number"})
    errors = {}
    password = _string(body, "password", errors)
    number = _number(body, "revision_number", errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return _one(services.sign(g.api_user, agreement_id, password or "", revision_number=number, audit=_audit()))


@blueprint.post(f"{AGREEMENT}/void")
@token_required
def void_agreement(agreement_id):
    """Ask to void a signed MoU (with a reason), or confirm the other party's request."""
    reason = _reason(_optional_body({"reason"}))
    return _one(services.void(g.api_user, agreement_id, reason, audit=_audit()))
