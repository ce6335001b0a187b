"""Fixtures in layers: database backend → app → client → organisations and users.

Every test that uses `app` runs on SQLite, and also on PostgreSQL when TEST_DATABASE_URL is set.
In CI (CI=true) PostgreSQL is required: a missing server fails the run, it never skips.
"""
import contextlib
import os
import re
import tempfile
import urllib.parse
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from marketplace import create_app
from marketplace.extensions import db
from tests import factories

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if (POSTGRES_URL or IN_CI) else ["sqlite"]

# Cheap hashing in tests only; test_passwords.py checks the production defaults separately.
BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "MARKETPLACE_ENV": "production",
    "HTTPS": False,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "session",
    "WTF_CSRF_ENABLED": False,
    "MAIL_BACKEND": "locmem",
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_COST": 1024,
    "PASSWORD_HASH_PARALLELISM": 1,
    "RATELIMIT_STORAGE_URI": "memory://",
    "SERVER_NAME": None,
    # Never the repository's search_index/ (sync.py writes after each commit); make_app gives each test its own.
    "SEARCH_INDEX_DIR": tempfile.mkdtemp(prefix="test-search-index-"),
}


TRANSLATIONS = Path(__file__).resolve().parent.parent / "marketplace" / "translations"


def compile_catalogues():
    """Compile each .po to .mo when the .mo is missing or older (what `make translations` does).

    The .mo is written to a temporary file and renamed, so parallel runs never read half a file.
    """
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalogue = read_po(f, locale=po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalogue, use_fuzzy=False)
            os.replace(tmp, mo)
        except BaseException:
            os.unlink(tmp)
            raise


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    # .mo files are git-ignored build output; a plain `pytest` in a fresh clone must still see them.
    compile_catalogues()


def require_postgres():
    """Fail in CI, skip elsewhere, when PostgreSQL is not configured or not reachable."""
    reason = None
    if not POSTGRES_URL:
        reason = "TEST_DATABASE_URL is not set"
    else:
        try:
            engine = sa.create_engine(POSTGRES_URL)
            with engine.connect():
                pass
            engine.dispose()
        except sa.exc.OperationalError as error:
            reason = f"PostgreSQL at TEST_DATABASE_URL is unreachable: {error.orig}"
    if reason:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL: {reason}")
        pytest.skip(reason)


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis():
    """A client for TEST_REDIS_URL; fail in CI and skip elsewhere when Redis is unreachable."""
    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        connection.ping()
    except redis.exceptions.RedisError as error:
        connection.close()
        if IN_CI:
            pytest.fail(f"CI needs Redis at TEST_REDIS_URL={REDIS_URL}: {error}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {error}")
    return connection


@contextlib.contextmanager
def private_postgres_schema(prefix):
    """A fresh schema in the test database, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema():
    """A private schema for this run's tables."""
    require_postgres()
    with private_postgres_schema("test") as schema:
        yield schema


def database_url(database):
    """The URL of the `database` fixture's backend for another process (the private PostgreSQL schema of
    this run as a libpq option)."""
    url = database["SQLALCHEMY_DATABASE_URI"]
    options = database.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("connect_args", {}).get("options")
    return url + ("?options=" + urllib.parse.quote(options) if options else "")


def postgres_config(schema):
    return {
        "SQLALCHEMY_DATABASE_URI": POSTGRES_URL,
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={schema}"}},
    }


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, tmp_path_factory):
    """Database settings for one backend, with the tables created once per run."""
    if request.param == "postgresql":
        settings = postgres_config(request.getfixturevalue("postgres_schema"))
    else:
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    app = create_app({**BASE_CONFIG, **settings, "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return {"backend": request.param, **settings}


def _empty_tables():
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Without this, a request reuses the app context the test holds open, so `g` (and with it
    Flask-Login's current user) leaks from one request, or one client, to the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def make_app(database, tmp_path):
    """Build an app on the current backend with extra settings; tables are emptied after the test."""
    apps = []

    def build(**overrides):
        settings = {key: value for key, value in database.items() if key != "backend"}
        config = {
            **BASE_CONFIG,
            **settings,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "SEARCH_INDEX_DIR": str(tmp_path / "search_index"),
            **overrides,
        }
        app = create_app(config)
        app.test_client_class = IsolatedClient
        apps.append(app)
        return app

    yield build
    if apps:
        with apps[0].app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()
        for app in apps[1:]:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def outbox(app):
    """Mail sent during the test (MAIL_BACKEND=locmem)."""
    mailman = app.extensions["mailman"]
    mailman.outbox = []
    return mailman.outbox


# ---------------------------------------------------------------- organisations and users

@pytest.fixture
def alliance_user(app):
    return factories.alliance_user()


@pytest.fixture
def cooperative_owner(app):
    return factories.user(factories.organisation("cooperative", status="verified"), email="owner@htx.example")


@pytest.fixture
def enterprise_owner(app):
    return factories.user(factories.organisation("enterprise", status="verified"), email="buyer@dn.example")


@pytest.fixture
def pending_cooperative_owner(app):
    return factories.user(factories.organisation("cooperative", status="pending"), email="new@htx.example")


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email, password=factories.PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def english(client):
    """Switch the client to English, for tests that read English messages."""
    client.post("/language", data={"lang": "en"})


def csrf_token_from(html):
    """The CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


CONFIRMATION_LINK = re.compile(r"https?://[^\s]+(/register/confirm/[A-Za-z0-9_-]+)")


def confirmation_link(app, email):
    """The path of the latest registration link emailed to `email` (MAIL_BACKEND=locmem)."""
    mails = [m for m in getattr(app.extensions["mailman"], "outbox", []) if m.to == [email]]
    links = [match.group(1) for m in mails if (match := CONFIRMATION_LINK.search(m.body))]
    assert links, f"no registration link was emailed to {email}"
    return links[-1]


def register_and_confirm(client, kind="cooperative", **overrides):
    """Submit the registration form and follow the emailed link as its owner does. Returns the answer to
    the link (302 to the organisation page, logged in), or the form's answer when the form was refused."""
    data = factories.registration_form(kind, **overrides)
    response = client.post(f"/register/{kind}", data=data)
    if response.status_code != 302:
        return response
    return client.post(confirmation_link(client.application, data["owner_email"].strip().lower()))


def login_with_form(client, email, password=factories.PASSWORD, **kwargs):
    """Log in through the form, with the page's CSRF token when the page has one."""
    page = client.get("/login", **kwargs).get_data(as_text=True)
    data = {"email": email, "password": password}
    if 'name="csrf_token"' in page:
        data["csrf_token"] = csrf_token_from(page)
    return client.post("/login", data=data, **kwargs)
