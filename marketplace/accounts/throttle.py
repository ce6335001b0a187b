"""Password guessing is slowed without letting a stranger lock the owner out (checklist rows 4 and 37,
ASVS 2.2.1, OWASP's Authentication Cheat Sheet: prefer growing delays to hard lockout).

Three counters, kept where Flask-Limiter keeps its own (RATELIMIT_STORAGE_URI: Redis in production, so
every worker and host counts together):

1. Per (account, client address; an IPv6 /64 is one address): the first LOGIN_FREE_FAILURES wrong
   passwords cost nothing (typos); after each further one that pair waits 1 s, 2 s, 4 s, ... up to
   LOGIN_DELAY_MAX, and is answered 429 with Retry-After meanwhile, without the password being
   checked. Nobody else waits: the owner at another address is not slowed. A correct password clears
   the pair. Counts are forgotten LOGIN_CLIENT_FAILURE_WINDOW after the pair's first failure.
2. Per account, from every address: a ceiling of LOGIN_FAILURES_PER_ACCOUNT (100 per hour), against
   guessing spread over many addresses (a botnet gets a few free guesses per address). At the ceiling
   the account's owner is emailed, once per window, a single-use unlock link; until the window ends,
   browsers the account does not know are answered 429 without their password being checked,
   whatever their address, since a correct guess from a fresh address would otherwise still be let in.
3. A trusted browser: one where the account logged in before, or which followed an unlock link or a
   reset link, holds a signed cookie naming the account. It is not held back by the ceiling, so the
   owner's usual browser keeps working during an attack, and the emailed link lets any browser in.
   Its own failures count (a stolen cookie stops helping after TRUSTED_BROWSER_MAX_FAILURES), and
   the per-address delays still apply to it. The cookie names each account with a stamp of its
   current password hash, so a password change or reset ends the trust of every browser but the one
   that made it (whoever learnt the old password may have logged in somewhere).

Unknown emails are counted exactly like known ones, so the answers tell nothing about which exist.
With rate limiting disabled (RATELIMIT_ENABLED=False) nothing is counted.
"""
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeTimedSerializer
from limits import parse

from marketplace.errors import DomainError
from marketplace.extensions import limiter

DELAY_BASE_SECONDS = 1
TRUSTED_BROWSER_MAX_FAILURES = 10  # a trusted browser's wrong passwords per window before it is trusted no more
TRUSTED_BROWSER_MAX_ACCOUNTS = 5  # accounts one browser remembers (a shared office computer)


class TooManyAttempts(DomainError):
    """A login refused before its password is checked; `retry_after` in whole seconds."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message, retry_after, code=None):
        super().__init__(message, code)
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass(frozen=True)
class Client:
    """Who is logging in: the client's address, and the trusted-browser cookie when there is one."""

    address: str
    browser: str | None = None  # the cookie's random id
    # The accounts this browser may log in to despite the ceiling: (user id, password stamp) pairs.
    trusted: tuple = ()

    def trusts(self, user):
        if user is None or self.browser is None:
            return False
        stamp = password_stamp(user)
        return any(i == user.id and hmac.compare_digest(s, stamp) for i, s in self.trusted)


# ---------------------------------------------------------------- settings and storage

def enabled():
    return current_app.config["RATELIMIT_ENABLED"]


def _settings():
    config = current_app.config
    ceiling = parse(config["LOGIN_FAILURES_PER_ACCOUNT"])
    return {
        "free": config["LOGIN_FREE_FAILURES"],
        "delay_max": config["LOGIN_DELAY_MAX"].total_seconds(),
        "client_window": int(config["LOGIN_CLIENT_FAILURE_WINDOW"].total_seconds()),
        "ceiling": ceiling.amount,
        "account_window": ceiling.get_expiry(),
    }


def _storage():
    return limiter.storage


def _key(*parts):
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return "/".join([prefix, "login", *parts]) if prefix else "/".join(["login", *parts])


