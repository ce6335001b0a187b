"""Emails to people. Sent after the database commit; a mail failure is logged, never undoes the change.

MAIL_BACKEND picks where mail goes: "smtp" (production), "console" (development: printed to the
log), "locmem" (tests: collected in flask_mailman's outbox).
"""
from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_mailman import EmailMessage


def send(to, subject, template, locale=None, **context):
    """Render templates/email/<template>.txt in the recipient's language and send it."""
    try:
        with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            body = render_template(f"email/{template}.txt", **context)
            message = EmailMessage(subject=str(subject), body=body, to=[to])
        message.send()
    except Exception:  # noqa: BLE001 — a mail outage must not turn a done action into an error page
        current_app.logger.exception("Could not send the %s email", template)


def link(endpoint, **values):
    """An absolute URL for an email, always built on PUBLIC_BASE_URL.

    Never on the request's Host header: a forged Host would otherwise put an attacker's domain
    in a password-reset link (reset-link poisoning).
    """
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"]):
        return url_for(endpoint, _external=True, **values)
