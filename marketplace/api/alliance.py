"""API v1 of the alliance's follow-up (issue 11), for token clients.

GET /agreements/<id>/progress: a signed MoU's progress, for its parties and alliance staff (404 for anyone else,
and for an MoU not signed yet). GET /alliance/agreements: alliance staff only (403 `alliance_only` otherwise),
signed MoUs needing attention most urgent first, or every signed MoU of one tracking status with `?status=`.
Both are documented in openapi.py; the figures and rules are alliance/tracking.py's.
"""
from flask import g, jsonify
from flask_babel import lazy_gettext as _l

from marketplace.alliance import tracking
from marketplace.alliance.tracking_models import TrackingStatus
from marketplace.api import blueprint, token_required
from marketplace.api.agreements import AGREEMENT
from marketplace.api.catalog import _checked_args
from marketplace.errors import InvalidParameter
from marketplace.querystring import MAX_PAGE, whole_number_arg

MAX_PER_PAGE = 100
STATUSES = tuple(s.value for s in TrackingStatus)


def _moment(value):
    return value.isoformat() if value else None


def progress_json(progress):
    return {
        "agreement_id": progress.agreement_id,
        "status": progress.status.value,
        "time_elapsed_ratio": progress.time_elapsed_ratio,
        "volume_ratio": progress.volume_ratio,
        "last_order_at": _moment(progress.last_order_at),
        "lines": [{"product_id": line.product_id, "committed_qty": line.committed_qty,
                   "ordered_qty": line.ordered_qty, "delivered_qty": line.delivered_qty, "paid_vnd": line.paid_vnd,
                   "committed_value_vnd": line.committed_value_vnd} for line in progress.lines],
    }


def attention_json(item, agreement):
    progress = item.progress
    return {
        "agreement_id": item.agreement_id,
        "reference": agreement.reference,
        "state": agreement.state.value,
        "status": progress.status.value if progress else None,
        "urgency": item.urgency,
        "reasons": [{"code": reason.code, "message": str(reason.text)} for reason in item.reasons],
        "time_elapsed_ratio": progress.time_elapsed_ratio if progress else None,
        "volume_ratio": progress.volume_ratio if progress else None,
        "end_date": agreement.end_date.isoformat(),
    }


def _no_args(args):
    errors = {name: _l("Unknown parameter.") for name in sorted(set(args) - {"lang"})}
    if errors:
        raise InvalidParameter.for_parameters(errors)


def _list_args(args):
    errors, values = {}, {"status": None}
    for name in sorted(set(args) - {"status", "page", "per_page", "lang"}):
        errors[name] = _l("Unknown parameter.")
    if args.get("status") and args["status"] not in STATUSES:
        errors["status"] = _l("Use one of: %(values)s.", values=", ".join(STATUSES))
    elif args.get("status"):
        values["status"] = args["status"]
    values["page"] = whole_number_arg(args, "page", MAX_PAGE, 1, strict=True, errors=errors)
    values["per_page"] = whole_number_arg(args, "per_page", MAX_PER_PAGE, 20, strict=True, errors=errors)
    if errors:
        raise InvalidParameter.for_parameters(errors)
    return values


@blueprint.get(f"{AGREEMENT}/progress")
@token_required
def agreement_progress(agreement_id):
    _checked_args(_no_args)
    return jsonify(progress_json(tracking.progress_of(g.api_user, agreement_id)))


@blueprint.get("/alliance/agreements")
@token_required
def alliance_agreements():
    args = _checked_args(_list_args)
    page = tracking.needs_attention(g.api_user, **args)
    return jsonify({"results": [attention_json(item, page.agreements[item.agreement_id]) for item in page.items],
                    "total": page.total, "page": page.page, "per_page": page.per_page})
