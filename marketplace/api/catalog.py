"""API v1 of the catalogue (issue 3).

Public reads, like the catalogue pages (no token): GET /products, /products/<id>, /cooperatives/<id>.
A cooperative's own products, with a bearer token: GET /me/products, POST /products, PUT and DELETE
/products/<id>, POST /products/<id>/publish and /hide. Every handler reads its input, calls one catalogue
service or query (which decide who may see or change what), and shapes the JSON; openapi.py documents
each shape and tests/api/test_api_schema.py checks the two agree.
"""
from flask import current_app, g, jsonify, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest

from marketplace.accounts.models import LABELS
from marketplace.api import blueprint, token_required
from marketplace.catalog import queries, services
from marketplace.catalog.models import ProductStatus
from marketplace.catalog.public import canonical_slug
from marketplace.errors import DomainError, InvalidParameter, ValidationFailed
from marketplace.querystring import MAX_PAGE, whole_number_arg

PRODUCT = "/products/<id:product_id>"  # GET, PUT and DELETE: an impossible id matches none of them (404)
OWN_PRODUCTS_PER_PAGE = 20
OWN_PRODUCT_STATUSES = tuple(s.value for s in ProductStatus)


class InvalidJson(DomainError):
    """The body is not a JSON object (wrong Content-Type, malformed JSON, or another JSON type)."""

    status = 400
    code = "invalid_json"


class UnknownFields(ValidationFailed):
    """The body names fields a client may not write. Refused, never ignored: a client that sends
    `status` or `cooperative_id` must learn that they did nothing (no silent mass assignment)."""

    status = 400
    code = "unknown_fields"


# ---------------------------------------------------------------- query parameters

def _language():
    """The language of labels: ?lang=vi|en, else the site's default (never the cookie session's)."""
    lang = request.args.get("lang")
    return lang if lang in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def _checked_args(parse):
    """Run a strict parser of the query string, adding ?lang and empty values to what it checks.

    The pages treat `?category=` as "no filter" (an empty select); a program sending it has a bug, so the
    API says so rather than answer with the whole catalogue. Raises InvalidParameter.
    """
    errors = {name: _l("Give a value, or leave the parameter out.") for name, value in request.args.items(multi=True)
              if value == ""}
    lang = request.args.get("lang")
    if lang and lang not in current_app.config["LANGUAGES"]:
        errors["lang"] = _l("Use one of: %(values)s.", values=", ".join(current_app.config["LANGUAGES"]))
    try:
        parsed = parse(request.args)
    except InvalidParameter as error:
        for name, message in errors.items():
            error.errors.setdefault(name, message)
        raise
    if errors:
        raise InvalidParameter.for_parameters(errors)
    return parsed


def _only(*allowed):
    """A strict parser for an operation whose only query parameters are `allowed`."""

    def parse(args):
        errors = {name: _l("Unknown parameter.") for name in sorted(set(args) - set(allowed))}
        if errors:
            raise InvalidParameter.for_parameters(errors)

    return parse


def _own_products_args(args):
    errors, values = {}, {"status": None, "page": 1, "per_page": OWN_PRODUCTS_PER_PAGE}
    for name in sorted(set(args) - {"status", "page", "per_page", "lang"}):
        errors[name] = _l("Unknown parameter.")
    if args.get("status") and args["status"] not in OWN_PRODUCT_STATUSES:
        errors["status"] = _l("Use one of: %(values)s.", values=", ".join(OWN_PRODUCT_STATUSES))
    elif args.get("status"):
        values["status"] = args["status"]
    for name, maximum in (("page", MAX_PAGE), ("per_page", queries.MAX_PER_PAGE)):
        values[name] = whole_number_arg(args, name, maximum, values[name], strict=True, errors=errors)
    if errors:
        raise InvalidParameter.for_parameters(errors)
    return values


# ---------------------------------------------------------------- request bodies

# What a client may write: the fields of services.ProductDetails, with their JSON types.
TEXT_FIELDS = ("name", "name_en", "description", "category", "unit", "capacity_period")
NUMBER_FIELDS = ("province_code", "commune_code", "base_price_vnd", "min_order_qty", "order_increment",
                 "capacity_qty", "lead_time_days")
LIST_FIELDS = ("harvest_months", "certifications", "tiers")
WRITABLE = frozenset(TEXT_FIELDS + NUMBER_FIELDS + LIST_FIELDS)

