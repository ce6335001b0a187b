"""Account and HTTP security through the test client, as a user or an attacker sees it.

Checklist rows: 1-3 password policy, 5 notifications, 6 hashing, 7 recovery and enumeration,
18 mass assignment, 19 CSRF, 24 open redirect, 25 size limit, 30-32 headers and error pages.
"""
import base64
import io
import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from werkzeug.datastructures import FileStorage
from werkzeug.routing import AnyConverter, UUIDConverter
from werkzeug.test import encode_multipart

from marketplace import config as settings
from marketplace.accounts import services, tokens
from marketplace.accounts.models import Invitation, MemberRole, Organisation, PasswordReset, User
from marketplace.extensions import db
from marketplace.routing import IdConverter
from marketplace.sqltypes import utcnow
from tests import factories
from tests.support import confirmation_link, csrf_token_from, register_and_confirm
from tests.support import login_with_form as login

HTTPS = {"base_url": "https://localhost"}
EVIL_TARGETS = [
    "https://evil.example",
    "https://evil.example/login",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "http://localhost@evil.example/",
    "javascript:alert(1)",
]


# ---------------------------------------------------------------- helpers



def page_token(client, path="/account"):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return csrf_token_from(response.get_data(as_text=True))


def without_csrf_tokens(html):
    return re.sub(r'name="csrf_token" (type="hidden" )?value="[^"]*"', 'name="csrf_token"', html)


