"""JSON API /api/v1: bearer-token authentication, delegating to the same services as the pages."""
from functools import wraps

from flask import Blueprint, g, request
from flask_babel import lazy_gettext as _l

from marketplace.accounts import services as accounts
from marketplace.errors import DomainError, error_response

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


def token_required(view):
    """Authenticate with `Authorization: Bearer <token>` only; cookies are never accepted here."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        user = accounts.user_for_api_token(secret.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise Unauthenticated(_l("Send a valid API token as `Authorization: Bearer <token>`."))
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


@blueprint.errorhandler(Unauthenticated)
def unauthenticated(error):
    # RFC 6750 section 3: a 401 names the scheme the client should use.
    response, status = error_response(error.status, error.code, error.message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response, status


@blueprint.after_request
def no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# The routes register on the blueprint when their modules are imported, after it exists.
from marketplace.api import agreements, alliance, catalog, endpoints, orders, search  # noqa: E402,F401,I001
