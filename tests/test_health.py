"""/healthz (issue 8): 200 when the database, the search index and Redis (when configured) answer,
503 naming the component that does not; never a secret, a URL or a path in the answer."""
import logging

import pytest

from marketplace.search import sync
from tests.support import REDIS_URL, require_redis

SECRET = "s3cret-Pa55word"


@pytest.fixture
def indexed(app):
    sync.rebuild(app)  # an empty catalogue still has an index
    return app


def test_healthy(indexed, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "search_index": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_missing_index_answers_503_without_its_path(app, client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable",
                                   "checks": {"database": "ok", "search_index": "unavailable"}}
    assert app.config["SEARCH_INDEX_DIR"] not in response.get_data(as_text=True)


def test_an_unreachable_database_answers_503_without_its_url(indexed, make_app, caplog):
    broken = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://chohtx:{SECRET}@127.0.0.1:1/chohtx",
                      SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
                      SEARCH_INDEX_DIR=indexed.config["SEARCH_INDEX_DIR"])
    with caplog.at_level(logging.WARNING, logger="marketplace.health"):
        response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "unavailable", "search_index": "ok"}
    body = response.get_data(as_text=True)
    assert SECRET not in body and "127.0.0.1" not in body and "chohtx" not in body
    assert "database unavailable" in caplog.text and SECRET not in caplog.text


def test_redis_is_checked_only_when_configured(indexed, make_app):
    down = make_app(REDIS_URL=f"redis://:{SECRET}@127.0.0.1:1/0").test_client().get("/healthz")
    assert down.status_code == 503
    assert down.get_json()["checks"] == {"database": "ok", "search_index": "ok", "redis": "unavailable"}
    assert SECRET not in down.get_data(as_text=True)

    require_redis()
    up = make_app(REDIS_URL=REDIS_URL).test_client().get("/healthz")
    assert up.status_code == 200
    assert up.get_json()["checks"]["redis"] == "ok"


def test_health_is_answered_over_plain_http_in_production(indexed, make_app):
    """Probes call gunicorn directly; every other page redirects to HTTPS in production."""
    strict = make_app(HTTPS=True).test_client()
    assert strict.get("/healthz").status_code == 200
    assert strict.get("/products").status_code == 302
