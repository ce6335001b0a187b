"""The OpenAPI 3.1 description of /api/v1. tests/api/test_api.py keeps it true: every API route must be
described here, and schemathesis checks that responses match it."""
from marketplace.querystring import MAX_PAGE
from marketplace.routing import MAX_ID

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(ERROR, description)


NULLABLE_STRING = {"type": ["string", "null"]}
ID_PARAMETER = {"type": "integer", "minimum": 1, "maximum": MAX_ID}  # what the <id:...> converter admits

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable machine-readable code."},
                    "message": {"type": "string", "description": "Human-readable explanation."},
                    "details": {"type": "object"},
                },
            }
        },
    },
    "Place": {
        "type": ["object", "null"],
        "required": ["code", "name"],
        "properties": {"code": {"type": "integer"}, "name": {"type": "string"}},
    },
    "Organisation": {
        "type": "object",
        "required": ["id", "kind", "legal_name", "status", "is_demo"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": ["cooperative", "enterprise", "alliance"]},
            "cooperative_type": {"enum": ["hop_tac_xa", "to_hop_tac", "ho_kinh_doanh", None]},
            "legal_name": {"type": "string"},
            "tax_code": NULLABLE_STRING,
            "status": {"enum": ["pending", "verified", "rejected", "suspended"]},
            "status_reason": NULLABLE_STRING,
            "province": {"$ref": "#/components/schemas/Place"},
            "commune": {"$ref": "#/components/schemas/Place"},
            "sector": NULLABLE_STRING,
            "classification": {"enum": ["good", "average", "weak", None]},
            "is_demo": {"type": "boolean"},
        },
    },
    "User": {
        "type": "object",
        "required": ["id", "email", "full_name", "role", "organisation"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "full_name": {"type": "string"},
            "role": {"enum": ["owner", "member"]},
            "organisation": {"$ref": "#/components/schemas/Organisation"},
        },
    },
    "OrganisationPage": {
        "type": "object",
        "required": ["results", "total", "page"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Organisation"}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
        },
    },
    "PlaceList": {
        "type": "array",
        "items": {"type": "object", "required": ["code", "name"],
                  "properties": {"code": {"type": "integer"}, "name": {"type": "string"}}},
    },
}

SECURED = [{"bearerAuth": []}]
UNAUTHENTICATED = {"401": _error("Missing, unknown or revoked token.")}

PATHS = {
    "/me": {
        "get": {
            "operationId": "getMe",
            "summary": "The user behind the token, with their organisation.",
            "security": SECURED,
            "responses": {"200": _json({"$ref": "#/components/schemas/User"}, "The current user."), **UNAUTHENTICATED},
        }
    },
    "/organisations": {
        "get": {
            "operationId": "listOrganisations",
            "summary": "Alliance staff: organisations to review, newest first.",
            "security": SECURED,
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": ["pending", "verified", "rejected", "suspended"]}},
                {"name": "kind", "in": "query", "schema": {"enum": ["cooperative", "enterprise"]}},
                {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/OrganisationPage"}, "One page of organisations."),
                "400": _error("A query parameter is unknown or not one of the documented values (code "
                              "`invalid_parameter`; `error.details.fields` names each bad parameter)."),
                **UNAUTHENTICATED,
                "403": _error("Only alliance staff may list organisations."),
            },
        }
    },
    "/organisations/{organisation_id}": {
        "get": {
            "operationId": "getOrganisation",
            "summary": "One organisation: your own, or any for alliance staff.",
            "security": SECURED,
            "parameters": [{"name": "organisation_id", "in": "path", "required": True, "schema": ID_PARAMETER}],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Organisation"}, "The organisation."),
                **UNAUTHENTICATED,
                "404": _error("No such organisation, or not yours."),
            },
        }
    },
    "/geo/provinces": {
        "get": {
            "operationId": "listProvinces",
            "summary": "Provinces and cities in force since 1 July 2025.",
            "security": [],
            "responses": {"200": _json({"$ref": "#/components/schemas/PlaceList"}, "All provinces.")},
        }
    },
    "/geo/provinces/{province_code}/communes": {
        "get": {
            "operationId": "listCommunes",
            "summary": "Communes, wards and special zones of a province.",
            "security": [],
            "parameters": [{"name": "province_code", "in": "path", "required": True, "schema": ID_PARAMETER}],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/PlaceList"}, "The province's communes."),
                "404": _error("Unknown province code."),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document.",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }
    },
}


# ---------------------------------------------------------------- the catalogue (issue 3): marketplace/api/catalog.py

def _catalog_enums():
    from marketplace import geo
    from marketplace.accounts.models import CooperativeType
    from marketplace.catalog.models import CapacityPeriod, Category, Certification, IssuingLevel, ProductStatus, Unit
    from marketplace.catalog.queries import SORTS

    def values(enum_class):
        return [member.value for member in enum_class]

    return {
        "category": values(Category), "unit": values(Unit), "certification": values(Certification),
        "capacity_period": values(CapacityPeriod), "issuing_level": values(IssuingLevel),
        "product_status": values(ProductStatus), "cooperative_type": values(CooperativeType),
        "province": sorted(code for code, _name in geo.provinces()), "sort": list(SORTS),
    }


ENUMS = _catalog_enums()
LANG = {"name": "lang", "in": "query", "description": "Language of the labels (default vi).",
        "schema": {"enum": ["vi", "en"]}}
