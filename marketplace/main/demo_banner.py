"""The demo banner ("Demo data: ...") that demo organisations' people see under the header, until they hide it.

Hiding is remembered by this browser for a year in a cookie (no account setting: the banner is a note about
the demo site, and a person trying it on a phone and a desktop may want to see it once on each)."""
from datetime import timedelta

from flask import current_app, request
from flask_login import current_user

COOKIE = "demo_banner"
HIDDEN = "hidden"
REMEMBERED_FOR = timedelta(days=365)


def banner_shown():
    """True when the signed-in person belongs to a demo organisation and has not hidden the banner here."""
    return (current_user.is_authenticated and current_user.organisation.is_demo
            and request.cookies.get(COOKIE) != HIDDEN)


def remember_hidden(response):
    response.set_cookie(COOKIE, HIDDEN, max_age=int(REMEMBERED_FOR.total_seconds()), path="/",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
    return response
