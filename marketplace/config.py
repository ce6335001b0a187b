"""Configuration: safe defaults, overridden by environment variables, then by create_app(config).

MARKETPLACE_ENV selects the profile: "production" (the default, so a forgotten variable never
weakens a live site) or "development" (what `make run` uses: plain HTTP on 127.0.0.1, console mail,
a generated SECRET_KEY kept in instance/).
"""
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIN_SECRET_KEY_BYTES = 32
LOCAL_BASE_URL = "http://127.0.0.1:5000"


def _env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def local_base_url():
    """The development default of PUBLIC_BASE_URL: the address `make run` serves (HOST and PORT, as the Makefile
    passes them), so links in emails, QR codes and labels reach the running site whatever its port.

    A wildcard HOST (0.0.0.0, ::) is no address to visit: links then use 127.0.0.1 (set PUBLIC_BASE_URL to the
    machine's address for other devices). Derived from the environment only, never from a request's Host header.
    """
    host = os.environ.get("HOST", "").strip() or "127.0.0.1"
    port = os.environ.get("PORT", "").strip() or "5000"
    if host in {"0.0.0.0", "::", "[::]"}:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}"


def defaults(instance_path):
    """Return the default settings for a profile, before the environment is applied."""
    development = os.environ.get("MARKETPLACE_ENV", "production") == "development"
    return {
        "MARKETPLACE_ENV": "development" if development else "production",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'marketplace.sqlite3'}",
        # hide_parameters: SQL errors in the logs never show the values (a password hash, a token digest).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "SEARCH_INDEX_DIR": str(PROJECT_ROOT / "search_index"),
        "UPLOAD_DIR": str(Path(instance_path) / "uploads"),
        # Agreements: the platform CA, organisations' signing keys (encrypted with the passphrase) and the CRL.
        "SIGNING_DIR": str(Path(instance_path) / "signing"),
        "SIGNING_KEY_PASSPHRASE": None,  # required in production; generated into instance/ for local runs
        "VERIFY_MAX_BYTES": 20 * 1024 * 1024,  # the largest PDF the public verification accepts
        "VERIFY_CPU_SECONDS": 1.5,  # CPU time one verification may take (in a child process) before it is refused
        "VERIFY_MEMORY_MB": 200,  # memory the verifying child may take beyond what it started with
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        # Sessions: server-side records (accounts.sessions) make logout and expiry real.
        "SESSION_COOKIE_NAME": "session" if development else "__Host-session",
        "SESSION_COOKIE_SECURE": not development,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "SESSION_IDLE_TIMEOUT": timedelta(minutes=30),
        "REMEMBER_COOKIE_DURATION": timedelta(hours=12),  # remember-me is not offered; belt and braces
        "HTTPS": not development,
        "TRUST_PROXY_HOPS": 0,
        # Argon2id, RFC 9106 "low memory" profile (above OWASP's minimum of m=19 MiB, t=2).
        "PASSWORD_HASH_TIME_COST": 3,
        "PASSWORD_HASH_MEMORY_COST": 65536,
        "PASSWORD_HASH_PARALLELISM": 4,
        "PASSWORD_RESET_TTL": timedelta(hours=1),
        "INVITATION_TTL": timedelta(days=7),
        "REGISTRATION_CONFIRM_TTL": timedelta(hours=24),  # the link that finishes a registration
        "RATELIMIT_STORAGE_URI": "memory://",
        # Rendered anonymous catalogue pages kept per worker (pagecache.py): at most this many, each for at most
        # this many seconds; any committed catalogue change (the search change log) retires them at once. 0: off.
        "PAGE_CACHE_SECONDS": 300,
        "PAGE_CACHE_ENTRIES": 256,
        # Signed-in list pages (an organisation's products, orders and MoUs; the alliance's queues and dashboard) kept
        # per worker for the members of one organisation with one role (pagecache.kept_for_the_organisation): at most
        # this many, each for at most this many seconds; any committed change of a record (versions.RECORDS) retires
        # them all. 0: off.
        "PRIVATE_PAGE_CACHE_SECONDS": 300,
        "PRIVATE_PAGE_CACHE_ENTRIES": 512,
        # How long a shared cache (a reverse proxy) may keep an anonymous catalogue page without asking again
        # (`s-maxage`); a change shows late by up to this much there. 0: it must revalidate (ETag, 304) each time.
        "PAGE_SHARED_CACHE_SECONDS": 0,
        # Side effects: without REDIS_URL they run in-process after each commit; with it, RQ workers run them.
        "REDIS_URL": None,
        "JOBS_QUEUE": "chohtx",
        "JOBS_MAX_ATTEMPTS": 5,
        "JOBS_RETRY_INTERVALS": (10, 60, 300, 1800),  # seconds before attempts 2, 3, 4 and 5
        "SCHEDULE_TIMEZONE": "Asia/Ho_Chi_Minh",
        "AGREEMENT_REMINDER_DAYS": 3,  # `flask agreements remind` reminds a party an MoU has waited for this long
        # Alliance follow-up (alliance/tracking.py): an MoU is "behind" when its ordered share of the committed value
        # trails the elapsed share of its term by more than this margin (0.15 = 15 points), "stalled" after this
        # many days without an order; a signature awaited longer than FOLLOW_UP_SIGNATURE_DAYS needs attention.
        "FOLLOW_UP_BEHIND_MARGIN": 0.15,
        "FOLLOW_UP_STALLED_DAYS": 30,
        "FOLLOW_UP_SIGNATURE_DAYS": 7,
        "FOLLOW_UP_ENDING_DAYS": 30,  # "ending soon": the term ends within this many days
        # Every signed MoU's progress and the needs-attention lists kept in each worker's memory between requests
        # while no MoU, milestone or order under an MoU changes and the day stays the same (alliance/progress_cache.py).
        "FOLLOW_UP_CACHE": True,
        # Search change log: how often a host's follower looks for changes, and how long changes are kept.
        "SEARCH_FOLLOW_INTERVAL": 1.0,
        "SEARCH_CHANGE_RETENTION_DAYS": 14,
        # Logs: one line per record on stderr, with the request id (marketplace/logging_setup.py).
        "LOG_FORMAT": "text" if development else "json",
        "LOG_LEVEL": "INFO",
        "SQL_QUERY_COUNT_HEADER": False,  # X-SQL-Queries on every response: for the load benchmark only
        # Explicit, because the shared Limiter otherwise keeps the last app's RATELIMIT_ENABLED.
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Login (accounts/throttle.py): every POST per client address; then wrong passwords per
        # (account, address) are free up to LOGIN_FREE_FAILURES, then wait 1 s, 2 s, 4 s... up to
        # LOGIN_DELAY_MAX; per account the ceiling, above which only trusted browsers may try, and
        # the owner is emailed an unlock link valid LOGIN_UNLOCK_TTL.
        "LOGIN_RATE_LIMIT_PER_IP": "30 per minute",
        "LOGIN_FREE_FAILURES": 5,
        "LOGIN_DELAY_MAX": timedelta(minutes=15),
        "LOGIN_CLIENT_FAILURE_WINDOW": timedelta(hours=24),
        "LOGIN_FAILURES_PER_ACCOUNT": "100 per hour",
        "LOGIN_UNLOCK_TTL": timedelta(hours=1),
        "LOGIN_TRUSTED_BROWSER_LIFETIME": timedelta(days=90),
        # Uploads (photos, certificate scans, spreadsheet previews): POSTs carrying a file, counted per
        # person and per organisation, in RATELIMIT_STORAGE_URI (Redis in production: one count for all workers).
        "UPLOAD_RATE_LIMIT_PER_USER": "10 per minute;60 per hour",
        "UPLOAD_RATE_LIMIT_PER_ORGANISATION": "200 per hour",
        # Images (catalog/images.py): decoded pixels, read from the header before decoding anything.
        "IMAGE_MAX_PIXELS": 16_000_000,  # one image (a baseline JPEG counts at the scale it is decoded at)
        "IMAGE_MAX_PIXELS_PER_REQUEST": 16_000_000,  # all the images of one upload, together
        "UPLOAD_MAX_FILES": 8,  # files in one upload
        # MoU follow-up (alliance/nudges.py): an organisation is nudged about one MoU at most once in this time.
        "NUDGE_INTERVAL_MINUTES": 60,
        # Spreadsheet import (catalog/spreadsheet.py reads files as streams and stops at the first cap crossed).
        "IMPORT_MAX_ROWS": 5000,  # products per file, `flask catalog import`
        # /workspace/import: each row is tried by the services twice (preview, then import), about 2 ms each.
        "IMPORT_WEB_MAX_ROWS": 500,  # a cooperative's file: within about a second
        "IMPORT_WEB_MAX_ROWS_ALLIANCE": 500,  # the alliance's registry: the same second (larger: the command line)
        "IMPORT_MAX_COLUMNS": 60,
        "IMPORT_MAX_CELLS": 120_000,  # cells read, empty ones and blank rows included
        "IMPORT_MAX_SHARED_STRINGS": 120_000,  # XLSX: distinct texts of the workbook
        "IMPORT_MAX_UNPACKED_BYTES": 20 * 1024 * 1024,  # XLSX: the parts read (sheet, shared strings, styles)
        "IMPORT_MAX_LINE_CHARS": 100_000,  # CSV: one row, quoted line breaks included
        # Registration and forgot-password answer the same for known and unknown emails; these limits
        # stop probing and mail flooding (per client address, and per email address whoever asks).
        "REGISTRATION_RATE_LIMIT_PER_IP": "20 per hour",
        "REGISTRATION_RATE_LIMIT_PER_EMAIL": "3 per hour",
        "PASSWORD_RESET_RATE_LIMIT_PER_IP": "10 per hour",
        "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL": "3 per hour",
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        "LANGUAGES": ["vi", "en"],
        # Every link in mail, QR codes and labels; production must set it, development follows HOST and PORT.
        "PUBLIC_BASE_URL": local_base_url() if development else LOCAL_BASE_URL,
        "MAIL_BACKEND": "console" if development else "smtp",
        "MAIL_SERVER": "localhost",
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_DEFAULT_SENDER": "Chợ HTX <no-reply@chohtx.local>",
        # Card payments (payments/stripe_gateway.py): offered when both keys are set. STRIPE_API_BASE points the
        # library at a local fake server (`make run STRIPE_DEMO=1`, tests); None is the real Stripe.
        "STRIPE_SECRET_KEY": None,
        "STRIPE_PUBLISHABLE_KEY": None,
        "STRIPE_WEBHOOK_SECRET": None,
        "STRIPE_API_BASE": None,
        "STRIPE_JS_URL": "https://js.stripe.com/v3/",
        "BOOTSTRAP_SERVE_LOCAL": True,
        "COMPRESS_MIMETYPES": ["text/html", "text/css", "application/javascript", "application/json"],
        # Compression levels for pages compressed here (Flask-Compress: gzip 6 and Brotli 4 by default there). On the
        # dashboard's 185 KB, gzip 1 costs a third of gzip 6's CPU for about a tenth more bytes, and Brotli 1 (what
        # browsers ask for first) a third of Brotli 4's for 3 % more (docs/benchmarks.md, issue 14).
        "COMPRESS_LEVEL": 1,
        "COMPRESS_BR_LEVEL": 1,
    }


