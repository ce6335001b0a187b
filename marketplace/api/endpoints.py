"""API v1 endpoints of the foundation: who am I, my organisation, the alliance's queue, geography."""
from flask import g, jsonify, request, url_for

from marketplace import geo
from marketplace.accounts import services as accounts
from marketplace.api import blueprint, token_required
from marketplace.api.openapi import openapi_document
from marketplace.errors import NotFound


def organisation_json(organisation):
    return {
        "id": organisation.id,
        "kind": organisation.kind.value,
        "cooperative_type": organisation.cooperative_type.value if organisation.cooperative_type else None,
        "legal_name": organisation.legal_name,
        "tax_code": organisation.display_tax_code or None,
        "status": organisation.status.value,
        "status_reason": organisation.status_reason or None,
        "province": {"code": organisation.province_code, "name": organisation.province_name} if organisation.province_code else None,
        "commune": {"code": organisation.commune_code, "name": organisation.commune_name} if organisation.commune_code else None,
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
    page = request.args.get("page", 1, type=int) or 1
    pagination = accounts.list_organisations(
        g.api_user,
        status=request.args.get("status") or None,
        kind=request.args.get("kind") or None,
        query=request.args.get("q", ""),
        page=page,
    )
    return jsonify({
        "results": [organisation_json(o) for o in pagination.items],
        "total": pagination.total,
        "page": pagination.page,
    })


@blueprint.get("/organisations/<int:organisation_id>")
@token_required
def organisation(organisation_id):
    return jsonify(organisation_json(accounts.get_organisation(g.api_user, organisation_id)))


@blueprint.get("/geo/provinces")
def provinces():
    return jsonify([{"code": code, "name": name} for code, name in geo.provinces()])


@blueprint.get("/geo/provinces/<int:province_code>/communes")
def communes(province_code):
    items = geo.communes(province_code)
    if not items:
        raise NotFound()
    return jsonify([{"code": code, "name": name} for code, name in items])