PAGE = {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}
PER_PAGE = {"name": "per_page", "in": "query", "description": "Results per page (at most 100).",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
PRODUCT_ID = {"name": "product_id", "in": "path", "required": True, "schema": ID_PARAMETER}
# The filters the catalogue and search share (catalog.queries.FILTER_CHECKS).
PRODUCT_FILTERS = [
    {"name": "category", "in": "query", "schema": {"enum": ENUMS["category"]}},
    {"name": "province", "in": "query", "description": "Province of origin.", "schema": {"enum": ENUMS["province"]}},
    {"name": "stars", "in": "query", "description": "OCOP rating (a verified, unexpired certificate).",
     "schema": {"enum": [3, 4, 5]}},
    {"name": "certification", "in": "query", "schema": {"enum": ENUMS["certification"]}},
    {"name": "cooperative_type", "in": "query", "schema": {"enum": ENUMS["cooperative_type"]}},
]
BAD_QUERY = {"400": _error("A query parameter is unknown, empty or not one of the documented values (code "
                           "`invalid_parameter`; `error.details.fields` names each bad parameter).")}
NOT_A_COOPERATIVE = {"403": _error("The token's organisation is not a cooperative (code `wrong_organisation_kind`).")}
NOT_YOURS = {"404": _error("No such product, or it belongs to another cooperative.")}
BAD_BODY = {
    "400": _error("The body is not a JSON object (code `invalid_json`), holds text that is not valid Unicode "
                  "such as a lone surrogate `\\ud800` (code `invalid_text`), or names fields that cannot be "
                  "written such as `status` or `cooperative_id` (code `unknown_fields`; `error.details.fields` "
                  "says what to do instead). Unknown fields are refused, never silently ignored."),
    "422": _error("Values break the catalogue's rules (code `validation_failed`; `error.details.fields` holds a "
                  "message per field). Some rules relate fields and are checked only by the server: the minimum "
                  "order is a multiple of the order increment, tiers start above the minimum order with falling "
                  "prices below the base price, the commune lies in the province, a capacity needs its period."),
}


def _labelled(values):
    return {"type": "object", "required": ["code", "label"],
            "properties": {"code": {"enum": values}, "label": {"type": "string"}}}


def _page_of(item):
    """A page of results: the items, the total over all pages, the page number and its size."""
    return {
        "type": "object",
        "required": ["results", "total", "page", "per_page"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    }


def _nullable_integer(minimum, maximum):
    return {"type": ["integer", "null"], "minimum": minimum, "maximum": maximum}


TIER = {
    "type": "object",
    "required": ["min_qty", "unit_price_vnd"],
    "additionalProperties": False,
    "properties": {
        "min_qty": {"type": "integer", "minimum": 1, "maximum": 10**9},
        "unit_price_vnd": {"type": "integer", "minimum": 1, "maximum": 10**12},
    },
}

CATALOG_SCHEMAS = {
    "Product": {
        "type": "object",
        "description": "A published product of a verified cooperative. Money is integer đồng (VND).",
        "required": ["id", "name", "name_en", "slug", "url", "category", "unit", "description", "origin",
                     "base_price_vnd", "price_from_vnd", "min_order_qty", "order_increment", "price_tiers",
                     "capacity", "harvest_months", "lead_time_days", "certifications", "ocop", "images",
                     "cooperative", "published_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string", "description": "Vietnamese name."},
            "name_en": {"type": "string", "description": "English name, or empty."},
            "slug": {"type": "string"},
            "url": {"type": "string", "format": "uri", "description": "The public product page."},
            "category": _labelled(ENUMS["category"]),
            "unit": _labelled(ENUMS["unit"]),
            "description": {"type": "string"},
            "origin": {
                "type": "object",
                "required": ["province", "commune"],
                "properties": {"province": {"$ref": "#/components/schemas/Place"},
                               "commune": {"$ref": "#/components/schemas/Place"}},
            },
            "base_price_vnd": {"type": "integer", "description": "Unit price from the minimum order quantity."},
            "price_from_vnd": {"type": "integer", "description": "The lowest unit price (largest tier)."},
            "min_order_qty": {"type": "integer"},
            "order_increment": {"type": "integer", "description": "Orders are multiples of this quantity."},
            "price_tiers": {"type": "array", "items": TIER,
                            "description": "From `min_qty` units on, every unit costs `unit_price_vnd`."},
            "capacity": {
                "type": ["object", "null"],
                "required": ["quantity", "period"],
                "properties": {"quantity": {"type": "integer"}, "period": {"enum": ENUMS["capacity_period"]}},
            },
            "harvest_months": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 12}},
            "lead_time_days": {"type": ["integer", "null"]},
            "certifications": {"type": "array", "items": {"enum": ENUMS["certification"]}},
            "ocop": {
                "type": ["object", "null"],
                "description": "The OCOP rating whose certificate the alliance verified and has not expired.",
                "required": ["stars", "certificate_no", "issuing_level", "decision_date", "expires_on"],
                "properties": {
                    "stars": {"enum": [3, 4, 5]},
                    "certificate_no": {"type": "string"},
                    "issuing_level": {"enum": ENUMS["issuing_level"]},
                    "decision_date": {"type": ["string", "null"], "format": "date"},
                    "expires_on": {"type": "string", "format": "date"},
                },
            },
            "images": {
                "type": "array",
                "description": "Photos, the cover first (WebP).",
                "items": {
                    "type": "object",
                    "required": ["url", "thumbnail_url", "width", "height", "alt"],
                    "properties": {
                        "url": {"type": "string", "format": "uri"},
                        "thumbnail_url": {"type": "string", "format": "uri"},
                        "width": {"type": "integer"},
                        "height": {"type": "integer"},
                        "alt": {"type": "string"},
                    },
                },
            },
            "cooperative": {
                "type": "object",
                "required": ["id", "name", "cooperative_type", "province"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "cooperative_type": {"enum": [*ENUMS["cooperative_type"], None]},
                    "province": {"$ref": "#/components/schemas/Place"},
                },
            },
            "published_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "OwnProduct": {
        "description": "A product as its cooperative sees it, whatever its status.",
        "allOf": [
            {"$ref": "#/components/schemas/Product"},
            {
                "type": "object",
                "required": ["status", "updated_at"],
                "properties": {"status": {"enum": ENUMS["product_status"]},
                               "updated_at": {"type": "string", "format": "date-time"}},
            },
        ],
    },
    "ProductPage": _page_of("Product"),
    "OwnProductPage": _page_of("OwnProduct"),
    "Cooperative": {
        "type": "object",
        "description": "A cooperative verified by the alliance, as its public page shows it.",
        "required": ["id", "name", "cooperative_type", "tax_code", "province", "commune", "sector", "founded_year",
                     "member_count", "is_demo", "url", "products_url"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "cooperative_type": {"enum": [*ENUMS["cooperative_type"], None]},
            "tax_code": NULLABLE_STRING,
            "province": {"$ref": "#/components/schemas/Place"},
            "commune": {"$ref": "#/components/schemas/Place"},
            "sector": NULLABLE_STRING,
            "founded_year": {"type": ["integer", "null"]},
            "member_count": {"type": ["integer", "null"]},
            "is_demo": {"type": "boolean", "description": "Demonstration data, not a real cooperative."},
            "url": {"type": "string", "format": "uri", "description": "The public cooperative page."},
            "products_url": {"type": "string", "format": "uri", "description": "Its products in this API."},
        },
    },
    "ProductInput": {
        "type": "object",
        "description": "What a cooperative says about a product. A field left out (or null) takes its default: "
                       "PUT replaces the whole product. Status and owner are not part of it.",
        "required": ["name", "category", "unit", "base_price_vnd"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 160, "pattern": "\\S",
                     "description": "Vietnamese name (required, not only spaces)."},
            "name_en": {"type": ["string", "null"], "maxLength": 160},
            "description": {"type": ["string", "null"], "maxLength": 5000},
            "category": {"enum": ENUMS["category"]},
            "unit": {"enum": ENUMS["unit"]},
            "province_code": {"enum": [*ENUMS["province"], None], "description": "Province of origin."},
            "commune_code": {**_nullable_integer(1, 10**8), "description": "A commune of the province."},
            "base_price_vnd": {"type": "integer", "minimum": 1, "maximum": 10**12},
            "min_order_qty": {**_nullable_integer(1, 10**9), "description": "Default 1."},
            "order_increment": {**_nullable_integer(1, 10**9), "description": "Default 1."},
            "capacity_qty": _nullable_integer(0, 10**12),
            "capacity_period": {"enum": [*ENUMS["capacity_period"], None]},
            "harvest_months": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 1, "maximum": 12}},
            "lead_time_days": _nullable_integer(0, 365),
            "certifications": {"type": ["array", "null"], "items": {"enum": ENUMS["certification"]}},
            "tiers": {"type": ["array", "null"], "items": TIER, "maxItems": 10},
        },
    },
}

