"""BREACH (issue 12): no compressed response carries a secret beside what a visitor typed.

Every signed-in page carries CSRF tokens (the language switch and logging out are forms), pages are
compressed, and the search page reflects its query. Flask-WTF's token is the same for the whole session; marketplace/csrf.py gives
it out masked with a fresh random pad each time, so no response ever holds the session's secret.
"""
import gzip
import re

import pytest
from itsdangerous import URLSafeTimedSerializer

from marketplace import csrf
from marketplace.extensions import db
from tests import factories
from tests.support import csrf_token_from, login_with_form

TOKENS = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def csrf_app(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()


def session_secrets(app, client):
    """The session's raw CSRF secret and the unchanging first part of its signed form."""
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    signed = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
    return raw, signed.split(".")[0]


def compressed_page(client, path):
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == "gzip", "pages are still compressed"
    return gzip.decompress(response.get_data()).decode()


def test_mask_and_unmask():
    token = "ImFiYyI.aBcD.e-F_g"
    masked = {csrf.mask(token) for _ in range(20)}
    assert len(masked) == 20
    assert all(csrf.unmask(m) == token and token not in m for m in masked)
    for value in ("", "abc", "ñ", "%%%", None, csrf.mask(token)[:-2], "AAAA"):
        assert csrf.unmask(value) != token


def test_a_compressed_page_reflecting_input_never_holds_the_session_secret(csrf_app, cooperative_owner):
    client = csrf_app.test_client()
    login_with_form(client, cooperative_owner.email)
    client.get("/account")
    raw, signed_payload = session_secrets(csrf_app, client)
    seen = set()
    for guess in ("a", raw[:8], signed_payload[:12]):
        page = compressed_page(client, f"/search?q={guess}")
        assert guess in page  # the query is reflected, as BREACH needs
        tokens = TOKENS.findall(page)
        assert len(tokens) >= 2  # the logout and language forms
        assert raw not in page and signed_payload not in page
        seen.update(tokens)
    assert len(seen) == len(tokens) * 3, "every token on every page is masked afresh"


def test_masked_tokens_are_accepted_and_unmasked_ones_refused(csrf_app, cooperative_owner):
    client = csrf_app.test_client()
    login_with_form(client, cooperative_owner.email)
    first, second = (csrf_token_from(client.get("/account").get_data(as_text=True)) for _ in range(2))
    assert first != second
    assert client.post("/language", data={"lang": "en", "csrf_token": first}).status_code == 302
    assert client.post("/language", data={"lang": "vi", "csrf_token": second}).status_code == 302
    # The token as Flask-WTF signs it is never given out, so it is not accepted either.
    assert client.post("/language", data={"lang": "en", "csrf_token": csrf.unmask(first)}).status_code == 400
    assert client.post("/language", data={"lang": "en", "csrf_token": first[:-4] + "AAAA"}).status_code == 400


def test_the_header_token_is_masked_too(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/language", data={"lang": "en"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302


def test_forms_still_work_end_to_end_with_masked_tokens(csrf_app, cooperative_owner):
    client = csrf_app.test_client()
    assert login_with_form(client, cooperative_owner.email).status_code == 302
    page = client.get("/account").get_data(as_text=True)
    response = client.post("/account/tokens", data={"name": "ERP", "csrf_token": csrf_token_from(page)})
    assert response.status_code == 200 and "cht_" in response.get_data(as_text=True)
    assert factories.PASSWORD not in response.get_data(as_text=True)
