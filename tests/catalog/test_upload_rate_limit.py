"""Uploads are rate-limited per person and per organisation (issue 12, checklist row 36): photos,
certificate scans and spreadsheet previews share the budgets (marketplace/upload_limits.py), refused
uploads count, a form sent without a file does not, and the counts are global in Redis.
"""
import io
import re
import uuid

import pytest

from marketplace.api.openapi import openapi_document
from marketplace.extensions import limiter
from tests import factories
from tests.factories import jpeg
from tests.support import REDIS_URL, require_redis

NOT_AN_IMAGE = b"<!doctype html><p>not a photo</p>"


@pytest.fixture
def product(app, cooperative_owner):
    return factories.product(cooperative_owner.organisation, status="draft")


def logged_in(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": factories.PASSWORD}).status_code == 302
    client.post("/language", data={"lang": "en"})
    return client


def photo(client, product, content=None):
    content = content if content is not None else jpeg()
    return client.post(f"/products/{product.id}/photos", data={"photos": [(io.BytesIO(content), "a.jpg")]},
                       content_type="multipart/form-data")


def scan(client, product, with_file=True):
    data = {"stars": "4", "certificate_no": f"OCOP-{uuid.uuid4().hex[:8]}", "issuing_level": "province",
            "decision_date": "2026-01-10", "expires_on": ""}
    if with_file:
        data["scan"] = (io.BytesIO(jpeg()), "scan.jpg")
    return client.post(f"/products/{product.id}/certificates/new", data=data, content_type="multipart/form-data")


def spreadsheet(client):
    data = "name,category,unit,price_vnd\r\nChè xanh,beverages,kg,350000\r\n".encode()
    return client.post("/workspace/import", data={"file": (io.BytesIO(data), "san-pham.csv")},
                       content_type="multipart/form-data")


def test_the_settings_in_the_production_defaults(app):
    assert app.config["UPLOAD_RATE_LIMIT_PER_USER"] == "10 per minute;60 per hour"
    assert app.config["UPLOAD_RATE_LIMIT_PER_ORGANISATION"] == "200 per hour"


def test_a_person_has_one_budget_for_every_kind_of_upload(app, cooperative_owner, product):
    app.config["UPLOAD_RATE_LIMIT_PER_USER"] = "4 per hour"
    client = logged_in(app, cooperative_owner)
    statuses = [photo(client, product).status_code, photo(client, product, NOT_AN_IMAGE).status_code,
                scan(client, product).status_code, spreadsheet(client).status_code]
    assert statuses == [302, 422, 302, 200], "a refused upload counts too"

    for refused in (photo(client, product), scan(client, product), spreadsheet(client)):
        assert refused.status_code == 429
        page = refused.get_data(as_text=True)
        assert "You have sent too many files in a short time. Please wait a few minutes and try again." in page
        assert "Retry-After" in refused.headers
    # Pages and forms without a file still work.
    assert client.get(f"/products/{product.id}/edit").status_code == 200
    assert client.get("/workspace/import").status_code == 200
    assert scan(client, product, with_file=False).status_code == 302, "a certificate without a scan is no upload"


def test_confirming_an_import_counts_as_an_upload(app, cooperative_owner):
    """The probe's follow-up: a confirmation carries no file but tries the previewed rows again, and one
    that imports nothing keeps the preview, so it was repeated 80 times without a 429."""
    app.config["UPLOAD_RATE_LIMIT_PER_USER"] = "3 per hour"
    client = logged_in(app, cooperative_owner)
    rows = "name,category,unit,price_vnd\r\nChè xanh,beverages,kg,350000\r\nChè đen,no-such-category,kg,1\r\n"
    preview = client.post("/workspace/import", data={"file": (io.BytesIO(rows.encode()), "san-pham.csv")},
                          content_type="multipart/form-data")
    assert preview.status_code == 200
    token = re.search(r'action="/workspace/import/([^"]+)"', preview.get_data(as_text=True)).group(1)
    assert [client.post(f"/workspace/import/{token}").status_code for _ in range(3)] == [422, 422, 429]
    assert "You have sent too many files" in client.post(f"/workspace/import/{token}").get_data(as_text=True)


def test_the_organisation_has_one_budget_for_all_its_people(app, cooperative_owner, product):
    app.config["UPLOAD_RATE_LIMIT_PER_ORGANISATION"] = "3 per hour"
    colleague = factories.user(cooperative_owner.organisation, email="member@htx.example", role="member")
    owner, member = logged_in(app, cooperative_owner), logged_in(app, colleague)
    assert [photo(owner, product).status_code, photo(member, product).status_code,
            spreadsheet(member).status_code] == [302, 302, 200]
    for client in (owner, member):
        refused = photo(client, product)
        assert refused.status_code == 429
        assert "Your organisation has sent too many files in the last hour." in refused.get_data(as_text=True)

    other = factories.user(factories.organisation("cooperative"), email="other@htx.example")
    other_product = factories.product(other.organisation, status="draft")
    assert photo(logged_in(app, other), other_product).status_code == 302, "another cooperative is not affected"


def test_the_limit_page_is_in_vietnamese_by_default(app, cooperative_owner, product):
    app.config["UPLOAD_RATE_LIMIT_PER_USER"] = "1 per hour"
    client = app.test_client()
    assert client.post("/login", data={"email": cooperative_owner.email,
                                       "password": factories.PASSWORD}).status_code == 302
    assert photo(client, product).status_code == 302
    refused = photo(client, product)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert '<html lang="vi">' in page and "Bạn đã gửi quá nhiều tệp" in page


def test_the_api_takes_no_uploads():
    """Photos and scans are uploaded in the workspace only: an API route taking files must get the limits."""
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            assert "multipart/form-data" not in content, (method, path)


# ---------------------------------------------------------------- counted globally in Redis

@pytest.fixture
def redis_limits(monkeypatch):
    """A limiter on Redis under a key prefix of our own; our keys are deleted afterwards."""
    connection = require_redis()
    prefix = f"test-upload-limit-{uuid.uuid4().hex}"
    # The Limiter is shared by every app of the process and keeps the first key prefix it was given.
    monkeypatch.setattr(limiter, "_key_prefix", "")
    yield {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}, connection, prefix
    keys = list(connection.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        connection.delete(*keys)
    connection.close()


def test_two_app_instances_share_the_budgets_in_redis(make_app, app, cooperative_owner, product, redis_limits):
    settings, connection, prefix = redis_limits
    settings = {**settings, "UPLOAD_RATE_LIMIT_PER_USER": "3 per hour"}
    first, second = logged_in(make_app(**settings), cooperative_owner), logged_in(make_app(**settings),
                                                                                    cooperative_owner)
    assert [photo(first, product).status_code, photo(second, product).status_code,
            photo(first, product).status_code] == [302, 302, 302]
    keys = [key.decode() for key in connection.scan_iter(match=f"*{prefix}*")]
    user_keys = [key for key in keys if f"upload-user:{cooperative_owner.id}" in key]
    assert len(user_keys) == 1 and int(connection.get(user_keys[0])) == 3, keys
    assert any(f"upload-organisation:{cooperative_owner.organisation_id}" in key for key in keys)
    assert photo(second, product).status_code == 429
    assert photo(first, product).status_code == 429