_PRODUCT = _json({"$ref": "#/components/schemas/Product"}, "The product.")
_OWN_PRODUCT = {"$ref": "#/components/schemas/OwnProduct"}
_PRODUCT_BODY = {"required": True,
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProductInput"}}}}

CATALOG_PATHS = {
    "/products": {
        "get": {
            "operationId": "listProducts",
            "summary": "The public catalogue: published products of verified cooperatives.",
            "security": [],
            "parameters": [
                *PRODUCT_FILTERS,
                {"name": "cooperative", "in": "query", "description": "Products of one cooperative.",
                 "schema": ID_PARAMETER},
                {"name": "sort", "in": "query", "description": "Default newest.", "schema": {"enum": ENUMS["sort"]}},
                PAGE, {**PER_PAGE, "description": "Results per page (default 24, at most 100)."}, LANG,
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/ProductPage"},
                             "One page of products; a page past the end has no results."),
                **BAD_QUERY,
            },
        },
        "post": {
            "operationId": "createProduct",
            "summary": "Create a draft product of the token's cooperative.",
            "security": SECURED,
            "requestBody": _PRODUCT_BODY,
            "responses": {
                "201": {**_json(_OWN_PRODUCT, "The new draft product."),
                        "headers": {"Location": {"description": "The product's address in this API.",
                                                 "schema": {"type": "string", "format": "uri"}}}},
                **BAD_BODY, **UNAUTHENTICATED, **NOT_A_COOPERATIVE,
            },
        },
    },
    "/products/{product_id}": {
        "get": {
            "operationId": "getProduct",
            "summary": "One public product.",
            "security": [],
            "parameters": [PRODUCT_ID, LANG],
            "responses": {
                "200": _PRODUCT,
                **BAD_QUERY,
                "404": _error("No such product, or not public (a draft, hidden, or its cooperative not verified)."),
            },
        },
        "put": {
            "operationId": "updateProduct",
            "summary": "Replace the details of one of your cooperative's products.",
            "security": SECURED,
            "parameters": [PRODUCT_ID],
            "requestBody": _PRODUCT_BODY,
            "responses": {
                "200": _json(_OWN_PRODUCT, "The updated product."),
                **BAD_BODY, **UNAUTHENTICATED, **NOT_A_COOPERATIVE, **NOT_YOURS,
            },
        },
        "delete": {
            "operationId": "deleteProduct",
            "summary": "Delete one of your cooperative's products with its photos and certificates.",
            "security": SECURED,
            "parameters": [PRODUCT_ID],
            "responses": {"204": {"description": "Deleted."}, **UNAUTHENTICATED, **NOT_A_COOPERATIVE, **NOT_YOURS},
        },
    },
    "/products/{product_id}/publish": {
        "post": {
            "operationId": "publishProduct",
            "summary": "Put one of your products in the public catalogue (idempotent).",
            "security": SECURED,
            "parameters": [PRODUCT_ID],
            "responses": {
                "200": _json(_OWN_PRODUCT, "The published product."),
                **UNAUTHENTICATED,
                "403": _error("Not a cooperative, or the cooperative is not verified by the alliance yet (code "
                              "`organisation_not_verified`)."),
                **NOT_YOURS,
                "409": _error("The product cannot be published yet (code `not_publishable`)."),
            },
        },
    },
    "/products/{product_id}/hide": {
        "post": {
            "operationId": "hideProduct",
            "summary": "Take one of your published products out of the catalogue (idempotent).",
            "security": SECURED,
            "parameters": [PRODUCT_ID],
            "responses": {"200": _json(_OWN_PRODUCT, "The product."), **UNAUTHENTICATED, **NOT_A_COOPERATIVE,
                          **NOT_YOURS},
        },
    },
    "/cooperatives/{cooperative_id}": {
        "get": {
            "operationId": "getCooperative",
            "summary": "A cooperative verified by the alliance.",
            "security": [],
            "parameters": [{"name": "cooperative_id", "in": "path", "required": True, "schema": ID_PARAMETER}],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Cooperative"}, "The cooperative."),
                "400": _error("A query parameter was sent: this operation takes none (code `invalid_parameter`)."),
                "404": _error("No such cooperative, or not verified by the alliance."),
            },
        },
    },
    "/me/products": {
        "get": {
            "operationId": "listMyProducts",
            "summary": "Every product of the token's cooperative, drafts and hidden ones included.",
            "security": SECURED,
            "parameters": [{"name": "status", "in": "query", "schema": {"enum": ENUMS["product_status"]}},
                           PAGE, {**PER_PAGE, "description": "Results per page (default 20, at most 100)."}, LANG],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/OwnProductPage"}, "One page of your products."),
                **BAD_QUERY, **UNAUTHENTICATED, **NOT_A_COOPERATIVE,
            },
        },
    },
}

SCHEMAS.update(CATALOG_SCHEMAS)
PATHS.update(CATALOG_PATHS)


