"""The OpenAPI 3.1 description of /api/v1. tests/test_api.py keeps it true: every API route must be
described here, and schemathesis checks that responses match it."""

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(ERROR, description)


NULLABLE_STRING = {"type": ["string", "null"]}

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
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
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
            "parameters": [{"name": "organisation_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}}],
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
            "parameters": [{"name": "province_code", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647}}],
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


def openapi_document(server_url="/api/v1"):
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chợ HTX API",
            "version": "1.0.0",
            "description": "B2B marketplace of Vietnamese cooperatives' OCOP products. Authenticate with a "
            "personal token created on your account page: `Authorization: Bearer <token>`. "
            "Errors are `{\"error\": {\"code\", \"message\"}}`.",
        },
        "servers": [{"url": server_url}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
