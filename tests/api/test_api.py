"""The JSON API /api/v1: bearer-token authentication, tenancy, errors, and the truth of its OpenAPI document."""
import hashlib
import json
import re

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import ApiToken
from marketplace.api.openapi import openapi_document
from marketplace.extensions import db
from tests import factories
from tests.support import assert_json_error, bearer, token_for

TOKEN_ON_PAGE = re.compile(r'value="(cht_[A-Za-z0-9_-]+)"')


# ---------------------------------------------------------------- authentication

def test_me_with_a_valid_token(client, cooperative_owner):
    response = client.get("/api/v1/me", headers=bearer(token_for(cooperative_owner)))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == cooperative_owner.id
    assert body["email"] == "owner@htx.example"
    assert body["role"] == "owner"
    organisation = body["organisation"]
    assert organisation["id"] == cooperative_owner.organisation_id
    assert organisation["kind"] == "cooperative"
    assert organisation["status"] == "verified"
    assert organisation["legal_name"] == cooperative_owner.organisation.legal_name
    assert organisation["province"] == {"code": 20, "name": organisation["province"]["name"]}
    assert organisation["province"]["name"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_token_records_when_it_was_last_used(client, cooperative_owner):
    secret = token_for(cooperative_owner)
    token = db.session.scalar(db.select(ApiToken).filter_by(user_id=cooperative_owner.id))
    assert token.last_used_at is None
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    db.session.refresh(token)
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Token cht_abc"},
        {"Authorization": "Basic b3duZXJAaHR4LmV4YW1wbGU6cGFzc3dvcmQ="},
        {"Authorization": "Bearer cht_this-token-does-not-exist-0123456789abcdefghij"},
        {"Authorization": "Bearer not-even-our-prefix"},
        {"Authorization": "Bearer cht_a cht_b"},
    ],
    ids=["missing", "empty", "scheme-only", "scheme-and-space", "other-scheme", "basic", "unknown", "no-prefix",
         "two-tokens"],
)
def test_missing_malformed_or_unknown_tokens_are_401(client, cooperative_owner, headers):
    token_for(cooperative_owner)
    response = client.get("/api/v1/me", headers=headers)
    assert_json_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_bearer_keyword_is_case_insensitive(client, cooperative_owner):
    # RFC 6750 / RFC 9110: the auth scheme is case-insensitive.
    secret = token_for(cooperative_owner)
    assert client.get("/api/v1/me", headers={"Authorization": f"bearer {secret}"}).status_code == 200


def test_a_browser_session_is_not_accepted_by_the_api(client, auth, cooperative_owner):
    assert auth.login(cooperative_owner.email).status_code == 302
    assert client.get("/account").status_code == 200  # the cookie session does work for pages
    for path in ("/api/v1/me", "/api/v1/organisations", f"/api/v1/organisations/{cooperative_owner.organisation_id}"):
        assert_json_error(client.get(path), 401, "unauthenticated")


def test_tokens_are_stored_hashed(client, cooperative_owner):
    secret = token_for(cooperative_owner)
    rows = db.session.execute(sa.text("SELECT * FROM api_token")).all()
    assert len(rows) == 1
    assert not any(secret in str(value) for value in rows[0])
    token = db.session.scalar(db.select(ApiToken))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(token.prefix) and len(token.prefix) < len(secret) // 3


def test_a_token_created_on_the_account_page_works_and_is_shown_once(client, auth, enterprise_owner):
    auth.login(enterprise_owner.email)
    page = client.post("/account/tokens", data={"name": "ERP sync"})
    assert page.status_code == 200
    secrets_shown = TOKEN_ON_PAGE.findall(page.get_data(as_text=True))
    assert len(secrets_shown) == 1
    secret = secrets_shown[0]
    me = client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200
    assert me.get_json()["email"] == enterprise_owner.email
    again = client.get("/account").get_data(as_text=True)
    assert "ERP sync" in again
    assert secret not in again