# ---------------------------------------------------------------- search (issue 4): marketplace/api/search.py

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}
_HIGHLIGHTED = {"type": "string", "description": "HTML: the text escaped, each matching word in `<mark>`."}
SEARCH_SCHEMAS = {
    "SearchResult": {
        "type": "object",
        "required": ["id", "name", "url", "cooperative", "price_vnd", "ocop_stars", "match", "highlight"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "url": {"type": "string", "format": "uri", "description": "The public product page."},
            "cooperative": {"type": "object", "required": ["id", "name"],
                            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
            "price_vnd": {"type": "integer", "description": "Price from: the lowest unit price of any tier, in VND."},
            "ocop_stars": {"type": ["integer", "null"], "enum": [3, 4, 5, None],
                           "description": "Stars of a verified OCOP certificate valid today, else null."},
            "match": {"type": "string", "enum": ["all", "typo", "partial"],
                      "description": "How the product matched the query's words (words of a buying request, "
                                     "listed in `ignored_words`, are not counted): `all`, every word, with or "
                                     "without diacritics; `typo`, every word, some only through typo tolerance "
                                     "(one edit in words of 5+ letters, two in 9+); `partial`, only some of the "
                                     "words (at least half, one of them in the product's name), given only when "
                                     "no product matches every word. An empty query lists products as `all`."},
            "highlight": {"type": "object", "required": ["name", "snippet"],
                          "properties": {"name": _HIGHLIGHTED,
                                         "snippet": {**_HIGHLIGHTED, "description": "A piece of the description "
                                                     "(or the English name) around the first match; may be empty."}}},
        },
    },
    "SearchPage": {
        "type": "object",
        "required": ["results", "total", "page", "per_page", "facets", "suggestion", "partial", "ignored_words"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/SearchResult"}},
            "total": {"type": "integer", "minimum": 0, "description": "Every match; pages reach the first 1,000."},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "facets": {
                "type": "object",
                "description": "Matches per value of each facet, most first. Each facet ignores its own filter, "
                               "so it shows what choosing another value would give.",
                "required": ["category", "province", "stars", "certification", "cooperative_type"],
                "properties": {name: _COUNTS for name in
                               ("category", "province", "stars", "certification", "cooperative_type")},
            },
            "suggestion": {"type": ["string", "null"],
                           "description": "\"Did you mean\": the query with unknown words corrected, written with "
                                          "the diacritics of the product names (\"thạch đen\" for \"thach dden\"), "
                                          "when the best results are only `partial` or `typo` matches or there are "
                                          "none; null otherwise."},
            "partial": {"type": "boolean",
                        "description": "True when no product matches every word: the results match some of them "
                                       "(every result's `match` is then `partial`)."},
            "ignored_words": {"type": "array", "items": {"type": "string"},
                              "description": "Words of a buying request set aside, as typed (\"cần\", \"mua\", "
                                             "\"giá\", \"sỉ\" of \"cần mua thạch đen giá sỉ\"): they name no "
                                             "product. Empty when the query holds nothing else."},
        },
    },
}
SEARCH_PATHS = {
    "/search": {
        "get": {
            "operationId": "searchProducts",
            "summary": "Full-text search of the public catalogue: with or without Vietnamese diacritics, forgiving "
                       "typos, ranked by relevance, with facet counts.",
            "security": [],
            "parameters": [
                {"name": "q", "in": "query", "description": "The words to look for (empty: every product).",
                 "schema": {"type": "string", "maxLength": 200}},
                *PRODUCT_FILTERS,
                {"name": "sort", "in": "query", "description": "Default relevance.",
                 "schema": {"enum": ["relevance", "price_asc", "price_desc", "stars", "newest"]}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                {**PER_PAGE, "description": "Results per page (default 20, at most 100)."},
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/SearchPage"},
                             "One page of results; a page past the end has no results."),
                **BAD_QUERY,
            },
        },
    },
}
SCHEMAS.update(SEARCH_SCHEMAS)
PATHS.update(SEARCH_PATHS)


def openapi_document(server_url="/api/v1"):
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chợ HTX API",
            "version": "1.0.0",
            "description": "B2B marketplace of Vietnamese cooperatives' OCOP products. Authenticate with a "
            "personal token created on your account page: `Authorization: Bearer <token>`. "
            "Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`: `code` is stable, and for bad input "
            "`details.fields` holds a message per field or query parameter. Text is stored in Unicode NFC; text "
            "that is not valid Unicode (bytes that are not UTF-8, lone surrogates) is refused on every operation "
            "with 400 `invalid_text`. The catalogue reads (products, "
            "cooperatives) need no token. Responses are not cached (`Cache-Control: no-store`).",
        },
        "servers": [{"url": server_url}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


# ---------------------------------------------------------------- memoranda of understanding (issue 9)

def _agreement_enums():
    from marketplace.agreements.models import AgreementEventKind, AgreementState, PartyRole, Period, PriceBasis
    from marketplace.catalog.models import Certification, Unit

    def values(enum_class):
        return [member.value for member in enum_class]

    return {"state": values(AgreementState), "role": values(PartyRole), "period": values(Period),
            "price_basis": values(PriceBasis), "event": values(AgreementEventKind), "unit": values(Unit),
            "certification": values(Certification)}


AGREEMENT_ENUMS = _agreement_enums()
AGREEMENT_ID = {"name": "agreement_id", "in": "path", "required": True, "schema": ID_PARAMETER}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_NULLABLE_SHA256 = {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}
_TEXT = {"type": ["string", "null"], "maxLength": 4000}
_MONEY = {"type": ["integer", "null"], "minimum": 1, "maximum": 10**12}

AGREEMENT_LINE = {
    "type": "object",
    "description": "A product of the agreement, as agreed in one revision (a snapshot of the catalogue).",
    "required": ["product_id", "name", "unit", "quantity", "period", "price_basis", "unit_price_vnd",
                 "reference_price_vnd", "adjustment_percent"],
    "properties": {
        "product_id": {"type": ["integer", "null"], "description": "Null once the product was deleted."},
        "name": {"type": "string"},
        "unit": {"enum": AGREEMENT_ENUMS["unit"]},
        "quantity": {"type": "integer", "description": "Expected quantity per period."},
        "period": {"enum": AGREEMENT_ENUMS["period"]},
        "price_basis": {"enum": AGREEMENT_ENUMS["price_basis"],
                        "description": "fixed: agreed unit price; tier: the product's volume tier at that quantity "
                                       "when agreed; reference: a reference price plus or minus a percentage."},
        "unit_price_vnd": {"type": "integer", "description": "What a unit costs under this agreement (VND)."},
        "reference_price_vnd": {"type": ["integer", "null"]},
        "adjustment_percent": {"type": ["integer", "null"]},
    },
}
LINE_INPUT = {
    "type": "object",
    "required": ["product_id", "quantity", "period", "price_basis"],
    "additionalProperties": False,
    "properties": {
        "product_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                       "description": "A published product of the cooperative."},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10**9},
        "period": {"enum": AGREEMENT_ENUMS["period"]},
        "price_basis": {"enum": AGREEMENT_ENUMS["price_basis"]},
        "unit_price_vnd": {**_MONEY, "description": "Required with price_basis `fixed`."},
        "reference_price_vnd": {**_MONEY, "description": "Required with price_basis `reference`."},
        "adjustment_percent": {"type": ["integer", "null"], "minimum": -50, "maximum": 50,
                               "description": "Required with price_basis `reference`."},
    },
}
TERMS_PROPERTIES = {
    "lines": {"type": "array", "items": LINE_INPUT, "minItems": 1, "maxItems": 20},
    "start_date": {"type": "string", "format": "date"},
    "end_date": {"type": "string", "format": "date", "description": "After the start date, at most five years on."},
    "delivery_place": {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": "\\S"},
    "delivery_frequency": _TEXT,
    "lead_time_days": {"type": ["integer", "null"], "minimum": 0, "maximum": 365},
    "quality_standards": _TEXT,
    "quality_certifications": {"type": ["array", "null"], "items": {"enum": AGREEMENT_ENUMS["certification"]}},
    "sampling": _TEXT,
    "payment_terms": _TEXT,
    "buyer_responsibilities": _TEXT,
    "seller_responsibilities": _TEXT,
    "clauses": {"type": ["array", "null"], "items": {"type": "string", "maxLength": 4000}, "maxItems": 30},
    "note": {"type": ["string", "null"], "maxLength": 2000, "description": "A message to the other party."},
}
TERMS_REQUIRED = ["lines", "start_date", "end_date", "delivery_place"]

AGREEMENT_SCHEMAS = {
    "AgreementLine": AGREEMENT_LINE,
    "Agreement": {
        "type": "object",
        "description": "A memorandum of understanding (or an addendum to one) between a cooperative (seller) and "
                       "an enterprise (buyer), optionally witnessed by the cooperative alliance. `lines` are those "
                       "of the terms in force (the latest signed addendum's, else the agreed revision's), or of the "
                       "latest revision while the terms are negotiated.",
        "required": ["id", "reference", "kind", "parent_id", "state", "parties", "event_id", "start_date", "end_date",
                     "revision_number", "agreed_revision_number", "awaiting", "lines", "is_demo", "url"],
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string"},
            "kind": {"enum": ["mou", "addendum"]},
            "parent_id": {"type": ["integer", "null"], "description": "The MoU an addendum changes."},
            "state": {"enum": AGREEMENT_ENUMS["state"]},
            "parties": {"type": "array", "items": {
                "type": "object", "required": ["organisation_id", "name", "role"],
                "properties": {"organisation_id": {"type": "integer"}, "name": {"type": "string"},
                               "role": {"enum": AGREEMENT_ENUMS["role"]}}}},
            "event_id": {"type": ["integer", "null"], "description": "The alliance's conference, if any."},
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
            "revision_number": {"type": ["integer", "null"]},
            "agreed_revision_number": {"type": ["integer", "null"]},
            "awaiting": {"type": "array", "items": {"type": "integer"},
                         "description": "The organisations whose turn or signature the agreement waits for."},
            "lines": {"type": "array", "items": {"$ref": "#/components/schemas/AgreementLine"}},
            "is_demo": {"type": "boolean"},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "AgreementDetail": {
        "description": "An agreement with its revisions, signatures and evidence log (append-only).",
        "allOf": [
            {"$ref": "#/components/schemas/Agreement"},
            {
                "type": "object",
                "required": ["state_reason", "void_requested_by_id", "original_sha256", "document_sha256",
                             "document_url", "revisions", "signatures", "events"],
                "properties": {
                    "state_reason": NULLABLE_STRING,
                    "void_requested_by_id": {"type": ["integer", "null"]},
                    "original_sha256": {**_NULLABLE_SHA256, "description": "The PDF as rendered, before signatures."},
                    "document_sha256": {**_NULLABLE_SHA256, "description": "The PDF as it stands now."},
                    "document_url": {"type": ["string", "null"], "format": "uri"},
                    "revisions": {"type": "array", "items": {
                        "type": "object",
                        "required": ["number", "author_organisation_id", "created_at", "note", "content_sha256",
                                     "terms", "lines"],
                        "properties": {
                            "number": {"type": "integer"},
                            "author_organisation_id": {"type": "integer"},
                            "created_at": {"type": "string", "format": "date-time"},
                            "note": {"type": "string"},
                            "content_sha256": _SHA256,
                            "terms": {"type": "object"},
                            "lines": {"type": "array", "items": {"$ref": "#/components/schemas/AgreementLine"}},
                        }}},
                    "signatures": {"type": "array", "items": {
                        "type": "object",
                        "required": ["organisation_id", "role", "revision_number", "signed_at", "certificate_serial",
                                     "sha256_before", "sha256_after"],
                        "properties": {
                            "organisation_id": {"type": "integer"},
                            "role": {"enum": AGREEMENT_ENUMS["role"]},
                            "revision_number": {"type": "integer"},
                            "signed_at": {"type": "string", "format": "date-time"},
                            "certificate_serial": {"type": "string"},
                            "sha256_before": _SHA256,
                            "sha256_after": _SHA256,
                        }}},
                    "events": {"type": "array", "items": {
                        "type": "object",
                        "required": ["kind", "created_at", "organisation_id", "user", "revision_number",
                                     "document_sha256", "ip_address", "user_agent", "note"],
                        "properties": {
                            "kind": {"enum": AGREEMENT_ENUMS["event"]},
                            "created_at": {"type": "string", "format": "date-time"},
                            "organisation_id": {"type": ["integer", "null"]},
                            "user": NULLABLE_STRING,
                            "revision_number": {"type": ["integer", "null"]},
                            "document_sha256": _NULLABLE_SHA256,
                            "ip_address": NULLABLE_STRING,
                            "user_agent": NULLABLE_STRING,
                            "note": NULLABLE_STRING,
                        }}},
                },
            },
        ],
    },
    "AgreementPage": {
        "type": "object",
        "required": ["results", "total", "page"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Agreement"}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
        },
    },
    "AgreementInput": {
        "type": "object",
        "description": "A new MoU with a verified organisation of the other kind: the terms of its first revision.",
        "required": ["counterparty_id", *TERMS_REQUIRED],
        "additionalProperties": False,
        "properties": {
            "counterparty_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                                "description": "A verified cooperative (for an enterprise) or enterprise."},
            "witness": {"type": "boolean", "description": "Add the cooperative alliance as witness (third signer)."},
            "event_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID},
            **TERMS_PROPERTIES,
        },
    },
    "TermsInput": {
        "type": "object",
        "description": "New terms: the draft edited by its initiator, or changes proposed by the party whose turn "
                       "it is (a new revision).",
        "required": TERMS_REQUIRED,
        "additionalProperties": False,
        "properties": TERMS_PROPERTIES,
    },
}

_AGREEMENT = _json({"$ref": "#/components/schemas/AgreementDetail"}, "The agreement.")
NOT_A_PARTY = {"404": _error("No such agreement, or you are not a party to it (alliance staff read every one).")}
NOT_YOUR_TURN = {"409": _error("The agreement is not at a step where you can do this (code `invalid_transition`; "
                               "the message says why).")}
BAD_AGREEMENT_BODY = {
    "400": _error("The body is not a JSON object (code `invalid_json`) or names fields that cannot be written "
                  "(code `unknown_fields`)."),
    "422": _error("Values break the rules (code `validation_failed`; `error.details.fields` holds a message per "
                  "field, e.g. `lines.0.quantity`). Some rules relate fields or rows and are checked only by the "
                  "server: a product of the cooperative's published catalogue, the end date after the start date, "
                  "the price fields of each price basis."),
}
NOT_TRADING = {"403": _error("Your organisation cannot make agreements: not a verified cooperative or enterprise "
                             "(codes `wrong_organisation_kind`, `organisation_not_verified`).")}


def _action(operation_id, summary, body_schema=None, extra=None):
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "security": SECURED,
        "parameters": [AGREEMENT_ID],
        "responses": {"200": _AGREEMENT, **BAD_AGREEMENT_BODY, **UNAUTHENTICATED, **NOT_TRADING, **NOT_A_PARTY,
                      **NOT_YOUR_TURN, **(extra or {})},
    }
    if body_schema is not None:
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body_schema}}}
    return {"post": operation}


