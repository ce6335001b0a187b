"""Ids in paths (issue 8): one converter, `<id:...>` (marketplace.routing), on every route that takes one.

An id beyond PostgreSQL's integer once reached the database from seven routes and answered 500. The walk
below requests every id-taking rule with impossible ids, with every method the rule allows, as each role;
test_every_number_in_a_path_is_an_id makes a new route that takes a number any other way fail.
"""
import pytest
from werkzeug.routing import AnyConverter
from werkzeug.routing.converters import NumberConverter

from marketplace.accounts import services
from marketplace.api.openapi import ID_PARAMETER, openapi_document
from marketplace.routing import MAX_ID, IdConverter
from tests import factories

IMPOSSIBLE_IDS = ("99999999999999999999", "0", str(2**31))
MALFORMED_IDS = ("-1", "+1", "01", "1.0", "1e3", "%201", "١", "abc")  # the last but one: ARABIC-INDIC DIGIT ONE


def id_arguments(rule):
    """The path arguments of a rule that are ids: named *_id, or converted to a number at all."""
    return sorted(name for name, converter in rule._converters.items()
                  if name.endswith("_id") or isinstance(converter, (NumberConverter, IdConverter)))


def id_rules(app):
    rules = [rule for rule in app.url_map.iter_rules() if id_arguments(rule)]
    assert len(rules) >= 30, "the URL map has lost its id routes?"
    return sorted(rules, key=lambda rule: (rule.rule, sorted(rule.methods)))


def url_with(rule, name, value):
    """The rule's path with `value` for the id argument `name`, and valid values for the others."""
    values = {}
    for argument, converter in rule._converters.items():
        if argument == name:
            values[argument] = value
        elif isinstance(converter, AnyConverter):
            values[argument] = min(converter.items)
        elif isinstance(converter, IdConverter):
            values[argument] = 1
        else:
            values[argument] = "x"
    # Written out from the rule's parts: rule.build would refuse some values and rewrite others (01 as 1).
    _domain, *parts = rule._trace
    return "".join(str(values[text]) if is_argument else text for is_argument, text in parts)


@pytest.fixture
def role_clients(app, cooperative_owner, enterprise_owner, alliance_user):
    """role → (client, headers): signed in on the pages, and holding an API token of the same user."""
    clients = {"anonymous": (app.test_client(), {})}
    for role, user in (("cooperative", cooperative_owner), ("enterprise", enterprise_owner),
                       ("alliance", alliance_user)):
        client = app.test_client()
        assert client.post("/login", data={"email": user.email, "password": factories.PASSWORD}).status_code == 302
        _token, secret = services.create_api_token(user, "routing test")
        clients[role] = (client, {"Authorization": f"Bearer {secret}"})
    return clients


def test_every_number_in_a_path_is_an_id(app):
    """A route taking a number with <int:...> (or an id by any other converter) would reach the database with
    whatever digits it was sent: every one must use <id:...>."""
    wrong = [f"{rule.rule}: {name}" for rule in id_rules(app) for name in id_arguments(rule)
             if not isinstance(rule._converters[name], IdConverter)]
    assert not wrong, "use <id:name> for these path arguments:\n" + "\n".join(wrong)


def test_impossible_ids_are_404_on_every_route_for_every_role(app, role_clients):
    failures, checked = [], 0
    for rule in id_rules(app):
        for name in id_arguments(rule):
            for value in IMPOSSIBLE_IDS:
                url = url_with(rule, name, value)
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    for role, (client, headers) in role_clients.items():
                        status = client.open(url, method=method, headers=headers).status_code
                        checked += 1
                        if status != 404:
                            failures.append(f"{method} {url} as {role}: {status}")
    assert checked > 300
    assert not failures, "\n".join(failures)


def test_malformed_ids_are_404_too(app, role_clients):
    client, headers = role_clients["alliance"]
    failures = []
    for rule in id_rules(app):
        method = "GET" if "GET" in rule.methods else min(rule.methods - {"HEAD", "OPTIONS"})
        for value in MALFORMED_IDS:
            url = url_with(rule, id_arguments(rule)[0], value)
            status = client.open(url, method=method, headers=headers).status_code
            if status != 404:
                failures.append(f"{method} {url}: {status}")
    assert not failures, "\n".join(failures)


def test_the_largest_id_reaches_the_view(app, cooperative_owner):
    """MAX_ID is a valid id (a lookup that finds nothing), the next number is not a path at all."""
    adapter = app.url_map.bind("localhost")
    assert adapter.match(f"/products/{MAX_ID}", "GET") == ("catalog.product", {"product_id": MAX_ID, "slug": None})
    assert adapter.match(f"/api/v1/products/{MAX_ID}", "DELETE") == ("api.delete_product", {"product_id": MAX_ID})
    client = app.test_client()
    assert client.get(f"/products/{MAX_ID}").status_code == 404
    assert client.get(f"/api/v1/products/{MAX_ID}").get_json()["error"]["code"] == "not_found"


def test_the_converter_writes_ids_as_it_reads_them(app):
    with app.test_request_context():
        from flask import url_for

        assert url_for("catalog.product", product_id=MAX_ID, slug="x") == f"/products/{MAX_ID}/x"
        assert url_for("api.product", product_id="42") == "/api/v1/products/42"


def test_the_openapi_document_states_the_same_maximum(app):
    assert ID_PARAMETER == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    paths = openapi_document()["paths"]
    parameters = [p for operations in paths.values() for operation in operations.values()
                  for p in operation.get("parameters", []) if p["in"] == "path"]
    assert parameters and all(p["schema"] == ID_PARAMETER for p in parameters), parameters