def test_a_token_without_a_name_is_refused_on_the_account_page(client, auth, enterprise_owner):
    auth.login(enterprise_owner.email)
    assert client.post("/account/tokens", data={"name": "  "}).status_code == 422
    assert db.session.scalar(db.select(sa.func.count(ApiToken.id))) == 0


def test_a_revoked_token_is_401(client, auth, cooperative_owner):
    secret = token_for(cooperative_owner)
    kept = token_for(cooperative_owner, "kept")
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    token = db.session.scalar(db.select(ApiToken).filter_by(name="tests"))
    auth.login(cooperative_owner.email)
    response = client.post(f"/account/tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert_json_error(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthenticated")
    assert client.get("/api/v1/me", headers=bearer(kept)).status_code == 200


def test_a_removed_members_token_stops_working(client, auth, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, email="member@htx.example", role="member")
    secret = token_for(member)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    auth.login(cooperative_owner.email)
    assert client.post(f"/organisation/members/{member.id}/remove").status_code == 302
    db.session.refresh(member)
    assert member.is_active is False
    assert_json_error(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthenticated")


NEW_PASSWORD = "một mật khẩu mới hoàn toàn khác"


def test_changing_the_password_revokes_every_api_token_and_says_so(client, auth, outbox, cooperative_owner):
    """Issue 12: a token created with a stolen password must not outlive the password (checklist row 38)."""
    secrets = [token_for(cooperative_owner, "ERP"), token_for(cooperative_owner, "kế toán")]
    other = token_for(factories.user(cooperative_owner.organisation, email="member@htx.example", role="member"))
    assert all(client.get("/api/v1/me", headers=bearer(s)).status_code == 200 for s in secrets)
    client.post("/language", data={"lang": "en"})
    auth.login(cooperative_owner.email)
    response = client.post("/account/password", data={"current_password": factories.PASSWORD,
                                                       "new_password": NEW_PASSWORD}, follow_redirects=True)
    assert response.status_code == 200
    assert "Your 2 API tokens were revoked with the old password" in response.get_data(as_text=True)
    for secret in secrets:
        assert_json_error(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthenticated")
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200  # another person's token
    assert "You have no API tokens." in client.get("/account").get_data(as_text=True)
    (mail,) = outbox
    assert mail.to == [cooperative_owner.email] and "2 token API của bạn đã bị thu hồi" in mail.body


def test_resetting_the_password_revokes_every_api_token_and_says_so(client, outbox, cooperative_owner):
    secret = token_for(cooperative_owner)
    client.post("/language", data={"lang": "en"})
    client.post("/forgot-password", data={"email": cooperative_owner.email})
    link = re.search(r"/reset-password/[A-Za-z0-9_-]+", outbox[0].body).group(0)
    outbox.clear()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    response = client.post(link, data={"password": NEW_PASSWORD}, follow_redirects=True)
    assert "1 API token was revoked with the old password" in response.get_data(as_text=True)
    assert_json_error(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthenticated")
    (mail,) = outbox
    assert "1 token API của bạn đã bị thu hồi" in mail.body


def test_a_password_change_without_tokens_says_nothing_about_tokens(client, auth, outbox, cooperative_owner):
    client.post("/language", data={"lang": "en"})
    auth.login(cooperative_owner.email)
    response = client.post("/account/password", data={"current_password": factories.PASSWORD,
                                                       "new_password": NEW_PASSWORD}, follow_redirects=True)
    assert "API token" not in response.get_data(as_text=True).split('id="tokens-heading"')[0]
    assert "API token" not in outbox[0].body


def test_a_deactivated_users_token_is_refused_even_if_not_revoked(client, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, email="member@htx.example", role="member")
    secret = token_for(member)
    member.is_active = False
    db.session.commit()
    assert_json_error(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthenticated")


# ---------------------------------------------------------------- organisations and tenancy

def test_organisations_is_for_alliance_staff_only(client, cooperative_owner, enterprise_owner):
    for user in (cooperative_owner, enterprise_owner):
        assert_json_error(client.get("/api/v1/organisations", headers=bearer(token_for(user))), 403, "alliance_only")


def test_organisations_lists_filters_and_paginates(client, alliance_user, cooperative_owner, enterprise_owner,
                                                   pending_cooperative_owner):
    headers = bearer(token_for(alliance_user))
    everything = client.get("/api/v1/organisations", headers=headers).get_json()
    assert everything["total"] == 3
    assert everything["page"] == 1
    ids = {o["id"] for o in everything["results"]}
    assert alliance_user.organisation_id not in ids  # the alliance does not review itself
    assert ids == {cooperative_owner.organisation_id, enterprise_owner.organisation_id,
                   pending_cooperative_owner.organisation_id}

    pending = client.get("/api/v1/organisations?status=pending", headers=headers).get_json()
    assert [o["id"] for o in pending["results"]] == [pending_cooperative_owner.organisation_id]
    enterprises = client.get("/api/v1/organisations?kind=enterprise", headers=headers).get_json()
    assert [o["id"] for o in enterprises["results"]] == [enterprise_owner.organisation_id]
    name = cooperative_owner.organisation.legal_name
    found = client.get("/api/v1/organisations", query_string={"q": name}, headers=headers).get_json()
    assert [o["id"] for o in found["results"]] == [cooperative_owner.organisation_id]

    for _ in range(20):
        factories.organisation("cooperative", status="pending")
    first = client.get("/api/v1/organisations", headers=headers).get_json()
    second = client.get("/api/v1/organisations?page=2", headers=headers).get_json()
    beyond = client.get("/api/v1/organisations?page=9", headers=headers).get_json()
    assert first["total"] == second["total"] == 23
    assert (len(first["results"]), len(second["results"])) == (20, 3)
    assert second["page"] == 2
    assert not {o["id"] for o in first["results"]} & {o["id"] for o in second["results"]}
    assert beyond["results"] == [] and beyond["total"] == 23


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", "page=abc", "page=100001", "page=99999999999999999999999", "status=approved",
     "status=", "kind=alliance", "q=" + "x" * 201, "staus=pending", "=x"],
)
def test_organisations_rejects_bad_query_parameters(client, alliance_user, query):
    error = assert_json_error(client.get(f"/api/v1/organisations?{query}", headers=bearer(token_for(alliance_user))),
                              400, "invalid_parameter")
    assert query.split("=")[0] in error["details"]["fields"]


def test_organisation_search_survives_odd_characters(client, alliance_user, cooperative_owner):
    headers = bearer(token_for(alliance_user))
    for q in ("\x00", "a\x00b", "%", "_", "' OR 1=1--", "Hợp tác xã"):
        response = client.get("/api/v1/organisations", query_string={"q": q}, headers=headers)
        assert response.status_code == 200, q
    assert client.get("/api/v1/organisations", query_string={"q": "' OR 1=1--"},
                      headers=headers).get_json()["total"] == 0


def test_the_alliance_page_search_survives_a_nul_character(client, auth, alliance_user, cooperative_owner):
    # The page and the API share the service; PostgreSQL refuses NUL in text.
    auth.login(alliance_user.email)
    assert client.get("/alliance/organisations", query_string={"q": "a\x00b", "status": ""}).status_code == 200


def test_organisation_of_another_tenant_is_404_but_alliance_sees_it(client, cooperative_owner, enterprise_owner,
                                                                     alliance_user):
    foreign = f"/api/v1/organisations/{enterprise_owner.organisation_id}"
    own = f"/api/v1/organisations/{cooperative_owner.organisation_id}"
    cooperative = bearer(token_for(cooperative_owner))
    assert_json_error(client.get(foreign, headers=cooperative), 404, "not_found")
    mine = client.get(own, headers=cooperative)
    assert mine.status_code == 200 and mine.get_json()["id"] == cooperative_owner.organisation_id
    staff = client.get(foreign, headers=bearer(token_for(alliance_user)))
    assert staff.status_code == 200
    assert staff.get_json()["legal_name"] == enterprise_owner.organisation.legal_name
    # An unknown id answers exactly like another tenant's: no enumeration.
    unknown = client.get("/api/v1/organisations/999999", headers=cooperative)
    assert unknown.get_json() == client.get(foreign, headers=cooperative).get_json()


@pytest.mark.parametrize("organisation_id", ["0", "2147483648", "99999999999999999999"])
def test_out_of_range_organisation_ids_are_404(client, alliance_user, organisation_id):
    response = client.get(f"/api/v1/organisations/{organisation_id}", headers=bearer(token_for(alliance_user)))
    assert_json_error(response, 404, "not_found")


# ---------------------------------------------------------------- geography (public)

def test_provinces_are_public(client):
    response = client.get("/api/v1/geo/provinces")
    assert response.status_code == 200
    provinces = response.get_json()
    assert len(provinces) == 34  # the provinces and cities in force since 1 July 2025
    assert {"code": 20, "name": "Lạng Sơn"} in provinces


def test_communes_of_a_province(client):
    response = client.get("/api/v1/geo/provinces/20/communes")
    assert response.status_code == 200
    communes = response.get_json()
    assert {c["code"] for c in communes} >= {6040}
    assert all(isinstance(c["name"], str) and c["name"] for c in communes)


@pytest.mark.parametrize("code", ["0", "99", "2147483648", "99999999999999999999"])
def test_communes_of_an_unknown_province_are_404(client, code):
    assert_json_error(client.get(f"/api/v1/geo/provinces/{code}/communes"), 404, "not_found")


# ---------------------------------------------------------------- errors are JSON everywhere under /api/

def test_unknown_api_paths_are_json_404(client):
    for path in ("/api/v1/nothing-here", "/api/v1/", "/api/v2/me", "/api/v1/organisations/abc"):
        assert_json_error(client.get(path), 404, "not_found")


def test_wrong_method_is_json_405_with_allow(client, cooperative_owner):
    response = client.post("/api/v1/me", headers=bearer(token_for(cooperative_owner)))
    assert_json_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD", "OPTIONS"}
    assert_json_error(client.delete("/api/v1/geo/provinces"), 405, "method_not_allowed")


def test_api_errors_are_not_cached(client):
    assert client.get("/api/v1/me").headers["Cache-Control"] == "no-store"


def test_the_api_needs_no_csrf_token(make_app, cooperative_owner):
    # CSRF protects cookie-authenticated forms; the API never reads cookies, so it is exempt.
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        secret = token_for(db.session.merge(cooperative_owner))
    response = app.test_client().post("/api/v1/me", headers=bearer(secret))
    assert_json_error(response, 405)


# ---------------------------------------------------------------- the OpenAPI document tells the truth

def _flask_to_openapi(rule):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_every_documented_path_exists(app):
    document = openapi_document()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = _flask_to_openapi(rule.rule.removeprefix("/api/v1"))
            routed |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed - documented == set(), "routes missing from marketplace/api/openapi.py"
    assert documented - routed == set(), "documented operations without a route"


def _schema_objects(node):
    """Every JSON Schema object in the document (components, parameters, media types)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema":
                yield value
            elif key == "schemas":
                yield from value.values()
            else:
                yield from _schema_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_objects(item)


def test_the_document_is_served_and_is_valid_openapi_3_1(client):
    import jsonschema_rs
    from schemathesis.openapi import from_dict
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "http://localhost/api/v1"}]
    # test_api_schema.py loads openapi_document() directly: it must be what is served.
    assert document == json.loads(json.dumps(openapi_document(server_url="http://localhost/api/v1")))
    OPENAPI_31_VALIDATOR.validate(document)
    schemas = list(_schema_objects(document))
    assert len(schemas) > 10
    for schema in schemas:  # the OpenAPI meta-schema does not look inside schema objects
        jsonschema_rs.meta.validate(schema)
    loaded = from_dict(document)
    loaded.validate()
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }


def test_every_operation_documents_its_errors(app):
    document = openapi_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if operation.get("security"):
                assert "401" in responses, f"{method} {path} must document 401"
            if "{" in path:
                assert "404" in responses, f"{method} {path} must document 404"
            if operation.get("parameters") and any(p["in"] == "query" for p in operation["parameters"]):
                assert "400" in responses, f"{method} {path} must document 400"
