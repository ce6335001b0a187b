"""Fixtures of the payment tests: a fake Stripe server (localstripe) for the whole run, and an app pointed at it.

`localstripe` starts `python -m marketplace.payments.fake_stripe` once per run on a free port and yields its
base URL. In CI (CI=true) a missing or failing localstripe fails the run; elsewhere a missing one skips the
tests that need it (`pip install -e '.[test]'` installs it).
"""
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from flask import Flask

from tests.support import IN_CI, ROOT

START_SECONDS = 30
WEBHOOK_SECRET = "whsec_test_secret"


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
def stripe_app(localstripe):
    """An app context whose settings point the gateway at the fake Stripe server."""
    app = Flask(__name__)
    app.config.update(
        STRIPE_SECRET_KEY="sk_test_marketplace",
        STRIPE_PUBLISHABLE_KEY="pk_test_marketplace",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=localstripe,
    )
    with app.app_context():
        yield app