_REASON = {"type": "object", "additionalProperties": False, "required": ["reason"],
           "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": "\\S"}}}
_REVISION = {"type": "object", "additionalProperties": False,
             "properties": {"revision_number": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}}}

AGREEMENT_PATHS = {
    "/agreements": {
        "get": {
            "operationId": "listAgreements",
            "summary": "Your organisation's agreements (every agreement for alliance staff), newest first.",
            "security": SECURED,
            "parameters": [
                {"name": "state", "in": "query", "schema": {"enum": AGREEMENT_ENUMS["state"]}},
                {"name": "event_id", "in": "query", "description": "Agreements of one conference.",
                 "schema": ID_PARAMETER},
                {"name": "organisation_id", "in": "query", "description": "Agreements one organisation is party to.",
                 "schema": ID_PARAMETER},
                PAGE, {**PER_PAGE, "description": "Results per page (default 20, at most 100)."},
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/AgreementPage"}, "One page of agreements."),
                **BAD_QUERY, **UNAUTHENTICATED,
            },
        },
        "post": {
            "operationId": "createAgreement",
            "summary": "Start an MoU with a verified organisation of the other kind: a draft only your organisation "
                       "sees until it is sent.",
            "security": SECURED,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/AgreementInput"}}}},
            "responses": {
                "201": {**_json({"$ref": "#/components/schemas/AgreementDetail"}, "The new draft."),
                        "headers": {"Location": {"description": "The agreement's address in this API.",
                                                 "schema": {"type": "string", "format": "uri"}}}},
                **BAD_AGREEMENT_BODY, **UNAUTHENTICATED, **NOT_TRADING,
            },
        },
    },
    "/agreements/{agreement_id}": {
        "get": {
            "operationId": "getAgreement",
            "summary": "One agreement with its lines, revisions, signatures and evidence log.",
            "security": SECURED,
            "parameters": [AGREEMENT_ID],
            "responses": {"200": _AGREEMENT, **BAD_QUERY, **UNAUTHENTICATED, **NOT_A_PARTY},
        },
    },
    "/agreements/{agreement_id}/document.pdf": {
        "get": {
            "operationId": "getAgreementDocument",
            "summary": "The agreement's PDF as it stands (with the signatures made so far). Each download is "
                       "recorded in the evidence log.",
            "security": SECURED,
            "parameters": [AGREEMENT_ID],
            "responses": {
                "200": {"description": "The PDF.",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                **BAD_QUERY, **UNAUTHENTICATED,
                "404": _error("No such agreement, not yours, or its terms are not agreed yet (no PDF)."),
            },
        },
    },
    "/agreements/{agreement_id}/revisions": {
        "post": {**_action("reviseAgreement", "Change the terms: your draft, or a counter-proposal when it is "
                           "your turn (a new immutable revision; the turn passes to the other party).")["post"],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/TermsInput"}}}}},
    },
    "/agreements/{agreement_id}/send": _action("sendAgreement", "Send your draft to the other party.",
                                               {"type": "object", "additionalProperties": False}),
    "/agreements/{agreement_id}/accept": _action(
        "acceptAgreement", "Accept the latest terms when it is your turn: they are rendered to PDF for signing. "
        "Give `revision_number` to refuse terms changed meanwhile (409 `superseded_revision`).", _REVISION),
    "/agreements/{agreement_id}/decline": _action("declineAgreement", "Decline when it is your turn, with a reason.",
                                                  _REASON),
    "/agreements/{agreement_id}/withdraw": _action("withdrawAgreement",
                                                   "Withdraw the agreement before every party signed.", _REASON),
    "/agreements/{agreement_id}/sign": _action(
        "signAgreement", "Sign the agreed PDF in your organisation's name, with your password. Only the owner, or a "
        "member the owner gave the signing right, signs. An electronic signature with tamper evidence and an audit "
        "trail, issued by the platform.",
        {"type": "object", "additionalProperties": False, "required": ["password"],
         "properties": {"password": {"type": "string", "minLength": 1, "maxLength": 1024},
                        "revision_number": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}}},
        {"403": _error("Your organisation cannot make agreements, or you have no signing right (code "
                       "`no_signing_right`)."),
         "409": _error("Not awaiting your organisation's signature (codes `invalid_transition`, `already_signed`; "
                       "`superseded_revision` when `revision_number` is not the agreed one; `signed_meanwhile`)."),
         "422": _error("The password is wrong (code `validation_failed`, field `password`), or the body is not "
                       "valid."),
         "429": _error("Too many wrong passwords for this account (code `login_delayed`): the signing password is "
                       "held to the login's throttle. Wait the seconds the `Retry-After` header gives.")}),
    "/agreements/{agreement_id}/void": _action(
        "voidAgreement", "Ask to void a signed agreement (with a reason), or confirm the other party's request.",
        {"type": "object", "additionalProperties": False,
         "properties": {"reason": {"type": "string", "maxLength": 2000}}}),
}
SCHEMAS.update(AGREEMENT_SCHEMAS)
PATHS.update(AGREEMENT_PATHS)


# ---------------------------------------------------------------- orders and payments (issue 10): api/orders.py

def _order_enums():
    from marketplace.catalog.models import Unit
    from marketplace.orders.models import OrderEventKind, OrderStatus, PaymentMode
    from marketplace.payments.models import PaymentMethod, PaymentPurpose, PaymentStatus

    def values(enum_class):
        return [member.value for member in enum_class]

    return {"status": values(OrderStatus), "event": values(OrderEventKind), "mode": values(PaymentMode),
            "method": values(PaymentMethod), "purpose": values(PaymentPurpose), "payment_status": values(PaymentStatus),
            "unit": values(Unit)}


ORDER_ENUMS = _order_enums()
ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": ID_PARAMETER}
PAYMENT_ID = {"name": "payment_id", "in": "path", "required": True, "schema": ID_PARAMETER}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Any unique string you choose (1 to 255 visible ASCII characters, e.g. a UUID). A retry with "
                   "the same key and the same body within 24 hours is not carried out again: it gets the first "
                   "answer (its status and body, every answer except a 5xx), with `Idempotent-Replayed: true`. "
                   "Two requests with the same key at the same moment order once: the second waits and gets the "
                   "first's answer. The same key with another body is refused (422 `idempotency_key_reused`). "
                   "Keys belong to the token's user.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_PARTY = {"type": "object", "required": ["id", "name"],
          "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
_DATE_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _quantities(minimum, description):
    return {"type": ["array", "null"], "description": description, "items": {
        "type": "object", "required": ["product_id", "quantity"], "additionalProperties": False,
        "properties": {"product_id": _ID, "quantity": {"type": "integer", "minimum": minimum, "maximum": 10**9}}}}


ORDER_SCHEMAS = {
    "Payment": {
        "type": "object",
        "description": "One attempt to pay (part of) an order. Money is integer đồng (VND).",
        "required": ["id", "order_id", "method", "purpose", "amount_vnd", "status", "reference", "created_at",
                     "paid_at"],
        "properties": {
            "id": {"type": "integer"},
            "order_id": {"type": "integer"},
            "method": {"enum": ORDER_ENUMS["method"]},
            "purpose": {"enum": ORDER_ENUMS["purpose"],
                        "description": "deposit or full: due before shipping; balance: due on delivery."},
            "amount_vnd": {"type": "integer"},
            "status": {"enum": ORDER_ENUMS["payment_status"]},
            "reference": {"type": "string", "description": "The transfer message (and Stripe's metadata)."},
            "created_at": _DATE_TIME,
            "paid_at": _NULLABLE_DATE_TIME,
        },
    },
    "StartedPayment": {
        "description": "A payment just started, with what the buyer needs to pay it.",
        "allOf": [
            {"$ref": "#/components/schemas/Payment"},
            {
                "type": "object",
                "required": ["client_secret", "vietqr"],
                "properties": {
                    "client_secret": {"type": ["string", "null"],
                                      "description": "Card: the Stripe PaymentIntent's client secret, for Stripe.js."},
                    "vietqr": {
                        "type": ["object", "null"],
                        "description": "Bank transfer: the VietQR code's text (any Vietnamese banking app scans it "
                                       "as a QR code) and the same facts to type in.",
                        "required": ["payload", "reference", "bank_name", "account_number", "account_name",
                                     "amount_vnd"],
                        "properties": {
                            "payload": {"type": "string", "description": "EMVCo text of the NAPAS 247 VietQR code."},
                            "reference": {"type": "string", "description": "The transfer message to write."},
                            "bank_name": {"type": "string"},
                            "account_number": {"type": "string"},
                            "account_name": {"type": "string"},
                            "amount_vnd": {"type": "integer"},
                        },
                    },
                },
            },
        ],
    },
    "Order": {
        "type": "object",
        "description": "An enterprise's order to one cooperative. Lines are a snapshot of what was sold (name, unit "
                       "and price when ordered). Money is integer đồng (VND). Happy path of `status`: placed → "
                       "confirmed → awaiting_payment → paid → shipped → delivered → completed; or rejected, "
                       "cancelled.",
        "required": ["id", "reference", "status", "status_reason", "buyer", "cooperative", "agreement_id",
                     "po_number", "notes", "requested_date", "delivery", "delivery_note", "placed_at",
                     "status_changed_at", "lines", "total_vnd", "paid_vnd", "refunded_vnd", "amount_due_vnd",
                     "payment_terms", "payments", "events"],
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string", "description": "e.g. DH-2026-000123"},
            "status": {"enum": ORDER_ENUMS["status"]},
            "status_reason": {**NULLABLE_STRING, "description": "Why it was rejected or cancelled."},
            "buyer": _PARTY,
            "cooperative": _PARTY,
            "agreement_id": {"type": ["integer", "null"], "description": "The MoU whose prices it was placed under."},
            "po_number": NULLABLE_STRING,
            "notes": NULLABLE_STRING,
            "requested_date": {"type": "string", "format": "date"},
            "delivery": {
                "type": "object",
                "required": ["province_code", "commune_code", "street", "requested_date", "address"],
                "properties": {
                    "province_code": {"type": "integer"},
                    "commune_code": {"type": "integer"},
                    "street": {"type": "string"},
                    "requested_date": {"type": "string", "format": "date"},
                    "address": {"type": "string", "description": "Street, commune and province in words."},
                },
            },
            "delivery_note": {**NULLABLE_STRING, "description": "The cooperative's note when it shipped."},
            "placed_at": _DATE_TIME,
            "status_changed_at": _DATE_TIME,
            "lines": {"type": "array", "items": {
                "type": "object",
                "required": ["product_id", "name", "unit", "quantity", "unit_price_vnd", "line_total_vnd",
                             "price_source", "quantity_shipped", "quantity_received"],
                "properties": {
                    "product_id": {"type": ["integer", "null"], "description": "Null once the product was deleted."},
                    "name": {"type": "string"},
                    "unit": {"enum": ORDER_ENUMS["unit"]},
                    "quantity": {"type": "integer"},
                    "unit_price_vnd": {"type": "integer"},
                    "line_total_vnd": {"type": "integer"},
                    "price_source": {"enum": ["tier", "agreement"],
                                     "description": "The catalogue's volume tier, or the MoU's agreed price."},
                    "quantity_shipped": {"type": ["integer", "null"]},
                    "quantity_received": {"type": ["integer", "null"]},
                }}},
            "total_vnd": {"type": "integer"},
            "paid_vnd": {"type": "integer"},
            "refunded_vnd": {"type": "integer"},
            "amount_due_vnd": {"type": "integer", "description": "What the buyer may pay now (deposit, full amount "
                                                                  "or balance): POST /orders/{id}/payments."},
            "payment_terms": {
                "type": "object",
                "required": ["mode", "deposit_percent", "before_shipping_vnd"],
                "properties": {
                    "mode": {"enum": ORDER_ENUMS["mode"],
                             "description": "full: everything before shipping; deposit: a percentage before "
                                            "shipping, the balance on delivery."},
                    "deposit_percent": {"type": ["integer", "null"]},
                    "before_shipping_vnd": {"type": "integer", "description": "What must be paid before shipping."},
                },
            },
            "payments": {"type": "array", "items": {"$ref": "#/components/schemas/Payment"}},
            "events": {"type": "array", "description": "The order's timeline, oldest first (append-only).", "items": {
                "type": "object",
                "required": ["kind", "status", "at", "organisation_id", "note"],
                "properties": {
                    "kind": {"enum": ORDER_ENUMS["event"]},
                    "status": {"enum": ORDER_ENUMS["status"], "description": "The order's status after it."},
                    "at": _DATE_TIME,
                    "organisation_id": {"type": ["integer", "null"],
                                        "description": "Who did it; null for the platform (payments, Stripe)."},
                    "note": NULLABLE_STRING,
                }}},
        },
    },
    "OrderPage": {
        "type": "object",
        "required": ["results", "total", "page"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
        },
    },
    "PlacedOrders": {
        "type": "object",
        "required": ["orders"],
        "properties": {"orders": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Order"},
                                  "description": "One order per cooperative, by cooperative id."}},
    },
    "OrderInput": {
        "type": "object",
        "description": "What to order and where to deliver it. Products of several cooperatives make one order per "
                       "cooperative, all or none.",
        "required": ["lines", "delivery"],
        "additionalProperties": False,
        "properties": {
            "lines": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
                "type": "object", "required": ["product_id", "quantity"], "additionalProperties": False,
                "properties": {
                    "product_id": {**_ID, "description": "A product of the public catalogue, once per order."},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 10**9,
                                 "description": "In the product's unit: at least its minimum order, a multiple of "
                                                "its increment."}}}},
            "delivery": {
                "type": "object",
                "required": ["province_code", "commune_code", "street", "requested_date"],
                "additionalProperties": False,
                "properties": {
                    "province_code": {"enum": ENUMS["province"]},
                    "commune_code": {"type": "integer", "minimum": 1, "maximum": 10**7,
                                     "description": "A commune of the province (GET /geo/provinces/{code}/communes)."},
                    "street": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
                    "requested_date": {"type": "string", "format": "date",
                                       "description": "After every product's lead time, within a year, in the "
                                                      "harvest months of seasonal products."},
                },
            },
            "po_number": {"type": ["string", "null"], "maxLength": 40, "description": "Your purchase order number."},
            "agreement_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID,
                             "description": "An MoU in force with the cooperative: its agreed prices apply."},
            "notes": {"type": ["string", "null"], "maxLength": 2000},
        },
    },
}

