"""Wiring of extensions, security, i18n and blueprints (called once by create_app)."""
from pathlib import Path

from flask import g, request, session
from flask_login import current_user, user_unauthorized
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace import database, errors, i18n, logging_setup, notifications, pagecache, routing, textinput
from marketplace.extensions import babel, bootstrap, compress, csrf, db, limiter, login_manager, mail, migrate, talisman

# Only our own files and Stripe.js (issue: payments) may run scripts; no inline script or style.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": ["'self'", "https://js.stripe.com"],
    "frame-src": ["'self'", "https://js.stripe.com"],
    "img-src": ["'self'", "data:"],
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def init_web(app):
    logging_setup.init_app(app)  # request ids and access lines; before ProxyFix, which then wraps it
    if app.config["TRUST_PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUST_PROXY_HOPS"], x_proto=1)
    Path(app.config["UPLOAD_DIR"]).mkdir(parents=True, exist_ok=True)
    app.config.setdefault("MAIL_BACKEND", "console")
    db.init_app(app)
    database.init_app(app)  # SQLite: busy timeout, WAL
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    pagecache.init_app(app)  # after csrf: a page rendered for the cache holds a placeholder, not a token
    textinput.init_app(app)  # after the CSRF check: a forged POST is refused as such first
    _init_retry_after(app)  # before the limiter: after-request hooks run in reverse, so this one sees its headers
    limiter.init_app(app)
    mail.init_app(app)
    notifications.init_app(app)  # "console" prints readable mail (decoded subjects)
    bootstrap.init_app(app)
    compress.init_app(app)
    _init_file_compression(app)
    _init_security_headers(app)
    _init_login(app)
    _init_private_caching(app)
    i18n.init_app(app, babel)
    _init_templates(app)
    errors.register_error_handlers(app)
    routing.init_app(app)  # before the blueprints: their rules use <id:...>
    _register_blueprints(app)
    _register_commands(app)
    _import_models()
    _init_side_effects()


def _init_retry_after(app):
    """Retry-After says when this client may try again, and only on a 429.

    Flask-Limiter (with its headers on) writes Retry-After on every answer of a limited route, as the
    later of any Retry-After already there and the reset of the route's own limit: the login's 1-second
    wait for one (account, address) became the per-address minute's reset, and a 401 or a redirect
    carried a Retry-After too. A response that set its own (the login throttle, through `g.retry_after`)
    keeps it; Flask-Limiter's own 429s keep theirs.
    """

    @app.after_request
    def retry_after(response):
        wait = g.get("retry_after")
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        elif response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response


def _init_file_compression(app):
    """Read static text files (CSS, JS) whole before Flask-Compress sees them.

    Flask-Compress compresses a streamed file chunk by chunk and drops the file's close(), leaking one
    open file per request (a ResourceWarning). After-request hooks run in reverse order, so this one,
    registered after Flask-Compress, runs before it: Compress then gets bytes, compresses them whole
    and sends a Content-Length. Product photos (image/webp) are not compressed and keep streaming.
    """
    compressible = set(app.config["COMPRESS_MIMETYPES"])

    @app.after_request
    def read_text_files(response):
        if response.direct_passthrough and response.status_code == 200 and response.mimetype in compressible:
            close = getattr(response.response, "close", None)
            body = b"".join(response.iter_encoded())
            if close is not None:
                close()
            response.direct_passthrough = False
            response.set_data(body)
        return response


def allow_on_this_page(directive, *sources):
    """Add `sources` to one directive of this response's CSP, for a page that needs more than every page
    gets (the card payment page: Stripe's API and its 3-D Secure frames). Other pages keep the strict one."""
    g.setdefault("csp_additions", {}).setdefault(directive, []).extend(sources)


def _add_page_sources(response):
    additions = g.get("csp_additions")
    header = response.headers.get("Content-Security-Policy")
    if not additions or not header:
        return response
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    for directive, sources in additions.items():
        # A directive the policy leaves out falls back to default-src: start from it, not from nothing.
        current = directives.setdefault(directive, list(directives.get("default-src", [])))
        current.extend(source for source in sources if source not in current)
    response.headers["Content-Security-Policy"] = "; ".join(" ".join([name, *values])
                                                            for name, values in directives.items())
    return response


def _init_security_headers(app):
    https = app.config["HTTPS"]
    # Registered before Talisman's own hook, so it runs after it (Flask runs after-request hooks in reverse
    # order) and extends the policy Talisman has just written.
    app.after_request(_add_page_sources)
    talisman.init_app(
        app,
        force_https=https,
        strict_transport_security=https,
        strict_transport_security_max_age=31536000,
        strict_transport_security_include_subdomains=True,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        permissions_policy={"camera": "()", "microphone": "()", "geolocation": "()"},
    )

    @app.after_request
    def hide_server_banner(response):
        response.headers["Server"] = "Cho HTX"
        return response


