"""Browser fixtures: a real server process on a free port, Debian's Chromium driven by Playwright.

The server runs `flask run` with MARKETPLACE_ENV=development on a fresh SQLite file, after
`flask db upgrade`, `flask seed-demo` and `flask search rebuild --if-missing`, exactly as `make run`
does; card payments go to the fake Stripe server (`localstripe`). Every page opened through these fixtures is watched: a CSP violation, a console error or an
uncaught JavaScript exception fails the test. A failing test leaves a screenshot in test-artifacts/<test name>.png.
"""
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser.helpers import expect_language, log_in, set_language_with_header_button

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}



# ---------------------------------------------------------------- reports for screenshots

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(node):
    return any(getattr(getattr(node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


def artifact_name(node):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name).strip("_")


# ---------------------------------------------------------------- live server

@dataclass
class LiveServer:
    url: str
    env: dict
    database_url: str
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log(self):
        return self.log_path.read_text(errors="replace")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(*args):
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def _wait_healthy(url, process, log_path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)  # polling a process we do not control; there is no Playwright wait for this
    pytest.fail(f"The server did not answer /healthz within {timeout} s:\n{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, localstripe):
    """A real server process with demo data, shared by all browser tests; stopped at the end.

    Card payments go to the fake Stripe server (localstripe), whose Stripe.js stand-in the card page loads."""
    root = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{root / 'marketplace.sqlite3'}"
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "UPLOAD_DIR": str(root / "uploads"),
        "SEARCH_INDEX_DIR": str(root / "search_index"),
        "MAIL_BACKEND": "console",
        "PYTHONUNBUFFERED": "1",
        "STRIPE_SECRET_KEY": "sk_test_browser",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_browser",
        "STRIPE_WEBHOOK_SECRET": "whsec_browser",
        "STRIPE_API_BASE": localstripe,
        "STRIPE_JS_URL": f"{localstripe}/js.stripe.com/v3/",
        # The browser tests send many files (and confirm imports, which count too) from a few demo accounts in a
        # few minutes; the limits themselves are tested in tests/catalog/test_upload_rate_limit.py.
        "UPLOAD_RATE_LIMIT_PER_USER": "100 per minute;1000 per hour",
        "UPLOAD_RATE_LIMIT_PER_ORGANISATION": "2000 per hour",
    }
    for name in ("FLASK_DEBUG", "FLASK_RUN_PORT", "FLASK_RUN_HOST"):
        env.pop(name, None)
    for command in (("db", "upgrade"), ("seed-demo",), ("search", "rebuild", "--if-missing")):
        done = subprocess.run(_flask(*command), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            pytest.fail(f"`flask {' '.join(command)}` failed:\n{done.stdout}\n{done.stderr}")

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env["PUBLIC_BASE_URL"] = url  # emailed links point at this server
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            _flask("run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"),
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, process, log_path)
        yield LiveServer(url=url, env=env, database_url=database_url, log_path=log_path, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- browser

@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium; fails in CI and skips elsewhere when it is not installed.

    One per test module, not per run: Playwright's sync API keeps an asyncio loop running in the test's
    thread while it lives, and pyHanko's synchronous signing calls asyncio.run, which refuses to start inside
    a running loop. With the suite spread over processes (pytest-xdist), a process runs other modules, which
    sign MoUs, after a browser module."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        if IN_CI:
            pytest.fail(f"CI needs Chromium for the browser tests: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    """Console errors, CSP violations and uncaught exceptions seen on the pages of one test."""

    def __init__(self):
        self.messages = []
        self.documents = set()  # URLs loaded as top-level documents (their 4xx status is expected)

    def watch(self, page):
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"uncaught exception on {page.url}: {error}"))
        page.on("request", self._request)

    def _request(self, request):
        if request.is_navigation_request():
            self.documents.add(request.url)

    def _console(self, message):
        if message.type not in ("error", "warning"):
            return
        text = message.text
        location = (message.location or {}).get("url", "")
        # Chromium reports every 4xx document as "Failed to load resource"; a 404 page or a form
        # answered with 422 is intended. Failed scripts, styles or images are still reported.
        if text.startswith("Failed to load resource") and location in self.documents:
            return
        if message.type == "warning" and "Content Security Policy" not in text:
            return
        self.messages.append(f"console {message.type} on {location or '?'}: {text}")


@pytest.fixture
def new_context(browser, live_server, request):
    """Make browser contexts on the live server. Each page is watched for console problems."""
    contexts = []
    problems = PageProblems()

    def make(**options):
        options.setdefault("base_url", live_server.url)
        options.setdefault("locale", "vi-VN")
        # Bootstrap then skips its colour transitions: axe must judge the colours a state ends with, not a
        # button caught halfway into its hover colours under the pointer that just clicked it.
        options.setdefault("reduced_motion", "reduce")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.on("page", problems.watch)
        contexts.append(context)
        return context

    make.problems = problems
    yield make
    if _failed(request.node):
        ARTIFACTS.mkdir(exist_ok=True)
        pages = [page for context in contexts for page in context.pages]
        for number, page in enumerate(pages, start=1):
            suffix = "" if number == 1 else f"-{number}"
            try:
                page.screenshot(path=str(ARTIFACTS / f"{artifact_name(request.node)}{suffix}.png"), full_page=True)
            except Exception as error:  # noqa: BLE001 — a crashed page must not hide the test's own failure
                print(f"could not take a screenshot: {error}")
    for context in contexts:
        context.close()
    if problems.messages and not _failed(request.node):
        pytest.fail("The pages logged problems:\n" + "\n".join(problems.messages))


@pytest.fixture
def page(new_context):
    return new_context().new_page()


@pytest.fixture(scope="session")
def _saved_logins(tmp_path_factory):
    """Where login_states keeps its files for the whole run, and which it has made: (folder, {key: path})."""
    return tmp_path_factory.mktemp("storage"), {}


@pytest.fixture(scope="module")
def login_states(browser, live_server, _saved_logins):
    """Storage states of logged-in users per language, made once a run: (email, lang) → file."""
    folder, states = _saved_logins

    def state(email, lang):
        if (email, lang) not in states:
            context = browser.new_context(base_url=live_server.url)
            page = context.new_page()
            page.goto("/login")
            # Chosen before logging in: kept for the session, and the account's saved language untouched.
            set_language_with_header_button(page, lang)
            log_in(page, email)
            expect_language(page, lang)
            path = folder / f"{email}-{lang}.json"
            context.storage_state(path=str(path))
            context.close()
            states[email, lang] = str(path)
        return states[email, lang]

    return state
