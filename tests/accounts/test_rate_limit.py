"""Anti-automation on login (checklist row 4, ASVS 2.2.1): at most 100 failed attempts per hour per
account whatever the client IP, counted globally (Redis) across app instances and processes, plus a
per-IP limit. A locked account does not lock anyone else out.
"""
import itertools
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from marketplace.extensions import limiter
from tests import factories
from tests.support import BASE_CONFIG, REDIS_URL, require_redis

ACCOUNT_LIMIT = 100  # LOGIN_FAILURES_PER_ACCOUNT = "100 per hour"
IP_LIMIT = 30  # LOGIN_RATE_LIMIT_PER_IP = "30 per minute"
ATTACKER_IPS = [f"203.0.113.{n}" for n in range(1, 7)]  # 6 IPs: ≤ 30 attempts each per minute
WRONG = "đây không phải mật khẩu"


def attempt(client, email, password=WRONG, ip="198.51.100.1", **kwargs):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": ip}, **kwargs).status_code


def email_variants(email):
    """An attacker varies case and spacing; all of them are the same account."""
    return itertools.cycle([email, email.upper(), f" {email.title()} ", email.capitalize()])


def test_settings_in_the_production_defaults(app):
    assert app.config["LOGIN_FAILURES_PER_ACCOUNT"] == f"{ACCOUNT_LIMIT} per hour"
    assert app.config["LOGIN_RATE_LIMIT_PER_IP"] == f"{IP_LIMIT} per minute"


# ---------------------------------------------------------------- per account, one instance

def test_account_is_blocked_after_100_failures_from_many_ips(app, cooperative_owner, enterprise_owner):
    client = app.test_client()
    ips, variants = itertools.cycle(ATTACKER_IPS), email_variants(cooperative_owner.email)
    statuses = [attempt(client, next(variants), ip=next(ips)) for _ in range(ACCOUNT_LIMIT)]
    assert statuses == [401] * ACCOUNT_LIMIT

    fresh_ip = "192.0.2.77"
    response = client.post("/login", data={"email": cooperative_owner.email, "password": WRONG},
                           environ_base={"REMOTE_ADDR": fresh_ip})
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert '<html lang="vi">' in response.get_data(as_text=True)
    # Even the right password is refused now: otherwise the attacker could keep guessing.
    assert attempt(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip="192.0.2.78") == 429

    # Another account logs in fine, even from an attacker's IP (a shared office NAT).
    other = app.test_client()
    assert attempt(other, enterprise_owner.email, factories.PASSWORD, ip=ATTACKER_IPS[0]) == 302
    assert other.get("/account").status_code == 200


def test_successful_logins_do_not_count_as_failures(app, cooperative_owner):
    ips = itertools.cycle(ATTACKER_IPS)
    for _ in range(10):
        assert attempt(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip=next(ips)) == 302
    client = app.test_client()
    assert [attempt(client, cooperative_owner.email, ip=next(ips)) for _ in range(ACCOUNT_LIMIT)] == [401] * ACCOUNT_LIMIT
    assert attempt(client, cooperative_owner.email, ip=next(ips)) == 429


def test_unknown_accounts_are_limited_the_same_way(app):
    """The limiter must not reveal which emails exist: an unknown email locks like a real one."""
    client, ips = app.test_client(), itertools.cycle(ATTACKER_IPS)
    email = "khong-ton-tai@htx.example"
    assert [attempt(client, email, ip=next(ips)) for _ in range(ACCOUNT_LIMIT)] == [401] * ACCOUNT_LIMIT
    assert attempt(client, email, ip=next(ips)) == 429


# ---------------------------------------------------------------- per IP

def test_per_ip_limit(app, cooperative_owner):
    client, ip = app.test_client(), "198.51.100.9"
    statuses = [attempt(client, f"guess{n}@htx.example", ip=ip) for n in range(IP_LIMIT)]
    assert statuses == [401] * IP_LIMIT
    assert attempt(client, "guess-next@htx.example", ip=ip) == 429
    # The right password from the blocked IP is refused too, and the login page still loads.
    assert attempt(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip=ip) == 429
    assert client.get("/login", environ_base={"REMOTE_ADDR": ip}).status_code == 200
    # A spoofed X-Forwarded-For does not help (no proxy is trusted by default) ...
    assert attempt(client, "guess-xff@htx.example", ip=ip, headers={"X-Forwarded-For": "10.1.2.3"}) == 429
    # ... and another IP is not affected.
    assert attempt(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip="198.51.100.10") == 302


