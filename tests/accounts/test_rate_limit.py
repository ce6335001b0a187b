"""Password guessing is limited without letting a stranger lock the owner out (checklist rows 4 and 37,
ASVS 2.2.1, issue 12; the design is in marketplace/accounts/throttle.py and docs/architecture.md).

- per (account, address): 5 free wrong passwords, then waits of 1 s, 2 s, 4 s ... (429 + Retry-After
  for that pair only);
- per account, from every address: 100 wrong passwords an hour, after which browsers the account does
  not know are refused and the owner is emailed a link that lets a browser in;
- per address: 30 login attempts a minute;
all counted globally (Redis) across app instances and processes.

Issue 12's probe: 100 wrong passwords for one email from 5 addresses, then the owner's correct password
from a new address, answered 429 with `Retry-After: 3570`. It now logs the owner in.
"""
import itertools
import json
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from freezegun import freeze_time

from marketplace.accounts import throttle
from marketplace.accounts.models import LoginUnlock, OrganisationEvent, OrganisationEventKind
from marketplace.extensions import db, limiter
from tests import factories
from tests.support import BASE_CONFIG, REDIS_URL, require_redis

CEILING = 100  # LOGIN_FAILURES_PER_ACCOUNT = "100 per hour"
FREE = 5  # LOGIN_FREE_FAILURES
IP_LIMIT = 30  # LOGIN_RATE_LIMIT_PER_IP = "30 per minute"
PROBE_IPS = [f"203.0.113.{n}" for n in range(1, 6)]  # the probe's 5 addresses
BOTNET = [f"198.18.{n // 250}.{n % 250 + 1}" for n in range(CEILING // FREE)]  # 20 addresses, 5 guesses each
WRONG = "đây không phải mật khẩu"
UNLOCK_LINK = re.compile(r"https?://[^\s]+(/login/unlock/[A-Za-z0-9_-]+)")
# Frozen clocks start far ahead of the real one: the memory storage's cleanup thread reads the real clock
# (freezegun leaves threads alone), and must never find the frozen expiry times already past.
START = "2099-06-01 09:00:00"


def attempt(client, email, password=WRONG, ip="198.51.100.1", **kwargs):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip},
                       **kwargs)


def status(client, email, password=WRONG, ip="198.51.100.1", **kwargs):
    return attempt(client, email, password, ip, **kwargs).status_code


def email_variants(email):
    """An attacker varies case and spacing; all of them are the same account."""
    return itertools.cycle([email, email.upper(), f" {email.title()} ", email.capitalize()])


def botnet_reaches_the_ceiling(app, email):
    """20 addresses guess 5 times each: every guess is checked (401), and the 100th reaches the ceiling."""
    variants = email_variants(email)
    statuses = [status(app.test_client(), next(variants), ip=ip) for ip in BOTNET for _ in range(FREE)]
    assert statuses == [401] * CEILING


def unlock_links(outbox, email):
    return [match.group(1) for m in outbox if m.to == [email] and (match := UNLOCK_LINK.search(m.body))]


def test_settings_in_the_production_defaults(app):
    assert app.config["LOGIN_FAILURES_PER_ACCOUNT"] == f"{CEILING} per hour"
    assert app.config["LOGIN_RATE_LIMIT_PER_IP"] == f"{IP_LIMIT} per minute"
    assert app.config["LOGIN_FREE_FAILURES"] == FREE
    assert app.config["LOGIN_DELAY_MAX"] == timedelta(minutes=15)
    assert app.config["LOGIN_UNLOCK_TTL"] == timedelta(hours=1)


# ---------------------------------------------------------------- issue 12's probe

def test_the_probe_of_issue_12_cannot_lock_the_owner_out(app, cooperative_owner, outbox):
    """100 wrong passwords from 5 addresses, then the owner's correct password from a new address."""
    with freeze_time(START):
        client, ips = app.test_client(), itertools.cycle(PROBE_IPS)
        statuses = [status(client, cooperative_owner.email, ip=next(ips)) for _ in range(100)]
        # Each address had its 5 free guesses; after that each waits, and a waiting guess is not checked.
        assert statuses[:FREE * 5] == [401] * FREE * 5 and set(statuses[FREE * 5:]) == {429}

        owner = app.test_client()
        response = attempt(owner, cooperative_owner.email, factories.PASSWORD, ip="192.0.2.77")
        assert response.status_code == 302
        assert owner.get("/account").status_code == 200
    assert unlock_links(outbox, cooperative_owner.email) == []  # 25 guesses are far from the ceiling


