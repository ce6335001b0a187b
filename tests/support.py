"""Helpers shared by the test modules (fixtures live in conftest.py): settings of the test apps,
the services a test needs (PostgreSQL, Redis, command-line tools: required in CI, skipped elsewhere),
the database URL of a backend for another process, logging in through the form, and reading PDFs back."""
import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from tests import factories

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
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
    # Signing keys are encrypted with it; make_app gives each test its own SIGNING_DIR (and so its own CA).
    "SIGNING_KEY_PASSPHRASE": "test-signing-passphrase-0123456789-abcdefghijklmnop",
    # Stripe's webhook checks signatures with it (card payments stay off: no API keys).
    "STRIPE_WEBHOOK_SECRET": "whsec_tests_base",
}


ROOT = Path(__file__).resolve().parent.parent  # the repository
TRANSLATIONS = ROOT / "marketplace" / "translations"


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


def require_tool(command, package):
    """The path of a command-line tool; fail in CI and skip elsewhere when it is not installed.

    .ci/run installs the Debian packages (poppler-utils for pdftotext and pdfsig, libnss3-tools for
    certutil and crlutil), so CI never skips the tests that need them.
    """
    path = shutil.which(command)
    if path is None:
        reason = f"{command} is not installed (Debian package {package})"
        if IN_CI:
            pytest.fail(f"CI needs {command}: {reason}")
        pytest.skip(reason)
    return path


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


