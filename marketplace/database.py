"""How the application's database connections are set up, beyond what the URL says.

SQLite (`make run`, small installs, the test suite) lets one connection write at a time and has no row
locks: concurrent checkouts queue for its write lock (orders/capacity.py relies on that, not on a lock of
its own). Two settings make that queue behave under several gunicorn workers:

- `PRAGMA busy_timeout`: how long a connection waits for the lock before "database is locked". pysqlite's
  default is 5 s; fifty checkouts at once on a loaded two-core machine queued up to ~3 s, and SQLite's wait
  is not first come, first served, so a short timeout turned some buyers' checkouts into errors (500)
  instead of an order or a clear refusal. 30 s stays under gunicorn's 60 s request timeout.
- `PRAGMA journal_mode=WAL` for database files: readers never wait for a writer, nor a writer for
  readers, and a commit costs fewer disk syncs, so the write lock is held for less time (fifty concurrent
  checkouts: the slowest took 1.0-1.4 s against 1.5-2.6 s with the rollback journal). The mode is stored in the
  file; the `-wal` and `-shm` files beside it belong to it (all processes on one machine; back up with
  `sqlite3 .backup`, never by copying the file: docs/deploy.md).

pysqlite keeps its default transaction handling: it issues BEGIN just before a transaction's first
INSERT/UPDATE/DELETE, so a write transaction starts with a write and never upgrades a stale read snapshot
(which WAL would refuse at once, without waiting). Nothing changes for PostgreSQL.
"""
from sqlalchemy import event

from marketplace.extensions import db

SQLITE_BUSY_TIMEOUT_MS = 30_000


def init_app(app):
    """Install the connection settings on the app's engines (after db.init_app)."""
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_settings(_is_file(engine.url)))


def _is_file(url):
    return url.database not in (None, "", ":memory:") and url.query.get("mode") != "memory"


def _sqlite_settings(file):
    def configure(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")  # before WAL: switching waits too
            if file:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    return configure
