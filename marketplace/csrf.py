"""CSRF tokens masked afresh in every response, against BREACH (checklist row 19, issue 12).

Flask-WTF's token is the same for a whole session (a signed copy of `session["csrf_token"]`, whose
first part never changes). Pages are compressed, and many reflect what a visitor typed (the search box,
form values): an attacker who can make the victim's browser load chosen URLs and can watch the size of
the compressed answers could learn such a secret character by character (BREACH). So pages never carry
the token as it is: each `csrf_token()` in a template gives `pad ‖ (pad XOR token)` with a fresh random
pad, URL-safe base64, as Django and Rails do. The same secret thus looks different in every response and
in every form of one response, and compression cannot match it against a guess. A posted token is
unmasked before Flask-WTF checks it as usual; a token sent as it is (never given out) is refused.

Pages stay compressed: masking is cheaper for everybody than sending every signed-in page (all of them
carry the language switch's and the logout's tokens) uncompressed. Anonymous pages switch language
with a link and hold no token (pagecache.py).
"""
import base64
import binascii
import secrets

from flask_wtf.csrf import CSRFProtect, generate_csrf


def mask(token):
    """`token` (ASCII) behind a fresh random pad of its length, as URL-safe base64 without padding."""
    raw = token.encode("ascii")
    pad = secrets.token_bytes(len(raw))
    return base64.urlsafe_b64encode(pad + bytes(p ^ r for p, r in zip(pad, raw, strict=True))).decode().rstrip("=")


def unmask(value):
    """The token behind a value made by `mask`, or None when the value is not one."""
    if not isinstance(value, str) or not value.isascii():
        return None
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    half = len(data) // 2
    if not data or len(data) % 2:
        return None
    token = bytes(p ^ m for p, m in zip(data[:half], data[half:], strict=True))
    return token.decode("ascii") if token.isascii() else None


def masked_csrf_token():
    """What templates print as `csrf_token()`: this request's token, masked anew on every call."""
    return mask(generate_csrf())


def unmasked_meta_tag(*_args, **_kwargs):
    """Flask-WTF's csrf_meta_tag() prints the token unmasked: write the tag with csrf_token() instead."""
    raise RuntimeError('write <meta name="csrf-token" content="{{ csrf_token() }}">: csrf_meta_tag() is unmasked')


class MaskedCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRFProtect, giving out masked tokens and unmasking what comes back.

    Flask-WTF forms rely on it: their own CSRF field is not rendered by our templates (they print
    `csrf_token()`), and they skip their check once this one has passed (`g.csrf_valid`).
    """

    def init_app(self, app):
        super().init_app(app)
        tokens = {"csrf_token": masked_csrf_token, "csrf_meta_tag": unmasked_meta_tag}
        app.jinja_env.globals.update(tokens)
        # Flask-WTF also adds its functions through a context processor; a later one wins.
        app.context_processor(lambda: tokens)

    def _get_csrf_token(self):
        sent = super()._get_csrf_token()
        return unmask(sent) if sent else None