# ---------------------------------------------------------------- per (account, address): growing delays

def test_wrong_passwords_from_one_address_wait_longer_and_longer(app, cooperative_owner):
    email, ip = cooperative_owner.email, "198.51.100.20"
    with freeze_time(START) as clock:
        client = app.test_client()
        assert [status(client, email, ip=ip) for _ in range(FREE)] == [401] * FREE
        waits = []
        for _ in range(12):
            response = attempt(client, email, ip=ip)
            assert response.status_code == 429
            waits.append(int(response.headers["Retry-After"]))
            # Even the right password is not checked while the pair waits.
            assert status(app.test_client(), email, factories.PASSWORD, ip=ip) == 429
            clock.tick(timedelta(seconds=waits[-1]))
            assert status(client, email, ip=ip) == 401
        assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]  # doubling, capped at 15 minutes
        page = attempt(client, email, ip=ip)
        assert page.status_code == 429 and '<html lang="vi">' in page.get_data(as_text=True)


def test_the_wait_is_for_that_pair_only(app, cooperative_owner, enterprise_owner):
    ip = "198.51.100.21"
    with freeze_time(START):
        client = app.test_client()
        assert [status(client, cooperative_owner.email, ip=ip) for _ in range(FREE + 1)] == [401] * FREE + [429]
        # The owner at another address, and another account at this address (a shared office), log in.
        assert status(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip="198.51.100.22") == 302
        assert status(app.test_client(), enterprise_owner.email, factories.PASSWORD, ip=ip) == 302


def test_an_ipv6_line_is_one_address(app, cooperative_owner):
    """Anyone with an IPv6 /64 can use as many of its addresses as they like."""
    assert throttle.client_network("2001:db8:1:2::7") == throttle.client_network("2001:db8:1:2:ffff::1")
    assert throttle.client_network("2001:db8:1:3::7") != throttle.client_network("2001:db8:1:2::7")
    assert throttle.client_network("::ffff:192.0.2.1") == "192.0.2.1"
    with freeze_time(START):
        statuses = [status(app.test_client(), cooperative_owner.email, ip=f"2001:db8:1:2::{n + 1:x}")
                    for n in range(FREE + 1)]
        assert statuses == [401] * FREE + [429]
        assert status(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip="2001:db8:1:3::1") == 302


def test_a_correct_password_clears_the_pair(app, cooperative_owner):
    email, ip = cooperative_owner.email, "198.51.100.23"
    with freeze_time(START) as clock:
        client = app.test_client()
        assert [status(client, email, ip=ip) for _ in range(FREE)] == [401] * FREE
        clock.tick(timedelta(seconds=1))
        assert status(app.test_client(), email, factories.PASSWORD, ip=ip) == 302
        assert [status(client, email, ip=ip) for _ in range(FREE)] == [401] * FREE  # free again


def test_successful_logins_do_not_count_as_failures(app, cooperative_owner):
    with freeze_time(START):
        for ip in BOTNET[:10]:
            assert status(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip=ip) == 302
        botnet_reaches_the_ceiling(app, cooperative_owner.email)


# ---------------------------------------------------------------- per account: the ceiling and the unlock link