_ORDER = _json({"$ref": "#/components/schemas/Order"}, "The order.")
NOT_A_PARTY_TO_THE_ORDER = {"404": _error("No such order, or your organisation is not its buyer or cooperative.")}
BAD_ORDER_BODY = {
    "400": _error("The body is not a JSON object (code `invalid_json`) or names fields that cannot be written "
                  "(code `unknown_fields`)."),
    "422": _error("Values break the rules (code `validation_failed`; `error.details.fields` holds a message per "
                  "field, e.g. `lines.0.quantity`)."),
}
WRONG_SIDE = {"409": _error("Not possible in the order's status, or not your side's step (code "
                            "`invalid_transition`; the message says why).")}
NOT_FULFILLING = {"403": _error("Your organisation may not fulfil orders: not a verified cooperative (codes "
                                "`wrong_organisation_kind`, `organisation_not_verified`).")}
_EMPTY_BODY = {"type": "object", "additionalProperties": False}


def _order_action(operation_id, summary, body_schema, extra=None, required=False):
    return {"post": {
        "operationId": operation_id,
        "summary": summary,
        "security": SECURED,
        "parameters": [ORDER_ID],
        "requestBody": {"required": required, "content": {"application/json": {"schema": body_schema}}},
        "responses": {"200": _ORDER, **BAD_ORDER_BODY, **UNAUTHENTICATED, **NOT_A_PARTY_TO_THE_ORDER, **WRONG_SIDE,
                      **(extra or {})},
    }}