# Fields of the product JSON a client might echo back, and what to do instead.
READ_ONLY_HINTS = {
    "status": _l("Read-only: use POST /products/{id}/publish or /hide."),
    "price_tiers": _l("Send price tiers as `tiers`."),
    "capacity": _l("Send `capacity_qty` and `capacity_period`."),
    "origin": _l("Send `province_code` and `commune_code`."),
    "images": _l("Read-only: photos are uploaded in the cooperative's workspace."),
    "ocop": _l("Read-only: OCOP certificates are verified by the cooperative alliance."),
}


def _whole(value):
    """An int from a JSON number with no fraction (1 and 1.0 are the same JSON number), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _json_object():
    """The request body as a dict; raises InvalidJson."""
    if not request.is_json:
        raise InvalidJson(_l("Send a JSON object with `Content-Type: application/json`."))
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise InvalidJson(_l("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise InvalidJson(_l("The body must be a JSON object."))
    return body


def _product_details():
    """services.ProductDetails from the JSON body. Raises InvalidJson, UnknownFields (400) or
    ValidationFailed (422) for values of the wrong JSON type; the services check everything else."""
    body = _json_object()
    unknown = {name: READ_ONLY_HINTS.get(name, _l("Unknown field.")) for name in sorted(set(body) - WRITABLE)}
    if unknown:
        raise UnknownFields(_l("The body has fields that cannot be written."), errors=unknown)
    errors, values = {}, {}
    for name, value in body.items():
        if value is None:
            continue  # not given: the field takes its default (PUT replaces the whole product)
        if name in TEXT_FIELDS:
            if isinstance(value, str):
                values[name] = value
            else:
                errors[name] = _l("Give a string.")
        elif name in NUMBER_FIELDS:
            number = _whole(value)
            if number is None:
                errors[name] = _l("Give a whole number.")
            values[name] = number
        elif name == "harvest_months":
            months = [_whole(m) for m in value] if isinstance(value, list) else [None]
            if None in months:
                errors[name] = _l("Give a list of month numbers from 1 to 12.")
            values[name] = months
        elif name == "certifications":
            if not (isinstance(value, list) and all(isinstance(c, str) for c in value)):
                errors[name] = _l("Give a list of certification codes.")
            values[name] = value
        elif name == "tiers":
            values[name] = _tiers(value, errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    return services.ProductDetails.from_mapping(values)


def _tiers(value, errors):
    rows = []
    for tier in value if isinstance(value, list) else [None]:
        if not (isinstance(tier, dict) and set(tier) == {"min_qty", "unit_price_vnd"}
                and None not in (_whole(tier["min_qty"]), _whole(tier["unit_price_vnd"]))):
            errors["tiers"] = _l('Give a list of {"min_qty": whole number, "unit_price_vnd": whole number}.')
            return []
        rows.append((_whole(tier["min_qty"]), _whole(tier["unit_price_vnd"])))
    return rows


# ---------------------------------------------------------------- JSON shapes (documented in openapi.py)

def _labelled(value):
    return {"code": value.value, "label": str(LABELS[value])}


def _place(code, name):
    return {"code": code, "name": name} if code else None


def _day(value):
    return value.isoformat() if value else None


def _ocop(product):
    certificate = product.valid_certificate(services.today())  # never an expired or unverified badge
    if certificate is None:
        return None
    return {
        "stars": certificate.stars,
        "certificate_no": certificate.certificate_no,
        "issuing_level": certificate.issuing_level.value,
        "decision_date": _day(certificate.decision_date),
        "expires_on": _day(certificate.expires_on),
    }


def product_json(product):
    """A product as the public sees it (labels in the current locale)."""
    cooperative = product.cooperative
    return {
        "id": product.id,
        "name": product.name,
        "name_en": product.name_en,
        "slug": product.slug,
        "url": url_for("catalog.product", product_id=product.id, slug=canonical_slug(product), _external=True),
        "category": _labelled(product.category),
        "unit": _labelled(product.unit),
        "description": product.description,
        "origin": {"province": _place(product.province_code, product.province_name),
                   "commune": _place(product.commune_code, product.commune_name)},
        "base_price_vnd": product.base_price_vnd,
        "price_from_vnd": product.lowest_price_vnd,
        "min_order_qty": product.min_order_qty,
        "order_increment": product.order_increment,
        "price_tiers": [{"min_qty": t.min_qty, "unit_price_vnd": t.unit_price_vnd} for t in product.tiers],
        "capacity": ({"quantity": product.capacity_qty, "period": product.capacity_period.value}
                     if product.capacity_qty is not None and product.capacity_period else None),
        "harvest_months": product.harvest_months,
        "lead_time_days": product.lead_time_days,
        "certifications": [c.value for c in product.certifications],
        "ocop": _ocop(product),
        "images": [{
            "url": url_for("catalog.photo", name=image.stored_name, _external=True),
            "thumbnail_url": url_for("catalog.thumbnail", name=image.stored_name, _external=True),
            "width": image.width,
            "height": image.height,
            "alt": image.alt_text,
        } for image in product.images],
        "cooperative": {
            "id": cooperative.id,
            "name": cooperative.legal_name,
            "cooperative_type": cooperative.cooperative_type.value if cooperative.cooperative_type else None,
            "province": _place(cooperative.province_code, cooperative.province_name),
        },
        "published_at": product.published_at.isoformat() if product.published_at else None,
    }


def own_product_json(product):
    """A product as its cooperative sees it: the public shape plus its status and last change."""
    return {**product_json(product), "status": product.status.value, "updated_at": product.updated_at.isoformat()}


def cooperative_json(cooperative):
    """What the public cooperative page shows; not the alliance's classification nor review notes."""
    return {
        "id": cooperative.id,
        "name": cooperative.legal_name,
        "cooperative_type": cooperative.cooperative_type.value if cooperative.cooperative_type else None,
        "tax_code": cooperative.display_tax_code or None,
        "province": _place(cooperative.province_code, cooperative.province_name),
        "commune": _place(cooperative.commune_code, cooperative.commune_name),
        "sector": cooperative.sector.value if cooperative.sector else None,
        "founded_year": cooperative.founded_year,
        "member_count": cooperative.member_count,
        "is_demo": cooperative.is_demo,
        "url": url_for("catalog.cooperative", cooperative_id=cooperative.id, _external=True),
        "products_url": url_for("api.products", cooperative=cooperative.id, _external=True),
    }