def test_at_the_ceiling_unknown_browsers_are_refused_and_the_owner_gets_a_link(app, cooperative_owner,
                                                                               enterprise_owner, outbox):
    email = cooperative_owner.email
    with freeze_time(START) as clock:
        usual = app.test_client()  # the owner's own browser, used before the attack
        assert status(usual, email, factories.PASSWORD, ip="192.0.2.10") == 302
        usual.post("/logout")
        botnet_reaches_the_ceiling(app, email)

        # The owner is told at once, by one email, and the organisation's history says so.
        (link,) = unlock_links(outbox, email)
        kinds = db.session.scalars(sa.select(OrganisationEvent.kind)).all()
        assert kinds == [OrganisationEventKind.LOGIN_CEILING_REACHED]

        # A browser the account does not know is refused, right password or not, from any address ...
        stranger = attempt(app.test_client(), email, factories.PASSWORD, ip="192.0.2.77")
        assert stranger.status_code == 429
        assert 0 < int(stranger.headers["Retry-After"]) <= 3600
        assert "/login/unlock/" not in stranger.get_data(as_text=True)  # the link goes only to the mailbox
        assert status(app.test_client(), email, ip="192.0.2.78") == 429
        # ... while the owner's usual browser logs in, and other accounts are not concerned.
        assert status(usual, email, factories.PASSWORD, ip="192.0.2.79") == 302
        assert status(app.test_client(), enterprise_owner.email, factories.PASSWORD, ip=BOTNET[0]) == 302

        # The emailed link logs the owner in from a new browser, which is trusted from then on.
        owner = app.test_client()
        assert owner.get(link).status_code == 200
        wrong = owner.post(link, data={"password": WRONG}, environ_base={"REMOTE_ADDR": "192.0.2.80"})
        assert wrong.status_code == 401
        response = owner.post(link, data={"password": factories.PASSWORD}, environ_base={"REMOTE_ADDR": "192.0.2.80"})
        assert response.status_code == 302 and owner.get("/account").status_code == 200
        assert owner.get(link).status_code == 404  # single use
        owner.post("/logout")
        assert status(owner, email, factories.PASSWORD, ip="192.0.2.81") == 302

        # More guesses do not send more emails in this window; unknown browsers stay refused.
        assert status(app.test_client(), email, ip=BOTNET[0]) == 429
        assert len(unlock_links(outbox, email)) == 1
        kinds = db.session.scalars(sa.select(OrganisationEvent.kind).order_by(OrganisationEvent.id)).all()
        assert kinds == [OrganisationEventKind.LOGIN_CEILING_REACHED, OrganisationEventKind.LOGIN_UNLOCKED]

        # An hour after the first guess the ceiling is gone for everybody.
        clock.tick(timedelta(hours=1, seconds=1))
        assert status(app.test_client(), email, factories.PASSWORD, ip="192.0.2.82") == 302


def test_the_unlock_link_stores_only_its_digest_and_expires_after_an_hour(app, cooperative_owner, outbox):
    with freeze_time(START) as clock:
        botnet_reaches_the_ceiling(app, cooperative_owner.email)
        (link,) = unlock_links(outbox, cooperative_owner.email)
        secret = link.rsplit("/", 1)[1]
        record = db.session.scalar(sa.select(LoginUnlock))
        assert record.token_hash != secret and secret not in record.token_hash
        clock.tick(timedelta(minutes=59))
        assert app.test_client().get(link).status_code == 200
        clock.tick(timedelta(minutes=1, seconds=1))
        assert app.test_client().get(link).status_code == 404
        assert app.test_client().post(link, data={"password": factories.PASSWORD}).status_code == 404


def test_a_password_reset_lets_its_browser_in_too(app, cooperative_owner, outbox):
    """The reset link proves the mailbox as the unlock link does."""
    with freeze_time(START):
        botnet_reaches_the_ceiling(app, cooperative_owner.email)
        browser = app.test_client()
        browser.post("/forgot-password", data={"email": cooperative_owner.email})
        link = re.search(r"/reset-password/[A-Za-z0-9_-]+", outbox[-1].body).group(0)
        new_password = "một mật khẩu mới sau khi bị dò"
        assert browser.post(link, data={"password": new_password}).status_code == 302
        assert status(browser, cooperative_owner.email, new_password, ip="192.0.2.90") == 302
        assert status(app.test_client(), cooperative_owner.email, new_password, ip="192.0.2.91") == 429


def test_unknown_accounts_are_limited_the_same_way(app, cooperative_owner, outbox):
    """The answers must not reveal which emails exist: an unknown email meets the same ceiling and page."""
    with freeze_time(START):
        unknown = "khong-ton-tai@htx.example"
        botnet_reaches_the_ceiling(app, unknown)
        botnet_reaches_the_ceiling(app, cooperative_owner.email)
        known_page, unknown_page = (attempt(app.test_client(), email, factories.PASSWORD, ip="192.0.2.5")
                                    for email in (cooperative_owner.email, unknown))
        assert known_page.status_code == unknown_page.status_code == 429
        assert abs(int(known_page.headers["Retry-After"]) - int(unknown_page.headers["Retry-After"])) <= 1

        def words(response, email):
            html = response.get_data(as_text=True).replace(email, "EMAIL")
            return re.sub(r'name="csrf_token" value="[^"]+"', "", html)

        assert words(known_page, cooperative_owner.email) == words(unknown_page, unknown)
        assert [m.to for m in outbox] == [[cooperative_owner.email]]