# ---------------------------------------------------------------- global counting in Redis

@pytest.fixture
def redis_limits(monkeypatch):
    """Settings for a limiter on Redis under a key prefix of our own; our keys are deleted afterwards."""
    connection = require_redis()
    prefix = f"test-ratelimit-{uuid.uuid4().hex}"

    def our_keys():
        return list(connection.scan_iter(match=f"*{prefix}*", count=1000))

    # The Limiter is one object shared by every app in this process, and it keeps the first key
    # prefix it was given: start from none so ours applies, and restore it afterwards.
    monkeypatch.setattr(limiter, "_key_prefix", "")
    yield {
        "settings": {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix},
        "prefix": prefix,
        "keys": our_keys,
        "redis": connection,
    }
    keys = our_keys()
    if keys:
        connection.delete(*keys)
    connection.close()


def account_counter(redis_limits, email):
    keys = [k.decode() for k in redis_limits["keys"]() if f"login-account:{email}".encode() in k]
    assert len(keys) == 1, keys
    return int(redis_limits["redis"].get(keys[0]))


def test_two_app_instances_share_the_account_limit_in_redis(make_app, app, cooperative_owner, redis_limits):
    first = make_app(**redis_limits["settings"])
    second = make_app(**redis_limits["settings"])
    assert limiter._key_prefix == redis_limits["prefix"]
    clients = itertools.cycle([first.test_client(), second.test_client()])
    ips, email = itertools.cycle(ATTACKER_IPS), cooperative_owner.email

    statuses = [attempt(next(clients), email, ip=next(ips)) for _ in range(ACCOUNT_LIMIT)]
    assert statuses == [401] * ACCOUNT_LIMIT
    # The count lives in Redis, not in a worker's memory.
    assert account_counter(redis_limits, email) == ACCOUNT_LIMIT

    assert attempt(next(clients), email, ip=next(ips)) == 429
    assert attempt(next(clients), email, ip=next(ips)) == 429
    assert attempt(first.test_client(), email, factories.PASSWORD, ip="192.0.2.80") == 429
    assert attempt(second.test_client(), email, factories.PASSWORD, ip="192.0.2.81") == 429


WORKER = """
import json, sys
from marketplace import create_app

app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
for line in sys.stdin:
    ip, email, password = json.loads(line)
    response = client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})
    print(response.status_code, flush=True)
"""


def test_two_processes_share_the_account_limit_in_redis(make_app, app, database, tmp_path, cooperative_owner,
                                                         redis_limits):
    """Like two gunicorn workers: a separate Python process with its own app counts into the same Redis."""
    settings = {key: value for key, value in database.items() if key != "backend"}
    config = {**BASE_CONFIG, **settings, **redis_limits["settings"], "UPLOAD_DIR": str(tmp_path / "worker")}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(config)],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )

    def worker_attempt(email, password=WRONG, ip="198.51.100.1"):
        worker.stdin.write(json.dumps([ip, email, password]) + "\n")
        worker.stdin.flush()
        line = worker.stdout.readline()
        assert line, "the worker process died"
        return int(line)

    try:
        here = make_app(**redis_limits["settings"]).test_client()
        ips, email = itertools.cycle(ATTACKER_IPS), cooperative_owner.email
        statuses = []
        for n in range(ACCOUNT_LIMIT):
            if n % 2:
                statuses.append(worker_attempt(email, ip=next(ips)))
            else:
                statuses.append(attempt(here, email, ip=next(ips)))
        assert statuses == [401] * ACCOUNT_LIMIT
        assert account_counter(redis_limits, email) == ACCOUNT_LIMIT
        assert worker_attempt(email, ip=next(ips)) == 429
        assert attempt(here, email, ip=next(ips)) == 429
        assert worker_attempt(email, factories.PASSWORD, ip="192.0.2.90") == 429
    finally:
        worker.stdin.close()
        worker.stdout.close()
        worker.wait(timeout=30)


def test_limits_apply_even_after_an_app_was_built_with_them_disabled(make_app, cooperative_owner):
    """The Limiter is shared by every app in a process; one app's RATELIMIT_ENABLED=False must not leak."""
    make_app(RATELIMIT_ENABLED=False)
    app = make_app()
    client, ip = app.test_client(), "198.51.100.33"
    assert [attempt(client, f"g{n}@htx.example", ip=ip) for n in range(IP_LIMIT)] == [401] * IP_LIMIT
    assert attempt(client, "g-last@htx.example", ip=ip) == 429
