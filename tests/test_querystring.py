"""Whole numbers in query strings (issue 8): one reader (marketplace.querystring), one InvalidParameter.

Pages read leniently (a bad value falls back to the default: an edited link still opens), the API strictly
(400 `invalid_parameter` naming each bad parameter). A huge ?page= never reaches the database.
"""
import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

from marketplace import errors
from marketplace.querystring import MAX_PAGE, whole_number, whole_number_arg
from tests import factories

PACKAGE = Path(__file__).resolve().parent.parent / "marketplace"
BAD_NUMBERS = ["", "0", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc", "١", "10001", "9" * 30]


@pytest.mark.parametrize("value", ["1", "7", "007", "10000"])
def test_plain_digits_within_bounds_are_numbers(value):
    assert whole_number(value, 1, 10000) == int(value)


@pytest.mark.parametrize("value", [None, *BAD_NUMBERS])
def test_anything_else_is_none(value):
    assert whole_number(value, 1, 10000) is None


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_pages_fall_back_to_the_default(value):
    assert whole_number_arg(MultiDict({"page": value}), "page", 10000, default=1) == 1


def test_a_missing_parameter_is_the_default_in_both_modes():
    assert whole_number_arg(MultiDict(), "page", 10, default=3) == 3
    assert whole_number_arg(MultiDict(), "page", 10, default=3, strict=True) == 3
    assert whole_number_arg(MultiDict({"page": "4"}), "page", 10, default=3, strict=True) == 4


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_the_api_names_the_bad_parameter(app, value):
    with pytest.raises(errors.InvalidParameter) as raised:
        whole_number_arg(MultiDict({"page": value}), "page", 10000, default=1, strict=True)
    assert raised.value.code == "invalid_parameter" and raised.value.status == 400
    with force_locale("en"):
        assert str(raised.value.errors["page"]) == "Give a whole number from 1 to 10000."
    found = {}
    assert whole_number_arg(MultiDict({"per_page": value}), "per_page", 10000, 5, strict=True, errors=found) == 5
    assert set(found) == {"per_page"}  # collected, so that every bad parameter is named at once


def test_one_invalid_parameter_class():
    """The API's endpoints, its catalogue and search all raise marketplace.errors.InvalidParameter."""
    definitions = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                   if re.search(r"^class InvalidParameter\b", path.read_text(encoding="utf-8"), re.MULTILINE)]
    assert definitions == ["errors.py"]


def test_no_view_parses_numbers_from_the_query_string_by_hand():
    """request.args.get(..., type=int) accepts -5 and 30 digits; numbers go through whole_number_arg."""
    offenders = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                 if re.search(r"args\.get\([^)]*type=int", path.read_text(encoding="utf-8"))]
    assert not offenders


def test_every_paginated_page_survives_odd_page_numbers(client, auth, alliance_user, cooperative_owner):
    factories.product(cooperative_owner.organisation)
    pages = {
        "anonymous": ["/products", f"/cooperatives/{cooperative_owner.organisation_id}", "/search"],
        cooperative_owner.email: ["/workspace/products"],
        alliance_user.email: ["/alliance/organisations", "/alliance/certificates"],
    }
    for who, paths in pages.items():
        if who != "anonymous":
            auth.login(who)
        for path in paths:
            for page in ("99999999999999999999999", str(MAX_PAGE), str(MAX_PAGE + 1), "-5", "abc", "", "2.5"):
                response = client.get(path, query_string={"page": page})
                assert response.status_code == 200, (who, path, page, response.status_code)
        if who != "anonymous":
            auth.logout()


@pytest.mark.parametrize("path, parameter", [
    ("/api/v1/products", "page"), ("/api/v1/products", "per_page"), ("/api/v1/products", "cooperative"),
    ("/api/v1/search", "page"), ("/api/v1/search", "per_page"),
])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "9" * 30])
def test_the_api_refuses_them_with_the_same_error(client, path, parameter, value):
    response = client.get(path, query_string={parameter: value})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_parameter" and set(error["details"]["fields"]) == {parameter}
