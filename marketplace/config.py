"""Configuration: safe defaults, overridden by environment variables, then by create_app(config).

MARKETPLACE_ENV selects the profile: "production" (the default, so a forgotten variable never
weakens a live site) or "development" (what `make run` uses: plain HTTP on 127.0.0.1, console mail,
a generated SECRET_KEY kept in instance/).
"""
import os
import secrets
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


def defaults(instance_path):
    """Return the default settings for a profile, before the environment is applied."""
    development = os.environ.get("MARKETPLACE_ENV", "production") == "development"
    return {
        "MARKETPLACE_ENV": "development" if development else "production",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'marketplace.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SEARCH_INDEX_DIR": str(PROJECT_ROOT / "search_index"),
        "UPLOAD_DIR": str(Path(instance_path) / "uploads"),
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
        # Side effects: without REDIS_URL they run in-process after each commit; with it, RQ workers run them.
        "REDIS_URL": None,
        "JOBS_QUEUE": "chohtx",
        "JOBS_MAX_ATTEMPTS": 5,
        "JOBS_RETRY_INTERVALS": (10, 60, 300, 1800),  # seconds before attempts 2, 3, 4 and 5
        "SCHEDULE_TIMEZONE": "Asia/Ho_Chi_Minh",
        "AGREEMENT_REMINDER_DAYS": 3,  # `flask agreements remind` reminds a party an MoU has waited for this long
        # Search change log: how often a host's follower looks for changes, and how long changes are kept.
        "SEARCH_FOLLOW_INTERVAL": 1.0,
        "SEARCH_CHANGE_RETENTION_DAYS": 14,
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
        # Registration and forgot-password answer the same for known and unknown emails; these limits
        # stop probing and mail flooding (per client address, and per email address whoever asks).
        "REGISTRATION_RATE_LIMIT_PER_IP": "20 per hour",
        "REGISTRATION_RATE_LIMIT_PER_EMAIL": "3 per hour",
        "PASSWORD_RESET_RATE_LIMIT_PER_IP": "10 per hour",
        "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL": "3 per hour",
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        "LANGUAGES": ["vi", "en"],
        "PUBLIC_BASE_URL": LOCAL_BASE_URL,  # for links in mail sent outside a request (CLI, jobs)
        "MAIL_BACKEND": "console" if development else "smtp",
        "MAIL_SERVER": "localhost",
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_DEFAULT_SENDER": "Chợ HTX <no-reply@chohtx.local>",
        "BOOTSTRAP_SERVE_LOCAL": True,
        "COMPRESS_MIMETYPES": ["text/html", "text/css", "application/javascript", "application/json"],
    }


# Environment variable → (setting, converter). Documented in README.md.
ENVIRONMENT = {
    "SECRET_KEY": ("SECRET_KEY", str),
    "PUBLIC_BASE_URL": ("PUBLIC_BASE_URL", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "SEARCH_INDEX_DIR": ("SEARCH_INDEX_DIR", str),
    "UPLOAD_DIR": ("UPLOAD_DIR", str),
    "RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "LOGIN_RATE_LIMIT_PER_IP": ("LOGIN_RATE_LIMIT_PER_IP", str),
    "LOGIN_FAILURES_PER_ACCOUNT": ("LOGIN_FAILURES_PER_ACCOUNT", str),
    "LOGIN_FREE_FAILURES": ("LOGIN_FREE_FAILURES", int),
    "REGISTRATION_RATE_LIMIT_PER_IP": ("REGISTRATION_RATE_LIMIT_PER_IP", str),
    "REGISTRATION_RATE_LIMIT_PER_EMAIL": ("REGISTRATION_RATE_LIMIT_PER_EMAIL", str),
    "PASSWORD_RESET_RATE_LIMIT_PER_IP": ("PASSWORD_RESET_RATE_LIMIT_PER_IP", str),
    "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL": ("PASSWORD_RESET_RATE_LIMIT_PER_EMAIL", str),
    "REDIS_URL": ("REDIS_URL", str),
    "JOBS_QUEUE": ("JOBS_QUEUE", str),
    "TRUST_PROXY_HOPS": ("TRUST_PROXY_HOPS", int),
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
