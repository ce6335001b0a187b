"""What /healthz checks: the database, the search index and, when REDIS_URL is set, Redis.

Each check answers "ok" or "unavailable" and nothing more: no error text, URL, host or path reaches
the answer (a load balancer or a stranger may read it). The reason is logged instead, on the
`marketplace.health` logger, with the request id. Every check is cheap (a SELECT 1 on a pooled
connection, a directory listing, a PING with a half-second timeout), so probes can call it often.
"""
import logging

import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.search import index

log = logging.getLogger("marketplace.health")
REDIS_TIMEOUT = 0.5  # seconds: a probe must answer quickly even when Redis hangs
OK, UNAVAILABLE = "ok", "unavailable"


def database(app):
    with db.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def search_index(app):
    if not index.exists(app.config["SEARCH_INDEX_DIR"]):
        raise RuntimeError("no readable search index of the current schema (run `flask search sync`)")


def redis(app):
    client = app.extensions.get("health_redis")
    if client is None:
        import redis as redis_library

        client = redis_library.Redis.from_url(app.config["REDIS_URL"], socket_timeout=REDIS_TIMEOUT,
                                              socket_connect_timeout=REDIS_TIMEOUT)
        app.extensions["health_redis"] = client
    client.ping()


def checks_for(app):
    """{component: check function} for this configuration."""
    found = {"database": database, "search_index": search_index}
    if app.config.get("REDIS_URL"):
        found["redis"] = redis
    return found


def run(app):
    """{component: "ok" | "unavailable"}; the reasons of failures go to the log only."""
    results = {}
    for name, check in checks_for(app).items():
        try:
            check(app)
        except Exception as error:  # noqa: BLE001 — any failure means "unavailable"; the probe must answer
            log.warning("health check: %s unavailable: %s: %s", name, type(error).__name__, error)
            results[name] = UNAVAILABLE
        else:
            results[name] = OK
    return results
