"""`make serve` (issue 8): marketplace/serve.py runs the Procfile's release step first, then gunicorn
with WORKERS workers on HOST:PORT and the host's other processes; it stops them all on SIGTERM, and
stops the rest when one dies.

The repository's Procfile runs for real (migrations, gunicorn, the follower; with Redis the RQ worker and
its cron scheduler, which send a queued email); stand-ins test how the supervisor starts and stops
processes."""
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from marketplace import serve
from tests.support import REDIS_URL, csrf_token_from, require_redis

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = """
import pathlib, signal, sys, time
state = pathlib.Path(sys.argv[1])
state.write_text("started")
def stop(*_):
    state.write_text("stopped by SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(0.05)
"""


def test_the_repository_procfile_migrates_first_then_runs_web_and_follower_and_a_worker_only_with_redis():
    entries = serve.read_procfile(ROOT / "Procfile")
    release, processes = serve.plan(entries, {})
    assert release == "flask db upgrade && flask search sync"
    assert processes == {"web": "gunicorn -c gunicorn.conf.py wsgi:app", "follower": "flask search follow"}
    _, with_redis = serve.plan(entries, {"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert with_redis["worker"] == "flask jobs worker" and with_redis["scheduler"] == "flask jobs cron"


def test_a_bad_procfile_is_refused(tmp_path):
    for text in ("web gunicorn", "web:", "web: a\nweb: b", "release: flask db upgrade"):
        path = tmp_path / "Procfile"
        path.write_text(text)
        with pytest.raises(serve.ProcfileError):
            serve.plan(serve.read_procfile(path), {})


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Host:
    """`python -m marketplace.serve` with a Procfile of our own, its output in a file."""

    def __init__(self, tmp_path, procfile, **env):
        self.tmp = tmp_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp_path / "Procfile").write_text(procfile)
        (tmp_path / "stand_in.py").write_text(STAND_IN)
        self.env = {
            **os.environ,
            "MARKETPLACE_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "PUBLIC_BASE_URL": "https://cho.example",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WORKERS": "3",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        for name in ("REDIS_URL", "FLASK_APP", "LOG_FORMAT"):
            if name not in env:
                self.env.pop(name, None)
        self.log_path = tmp_path / "serve.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "marketplace.serve", "--procfile", str(tmp_path / "Procfile")],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def json_lines(self):
        lines = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def wait_for_line(self, wanted, timeout=10):
        """The first JSON log line for which `wanted(line)` is true (access lines follow the response)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.json_lines() if wanted(line)]
            if found:
                return found[0]
            time.sleep(0.05)
        pytest.fail("no such log line:\n" + self.log())

    def state(self, name):
        path = self.tmp / f"{name}.state"
        return path.read_text() if path.exists() else None

    def wait_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if _get(self.url + "/healthz")[0] == 200:
                    return
            # TimeoutError: gunicorn's master accepts connections before its workers have loaded the app,
            # which takes more than _get's 10 s on a loaded machine; that is not healthy yet either.
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)  # polling a server we started; it has no readiness signal
        pytest.fail("the host did not become healthy:\n" + self.log())

    def wait(self, timeout=60):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail("the launcher did not exit:\n" + self.log())

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait()


@pytest.fixture
def hosts():
    started = []
    yield lambda *args, **kwargs: started.append(Host(*args, **kwargs)) or started[-1]
    for host in started:
        host.stop()


def stand_in(tmp_path, name):
    return f"python {tmp_path / 'stand_in.py'} {tmp_path / (name + '.state')}"


@pytest.mark.slow
def test_serve_migrates_then_runs_gunicorn_with_the_workers_asked_for(tmp_path, hosts):
    host = hosts(tmp_path, (ROOT / "Procfile").read_text())  # the repository's own, without REDIS_URL
    host.wait_healthy()

    status, headers, body = _get(host.url + "/healthz")
    assert json.loads(body) == {"status": "ok", "checks": {"database": "ok", "search_index": "ok"}}
    log = host.log()
    assert log.index("Running upgrade") < log.index("Starting gunicorn")  # migrated before serving
    lines = host.json_lines()
    web = [line for line in lines if line.get("service") == "web"]
    assert sum(line["message"].startswith("Booting worker") for line in web) == 3
    assert any(line["message"].startswith(f"Listening at: {host.url} ") for line in web)
    access = host.wait_for_line(lambda line: line.get("request_id") == headers["X-Request-ID"])
    assert {"logger": "marketplace.access", "path": "/healthz", "status": 200, "service": "web"}.items() <= \
        access.items()
    host.wait_for_line(lambda line: line.get("service") == "follower" and "following the change log" in line["message"])
    assert not any(line.get("service") in ("worker", "scheduler") for line in host.json_lines())  # no REDIS_URL

    assert host.stop() == 0
    assert "follower exited" not in host.log()
    assert any(line["message"] == "Shutting down: Master" for line in host.json_lines())
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _get(host.url + "/healthz")


@pytest.mark.slow
def test_the_worker_starts_when_redis_is_configured(tmp_path, hosts):
    procfile = f"follower: {stand_in(tmp_path, 'follower')}\nworker: {stand_in(tmp_path, 'worker')}\n"
    host = hosts(tmp_path, procfile, REDIS_URL="redis://127.0.0.1:6379/0")
    deadline = time.monotonic() + 30
    while not (host.state("worker") and host.state("follower")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the stand-ins write their state file when they start
    assert host.state("worker") == "started"
    assert host.stop() == 0
    assert host.state("worker") == "stopped by SIGTERM" == host.state("follower")


@pytest.mark.slow
def test_when_one_process_dies_the_others_are_stopped_and_its_status_is_returned(tmp_path, hosts):
    procfile = (f"follower: {stand_in(tmp_path, 'follower')}\n"
                "web: python -c 'import time, sys; time.sleep(1); sys.exit(3)'\n")
    host = hosts(tmp_path, procfile)
    assert host.wait() == 3
    assert host.state("follower") == "stopped by SIGTERM"
    assert "web exited with status 3" in host.log()


@pytest.mark.slow
def test_nothing_starts_when_the_release_step_fails(tmp_path, hosts):
    host = hosts(tmp_path, f"release: exit 4\nfollower: {stand_in(tmp_path, 'follower')}\n")
    assert host.wait() == 4
    assert host.state("follower") is None
    assert "release failed" in host.log()


def test_make_serve_passes_host_port_and_workers():
    dry_run = subprocess.run(["make", "-n", "serve", "HOST=0.0.0.0", "PORT=8123", "WORKERS=7"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert "HOST=0.0.0.0 PORT=8123 WORKERS=7 .venv/bin/python -m marketplace.serve" in dry_run


@pytest.mark.slow
def test_with_redis_the_served_site_sends_a_queued_email_from_its_worker(tmp_path, hosts):
    """The issue's "make serve with REDIS_URL processes a queued email in a worker", with the repository's
    own Procfile: a reset link asked for on the site is an outbox row; the worker sends it."""
    require_redis()
    queue_name = f"test-serve-{uuid.uuid4().hex}"
    host = hosts(tmp_path, (ROOT / "Procfile").read_text(), REDIS_URL=REDIS_URL, JOBS_QUEUE=queue_name,
                 MARKETPLACE_ENV="development", MAIL_BACKEND="console", RATELIMIT_STORAGE_URI="memory://",
                 LOG_FORMAT="json")
    host.wait_healthy()
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "accounts", "create-alliance-user",
                    "canbo@lienminh.example", "--generate"], cwd=ROOT, env=host.env, check=True,
                   capture_output=True)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    page = opener.open(host.url + "/forgot-password", timeout=10).read().decode()
    form = urllib.parse.urlencode({"email": "canbo@lienminh.example", "csrf_token": csrf_token_from(page)})
    assert opener.open(host.url + "/forgot-password", data=form.encode(), timeout=10).status == 200
    host.wait_for_line(lambda line: line.get("service") == "worker" and "Job OK (outbox-" in line["message"],
                       timeout=60)
    # The console mail backend printed the email itself, in the worker's output, not the web's.
    log = host.log()
    assert "To: canbo@lienminh.example" in log and "/reset-password/" in log
    assert host.stop() == 0
    connection = require_redis()
    for key in connection.scan_iter(match=f"*{queue_name}*", count=1000):
        connection.delete(key)
