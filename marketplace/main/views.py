"""Public pages: home, language switch, hiding the demo banner, health; and each role's own home (/home), where
login lands."""
from flask import Blueprint, current_app, redirect, render_template, request, session
from flask_login import current_user, login_required

from marketplace import health as health_checks
from marketplace.accounts import services as accounts
from marketplace.catalog import queries
from marketplace.extensions import talisman
from marketplace.main import demo_banner, homes
from marketplace.pagecache import cached_page
from marketplace.safety import safe_next_url

blueprint = Blueprint("main", __name__)

LATEST_PRODUCTS = 6  # the "latest products" strip of the home page


@blueprint.get("/")
@cached_page
def home():
    latest = queries.public_products(queries.CatalogQuery(per_page=LATEST_PRODUCTS), count=False).items  # no pager
    return render_template("home.html", latest_products=latest)


@blueprint.get("/home")
@login_required
def my_home():
    """The logged-in user's home: the work waiting for its organisation, by role (homes.py)."""
    home = homes.home_for(current_user)
    return render_template(f"homes/{home.kind.value}.html", home=home, **home.parts)


@blueprint.get("/language")
def choose_language():
    """Switch language by a link, for visitors who are not logged in: for this browser's session only.

    Anonymous pages offer this link rather than the form, so that they hold no CSRF token and shared caches
    may keep them (pagecache.py). A link is enough for a setting that only changes how this browser's pages
    read, and another site linking here can do no more than that (SameSite=Lax sends the session on such a
    link, which keeps what it holds). A signed-in person switches with the form, checked for CSRF, which
    also saves the choice on the account: for them the link changes nothing."""
    lang = request.args.get("lang", "")
    if lang in current_app.config["LANGUAGES"] and not current_user.is_authenticated:
        session["lang"] = lang
    response = redirect(safe_next_url(request.args.get("next")))
    response.cache_control.no_store = True
    return response


@blueprint.post("/language")
def set_language():
    """Switch language (a plain form: works without JavaScript); remembered on the account too."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            accounts.set_locale(current_user, lang)
    return redirect(safe_next_url(request.form.get("next")))


@blueprint.post("/demo-banner/hide")
def hide_demo_banner():
    """Hide the demo banner in this browser (a plain form: works without JavaScript), back to the page."""
    return demo_banner.remember_hidden(redirect(safe_next_url(request.form.get("next"))))


@blueprint.app_template_global()
def demo_banner_shown():
    return demo_banner.banner_shown()


@blueprint.get("/healthz")
@talisman(force_https=False)  # probes call the server directly, over plain HTTP on a private address
def health():
    """200 {"status": "ok", "checks": {...}} when the database, the search index and Redis (when
    configured) answer; 503 with "unavailable" next to each component that does not. Never a secret."""
    checks = health_checks.run(current_app)
    healthy = all(result == health_checks.OK for result in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return body, 200 if healthy else 503, {"Cache-Control": "no-store"}
