"""Text input is valid Unicode, stored in NFC, and names are visible (checklist row 40, issue 12).

A lone surrogate in a JSON body used to be a 500 (PostgreSQL and SQLite cannot store it), a raw invalid
byte in a query string too; an NFD name was stored as sent, so two products could look identical; a
name of zero-width spaces or direction marks alone was accepted.
"""
import json
import unicodedata

import pytest

from marketplace import textinput
from marketplace.accounts import services as accounts
from marketplace.accounts.models import ApiToken, Organisation, User
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Product
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from tests import factories
from tests.factories import product_form, valid_body
from tests.support import assert_json_error, bearer, token_for

NFD_NAME = unicodedata.normalize("NFD", "Miến dong Bình Liêu")  # "ế" as e + U+0302 + U+0301
NFC_NAME = unicodedata.normalize("NFC", NFD_NAME)
INVISIBLE_NAMES = ["\u200b", "\u200b\u200b\u200b", "\u200f", "\u200e\u200f", "\u200b \u200f", "\ufeff", "\u2060"]


def count(model):
    return db.session.scalar(db.select(db.func.count()).select_from(model))


@pytest.fixture
def headers(cooperative_owner):
    return bearer(token_for(cooperative_owner))


@pytest.fixture
def signed_in(client, cooperative_owner):
    client.post("/login", data={"email": cooperative_owner.email, "password": factories.PASSWORD})
    return client


# ---------------------------------------------------------------- valid Unicode

@pytest.mark.parametrize("body", [
    '{"name": "\\ud800"}', '{"name": "Na \\udfff dai"}', '{"description": "ok", "name_en": "\\udc80"}',
    '{"n\\ud800": "x"}', '{"tiers": [{"min_qty": "\\ud800"}]}',
])
def test_a_lone_surrogate_in_json_is_a_400_naming_the_field(client, headers, body):
    response = client.post("/api/v1/products", data=body, content_type="application/json", headers=headers)
    error = assert_json_error(response, 400, "invalid_text")
    assert len(error["details"]["fields"]) == 1
    assert count(Product) == 0


def test_the_surrogate_of_the_probe_is_named(client, headers):
    body = json.dumps(valid_body(name="\ud800"))  # json.dumps writes it as the escape "\ud800"
    assert "\\ud800" in body
    response = client.post("/api/v1/products", data=body, content_type="application/json", headers=headers)
    assert assert_json_error(response, 400, "invalid_text")["details"]["fields"] == {"name": textinput.NOT_TEXT}
    response = client.put("/api/v1/products/1", data=body, content_type="application/json", headers=headers)
    assert response.status_code in (400, 404)  # never a 500, whatever the id