ORDER_PATHS = {
    "/orders": {
        "get": {
            "operationId": "listOrders",
            "summary": "Your organisation's orders, as buyer or as cooperative, newest first.",
            "security": SECURED,
            "parameters": [{"name": "status", "in": "query", "schema": {"enum": ORDER_ENUMS["status"]}},
                           {"name": "agreement_id", "in": "query", "description": "Orders placed under one MoU.",
                            "schema": ID_PARAMETER},
                           PAGE, {**PER_PAGE, "description": "Results per page (default 20, at most 100)."}],
            "responses": {"200": _json({"$ref": "#/components/schemas/OrderPage"}, "One page of orders."),
                          **BAD_QUERY, **UNAUTHENTICATED},
        },
        "post": {
            "operationId": "placeOrders",
            "summary": "Order products of the public catalogue: one order per cooperative, all or none, with their "
                       "capacity reserved. Prices are the volume tier's, or the MoU's when `agreement_id` names one "
                       "in force.",
            "security": SECURED,
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/OrderInput"}}}},
            "responses": {
                "201": {**_json({"$ref": "#/components/schemas/PlacedOrders"}, "The orders placed."),
                        "headers": {"Idempotent-Replayed": {
                            "description": "`true` when this is the stored answer to an earlier request with the "
                                           "same Idempotency-Key (on every replayed status, not only 201).",
                            "schema": {"enum": ["true"]}}}},
                "400": _error("The body is not a JSON object (code `invalid_json`), names fields that cannot be "
                              "written (code `unknown_fields`), or the Idempotency-Key is empty, longer than 255 "
                              "characters or not visible ASCII (code `invalid_parameter`)."),
                **UNAUTHENTICATED,
                "403": _error("Your organisation may not order: not a verified enterprise (codes "
                              "`wrong_organisation_kind`, `organisation_not_verified`)."),
                "409": _error("A cooperative cannot supply a quantity for the requested date (code "
                              "`insufficient_capacity`; `error.details.fields` names each short line, e.g. "
                              "`lines.1.quantity`, with what is left). Nothing was ordered."),
                "422": _error("Values break the rules (code `validation_failed`; `error.details.fields` holds a "
                              "message per field: `lines.0.product_id`, `lines.0.quantity`, `delivery.commune_code`, "
                              "`delivery.requested_date`, `agreement_id`, ...), or the Idempotency-Key was used for "
                              "another request (code `idempotency_key_reused`). Nothing was ordered."),
            },
        },
    },
    "/orders/{order_id}": {
        "get": {
            "operationId": "getOrder",
            "summary": "One order with its lines, payments and timeline.",
            "security": SECURED,
            "parameters": [ORDER_ID],
            "responses": {"200": _ORDER, **BAD_QUERY, **UNAUTHENTICATED, **NOT_A_PARTY_TO_THE_ORDER},
        },
    },
    "/orders/{order_id}/confirm": _order_action(
        "confirmOrder", "The cooperative accepts a placed order: the buyer may then pay what is due before shipping.",
        _EMPTY_BODY, NOT_FULFILLING),
    "/orders/{order_id}/reject": _order_action(
        "rejectOrder", "The cooperative refuses a placed order, with a reason; its capacity is released.", _REASON,
        NOT_FULFILLING, required=True),
    "/orders/{order_id}/cancel": _order_action(
        "cancelOrder", "Either side cancels before shipping, with a reason: capacity is released, pending payments "
        "cancelled, card payments refunded, bank transfers marked to pay back.", _REASON, required=True),
    "/orders/{order_id}/ship": _order_action(
        "shipOrder", "The cooperative ships a paid order, with a delivery note. `lines` gives the quantities shipped "
        "(0 up to what was ordered); without it, everything ordered is shipped.",
        {"type": "object", "additionalProperties": False, "required": ["delivery_note"], "properties": {
            "delivery_note": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": "\\S",
                              "description": "Carrier, vehicle, packages."},
            "lines": _quantities(0, "Quantities shipped per product; products left out ship in full.")}},
        NOT_FULFILLING, required=True),
    "/orders/{order_id}/deliver": _order_action(
        "deliverOrder", "The buyer confirms receipt. `lines` gives the quantities received (0 up to what was "
        "shipped); without it, everything shipped was received. Paid in full, the order is completed; otherwise "
        "the balance becomes due.",
        {"type": "object", "additionalProperties": False, "properties": {
            "lines": _quantities(0, "Quantities received per product; products left out were received in full.")}}),
    "/orders/{order_id}/payments": {
        "post": {
            "operationId": "startPayment",
            "summary": "The buyer starts the payment that is due now (deposit, full amount or balance) by card or "
                       "bank transfer. A pending payment of the same method and amount is given again rather than a "
                       "second one, so a retry is harmless.",
            "security": SECURED,
            "parameters": [ORDER_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["method"],
                "properties": {"method": {"enum": ORDER_ENUMS["method"]}}}}}},
            "responses": {
                "201": _json({"$ref": "#/components/schemas/StartedPayment"},
                             "The payment: for a card, `client_secret` to confirm it with Stripe.js; for a bank "
                             "transfer, `vietqr` to show or send to the bank."),
                **BAD_ORDER_BODY, **UNAUTHENTICATED, **NOT_A_PARTY_TO_THE_ORDER,
                "409": _error("Nothing is due now, or the method is not offered for this order (code "
                              "`payment_not_possible`: cards need Stripe configured, transfers the cooperative's "
                              "bank account); Stripe failed (code `cards_unavailable`); only the buyer pays (code "
                              "`invalid_transition`)."),
            },
        },
    },
    "/payments/{payment_id}/received": {
        "post": {
            "operationId": "confirmPaymentReceived",
            "summary": "The cooperative confirms that a bank transfer arrived, with the amount received (at most "
                       "what is unpaid on the order). Recorded once: the order becomes paid or completed.",
            "security": SECURED,
            "parameters": [PAYMENT_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["amount_vnd"],
                "properties": {"amount_vnd": {"type": "integer", "minimum": 1, "maximum": 10**14}}}}}},
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Payment"}, "The payment, received."),
                **BAD_ORDER_BODY, **UNAUTHENTICATED, **NOT_FULFILLING,
                "404": _error("No such payment, not a bank transfer, or not a payment to your cooperative (the "
                              "buyer and third parties get 404)."),
                "409": _error("Already recorded, or its order was cancelled (code `payment_not_possible`)."),
            },
        },
    },
}
SCHEMAS.update(ORDER_SCHEMAS)
PATHS.update(ORDER_PATHS)


