"""API v1 endpoints of the foundation: who am I, my organisation, the alliance's queue, geography."""
from flask import g, jsonify, request, url_for
from flask_babel import lazy_gettext as _l

from marketplace import geo
from marketplace.accounts import services as accounts
from marketplace.accounts.models import OrganisationStatus
from marketplace.api import blueprint, token_required
from marketplace.api.openapi import openapi_document
from marketplace.errors import InvalidParameter, NotFound
from marketplace.querystring import MAX_PAGE, whole_number_arg

MAX_QUERY_LENGTH = 200
ORGANISATION_STATUSES = tuple(s.value for s in OrganisationStatus)
REVIEWED_KINDS = tuple(k.value for k in accounts.SELF_REGISTERING_KINDS)


def _query_parameters():
    """The /organisations filters, checked against what openapi.py documents; raises InvalidParameter."""
    args, errors = request.args, {}
    # A misspelt filter (?staus=pending) must not silently return every organisation.
    for name in sorted(set(args) - {"page", "status", "kind", "q"}):
        errors[name] = _l("Unknown parameter: use page, status, kind or q.")
    page = whole_number_arg(args, "page", MAX_PAGE, 1, strict=True, errors=errors)
    for name, allowed in (("status", ORGANISATION_STATUSES), ("kind", REVIEWED_KINDS)):
        if name in args and args[name] not in allowed:
            errors[name] = _l("Use one of: %(values)s.", values=", ".join(allowed))
    query = args.get("q", "")
    if len(query) > MAX_QUERY_LENGTH:
        errors["q"] = _l("Use at most %(max)s characters.", max=MAX_QUERY_LENGTH)
    if errors:
        raise InvalidParameter.for_parameters(errors)
    return {"status": args.get("status"), "kind": args.get("kind"), "query": query, "page": page}


def organisation_json(organisation):
    return {
        "id": organisation.id,
        "kind": organisation.kind.value,
        "cooperative_type": organisation.cooperative_type.value if organisation.cooperative_type else None,
        "legal_name": organisation.legal_name,
        "tax_code": organisation.display_tax_code or None,
        "status": organisation.status.value,
        "status_reason": organisation.status_reason or None,
        "province": ({"code": organisation.province_code, "name": organisation.province_name}
                     if organisation.province_code else None),
        "commune": ({"code": organisation.commune_code, "name": organisation.commune_name}
                    if organisation.commune_code else None),
        "sector": organisation.sector.value if organisation.sector else None,
        "classification": organisation.classification.value if organisation.classification else None,
        "is_demo": organisation.is_demo,
    }


def user_json(user):
    return {
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role.value,
        "organisation": organisation_json(user.organisation),
    }


@blueprint.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(server_url=url_for("api.openapi", _external=True).rsplit("/openapi.json", 1)[0]))


@blueprint.get("/me")
@token_required
def me():
    return jsonify(user_json(g.api_user))


@blueprint.get("/organisations")
@token_required
def organisations():
    """Alliance staff: organisations filtered by status and kind, paginated."""
    pagination = accounts.list_organisations(g.api_user, **_query_parameters())
    return jsonify({
        "results": [organisation_json(o) for o in pagination.items],
        "total": pagination.total,
        "page": pagination.page,
    })


@blueprint.get("/organisations/<id:organisation_id>")
@token_required
def organisation(organisation_id):
    return jsonify(organisation_json(accounts.get_organisation(g.api_user, organisation_id)))


@blueprint.get("/geo/provinces")
def provinces():
    return jsonify([{"code": code, "name": name} for code, name in geo.provinces()])


@blueprint.get("/geo/provinces/<id:province_code>/communes")
def communes(province_code):
    items = geo.communes(province_code)
    if not items:
        raise NotFound()
    return jsonify([{"code": code, "name": name} for code, name in items])
