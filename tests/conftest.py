"""Fixtures in layers: database backend → app → client → organisations and users.

Every test that uses `app` runs on SQLite, and also on PostgreSQL when TEST_DATABASE_URL is set.
In CI (CI=true) PostgreSQL is required: a missing server fails the run, it never skips.

`localstripe` starts `python -m marketplace.payments.fake_stripe` once per run on a free port and yields its
base URL (the payment tests and the browser tests use it). In CI a missing or failing localstripe fails the
run; elsewhere a missing one skips the tests that need it (`pip install -e '.[test]'` installs it).
"""
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
import werkzeug.routing.rules

from marketplace import create_app
from marketplace.extensions import db
from tests import factories
from tests.support import (
    BASE_CONFIG,
    IN_CI,
    POSTGRES_URL,
    ROOT,
    AuthActions,
    IsolatedClient,
    compile_catalogues,
    postgres_config,
    private_postgres_schema,
    require_postgres,
)

BACKENDS = ["sqlite", "postgresql"] if (POSTGRES_URL or IN_CI) else ["sqlite"]


def _reuse_url_builders():
    """Every test builds an app, and 90% of create_app is Werkzeug compiling each URL rule's builder (Python
    source through `ast` and `compile`, ~0.6 ms a rule, 140 rules). A builder depends only on the rule's parsed
    parts, its defaults and whether unknown arguments are appended, and reads the rule's converters through its
    `self` argument at call time, so within a test run one compiled builder per distinct rule serves every app.
    Test-only; if Werkzeug changes the method, nothing is patched and apps are built the slow way."""
    rule_class = werkzeug.routing.rules.Rule
    compile_builder = getattr(rule_class, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "reused", False):
        return
    builders = {}

    def reused(self, append_unknown=True):
        key = (self.rule, self.subdomain, self.host, tuple(self._trace), append_unknown,
               tuple(sorted((name, repr(value)) for name, value in (self.defaults or {}).items())))
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    reused.reused = True
    rule_class._compile_builder = reused


_reuse_url_builders()

@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    # .mo files are git-ignored build output; a plain `pytest` in a fresh clone must still see them.
    compile_catalogues()


@pytest.fixture(scope="session")
def postgres_schema():
    """A private schema for this run's tables."""
    require_postgres()
    with private_postgres_schema("test") as schema:
        yield schema


def pytest_collection_modifyitems(config, items):
    """Tests marked postgresql_only run with the PostgreSQL parameter only: their SQLite runs are deselected,
    not skipped (a skip in CI must mean something is missing)."""
    deselected = [item for item in items if item.get_closest_marker("postgresql_only")
                  and getattr(item, "callspec", None) and item.callspec.params.get("database") == "sqlite"]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


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


BIG = 2000  # rows


def _empty_postgres_tables(tables):
    """Empty the tables a test touched, and restart the sequences it used (rolled back rows use ids too).

    TRUNCATE rewrites each table's files: 0.1 s for every table on a quiet machine and 0.7 s under CI's
    load. A test leaves a few rows in a few tables, which DELETE removes in a few milliseconds."""
    names = [table.name for table in tables]  # children first
    counts = " UNION ALL ".join(f"SELECT '{name}', (SELECT count(*) FROM (SELECT FROM \"{name}\" LIMIT {BIG}) AS r)"
                                for name in names)
    rows = dict(db.session.execute(sa.text(counts)).all())
    big = [name for name in names if rows[name] >= BIG]  # a benchmark's thousands of rows: TRUNCATE is faster
    if big:
        db.session.execute(sa.text("TRUNCATE " + ", ".join(f'"{name}"' for name in big) + " CASCADE"))
    for name in names:
        if 0 < rows[name] < BIG:
            db.session.execute(sa.text(f'DELETE FROM "{name}"'))
    for sequence in db.session.scalars(sa.text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL")):
        db.session.execute(sa.text(f'ALTER SEQUENCE "{sequence}" RESTART'))


def _empty_tables():
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        _empty_postgres_tables(tables)
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


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
            "SIGNING_DIR": str(tmp_path / "signing"),
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


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def english(client):
    """Switch the client to English, for tests that read English messages."""
    client.post("/language", data={"lang": "en"})


# ---------------------------------------------------------------- fake Stripe

START_SECONDS = 30


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url):
    try:
        with urllib.request.urlopen(url + "/js.stripe.com/v3/", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _start(log_path):
    """A started fake Stripe (process, URL), or None if its port was taken before it could listen."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "marketplace.payments.fake_stripe", "--port", str(port)],
                                   cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_SECONDS
    while not _answers(url):
        if process.poll() is not None:
            if "address already in use" in log_path.read_text(errors="replace").lower():
                return None
            pytest.fail(f"the fake Stripe server exited ({process.returncode}):\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the fake Stripe server did not answer within {START_SECONDS} s:\n{log_path.read_text()}")
        time.sleep(0.05)
    return process, url


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """The base URL of a fake Stripe server (localstripe, in memory) running for this test session."""
    if importlib.util.find_spec("localstripe") is None:
        reason = "localstripe is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(f"CI needs localstripe: {reason}")
        pytest.skip(reason)
    log_path = tmp_path_factory.mktemp("localstripe") / "server.log"
    for _attempt in range(3):
        started = _start(log_path)
        if started:
            break
    else:
        pytest.fail(f"the fake Stripe server found no free port:\n{log_path.read_text()}")
    process, url = started
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def stopped_clock(monkeypatch):
    """Data versions' clock at 0 (marketplace/versions.py): each bump then adds exactly one, so a test can count
    them."""
    from marketplace import versions

    monkeypatch.setattr(versions, "_clock_microseconds", lambda: 0)
