"""Session security through HTTP, as a user or an attacker sees it (checklist rows 8-12).

ASVS 3.2.1 new session at login, 3.3.1 logout and expiry revoke, 3.3.2 idle 30 min / absolute 12 h,
3.4.1-3.4.4 cookie attributes and the __Host- prefix; remember-me is never offered.
"""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time

from marketplace import config as settings
from marketplace.accounts.models import AuthSession
from marketplace.extensions import db
from tests import factories
from tests.support import csrf_token_from
from tests.support import login_with_form as login

PRODUCTION_COOKIE_KEYS = (
    "HTTPS",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
)


# ---------------------------------------------------------------- helpers



def page_token(client, path="/account", **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.status_code
    return csrf_token_from(response.get_data(as_text=True))


def session_cookie(client, app):
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return cookie.value if cookie else None


def clone_with_cookie(app, value, **kwargs):
    """A second browser (the attacker's) holding a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], value, **kwargs)
    return other


def assert_sent_to_login(response):
    assert response.status_code == 302, response.status_code
    assert urlsplit(response.headers["Location"]).path == "/login"


def set_cookie_headers(response, name=None):
    headers = response.headers.getlist("Set-Cookie")
    if name is None:
        return headers
    return [h for h in headers if h.split("=", 1)[0] == name]


def production_cookie_settings(monkeypatch, tmp_path):
    """The cookie and HTTPS settings of the production profile, read from config.defaults()."""
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    defaults = settings.defaults(str(tmp_path))
    return {key: defaults[key] for key in PRODUCTION_COOKIE_KEYS}


@pytest.fixture
def csrf_app(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()


# ---------------------------------------------------------------- anti-fixation (3.2.1)

def test_login_issues_a_new_session_and_the_pre_login_cookie_stays_anonymous(csrf_app, cooperative_owner):
    victim = csrf_app.test_client()
    victim.get("/login")  # the CSRF token makes the server set a pre-login session cookie
    before = session_cookie(victim, csrf_app)
    assert before, "expected a pre-login session cookie"
    attacker = clone_with_cookie(csrf_app, before)

    assert login(victim, cooperative_owner.email).status_code == 302
    after = session_cookie(victim, csrf_app)
    assert after and after != before
    assert victim.get("/account").status_code == 200

    assert_sent_to_login(attacker.get("/account"))
    assert_sent_to_login(attacker.get("/organisation"))


def test_login_rotates_the_csrf_token(csrf_app, cooperative_owner):
    client = csrf_app.test_client()
    before = csrf_token_from(client.get("/login").get_data(as_text=True))
    login(client, cooperative_owner.email)
    after = page_token(client)
    # The raw secret behind the token must change: an old token no longer validates.
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400
    assert client.get("/account").status_code == 200
    assert after != before


# ---------------------------------------------------------------- logout and revocation (3.3.1)

def test_logout_revokes_a_copied_session_cookie(csrf_app, cooperative_owner):
    client = csrf_app.test_client()
    assert login(client, cooperative_owner.email).status_code == 302
    stolen = clone_with_cookie(csrf_app, session_cookie(client, csrf_app))
    assert stolen.get("/account").status_code == 200  # the copy works before logout (control)

    response = client.post("/logout", data={"csrf_token": page_token(client)})
    assert response.status_code == 302

    assert_sent_to_login(stolen.get("/account"))
    assert_sent_to_login(client.get("/account"))
    record = db.session.scalar(db.select(AuthSession).filter_by(user_id=cooperative_owner.id))
    db.session.refresh(record)
    assert record.revoked_at is not None


def test_logout_is_post_only(client, auth, cooperative_owner):
    auth.login(cooperative_owner.email)
    assert client.get("/logout").status_code == 405
    assert client.get("/account").status_code == 200


def test_password_change_ends_the_other_sessions_but_keeps_this_one(client, auth, app, cooperative_owner, outbox):
    other_device = app.test_client()
    assert login(other_device, cooperative_owner.email).status_code == 302
    auth.login(cooperative_owner.email)
    assert other_device.get("/account").status_code == 200

    response = client.post("/account/password", data={
        "current_password": factories.PASSWORD,
        "new_password": "một mật khẩu mới hoàn toàn khác",
    })
    assert response.status_code == 302

    assert_sent_to_login(other_device.get("/account"))
    assert client.get("/account").status_code == 200
    assert [m.to for m in outbox] == [[cooperative_owner.email]]


def test_wrong_current_password_changes_nothing(client, auth, app, cooperative_owner, outbox):
    other_device = app.test_client()
    login(other_device, cooperative_owner.email)
    auth.login(cooperative_owner.email)
    response = client.post("/account/password", data={
        "current_password": "không phải mật khẩu đúng",
        "new_password": "một mật khẩu mới hoàn toàn khác",
    })
    assert response.status_code == 422
    assert other_device.get("/account").status_code == 200
    assert outbox == []


def test_removing_a_member_ends_their_sessions(client, auth, app, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, role="member", email="member@htx.example")
    member_client = app.test_client()
    assert login(member_client, member.email).status_code == 302
    assert member_client.get("/account").status_code == 200

    auth.login(cooperative_owner.email)
    response = client.post(f"/organisation/members/{member.id}/remove")
    assert response.status_code == 302

    assert_sent_to_login(member_client.get("/account"))
    assert login(app.test_client(), member.email).status_code == 401  # and cannot log in again


# ---------------------------------------------------------------- idle and absolute timeout (3.3.2)

def test_idle_timeout_is_thirty_minutes(client, auth, cooperative_owner):
    with freeze_time("2026-03-02 01:00:00") as clock:
        assert auth.login(cooperative_owner.email).status_code == 302
        clock.tick(timedelta(minutes=29))
        assert client.get("/account").status_code == 200  # activity resets the idle clock
        clock.tick(timedelta(minutes=29))
        assert client.get("/account").status_code == 200
        clock.tick(timedelta(minutes=31))
        assert_sent_to_login(client.get("/account"))
        clock.tick(timedelta(seconds=1))
        assert_sent_to_login(client.get("/account"))  # revoked for good, not only this once


def test_idle_session_cookie_copied_elsewhere_is_dead_too(app, client, auth, cooperative_owner):
    with freeze_time("2026-03-02 01:00:00") as clock:
        auth.login(cooperative_owner.email)
        copy = clone_with_cookie(app, session_cookie(client, app))
        clock.tick(timedelta(minutes=31))
        assert_sent_to_login(copy.get("/account"))


def test_absolute_lifetime_is_twelve_hours_even_when_active(client, auth, cooperative_owner):
    with freeze_time("2026-03-02 01:00:00") as clock:
        assert auth.login(cooperative_owner.email).status_code == 302
        for _ in range(35):  # 35 × 20 min = 11 h 40 min, never idle
            clock.tick(timedelta(minutes=20))
            assert client.get("/account").status_code == 200
        clock.tick(timedelta(minutes=19))  # 11 h 59 min
        assert client.get("/account").status_code == 200
        clock.tick(timedelta(minutes=2))  # 12 h 01 min
        assert_sent_to_login(client.get("/account"))


def test_session_limits_in_the_production_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    defaults = settings.defaults(str(tmp_path))
    assert defaults["SESSION_IDLE_TIMEOUT"] <= timedelta(minutes=30)
    assert defaults["PERMANENT_SESSION_LIFETIME"] <= timedelta(hours=12)
    assert defaults["REMEMBER_COOKIE_DURATION"] <= timedelta(hours=12)


# ---------------------------------------------------------------- cookie attributes (3.4.1-3.4.4)

@pytest.fixture
def production_app(make_app, monkeypatch, tmp_path):
    cookie_settings = production_cookie_settings(monkeypatch, tmp_path)
    app = make_app(WTF_CSRF_ENABLED=True, **cookie_settings)
    with app.app_context():
        yield app
        db.session.remove()


def test_production_profile_cookie_settings(monkeypatch, tmp_path):
    assert production_cookie_settings(monkeypatch, tmp_path) == {
        "HTTPS": True,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_NAME": "__Host-session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }


def assert_host_session_cookie(header):
    name, _, rest = header.partition("=")
    assert name == "__Host-session"
    attributes = [part.strip() for part in rest.split(";")[1:]]
    lowered = [a.lower() for a in attributes]
    assert "secure" in lowered, header
    assert "httponly" in lowered, header
    assert "samesite=lax" in lowered, header
    assert "path=/" in lowered, header
    assert not any(a.startswith("domain") for a in lowered), header


def test_session_cookie_attributes_in_production(production_app, cooperative_owner):
    https = {"base_url": "https://localhost"}
    client = production_app.test_client()
    seen = []

    response = client.get("/login", **https)
    seen += set_cookie_headers(response, "__Host-session")
    token = csrf_token_from(response.get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": cooperative_owner.email, "password": factories.PASSWORD, "csrf_token": token},
        headers={"Referer": "https://localhost/login"},
        **https,
    )
    assert response.status_code == 302
    login_response = response
    login_cookies = set_cookie_headers(response, "__Host-session")
    assert login_cookies, "login must set a fresh session cookie"
    seen += login_cookies

    response = client.post(
        "/logout",
        data={"csrf_token": page_token(client, **https)},
        headers={"Referer": "https://localhost/account"},
        **https,
    )
    assert response.status_code == 302
    seen += set_cookie_headers(response, "__Host-session")

    assert seen
    for header in seen:
        assert_host_session_cookie(header)
    assert all(h.split("=", 1)[0] == "__Host-session" for h in seen)
    (trusted,) = set_cookie_headers(login_response, "__Host-trusted-browser")
    attributes = [part.strip().lower() for part in trusted.split(";")[1:]]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes), trusted
    assert not any(a.startswith("domain") for a in attributes), trusted


def test_plain_http_is_redirected_to_https_in_production(production_app):
    response = production_app.test_client().get("/login")
    assert response.status_code in (301, 302, 308)
    assert response.headers["Location"].startswith("https://")


def test_cross_origin_post_is_refused_under_https(production_app, cooperative_owner):
    """Flask-WTF's strict referrer check (HTTPS): a valid token from a foreign page is refused."""
    client = production_app.test_client()
    token = csrf_token_from(client.get("/login", base_url="https://localhost").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": cooperative_owner.email, "password": factories.PASSWORD, "csrf_token": token},
        headers={"Referer": "https://evil.example/phish"},
        base_url="https://localhost",
    )
    assert response.status_code == 400


# ---------------------------------------------------------------- remember-me is not offered

@pytest.mark.parametrize("remember_field", ["remember", "remember_me"])
def test_login_never_sets_a_remember_cookie(app, client, cooperative_owner, remember_field):
    response = client.post("/login", data={
        "email": cooperative_owner.email, "password": factories.PASSWORD, remember_field: "y",
    })
    assert response.status_code == 302
    names = [h.split("=", 1)[0] for h in set_cookie_headers(response)]
    assert sorted(names) == ["session", "trusted_browser"]
    assert client.get_cookie("remember_token") is None
    # The trusted-browser cookie (accounts/throttle.py) only lets this browser past the login ceiling:
    # alone it logs nobody in.
    other = app.test_client()
    other.set_cookie("trusted_browser", client.get_cookie("trusted_browser").value)
    assert_sent_to_login(other.get("/account"))
    assert "remember" not in app.test_client().get("/login").get_data(as_text=True).lower()
