"""Languages: the catalogues are complete and in sync with the code; pages, emails, money and dates
follow the chosen language (Vietnamese by default, English on request)."""
import datetime
import re
import shlex
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_babel import force_locale

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.i18n import short_date, short_datetime, vnd
from tests.support import AuthActions

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "marketplace" / "translations"
LANGUAGES = ("vi", "en")

# Vietnamese strings that are rightly the same as the English msgid (loanwords, codes).
# Names and symbols that Vietnamese writes as English does (units, certification marks, placeholders only).
SAME_IN_VIETNAMESE = {
    "Email", "kg", "VietGAP", "GlobalG.A.P.", "HACCP", "ISO 22000", "%(file)s: %(problem)s", "%(price)s/%(unit)s",
    "Menu",  # the loanword Vietnamese sites use for the phone menu button
}

# Strings seen on the home page (templates/home.html): one per language.
HOME_VI = "Mua sản phẩm OCOP trực tiếp từ hợp tác xã Việt Nam"
HOME_EN = "Buy OCOP products directly from Vietnamese cooperatives"


def po_path(lang):
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def load_catalogue(lang):
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


# ---------------------------------------------------------------- catalogues


def entries(catalogue):
    return [m for m in catalogue if m.id]


def translations_of(message):
    return list(message.string) if message.pluralizable else [message.string]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_is_complete(lang):
    catalogue = load_catalogue(lang)
    assert entries(catalogue), f"{lang} catalogue is empty"
    untranslated = [m.id for m in entries(catalogue) if not all(translations_of(m))]
    fuzzy = [m.id for m in entries(catalogue) if m.fuzzy]
    assert not untranslated, f"{lang}: {len(untranslated)} untranslated: {untranslated}"
    assert not fuzzy, f"{lang}: {len(fuzzy)} fuzzy: {fuzzy}"
    assert not catalogue.fuzzy, f"{lang}: the catalogue header is marked fuzzy"


def test_vietnamese_has_one_plural_form():
    catalogue = load_catalogue("vi")
    assert catalogue.num_plurals == 1
    assert catalogue.plural_expr == "0"
    for message in entries(catalogue):
        if message.pluralizable:
            assert len(message.string) == 1, message.id


def test_vietnamese_is_not_a_copy_of_english():
    """A msgstr equal to its msgid in vi is almost always English pasted in by mistake."""
    copied = [
        m.id for m in entries(load_catalogue("vi"))
        if not m.pluralizable and m.string == m.id and m.id not in SAME_IN_VIETNAMESE
    ]
    assert not copied, f"vi entries still in English: {copied}"


def test_english_catalogue_says_what_the_code_says():
    for message in entries(load_catalogue("en")):
        assert translations_of(message) == (list(message.id) if message.pluralizable else [message.id])


def extraction_keywords():
    """Babel's default keywords plus the `-k` options of `make extract-messages`."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next((text for text in makefile.splitlines() if "pybabel" in text and " extract " in text), None)
    assert line, "Makefile has no `pybabel extract` command"
    words = shlex.split(line)
    extra = [words[i + 1] for i, word in enumerate(words[:-1]) if word == "-k"]
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(extra))
    return keywords


def extract_from_code():
    """{(msgid, context): "file:line"} for every message in the code, as `make extract-messages` sees it."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename="babel.cfg")
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=extraction_keywords()
    ):
        found.setdefault((message if isinstance(message, str) else tuple(message), context), f"{filename}:{lineno}")
    return found


def test_extraction_sees_every_call_style():
    """Guard the extraction settings: template macros use {% do %}, web.py uses i18n.lazy()."""
    found = {msgid if isinstance(msgid, str) else msgid[0]: where for (msgid, _), where in extract_from_code().items()}
    assert found.get("Pages", "").startswith("templates/_macros.html")  # needs jinja2.ext.do
    assert found.get("Please log in to see this page.", "").startswith("marketplace/web.py")  # i18n.lazy
    assert found.get("%(num)s organisation is waiting for verification.", "").startswith("templates/")  # ngettext


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_is_in_sync_with_the_code(lang):
    catalogue = load_catalogue(lang)
    missing = []
    for (msgid, context), where in sorted(extract_from_code().items(), key=lambda item: item[1]):
        singular = msgid if isinstance(msgid, str) else msgid[0]
        message = catalogue.get(singular, context=context)
        if message is None:
            missing.append(f"{where}: {singular!r}")
        elif not isinstance(msgid, str) and (not message.pluralizable or message.id[1] != msgid[1]):
            missing.append(f"{where}: {singular!r} (plural form differs: {msgid[1]!r})")
    assert not missing, (
        f"{len(missing)} message(s) in the code are not in the {lang} catalogue; "
        "run `make extract-messages` and translate them:\n" + "\n".join(missing)
    )


PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdifr%])")


def placeholders(text):
    return sorted(f"%({name})s" if name else f"%{kind}" for name, kind in PLACEHOLDER.findall(text) if kind != "%")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match(lang):
    wrong = []
    for message in entries(load_catalogue(lang)):
        # Plural translations must keep the plural msgid's placeholders (e.g. %(num)s).
        expected = placeholders(message.id[-1] if message.pluralizable else message.id)
        if message.pluralizable:
            assert placeholders(message.id[0]) == expected, f"msgid and msgid_plural differ: {message.id}"
        for text in translations_of(message):
            if placeholders(text) != expected:
                wrong.append(f"{message.id!r}: {text!r} has {placeholders(text)}, expected {expected}")
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------- pages


def page(response):
    return response.get_data(as_text=True)


def switch(client, lang, next_url="/"):
    return client.post("/language", data={"lang": lang, "next": next_url})


def test_home_is_vietnamese_by_default(client):
    html = page(client.get("/"))
    assert '<html lang="vi">' in html
    assert HOME_VI in html
    assert "Đăng nhập" in html
    assert HOME_EN not in html


def test_language_switch_and_back(client):
    response = switch(client, "en")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    html = page(client.get("/"))
    assert '<html lang="en">' in html
    assert HOME_EN in html and HOME_VI not in html
    # The way back is offered: a link on an anonymous page (no CSRF token: pagecache.py), which works.
    assert 'href="/language?lang=vi&amp;next=/"' in html and "Tiếng Việt" in html
    assert client.get("/language?lang=vi&next=/").headers["Location"] == "/"
    assert '<html lang="vi">' in page(client.get("/"))
    switch(client, "en")

    switch(client, "vi")
    html = page(client.get("/"))
    assert '<html lang="vi">' in html
    assert HOME_VI in html


def test_language_switch_returns_to_the_page(client):
    assert switch(client, "en", "/login").headers["Location"] == "/login"
    assert '<html lang="en">' in page(client.get("/login"))


def test_unknown_language_is_ignored(client):
    switch(client, "fr")
    assert '<html lang="vi">' in page(client.get("/"))


def test_logged_in_choice_is_saved_on_the_account(app, client, auth, cooperative_owner):
    assert cooperative_owner.locale in (None, "vi")
    assert auth.login(cooperative_owner.email).status_code == 302
    switch(client, "en")
    db.session.expire_all()
    assert db.session.get(User, cooperative_owner.id).locale == "en"

    # A new browser (no session language) gets the saved choice after logging in.
    other = app.test_client()
    assert '<html lang="vi">' in page(other.get("/"))
    assert AuthActions(other).login(cooperative_owner.email).status_code == 302
    html = page(other.get("/"))
    assert '<html lang="en">' in html and HOME_EN in html

    # This session's explicit choice wins over the saved one, and is saved in turn.
    switch(other, "vi")
    assert '<html lang="vi">' in page(other.get("/"))
    db.session.expire_all()
    assert db.session.get(User, cooperative_owner.id).locale == "vi"


def test_language_survives_login_and_logout(client, auth, cooperative_owner):
    switch(client, "en")
    auth.login(cooperative_owner.email)
    assert '<html lang="en">' in page(client.get("/"))
    auth.logout()
    html = page(client.get("/"))
    assert '<html lang="en">' in html
    assert "You are logged out." in html


# ---------------------------------------------------------------- formatting


def test_money_in_vietnamese(app):
    with app.test_request_context("/"):
        # Babel's vi pattern "#,##0 ¤" puts a NO-BREAK SPACE (U+00A0) between number and symbol, so the
        # amount never wraps away from "₫" on a narrow phone screen. A plain space would not match.
        assert vnd(1500000) == "1.500.000\u00a0₫"
        assert vnd(0) == "0\u00a0₫"
        assert vnd(None) == ""
        assert render_template_string("{{ 1500000 | vnd }}") == "1.500.000\u00a0₫"


