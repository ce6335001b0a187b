"""Domain errors with stable codes, and their translation to HTTP for pages and the API."""
from flask import g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError


class DomainError(Exception):
    """A rule was broken. `code` is stable (API clients match on it); `message` is for people."""

    status = 400
    code = "invalid"

    def __init__(self, message, code=None, field=None):
        super().__init__(message)  # kept lazy: translated when shown, in the reader's language
        self.message = message
        self.field = field
        if code:
            self.code = code


class ValidationFailed(DomainError):
    """Bad input. `errors` maps field names to messages so forms can show each next to its field."""

    status = 422
    code = "validation_failed"

    def __init__(self, message, code=None, field=None, errors=None):
        super().__init__(message, code, field)
        self.errors = dict(errors or ({field: message} if field else {}))

    @classmethod
    def for_fields(cls, errors):
        return cls(_l("Please correct the marked fields."), errors=errors)


class InvalidParameter(ValidationFailed):
    """A query parameter is unknown, malformed or out of range; `errors` names each one (the API's 400
    `invalid_parameter`, whose allowed values the OpenAPI document states). Read whole numbers with
    `marketplace.querystring.whole_number_arg`."""

    status = 400
    code = "invalid_parameter"

    @classmethod
    def for_parameters(cls, errors):
        return cls(_l("Some query parameters are not valid."), errors=errors)


class NotFound(DomainError):
    """Also raised for objects that exist but are not the caller's: no enumeration across tenants."""

    status = 404
    code = "not_found"

    def __init__(self, message=None, code=None):
        super().__init__(message or _l("Not found."), code)


class LinkUnusable(NotFound):
    """An emailed link (password reset, registration) that cannot be used: `reason` is "used", "expired" or
    "unknown". Used and expired links answer 410 Gone (the link existed and will never work again), unknown ones
    404; the accounts pages show which, and offer a new link, instead of the generic error page."""

    def __init__(self, message, kind, reason):
        super().__init__(message, code=f"link_{reason}")
        self.kind, self.reason = kind, reason
        self.status = 404 if reason == "unknown" else 410


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


ERROR_TITLES = {
    400: _l("Bad request"),
    401: _l("Please log in"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("File too large"),
    422: _l("Invalid data"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
}
ERROR_EXPLANATIONS = {
    400: _l("The request could not be understood. If you submitted a form, reload the page and try again."),
    401: _l("You need to log in to continue."),
    403: _l("Your account is not allowed to do this."),
    404: _l("The page you asked for does not exist or is not available to you."),
    405: _l("This address does not accept that kind of request."),
    413: _l("The file you sent is larger than 5 MB."),
    422: _l("Some of the data you sent is not valid."),
    429: _l("You have made too many attempts. Please wait a few minutes and try again."),
    500: _l("An unexpected error happened on our side. It has been logged; please try again later."),
}


def wants_json():
    return request.path.startswith("/api/")


def error_response(status, code, message, details=None, explanation=None):
    """The JSON error of the API, or the error page (`explanation` replaces the status's usual one)."""
    if wants_json():
        body = {"error": {"code": code, "message": str(message)}}
        if details:
            body["error"]["details"] = details
        return jsonify(body), status
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=ERROR_TITLES.get(status, ERROR_TITLES[500]),
            explanation=explanation or ERROR_EXPLANATIONS.get(status, ERROR_EXPLANATIONS[500]),
        ),
        status,
    )


def register_error_handlers(app):
    @app.errorhandler(DomainError)
    def handle_domain_error(error):
        if getattr(error, "retry_after", None):  # a throttle's refusal (429) says when to try again
            g.retry_after = error.retry_after
        fields = {k: str(v) for k, v in getattr(error, "errors", {}).items()}
        return error_response(error.status, error.code, error.message, {"fields": fields} if fields else None)

    @app.errorhandler(HTTPException)
    def handle_http_error(error):
        if error.code == 500:
            return handle_unexpected(error)
        code = (error.name or "error").lower().replace(" ", "_")
        # A rate limit with a message of its own (uploads) says it on the page too, not only in the API.
        limit = getattr(error, "limit", None)
        explanation = error.description if getattr(limit, "error_message", None) else None
        response, status = error_response(error.code or 500, code, error.description or error.name,
                                          explanation=explanation)
        response = app.make_response(response)
        # Keep what the exception says about itself, e.g. `Allow` on 405 (RFC 9110 section 15.5.6).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    # Flask turns an unhandled exception into InternalServerError (and lets it propagate in
    # tests, which is what we want there); the original is logged, never shown.
    @app.errorhandler(InternalServerError)
    def handle_unexpected(error):
        return error_response(500, "internal_error", ERROR_EXPLANATIONS[500])