def test_a_forged_or_overused_trusted_browser_cookie_does_not_help(app, cooperative_owner):
    email = cooperative_owner.email
    with freeze_time(START):
        browser = app.test_client()
        assert status(browser, email, factories.PASSWORD, ip="192.0.2.30") == 302
        browser.post("/logout")
        name = "trusted_browser"
        value = browser.get_cookie(name).value
        forged = app.test_client()
        forged.set_cookie(name, value[:-3] + "AAA")
        botnet_reaches_the_ceiling(app, email)
        assert status(forged, email, factories.PASSWORD, ip="192.0.2.31") == 429
        # A trusted browser guessing from address after address stops being trusted after 10 misses.
        for n in range(throttle.TRUSTED_BROWSER_MAX_FAILURES):
            assert status(browser, email, ip=f"192.0.2.{100 + n}") == 401
        assert status(browser, email, factories.PASSWORD, ip="192.0.2.200") == 429


def test_a_password_change_ends_the_trust_of_the_other_browsers(app, cooperative_owner):
    """Whoever learnt the old password may have logged in somewhere: that browser must not keep guessing
    past the ceiling. The browser that changed the password proved it and stays trusted."""
    email, new_password = cooperative_owner.email, "một mật khẩu mới sau khi bị lộ"
    with freeze_time(START):
        other = app.test_client()  # a browser that logged in with the old password
        assert status(other, email, factories.PASSWORD, ip="192.0.2.40") == 302
        other.post("/logout")
        owner = app.test_client()
        assert status(owner, email, factories.PASSWORD, ip="192.0.2.41") == 302
        changed = owner.post("/account/password", data={"current_password": factories.PASSWORD,
                                                        "new_password": new_password})
        assert changed.status_code == 302
        owner.post("/logout")
        botnet_reaches_the_ceiling(app, email)
        assert status(other, email, new_password, ip="192.0.2.42") == 429
        assert status(owner, email, new_password, ip="192.0.2.43") == 302


def test_a_password_reset_ends_the_trust_of_the_other_browsers(app, cooperative_owner, outbox):
    email, new_password = cooperative_owner.email, "một mật khẩu mới sau khi bị lộ"
    with freeze_time(START):
        other = app.test_client()
        assert status(other, email, factories.PASSWORD, ip="192.0.2.44") == 302
        other.post("/logout")
        browser = app.test_client()
        browser.post("/forgot-password", data={"email": email})
        link = re.search(r"/reset-password/[A-Za-z0-9_-]+", outbox[-1].body).group(0)
        assert browser.post(link, data={"password": new_password}).status_code == 302
        botnet_reaches_the_ceiling(app, email)
        assert status(other, email, new_password, ip="192.0.2.45") == 429
        assert status(browser, email, new_password, ip="192.0.2.46") == 302


def test_wrong_current_passwords_on_the_account_page_wait_like_wrong_logins(app, cooperative_owner):
    """A session left open must not let anyone guess the password through the change form."""
    email, ip, new_password = cooperative_owner.email, "198.51.100.60", "một mật khẩu mới sau khi bị lộ"
    with freeze_time(START) as clock:
        browser = app.test_client()
        assert status(browser, email, factories.PASSWORD, ip=ip) == 302

        def change(current):
            return browser.post("/account/password", data={"current_password": current, "new_password": new_password},
                                environ_base={"REMOTE_ADDR": ip})

        assert [change(WRONG).status_code for _ in range(FREE)] == [422] * FREE
        refused = change(factories.PASSWORD)  # not even checked while the pair waits
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert 'id="current_password-error"' in refused.get_data(as_text=True)
        assert status(app.test_client(), email, factories.PASSWORD, ip=ip) == 429  # the login's own counters
        clock.tick(timedelta(seconds=1))
        assert change(factories.PASSWORD).status_code == 302


# ---------------------------------------------------------------- per address

def test_per_ip_limit(app, cooperative_owner):
    client, ip = app.test_client(), "198.51.100.9"
    statuses = [status(client, f"guess{n}@htx.example", ip=ip) for n in range(IP_LIMIT)]
    assert statuses == [401] * IP_LIMIT
    assert status(client, "guess-next@htx.example", ip=ip) == 429
    # The right password from the blocked IP is refused too, and the login page still loads.
    assert status(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip=ip) == 429
    assert client.get("/login", environ_base={"REMOTE_ADDR": ip}).status_code == 200
    # A spoofed X-Forwarded-For does not help (no proxy is trusted by default) ...
    assert status(client, "guess-xff@htx.example", ip=ip, headers={"X-Forwarded-For": "10.1.2.3"}) == 429
    # ... and another IP is not affected.
    assert status(app.test_client(), cooperative_owner.email, factories.PASSWORD, ip="198.51.100.10") == 302


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
    name = f"login/account-failures/{throttle.account_key(email)}"
    keys = [k.decode() for k in redis_limits["keys"]() if name in k.decode()]
    assert len(keys) == 1, keys
    return int(redis_limits["redis"].get(keys[0]))