def _init_login(app):
    from marketplace.accounts import sessions

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = i18n.lazy("Please log in to see this page.")
    login_manager.login_message_category = "info"
    # Anti-fixation and revocation are handled by our server-side sessions; Flask-Login's
    # "strong" protection would log people out when a phone changes network.
    login_manager.session_protection = None

    @login_manager.user_loader
    def load_user(user_id):
        record = sessions.resolve(session.get("auth"), user_id)
        if record is None:
            session.pop("auth", None)
            return None
        g.auth_session = record
        return record.user


# Files that are the same for everyone, whoever asks; their caching is decided by send_file.
SHARED_FILE_ENDPOINTS = {"static", "bootstrap.static"}


def _init_private_caching(app):
    """`Cache-Control: no-store` on every response to a signed-in person, and on every turn-away from a
    page behind a login (checklist row 41, ASVS 8.2.1).

    A signed-in person's page names them and their organisation (the header, the account, members and
    workspace pages), so no browser or proxy cache may keep it: the next person at a shared computer
    must not find it with the Back button. Responses that declare themselves `public` (product photos,
    QR codes, search suggestions) are the same for everyone and keep their caching, as do static files.
    Pages behind a login are found by Flask-Login's `user_unauthorized` signal, so a blueprint that
    checks the login in a before_request hook (the alliance's) is covered like a decorated view.
    """

    user_unauthorized.connect(_mark_private)  # connecting the same receiver again is a no-op

    @app.after_request
    def private_pages_are_not_stored(response):
        # Decided already: public answers, static files, and the API's own no-store (which spares the
        # API's calls from a signed-in browser, such as the commune lists, a session lookup here).
        decided = response.cache_control.public or response.cache_control.no_store
        if decided or request.endpoint in SHARED_FILE_ENDPOINTS:
            return response
        if g.get("private_page") or current_user.is_authenticated:
            response.cache_control.no_store = True
        return response


def _mark_private(_app, **_extra):
    g.private_page = True


def _init_templates(app):
    from marketplace.accounts.models import label
    from marketplace.catalog.models import quantity_in_unit

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["label"] = label
    app.jinja_env.globals["quantity_in_unit"] = quantity_in_unit  # "100 fruits": the unit agrees with the number


def _register_blueprints(app):
    from marketplace.accounts.views import blueprint as accounts
    from marketplace.agreements.views import blueprint as agreements
    from marketplace.alliance.followup_views import blueprint as followup
    from marketplace.alliance.views import blueprint as alliance
    from marketplace.api import blueprint as api
    from marketplace.catalog.views import blueprint as catalog
    from marketplace.inquiries.views import blueprint as inquiries
    from marketplace.main.views import blueprint as main
    from marketplace.notices.views import blueprint as notices
    from marketplace.orders.views import blueprint as orders
    from marketplace.payments.views import blueprint as payments
    from marketplace.payments.webhooks import blueprint as stripe_webhook
    from marketplace.search.views import blueprint as search

    app.register_blueprint(main)
    app.register_blueprint(accounts)
    app.register_blueprint(alliance)
    app.register_blueprint(catalog)
    app.register_blueprint(search)
    app.register_blueprint(agreements)
    app.register_blueprint(followup)
    app.register_blueprint(notices)
    app.register_blueprint(inquiries)
    app.register_blueprint(orders)
    app.register_blueprint(payments)
    app.register_blueprint(stripe_webhook)
    app.register_blueprint(api)
    csrf.exempt(api)  # the API authenticates by bearer token only, never by cookie


def _register_commands(app):
    from marketplace.cli import register_commands

    register_commands(app)


def _import_models():
    # Every model module, so Alembic's autogenerate and db.create_all() see all tables.
    import marketplace.accounts.models  # noqa: F401
    import marketplace.agreements.models  # noqa: F401
    import marketplace.agreements.signing_models  # noqa: F401
    import marketplace.alliance.followup_models  # noqa: F401
    import marketplace.alliance.tracking_models  # noqa: F401
    import marketplace.catalog.models  # noqa: F401
    import marketplace.inquiries.models  # noqa: F401
    import marketplace.jobs.models  # noqa: F401
    import marketplace.notices.models  # noqa: F401
    import marketplace.orders.models  # noqa: F401
    import marketplace.payments.models  # noqa: F401
    import marketplace.search.models  # noqa: F401
    import marketplace.versions  # noqa: F401


def _init_side_effects():
    # Outbox rows are dispatched after the commit that wrote them; the handlers register on import.
    from marketplace import notifications, versions  # noqa: F401
    from marketplace.alliance import progress_cache
    from marketplace.jobs import outbox
    from marketplace.orders import agreement_totals

    outbox.install()
    agreement_totals.install()
    progress_cache.install()
    # Last: the versions are bumped after the other listeners' before-commit work has noted its changes.
    versions.install()
