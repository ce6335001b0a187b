"""Languages (Vietnamese first, English second) and how numbers, money and dates are shown."""
from datetime import date

from flask import current_app, has_request_context, session
from flask_babel import format_currency, format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as lazy
from flask_login import current_user

__all__ = ["init_app", "lazy", "select_locale", "vnd", "short_date", "short_datetime"]


def select_locale():
    """An explicit choice (this session, then the user's saved one) wins; otherwise Vietnamese."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, mail rendered outside a request: force_locale decides
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def grouped(number):
    """A whole number with its digits grouped the Vietnamese way, in either language: 1234567 → "1.234.567"."""
    return f"{number:,}".replace(",", ".")


def vnd(amount):
    """Integer đồng as `1.500.000 ₫` (vi) or `₫1,500,000` (en). VND has no minor unit."""
    if amount is None:
        return ""
    return format_currency(int(amount), "VND", format_type="standard", currency_digits=True)


def short_date(value):
    """A day as `dd/MM/yyyy` in every language (Latin digits in both). A plain date is written directly: this
    filter runs several times per row of the logged-in lists, and Flask-Babel looks up the locale and the time
    zone on each call (issue 14); a datetime still goes through Flask-Babel, which moves it to the user's time
    zone first."""
    if not value:
        return ""
    if type(value) is date:
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    return format_date(value, "dd/MM/yyyy")


def short_datetime(value):
    return format_datetime(value, "dd/MM/yyyy HH:mm") if value else ""


def init_app(app, babel):
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(vnd=vnd, date=short_date, datetime=short_datetime)

    @app.context_processor
    def language_context():
        return {"current_locale": str(get_locale()), "languages": app.config["LANGUAGES"]}
