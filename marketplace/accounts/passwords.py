"""Password policy (ASVS 2.1) and hashing (Argon2id, ASVS 2.4)."""
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn

from marketplace.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 256  # long passphrases welcome; the cap only stops hashing megabytes
# zxcvbn score 0-1 means "guessable within a million tries": common and breached passwords,
# keyboard walks, sequences, repeats. It is a strength check, not a composition rule.
MIN_ZXCVBN_SCORE = 2


def normalise(password):
    # NFC so a password typed on a phone (often decomposed) matches the one typed on a PC.
    return unicodedata.normalize("NFC", password)


def check_policy(password, personal_words=()):
    """Raise ValidationFailed(field="password") when the password is too short, too long or too guessable."""
    password = normalise(password or "")
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(_l("Use at least %(n)s characters.", n=MIN_LENGTH), field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(_l("Use at most %(n)s characters.", n=MAX_LENGTH), field="password")
    words = [w for w in personal_words if w]
    # zxcvbn raises ValueError above 72 characters; the first 72 bound the whole password's strength.
    if zxcvbn(password[:72], user_inputs=words)["score"] < MIN_ZXCVBN_SCORE:
        raise ValidationFailed(
            _l("This password is too common or too easy to guess. A few unrelated words make a strong one."),
            field="password",
        )


def _hasher():
    config = current_app.config
    return PasswordHasher(
        time_cost=config["PASSWORD_HASH_TIME_COST"],
        memory_cost=config["PASSWORD_HASH_MEMORY_COST"],
        parallelism=config["PASSWORD_HASH_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password):
    return _hasher().hash(normalise(password))


def verify_password(password_hash, password):
    try:
        return _hasher().verify(password_hash, normalise(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return _hasher().check_needs_rehash(password_hash)


def burn_time(password):
    """Spend the time a real verification would, so unknown emails cannot be told apart by timing."""
    verify_password(_dummy_hash(), password)


_DUMMY = {}


def _dummy_hash():
    key = (current_app.config["PASSWORD_HASH_TIME_COST"], current_app.config["PASSWORD_HASH_MEMORY_COST"])
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not a real password, only for timing")
    return _DUMMY[key]
