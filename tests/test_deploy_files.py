"""The deployment files (issue 8) agree with the application and with each other: the systemd units
and the container run the Procfile's commands, nginx's body limit is the application's, the example
environment names only variables the application reads and starts nothing unsafe."""
import re
from pathlib import Path

from marketplace import config, serve

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def unit(name):
    """{key: [values]} of a systemd unit file (keys may repeat: ExecStartPre)."""
    found = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def flask_command(line):
    """`flask db upgrade` from `/srv/chohtx/.venv/bin/flask --app wsgi db upgrade`."""
    return re.sub(r"^\S*/(flask|gunicorn) (--app wsgi )?", r"\1 ", line)


def test_the_units_run_the_procfile_commands():
    release, processes = serve.plan(serve.read_procfile(ROOT / "Procfile"), {"REDIS_URL": "redis://x"})
    web = unit("chohtx-web.service")
    assert " && ".join(flask_command(line) for line in web["ExecStartPre"]) == release
    assert flask_command(web["ExecStart"][0]) == processes["web"]
    assert flask_command(unit("chohtx-follower.service")["ExecStart"][0]) == processes["follower"]
    assert flask_command(unit("chohtx-worker.service")["ExecStart"][0]) == processes["worker"]
    assert flask_command(unit("chohtx-scheduler.service")["ExecStart"][0]) == processes["scheduler"]
    assert flask_command(unit("chohtx-job@.service")["ExecStart"][0]) == "flask jobs run %I"
    for name in ("chohtx-web.service", "chohtx-follower.service", "chohtx-worker.service",
                 "chohtx-scheduler.service", "chohtx-job@.service"):
        settings = unit(name)
        assert settings["User"] == ["chohtx"] and settings["EnvironmentFile"] == ["/etc/chohtx/chohtx.env"]
        assert settings["WorkingDirectory"] == ["/srv/chohtx"]
    assert "WORKERS=" in web["Environment"][0] and "PORT=8000" in web["Environment"][0]


def test_nginx_passes_what_the_application_trusts_and_limits_bodies_like_it():
    text = (DEPLOY / "nginx" / "chohtx.conf").read_text()
    limit_mb = config.defaults("/tmp")["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    assert re.search(rf"client_max_body_size {limit_mb}m;", text)
    for header in ("X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme", "X-Request-ID $request_id",
                   "Host $host"):
        assert f"proxy_set_header {header};" in text
    assert "server 127.0.0.1:8000" in text and "ssl_protocols TLSv1.2 TLSv1.3;" in text


def test_the_container_runs_the_supervisor_as_an_unprivileged_user():
    text = (ROOT / "Containerfile").read_text()
    assert text.startswith("#") and "FROM docker.io/library/python:3.11-slim" in text
    assert 'CMD ["python", "-m", "marketplace.serve"]' in text
    assert "USER chohtx" in text and "HEALTHCHECK" in text and "/healthz" in text
    assert "pybabel -q compile" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "instance"} <= set(ignored)


def test_the_example_environment_names_only_known_variables_and_no_usable_secret():
    known = set(config.ENVIRONMENT) | {"MARKETPLACE_ENV"}
    values = {}
    for line in (DEPLOY / "chohtx.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    assert set(values) <= known, set(values) - known
    assert values["MARKETPLACE_ENV"] == "production" and values["TRUST_PROXY_HOPS"] == "1"
    assert values["SECRET_KEY"] == "" and values["MAIL_PASSWORD"] == ""  # an unfilled copy cannot start


def test_make_run_hands_its_host_and_port_to_the_application():
    """The development PUBLIC_BASE_URL follows HOST and PORT (config.local_base_url): `make run` must pass them."""
    import shutil
    import subprocess

    import pytest

    if not shutil.which("make"):
        pytest.skip("make is not installed")
    for stripe_demo in ("", "1"):
        dry_run = subprocess.run(["make", "-n", "run", "HOST=localhost", "PORT=5101", f"STRIPE_DEMO={stripe_demo}"],
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout
        serving = [line for line in dry_run.replace("\\\n", " ").splitlines() if "flask run" in line]
        assert len(serving) == 1 and "HOST=localhost PORT=5101 " in serving[0], dry_run


def test_gunicorn_workers_freeze_their_start_up_heap_once_the_app_is_loaded():
    import gc
    import runpy

    settings = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    gc.unfreeze()
    try:
        settings["post_worker_init"](None)  # gunicorn calls it after the worker loaded the app
        assert gc.get_freeze_count() > 0  # full collections during requests skip the start-up objects
    finally:
        gc.unfreeze()
