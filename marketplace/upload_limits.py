"""Rate limits on uploads, shared by the views of every area that takes a file.

An upload is bounded in what it costs (catalog/spreadsheet.py, catalog/images.py: about a second of
CPU at worst); these limits bound how often it can be paid. Every POST carrying a file to a route
decorated with `upload_limits` counts against two shared budgets, whatever the route: one per person
(UPLOAD_RATE_LIMIT_PER_USER) and one per organisation (UPLOAD_RATE_LIMIT_PER_ORGANISATION), so more
accounts in one cooperative do not multiply its allowance. Refused uploads count too: a refusal costs
work, and the probe of issue 12 repeated one without limit. A POST without a file (a certificate
entered without its scan) does not count, except on routes that redo an upload's work without a file
(`redoes_upload_work`: the confirmation of an import tries the previewed rows again). The counters live
in RATELIMIT_STORAGE_URI: Redis in production, so every worker and host counts into the same budget.
"""
from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.extensions import limiter


def _user_key():
    return f"upload-user:{current_user.get_id()}"


def _organisation_key():
    return f"upload-organisation:{current_user.organisation_id}"


def _not_an_upload():
    """Anonymous requests go on to the login page; a POST without a file is no upload."""
    if not current_user.is_authenticated:
        return True
    return not any(upload.filename for _name, upload in request.files.items(multi=True))


def _anonymous():
    """Anonymous requests go on to the login page."""
    return not current_user.is_authenticated


def _user_message():
    return _("You have sent too many files in a short time. Please wait a few minutes and try again.")


def _organisation_message():
    return _("Your organisation has sent too many files in the last hour. Please try again later.")


def upload_limits(view, exempt_when=_not_an_upload):
    """Count the POSTs of `view` that carry a file against the person's and the organisation's budgets
    (429 with a message saying which, on pages and in the API)."""
    view = limiter.shared_limit(
        lambda: current_app.config["UPLOAD_RATE_LIMIT_PER_ORGANISATION"], scope="uploads-per-organisation",
        key_func=_organisation_key, methods=["POST"], exempt_when=exempt_when,
        error_message=_organisation_message)(view)
    return limiter.shared_limit(
        lambda: current_app.config["UPLOAD_RATE_LIMIT_PER_USER"], scope="uploads-per-user",
        key_func=_user_key, methods=["POST"], exempt_when=exempt_when, error_message=_user_message)(view)


def redoes_upload_work(view):
    """Count every POST of `view` as an upload: it carries no file but costs what one did (an import's
    confirmation tries the previewed rows again, and a confirmation that imports nothing keeps the
    preview, so it could be repeated without end)."""
    return upload_limits(view, exempt_when=_anonymous)
