"""Emails to people, as outbox messages: written in the unit of work of the change they announce, sent
after its commit (in-process, or by a job queue worker), retried when the mail server fails.

The email is rendered when it is written, in the recipient's language, so what is sent is what the
change said, even if the data changes before a worker sends it. MAIL_BACKEND picks where mail goes:
"smtp" (production), "console" (development: printed to standard output, readable: see ConsoleEmailBackend),
"locmem" (tests: collected in flask_mailman's outbox).
"""
from email.header import decode_header, make_header

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_mailman import EmailMessage
from flask_mailman.backends import console

from marketplace.jobs import outbox


def send(to, subject, template, locale=None, **context):
    """Render templates/email/<template>.txt in the recipient's language and queue it in the outbox.

    Must run inside the unit of work of the change it announces (raises RuntimeError otherwise).
    """
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        body = render_template(f"email/{template}.txt", **context)
        subject = str(subject)
    return outbox.add("email", {"to": to, "subject": subject, "body": body, "template": template})


@outbox.register("email")
def deliver(payload):
    """Send one rendered email (raises when the mail server fails: the outbox retries)."""
    EmailMessage(subject=payload["subject"], body=payload["body"], to=[payload["to"]]).send()


def link(endpoint, **values):
    """An absolute URL for an email, always built on PUBLIC_BASE_URL.

    Never on the request's Host header: a forged Host would otherwise put an attacker's domain
    in a password-reset link (reset-link poisoning).
    """
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


class ConsoleEmailBackend(console.EmailBackend):
    """flask_mailman's console backend, readable: headers decoded (a Vietnamese subject is MIME-encoded,
    "=?utf-8?b?...", on the wire) and text bodies decoded from base64 or quoted-printable."""

    def write_message(self, message):
        msg = message.message()
        lines = [f"{name}: {make_header(decode_header(value))}" for name, value in msg.items()
                 if name.lower() not in {"content-transfer-encoding", "mime-version"}]
        for part in msg.walk():
            if part.is_multipart():
                continue
            if part.get_content_maintype() == "text" and part.get_filename() is None:
                text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8", "replace")
                lines += ["", text.rstrip("\n")]
            else:
                lines += ["", f"[attachment: {part.get_filename() or part.get_content_type()}]"]
        self.stream.write("\n".join(lines) + "\n" + "-" * 79 + "\n")


def init_app(app):
    """MAIL_BACKEND "console" means the readable console backend above."""
    if app.config.get("MAIL_BACKEND") == "console":
        app.extensions["mailman"].backend = ConsoleEmailBackend
