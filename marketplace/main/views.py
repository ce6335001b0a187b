"""Public pages: home, language switch, health."""
from flask import Blueprint, current_app, redirect, render_template, request, session
from flask_login import current_user

from marketplace.accounts import services as accounts
from marketplace.safety import safe_next_url

blueprint = Blueprint("main", __name__)


@blueprint.get("/")
def home():
    return render_template("home.html")


@blueprint.post("/language")
def set_language():
    """Switch language (a plain form: works without JavaScript); remembered on the account too."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            accounts.set_locale(current_user, lang)
    return redirect(safe_next_url(request.form.get("next")))


@blueprint.get("/healthz")
def health():
    return {"status": "ok"}