def database_url(database):
    """The URL of the `database` fixture's backend for another process (the private PostgreSQL schema of
    this run as a libpq option)."""
    url = database["SQLALCHEMY_DATABASE_URI"]
    options = database.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("connect_args", {}).get("options")
    return url + ("?options=" + urllib.parse.quote(options) if options else "")


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn_server(database, tmp_path, workers=4, app="wsgi:app", env=None, timeout=60):
    """gunicorn as `make serve` runs it (gunicorn.conf.py: sync workers, the app's own access lines) with
    `workers` workers on a free port of 127.0.0.1, against the `database` fixture's backend (development
    profile, console mail, files under tmp_path). Yields (base URL, log path) once /healthz answers 200;
    stopped (SIGTERM, then waited for) afterwards."""
    port = free_port()
    settings = {
        **os.environ,
        "MARKETPLACE_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url(database),
        "SEARCH_INDEX_DIR": str(tmp_path / "search_index"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "SIGNING_DIR": str(tmp_path / "signing"),
        "MAIL_BACKEND": "console",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    for name in ("REDIS_URL", "FLASK_APP"):
        settings.pop(name, None)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
                                   cwd=ROOT, env=settings, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "gunicorn did not start:\n" + log_path.read_text(errors="replace")
            time.sleep(0.1)  # polling a process we do not control: it has no readiness signal
        yield base, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def postgres_config(schema):
    return {
        "SQLALCHEMY_DATABASE_URI": POSTGRES_URL,
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={schema}"}},
    }


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Without this, a request reuses the app context the test holds open, so `g` (and with it
    Flask-Login's current user) leaks from one request, or one client, to the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email, password=factories.PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


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


def bearer(secret):
    """The Authorization header of an API request with this token."""
    return {"Authorization": f"Bearer {secret}"}


def token_for(user, name="tests"):
    """A new API token's secret for `user`."""
    from marketplace.accounts import services

    _token, secret = services.create_api_token(user, name)
    return secret


def assert_json_error(response, status, code=None):
    """Assert an API error answer (`{"error": {"code", "message"}}`) with this status and code; returns it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    return error


def fetch(client, url):
    """GET a file and close the response (a served file stays open until then)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def pdf_pages(data):
    """The text of each page of a PDF as poppler's pdftotext reads it (pages split at form feeds), NFC, whitespace
    made single."""
    pdftotext = require_tool("pdftotext", "poppler-utils")
    text = subprocess.run([pdftotext, "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return [" ".join(unicodedata.normalize("NFC", page).split()) for page in pages]


def import_crl(nss, tmp_path):
    """Import the platform's current CRL into the NSS database `nss` (pdfsig never fetches one)."""
    from marketplace.agreements import signing

    crlutil = require_tool("crlutil", "libnss3-tools")
    path = tmp_path / "ca.crl"
    path.write_bytes(signing.crl_der())
    subprocess.run([crlutil, "-I", "-i", str(path), "-d", f"sql:{nss}", "-t", "1"], check=True, capture_output=True)


def pdfsig(data, nss, tmp_path):
    """pdfsig's report, one dict per signature ("Signature Validation": "Signature is Valid.", ...;
    lines without a value, such as "Total document signed", map to True). The path must be absolute:
    with a relative one pdfsig silently uses its default database."""
    tool = require_tool("pdfsig", "poppler-utils")
    path = tmp_path / "checked.pdf"
    path.write_bytes(data)
    # pdfsig cuts long names in the middle of a UTF-8 sequence: decode leniently.
    output = subprocess.run([tool, "-nssdir", f"sql:{nss}", str(path)], capture_output=True,
                            timeout=60).stdout.decode(errors="replace")
    signatures = []
    for line in output.splitlines():
        if re.match(r"Signature #\d+:", line):
            signatures.append({})
        elif line.startswith("  - ") and signatures:
            key, colon, value = line[4:].partition(": ")
            signatures[-1][key] = value if colon else True
    return signatures


def append_update(data, content):
    """Append an incremental update (classic xref) replacing the first content stream of the file."""
    number = int(re.search(rb"(\d+) 0 obj\s*<<[^>]*/Length \d+[^>]*>>\s*stream", data).group(1))
    last_trailer, previous = re.findall(rb"trailer\s*<<(.*?)>>\s*startxref\s*(\d+)", data, re.S)[-1]
    size = int(re.search(rb"/Size (\d+)", last_trailer).group(1))
    root = re.search(rb"/Root (\d+ \d+ R)", last_trailer).group(1)
    start = len(data) + 1
    body = b"\n%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (number, len(content), content)
    xref = start - 1 + len(body)
    xref_section = b"xref\n%d 1\n%010d 00000 n \n" % (number, start)
    trailer = b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, int(previous), xref)
    return data + body + xref_section + trailer


def encrypted_pdf():
    """A small PDF encrypted with an owner password (verification must refuse it clearly)."""
    from marketplace.agreements import pdf

    document = pdf.FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="secret")
    document.set_encryption(owner_password="owner", user_password="")
    return bytes(document.output())


def assert_documented(response, method, path):
    """Assert that an API answer is what marketplace/api/openapi.py documents for this operation and status (the
    body against its schema, formats included), as schemathesis checks; returns the JSON body. `path` is the
    document's template, e.g. "/orders/{order_id}"."""
    import jsonschema_rs

    from marketplace.api.openapi import openapi_document

    document = openapi_document()
    responses = document["paths"][path][method.lower()]["responses"]
    documented = responses.get(str(response.status_code))
    assert documented is not None, f"{method} {path} answered {response.status_code}, which is not documented"
    schema = documented["content"]["application/json"]["schema"]
    body = response.get_json()
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]},
                                                   validate_formats=True)
    errors = [f"{'/'.join(map(str, error.instance_path))}: {error.message}" for error in validator.iter_errors(body)]
    assert not errors, f"{method} {path} {response.status_code} does not match the document: {errors}"
    return body


def wait_for_a_lock_waiter(engine, thread, timeout=20):
    """Poll PostgreSQL until a transaction of this database waits for a lock (True), or until `thread`, the one
    expected to block, has ended or `timeout` seconds have passed (False: nothing made it wait). For race tests
    that hold one transaction at a lock while another one runs into it."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                         " AND datname = current_database()")):
                return True
        time.sleep(0.01)  # polling another backend's state: PostgreSQL has no notification for it
    return False


def statements_of(app, action):
    """(the SQL statements `action` sends through `app`'s engine, what it returns)."""
    from marketplace.extensions import db

    sent = []
    with app.app_context():
        engine = db.engine

    def listen(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        result = action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    return sent, result