def _page(pagination, shape):
    with force_locale(_language()):
        results = [shape(p) for p in pagination.items]
    return jsonify({"results": results, "total": pagination.total, "page": pagination.page,
                    "per_page": pagination.per_page})


def _one(product, shape, status=200, headers=None):
    with force_locale(_language()):
        body = shape(product)
    return jsonify(body), status, headers or {}


# ---------------------------------------------------------------- public reads

@blueprint.get("/products")
def products():
    """Published products of verified cooperatives: the catalogue's filters, sorted and paginated."""
    query = _checked_args(lambda args: queries.parse_catalog_args(args, strict=True, allowed_extra=("lang",)))
    return _page(queries.public_products(query, load=queries.with_product_data), product_json)


@blueprint.get(PRODUCT)
def product(product_id):
    _checked_args(_only("lang"))
    return _one(queries.public_product(product_id), product_json)


@blueprint.get("/cooperatives/<id:cooperative_id>")
def cooperative(cooperative_id):
    _checked_args(_only())  # nothing to translate: codes only
    return jsonify(cooperative_json(queries.public_cooperative(cooperative_id)))


# ---------------------------------------------------------------- a cooperative's own products (token)

@blueprint.get("/me/products")
@token_required
def my_products():
    """Every product of the token's cooperative, drafts and hidden ones included, last changed first."""
    args = _checked_args(_own_products_args)
    return _page(services.own_products(g.api_user, **args), own_product_json)


@blueprint.post("/products")
@token_required
def create_product():
    product = services.create_product(g.api_user, _product_details())
    return _one(product, own_product_json, 201,
                {"Location": url_for("api.product", product_id=product.id, _external=True)})


@blueprint.put(PRODUCT)
@token_required
def update_product(product_id):
    """Replace the product's details as a whole: fields left out take their defaults."""
    return _one(services.update_product(g.api_user, product_id, _product_details()), own_product_json)


@blueprint.post(f"{PRODUCT}/publish")
@token_required
def publish_product(product_id):
    return _one(services.publish_product(g.api_user, product_id), own_product_json)


@blueprint.post(f"{PRODUCT}/hide")
@token_required
def hide_product(product_id):
    return _one(services.hide_product(g.api_user, product_id), own_product_json)


@blueprint.delete(PRODUCT)
@token_required
def delete_product(product_id):
    services.delete_product(g.api_user, product_id)
    return "", 204