def test_money_in_english(app):
    with app.test_request_context("/"), force_locale("en"):
        assert vnd(1500000) == "₫1,500,000"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_dates_are_day_month_year(app, lang):
    with app.test_request_context("/"), force_locale(lang):
        assert short_date(datetime.date(2025, 7, 1)) == "01/07/2025"
        assert short_date(None) == ""
        assert render_template_string("{{ d | date }}", d=datetime.date(2024, 12, 31)) == "31/12/2024"
        # Stored times are naive UTC; they are shown in Vietnam's time (UTC+7).
        assert short_datetime(datetime.datetime(2025, 7, 1, 1, 30)) == "01/07/2025 08:30"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_short_dates_written_directly_match_flask_babel(app, lang):
    """short_date writes a plain date itself (issue 14: it runs several times a row of the logged-in lists); it
    must say what Flask-Babel says, and a datetime must still be moved to Vietnam's day first."""
    from flask_babel import format_date

    with app.test_request_context("/"), force_locale(lang):
        for day in (datetime.date(2025, 1, 5), datetime.date(2026, 11, 29), datetime.date(999, 12, 31)):
            assert short_date(day) == format_date(day, "dd/MM/yyyy")
        assert short_date(datetime.datetime(2025, 6, 30, 20, 0)) == "01/07/2025"  # 03:00 on 1 July in Vietnam


# ---------------------------------------------------------------- errors and emails


def test_not_found_page_in_vietnamese(client):
    response = client.get("/khong-co-trang-nay")
    assert response.status_code == 404
    html = page(response)
    assert '<html lang="vi">' in html
    assert "Không tìm thấy trang" in html
    assert "Mã lỗi" in html and "Về trang chủ" in html


def test_not_found_page_in_english(client):
    switch(client, "en")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = page(response)
    assert '<html lang="en">' in html
    assert "Page not found" in html
    assert "Error code" in html and "Back to the home page" in html


@pytest.mark.parametrize(
    ("locale", "greeting", "line"),
    [
        (None, "Xin chào", "Có người đã yêu cầu đặt lại mật khẩu"),
        ("en", "Hello", "Someone asked to reset the password"),
    ],
)
def test_email_body_in_the_recipients_language(client, outbox, cooperative_owner, locale, greeting, line):
    cooperative_owner.locale = locale
    db.session.commit()
    client.post("/forgot-password", data={"email": cooperative_owner.email})
    assert len(outbox) == 1
    assert outbox[0].body.startswith(f"{greeting} {cooperative_owner.full_name},")
    assert line in outbox[0].body


def test_email_subject_in_the_recipients_language(client, outbox, cooperative_owner):
    cooperative_owner.locale = "en"
    db.session.commit()
    client.post("/forgot-password", data={"email": cooperative_owner.email})  # this session: Vietnamese
    assert outbox[0].subject == "Reset your Chợ HTX password"


def _sample_members():
    from marketplace.catalog.models import CatalogEventKind, ProductStatus

    return ProductStatus.DRAFT, CatalogEventKind.CREATED


LABELS_SAMPLE = _sample_members()


def test_every_member_of_a_labelled_enum_has_a_label_of_its_own(app):
    from marketplace.accounts.models import LABELS, EnumLabels

    classes = {enum_class for enum_class, _member in dict.keys(LABELS)}
    assert {enum_class.__name__ for enum_class in classes} >= {"ProductStatus", "CatalogEventKind", "AgreementState"}
    assert {(c.__name__, m.value) for c in classes for m in c if m not in LABELS} == set()
    with pytest.raises(TypeError):  # a literal mixing enums would lose equal members silently: refused
        EnumLabels().update({LABELS_SAMPLE[0]: "a", LABELS_SAMPLE[1]: "b"})


def test_members_of_different_enums_with_the_same_value_keep_their_own_labels(app):
    from marketplace.accounts.models import OrganisationEventKind, label
    from marketplace.agreements.models import AgreementEventKind
    from marketplace.catalog.models import CatalogEventKind

    with force_locale("en"):
        labels = {str(label(kind.CREATED)) for kind in (OrganisationEventKind, CatalogEventKind, AgreementEventKind)
                  if hasattr(kind, "CREATED")}
        assert labels == {"Product created", "Created"}
        assert str(label(CatalogEventKind.CREATED)) == "Product created"


def test_one_field_has_one_vietnamese_name_in_the_forms_and_the_import_help():
    """Issue 13: the registration form's "Legal name" and the import help's cooperative_name are one field, so
    they share one Vietnamese term (it was "Tên chính thức" in one, "Tên pháp lý" in the other)."""
    from marketplace.catalog.transfer import COLUMN_HELP

    catalogue = load_catalogue("vi")
    help_text = dict((column, str(text._args[0])) for column, text, _example in COLUMN_HELP)["cooperative_name"]
    term, explained = catalogue.get("Legal name"), catalogue.get(help_text)
    if explained is None or not explained.string:
        pytest.skip("the import help's new wording is not translated yet")
    assert term.string.lower() in explained.string.lower(), (term.string, explained.string)