def stays_on_host(location):
    """True when a browser following this Location stays on our host (tabs, newlines, \\ as browsers do)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).replace("\\", "/").strip()
    parts = urlsplit(cleaned)
    if parts.scheme not in ("", "http", "https"):
        return False
    return parts.netloc in ("", "localhost") and not cleaned.startswith("//")


def register(client, kind="cooperative", **overrides):
    return register_and_confirm(client, kind, **overrides)


def user_by_email(email):
    db.session.expire_all()
    return db.session.scalar(db.select(User).filter_by(email=email.lower()))


def argon2_parameters(password_hash):
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)", password_hash)
    assert match, password_hash
    m, t, p, salt, _digest = match.groups()
    return int(m), int(t), int(p), base64.b64decode(salt + "=" * (-len(salt) % 4))


# ---------------------------------------------------------------- headers (14.4.x, 14.3.3)

HEADER_PATHS = [
    "/",  # HTML
    "/login",  # HTML with a form
    "/healthz",  # JSON
    "/api/v1/geo/provinces",  # API JSON
    "/api/v1/me",  # API 401
    "/does-not-exist",  # HTML 404
    "/api/v1/does-not-exist",  # JSON 404
]


def parse_csp(value):
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


@pytest.mark.parametrize("path", HEADER_PATHS)
def test_security_headers_on_every_response(make_app, path):
    app = make_app(HTTPS=True, SESSION_COOKIE_SECURE=True, SESSION_COOKIE_NAME="__Host-session")
    response = app.test_client().get(path, **HTTPS)

    csp = parse_csp(response.headers.get("Content-Security-Policy", ""))
    assert csp.get("default-src") == ["'self'"]
    script_src = csp.get("script-src", csp["default-src"])
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert set(script_src) <= {"'self'", "https://js.stripe.com"}
    assert csp.get("frame-ancestors") == ["'none'"]
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")

    hsts = response.headers.get("Strict-Transport-Security", "")
    max_age = re.search(r"max-age=(\d+)", hsts)
    assert max_age and int(max_age.group(1)) >= 15724800, hsts
    assert "includesubdomains" in hsts.lower()

    content_type = response.headers["Content-Type"]
    if content_type.startswith("text/"):
        assert "charset=utf-8" in content_type.lower()
    server = response.headers.get("Server", "")
    assert not re.search(r"\d|werkzeug|python|gunicorn|flask", server, re.IGNORECASE), server


def test_html_pages_declare_utf8(client):
    for path in ("/", "/login", "/register", "/forgot-password", "/does-not-exist"):
        response = client.get(path)
        assert response.headers["Content-Type"] == "text/html; charset=utf-8", path


def test_no_hsts_over_plain_http_in_development(client):
    # HSTS is only meaningful (and only allowed by browsers) over HTTPS.
    assert "Strict-Transport-Security" not in client.get("/").headers


# ---------------------------------------------------------------- error pages (14.3.x, 12.1.1)

def test_forced_500_shows_the_custom_page_without_a_traceback(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("secret-internal-detail /srv/app/models.py line 42")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="vi">' in body and "500" in body
    for leak in ("Traceback", "RuntimeError", "secret-internal-detail", "models.py", "Werkzeug", "Internal Server Error"):
        assert leak not in body

    response = app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret-internal-detail" not in response.get_data(as_text=True)


def test_404_is_the_custom_page(client):
    response = client.get("/does-not-exist")
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<html lang="vi">' in body and "Chợ HTX" in body
    assert "The requested URL was not found on the server" not in body
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_no_debugger_and_no_debug_mode(make_app, monkeypatch):
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    app = make_app()
    assert app.debug is False
    assert app.test_client().get("/console").status_code == 404
    resource = app.test_client().get("/?__debugger__=yes&cmd=resource&f=debugger.js")
    assert resource.headers["Content-Type"] == "text/html; charset=utf-8"  # the home page, not the debugger's file


def test_request_bodies_over_five_megabytes_are_refused(make_app):
    app = make_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    client = app.test_client()

    def upload(size):
        # Encoded in memory: the test client's own temporary file for big bodies is never closed.
        boundary, body = encode_multipart({
            "email": "a@b.example", "password": "x" * 12,
            "file": FileStorage(io.BytesIO(b"\0" * size), filename="photo.jpg", content_type="image/jpeg"),
        })
        assert len(body) > size
        return client.post("/login", data=body, content_type=f"multipart/form-data; boundary={boundary}")

    response = upload(6 * 1024 * 1024)
    assert response.status_code == 413
    assert '<html lang="vi">' in response.get_data(as_text=True)
    # A body under the limit is read normally (the limit is 5 MB, not lower).
    assert upload(4 * 1024 * 1024).status_code == 401


# ---------------------------------------------------------------- CSRF (4.2.2)

def _is_exempt(rule):
    return rule.rule.startswith("/api/v1/") or rule.rule.endswith("/stripe/webhook")


def _fill(rule, ids):
    """A URL for a rule, with existing ids where we know them and a valid value elsewhere."""
    values = {}
    for name, converter in rule._converters.items():
        if name in ids.get(rule.endpoint, {}):
            values[name] = ids[rule.endpoint][name]
        elif name in ids["*"]:
            values[name] = ids["*"][name]
        elif isinstance(converter, AnyConverter):
            values[name] = converter.items[0] if hasattr(converter, "items") else re.findall(r"\w+", converter.regex)[0]
        elif isinstance(converter, IdConverter):
            values[name] = 1
        elif isinstance(converter, UUIDConverter):
            values[name] = uuid.uuid4()
        else:
            values[name] = "x"
    return rule.build(values)[1]


@pytest.fixture
def csrf_world(make_app):
    """A CSRF-enabled app with logged-in owner, member, alliance staff and existing objects."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        owner = factories.user(factories.organisation("cooperative"), email="owner@htx.example")
        member = factories.user(owner.organisation, role="member", email="member@htx.example")
        staff = factories.alliance_user()
        attacker = factories.user(factories.organisation("enterprise"), email="attacker@dn.example")
        pending = factories.user(factories.organisation("cooperative", status="pending"), email="new@htx.example")
        api_token, _secret = services.create_api_token(owner, "ERP")
        invitation_secret, reset_secret = tokens.new_secret(), tokens.new_secret()
        invitation = Invitation(organisation=owner.organisation, email="invitee@htx.example", role=MemberRole.MEMBER,
                                token_hash=tokens.digest(invitation_secret), invited_by=owner,
                                expires_at=utcnow() + timedelta(days=7))
        db.session.add(invitation)
        db.session.add(PasswordReset(user=pending, token_hash=tokens.digest(reset_secret),
                                     expires_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
        ids = {
            "*": {"user_id": member.id, "token_id": api_token.id, "invitation_id": invitation.id,
                  "organisation_id": pending.organisation.id, "kind": "cooperative", "action": "verify"},
            "accounts.reset_password": {"token": reset_secret},
            "accounts.accept_invitation": {"token": invitation_secret},
        }
        clients = {}
        for name, user in (("owner", owner), ("staff", staff), ("attacker", attacker)):
            clients[name] = app.test_client()
            assert login(clients[name], user.email).status_code == 302
        yield {"app": app, "ids": ids, "clients": clients, "owner": owner, "member": member}
        db.session.remove()


def _post_rules(app):
    rules = [r for r in app.url_map.iter_rules() if "POST" in r.methods]
    assert {"/logout", "/login", "/account/password", "/language"} <= {r.rule for r in rules}
    return rules


def _client_for(world, rule):
    return world["clients"]["staff" if rule.rule.startswith("/alliance/") else "owner"]


def test_every_state_changing_post_without_a_csrf_token_is_refused(csrf_world):
    app, failures = csrf_world["app"], []
    for rule in _post_rules(app):
        if _is_exempt(rule):
            continue
        url = _fill(rule, csrf_world["ids"])
        response = _client_for(csrf_world, rule).post(url, data={"name": "x", "email": "x@y.example", "lang": "en"})
        if response.status_code != 400:
            failures.append((url, response.status_code))
    assert failures == []
    # Nothing happened: the member is still active, the owner still logged in.
    db.session.expire_all()
    assert db.session.get(User, csrf_world["member"].id).is_active
    assert csrf_world["clients"]["owner"].get("/account").status_code == 200


def test_a_csrf_token_from_another_session_is_refused(csrf_world):
    app, failures = csrf_world["app"], []
    foreign_token = page_token(csrf_world["clients"]["attacker"])
    for rule in _post_rules(app):
        if _is_exempt(rule):
            continue
        url = _fill(rule, csrf_world["ids"])
        response = _client_for(csrf_world, rule).post(url, data={"csrf_token": foreign_token, "name": "x"})
        if response.status_code != 400:
            failures.append((url, response.status_code))
    assert failures == []
    db.session.expire_all()
    assert db.session.get(User, csrf_world["member"].id).is_active


def test_own_csrf_token_is_accepted(csrf_world):
    owner = csrf_world["clients"]["owner"]
    response = owner.post("/logout", data={"csrf_token": page_token(owner)})
    assert response.status_code == 302
    assert owner.get("/account").status_code == 302


def test_only_the_api_and_the_signed_webhook_skip_csrf(csrf_world):
    """Exempt POST routes must authenticate another way: an anonymous unsigned POST never succeeds."""
    app = csrf_world["app"]
    for rule in _post_rules(app):
        if _is_exempt(rule):
            url = _fill(rule, csrf_world["ids"])
            response = app.test_client().post(url, data=b"{}", content_type="application/json")
            assert response.status_code in (400, 401, 403), (url, response.status_code)


def test_api_ignores_session_cookies(csrf_world):
    """Cookie-authenticated requests to /api/v1 get exactly what an anonymous caller gets."""
    app = csrf_world["app"]
    logged_in, anonymous = csrf_world["clients"]["staff"], app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        url = _fill(rule, csrf_world["ids"])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            with_cookie = logged_in.open(url, method=method, json={})
            without = anonymous.open(url, method=method, json={})
            assert with_cookie.status_code == without.status_code, (method, url)
            if without.status_code == 401:
                checked += 1
    assert checked >= 3  # /me, /organisations, /organisations/<id> need a token
    assert logged_in.get("/api/v1/me").status_code == 401
    assert logged_in.get("/api/v1/organisations").status_code == 401


def test_api_accepts_a_bearer_token(client, auth, cooperative_owner):
    auth.login(cooperative_owner.email)
    page = client.post("/account/tokens", data={"name": "ERP sync"}).get_data(as_text=True)
    secret = re.search(r"cht_[A-Za-z0-9_-]{20,}", page).group(0)
    api = client.application.test_client()
    response = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == cooperative_owner.email


# ---------------------------------------------------------------- open redirect (5.1.5)

@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_login_next_never_leaves_the_host(app, cooperative_owner, target):
    as_field = app.test_client().post("/login", data={
        "email": cooperative_owner.email, "password": factories.PASSWORD, "next": target})
    assert as_field.status_code == 302
    assert stays_on_host(as_field.headers["Location"]), as_field.headers["Location"]

    as_query = app.test_client().post("/login", query_string={"next": target},
                                      data={"email": cooperative_owner.email, "password": factories.PASSWORD})
    assert as_query.status_code == 302
    assert stays_on_host(as_query.headers["Location"]), as_query.headers["Location"]


def test_login_next_to_a_local_page_is_followed(app, cooperative_owner):
    response = app.test_client().post("/login", query_string={"next": "/organisation/members"},
                                      data={"email": cooperative_owner.email, "password": factories.PASSWORD})
    assert urlsplit(response.headers["Location"]).path == "/organisation/members"


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_language_switch_next_never_leaves_the_host(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.status_code == 302
    assert stays_on_host(response.headers["Location"]), response.headers["Location"]


def test_language_switch_returns_to_the_local_page(client):
    response = client.post("/language", data={"lang": "en", "next": "/register?x=1"})
    assert response.headers["Location"].endswith("/register?x=1")


# ---------------------------------------------------------------- password policy (2.1.x)

LONG_PASSWORD = (
    "Mùa nước nổi ở Đồng Tháp, cá linh về đầy đồng, bông điên điển vàng rực; "
    "nhà nhà làm mắm cá linh ngon"
)


def test_eleven_characters_are_rejected_and_twelve_accepted(client):
    short_email, ok_email = "ngan@htx.example", "du@htx.example"
    response = register(client, password="Kq7#vz!Lp2@", owner_email=short_email)
    assert response.status_code == 422
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert user_by_email(short_email) is None

    response = register(client, password="Kq7#vz!Lp2@x", owner_email=ok_email)
    assert response.status_code == 302
    assert user_by_email(ok_email) is not None


def test_long_unicode_password_with_spaces_works_and_is_not_truncated(app, client):
    assert len(LONG_PASSWORD) == 100 and " " in LONG_PASSWORD
    email = "dai@htx.example"
    assert register(client, password=LONG_PASSWORD, owner_email=email).status_code == 302

    right = app.test_client()
    assert login(right, email, LONG_PASSWORD).status_code == 302
    assert right.get("/account").status_code == 200

    last_changed = LONG_PASSWORD[:-1] + "?"
    assert login(app.test_client(), email, last_changed).status_code == 401
    assert login(app.test_client(), email, LONG_PASSWORD[:72]).status_code == 401


def test_decomposed_unicode_password_logs_in(app, client):
    """A phone keyboard may send NFD; the same password typed elsewhere is NFC."""
    import unicodedata

    email = "nfd@htx.example"
    assert register(client, password=LONG_PASSWORD, owner_email=email).status_code == 302
    assert login(app.test_client(), email, unicodedata.normalize("NFD", LONG_PASSWORD)).status_code == 302


@pytest.mark.parametrize("password", ["123456789012", "password1234", "qwertyuiopas", "iloveyou1234", "111111111111"])
def test_common_passwords_are_rejected(client, password):
    email = f"common{uuid.uuid4().hex[:8]}@htx.example"
    response = register(client, password=password, owner_email=email)
    assert response.status_code == 422
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert user_by_email(email) is None


def test_lowercase_passphrase_is_accepted_without_composition_rules(app, client):
    email = "cumtu@htx.example"
    assert register(client, password="nhanlongkhoi", owner_email=email).status_code == 302
    assert login(app.test_client(), email, "nhanlongkhoi").status_code == 302


def test_password_over_the_cap_is_rejected_not_truncated(client):
    email = "qua-dai@htx.example"
    response = register(client, password="hoa sen nở " * 30, owner_email=email)  # 330 characters
    assert response.status_code == 422
    assert user_by_email(email) is None


# ---------------------------------------------------------------- password storage (2.4.x)

def test_same_password_gives_different_salted_argon2id_hashes(client):
    for email in ("mot@htx.example", "hai@htx.example"):
        assert register(client, password=LONG_PASSWORD, owner_email=email).status_code == 302
    first, second = user_by_email("mot@htx.example").password_hash, user_by_email("hai@htx.example").password_hash
    assert first != second
    salt_a, salt_b = argon2_parameters(first)[3], argon2_parameters(second)[3]
    assert salt_a != salt_b and len(salt_a) >= 16
    assert LONG_PASSWORD not in first


def test_production_hash_parameters(make_app, monkeypatch, tmp_path):
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    defaults = settings.defaults(str(tmp_path))
    production = {key: defaults[key] for key in
                  ("PASSWORD_HASH_TIME_COST", "PASSWORD_HASH_MEMORY_COST", "PASSWORD_HASH_PARALLELISM")}
    app = make_app(**production)
    with app.app_context():
        client = app.test_client()
        assert register(client, password=LONG_PASSWORD, owner_email="prod@htx.example").status_code == 302
        memory_kib, time_cost, _parallelism, salt = argon2_parameters(user_by_email("prod@htx.example").password_hash)
        assert memory_kib >= 19456
        assert time_cost >= 2
        assert len(salt) >= 16
        assert login(app.test_client(), "prod@htx.example", LONG_PASSWORD).status_code == 302
        db.session.remove()


# ---------------------------------------------------------------- mass assignment (4.1.2)

def test_registration_ignores_privilege_fields(client, cooperative_owner):
    other = cooperative_owner.organisation
    members_before = len(other.members)
    email = "leo-thang@htx.example"
    data = factories.registration_form(
        "cooperative", owner_email=email, status="verified", role="admin", classification="good", is_demo="1",
        organisation_id=str(other.id), is_active="0", is_verified="1", id=str(cooperative_owner.id))
    data["kind"] = "alliance"
    assert client.post("/register/cooperative", data=data).status_code == 302
    assert client.post(confirmation_link(client.application, email)).status_code == 302
    user = user_by_email(email)
    organisation = user.organisation
    assert organisation.id != other.id
    assert organisation.kind.value == "cooperative"
    assert organisation.status.value == "pending"
    assert organisation.classification is None
    assert organisation.is_demo is False
    assert user.role == MemberRole.OWNER and user.is_active
    assert user.id != cooperative_owner.id
    db.session.refresh(other)
    assert len(other.members) == members_before
    assert db.session.get(User, cooperative_owner.id).email == cooperative_owner.email


def test_profile_edit_ignores_privilege_fields(client, auth, pending_cooperative_owner):
    organisation = pending_cooperative_owner.organisation
    auth.login(pending_cooperative_owner.email)
    data = {
        "legal_name": organisation.legal_name, "tax_code": organisation.tax_code, "sector": "agriculture",
        "province_code": "20", "commune_code": "6040", "phone": organisation.phone, "email": organisation.email,
        "representative": organisation.representative, "cooperative_type": "hop_tac_xa", "member_count": "10",
        "founded_year": "2018",
        "status": "verified", "classification": "good", "is_demo": "1", "kind": "alliance", "role": "admin",
    }
    response = client.post("/organisation", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    organisation = db.session.get(Organisation, organisation.id)
    assert organisation.status.value == "pending"
    assert organisation.classification is None
    assert organisation.is_demo is False
    assert organisation.kind.value == "cooperative"


# ---------------------------------------------------------------- recovery and enumeration (2.5.x, 3.x)

def _forgot(app, email):
    client = app.test_client()
    token = csrf_token_from(client.get("/forgot-password").get_data(as_text=True))
    response = client.post("/forgot-password", data={"email": email, "csrf_token": token})
    follow = client.get(response.headers.get("Location", "/login"))
    return response, without_csrf_tokens(follow.get_data(as_text=True))


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = factories.user(factories.organisation("cooperative"), email="known@htx.example")
        mailman = app.extensions["mailman"]
        mailman.outbox = []
        known, known_page = _forgot(app, user.email)
        unknown, unknown_page = _forgot(app, "unknown@htx.example")
        assert known.status_code == unknown.status_code == 302
        assert known.headers["Location"] == unknown.headers["Location"]
        assert known.get_data() == unknown.get_data()
        assert known_page == unknown_page
        # One email each: the owner's holds a reset link, the other address learns no account uses it.
        assert [m.to for m in mailman.outbox] == [[user.email], ["unknown@htx.example"]]
        assert "/reset-password/" in mailman.outbox[0].body and "/reset-password/" not in mailman.outbox[1].body
        db.session.remove()


def test_login_error_is_the_same_for_unknown_email_wrong_password_and_removed_member(app, cooperative_owner):
    removed = factories.user(cooperative_owner.organisation, role="member", email="removed@htx.example",
                             is_active=False)
    answers = []
    for email, password in (("nobody@htx.example", factories.PASSWORD),
                            (cooperative_owner.email, "sai mật khẩu rồi nhé"),
                            (removed.email, factories.PASSWORD)):
        response = login(app.test_client(), email, password)
        page = without_csrf_tokens(response.get_data(as_text=True)).replace(email, "EMAIL")
        answers.append((response.status_code, page))
    assert answers[0][0] == 401
    assert answers[0] == answers[1] == answers[2]


def _reset_link(outbox, email):
    mails = [m for m in outbox if m.to == [email]]
    assert len(mails) == 1
    match = re.search(r"https?://[^\s]+/reset-password/[A-Za-z0-9_-]+", mails[0].body)
    assert match, mails[0].body
    return urlsplit(match.group(0)).path


def test_reset_token_works_once(app, client, outbox, cooperative_owner, english):
    logged_in = app.test_client()
    login(logged_in, cooperative_owner.email)
    client.post("/forgot-password", data={"email": cooperative_owner.email})
    link = _reset_link(outbox, cooperative_owner.email)
    outbox.clear()

    assert client.get(link).status_code == 200
    new_password = "một mật khẩu mới sau khi quên"
    response = client.post(link, data={"password": new_password})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    # Notification (2.2.3): exactly one mail, to the account owner.
    assert [m.to for m in outbox] == [[cooperative_owner.email]]

    # A used link says so and offers a new one (410 Gone: it will never work again), on GET and POST alike.
    for response in (client.get(link), client.post(link, data={"password": "lại một mật khẩu khác nữa"})):
        assert response.status_code == 410
        page = response.get_data(as_text=True)
        assert "This link has already been used" in page and 'href="/forgot-password"' in page
    assert login(app.test_client(), cooperative_owner.email, new_password).status_code == 302
    assert login(app.test_client(), cooperative_owner.email, "lại một mật khẩu khác nữa").status_code == 401
    assert login(app.test_client(), cooperative_owner.email).status_code == 401
    # Every earlier session ended with the reset.
    assert logged_in.get("/account").status_code == 302


def test_reset_token_expires_after_one_hour(app, client, outbox, cooperative_owner, english):
    with freeze_time("2026-04-01 02:00:00") as clock:
        # English again in the frozen past: the session that chose it is signed with today's time, which
        # itsdangerous refuses as a negative age there
        client.post("/language", data={"lang": "en"})
        client.post("/forgot-password", data={"email": cooperative_owner.email})
        late_link = _reset_link(outbox, cooperative_owner.email)
        clock.tick(timedelta(minutes=59))
        assert client.get(late_link).status_code == 200
        clock.tick(timedelta(minutes=1, seconds=1))
        for response in (client.get(late_link),
                         client.post(late_link, data={"password": "mật khẩu mới quá muộn rồi"})):
            assert response.status_code == 410
            page = response.get_data(as_text=True)
            assert "This link has expired" in page and 'href="/forgot-password"' in page
    assert login(app.test_client(), cooperative_owner.email).status_code == 302


def test_a_made_up_reset_token_is_refused(client, english):
    response = client.get("/reset-password/" + tokens.new_secret())
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "This link is not valid" in page and 'href="/forgot-password"' in page


# ---------------------------------------------------------------- notifications (2.2.3)

def test_password_change_sends_one_notification(client, auth, outbox, cooperative_owner):
    auth.login(cooperative_owner.email)
    response = client.post("/account/password", data={
        "current_password": factories.PASSWORD, "new_password": "một mật khẩu mới hoàn toàn khác"})
    assert response.status_code == 302
    assert len(outbox) == 1
    assert outbox[0].to == [cooperative_owner.email]
    assert "một mật khẩu mới hoàn toàn khác" not in outbox[0].body


def _all_reset_links(outbox, email):
    return [urlsplit(re.search(r"https?://[^\s]+/reset-password/[A-Za-z0-9_-]+", m.body).group(0)).path
            for m in outbox if m.to == [email]]


def test_using_one_reset_link_spends_the_older_ones(client, outbox, cooperative_owner):
    client.post("/forgot-password", data={"email": cooperative_owner.email})
    client.post("/forgot-password", data={"email": cooperative_owner.email})
    older, newer = _all_reset_links(outbox, cooperative_owner.email)
    assert client.post(newer, data={"password": "một mật khẩu mới sau khi quên"}).status_code == 302
    assert client.get(older).status_code == 410
    assert client.post(older, data={"password": "kẻ gian đặt mật khẩu này"}).status_code == 410


def test_changing_the_password_spends_outstanding_reset_links(app, client, auth, outbox, cooperative_owner):
    app.test_client().post("/forgot-password", data={"email": cooperative_owner.email})
    (link,) = _all_reset_links(outbox, cooperative_owner.email)
    auth.login(cooperative_owner.email)
    response = client.post("/account/password", data={
        "current_password": factories.PASSWORD, "new_password": "một mật khẩu mới hoàn toàn khác"})
    assert response.status_code == 302
    assert app.test_client().get(link).status_code == 410


# ---------------------------------------------------------------- rows 21-23: the code itself

SOURCE_ROOTS = ("marketplace", "templates")
UNESCAPED_OUTPUT = re.compile(r"\|\s*safe\b|Markup\(|autoescape\s+false|render_template_string")
SQL_BUILT_FROM_STRINGS = re.compile(r"""(?<![\w.])(?:sa\.|db\.|sqlalchemy\.)?text\(\s*(?:f["']|[^)]*["']\s*%|[^)]*\.format\()""")


def _source_lines():
    root = settings.PROJECT_ROOT
    for folder in SOURCE_ROOTS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in {".py", ".html", ".txt"} and path.is_file():
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                    yield f"{path.relative_to(root)}:{number}", line


# The only places allowed to bypass escaping, with why each is safe (one use each, no more).
UNESCAPED_ALLOWLIST = {
    # The VietQR code on the bank transfer page: an SVG that segno draws from the payload we build (digits,
    # ASCII letters and spaces only); segno escapes the <title>, the only text it writes.
    "marketplace/payments/views.py": "qr = Markup(vietqr.qr_svg(",
    # The dashboard's charts: pygal's SVG parsed and written again by xml.etree.ElementTree, which escapes every
    # text and attribute (labels are user data: conference and cooperative names); <style>, <script> and
    # style="" are removed first (tests/alliance/test_dashboard.py checks a hostile label comes out escaped).
    "marketplace/alliance/charts.py": "return Markup(ET.tostring(root",
}


def test_no_template_output_bypasses_escaping():
    """Row 21/22: no |safe, Markup(, autoescape false or render_template_string outside UNESCAPED_ALLOWLIST."""
    found, allowed = [], []
    for where, line in _source_lines():
        if UNESCAPED_OUTPUT.search(line):
            path = where.split(":")[0]
            if UNESCAPED_ALLOWLIST.get(path, "\0") in line:
                allowed.append(path)
            else:
                found.append(where)
    assert not found, f"escaping bypassed at {found}"
    assert sorted(allowed) == sorted(UNESCAPED_ALLOWLIST), "each allowed use appears exactly once"


def test_the_vietqr_svg_escapes_its_title():
    from marketplace.payments import vietqr

    svg = vietqr.qr_svg(vietqr.payload("970436", "0011001932418", 1000, "HTX ABC"), title='<script>"x"</script>')
    assert "<script>" not in svg and "&lt;script&gt;" in svg and svg.startswith('<svg role="img" ')


def test_no_sql_text_is_built_from_strings():
    """Row 23 (Bandit B608): raw SQL never comes from f-strings, % or .format."""
    found = [where for where, line in _source_lines() if where.split(":")[0].endswith(".py")
             and SQL_BUILT_FROM_STRINGS.search(line)]
    assert not found, f"SQL built from strings at {found}"