# ---------------------------------------------------------------- alliance follow-up (issue 11)

TRACKING_STATUSES = ["on_track", "behind", "stalled", "completed", "expired"]
_RATIO = {"type": "number", "minimum": 0,
          "description": "A share from 0 to 1 (volume may exceed 1 when more was ordered than committed)."}
FOLLOW_UP_SCHEMAS = {
    "AgreementProgress": {
        "type": "object",
        "description": "A signed MoU's progress, computed from the orders placed under it (rejected and cancelled "
                       "orders do not count). Ordered: quantities on those orders; delivered: quantities the buyer "
                       "confirmed receiving; paid: what the orders received, shared between their lines pro rata.",
        "required": ["agreement_id", "status", "time_elapsed_ratio", "volume_ratio", "last_order_at", "lines"],
        "additionalProperties": False,
        "properties": {
            "agreement_id": {"type": "integer"},
            "status": {"enum": TRACKING_STATUSES, "description": "on_track; behind: ordered share of the committed "
                       "value below the elapsed share of the term by more than the configured margin; stalled: no "
                       "order for the configured number of days; completed: every committed quantity delivered or "
                       "the MoU recorded as carried out; expired: the term ended first."},
            "time_elapsed_ratio": {**_RATIO, "maximum": 1, "description": "The elapsed share of the term."},
            "volume_ratio": {**_RATIO, "description": "The ordered share of the committed value."},
            "last_order_at": {"type": ["string", "null"], "format": "date-time"},
            "lines": {"type": "array", "items": {
                "type": "object",
                "required": ["product_id", "committed_qty", "ordered_qty", "delivered_qty", "paid_vnd",
                             "committed_value_vnd"],
                "additionalProperties": False,
                "properties": {
                    "product_id": {"type": ["integer", "null"], "description": "Null once the product was deleted."},
                    "committed_qty": {"type": "integer", "description": "Over the whole term: the quantity per "
                                      "period times the periods the term holds."},
                    "ordered_qty": {"type": "integer"},
                    "delivered_qty": {"type": "integer"},
                    "paid_vnd": {"type": "integer"},
                    "committed_value_vnd": {"type": "integer"},
                },
            }},
        },
    },
    "AttentionItem": {
        "type": "object",
        "required": ["agreement_id", "reference", "state", "status", "urgency", "reasons", "time_elapsed_ratio",
                     "volume_ratio", "end_date"],
        "additionalProperties": False,
        "properties": {
            "agreement_id": {"type": "integer"},
            "reference": {"type": "string"},
            "state": {"enum": AGREEMENT_ENUMS["state"]},
            "status": {"enum": [*TRACKING_STATUSES, None], "description": "Null while signatures are awaited."},
            "urgency": {"type": "integer", "description": "The sum of the reasons' weights: higher is more urgent."},
            "reasons": {"type": "array", "items": {
                "type": "object", "required": ["code", "message"], "additionalProperties": False,
                "properties": {"code": {"type": "string", "description": "stalled, behind, milestones_overdue, "
                                        "ending_soon, signatures_pending (more may come)."},
                               "message": {"type": "string"}}}},
            "time_elapsed_ratio": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "volume_ratio": {"type": ["number", "null"], "minimum": 0},
            "end_date": {"type": "string", "format": "date"},
        },
    },
}
FOLLOW_UP_SCHEMAS["AttentionPage"] = _page_of("AttentionItem")
FOLLOW_UP_PATHS = {
    "/agreements/{agreement_id}/progress": {
        "get": {
            "operationId": "getAgreementProgress",
            "summary": "A signed MoU's progress: committed, ordered, delivered and paid per product, the elapsed "
                       "share of the term and the tracking status. For its parties and alliance staff.",
            "security": SECURED,
            "parameters": [AGREEMENT_ID, LANG],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/AgreementProgress"}, "The progress."),
                **BAD_QUERY, **UNAUTHENTICATED,
                "404": _error("No such agreement, you are not a party to it, or it is not signed yet."),
            },
        },
    },
    "/alliance/agreements": {
        "get": {
            "operationId": "listAllianceAgreements",
            "summary": "Alliance staff: the MoUs needing attention (stalled, behind, ending soon, signatures "
                       "awaited too long), most urgent first; with `status`, every signed MoU of that tracking "
                       "status, most urgent first.",
            "security": SECURED,
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": TRACKING_STATUSES}},
                PAGE, {**PER_PAGE, "description": "Results per page (default 20, at most 100)."},
                {**LANG, "description": "Language of the reasons' messages (default vi)."},
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/AttentionPage"}, "One page of MoUs."),
                **BAD_QUERY, **UNAUTHENTICATED,
                "403": _error("Only cooperative alliance staff read this list (code `alliance_only`)."),
            },
        },
    },
}
SCHEMAS.update(FOLLOW_UP_SCHEMAS)
PATHS.update(FOLLOW_UP_PATHS)
