"""Random secrets for sessions, API tokens, invitations and resets: only hashes are stored."""
import hashlib
import hmac
import secrets


def new_secret(prefix=""):
    """A URL-safe secret with 256 bits of entropy."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret):
    # SHA-256 suffices for high-entropy secrets (no brute force possible), and allows lookup by value.
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a, b):
    return hmac.compare_digest(a, b)
