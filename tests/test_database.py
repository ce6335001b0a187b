"""Connection settings (marketplace/database.py): every SQLite connection waits 30 s for the write lock, and a
database file is in WAL mode; PostgreSQL connections are left as they are."""
import sqlalchemy as sa

from marketplace import create_app, database
from marketplace.extensions import db
from tests.support import BASE_CONFIG


def _pragma(name):
    return db.session.execute(sa.text(f"PRAGMA {name}")).scalar()


def test_the_database_of_every_test_app_gets_the_settings(app):
    if db.engine.dialect.name != "sqlite":
        assert db.session.execute(sa.text("SELECT 1")).scalar() == 1  # nothing SQLite-only was sent
        return
    assert (_pragma("journal_mode"), _pragma("busy_timeout")) == ("wal", database.SQLITE_BUSY_TIMEOUT_MS)
    # Every connection of the pool, not only the first one.
    with db.engine.connect() as one, db.engine.connect() as two:
        assert [c.exec_driver_sql("PRAGMA busy_timeout").scalar() for c in (one, two)] == \
            [database.SQLITE_BUSY_TIMEOUT_MS] * 2


def test_an_in_memory_database_waits_too_but_keeps_its_journal():
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        assert (_pragma("journal_mode"), _pragma("busy_timeout")) == ("memory", database.SQLITE_BUSY_TIMEOUT_MS)
        db.session.remove()
        db.engine.dispose()