# Environment variable → (setting, converter). Documented in README.md.
ENVIRONMENT = {
    "SECRET_KEY": ("SECRET_KEY", str),
    "PUBLIC_BASE_URL": ("PUBLIC_BASE_URL", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "SEARCH_INDEX_DIR": ("SEARCH_INDEX_DIR", str),
    "UPLOAD_DIR": ("UPLOAD_DIR", str),
    "SIGNING_DIR": ("SIGNING_DIR", str),
    "SIGNING_KEY_PASSPHRASE": ("SIGNING_KEY_PASSPHRASE", str),
    "VERIFY_MAX_BYTES": ("VERIFY_MAX_BYTES", int),
    "VERIFY_CPU_SECONDS": ("VERIFY_CPU_SECONDS", float),
    "VERIFY_MEMORY_MB": ("VERIFY_MEMORY_MB", int),
    "RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "LOGIN_RATE_LIMIT_PER_IP": ("LOGIN_RATE_LIMIT_PER_IP", str),
    "LOGIN_FAILURES_PER_ACCOUNT": ("LOGIN_FAILURES_PER_ACCOUNT", str),
    "LOGIN_FREE_FAILURES": ("LOGIN_FREE_FAILURES", int),
    "REGISTRATION_RATE_LIMIT_PER_IP": ("REGISTRATION_RATE_LIMIT_PER_IP", str),
    "REGISTRATION_RATE_LIMIT_PER_EMAIL": ("REGISTRATION_RATE_LIMIT_PER_EMAIL", str),
    "PASSWORD_RESET_RATE_LIMIT_PER_IP": ("PASSWORD_RESET_RATE_LIMIT_PER_IP", str),
    "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL": ("PASSWORD_RESET_RATE_LIMIT_PER_EMAIL", str),
    "REDIS_URL": ("REDIS_URL", str),
    "PAGE_CACHE_SECONDS": ("PAGE_CACHE_SECONDS", int),
    "COMPRESS_LEVEL": ("COMPRESS_LEVEL", int),
    "COMPRESS_BR_LEVEL": ("COMPRESS_BR_LEVEL", int),
    "PAGE_CACHE_ENTRIES": ("PAGE_CACHE_ENTRIES", int),
    "PRIVATE_PAGE_CACHE_SECONDS": ("PRIVATE_PAGE_CACHE_SECONDS", int),
    "PRIVATE_PAGE_CACHE_ENTRIES": ("PRIVATE_PAGE_CACHE_ENTRIES", int),
    "PAGE_SHARED_CACHE_SECONDS": ("PAGE_SHARED_CACHE_SECONDS", int),
    "FOLLOW_UP_BEHIND_MARGIN": ("FOLLOW_UP_BEHIND_MARGIN", float),
    "FOLLOW_UP_STALLED_DAYS": ("FOLLOW_UP_STALLED_DAYS", int),
    "FOLLOW_UP_SIGNATURE_DAYS": ("FOLLOW_UP_SIGNATURE_DAYS", int),
    "FOLLOW_UP_ENDING_DAYS": ("FOLLOW_UP_ENDING_DAYS", int),
    "FOLLOW_UP_CACHE": ("FOLLOW_UP_CACHE", lambda v: _env_bool("FOLLOW_UP_CACHE", True)),
    "JOBS_QUEUE": ("JOBS_QUEUE", str),
    "LOG_FORMAT": ("LOG_FORMAT", str),
    "LOG_LEVEL": ("LOG_LEVEL", str),
    "TRUST_PROXY_HOPS": ("TRUST_PROXY_HOPS", int),
    "UPLOAD_RATE_LIMIT_PER_USER": ("UPLOAD_RATE_LIMIT_PER_USER", str),
    "UPLOAD_RATE_LIMIT_PER_ORGANISATION": ("UPLOAD_RATE_LIMIT_PER_ORGANISATION", str),
    "IMAGE_MAX_PIXELS": ("IMAGE_MAX_PIXELS", int),
    "IMAGE_MAX_PIXELS_PER_REQUEST": ("IMAGE_MAX_PIXELS_PER_REQUEST", int),
    "UPLOAD_MAX_FILES": ("UPLOAD_MAX_FILES", int),
    "NUDGE_INTERVAL_MINUTES": ("NUDGE_INTERVAL_MINUTES", int),
    "IMPORT_MAX_ROWS": ("IMPORT_MAX_ROWS", int),
    "IMPORT_WEB_MAX_ROWS": ("IMPORT_WEB_MAX_ROWS", int),
    "IMPORT_WEB_MAX_ROWS_ALLIANCE": ("IMPORT_WEB_MAX_ROWS_ALLIANCE", int),
    "IMPORT_MAX_COLUMNS": ("IMPORT_MAX_COLUMNS", int),
    "IMPORT_MAX_CELLS": ("IMPORT_MAX_CELLS", int),
    "IMPORT_MAX_SHARED_STRINGS": ("IMPORT_MAX_SHARED_STRINGS", int),
    "IMPORT_MAX_UNPACKED_BYTES": ("IMPORT_MAX_UNPACKED_BYTES", int),
    "IMPORT_MAX_LINE_CHARS": ("IMPORT_MAX_LINE_CHARS", int),
    "MAIL_BACKEND": ("MAIL_BACKEND", str),
    "MAIL_SERVER": ("MAIL_SERVER", str),
    "MAIL_PORT": ("MAIL_PORT", int),
    "MAIL_USE_TLS": ("MAIL_USE_TLS", lambda v: _env_bool("MAIL_USE_TLS", False)),
    "MAIL_USE_SSL": ("MAIL_USE_SSL", lambda v: _env_bool("MAIL_USE_SSL", False)),
    "MAIL_USERNAME": ("MAIL_USERNAME", str),
    "MAIL_PASSWORD": ("MAIL_PASSWORD", str),
    "MAIL_DEFAULT_SENDER": ("MAIL_DEFAULT_SENDER", str),
    "STRIPE_SECRET_KEY": ("STRIPE_SECRET_KEY", str),
    "STRIPE_PUBLISHABLE_KEY": ("STRIPE_PUBLISHABLE_KEY", str),
    "STRIPE_WEBHOOK_SECRET": ("STRIPE_WEBHOOK_SECRET", str),
    "STRIPE_API_BASE": ("STRIPE_API_BASE", str),
    "STRIPE_JS_URL": ("STRIPE_JS_URL", str),
}


def from_environment():
    settings = {}
    for variable, (key, convert) in ENVIRONMENT.items():
        if os.environ.get(variable):
            settings[key] = convert(os.environ[variable])
    url = settings.get("SQLALCHEMY_DATABASE_URI", "")
    if url.startswith(("postgres://", "postgresql://")):
        # psycopg 3 is the driver we ship; plain URLs from hosting panels would ask for psycopg2.
        settings["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url.split("://", 1)[1]
    return settings


def ensure_public_base_url(app):
    """Production mail links are built on PUBLIC_BASE_URL (never the Host header): it must be set."""
    if app.config["MARKETPLACE_ENV"] == "development" or app.testing:
        return
    if app.config["PUBLIC_BASE_URL"] == LOCAL_BASE_URL:
        raise RuntimeError("PUBLIC_BASE_URL is not set: set it to the site's address, e.g. https://chohtx.vn")


def ensure_secret_key(app):
    """Refuse to start in production without a strong SECRET_KEY; generate one for local runs."""
    key = app.config.get("SECRET_KEY")
    if key:
        if len(key.encode()) < MIN_SECRET_KEY_BYTES and not app.testing:
            raise RuntimeError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes long.")
        return
    if app.config["MARKETPLACE_ENV"] != "development" and not app.testing:
        raise RuntimeError(
            "SECRET_KEY is not set. Set it to a random value of at least 32 bytes, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def signing_passphrase(app):
    """The passphrase that encrypts the platform CA's and organisations' signing keys.

    SIGNING_KEY_PASSPHRASE when set. Local runs and tests without it get one generated into
    instance/signing_passphrase (mode 0600), created once even by two processes at a time. Production
    refuses (RuntimeError) without it or with one shorter than 32 bytes, so nothing is ever signed with a
    key a restart could not decrypt, or whose file a weak passphrase leaves open to guessing.
    Asked lazily (only when signing), so a site that never signs needs no passphrase.
    """
    passphrase = app.config.get("SIGNING_KEY_PASSPHRASE")
    local = app.config["MARKETPLACE_ENV"] == "development" or app.testing
    if passphrase:
        # The key files use PBKDF2 with 2048 rounds (cryptography's PKCS#8 default): the strength is the passphrase's.
        if len(passphrase.encode()) < MIN_SECRET_KEY_BYTES and not local:
            raise RuntimeError(f"SIGNING_KEY_PASSPHRASE must be at least {MIN_SECRET_KEY_BYTES} bytes long.")
        return passphrase
    if not local:
        raise RuntimeError(
            "SIGNING_KEY_PASSPHRASE is not set: agreements cannot be signed. Set it to a long random value "
            "and keep it safe (without it the signing keys in SIGNING_DIR cannot be read)."
        )
    path = Path(app.instance_path) / "signing_passphrase"
    if not path.exists():
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=app.instance_path, prefix=".signing_passphrase.")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates the file with mode 0600
                handle.write(secrets.token_urlsafe(48))
            try:
                os.link(temporary, path)  # atomic, and fails if another process got there first
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()
