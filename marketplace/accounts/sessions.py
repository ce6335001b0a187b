"""Server-side login sessions: real logout, idle timeout, absolute lifetime, re-authentication."""
from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import joinedload

from marketplace.accounts import tokens
from marketplace.accounts.models import AuthSession, User
from marketplace.extensions import db
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

# Writing last_seen on every request would turn each page view into a write; a minute is precise enough.
TOUCH_INTERVAL = timedelta(minutes=1)
REAUTH_WINDOW = timedelta(minutes=5)


@unit_of_work()
def start(user, ip_address="", user_agent=""):
    """Open a session for a user who just proved their password; returns the secret for the cookie."""
    secret = tokens.new_secret()
    db.session.add(
        AuthSession(
            user=user,
            token_hash=tokens.digest(secret),
            ip_address=(ip_address or "")[:45],
            user_agent=(user_agent or "")[:255],
        )
    )
    user.last_login_at = utcnow()
    return secret


def resolve(secret, user_id):
    """The live AuthSession for this cookie secret and user, or None (unknown, revoked, idle, too old).

    Runs on every request: it writes (in a unit of work of its own) only when the session expires or
    is touched, at most once a minute.
    """
    if not secret or not user_id:
        return None
    # The user and the organisation come with the session, in one statement: every signed-in page uses both.
    record = db.session.scalar(db.select(AuthSession).filter_by(token_hash=tokens.digest(secret)).options(
        joinedload(AuthSession.user).joinedload(User.organisation)))
    if record is None or record.revoked_at is not None or str(record.user_id) != str(user_id):
        return None
    now = utcnow()
    config = current_app.config
    expired = (
        now - record.last_seen_at > config["SESSION_IDLE_TIMEOUT"]
        or now - record.created_at > config["PERMANENT_SESSION_LIFETIME"]
        or not record.user.is_active
    )
    if expired:
        with unit_of_work():
            record.revoked_at = now
        return None
    if now - record.last_seen_at > TOUCH_INTERVAL:
        with unit_of_work():
            record.last_seen_at = now
    return record


@unit_of_work()
def end(secret):
    """Revoke the session behind this cookie secret (logout)."""
    if not secret:
        return
    record = db.session.scalar(db.select(AuthSession).filter_by(token_hash=tokens.digest(secret)))
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()


def end_all_for(user, keep_secret=None):
    """Revoke every session of a user (password change or reset, removal), optionally keeping one."""
    keep = tokens.digest(keep_secret) if keep_secret else None
    for record in db.session.scalars(db.select(AuthSession).filter_by(user_id=user.id, revoked_at=None)):
        if record.token_hash != keep:
            record.revoked_at = utcnow()


@unit_of_work()
def mark_reauthenticated(record):
    record.reauthenticated_at = utcnow()


def recently_authenticated(record):
    """True when the password was entered within the last five minutes (ASVS 3.7.1)."""
    return record is not None and utcnow() - record.reauthenticated_at <= REAUTH_WINDOW
