"""Schemathesis against the WSGI app: every operation of /api/v1/openapi.json, with an alliance staff token and
with a cooperative owner's token. No 5xx; every response (status code, content type, body) matches the document;
the security scheme is really enforced; wrong methods answer 405.

Deterministic (derandomize) and bounded (max_examples) so it stays a unit test, not a fuzzing campaign.
"""
import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from marketplace.accounts import services
from marketplace.api.openapi import openapi_document


@pytest.fixture(params=["alliance", "cooperative"])
def api_user(request, alliance_user, cooperative_owner, enterprise_owner, pending_cooperative_owner):
    """The token's owner; the other fixtures give the alliance's queue real rows to return."""
    return alliance_user if request.param == "alliance" else cooperative_owner


@pytest.fixture
def api_token(api_user):
    _token, secret = services.create_api_token(api_user, "schemathesis")
    return secret


# Loaded from the same function that serves /api/v1/openapi.json (test_api.py checks they are equal). Not
# schemathesis.pytest.from_fixture: its lazy loader writes Node._nodeid, which pytest 9.2 no longer has.
schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi_document()))


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # The app, its database and the token are per test on purpose: each operation starts from the same rows,
    # and nothing an example does (e.g. last_used_at) matters to the next.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_matches_its_openapi_document(case, app, api_token):
    # identity: schemathesis's WSGI transport does not undo Flask-Compress's brotli/gzip, as an HTTP client would.
    headers = {"Authorization": f"Bearer {api_token}", "Accept-Encoding": "identity"}
    # The app is per test (fresh tables on each backend), so it is bound here rather than at load time. Passing
    # app= to call_and_validate alone is not enough: the ignored_auth check re-sends through schema.transport.
    case.operation.schema.app = app
    case.call_and_validate(headers=headers, app=app)