def test_two_app_instances_share_the_account_ceiling_in_redis(make_app, app, cooperative_owner, redis_limits):
    first = make_app(**redis_limits["settings"])
    second = make_app(**redis_limits["settings"])
    assert limiter._key_prefix == redis_limits["prefix"]
    clients = itertools.cycle([first.test_client(), second.test_client()])
    email = cooperative_owner.email

    statuses = [status(next(clients), email, ip=ip) for ip in BOTNET for _ in range(FREE)]
    assert statuses == [401] * CEILING
    # The count lives in Redis, not in a worker's memory.
    assert account_counter(redis_limits, email) == CEILING

    assert status(next(clients), email, ip="192.0.2.80") == 429
    assert status(first.test_client(), email, factories.PASSWORD, ip="192.0.2.81") == 429
    assert status(second.test_client(), email, factories.PASSWORD, ip="192.0.2.82") == 429


def test_a_pair_waits_on_every_instance(make_app, app, cooperative_owner, redis_limits):
    first, second = (make_app(**redis_limits["settings"]).test_client() for _ in range(2))
    ip, email = "198.51.100.44", cooperative_owner.email
    assert [status(first if n % 2 else second, email, ip=ip) for n in range(FREE)] == [401] * FREE
    assert status(first, email, ip=ip) == 429 and status(second, email, ip=ip) == 429


WORKER = """
import json, sys
from marketplace import create_app

app = create_app(json.loads(sys.argv[1]))
for line in sys.stdin:
    ip, email, password = json.loads(line)
    response = app.test_client().post("/login", data={"email": email, "password": password},
                                      environ_base={"REMOTE_ADDR": ip})
    print(response.status_code, flush=True)
"""


def test_two_processes_share_the_account_ceiling_in_redis(make_app, app, database, tmp_path, cooperative_owner,
                                                          redis_limits):
    """Like two gunicorn workers: a separate Python process with its own app counts into the same Redis."""
    settings = {key: value for key, value in database.items() if key != "backend"}
    config = {**BASE_CONFIG, **settings, **redis_limits["settings"], "UPLOAD_DIR": str(tmp_path / "worker")}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(config)],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )

    def worker_status(email, password=WRONG, ip="198.51.100.1"):
        worker.stdin.write(json.dumps([ip, email, password]) + "\n")
        worker.stdin.flush()
        line = worker.stdout.readline()
        assert line, "the worker process died"
        return int(line)

    try:
        here = make_app(**redis_limits["settings"])
        email, statuses = cooperative_owner.email, []
        for n, ip in enumerate(ip for ip in BOTNET for _ in range(FREE)):
            statuses.append(worker_status(email, ip=ip) if n % 2 else status(here.test_client(), email, ip=ip))
        assert statuses == [401] * CEILING
        assert account_counter(redis_limits, email) == CEILING
        assert worker_status(email, ip="192.0.2.88") == 429
        assert status(here.test_client(), email, ip="192.0.2.89") == 429
        assert worker_status(email, factories.PASSWORD, ip="192.0.2.90") == 429
    finally:
        worker.stdin.close()
        worker.stdout.close()
        worker.wait(timeout=30)


def test_limits_apply_even_after_an_app_was_built_with_them_disabled(make_app, cooperative_owner):
    """The Limiter is shared by every app in a process; one app's RATELIMIT_ENABLED=False must not leak."""
    make_app(RATELIMIT_ENABLED=False)
    app = make_app()
    client, ip = app.test_client(), "198.51.100.33"
    assert [status(client, f"g{n}@htx.example", ip=ip) for n in range(IP_LIMIT)] == [401] * IP_LIMIT
    assert status(client, "g-last@htx.example", ip=ip) == 429
    assert [status(app.test_client(), cooperative_owner.email, ip="198.51.100.34") for _ in range(FREE + 1)] == \
        [401] * FREE + [429]