def account_key(email):
    # Addresses are not written into the counters' store; a digest names the account.
    return hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_network(address):
    """What counts as one client address: an IPv4 address, or an IPv6 /64 (one home or office line,
    which hands out addresses from it freely)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def _keys(email, client):
    account, network = account_key(email), client_network(client.address)
    return {
        "pair": _key("client-failures", account, network),
        "block": _key("client-blocked", account, network),
        "account": _key("account-failures", account),
        "browser": _key("browser-failures", account, client.browser or "-"),
    }


def _remaining(storage, key):
    return storage.get_expiry(key) - time.time()


# ---------------------------------------------------------------- the three steps of a login

def check(email, client, trusted=False):
    """Refuse (TooManyAttempts) before the password is checked when this pair must wait, or when the
    account is at its ceiling and `trusted` is False."""
    if not enabled():
        return
    storage, keys, settings = _storage(), _keys(email, client), _settings()
    if storage.get(keys["block"]):
        raise TooManyAttempts(
            _l("Too many wrong passwords from here for this account. Wait a moment and try again."),
            _remaining(storage, keys["block"]), code="login_delayed")
    if trusted and storage.get(keys["browser"]) >= TRUSTED_BROWSER_MAX_FAILURES:
        trusted = False
    if not trusted and storage.get(keys["account"]) >= settings["ceiling"]:
        raise TooManyAttempts(
            _l("Too many wrong passwords were tried for this account. If it is yours, open the link we "
               "have emailed to its address: it lets this browser log in. Otherwise try again later."),
            _remaining(storage, keys["account"]), code="account_throttled")


def failed(email, client, trusted=False):
    """Count a wrong password. Returns True when this failure brought the account to its ceiling (the
    caller emails the owner an unlock link: exactly one failure per window does)."""
    if not enabled():
        return False
    storage, keys, settings = _storage(), _keys(email, client), _settings()
    failures = storage.incr(keys["pair"], settings["client_window"])
    if failures >= settings["free"]:
        delay = min(DELAY_BASE_SECONDS * 2 ** (failures - settings["free"]), settings["delay_max"])
        storage.clear(keys["block"])
        storage.incr(keys["block"], max(1, math.ceil(delay)))
    if trusted:
        storage.incr(keys["browser"], settings["account_window"])
    return storage.incr(keys["account"], settings["account_window"]) == settings["ceiling"]


def succeeded(email, client):
    """A correct password: this pair's failures and wait are forgotten (the account's count is not)."""
    if not enabled():
        return
    storage, keys = _storage(), _keys(email, client)
    storage.clear(keys["pair"])
    storage.clear(keys["block"])


# ---------------------------------------------------------------- the trusted-browser cookie

def _cookie_name():
    return "__Host-trusted-browser" if current_app.config["SESSION_COOKIE_SECURE"] else "trusted_browser"


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="login-trusted-browser")


def password_stamp(user):
    """What the cookie keeps of the account's password: a keyed digest of its hash, which a password change
    or reset replaces (the cookie is signed, not encrypted, so the hash itself is never put in it)."""
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"trusted-browser:{user.id}:{user.password_hash}".encode(), hashlib.sha256).hexdigest()[:32]


def client_of(request):
    """The Client of this request: its address, and the accounts its (valid, signed) cookie names."""
    value = request.cookies.get(_cookie_name())
    max_age = current_app.config["LOGIN_TRUSTED_BROWSER_LIFETIME"].total_seconds()
    try:
        data = _serializer().loads(value, max_age=max_age) if value else None
    except BadData:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("b"), str) or not isinstance(data.get("u"), list):
        return Client(address=request.remote_addr or "")
    trusted = tuple((entry[0], entry[1]) for entry in data["u"]
                    if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int)
                    and isinstance(entry[1], str))
    return Client(address=request.remote_addr or "", browser=data["b"], trusted=trusted)


def trust_browser(response, client, user):
    """Remember on `response` that this browser may log in to `user`'s account, with its current password,
    despite the ceiling."""
    others = [[i, s] for i, s in client.trusted if i != user.id]
    accounts = [[user.id, password_stamp(user)], *others][:TRUSTED_BROWSER_MAX_ACCOUNTS]
    value = _serializer().dumps({"b": client.browser or secrets.token_urlsafe(16), "u": accounts})
    lifetime = current_app.config["LOGIN_TRUSTED_BROWSER_LIFETIME"]
    response.set_cookie(_cookie_name(), value, max_age=int(lifetime / timedelta(seconds=1)), path="/",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
    return response