@pytest.mark.parametrize("value", ["%ED%A0%80", "Na%ED%B0%80dai", "%FF", "%C3"])
def test_bytes_that_are_not_utf8_in_a_form_are_a_422_and_nothing_is_stored(signed_in, value):
    data = "&".join(f"{name}={value if name == 'name' else v}" for name, v in
                    [("name", ""), ("category", "fresh_produce"), ("unit", "kg"), ("base_price_vnd", "60000"),
                     ("min_order_qty", "100"), ("order_increment", "10")])
    response = signed_in.post("/products/new", data=data, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert count(Product) == 0


def test_a_raw_invalid_byte_in_a_form_body_is_a_422_not_an_empty_form(signed_in):
    response = signed_in.post("/products/new", data=b"name=Na\xffdai&unit=kg",
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert count(Product) == 0


def multipart(fields, boundary="chohtx-test-boundary"):
    """A multipart/form-data body written byte by byte (a test client would encode str values itself)."""
    parts = [b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
             + value + b"\r\n" for name, value in fields]
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("value", [b"Na\xffdai", b"\xed\xa0\x80", b"Na dai \xc3"])
def test_bytes_that_are_not_utf8_in_a_multipart_form_are_a_422_not_replaced(signed_in, value):
    """Werkzeug decoded them to U+FFFD, so "Na\ufffddai" was stored as if it had been typed."""
    fields = [(name, value if name == "name" else v.encode()) for name, values in product_form().items()
              for v in (values if isinstance(values, list) else [values])]
    body, content_type = multipart(fields)
    response = signed_in.post("/products/new", data=body, content_type=content_type)
    assert response.status_code == 422
    assert count(Product) == 0
    # Valid UTF-8 in the same shape goes through, in NFC.
    fields = [(name, NFD_NAME.encode() if name == "name" else v) for name, v in fields]
    body, content_type = multipart(fields)
    assert signed_in.post("/products/new", data=body, content_type=content_type).status_code == 302
    assert db.session.scalar(db.select(Product.name)) == NFC_NAME


def test_a_multipart_field_in_another_declared_charset_is_still_read(client):
    """A part may declare latin-1 (Werkzeug's short list): those bytes are valid text in that charset."""
    from flask import request

    boundary = "b"
    body = (b'--b\r\nContent-Disposition: form-data; name="q"\r\nContent-Type: text/plain; charset=iso-8859-1'
            b"\r\n\r\nCaf\xe9\r\n--b--\r\n")
    with client.application.test_request_context("/", method="POST", data=body,
                                                 content_type=f"multipart/form-data; boundary={boundary}"):
        assert request.form["q"] == "Café"


@pytest.mark.parametrize("path", ["/search?q=%ED%A0%80", "/products?q=%FF", "/api/v1/products?category=%ED%B0%80",
                                  "/api/v1/search?q=%C3"])
def test_bytes_that_are_not_utf8_in_a_query_string_are_a_400(client, path):
    response = client.get(path)
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert_json_error(response, 400, "invalid_text")


def test_a_raw_invalid_byte_in_a_query_string_is_a_400_not_a_500(client):
    response = client.get("/search", environ_overrides={"QUERY_STRING": "q=\xff"})
    assert response.status_code == 400
    # The language switch's way back (a link for visitors: GET /language?lang=..&next=..) keeps the byte escaped,
    # once as in the URL and once more as the value of `next`.
    assert "next=/search?q%3D%25FF" in response.get_data(as_text=True)


def test_valid_text_is_untouched(client, headers):
    assert client.get("/search?q=Mi%E1%BA%BFn%20dong").status_code == 200
    response = client.post("/api/v1/products", json=valid_body(name="Mật ong 🐝 Bắc Sơn"), headers=headers)
    assert response.status_code == 201
    assert db.session.scalar(db.select(Product.name)) == "Mật ong 🐝 Bắc Sơn"


# ---------------------------------------------------------------- NFC

def test_an_nfd_name_from_the_api_is_stored_in_nfc(client, headers):
    assert NFD_NAME != NFC_NAME
    response = client.post("/api/v1/products", json=valid_body(name=NFD_NAME), headers=headers)
    assert response.status_code == 201
    assert response.get_json()["name"] == NFC_NAME
    assert db.session.scalar(db.select(Product.name)) == NFC_NAME


def test_an_nfd_name_from_a_form_is_stored_in_nfc(signed_in):
    response = signed_in.post("/products/new", data=product_form(name=NFD_NAME))
    assert response.status_code == 302
    assert db.session.scalar(db.select(Product.name)) == NFC_NAME


def test_query_strings_are_nfc_too(app, client):
    with app.test_request_context("/search", query_string={"q": NFD_NAME}):
        from flask import request

        assert request.args["q"] == NFC_NAME


def test_services_store_nfc_whatever_the_caller(cooperative_owner):
    """The command line and the import do not come through a request."""
    product = catalog.create_product(cooperative_owner, catalog.ProductDetails.from_mapping(
        {"name": NFD_NAME, "category": "fresh_produce", "unit": "kg", "base_price_vnd": 60000,
         "min_order_qty": 100, "order_increment": 10}))
    assert product.name == NFC_NAME
    token, _secret = accounts.create_api_token(cooperative_owner, unicodedata.normalize("NFD", "Kế toán"))
    assert token.name == "Kế toán"
    user = accounts.create_alliance_user("canbo@lienminh.example", unicodedata.normalize("NFD", "Nông Thị Lan"),
                                         factories.PASSWORD)
    assert user.full_name == "Nông Thị Lan"


def test_two_names_that_look_the_same_are_the_same(cooperative_owner):
    details = {"category": "fresh_produce", "unit": "kg", "base_price_vnd": 60000, "min_order_qty": 100,
               "order_increment": 10}
    first = catalog.create_product(cooperative_owner, catalog.ProductDetails.from_mapping({**details, "name": NFC_NAME}))
    second = catalog.create_product(cooperative_owner, catalog.ProductDetails.from_mapping({**details, "name": NFD_NAME}))
    assert first.name == second.name == NFC_NAME
    assert (first.slug, second.slug) == ("mien-dong-binh-lieu", "mien-dong-binh-lieu-2")  # two products, one name


def test_invisible_characters_around_text_are_trimmed_inside_kept():
    assert textinput.clean("\ufeff\u200b Na dai \u200f\n") == "Na dai"
    assert textinput.clean("👨\u200d🌾 Nông dân") == "👨\u200d🌾 Nông dân"  # a zero-width joiner inside an emoji


# ---------------------------------------------------------------- a name needs a letter or a digit

@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_product_name_of_invisible_characters_is_refused(client, headers, name):
    response = client.post("/api/v1/products", json=valid_body(name=name), headers=headers)
    error = assert_json_error(response, 422, "validation_failed")
    assert "name" in error["details"]["fields"]
    assert count(Product) == 0


@pytest.mark.parametrize("name", ["\u200b", "\u200f\u200f"])
def test_a_product_name_of_invisible_characters_is_refused_on_the_form(signed_in, name):
    signed_in.post("/language", data={"lang": "en"})
    response = signed_in.post("/products/new", data=product_form(name=name, name_en=f"\u200e{name}\u00b7"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="name-error"' in page and 'id="name_en-error"' in page
    assert "at least one letter or digit" in page
    assert count(Product) == 0


@pytest.mark.parametrize("name", INVISIBLE_NAMES[:3])
def test_names_of_people_organisations_and_tokens_need_a_letter_or_digit(cooperative_owner, alliance_user, name):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_api_token(cooperative_owner, name)
    assert set(refused.value.errors) == {"name"}
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_api_token(cooperative_owner, f"{name}-{name}")
    assert refused.value.errors == {"name": textinput.NEEDS_LETTER_OR_DIGIT}
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_alliance_user("lan@lienminh.example", name, factories.PASSWORD)
    assert set(refused.value.errors) == {"full_name"}
    organisation = cooperative_owner.organisation
    details = {n: getattr(organisation, n) for n in ("tax_code", "province_code", "commune_code", "phone",
                                                      "email", "sector", "cooperative_type")}
    with pytest.raises(ValidationFailed) as refused:
        accounts.update_organisation(cooperative_owner, accounts.OrganisationDetails.from_mapping(
            {**details, "legal_name": name, "representative": name}))
    assert set(refused.value.errors) == {"legal_name", "representative"}
    assert count(ApiToken) == 0 and count(User) == 2
    assert db.session.get(Organisation, organisation.id).legal_name != name


def test_a_reason_of_invisible_characters_is_no_reason(alliance_user, pending_cooperative_owner):
    with pytest.raises(ValidationFailed) as refused:
        accounts.review_organisation(alliance_user, pending_cooperative_owner.organisation_id, "reject", "\u200b\u200f")
    assert set(refused.value.errors) == {"reason"}


def test_an_email_with_invisible_characters_is_not_an_email(cooperative_owner):
    with pytest.raises(ValidationFailed) as refused:
        accounts.invite_member(cooperative_owner, "ban\u200b@htx.example")
    assert set(refused.value.errors) == {"email"}
